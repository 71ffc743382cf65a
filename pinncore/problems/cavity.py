"""Lid-driven cavity (paper Section 3.3), steady Navier-Stokes on [0, 1]^2 in the stream-function formulation.

The network outputs (psi, p); u = psi_y, v = -psi_x, so continuity holds exactly. Residuals are the two
momentum equations u u_x + v u_y + p_x - (u_xx + u_yy) / Re and the same for v; the bc term asks
(u, v) = (1, 0) on the lid y = 1 (corners included) and (0, 0) on the other three walls. Evaluation compares
the velocity magnitude |u| with the project's own finite-difference solution (``cavity_reference``).

The two terms combine their columns as the authors' cavity script does: the residual loss is the sum of the two
momentum equations' mean squares, the boundary loss the mean over both velocity components (and over the points
of each wall, summed over the four walls). Summing the components instead doubles L_bc, which costs accuracy
under annealing: see "cavity M4" in assets/reproduction/NOTES.md.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..cavity_reference import cavity_reference
from ..derivatives import Derivatives
from .base import Param, Problem, Term, box


def velocity(d: Derivatives) -> tuple[Tensor, Tensor]:
    """(u, v) = (psi_y, -psi_x), each (N, 1)."""
    return d["y"][:, 0:1], -d["x"][:, 0:1]


class Cavity(Problem):
    name = "cavity"
    title = "Lid-driven cavity"
    inputs = ("x", "y")
    outputs = ("psi", "p")
    domain = ((0.0, 1.0), (0.0, 1.0))
    params = (Param("Re", 100.0, 1.0, 1000.0, "Reynolds number (lid speed 1, cavity side 1)"),)
    quantity = "|u|"
    eval_needs = ("x", "y")

    def momentum(self, d: Derivatives) -> Tensor:
        psi = lambda name: d[name][:, 0:1]  # noqa: E731
        p_x, p_y = d["x"][:, 1:2], d["y"][:, 1:2]
        u, v = psi("y"), -psi("x")
        u_x, u_y, lap_u = psi("xy"), psi("yy"), psi("xxy") + psi("yyy")
        v_x, v_y, lap_v = -psi("xx"), -psi("xy"), -(psi("xxx") + psi("xyy"))
        r_u = u * u_x + v * u_y + p_x - lap_u / self.Re
        r_v = u * v_x + v * v_y + p_y - lap_v / self.Re
        return torch.cat([r_u, r_v], dim=1)

    def walls(self, d: Derivatives) -> Tensor:
        u, v = velocity(d)
        lid = (d.x[:, 1:2] == 1.0).to(u.dtype)
        return torch.cat([u - lid, v], dim=1)

    def terms(self) -> tuple[Term, ...]:
        edges = (box((0, 1), (1, 1)), box((0, 1), (0, 0)), box((0, 0), (0, 1)), box((1, 1), (0, 1)))
        third = ("xx", "xy", "yy", "xxx", "xxy", "xyy", "yyy")
        return (self.term("res", (self.domain,), self.momentum, ("x", "y") + third),
                self.term("bc", edges, self.walls, ("x", "y"), columns="mean"))

    def evaluate(self, d: Derivatives) -> Tensor:
        u, v = velocity(d)
        return torch.sqrt(u**2 + v**2)[:, 0]

    def reference(self, points: np.ndarray) -> np.ndarray:
        ref = cavity_reference(self.Re)
        vx, vy = ref.velocity_at(points[:, 0], points[:, 1])
        return np.sqrt(vx**2 + vy**2)
