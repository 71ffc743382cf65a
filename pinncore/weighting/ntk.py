"""NTK weights: the rule of Wang, Yu & Perdikaris, "When and why PINNs fail to train: a neural tangent kernel
perspective", J. Comput. Phys. 449 (2022) 110768, Algorithm 1, implemented from the paper's equations.

Every ``every`` steps (default 100, as the authors' wave example), on ``m`` points of each term's current batch
(default 300, the example's kernel size, capped by the smallest term's batch so that every term counts the same
number of points, as in the paper's experiments):

    Tr K_ii = sum over term i's m points x of ||d r_i(x) / d theta||^2      (``pinncore.kernels``)
    lambda_hat_i = (sum_j Tr K_jj) / Tr K_ii                               for EVERY term, the residual included

and lambda_i <- beta * lambda_i + (1 - beta) * lambda_hat_i with beta = 0 by default (the paper replaces the
weights; ``ntk_beta`` sets a moving average). A term whose kernel is small (it learns slowly) gets a large weight,
so that all terms converge at the same rate. The step itself is the ordinary one with these weights, so a run
with NTK weights trains compiled like a fixed-weight run; only the update is extra work.

Four public codes call something "NTK weights" and compute four other quantities (read for the record; no code
of theirs is used here):

* jaxpi (PredictiveIntelligenceLab/jaxpi, ``compute_weights``, scheme "ntk"): the MEAN of the kernel diagonal
  instead of its trace, w_i = mean_j(mbar_j) / mbar_i with mbar_i = mean_x K_ii(x, x), over the whole batch,
  every 1000 steps, moving average 0.9; with causal training the residual's diagonal is averaged per time chunk
  and multiplied by the causal weights. With m points per term for every term, as here, lambda_i = n_terms * w_i
  (the same weights up to one common factor, i.e. a learning-rate scale); with unequal point counts they differ.
* PINNacle (``src/optimizer/ntk.py``): a_r = ||d (sum_k r_k) / d theta||^2 = 1^T K_rr 1, the SUM of all kernel
  entries (which can cancel) rather than the trace, every step, over the whole training set.
* NVIDIA Modulus / physicsnemo-sym (``loss/aggregator.py``, class ``NTK``): ||d sqrt(|L_i|) / d theta||, the norm
  of the gradient of the loss's square root: a gradient-norm balancing, no kernel diagonal at all.
* PINA (``NeuralTangentKernelWeighting``): w_i <- alpha w_i + (1 - alpha) ||grad L_i|| / sum_j ||grad L_j||, which
  gives the term with the LARGER gradient the larger weight, the opposite direction of lambda_i ~ 1 / Tr K_ii.
"""
from __future__ import annotations

import math
from typing import Mapping

from .base import Weighting

DEFAULT_POINTS = 300  # the authors' kernel_size in their wave example


class NTK(Weighting):
    name = "ntk"
    default_every = 100
    needs = "kernel"
    title = "NTK weights (Wang, Yu & Perdikaris 2022): lambda_i = sum_j Tr K_jj / Tr K_ii, every 100 steps"

    def __init__(self, terms, initial=None, beta: float = 0.0, every=None):
        super().__init__(terms, initial, beta, every)  # beta 0: the paper replaces the weights at each update

    @classmethod
    def config_kwargs(cls, config):
        return {"initial": config.weights, "beta": config.ntk_beta, "every": config.update_every}

    def estimate(self, traces: Mapping[str, float]) -> dict[str, float]:
        """lambda_hat_i = sum_j Tr K_jj / Tr K_ii; a term with a zero or non-finite trace keeps its weight."""
        usable = {t: v for t, v in traces.items() if math.isfinite(v) and v > 0}
        total = sum(usable.values())
        return {t: total / v for t, v in usable.items()}
