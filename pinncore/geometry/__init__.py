"""Domains beyond boxes: 2D constructive solid geometry with named boundary pieces, and time crossed with it.

* shapes (``shapes``, ``csg``): ``Rectangle``, ``Disk``, ``Polygon`` and their ``Union``, ``Difference``,
  ``Intersection`` (also ``a | b``, ``a - b``, ``a & b``); circles stay exact, shapely checks polygons and
  combines the approximations for areas and pictures;
* ``Domain(shape)``: the region with its boundary ``pieces`` ("outer", "hole 1", ... or the caller's names),
  ``sample_interior``, ``sample_boundary`` (points by arc length with outward unit normals), ``mask``, ``bbox``,
  ``stats`` (mean and std for input standardisation), ``measure`` and ``outline`` (polylines for pictures);
* ``Interval(lo, hi)`` and ``SpaceTime(space, (t0, t1))``: the same interface in 1D and in (x, t) / (x, y, t).

Every bad input is a ``GeometryError`` (a ``ConfigError``): one line naming the field.
"""
from .checks import MAX_COORD, MAX_PRIMITIVES, MAX_VERTICES, GeometryError
from .csg import Difference, Intersection, Shape, Union
from .domain import MAX_SAMPLES, Domain
from .shapes import Disk, Polygon, Rectangle
from .spacetime import Interval, SpaceTime

__all__ = ["Disk", "Difference", "Domain", "GeometryError", "Intersection", "Interval", "MAX_COORD",
           "MAX_PRIMITIVES", "MAX_SAMPLES", "MAX_VERTICES", "Polygon", "Rectangle", "Shape", "SpaceTime", "Union"]
