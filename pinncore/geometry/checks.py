"""Checks of geometry input, each failure a one-line ``GeometryError`` that names the field.

Geometry comes from specs, URLs and uploads: hostile until checked. Numbers must be real (no booleans, strings or
None), finite, and within ``MAX_COORD`` of the origin; polygons are refused past ``MAX_VERTICES`` before any
conversion; names are short printable strings.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import ConfigError

MAX_COORD = 1e6  # as a spec's input bounds
MAX_VERTICES = 10_000  # per polygon: point-in-polygon and the boundary scan stay well under a second
MAX_PRIMITIVES = 64  # per domain
MAX_NAME = 40


class GeometryError(ConfigError):
    """A malformed or degenerate geometry; ``field`` names the offending field (``domain.holes[0].radius``)."""


def kind(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            tuple: "a list", dict: "a table", type(None): "nothing"}.get(type(value), type(value).__name__)


def number(value, field: str) -> float:
    """A finite real number within MAX_COORD."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise GeometryError(field, f"must be a number, got {kind(value)}")
    v = float(value)
    if not math.isfinite(v):
        raise GeometryError(field, f"must be finite, got {v}")
    if abs(v) > MAX_COORD:
        raise GeometryError(field, f"must lie within [-{MAX_COORD:g}, {MAX_COORD:g}], got {v:g}")
    return v


def point(value, field: str) -> tuple[float, float]:
    """A pair (x, y) of numbers."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise GeometryError(field, f"must be a point [x, y], got {kind(value)}"
                                   + (f" of length {len(value)}" if isinstance(value, (list, tuple)) else ""))
    return number(value[0], f"{field}[0]"), number(value[1], f"{field}[1]")


def vertices(value, field: str) -> np.ndarray:
    """A polygon's vertices as an (n, 2) float64 array, 3 <= n <= MAX_VERTICES (the cap checked first)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise GeometryError(field, f"must be a list of points [x, y], got {kind(value)}")
    n = len(value)
    if n > MAX_VERTICES:
        raise GeometryError(field, f"has {n} vertices; at most {MAX_VERTICES}")
    if n < 3:
        raise GeometryError(field, f"needs at least 3 vertices, got {n}")
    if isinstance(value, np.ndarray):
        if value.shape != (n, 2) or value.dtype.kind not in "iuf":
            raise GeometryError(field, f"must be an (n, 2) array of numbers, got shape {value.shape} "
                                       f"of {value.dtype}")
        out = value.astype(np.float64)
        bad = ~np.isfinite(out).all(axis=1) | (np.abs(out) > MAX_COORD).any(axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            raise GeometryError(f"{field}[{i}]", f"must be finite and within {MAX_COORD:g}, got {out[i].tolist()}")
        return out
    return np.array([point(p, f"{field}[{i}]") for i, p in enumerate(value)], dtype=np.float64)


def name(value, field: str) -> str:
    if not isinstance(value, str):
        raise GeometryError(field, f"must be a string, got {kind(value)}")
    if not 1 <= len(value) <= MAX_NAME or not value.isprintable() or value != value.strip():
        raise GeometryError(field, f"must be 1 to {MAX_NAME} printable characters without outer spaces, "
                                   f"got {value[:MAX_NAME + 1]!r}")
    return value


def names(value, count: int, field: str) -> tuple[str | None, ...]:
    """Optional per-edge piece names: None (all unnamed) or a list of ``count`` names or None entries."""
    if value is None:
        return (None,) * count
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or len(value) != count:
        raise GeometryError(field, f"must be a list of {count} names (or null entries), got {kind(value)}")
    return tuple(None if v is None else name(v, f"{field}[{i}]") for i, v in enumerate(value))
