"""Scattered data files -> a checked ``Table``: CSV, NPZ, or the plain-text tables COMSOL and similar tools export.

A file (a path, or the bytes of an upload) is hostile until read:

* its size is checked before anything is read (``MAX_BYTES``; a 1 GB file is refused from ``os.stat``);
* text must be UTF-8 without NUL bytes; CSV is comma-separated with an optional header row (whose names must then
  equal the columns given); the plain-text table has ``%`` (or ``#``) comment lines and whitespace-separated
  columns, such as ``x y [t] value...`` from COMSOL's "Export > Data";
* NPZ is read with ``allow_pickle=False`` (a pickled object array is refused), its members' declared sizes are
  checked against ``MAX_BYTES`` before any is decompressed, and it holds either one 1D array per column name or a
  single 2D array with one column per name;
* at most ``MAX_ROWS`` rows and ``MAX_COLUMNS`` columns; every row needs every column; NaN and infinite values are
  refused with their line (text) or row (NPZ) number.

Every failure is one ``DataError`` line that names the field and says where: ``evaluate.reference: ref.csv:
line 7: 4 columns, expected 3 (x, y, u)``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError

MAX_BYTES = 64 * 2**20  # 64 MiB of file (and of decompressed NPZ members)
MAX_ROWS = 1_000_000
MAX_COLUMNS = 16
COLUMN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
FORMATS = ("csv", "npz", "text")


class DataError(ConfigError):
    """A data file that cannot be used; ``field`` names the spec field (or CLI flag) that gave it."""


@dataclass(frozen=True)
class Table:
    """Rows of named float64 columns, each row with its place in the file (``where`` "line" or "row")."""

    columns: tuple[str, ...]
    data: np.ndarray  # (N, C) float64, all finite
    lines: np.ndarray  # (N,) line (text) or row (NPZ, from 1) of each row
    where: str
    source: str  # the file's name, for messages

    def __len__(self) -> int:
        return len(self.data)

    def column(self, name: str) -> np.ndarray:
        return self.data[:, self._index(name)]

    def points(self, names) -> np.ndarray:
        """The columns ``names`` side by side: (N, len(names)), e.g. the coordinates ("x", "y", "t")."""
        return self.data[:, [self._index(n) for n in names]]

    def _index(self, name: str) -> int:
        if name not in self.columns:
            raise DataError("column", f"{self.source} has no column {name!r}; columns: {', '.join(self.columns)}")
        return self.columns.index(name)


def check_columns(columns, field: str) -> tuple[str, ...] | None:
    if columns is None:
        return None
    if isinstance(columns, str) or not isinstance(columns, (list, tuple)) or not columns:
        raise DataError(field, f"columns must be a list of names, got {type(columns).__name__}")
    if len(columns) > MAX_COLUMNS:
        raise DataError(field, f"{len(columns)} columns given; at most {MAX_COLUMNS}")
    for c in columns:
        if not isinstance(c, str) or not COLUMN.fullmatch(c):
            raise DataError(field, f"column name {c!r} must be a letter, then up to 31 letters, digits or '_'")
    if len(set(columns)) != len(columns):
        raise DataError(field, f"column names repeat: {', '.join(columns)}")
    return tuple(columns)


def detect_format(name: str, fmt: str | None, field: str) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise DataError(field, f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        return fmt
    suffix = Path(name).suffix.lower()
    return {".csv": "csv", ".npz": "npz"}.get(suffix, "text")


def read_bytes(source, name: str | None, field: str) -> tuple[bytes, str]:
    """The file's bytes (size checked first) and its display name."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source[: MAX_BYTES + 1])
        size = len(source)
        label = name or "uploaded file"
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        label = name or path.name
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DataError(field, f"cannot read {path}: {exc.strerror or exc}") from None
        if not path.is_file():
            raise DataError(field, f"{path} is not a file")
        if size > MAX_BYTES:
            raise DataError(field, f"{label} has {size:,} bytes; at most {MAX_BYTES:,}")
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_BYTES + 1)
        except OSError as exc:
            raise DataError(field, f"cannot read {path}: {exc.strerror or exc}") from None
    else:
        raise DataError(field, f"must be a file path or bytes, got {type(source).__name__}")
    if size > MAX_BYTES or len(data) > MAX_BYTES:
        raise DataError(field, f"{label} has {max(size, len(data)):,} bytes; at most {MAX_BYTES:,}")
    return data, label


def finite_rows(columns, data: np.ndarray, lines: np.ndarray, where: str, label: str, field: str) -> None:
    """Refuse NaN and infinite values, naming the first one's line (or row) and column, and how many rows."""
    bad = ~np.isfinite(data)
    rows = bad.any(axis=1)
    if rows.any():
        i = int(np.argmax(rows))
        j = int(np.argmax(bad[i]))
        more = f" ({int(rows.sum())} rows in all)" if rows.sum() > 1 else ""
        raise DataError(field, f"{label}: {where} {int(lines[i])}: {columns[j]} is {data[i, j]}; NaN and infinite "
                               f"values are refused{more}")
