"""Files a "Your own PDE" spec reads in the dashboard: uploaded reference or data files, and the ones shipped
beside the examples. No Streamlit here.

A spec in the dashboard names a file without a folder (``file = "observations.csv"``): it comes from a link or a
text box, and a path would let it read any file of the server. The name is looked up among this session's
uploads, then beside the examples (``examples/problems/``); before the spec is built, the names become those
files' paths (``resolve``). An upload is size-capped (``MAX_BYTES``, the data reader's cap) and stored by content
(``$PINNCORE_CACHE/uploads/<sha256>/<name>``), so the run service's workers read the same bytes. A link carries
the spec but not its files (``missing`` says which ones the session lacks).
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from pinncore import ConfigError
from pinncore.data import MAX_BYTES
from pinncore.engine import cache_dir
from pinncore.problems.spec import file_fields, with_files

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "problems"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
SUFFIXES = ("csv", "npz", "txt", "dat", "tsv")


def root() -> Path:
    return cache_dir() / "uploads"


def check_name(name: str) -> str:
    """An upload's name: letters, digits, '.', '_' and '-', a data file's suffix; ConfigError otherwise."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or ".." in name:
        raise ConfigError("upload", f"{str(name)[:60]!r} is not a plain file name (letters, digits, '.', '_', '-')")
    if name.rsplit(".", 1)[-1].lower() not in SUFFIXES:
        raise ConfigError("upload", f"{name!r}: a reference or data file is {', '.join('.' + s for s in SUFFIXES)}")
    return name


def store(data: bytes, name: str) -> Path:
    """Keep an upload (at most ``MAX_BYTES``) by its content; the path of the stored file."""
    check_name(name)
    if len(data) > MAX_BYTES:
        raise ConfigError("upload", f"{name} has {len(data):,} bytes; at most {MAX_BYTES:,}")
    digest = hashlib.sha256(data).hexdigest()[:32]
    path = root() / digest / name
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def _trusted(path: Path) -> bool:
    """A file this dashboard stored or ships: under the uploads or the examples folder."""
    p = path.resolve()
    return any(p.is_relative_to(d.resolve()) for d in (root(), EXAMPLES)) and p.is_file()


def lookup(name: str, files: dict[str, str] | None) -> Path | None:
    """The file a spec's name stands for: this session's upload, else one beside the examples."""
    if files and name in files and _trusted(Path(files[name])):
        return Path(files[name])
    if NAME.fullmatch(name) and (EXAMPLES / name).is_file():
        return EXAMPLES / name
    if Path(name).is_absolute() and _trusted(Path(name)):  # a run of this dashboard, opened again
        return Path(name)
    return None


def missing(text: str, files: dict[str, str] | None) -> dict[str, str]:
    """The files the spec reads that this session has not got: {field: name as written}."""
    try:
        fields = file_fields(text)
    except ConfigError:
        return {}
    return {f: n for f, n in fields.items() if lookup(n, files) is None}


def resolve(text: str, files: dict[str, str] | None) -> str:
    """The spec with its file names as paths to the session's uploads or the shipped files; ConfigError naming
    the field for a path (a spec in the dashboard may not read the server's files) or a missing upload."""
    fields = file_fields(text)
    if not fields:
        return text
    moved = {}
    for field, name in fields.items():
        path = lookup(name, files)
        if path is None:
            if not NAME.fullmatch(name):
                raise ConfigError(field, f"{name[:60]!r}: in the dashboard a file is named without a folder (upload "
                                         f"it, then give its name)")
            raise ConfigError(field, f"'{name}' is not uploaded: upload it under the spec (a link carries the spec "
                                     f"but not its files)")
        if str(path) != name:
            moved[field] = str(path)
    return with_files(text, moved) if moved else text
