"""Scattered data files: reference solutions from any solver and measured observations (issue 34).

* ``read_table(path_or_bytes, columns, field=...) -> Table``: CSV, NPZ (no pickle) or COMSOL-style text, size-capped
  (``MAX_BYTES``, ``MAX_ROWS``, ``MAX_COLUMNS``), NaN/inf and ragged rows refused with their line;
* ``Scattered(points, values)`` / ``interpolator(table, inputs, value)``: linear on the Delaunay triangulation,
  nearest outside the hull, for pictures on the evaluation grid;
* ``relative_l2(prediction, table, inputs, value)``: the score, on the data's own points.

Every failure is a one-line ``DataError`` (a ``ConfigError``) naming the field.
"""
from .read import read_table
from .scattered import MAX_POINTS_3D, Scattered, interpolator, relative_l2
from .tables import MAX_BYTES, MAX_COLUMNS, MAX_ROWS, DataError, Table

__all__ = ["DataError", "MAX_BYTES", "MAX_COLUMNS", "MAX_POINTS_3D", "MAX_ROWS", "Scattered", "Table",
           "interpolator", "read_table", "relative_l2"]
