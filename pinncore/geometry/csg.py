"""The ``Shape`` base class, and the union, difference and intersection of shapes (``a | b``, ``a - b``, ``a & b``).

Membership is combined exactly from the primitives' own tests (closed sets: a difference keeps the closed first
shape minus the open holes, so a point on a hole's circle belongs to the domain); shapely combines the polygonal
approximations for areas, moments and pictures, and refuses an empty result (a hole that covers the domain, shapes
that do not overlap) in one line that names the node's field.
"""
from __future__ import annotations

import functools

import numpy as np
import shapely

from .checks import MAX_PRIMITIVES, GeometryError


class Shape:
    """A node of a CSG tree. Subclasses define ``contains`` (closed set), ``inside`` (open set), ``bounds``,
    ``leaves`` and ``_geometry``."""

    field: str = "domain"

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) of a box that contains the shape (tight for primitives and unions)."""
        raise NotImplementedError

    def leaves(self, sign: int = 1):
        """(primitive, sign) for every primitive; sign -1 under an odd number of subtractions (a hole)."""
        raise NotImplementedError

    def _geometry(self):
        raise NotImplementedError

    @functools.cached_property
    def geometry(self):
        """The shapely (Multi)Polygon approximating the shape; GeometryError if it is empty."""
        g = self._geometry()
        if g.is_empty or g.area <= 0.0:
            raise GeometryError(self.field, f"the {self.describe()} is empty (zero area)")
        return g

    def describe(self) -> str:
        return type(self).__name__.lower()

    def __or__(self, other: Shape) -> Shape:
        return Union(self, other)

    def __sub__(self, other: Shape) -> Shape:
        return Difference(self, other)

    def __and__(self, other: Shape) -> Shape:
        return Intersection(self, other)


def _operands(shapes, field: str, least: int) -> tuple[Shape, ...]:
    if len(shapes) < least:
        raise GeometryError(field, f"needs at least {least} shapes, got {len(shapes)}")
    for i, s in enumerate(shapes):
        if not isinstance(s, Shape):
            raise GeometryError(f"{field}[{i}]", f"must be a shape (rectangle, disk, polygon or a combination), "
                                                 f"got {type(s).__name__}")
    count = sum(1 for s in shapes for _ in s.leaves())
    if count > MAX_PRIMITIVES:
        raise GeometryError(field, f"combines {count} primitive shapes; at most {MAX_PRIMITIVES}")
    return tuple(shapes)


class Union(Shape):
    """Points in any of the shapes."""

    def __init__(self, *shapes: Shape, field: str = "union"):
        self.field = field
        self.shapes = _operands(shapes, field, 2)

    def contains(self, x, y):
        return np.logical_or.reduce([s.contains(x, y) for s in self.shapes])

    def inside(self, x, y):
        return np.logical_or.reduce([s.inside(x, y) for s in self.shapes])

    def bounds(self):
        b = [s.bounds() for s in self.shapes]
        return np.min([lo for lo, _ in b], axis=0), np.max([hi for _, hi in b], axis=0)

    def leaves(self, sign: int = 1):
        for s in self.shapes:
            yield from s.leaves(sign)

    def _geometry(self):
        return shapely.union_all([s.geometry for s in self.shapes])


class Intersection(Shape):
    """Points in every shape."""

    def __init__(self, *shapes: Shape, field: str = "intersection"):
        self.field = field
        self.shapes = _operands(shapes, field, 2)

    def contains(self, x, y):
        return np.logical_and.reduce([s.contains(x, y) for s in self.shapes])

    def inside(self, x, y):
        return np.logical_and.reduce([s.inside(x, y) for s in self.shapes])

    def bounds(self):
        b = [s.bounds() for s in self.shapes]
        return np.max([lo for lo, _ in b], axis=0), np.min([hi for _, hi in b], axis=0)

    def leaves(self, sign: int = 1):
        for s in self.shapes:
            yield from s.leaves(sign)

    def _geometry(self):
        return shapely.intersection_all([s.geometry for s in self.shapes])

    def describe(self) -> str:
        return "intersection (the shapes do not overlap)"


class Difference(Shape):
    """Points of the first shape not in any of the others (the holes)."""

    def __init__(self, base: Shape, *holes: Shape, field: str = "difference"):
        self.field = field
        ops = _operands((base, *holes), field, 2)
        self.base, self.holes = ops[0], ops[1:]

    def contains(self, x, y):
        out = self.base.contains(x, y)
        for h in self.holes:
            out &= ~h.inside(x, y)
        return out

    def inside(self, x, y):
        out = self.base.inside(x, y)
        for h in self.holes:
            out &= ~h.contains(x, y)
        return out

    def bounds(self):
        return self.base.bounds()

    def leaves(self, sign: int = 1):
        yield from self.base.leaves(sign)
        for h in self.holes:
            yield from h.leaves(-sign)

    def _geometry(self):
        return shapely.difference(self.base.geometry, shapely.union_all([h.geometry for h in self.holes]))

    def describe(self) -> str:
        return "difference (its holes cover the first shape)"
