"""The primitives of 2D constructive solid geometry: rectangles, disks and polygons, kept analytic.

A primitive answers point membership exactly (a circle by its equation, not by a polygon), lists its boundary
curves (line segments, counter-clockwise, and full circles) each with an optional piece name, and gives shapely a
polygonal approximation for areas, moments and pictures (a circle as a regular polygon with ``4 * QUAD_SEGS``
vertices on it). ``a | b``, ``a - b`` and ``a & b`` build the union, difference and intersection
(``pinncore.geometry.csg``, which also holds the ``Shape`` base class).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from . import checks
from .checks import GeometryError
from .csg import Shape

QUAD_SEGS = 256  # circle vertices per quarter in shapely's approximation: area error ~6e-6 relative


@dataclass(frozen=True)
class Curve:
    """One boundary curve of a primitive: a segment a -> b (region on its left) or a full circle (centre a,
    radius r, counter-clockwise from angle 0). ``piece`` is the caller's name or None (named by the domain)."""

    kind: str  # "segment" or "circle"
    a: tuple[float, float]
    b: tuple[float, float] = (0.0, 0.0)
    r: float = 0.0
    piece: str | None = None


class Primitive(Shape):
    name: str | None = None

    def leaves(self, sign: int = 1):
        yield self, sign

    def curves(self) -> tuple[Curve, ...]:
        raise NotImplementedError


def _scale(*values: float) -> float:
    return max(1.0, *(abs(v) for v in values))


class Rectangle(Primitive):
    """The closed box [lo[0], hi[0]] x [lo[1], hi[1]]; edges bottom, right, top, left (counter-clockwise)."""

    EDGES = ("bottom", "right", "top", "left")

    def __init__(self, lo, hi, name: str | None = None, edges=None, field: str = "rectangle"):
        self.field = field
        x0, y0 = checks.point(lo, f"{field}.lo")
        x1, y1 = checks.point(hi, f"{field}.hi")
        tiny = 1e-12 * _scale(x0, y0, x1, y1)
        if not (x1 - x0 > tiny and y1 - y0 > tiny):
            raise GeometryError(field, f"is degenerate: needs lo < hi in both coordinates, got lo = "
                                       f"({x0:g}, {y0:g}), hi = ({x1:g}, {y1:g})")
        self.lo, self.hi = np.array([x0, y0]), np.array([x1, y1])
        self.name = None if name is None else checks.name(name, f"{field}.name")
        self.edge_names = checks.names(edges, 4, f"{field}.edges")

    def contains(self, x, y):
        return (x >= self.lo[0]) & (x <= self.hi[0]) & (y >= self.lo[1]) & (y <= self.hi[1])

    def inside(self, x, y):
        return (x > self.lo[0]) & (x < self.hi[0]) & (y > self.lo[1]) & (y < self.hi[1])

    def bounds(self):
        return self.lo.copy(), self.hi.copy()

    def _geometry(self):
        return shapely.box(*self.lo, *self.hi)

    def curves(self):
        (x0, y0), (x1, y1) = self.lo, self.hi
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        return tuple(Curve("segment", corners[i], corners[(i + 1) % 4], piece=self.edge_names[i] or self.name)
                     for i in range(4))


class Disk(Primitive):
    """The closed disk |p - centre| <= radius; one boundary curve, the circle."""

    def __init__(self, center, radius, name: str | None = None, field: str = "disk"):
        self.field = field
        cx, cy = checks.point(center, f"{field}.center")
        r = checks.number(radius, f"{field}.radius")
        if not r > 1e-12 * _scale(cx, cy, r):
            raise GeometryError(f"{field}.radius", f"must be > 0, got {r:g}")
        self.center, self.radius = np.array([cx, cy]), r
        self.name = None if name is None else checks.name(name, f"{field}.name")

    def contains(self, x, y):
        return (x - self.center[0]) ** 2 + (y - self.center[1]) ** 2 <= self.radius**2

    def inside(self, x, y):
        return (x - self.center[0]) ** 2 + (y - self.center[1]) ** 2 < self.radius**2

    def bounds(self):
        return self.center - self.radius, self.center + self.radius

    def _geometry(self):
        return shapely.Point(*self.center).buffer(self.radius, quad_segs=QUAD_SEGS)

    def curves(self):
        return (Curve("circle", tuple(self.center), r=self.radius, piece=self.name),)


class Polygon(Primitive):
    """A simple polygon (no self-intersection, no holes: subtract one instead). Vertices are stored
    counter-clockwise; a closing vertex equal to the first is dropped. Edge i runs from vertex i to vertex i + 1
    of the vertices as given (the names follow their edges if the order is reversed)."""

    def __init__(self, vertices, name: str | None = None, edges=None, field: str = "polygon"):
        self.field = field
        v = checks.vertices(vertices, f"{field}.vertices")
        if len(v) > 3 and np.array_equal(v[0], v[-1]):
            v = v[:-1]
        edge_names = checks.names(edges, len(v), f"{field}.edges")
        rep = np.all(v == np.roll(v, -1, axis=0), axis=1)
        if rep.any():
            i = int(np.argmax(rep))
            raise GeometryError(f"{field}.vertices", f"vertex {(i + 1) % len(v)} repeats vertex {i}")
        g = shapely.Polygon(v)
        if not g.is_valid:
            raise GeometryError(f"{field}.vertices", f"is not a simple polygon: {_reason(g)}")
        if not g.area > 1e-12 * _scale(*v.ravel()) ** 2:
            raise GeometryError(f"{field}.vertices", "encloses no area")
        if _signed_area(v) < 0:  # clockwise: reverse, so that the region lies left of every edge
            n = len(v)
            v = v[::-1].copy()
            edge_names = tuple(edge_names[(n - 2 - j) % n] for j in range(n))
        self.vertices, self.edge_names = v, edge_names
        self.name = None if name is None else checks.name(name, f"{field}.name")
        self._shape = shapely.Polygon(v)
        shapely.prepare(self._shape)

    def contains(self, x, y):
        return shapely.intersects_xy(self._shape, x, y)

    def inside(self, x, y):
        return shapely.contains_xy(self._shape, x, y)

    def bounds(self):
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    def _geometry(self):
        return self._shape

    def curves(self):
        v, n = self.vertices, len(self.vertices)
        return tuple(Curve("segment", tuple(v[i]), tuple(v[(i + 1) % n]), piece=self.edge_names[i] or self.name)
                     for i in range(n))


def _signed_area(v: np.ndarray) -> float:
    x, y = v[:, 0], v[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _reason(g) -> str:
    """shapely's validity reason, 'Self-intersection[0.5 0.5]' -> 'self-intersection at (0.5, 0.5)'."""
    text = shapely.is_valid_reason(g)
    head, _, rest = text.partition("[")
    coords = rest.rstrip("]").split()
    if len(coords) == 2:
        try:
            return f"{head.lower()} at ({float(coords[0]):g}, {float(coords[1]):g})"
        except ValueError:
            pass
    return text
