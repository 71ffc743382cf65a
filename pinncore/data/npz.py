"""NPZ tables: one 1D array per column name, or a single 2D array (rows x columns). No pickle, sizes checked first."""
from __future__ import annotations

import io
import zipfile

import numpy as np

from .tables import MAX_BYTES, MAX_COLUMNS, MAX_ROWS, DataError, Table, check_columns, finite_rows


def _members(data: bytes, label: str, field: str) -> list[str]:
    """The array names, after checking the archive's declared sizes (nothing is decompressed yet)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise DataError(field, f"{label} is not an .npz file (not a zip archive)") from None
    if len(infos) > MAX_COLUMNS:
        raise DataError(field, f"{label} holds {len(infos)} arrays; at most {MAX_COLUMNS}")
    total = sum(i.file_size for i in infos)
    if total > MAX_BYTES:
        raise DataError(field, f"{label} expands to {total:,} bytes; at most {MAX_BYTES:,}")
    return [i.filename[:-4] if i.filename.endswith(".npy") else i.filename for i in infos]


def _load(npz, key: str, label: str, field: str) -> np.ndarray:
    try:
        arr = npz[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickle" in str(exc).lower():
            raise DataError(field, f"{label}: array {key!r} holds Python objects (pickled); refused, "
                                   f"save plain numbers") from None
        raise DataError(field, f"{label}: array {key!r} cannot be read: {str(exc).splitlines()[0]}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(field, f"{label}: array {key!r} cannot be read: {exc}") from None
    if arr.dtype.kind not in "iuf":
        raise DataError(field, f"{label}: array {key!r} holds {arr.dtype} values, not numbers")
    return arr


def parse_npz(data: bytes, columns, label: str, field: str) -> Table:
    names = _members(data, label, field)
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # a corrupt archive: numpy raises several kinds
        raise DataError(field, f"{label} cannot be read as .npz: {str(exc).splitlines()[0][:100]}") from None
    with npz:
        if len(names) == 1 and (columns is None or names[0] not in columns):
            return _from_matrix(_load(npz, names[0], label, field), names[0], columns, label, field)
        columns = check_columns(columns if columns is not None else names, field)
        missing = [c for c in columns if c not in names]
        if missing:
            raise DataError(field, f"{label} has no array {missing[0]!r}; arrays: {', '.join(names)}")
        arrays = [_load(npz, c, label, field) for c in columns]
    for c, a in zip(columns, arrays):
        if a.ndim != 1 or len(a) != len(arrays[0]):
            raise DataError(field, f"{label}: array {c!r} has shape {a.shape}; every column must be 1D of length "
                                   f"{len(arrays[0]) if arrays[0].ndim == 1 else 'N'}")
    return _table(np.stack(arrays, axis=1), columns, label, field)


def _from_matrix(arr: np.ndarray, key: str, columns, label: str, field: str) -> Table:
    if columns is None:
        raise DataError(field, f"{label}: a single array {key!r} needs the column names")
    if arr.ndim != 2 or arr.shape[1] != len(columns):
        raise DataError(field, f"{label}: array {key!r} has shape {arr.shape}, expected (N, {len(columns)}) "
                               f"for the columns {', '.join(columns)}")
    return _table(arr, columns, label, field)


def _table(values: np.ndarray, columns, label: str, field: str) -> Table:
    if len(values) > MAX_ROWS:
        raise DataError(field, f"{label} has {len(values):,} rows; at most {MAX_ROWS:,}")
    values = np.ascontiguousarray(values, dtype=np.float64)
    rows = np.arange(1, len(values) + 1)
    finite_rows(columns, values, rows, "row", label, field)
    return Table(tuple(columns), values, rows, "row", label)
