"""Helmholtz 2D (paper Section 3.1): u_xx + u_yy + lam u = q on [-1, 1]^2, u = sin(a1 pi x) sin(a2 pi y)."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..derivatives import Derivatives
from .base import Param, Problem, Term, box


class Helmholtz(Problem):
    name = "helmholtz"
    title = "Helmholtz 2D"
    inputs = ("x", "y")
    domain = ((-1.0, 1.0), (-1.0, 1.0))
    params = (
        Param("a1", 1.0, 0.5, 8.0, "frequency of the exact solution in x"),
        Param("a2", 4.0, 0.5, 8.0, "frequency in y: a2 = 4 is the paper's stiff case, a2 = 1 the mild one"),
        Param("lam", 1.0, 0.0, 10.0, "the Helmholtz constant lambda"),
    )

    def exact(self, x: Tensor) -> Tensor:
        return (torch.sin(self.a1 * math.pi * x[:, :1]) * torch.sin(self.a2 * math.pi * x[:, 1:2]))

    def forcing(self, x: Tensor) -> Tensor:
        k2 = (self.a1**2 + self.a2**2) * math.pi**2
        return (self.lam - k2) * self.exact(x)

    def pde(self, d: Derivatives) -> Tensor:
        return d["xx"] + d["yy"] + self.lam * d.u - self.forcing(d.x)

    def dirichlet(self, d: Derivatives) -> Tensor:
        return d.u - self.exact(d.x)

    def terms(self) -> tuple[Term, ...]:
        edges = (box((-1, 1), (-1, -1)), box((1, 1), (-1, 1)), box((-1, 1), (1, 1)), box((-1, -1), (-1, 1)))
        return (self.term("res", (self.domain,), self.pde, ("xx", "yy")), self.term("bc", edges, self.dirichlet))
