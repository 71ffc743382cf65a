"""A spec's ``[domain]`` table -> a ``pinncore.geometry`` region, and a term's ``on`` entries -> its pieces.

    [domain]                       # the region: ((base | union...) & intersect...) - holes
    base = { shape = "rectangle", lo = [-1, -1], hi = [1, 1] }    # default: the spatial inputs' box
    holes = [{ shape = "disk", center = [0.5, 0], radius = 0.2, name = "inner" }]

A shape is a table with ``shape`` = "rectangle" (``lo``, ``hi``, ``name``, ``edges``: four names, bottom, right,
top, left), "disk" (``center``, ``radius``, ``name``), "polygon" (``vertices``, ``name``, ``edges``) or a
combination "union", "intersection", "difference" (``of``: a list of shapes; a difference removes the others from
the first), nested at most ``MAX_NESTING`` deep. The spatial inputs are the two inputs other than ``t``; with ``t``
the region is the space-time cylinder (``SpaceTime``: pieces ``initial`` and ``final`` besides the spatial ones).
Every geometry error (``GeometryError``) becomes a ``SpecError`` naming the field, e.g. ``domain.holes[0].radius``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ...geometry import Difference, Disk, Domain, GeometryError, Intersection, Polygon, Rectangle, SpaceTime, Union
from . import expr
from .reader import Reader, kind

MAX_NESTING = 4
MAX_LIST = 16
TIME = "t"
INITIAL, FINAL = "initial", "final"
FIELDS = {"rectangle": ("lo", "hi", "name", "edges"), "disk": ("center", "radius", "name"),
          "polygon": ("vertices", "name", "edges"), "union": ("of",), "intersection": ("of",),
          "difference": ("of",)}
COMBINE = {"union": Union, "intersection": Intersection, "difference": Difference}


@dataclass(frozen=True)
class RegionSpec:
    region: object  # a geometry Domain, or a SpaceTime of one
    columns: tuple[int, ...]  # the input index of each of the region's columns (space, then time)
    space: tuple[str, ...]  # the two spatial inputs
    box: tuple[tuple[float, float], ...]  # the region's bounding box, in input order

    @property
    def order(self) -> tuple[int, ...]:
        """The region's column of each input (``pieces.RegionInterior``'s ``order``)."""
        return tuple(int(i) for i in np.argsort(self.columns))


def read_domain(r: Reader, value, inputs, domain) -> RegionSpec:
    table = r.table(value, "domain", ("base", "union", "intersect", "holes"))
    space = tuple(n for n in inputs if n != TIME)
    if len(space) != 2:
        r.fail("domain", f"needs two spatial inputs besides t, got {', '.join(inputs)}")
    (x0, x1), (y0, y1) = (domain[inputs.index(n)] for n in space)
    try:
        shape = (_shape(r, table["base"], "domain.base", 1) if "base" in table
                 else Rectangle((x0, y0), (x1, y1), field="domain.base"))
        for key, combine in (("union", Union), ("intersect", Intersection), ("holes", Difference)):
            if key in table:
                shape = combine(shape, *_shapes(r, table[key], f"domain.{key}", 1), field=f"domain.{key}")
        region = Domain(shape, field="domain")
        _inside(r, region, space, inputs, domain)
        columns = tuple(inputs.index(n) for n in space)
        if TIME in inputs:
            region = SpaceTime(region, domain[inputs.index(TIME)], initial=INITIAL, final=FINAL, field="domain")
            columns += (inputs.index(TIME),)
    except GeometryError as exc:
        r.fail(exc.field, exc.reason)
    lo, hi = region.bbox()
    box = [None] * len(inputs)
    for c, i in enumerate(columns):
        box[i] = (float(lo[c]), float(hi[c]))
    return RegionSpec(region, columns, space, tuple(box))


def _shapes(r: Reader, value, path: str, depth: int) -> list:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
        r.fail(path, f"must be a list of 1 to {MAX_LIST} shapes, got {kind(value)}")
    return [_shape(r, v, f"{path}[{i}]", depth) for i, v in enumerate(value)]


def _shape(r: Reader, value, path: str, depth: int):
    t = r.table(value, path)
    if "shape" not in t:
        r.fail(f"{path}.shape", f"is required: one of {', '.join(FIELDS)}")
    name = t["shape"]
    if name not in FIELDS:
        r.fail(f"{path}.shape", f"unknown shape {str(name)[:40]!r}; allowed: {', '.join(FIELDS)}")
    r.table(t, path, ("shape",) + FIELDS[name])
    args = {k: v for k, v in t.items() if k != "shape"}
    if name in COMBINE:
        if depth >= MAX_NESTING:
            r.fail(path, f"shapes are nested deeper than {MAX_NESTING} levels")
        if "of" not in args:
            r.fail(f"{path}.of", "is required: the list of shapes to combine")
        return COMBINE[name](*_shapes(r, args["of"], f"{path}.of", depth + 1), field=path)
    for key in FIELDS[name][:2 if name != "polygon" else 1]:
        if key not in args:
            r.fail(f"{path}.{key}", "is required")
    cls = {"rectangle": Rectangle, "disk": Disk, "polygon": Polygon}[name]
    return cls(**args, field=path)


def _inside(r: Reader, region, space, inputs, domain) -> None:
    """The region lies in the inputs' box (the evaluation grid and the input ranges the spec states)."""
    lo, hi = region.bbox()
    for c, n in enumerate(space):
        a, b = domain[inputs.index(n)]
        tol = 1e-9 * max(1.0, abs(a), abs(b))
        if lo[c] < a - tol or hi[c] > b + tol:
            r.fail("domain", f"reaches {n} from {lo[c]:.6g} to {hi[c]:.6g}, outside the range [{a:g}, {b:g}] "
                             f"of inputs.{n}")


def face_piece(r: Reader, face, path: str, inputs, spec: RegionSpec) -> str:
    """'interior', a boundary piece's name, or (with time) 't = t0' / 't = t1' -> the piece sampled."""
    r.string(face, path)
    f = face.strip()
    pieces = spec.region.pieces
    if f == "interior" or f in pieces:
        return f
    m = re.fullmatch(r"([a-z])\s*=\s*(.+)", f)
    if m and m.group(1) == TIME and TIME in inputs:
        try:
            value = expr.constant_value(expr.parse(m.group(2)))
        except expr.ExprError:
            value = None
        t0, t1 = spec.box[inputs.index(TIME)]
        if value is not None and value in (t0, t1):
            return INITIAL if value == t0 else FINAL
        r.fail(path, f"{f!r}: with a [domain], a time face is t = {t0:g} (initial) or t = {t1:g} (final)")
    r.fail(path, f"{f[:60]!r} is not 'interior' or a boundary piece of the [domain]: {', '.join(pieces)}")
