"""1D Poisson (paper Section 2.3): u_xx = -C^2 sin(C x) on [0, 1], u = sin(C x), Dirichlet at both ends.

The paper's stiffness analysis: once u_theta = sin(C x) + eps, ||grad L_r|| <= O(C^4) eps ||grad eps||
while ||grad L_b|| <= 2 eps ||grad eps||, so the imbalance between the two terms grows like C^4.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Field, Param, Problem, Term, box, second_derivatives


class Poisson1D(Problem):
    name = "poisson1d"
    title = "1D Poisson"
    inputs = ("x",)
    domain = ((0.0, 1.0),)
    params = (Param("C", 4.0, 0.5, 32.0, "frequency of u = sin(C x); the gradient imbalance grows like C^4"),)

    def exact(self, x: Tensor) -> Tensor:
        return torch.sin(self.C * x[:, :1])

    def pde(self, u: Field, x: Tensor) -> Tensor:
        x = x.requires_grad_(True)
        u_xx = second_derivatives(u(x)[:, :1], x)
        return u_xx + self.C**2 * torch.sin(self.C * x)

    def dirichlet(self, u: Field, x: Tensor) -> Tensor:
        return u(x)[:, :1] - self.exact(x)

    def terms(self) -> tuple[Term, ...]:
        return (Term("res", (self.domain,), self.pde),
                Term("bc", (box((0, 0)), box((1, 1))), self.dirichlet))
