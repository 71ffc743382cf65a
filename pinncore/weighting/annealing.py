"""Learning-rate annealing (Wang, Teng & Perdikaris 2021, Algorithm 1), in three named variants."""
from __future__ import annotations

from typing import Iterable

from torch import Tensor

from ..errors import ConfigError
from .base import Grads, Weighting


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
    title = "learning-rate annealing (Wang, Teng & Perdikaris 2021; M2, M4): max |grad L_r| / mean |grad L_i|"
    variants = ("released-code", "paper", "cavity-code")

    @classmethod
    def config_kwargs(cls, config):
        return {**super().config_kwargs(config), "variant": config.annealing_variant}

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
