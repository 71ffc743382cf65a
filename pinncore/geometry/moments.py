"""Area, mean and standard deviation of a polygonal region (shapely (Multi)Polygon), by Green's theorem.

For a ring with vertices (x_i, y_i) and c_i = x_i y_{i+1} - x_{i+1} y_i, counter-clockwise exteriors and clockwise
holes (``shapely.orient_polygons``) add up to the exact polygon integrals
A = sum c / 2, int x = sum (x_i + x_{i+1}) c / 6, int x^2 = sum (x_i^2 + x_i x_{i+1} + x_{i+1}^2) c / 12, and the
same in y. Exact for polygons; for circles, exact for their approximating polygons (relative error ~6e-6 in the
area with ``QUAD_SEGS`` = 256).
"""
from __future__ import annotations

import numpy as np
import shapely


def _rings(geometry):
    for poly in shapely.get_parts(shapely.orient_polygons(geometry, exterior_cw=False)):
        if isinstance(poly, shapely.Polygon):
            yield np.asarray(poly.exterior.coords)
            for hole in poly.interiors:
                yield np.asarray(hole.coords)


def moments(geometry) -> tuple[float, np.ndarray, np.ndarray]:
    """(area, mean (2,), std (2,)) of the uniform distribution on the region."""
    area, first, second = 0.0, np.zeros(2), np.zeros(2)
    for ring in _rings(geometry):
        p, q = ring[:-1], ring[1:]  # shapely closes rings: the last vertex repeats the first
        c = p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]
        area += c.sum() / 2
        first += ((p + q) * c[:, None]).sum(axis=0) / 6
        second += ((p * p + p * q + q * q) * c[:, None]).sum(axis=0) / 12
    mean = first / area
    return float(area), mean, np.sqrt(np.maximum(second / area - mean**2, 0.0))
