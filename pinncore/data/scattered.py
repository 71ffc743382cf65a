"""Scattered values -> any points (for pictures on the evaluation grid), and scores on the data's own points.

``Scattered(points, values)`` interpolates piecewise linearly on the Delaunay triangulation of the points
(``scipy.interpolate.LinearNDInterpolator``, coordinates rescaled to the unit cube first, so (x, t) with different
ranges triangulate well) and takes the nearest data point's value outside their convex hull
(``NearestNDInterpolator``). Why linear: a reference from a finite-element solver is itself piecewise linear on
its nodes in most exports, linear interpolation never overshoots near a shock or a wall (a cubic or RBF fit rings),
and it is exact for linear fields; outside the hull, where the evaluation grid overhangs a curved domain, the
points are masked in the pictures anyway. In 1D it is ``np.interp``.

Speed (measured 2025 on this 2-core machine under load, scipy 1.17): the triangulation's barycentric transforms are
computed with BLAS limited to one thread (``threadpoolctl``): scipy computes them with one tiny LAPACK call per
triangle, and a busy multi-threaded OpenBLAS made that 0.5 to 10 s for 16,000 triangles instead of 0.04 s. Query
points are pulled toward the data's centroid by ``PULL`` (1e-12) of their distance to it: scipy's simplex search
was 21 s for a 101 x 101 grid whose edge lies on the hull of 100,000 points, 0.03 s after the pull, which changes
a linear interpolant by at most 1e-12 of its variation.

Scores never go through the interpolant: ``relative_l2`` compares a prediction with the values at the data's own
points, ||pred - ref||_2 / ||ref||_2.
"""
from __future__ import annotations


import numpy as np
from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator
from scipy.spatial import Delaunay, QhullError
from threadpoolctl import threadpool_limits

from .tables import DataError, Table

MAX_POINTS_3D = 200_000  # a 3D Delaunay triangulation of more points takes minutes and gigabytes
PULL = 1e-12


class Scattered:
    """Linear interpolation of values at scattered points (N, d), d = 1, 2 or 3, nearest outside the hull."""

    def __init__(self, points, values, field: str = "reference"):
        p = np.asarray(points, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        if p.ndim == 1:
            p = p[:, None]
        if p.ndim != 2 or not 1 <= p.shape[1] <= 3 or v.shape != (len(p),):
            raise DataError(field, f"needs points (N, 1 to 3) and values (N,), got {p.shape} and {v.shape}")
        if not (np.isfinite(p).all() and np.isfinite(v).all()):
            raise DataError(field, "points and values must be finite")
        if len(p) < p.shape[1] + 1:
            raise DataError(field, f"needs at least {p.shape[1] + 1} points in {p.shape[1]}D, got {len(p)}")
        if p.shape[1] == 3 and len(p) > MAX_POINTS_3D:
            raise DataError(field, f"{len(p):,} points in 3D; at most {MAX_POINTS_3D:,} to interpolate")
        self.dim = p.shape[1]
        if self.dim == 1:
            order = np.argsort(p[:, 0], kind="stable")
            self._x, self._v = p[order, 0], v[order]
            return
        self._lo, self._span = p.min(axis=0), np.ptp(p, axis=0)
        unit = self._unit(p)  # rescaled to the unit cube: (x, t) of different ranges triangulate well
        try:
            tri = Delaunay(unit)
        except QhullError:
            raise DataError(field, f"the {len(p)} points span no {self.dim}D volume (they lie on a line or "
                                   f"plane): nothing to interpolate") from None
        with threadpool_limits(1, user_api="blas"):
            tri.transform  # noqa: B018 - computed (and cached by scipy) here, one BLAS thread
        self._linear = LinearNDInterpolator(tri, v)
        self._nearest = NearestNDInterpolator(unit, v)
        self._centre = unit.mean(axis=0)  # inside the convex hull

    def _unit(self, q: np.ndarray) -> np.ndarray:
        return (q - self._lo) / np.where(self._span > 0, self._span, 1.0)

    def __call__(self, points) -> np.ndarray:
        q = np.asarray(points, dtype=np.float64)
        if q.ndim == 1 and self.dim == 1:
            q = q[:, None]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise DataError("points", f"must have shape (M, {self.dim}), got {q.shape}")
        if self.dim == 1:
            return np.interp(q[:, 0], self._x, self._v)
        u = self._unit(q)
        out = self._linear(self._centre + (u - self._centre) * (1.0 - PULL))
        outside = np.isnan(out)
        if outside.any():
            out[outside] = self._nearest(u[outside])
        return out


def interpolator(table: Table, inputs, value: str, field: str = "reference") -> Scattered:
    """The interpolant of column ``value`` over the columns ``inputs`` of a table."""
    return Scattered(table.points(inputs), table.column(value), field)


def relative_l2(prediction, table: Table, inputs, value: str) -> float:
    """||pred - ref||_2 / ||ref||_2 at the table's own points. ``prediction``: a function of the points (N, d)
    -> (N,) (called once with ``table.points(inputs)``), or the values already there (N,)."""
    ref = table.column(value)
    pred = prediction(table.points(inputs)) if callable(prediction) else prediction
    pred = np.asarray(pred, dtype=np.float64).reshape(-1)
    if pred.shape != ref.shape:
        raise DataError("prediction", f"has {pred.size} values for {ref.size} data points")
    norm = float(np.linalg.norm(ref))
    if norm == 0.0:
        raise DataError(value, "the reference values are all zero: a relative error is undefined")
    return float(np.linalg.norm(pred - ref)) / norm
