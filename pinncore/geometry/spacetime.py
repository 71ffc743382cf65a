"""A 1D interval, and time crossed with a spatial domain: (x, t) or (x, y, t), time the last coordinate.

Both have the ``Domain`` interface (``dim``, ``pieces``, ``measure``, ``bbox``, ``stats``, ``mask``,
``sample_interior``, ``sample_boundary``), so a loss term samples any of them the same way:

    st = SpaceTime(Interval(-1, 1), (0, 1))          # Burgers: pieces 'initial', 'left', 'right'
    x0 = st.sample_interior(1000, gen)                # (1000, 2) = (x, t)
    p, n = st.sample_boundary("left", 100, gen)       # x = -1, t uniform; n = (-1, 0)

A space-time region's pieces are ``initial`` (t = t0, points uniform in space; normal -t), optionally ``final``
(t = t1), and every spatial piece swept over [t0, t1] (its spatial normal, time component 0).
"""
from __future__ import annotations

import numpy as np
import torch

from . import checks
from .checks import GeometryError
from .domain import Domain, count, generator


class Interval:
    """The closed interval [lo, hi]; boundary pieces ``left`` (x = lo, normal -1) and ``right`` (x = hi, +1)."""

    dim = 1

    def __init__(self, lo, hi, names=("left", "right"), field: str = "interval"):
        self.field = field
        self.lo_, self.hi_ = checks.number(lo, f"{field}.lo"), checks.number(hi, f"{field}.hi")
        if not self.hi_ - self.lo_ > 1e-12 * max(1.0, abs(self.lo_), abs(self.hi_)):
            raise GeometryError(field, f"is degenerate: needs lo < hi, got [{self.lo_:g}, {self.hi_:g}]")
        left, right = checks.names(names, 2, f"{field}.names")
        if left is None or right is None or left == right:
            raise GeometryError(f"{field}.names", f"must be two different names, got {names!r}")
        self.pieces = (left, right)

    def bbox(self):
        return np.array([self.lo_]), np.array([self.hi_])

    def stats(self):
        return np.array([(self.lo_ + self.hi_) / 2]), np.array([(self.hi_ - self.lo_) / 12**0.5])

    def measure(self, piece: str) -> float:
        self._side(piece)
        return 1.0  # a point (counting measure)

    @property
    def size(self) -> float:
        return self.hi_ - self.lo_

    def _side(self, piece) -> int:
        if piece not in self.pieces:
            raise GeometryError("piece", f"unknown boundary piece {piece!r}; pieces: {', '.join(self.pieces)}")
        return self.pieces.index(piece)

    def mask(self, points) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        if p.ndim == 1:
            p = p[:, None]
        if p.ndim != 2 or p.shape[1] != 1:
            raise GeometryError("points", f"must have shape (N, 1), got {p.shape}")
        return (p[:, 0] >= self.lo_) & (p[:, 0] <= self.hi_)

    def sample_interior(self, n, gen, dtype=torch.float64) -> torch.Tensor:
        n, gen = count(n), generator(gen)
        return (self.lo_ + self.size * torch.rand(n, 1, generator=gen, dtype=torch.float64)).to(dtype)

    def sample_boundary(self, piece, n, gen, dtype=torch.float64):
        side = self._side(piece)
        n = count(n)
        generator(gen)
        x = torch.full((n, 1), self.hi_ if side else self.lo_, dtype=dtype)
        return x, torch.full((n, 1), 1.0 if side else -1.0, dtype=dtype)


class SpaceTime:
    """A spatial ``Domain`` or ``Interval`` crossed with the time interval [t0, t1] (time last)."""

    def __init__(self, space, t, initial: str = "initial", final: str | None = None, field: str = "domain"):
        if not isinstance(space, (Domain, Interval)):
            raise GeometryError(f"{field}.space", f"must be a Domain or an Interval, got {type(space).__name__}")
        self.space, self.field = space, field
        self.time = Interval(*_pair(t, f"{field}.t"), field=f"{field}.t")
        self.dim = space.dim + 1
        own = [checks.name(initial, f"{field}.initial")]
        if final is not None:
            own.append(checks.name(final, f"{field}.final"))
        clash = set(own) & set(space.pieces) or (len(own) == 2 and own[0] == own[1])
        if clash:
            raise GeometryError(field, f"the time pieces {own} clash with each other or the space's pieces "
                                       f"{list(space.pieces)}")
        self.initial, self.final = initial, final
        self.pieces = tuple(own) + tuple(space.pieces)

    def bbox(self):
        (lo, hi), (t0, t1) = self.space.bbox(), self.time.bbox()
        return np.r_[lo, t0], np.r_[hi, t1]

    def stats(self):
        (m, s), (mt, st) = self.space.stats(), self.time.stats()
        return np.r_[m, mt], np.r_[s, st]

    def measure(self, piece: str) -> float:
        """Area or length of the initial/final slice; a spatial piece's measure times the duration."""
        if piece in (self.initial, self.final):
            return self.space.area if isinstance(self.space, Domain) else self.space.size
        if piece not in self.space.pieces:
            raise GeometryError("piece", f"unknown boundary piece {piece!r}; pieces: {', '.join(self.pieces)}")
        return self.space.measure(piece) * self.time.size

    def mask(self, points) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != self.dim:
            raise GeometryError("points", f"must have shape (N, {self.dim}), got {p.shape}")
        return self.space.mask(p[:, :-1]) & self.time.mask(p[:, -1:])

    def sample_interior(self, n, gen, dtype=torch.float64) -> torch.Tensor:
        n, gen = count(n), generator(gen)
        x = self.space.sample_interior(n, gen, torch.float64)
        return torch.cat([x, self.time.sample_interior(n, gen)], dim=1).to(dtype)

    def sample_boundary(self, piece, n, gen, dtype=torch.float64):
        n, gen = count(n), generator(gen)
        if piece in (self.initial, self.final):
            x = self.space.sample_interior(n, gen, torch.float64)
            t0, t1 = self.time.bbox()
            t = torch.full((n, 1), float(t1[0] if piece == self.final else t0[0]), dtype=torch.float64)
            normal = torch.zeros(n, self.dim, dtype=torch.float64)
            normal[:, -1] = 1.0 if piece == self.final else -1.0
            return torch.cat([x, t], dim=1).to(dtype), normal.to(dtype)
        if piece not in self.space.pieces:
            raise GeometryError("piece", f"unknown boundary piece {piece!r}; pieces: {', '.join(self.pieces)}")
        x, normal = self.space.sample_boundary(piece, n, gen, torch.float64)
        t = self.time.sample_interior(n, gen)
        return torch.cat([x, t], dim=1).to(dtype), torch.cat([normal, torch.zeros(n, 1, dtype=torch.float64)],
                                                             dim=1).to(dtype)


def _pair(value, field: str) -> tuple[float, float]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise GeometryError(field, f"must be [t0, t1], got {checks.kind(value)}")
    return checks.number(value[0], f"{field}[0]"), checks.number(value[1], f"{field}[1]")
