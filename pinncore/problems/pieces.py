"""Where a loss term samples when a box is not enough: pieces of a geometric region, periodic face pairs, data rows.

A piece draws, per training step, ``rows(batch)`` points with ``dim`` coordinates (in the problem's input order)
followed by its ``aux`` columns (float64):

* ``RegionInterior(region, order)``: ``batch`` points uniform in the region (``pinncore.geometry``);
* ``RegionBoundary(region, piece, order, names)``: ``batch`` points uniform by arc length on a named boundary
  piece, with the outward unit normal as the columns ``n_<input>``;
* ``PeriodicPairs(domain, index)``: ``batch`` points uniform on the face ``x_i = low`` followed by the same points
  moved to ``x_i = high`` (2 ``batch`` rows): the residual compares the two halves;
* ``DataRows(points, values, names)``: the rows of a data table (every row each step, or ``batch`` rows drawn
  with replacement when there are more than ``ALL_ROWS``), the observed columns as ``aux``.

``order`` maps a region's own column order (space, then time) to the problem's inputs: column j of the result is
column ``order[j]`` of the region's sample.
"""
from __future__ import annotations

import torch
from torch import Tensor

ALL_ROWS = 4096  # a data term with at most this many rows uses all of them at every step


class Piece:
    aux: tuple[str, ...] = ()
    label: str = ""
    blockable = False  # ``sample(k * batch)`` is k samples of ``batch`` (the trainer may draw k steps at once)

    def rows(self, batch: int) -> int:
        return batch

    def sample(self, batch: int, gen: torch.Generator) -> Tensor:
        raise NotImplementedError


class RegionInterior(Piece):
    blockable = True

    def __init__(self, region, order: tuple[int, ...], label: str = "interior"):
        self.region, self.order, self.label = region, list(order), label

    def sample(self, batch, gen):
        return self.region.sample_interior(batch, gen, torch.float64)[:, self.order]


class RegionBoundary(Piece):
    """With ``names`` (the inputs), the outward normal as the columns n_<input>; without, the points alone."""

    blockable = True

    def __init__(self, region, piece: str, order: tuple[int, ...], names: tuple[str, ...] = ()):
        self.region, self.piece, self.order = region, piece, list(order)
        self.aux, self.label = tuple(f"n_{n}" for n in names), piece

    def sample(self, batch, gen):
        p, n = self.region.sample_boundary(self.piece, batch, gen, torch.float64)
        return torch.cat([p[:, self.order], n[:, self.order]], dim=1) if self.aux else p[:, self.order]


class PeriodicPairs(Piece):
    """The faces x_i = low and x_i = high of a box, the same points on both (low half first)."""

    def __init__(self, domain, index: int, label: str = ""):
        lo = torch.tensor([a for a, _ in domain], dtype=torch.float64)
        hi = torch.tensor([b for _, b in domain], dtype=torch.float64)
        self.lo, self.span, self.index, self.label = lo, hi - lo, index, label
        self.ends = (float(lo[index]), float(hi[index]))

    def rows(self, batch):
        return 2 * batch

    def sample(self, batch, gen):
        p = self.lo + self.span * torch.rand(batch, len(self.lo), generator=gen, dtype=torch.float64)
        a, b = p.clone(), p
        a[:, self.index] = self.ends[0]
        b[:, self.index] = self.ends[1]
        return torch.cat([a, b])


class DataRows(Piece):
    """Observation rows: coordinates (N, dim) and observed columns (N, k) named ``names``."""

    def __init__(self, points, values, names: tuple[str, ...], label: str = "data"):
        self.data = torch.cat([torch.as_tensor(points, dtype=torch.float64),
                               torch.as_tensor(values, dtype=torch.float64).reshape(len(points), -1)], dim=1)
        self.aux, self.label = tuple(names), label
        self.all = len(self.data) <= ALL_ROWS

    def rows(self, batch):
        return len(self.data) if self.all else batch

    def sample(self, batch, gen):
        if self.all:
            return self.data
        return self.data[torch.randint(len(self.data), (batch,), generator=gen)]
