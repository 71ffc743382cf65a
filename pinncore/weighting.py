"""Loss weighting: L = sum_i lambda_i L_i over the named terms (``res``, ``bc``, ``ic``, ...).

Weights live in a dict keyed like the loss terms. A strategy sees, when it is due, the gradient of every
*unweighted* term w.r.t. the network's weight matrices, ``grads[term][layer]``, and returns new weights.
All adaptive strategies use the same moving average, lambda_i <- beta * lambda_i + (1 - beta) * lambda_hat_i
(the paper's Algorithm 1 writes it with alpha = 1 - beta; beta = 0.9 in its experiments and code).

Which parameters theta ranges over matters (see the README): annealing uses weight matrices
(``Network.layer_weights()``, biases excluded), grad-norm all parameters (as jaxpi).
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import torch
from torch import Tensor

from .errors import ConfigError

Grads = Mapping[str, Mapping[str, Tensor]]  # term -> parameter (or layer) name -> gradient


class Weighting:
    """Fixed weights (M1, M3): lambda_i = 1, or the user's values. ``res`` is the reference term."""

    name = "fixed"
    default_every = 0  # never updates
    needs = "none"     # which gradients ``update`` wants: "none", "layers" (weight matrices) or "all"

    def __init__(self, terms: Sequence[str], initial: Mapping[str, float] | None = None, beta: float = 0.9,
                 every: int | None = None):
        initial = dict(initial or {})
        for k, v in initial.items():
            if k not in terms:
                raise ConfigError("weights", f"unknown term '{k}'; allowed: {', '.join(terms)}")
            if not (math.isfinite(v) and v > 0):
                raise ConfigError("weights", f"lambda for '{k}' must be a finite number > 0, got {v}")
        if not 0.0 <= beta < 1.0:
            raise ConfigError("beta", f"must be in [0, 1), got {beta}")
        self.every = self.default_every if every is None else int(every)
        if self.needs != "none" and self.every < 1:
            raise ConfigError("update_every", f"must be >= 1, got {every}")
        self.beta = beta
        self.lambdas: dict[str, float] = {t: float(initial.get(t, 1.0)) for t in terms}

    def due(self, step: int) -> bool:
        """Whether ``update`` runs before the optimizer step ``step`` (step 0 included, as in the code)."""
        return self.needs != "none" and step % self.every == 0

    def estimate(self, grads: Grads) -> dict[str, float]:
        """lambda_hat per adapted term; the base class adapts nothing."""
        return {}

    def update(self, grads: Grads) -> dict[str, float]:
        for term, target in self.estimate(grads).items():
            self.lambdas[term] = self.beta * self.lambdas[term] + (1 - self.beta) * target
        return dict(self.lambdas)

    def state_dict(self) -> dict:
        return {"lambdas": dict(self.lambdas)}

    def load_state_dict(self, state: dict) -> None:
        self.lambdas = {k: float(v) for k, v in state["lambdas"].items()}


def _max_abs(gs: Iterable[Tensor]) -> float:
    return max(g.abs().max().item() for g in gs)


class Annealing(Weighting):
    """Learning-rate annealing (M2, M4), in two named variants of lambda_hat_i for each term i != res.

    ``paper`` -- Algorithm 1 as printed (eq. 40-41), gradient of the *unweighted* term, entries pooled,
    W over all weight matrices (the modified MLP's encoders included):

        lambda_hat_i = max_{W, entries} |grad_W L_r|  /  mean_{all W entries pooled} |grad_W L_i|

    ``released-code`` -- the authors' TF1 code (Helmholtz, Klein-Gordon): the denominator is the mean over
    weight matrices of each matrix's mean |grad (lambda_i L_i)|, the *already weighted* term, and W excludes
    the encoder matrices (the code loops over the trunk's weights only):

        lambda_hat_i = max_{W, entries} |grad_W L_r|  /  mean_W ( lambda_i * mean_{entries} |grad_W L_i| )

    ``cavity-code`` -- the authors' lid-driven-cavity script: the ratio is taken per weight matrix (weighted
    term, encoders excluded) and its maximum over matrices is used:

        lambda_hat_i = max_W [ max_{entries} |grad_W L_r|  /  ( lambda_i * mean_{entries} |grad_W L_i| ) ]

    All variants update before the optimizer step, on that step's minibatch (Algorithm 1's order); the TF1
    code measures just after the step on the same minibatch, one Adam step later, and so trains step 0
    with lambda = 1. The moving average then settles at lambda_i^2 = (the same statistic with unweighted gradients): lambda near the square root of what
    ``paper`` chases, and the weighted boundary gradient never has to match the residual's maximum.
    """

    name = "annealing"
    default_every = 10
    needs = "layers"
    variants = ("released-code", "paper", "cavity-code")

    def __init__(self, terms, initial=None, beta=0.9, every=None, variant: str = "released-code"):
        super().__init__(terms, initial, beta, every)
        if variant not in self.variants:
            raise ConfigError("annealing_variant", f"unknown '{variant}'; allowed: {', '.join(self.variants)}")
        self.variant = variant

    def estimate(self, grads: Grads) -> dict[str, float]:
        if self.variant != "paper":
            grads = {t: {k: g for k, g in gs.items() if not k.startswith("encoder")} for t, gs in grads.items()}
        if self.variant == "cavity-code":
            res = grads["res"]
            return {t: max(res[k].abs().max().item() / max(self.lambdas[t] * g.abs().mean().item(), 1e-30)
                           for k, g in gs.items()) for t, gs in grads.items() if t != "res"}
        grads = {t: list(gs.values()) for t, gs in grads.items()}
        top = _max_abs(grads["res"])
        out = {}
        for term, gs in grads.items():
            if term == "res":
                continue
            if self.variant == "paper":
                total = sum(g.abs().sum().item() for g in gs)
                mean = total / sum(g.numel() for g in gs)
            else:
                mean = self.lambdas[term] * sum(g.abs().mean().item() for g in gs) / len(gs)
            out[term] = top / max(mean, 1e-30)
        return out


class GradNorm(Weighting):
    """Gradient-norm balancing as in the jaxpi library, for every term (``res`` included):

        lambda_hat_i = mean_j ||grad_theta L_j||_2  /  ||grad_theta L_i||_2,   theta = all parameters

    with the same moving average, updated every 1000 steps by default (jaxpi's default interval).
    """

    name = "grad-norm"
    default_every = 1000
    needs = "all"

    def estimate(self, grads: Grads) -> dict[str, float]:
        norms = {t: math.sqrt(sum(g.pow(2).sum().item() for g in gs.values())) for t, gs in grads.items()}
        mean = sum(norms.values()) / len(norms)
        return {t: mean / max(n, 1e-30) for t, n in norms.items()}


WEIGHTINGS: dict[str, type[Weighting]] = {"fixed": Weighting, "annealing": Annealing, "grad-norm": GradNorm}


def make_weighting(name: str, terms: Sequence[str], **kwargs) -> Weighting:
    if name not in WEIGHTINGS:
        raise ConfigError("weighting", f"unknown '{name}'; allowed: {', '.join(WEIGHTINGS)}")
    if name != "annealing":
        kwargs.pop("variant", None)
    return WEIGHTINGS[name](terms, **kwargs)
