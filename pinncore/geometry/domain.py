"""A 2D domain: a CSG shape with named boundary pieces, uniform sampling, normals, masks and input statistics.

    d = Domain(Rectangle((-1, -1), (1, 1)) - Disk((0.3, 0), 0.2) - Disk((-0.4, 0.2), 0.1))
    d.pieces                                   # ('outer', 'hole 1', 'hole 2')
    x = d.sample_interior(1000, gen)          # (1000, 2) uniform in the region
    p, n = d.sample_boundary("hole 1", 200, gen)   # on the circle, by arc length; n points into the hole

Piece names: a primitive (or one of its edges) named by the caller keeps its name; unnamed primitives are
"outer" when they add to the region and "hole 1", "hole 2", ... (in order) when they are subtracted. A piece is
the part of its curves that lies on the combined region's boundary (``curves.active_intervals``); pieces of the same
name merge. Every piece must have a positive length, or the domain is refused naming it.

Sampling is driven by a ``torch.Generator`` (same seed, same points) and returns exactly the requested count:
interior points by rejection from the bounding box, boundary points uniform in arc length over the piece.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from .checks import GeometryError
from .csg import Shape
from .curves import PROBE, CurveTable, active_intervals
from .moments import moments
from .shapes import QUAD_SEGS, Primitive

MAX_SAMPLES = 10_000_000
MIN_FILL = 1e-4  # the region's share of its bounding box (rejection sampling's acceptance rate)
OUTER, HOLE = "outer", "hole"


def count(n, field: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 0 <= n <= MAX_SAMPLES:
        raise GeometryError(field, f"must be an integer in [0, {MAX_SAMPLES}], got {n!r}")
    return int(n)


def generator(gen) -> torch.Generator:
    if not isinstance(gen, torch.Generator):
        raise GeometryError("generator", f"must be a torch.Generator, got {type(gen).__name__}")
    return gen


def _named_curves(shape: Shape):
    """(curves, piece names): every primitive's curves with their piece names."""
    curves, names, holes = [], [], 0
    for prim, sign in shape.leaves():
        if not isinstance(prim, Primitive):
            raise GeometryError(shape.field, f"holds a {type(prim).__name__}, not a shape")
        default = prim.name
        if default is None and sign < 0:
            holes += 1
            default = f"{HOLE} {holes}"
        for c in prim.curves():
            curves.append(c)
            names.append(c.piece or default or OUTER)
    if not curves:
        raise GeometryError(shape.field, "has no boundary")
    return curves, names


