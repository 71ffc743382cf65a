"""1D Poisson (paper Section 2.3): u_xx = -C^2 sin(C x) on [0, 1], u = sin(C x), Dirichlet at both ends.

The paper's stiffness analysis: once u_theta = sin(C x) + eps, ||grad L_r|| <= O(C^4) eps ||grad eps||
while ||grad L_b|| <= 2 eps ||grad eps||, so the imbalance between the two terms grows like C^4.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..derivatives import Derivatives
from .base import Param, Problem, Term, box


class Poisson1D(Problem):
    name = "poisson1d"
    title = "1D Poisson"
    inputs = ("x",)
    domain = ((0.0, 1.0),)
    params = (Param("C", 4.0, 0.5, 32.0, "frequency of u = sin(C x); the gradient imbalance grows like C^4"),)

    def exact(self, x: Tensor) -> Tensor:
        return torch.sin(self.C * x[:, :1])

    def pde(self, d: Derivatives) -> Tensor:
        return d["xx"] + self.C**2 * torch.sin(self.C * d.x)

    def dirichlet(self, d: Derivatives) -> Tensor:
        return d.u - self.exact(d.x)

    def terms(self) -> tuple[Term, ...]:
        return (self.term("res", (self.domain,), self.pde, ("xx",)),
                self.term("bc", (box((0, 0)), box((1, 1))), self.dirichlet))
