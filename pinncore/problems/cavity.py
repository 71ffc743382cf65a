"""Lid-driven cavity (paper Section 3.3), steady Navier-Stokes on [0, 1]^2 in the stream-function formulation.

The network outputs (psi, p); u = psi_y, v = -psi_x, so continuity holds exactly. Residuals are the two
momentum equations u u_x + v u_y + p_x - (u_xx + u_yy) / Re and the same for v; the bc term asks
(u, v) = (1, 0) on the lid y = 1 (corners included) and (0, 0) on the other three walls. Evaluation compares
the velocity magnitude |u| with the project's own finite-difference solution (``cavity_reference``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..cavity_reference import cavity_reference
from .base import Field, Param, Problem, Term, box, grad, second_derivatives


def velocity(u: Field, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(u, v, p) at x, differentiable w.r.t. x (which must require grad)."""
    out = u(x)
    psi, p = out[:, 0:1], out[:, 1:2]
    g = grad(psi, x)
    return g[:, 1:2], -g[:, 0:1], p


class Cavity(Problem):
    name = "cavity"
    title = "Lid-driven cavity"
    inputs = ("x", "y")
    outputs = ("psi", "p")
    domain = ((0.0, 1.0), (0.0, 1.0))
    params = (Param("Re", 100.0, 1.0, 1000.0, "Reynolds number (lid speed 1, cavity side 1)"),)
    quantity = "|u|"

    def momentum(self, u: Field, x: Tensor) -> Tensor:
        x = x.requires_grad_(True)
        vx, vy, p = velocity(u, x)
        du, dv, dp = grad(vx, x), grad(vy, x), grad(p, x)
        lap_u = second_derivatives(vx, x, du).sum(dim=1, keepdim=True)
        lap_v = second_derivatives(vy, x, dv).sum(dim=1, keepdim=True)
        r_u = vx * du[:, 0:1] + vy * du[:, 1:2] + dp[:, 0:1] - lap_u / self.Re
        r_v = vx * dv[:, 0:1] + vy * dv[:, 1:2] + dp[:, 1:2] - lap_v / self.Re
        return torch.cat([r_u, r_v], dim=1)

    def walls(self, u: Field, x: Tensor) -> Tensor:
        x = x.requires_grad_(True)
        vx, vy, _ = velocity(u, x)
        lid = (x[:, 1:2] == 1.0).to(x.dtype)
        return torch.cat([vx - lid, vy], dim=1)

    def terms(self) -> tuple[Term, ...]:
        edges = (box((0, 1), (1, 1)), box((0, 1), (0, 0)), box((0, 0), (0, 1)), box((1, 1), (0, 1)))
        return (Term("res", (self.domain,), self.momentum), Term("bc", edges, self.walls))

    def evaluate(self, u: Field, points: Tensor) -> Tensor:
        with torch.enable_grad():
            x = points.detach().requires_grad_(True)
            vx, vy, _ = velocity(u, x)
        return torch.sqrt(vx**2 + vy**2)[:, 0].detach()

    def reference(self, points: np.ndarray) -> np.ndarray:
        ref = cavity_reference(self.Re)
        vx, vy = ref.velocity_at(points[:, 0], points[:, 1])
        return np.sqrt(vx**2 + vy**2)