class Domain:
    """A 2D region (x, y) built from a ``Shape``; see the module doc."""

    dim = 2

    def __init__(self, shape: Shape, field: str = "domain"):
        if not isinstance(shape, Shape):
            raise GeometryError(field, f"must be a shape (rectangle, disk, polygon or a combination), "
                                       f"got {type(shape).__name__}")
        self.shape, self.field = shape, field
        self.geometry = shape.geometry  # shapely; raises for an empty combination
        self.area, self.mean, self.std = moments(self.geometry)
        self.lo, self.hi = self._bbox()
        diag = float(np.hypot(*(self.hi - self.lo)))
        fill = self.area / float(np.prod(self.hi - self.lo))
        if fill < MIN_FILL:
            raise GeometryError(field, f"the region fills {fill:.1e} of its bounding box; at least {MIN_FILL:g}")
        self._fill, self._probe = fill, PROBE * diag
        curves, names = _named_curves(shape)
        self._table = CurveTable.of(curves)
        self.pieces = tuple(dict.fromkeys(names))
        piece_of = np.array([self.pieces.index(n) for n in names])
        cur, s0, s1, sign = active_intervals(self._table, shape.contains, self._probe)
        self._iv, self.lengths = {}, {}
        for i, p in enumerate(self.pieces):
            m = piece_of[cur] == i
            self._iv[p] = (cur[m], s0[m], s1[m], sign[m])
            self.lengths[p] = float(((s1[m] - s0[m]) * self._table.length[cur[m]]).sum())
            if self.lengths[p] <= 1e-12 * diag:
                raise GeometryError(field, f"boundary piece {p!r} is not on the domain's boundary (its curves lie "
                                           f"inside the region, outside it, or on another shape's boundary)")

    # -- geometry ---------------------------------------------------------------------------------------------
    def _bbox(self) -> tuple[np.ndarray, np.ndarray]:
        """The tight box: shapely's bounds widened by the circles' chord error, clipped to the analytic bounds."""
        lo, hi = self.shape.bounds()
        radii = [p.radius for p, _ in self.shape.leaves() if hasattr(p, "radius")]
        sag = max(radii, default=0.0) * (1 - math.cos(math.pi / (4 * QUAD_SEGS))) * 1.01
        x0, y0, x1, y1 = self.geometry.bounds
        return np.maximum(lo, [x0 - sag, y0 - sag]), np.minimum(hi, [x1 + sag, y1 + sag])

    def bbox(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo (2,), hi (2,)): a box containing the region, tight up to 1e-5 of the largest radius."""
        return self.lo.copy(), self.hi.copy()

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of the uniform distribution on the region, for the network's input standardisation."""
        return self.mean.copy(), self.std.copy()

    def measure(self, piece: str) -> float:
        """The arc length of a boundary piece."""
        return self.lengths[self._piece(piece)]

    def _piece(self, piece) -> str:
        if piece not in self._iv:
            raise GeometryError("piece", f"unknown boundary piece {piece!r}; pieces: {', '.join(self.pieces)}")
        return piece

    def mask(self, points) -> np.ndarray:
        """Which points (N, 2) lie in the closed region: a bool array (N,)."""
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2:
            raise GeometryError("points", f"must have shape (N, 2), got {p.shape}")
        return np.asarray(self.shape.contains(p[:, 0], p[:, 1]), dtype=bool)

    # -- sampling ---------------------------------------------------------------------------------------------
    def sample_interior(self, n: int, gen: torch.Generator, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``n`` points uniform in the region: rejection from the bounding box, in float64, then cast."""
        n, gen = count(n), generator(gen)
        lo, span = torch.as_tensor(self.lo), torch.as_tensor(self.hi - self.lo)
        kept, have = [], 0
        while have < n:
            m = int((n - have) / self._fill * 1.1) + 64
            p = lo + span * torch.rand(m, 2, generator=gen, dtype=torch.float64)
            inside = self.shape.contains(p[:, 0].numpy(), p[:, 1].numpy())
            p = p[torch.from_numpy(np.asarray(inside, dtype=bool))]
            kept.append(p)
            have += len(p)
        return torch.cat(kept)[:n].to(dtype) if kept else torch.zeros(0, 2, dtype=dtype)

    def sample_boundary(self, piece: str, n: int, gen: torch.Generator,
                        dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` points uniform by arc length on a piece, and the domain's outward unit normals there."""
        cur, s0, s1, sign = self._iv[self._piece(piece)]
        n, gen = count(n), generator(gen)
        lengths = (s1 - s0) * self._table.length[cur]
        cum = np.cumsum(lengths)
        u = torch.rand(n, generator=gen, dtype=torch.float64).numpy() * cum[-1]
        k = np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)
        frac = np.clip((u - (cum[k] - lengths[k])) / lengths[k], 0.0, 1.0)
        p, normal = self._table.points(cur[k], s0[k] + frac * (s1[k] - s0[k]))
        normal = normal * sign[k][:, None]
        return torch.from_numpy(p).to(dtype), torch.from_numpy(normal).to(dtype)

    # -- pictures ---------------------------------------------------------------------------------------------
    def outline(self, points_per_unit: float = 200.0) -> dict[str, list[np.ndarray]]:
        """Each piece as polylines (k, 2) for drawing: one per boundary interval, about ``points_per_unit`` points
        per unit length (at least 2, circles at least 8 per interval)."""
        out: dict[str, list[np.ndarray]] = {}
        for piece, (cur, s0, s1, _) in self._iv.items():
            lines = []
            for c, a, b in zip(cur, s0, s1):
                k = max(8 if self._table.circle[c] else 2, int((b - a) * self._table.length[c] * points_per_unit))
                s = np.linspace(a, b, min(k, 4096))
                lines.append(self._table.points(np.full(len(s), c), s)[0])
            out[piece] = lines
        return out

    def describe(self) -> dict:
        """What a Check preview shows: area, box, statistics and each piece's length."""
        return {"area": self.area, "bbox": [self.lo.tolist(), self.hi.tolist()], "mean": self.mean.tolist(),
                "std": self.std.tolist(), "pieces": dict(self.lengths)}
