"""A spec's files: the reference solution (a registered name, a gridded .npz, or scattered points from any solver)
and data terms' observations, read with ``pinncore.data`` (size-capped, no pickle, NaN refused with its line).

* a grid .npz: one ascending array per input, named by it, and ``values`` shaped by them: interpolated linearly
  (``RegularGridInterpolator``) and scored on the evaluation grid as before;
* a scattered table (CSV, NPZ, or COMSOL's text export): the inputs' columns and one value column, interpolated
  onto the evaluation grid for the pictures (``Scattered``: linear on the Delaunay triangulation, nearest outside
  the hull) and scored on its own points (``Problem.scoring``).

Tables are cached per (path, size, modification time, columns): a file changed on disk is read again.
"""
from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...data import DataError, Scattered, read_table
from ...data.npz import _members
from ...data.tables import read_bytes
from .locate import locate
from .schema import Spec, SpecError

REF = "evaluate.reference"


def spec_error(spec: Spec, exc) -> SpecError:
    """A data file's error as the spec's: the field and its line."""
    return SpecError(exc.field, exc.reason, locate(spec.text, exc.field))


def _stat(path: str, field: str) -> tuple[str, int, int]:
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except OSError as exc:
        raise DataError(field, f"cannot read {p}: {exc.strerror or exc}") from None
    return str(p), st.st_size, st.st_mtime_ns


def load_table(path: str, columns, fmt, field: str):
    """The checked table of a file (cached while the file is unchanged)."""
    return _table(*_stat(path, field), tuple(columns) if columns else None, fmt, field)


@functools.lru_cache(maxsize=32)
def _table(path: str, size: int, mtime: int, columns, fmt, field: str):
    return read_table(path, columns, fmt=fmt, field=field)


@dataclass(frozen=True)
class ScatteredReference:
    points: np.ndarray  # (N, dim) in input order
    values: np.ndarray  # (N,)

    @functools.cached_property
    def interpolant(self) -> Scattered:
        return Scattered(self.points, self.values, REF)


@dataclass(frozen=True)
class GridReference:
    axes: tuple
    values: np.ndarray

    def __call__(self, points: np.ndarray) -> np.ndarray:
        from scipy.interpolate import RegularGridInterpolator

        return RegularGridInterpolator(self.axes, self.values, bounds_error=False, fill_value=None)(points)


def reference_of(spec: Spec):
    """The file reference of a spec (GridReference or ScatteredReference), None for a registered one."""
    ref = spec.ref
    if ref is None or ref.file is None:
        return None
    field = f"{REF}.file" if ref.table else REF
    try:
        return _reference(*_stat(ref.file, field), spec.inputs, ref.columns, ref.value, ref.format, field)
    except DataError as exc:
        raise spec_error(spec, exc) from None


@functools.lru_cache(maxsize=16)
def _reference(path, size, mtime, inputs, columns, value, fmt, field):
    if (fmt or Path(path).suffix.lower().lstrip(".")) == "npz" and columns is None:
        grid = _grid(path, inputs, field)
        if grid is not None:
            return grid
    try:
        table = _table(path, size, mtime, columns, fmt, field)
    except DataError as exc:
        if columns is not None or "no column names" not in exc.reason:
            raise
        table = _table(path, size, mtime, tuple(inputs) + ("value",), fmt, field)  # a text export, no header
    missing = [n for n in inputs if n not in table.columns]
    if missing:
        raise DataError(field, f"{table.source} has no column for the input {missing[0]!r}; columns: "
                               f"{', '.join(table.columns)}")
    others = [c for c in table.columns if c not in inputs]
    if value is None:
        if len(others) != 1:
            raise DataError(field, f"{table.source} has the value columns {', '.join(others) or 'none'}: name the "
                                   f"one to compare with value = ...")
        value = others[0]
    return ScatteredReference(table.points(inputs), table.column(value))


def _grid(path: str, inputs, field: str) -> GridReference | None:
    """A gridded .npz (axes named by the inputs, and ``values``), or None when the file is not one."""
    data, label = read_bytes(path, None, field)
    names = _members(data, label, field)
    if "values" not in names or any(n not in names for n in inputs):
        return None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            axes = tuple(np.asarray(f[n], dtype=np.float64) for n in inputs)
            vals = np.asarray(f["values"], dtype=np.float64)
    except (KeyError, ValueError, OSError, EOFError) as exc:
        raise DataError(field, f"{label}: cannot read the grid ({str(exc).splitlines()[0][:80]})") from None
    if any(a.ndim != 1 for a in axes) or vals.shape != tuple(len(a) for a in axes):
        if vals.ndim == 1 and all(a.shape == vals.shape for a in axes):
            return None  # one column per name: a scattered table
        raise DataError(field, f"{label}: values has shape {vals.shape}, the axes {tuple(len(a) for a in axes)}")
    if not all(np.isfinite(a).all() for a in (*axes, vals)):
        raise DataError(field, f"{label}: the grid holds NaN or infinite values")
    if not all((np.diff(a) > 0).all() for a in axes):
        raise DataError(field, f"{label}: every axis must be strictly ascending")
    return GridReference(axes, vals)


def data_rows(spec: Spec, term_index: int):
    """A data term's (points (N, dim), observed values (N, k)), checked to lie in the inputs' box."""
    t = spec.terms[term_index]
    field = f"terms[{term_index}].data.file"
    try:
        table = load_table(t.data.file, t.data.columns, t.data.format, field)
        points = table.points(spec.inputs)
        for j, (n, (lo, hi)) in enumerate(zip(spec.inputs, spec.box)):
            tol = 1e-9 * max(1.0, abs(lo), abs(hi))
            out = (points[:, j] < lo - tol) | (points[:, j] > hi + tol)
            if out.any():
                i = int(np.argmax(out))
                raise DataError(field, f"{table.source}: {table.where} {int(table.lines[i])}: {n} = "
                                       f"{points[i, j]:g} lies outside [{lo:g}, {hi:g}]")
    except DataError as exc:
        raise spec_error(spec, exc) from None
    return points, table.points(t.data.observed)


def absolute(path: str, folder: Path) -> str:
    """A file path of a spec, relative to the spec's folder, made absolute."""
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (folder / p).resolve())


def is_plain_name(path: str) -> bool:
    """A bare file name (no folder): what a dashboard spec may name (an uploaded or shipped file)."""
    return bool(path) and os.sep not in path and "/" not in path and path not in (".", "..")
