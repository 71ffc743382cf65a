"""The runs under a runs root: resolving a name given by a user or a URL to a run directory inside the root, and
listing every run with its summary (a damaged run is listed with its reason; the listing never fails on one run)."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError
from .store import RunStore, first_line

def resolve_run(root: str | os.PathLike, name: str) -> Path:
    """The run directory ``name`` (a path relative to ``root``), resolved, every symlink followed; ConfigError
    (one line) unless it is a run directory inside ``root``: an absolute path, ``..``, a symlink pointing out of
    the root, a name too long for the filesystem, a directory without config.json are all refused."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("run", "empty run name")
    shown = name if len(name) <= 80 else name[:77] + "..."
    if "\x00" in name or len(name) > 4096 or any(len(part.encode()) > 255 for part in Path(name).parts):
        raise ConfigError("run", f"'{shown}' is not a valid run name (too long, or a NUL byte)")
    if Path(name).is_absolute():
        raise ConfigError("run", f"'{shown}' must be a path relative to the runs root")
    try:
        base = Path(root).resolve(strict=True)
    except (OSError, RuntimeError):
        raise ConfigError("root", f"runs root '{root}' does not exist") from None
    try:
        target = (base / name).resolve(strict=True)
    except FileNotFoundError:
        raise ConfigError("run", f"'{shown}' does not exist under '{root}'") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name the filesystem refuses
        raise ConfigError("run", f"'{shown}' cannot be resolved ({first_line(exc, 60)})") from None
    if target != base and base not in target.parents:
        raise ConfigError("run", f"'{shown}' is outside the runs root '{root}' (a symlink or '..')")
    if not target.is_dir() or not (target / "config.json").is_file():
        raise ConfigError("run", f"'{shown}' is not a run directory (no config.json)")
    return target


def run_problem(path: Path, root: Path | None = None) -> tuple[dict, str | None]:
    """A run's summary for listing and, if the run cannot be used, why (config.json or summary.json damaged,
    a link out of ``root``)."""
    try:
        if root is not None:
            base, target = root.resolve(), path.resolve()
            if target != base and base not in target.parents:
                return {}, "outside the runs root (a symlink)"
        RunStore(path).config()
        return RunStore(path).summary_checked(), None
    except ConfigError as exc:
        return {}, str(exc)
    except OSError as exc:
        return {}, f"{path}: cannot read it ({exc.strerror or first_line(exc)})"


def list_runs(root: str | os.PathLike, missing_ok: bool = True) -> list[tuple[Path, dict]]:
    """Run directories under ``root`` (recursively), newest first, with their summaries. A run whose config or
    summary cannot be used is listed with ``{"status": "damaged", "damaged": <reason>}``; the listing itself
    never fails on one run. A root that does not exist lists nothing, or raises ConfigError unless
    ``missing_ok``."""
    root = Path(root)
    if not root.is_dir():
        if root.exists():
            raise ConfigError("root", f"'{root}' is not a directory")
        if missing_ok:
            return []
        raise ConfigError("root", f"'{root}' does not exist")
    runs = []
    for p in root.rglob("config.json"):
        summary, problem = run_problem(p.parent, root)
        if problem:
            summary = {"status": "damaged", "damaged": problem}
        runs.append((p.parent, summary))

    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    return sorted(runs, key=lambda r: mtime(r[0]), reverse=True)
