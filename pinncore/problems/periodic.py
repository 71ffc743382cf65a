"""Periodic conditions as a penalty: a loss term pairing points on opposite faces of the box.

For each periodic input x_i on [low, high], ``batch`` points are drawn uniformly on the face x_i = low and the same
points are moved to x_i = high (``pieces.PeriodicPairs``); the residual is the difference of every output there,
and, with ``derivatives``, of its first derivative across the faces:

    r = [ u(low, .) - u(high, .),  u_{x_i}(low, .) - u_{x_i}(high, .) ]

The tangential derivatives agree once the values do along the faces, so only d/dx_i is compared. The term's loss
is, like any term's, the sum over the periodic inputs of the mean over pairs of the summed squares. A function
periodic in x_i makes it vanish (to round-off). The exact alternative, an input embedding by cos and sin of
2 pi x_i / L that makes the network periodic in x_i, is a model's (``Problem.periodic``).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .base import Term
from .pieces import PeriodicPairs

NAME = "periodic"


def periodic_term(inputs: tuple[str, ...], domain, periodic: Sequence[str], derivatives: bool = True,
                  name: str = NAME) -> Term:
    """The penalty term for the periodic inputs ``periodic`` of a box ``domain`` (one interval per input)."""
    index = [inputs.index(p) for p in periodic]
    pieces = tuple(PeriodicPairs(domain, i, label=f"{inputs[i]} = {domain[i][0]:g} ~ {domain[i][1]:g}")
                   for i in index)
    letters = tuple(periodic)

    def residual(d) -> Tensor:
        n = d.x.shape[0] // (2 * len(letters))
        blocks = []
        for k, p in enumerate(letters):
            lo, hi = slice(2 * k * n, 2 * k * n + n), slice(2 * k * n + n, 2 * (k + 1) * n)
            cols = [d.u[lo] - d.u[hi]]
            if derivatives:
                g = d[p]
                cols.append(g[lo] - g[hi])
            blocks.append(torch.cat(cols, dim=1) if len(cols) > 1 else cols[0])
        return torch.cat(blocks) if len(blocks) > 1 else blocks[0]

    return Term(name, (), residual, letters if derivatives else (), tuple(inputs), "sum", pieces=pieces,
                paired=len(letters))
