"""What a problem is: a domain box, named loss terms built from boxes and residuals, tunable parameters,
and a reference solution to evaluate against.

A residual reads the network's derivatives by name (``d["xx"]``, see ``pinncore.derivatives``); each term
declares the names it needs. A loss term is a sum of mean squared residuals, one per box (for Helmholtz's ``bc``
term: one per edge, as in the released code), each over its own fresh uniform sample of ``batch`` points:

    L_term = sum_boxes mean_points sum_columns r(x)^2      (``columns="sum"``, the default)
    L_term = sum_boxes mean_points mean_columns r(x)^2     (``columns="mean"``)

A term with several residual columns sums them unless it says otherwise: the cavity's momentum residual sums
its two equations, and its boundary term averages the two velocity components, as the authors' script does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from ..derivatives import Derivatives, compute
from ..errors import ConfigError
from ..unknowns import initial_values

Field = Callable[[Tensor], Tensor]  # the network as a function of raw (unstandardised) coordinates
Interval = tuple[float, float]


@dataclass(frozen=True)
class Param:
    """A user-tunable problem parameter with its valid range (the UI renders it as a bounded widget)."""

    name: str
    default: float
    low: float
    high: float
    help: str = ""


@dataclass(frozen=True)
class Term:
    """One named loss term: where it samples and the residual its points must drive to zero.

    It samples either ``boxes`` (uniform in each, lo == hi pinning a coordinate) or ``pieces``
    (``pinncore.problems.pieces``: a region's interior or boundary piece, periodic face pairs, data rows), each
    with its own ``batch`` points. Points may carry ``aux`` columns after their coordinates (the outward normals
    ``n_x``, observed values), which the residual reads as ``d.extra[name]``, like the problem's ``unknowns``
    (``pinncore.unknowns``; their initial values unless the caller passes others)."""

    name: str
    boxes: tuple[tuple[Interval, ...], ...]  # one box per piece; lo == hi pins a coordinate (an edge)
    residual: Callable[[Derivatives], Tensor]  # derivatives at the points of all boxes -> (N, k) residuals
    needs: tuple[str, ...] = ()  # the derivatives the residual reads, by input letters: ("xx", "yy")
    inputs: tuple[str, ...] = ()  # the problem's input names, to parse ``needs``
    columns: str = "sum"  # how a point's squared residual columns combine: "sum" or "mean"
    pointwise: bool = True  # row i of the residual depends on point i alone (False: also on its box, e.g. a spec
                            # term whose faces have different residuals); the kernels evaluate points one by one
    paired: int = 0  # > 0: the rows are ``paired`` blocks of n points and their n partners (the periodic penalty:
                     # block k is [face low, face high] of input k); the kernels' "point" is then one row of each
    pieces: tuple = ()  # samplers instead of boxes (``pieces.Piece``)
    aux: tuple[str, ...] = ()  # the names of the columns every point carries after its coordinates
    unknowns: tuple = ()  # the problem's unknown coefficients (``unknowns.Unknown``) the residual may read

    def __post_init__(self):
        if self.columns not in ("sum", "mean"):
            raise ValueError(f"Term {self.name!r}: columns must be 'sum' or 'mean', got {self.columns!r}")
        if bool(self.boxes) == bool(self.pieces):
            raise ValueError(f"Term {self.name!r}: give boxes or pieces (one of them)")
        if self.pieces:
            return
        lo = torch.tensor([[iv[0] for iv in box] for box in self.boxes], dtype=torch.float64)
        hi = torch.tensor([[iv[1] for iv in box] for box in self.boxes], dtype=torch.float64)
        object.__setattr__(self, "_lo", lo[:, None, :])
        object.__setattr__(self, "_span", (hi - lo)[:, None, :])

    @property
    def groups(self) -> int:
        """How many sampled groups (boxes or pieces) the loss sums over."""
        return len(self.boxes) or len(self.pieces)

    def sample(self, batch: int, generator: torch.Generator, dtype: torch.dtype) -> Tensor:
        """``batch`` fresh uniform points per box, stacked box after box: shape (len(boxes) * batch, dim); or each
        piece's rows, piece after piece, with the ``aux`` columns after the coordinates."""
        if self.pieces:
            parts = [self._columns(p, p.sample(batch, generator)) for p in self.pieces]
            return (parts[0] if len(parts) == 1 else torch.cat(parts)).to(dtype)
        dim = self._lo.shape[2]
        r = torch.rand(len(self.boxes), batch, dim, generator=generator, dtype=torch.float64)
        return (self._lo + self._span * r).reshape(-1, dim).to(dtype)

    def _columns(self, piece, pts: Tensor) -> Tensor:
        """A piece's sample with the term's aux columns (zeros for those the piece has not)."""
        if piece.aux == self.aux:
            return pts
        dim = len(self.inputs)
        out = torch.zeros(len(pts), dim + len(self.aux), dtype=pts.dtype)
        out[:, :dim] = pts[:, :dim]
        for k, name in enumerate(piece.aux):
            out[:, dim + self.aux.index(name)] = pts[:, dim + k]
        return out

    def split(self, points: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """(coordinates, the aux columns by name) of sampled points."""
        if not self.aux:
            return points, {}
        dim = len(self.inputs)
        return points[:, :dim], {n: points[:, dim + k:dim + k + 1] for k, n in enumerate(self.aux)}

    def derivatives(self, u: Field, points: Tensor, method: str = "jet",
                    values: dict[str, Tensor] | None = None) -> Derivatives:
        x, extra = self.split(points)
        d = compute(u, x, self.needs, self.inputs, method)
        return self.attach(d, extra, values)

    def attach(self, d: Derivatives, extra: dict[str, Tensor], values: dict[str, Tensor] | None) -> Derivatives:
        """``d`` with the aux columns and the unknowns' values (their initial values when ``values`` is None)."""
        if self.unknowns:
            extra = {**extra, **(values if values is not None else initial_values(self.unknowns, d.x))}
        if extra:
            d.extra = extra
        return d

    def residuals(self, u: Field, points: Tensor, method: str = "jet") -> Tensor:
        return self.residual(self.derivatives(u, points, method))

    def loss(self, u: Field, points: Tensor, method: str = "jet") -> Tensor:
        return self.loss_of(self.derivatives(u, points, method))

    def loss_of(self, d: Derivatives) -> Tensor:
        """Sum over boxes (pieces) of the mean squared residual (all boxes have the same number of points)."""
        sq = self.residual(d).pow(2)
        return self.groups * (sq.sum(dim=1) if self.columns == "sum" else sq.mean(dim=1)).mean()


class Problem:
    """Base class. Subclasses set the class attributes and implement ``terms`` and ``reference``.

    ``evaluate(d)`` returns the quantity compared with ``reference`` from the derivatives ``eval_needs`` at the
    grid (``u`` itself by default; the cavity compares the velocity magnitude).
    """

    name: str = ""
    title: str = ""
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ("u",)
    domain: tuple[Interval, ...] = ()
    params: tuple[Param, ...] = ()
    # inputs in which the solution is periodic and the network must be exactly periodic, {input name: period L}:
    # the model embeds each as [cos(2 pi x / L), sin(2 pi x / L)] of the raw coordinate (pinncore.models.embeddings)
    periodic: dict[str, float] = {}
    quantity: str = "u"  # what the evaluation compares, for labels
    eval_needs: tuple[str, ...] = ()  # derivatives ``evaluate`` reads
    time: str | None = None  # the time input (causal weights need one); None: the input named "t", if any
    region = None  # a ``pinncore.geometry`` region when the domain is not the box ``domain`` (its bounding box)
    region_columns: tuple[int, ...] = ()  # the input index of each of the region's columns (space, then time)
    unknowns: tuple = ()  # unknown coefficients (``pinncore.unknowns.Unknown``), trained with the network

    def __init__(self, **values: float):
        known = {p.name: p for p in self.params}
        for key in values:
            if key not in known:
                raise ConfigError(f"problem parameter '{key}'",
                                  f"unknown for {self.name}; allowed: {', '.join(known) or 'none'}")
        self.values: dict[str, float] = {}
        for p in self.params:
            v = values.get(p.name, p.default)
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise ConfigError(f"problem parameter '{p.name}'", f"must be a number, got {v!r}") from None
            if not math.isfinite(v) or not p.low <= v <= p.high:
                raise ConfigError(f"problem parameter '{p.name}'",
                                  f"must be in [{p.low:g}, {p.high:g}], got {v}")
            self.values[p.name] = v
        self.__dict__.update(self.values)

    # -- to implement -------------------------------------------------------------------------------------
    def terms(self) -> tuple[Term, ...]:
        raise NotImplementedError

    def exact(self, x: Tensor) -> Tensor:
        """Closed-form u at raw points (N, dim) -> (N, 1); problems without one override ``reference``."""
        raise NotImplementedError(f"{self.name} has no closed-form solution")

    # -- shared ---------------------------------------------------------------------------------------------
    def time_index(self) -> int | None:
        """The column of the time input: ``time`` if declared, else the input named "t"; None without one."""
        name = self.time or "t"
        return self.inputs.index(name) if name in self.inputs else None

    def reference(self, points: np.ndarray) -> np.ndarray:
        """The exact (or reference) value of ``quantity`` at ``points`` (N, dim) -> (N,), float64."""
        return self.exact(torch.as_tensor(points, dtype=torch.float64))[:, 0].numpy()

    def term(self, name: str, boxes, residual: Callable[[Derivatives], Tensor], needs: tuple[str, ...] = (),
             columns: str = "sum") -> Term:
        return Term(name, tuple(boxes), residual, needs, self.inputs, columns)

    def evaluate(self, d: Derivatives) -> Tensor:
        return d.u[:, 0]

    def predict(self, u: Field, points: Tensor, method: str = "jet") -> Tensor:
        """The evaluated quantity at ``points`` (no graph kept)."""
        needs_graph = method == "autograd" and self.eval_needs  # nested autograd differentiates w.r.t. x
        with torch.enable_grad() if needs_graph else torch.no_grad():
            return self.evaluate(compute(u, points, self.eval_needs, self.inputs, method)).detach()

    def grid(self, n: int) -> tuple[np.ndarray, tuple[int, ...]]:
        """A uniform grid with n points per input over the domain: (points (N, dim), grid shape).

        For 2D problems the grid shape is (n, n) indexed [i_second_input, i_first_input] (rows = y or x),
        ready for a heatmap with the first input on the horizontal axis.
        """
        axes = [np.linspace(lo, hi, n) for lo, hi in self.domain]
        mesh = np.meshgrid(*axes, indexing="xy")
        pts = np.stack([m.ravel() for m in mesh], axis=1)
        return pts, mesh[0].shape

    def mask(self, points: np.ndarray) -> np.ndarray:
        """Which points (N, dim) lie in the domain: all of the box, or the region's (closed) set."""
        points = np.asarray(points, dtype=np.float64)
        if self.region is None:
            return np.ones(len(points), dtype=bool)
        return self.region.mask(points[:, list(self.region_columns)])

    def scoring(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(points (N, dim), reference values (N,)) the relative L2 error is measured on, when that is not the
        evaluation grid (a scattered reference: its own points); None: the grid."""
        return None

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of the domain, for input standardisation (paper protocol).

        The released code estimates them from 1e5 uniform samples; the uniform box has the closed forms
        mean = (lo + hi) / 2 and std = (hi - lo) / sqrt(12), which we use without the sampling noise. A region's
        are its own uniform distribution's (``region.stats()``).
        """
        if self.region is not None:
            mean, std = self.region.stats()
            inverse = np.argsort(self.region_columns)
            return np.asarray(mean)[inverse], np.asarray(std)[inverse]
        lo = np.array([d[0] for d in self.domain])
        hi = np.array([d[1] for d in self.domain])
        return (lo + hi) / 2, (hi - lo) / math.sqrt(12.0)

    def describe(self) -> str:
        vals = ", ".join(f"{k}={v:g}" for k, v in self.values.items())
        return f"{self.title} ({vals})" if vals else self.title


def box(*intervals: Sequence[float]) -> tuple[Interval, ...]:
    return tuple((float(a), float(b)) for a, b in intervals)
