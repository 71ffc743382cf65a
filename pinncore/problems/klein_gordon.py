"""Klein-Gordon 1D (paper Section 3.2): u_tt + alpha u_xx + beta u + gamma u^3 = f on (t, x) in [0, 1]^2.

Defaults alpha = -1, beta = 0, gamma = 1 give u_tt - u_xx + u^3 = f with u = x cos(5 pi t) + (x t)^3.
ic: u(0, x) = x and u_t(0, x) = 0 (one term, two residual columns); bc: u at x = 0 and x = 1 (one term).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..derivatives import Derivatives
from .base import Param, Problem, Term, box


class KleinGordon(Problem):
    name = "klein-gordon"
    title = "Klein-Gordon 1D"
    inputs = ("t", "x")
    domain = ((0.0, 1.0), (0.0, 1.0))
    params = (
        Param("alpha", -1.0, -5.0, 5.0, "coefficient of u_xx"),
        Param("beta", 0.0, -5.0, 5.0, "coefficient of u"),
        Param("gamma", 1.0, -5.0, 5.0, "coefficient of u^3"),
    )

    def exact(self, x: Tensor) -> Tensor:
        t, s = x[:, 0:1], x[:, 1:2]
        return s * torch.cos(5 * math.pi * t) + (s * t) ** 3

    def forcing(self, x: Tensor) -> Tensor:
        t, s = x[:, 0:1], x[:, 1:2]
        u = self.exact(x)
        u_tt = -25 * math.pi**2 * s * torch.cos(5 * math.pi * t) + 6 * t * s**3
        u_xx = 6 * s * t**3
        return u_tt + self.alpha * u_xx + self.beta * u + self.gamma * u**3

    def pde(self, d: Derivatives) -> Tensor:
        u = d.u
        return d["tt"] + self.alpha * d["xx"] + self.beta * u + self.gamma * u**3 - self.forcing(d.x)

    def initial(self, d: Derivatives) -> Tensor:
        return torch.cat([d.u - d.x[:, 1:2], d["t"]], dim=1)

    def boundary(self, d: Derivatives) -> Tensor:
        return d.u - self.exact(d.x)

    def terms(self) -> tuple[Term, ...]:
        return (
            self.term("res", (self.domain,), self.pde, ("tt", "xx")),
            self.term("ic", (box((0, 0), (0, 1)),), self.initial, ("t",)),
            self.term("bc", (box((0, 1), (0, 0)), box((0, 1), (1, 1))), self.boundary),
        )
