"""Gradient-norm balancing, as in the jaxpi library."""
from __future__ import annotations

import math

from .base import Grads, Weighting


class GradNorm(Weighting):
    """Gradient-norm balancing as in the jaxpi library, for every term (``res`` included):

        lambda_hat_i = mean_j ||grad_theta L_j||_2  /  ||grad_theta L_i||_2,   theta = all parameters

    with the same moving average, updated every 1000 steps by default (jaxpi's default interval).
    """

    name = "grad-norm"
    default_every = 1000
    needs = "all"
    title = "gradient-norm balancing (as jaxpi): mean_j ||grad L_j|| / ||grad L_i||, every 1000 steps"

    def estimate(self, grads: Grads) -> dict[str, float]:
        norms = {t: math.sqrt(sum(g.pow(2).sum().item() for g in gs.values())) for t, gs in grads.items()}
        mean = sum(norms.values()) / len(norms)
        return {t: mean / max(n, 1e-30) for t, n in norms.items()}
