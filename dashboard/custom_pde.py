""""Your own PDE" without Streamlit: the spec text and its parameters as settings, in the URL (compressed, with
a size limit), and the problem class they make. The spec is parsed by ``pinncore.problems.spec`` (a whitelisted
expression grammar; nothing of it is ever evaluated as Python), so a spec from a link is as safe as one typed."""
from __future__ import annotations

import base64
import binascii
import math
import zlib
from pathlib import Path

from pinncore import ConfigError

CUSTOM = "custom"          # the problem choice of the sidebar
MAX_URL_SPEC = 12_000      # characters of the compressed spec in a link
MAX_SPEC_BYTES = 64 * 1024  # the spec text itself
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "problems"


def examples() -> dict[str, str]:
    """The example specs shipped in the repository, by file name."""
    return {f.stem: f.read_text(encoding="utf-8") for f in sorted(EXAMPLES.glob("*.toml"))}


def default_spec() -> str:
    found = examples()
    return found.get("wave") or next(iter(found.values()), "")


def encode(text: str) -> str:
    """The spec for a link: zlib-compressed, URL-safe base64."""
    return base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii").rstrip("=")


def decode(token: str) -> str:
    """A spec from a link; ConfigError naming 'spec' if it is too long, not ours, or would inflate too far."""
    if len(token) > MAX_URL_SPEC:
        raise ConfigError("spec", f"{len(token)} characters; a link carries at most {MAX_URL_SPEC}")
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        inflater = zlib.decompressobj()
        data = inflater.decompress(raw, MAX_SPEC_BYTES + 1)
        if len(data) > MAX_SPEC_BYTES or inflater.unconsumed_tail:
            raise ConfigError("spec", f"inflates past {MAX_SPEC_BYTES // 1024} KiB")
        if not inflater.eof:
            raise ConfigError("spec", "not a spec written by this dashboard (truncated)")
        return data.decode("utf-8")
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError("spec", "not a spec written by this dashboard (compressed base64)") from None


def parse_params(text: str) -> dict[str, float]:
    """'c=2, k=0.5' -> {'c': 2.0, 'k': 0.5}; ConfigError naming 'spec_params' otherwise."""
    out = {}
    for part in filter(None, (p.strip() for p in str(text).replace(";", ",").split(","))):
        name, sep, value = part.partition("=")
        try:
            v = float(value)
        except ValueError:
            v = math.nan
        if not sep or not name.strip().isidentifier() or not math.isfinite(v):
            raise ConfigError("spec_params", f"'{part[:40]}' is not NAME=VALUE with a finite VALUE")
        out[name.strip()] = v
    return out


def format_params(values: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in values.items())


def resolved(text: str, files: dict[str, str] | None = None) -> str:
    """The spec as it trains: checked for size, its files (named without a folder) resolved to this session's
    uploads or the files shipped beside the examples (``uploads.resolve``)."""
    from dashboard import uploads

    if not str(text).strip():
        raise ConfigError("spec", "empty: pick an example or write a problem spec")
    if len(text.encode("utf-8")) > MAX_SPEC_BYTES:
        raise ConfigError("spec", f"longer than {MAX_SPEC_BYTES // 1024} KiB")
    return uploads.resolve(text, files)


def problem_class(text: str, files: dict[str, str] | None = None):
    """The checked problem class of a spec text (SpecError, a ConfigError naming field and line); ``files``: the
    session's uploads by name."""
    from pinncore.problems.spec import problem_class as build

    return build(resolved(text, files))


def spec_params(cls, text: str) -> dict[str, float]:
    """The spec's parameters: its defaults, overridden by ``text`` (unknown names refused)."""
    given = parse_params(text)
    known = {p.name: p for p in cls.params}
    for name in given:
        if name not in known:
            raise ConfigError("spec_params", f"the spec has no parameter '{name}' (its parameters: "
                                             f"{', '.join(known) or 'none'})")
    return {n: given.get(n, p.default) for n, p in known.items()}
