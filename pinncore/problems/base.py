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
    """One named loss term: the boxes it samples from and the residual its points must drive to zero."""

    name: str
    boxes: tuple[tuple[Interval, ...], ...]  # one box per piece; lo == hi pins a coordinate (an edge)
    residual: Callable[[Derivatives], Tensor]  # derivatives at the points of all boxes -> (N, k) residuals
    needs: tuple[str, ...] = ()  # the derivatives the residual reads, by input letters: ("xx", "yy")
    inputs: tuple[str, ...] = ()  # the problem's input names, to parse ``needs``
    columns: str = "sum"  # how a point's squared residual columns combine: "sum" or "mean"
    pointwise: bool = True  # row i of the residual depends on point i alone (False: also on its box, e.g. a spec
                            # term whose faces have different residuals); the kernels evaluate points one by one

    def __post_init__(self):
        if self.columns not in ("sum", "mean"):
            raise ValueError(f"Term {self.name!r}: columns must be 'sum' or 'mean', got {self.columns!r}")
        lo = torch.tensor([[iv[0] for iv in box] for box in self.boxes], dtype=torch.float64)
        hi = torch.tensor([[iv[1] for iv in box] for box in self.boxes], dtype=torch.float64)
        object.__setattr__(self, "_lo", lo[:, None, :])
        object.__setattr__(self, "_span", (hi - lo)[:, None, :])

    def sample(self, batch: int, generator: torch.Generator, dtype: torch.dtype) -> Tensor:
        """``batch`` fresh uniform points per box, stacked box after box: shape (len(boxes) * batch, dim)."""
        dim = self._lo.shape[2]
        r = torch.rand(len(self.boxes), batch, dim, generator=generator, dtype=torch.float64)
        return (self._lo + self._span * r).reshape(-1, dim).to(dtype)

    def derivatives(self, u: Field, points: Tensor, method: str = "jet") -> Derivatives:
        return compute(u, points, self.needs, self.inputs, method)

    def residuals(self, u: Field, points: Tensor, method: str = "jet") -> Tensor:
        return self.residual(self.derivatives(u, points, method))

    def loss(self, u: Field, points: Tensor, method: str = "jet") -> Tensor:
        return self.loss_of(self.derivatives(u, points, method))

    def loss_of(self, d: Derivatives) -> Tensor:
        """Sum over boxes of the mean squared residual (all boxes have the same number of points)."""
        sq = self.residual(d).pow(2)
        return len(self.boxes) * (sq.sum(dim=1) if self.columns == "sum" else sq.mean(dim=1)).mean()


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

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of the domain, for input standardisation (paper protocol).

        The released code estimates them from 1e5 uniform samples; the uniform box has the closed forms
        mean = (lo + hi) / 2 and std = (hi - lo) / sqrt(12), which we use without the sampling noise.
        """
        lo = np.array([d[0] for d in self.domain])
        hi = np.array([d[1] for d in self.domain])
        return (lo + hi) / 2, (hi - lo) / math.sqrt(12.0)

    def describe(self) -> str:
        vals = ", ".join(f"{k}={v:g}" for k, v in self.values.items())
        return f"{self.title} ({vals})" if vals else self.title


def box(*intervals: Sequence[float]) -> tuple[Interval, ...]:
    return tuple((float(a), float(b)) for a, b in intervals)
