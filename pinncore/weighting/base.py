"""The weighting protocol and fixed weights: L = sum_i lambda_i L_i over the named terms (``res``, ``bc``, ...).

Weights live in a dict keyed like the loss terms. A strategy says what it ``needs`` when it is due, and the
trainer hands it that:

* ``"layers"``: the gradient of every *unweighted* term w.r.t. the network's weight matrices,
  ``grads[term][layer]`` (annealing);
* ``"all"``: the same over all parameters, ``grads[term][parameter]`` (grad-norm);
* ``"kernel"``: per term, the trace of its neural tangent kernel on a subset of its points,
  ``traces[term]`` (NTK weights, ``pinncore.kernels``);
* ``"none"``: nothing, never due (fixed weights).

All adaptive strategies use the same moving average, lambda_i <- beta * lambda_i + (1 - beta) * lambda_hat_i
(the paper's Algorithm 1 writes it with alpha = 1 - beta; beta = 0.9 in its experiments and code).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from torch import Tensor

from ..errors import ConfigError

Grads = Mapping[str, Mapping[str, Tensor]]  # term -> parameter (or layer) name -> gradient


class Weighting:
    """Fixed weights (M1, M3): lambda_i = 1, or the user's values. ``res`` is the reference term."""

    name = "fixed"
    default_every = 0  # never updates
    needs = "none"     # what ``update`` wants: "none", "layers" (weight matrices), "all" (parameters), "kernel"
    title = "fixed weights: lambda = 1, or the values given (M1, M3)"  # one line, for --help and the dashboard

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

    @classmethod
    def config_kwargs(cls, config) -> dict[str, Any]:
        """The constructor's arguments from a RunConfig (a weighting reads its own fields)."""
        return {"initial": config.weights, "beta": config.beta, "every": config.update_every}

    @property
    def per_term_gradients(self) -> bool:
        """Whether its updates read the per-term loss gradients (the compiled step then returns them)."""
        return self.needs in ("layers", "all")

    def due(self, step: int) -> bool:
        """Whether ``update`` runs before the optimizer step ``step`` (step 0 included, as in the code)."""
        return self.needs != "none" and step % self.every == 0

    def estimate(self, grads: Grads) -> dict[str, float]:
        """lambda_hat per adapted term; the base class adapts nothing."""
        return {}

    def update(self, grads: Mapping[str, Any]) -> dict[str, float]:
        for term, target in self.estimate(grads).items():
            self.lambdas[term] = self.beta * self.lambdas[term] + (1 - self.beta) * target
        return dict(self.lambdas)

    def state_dict(self) -> dict:
        return {"lambdas": dict(self.lambdas)}

    def load_state_dict(self, state: dict) -> None:
        self.lambdas = {k: float(v) for k, v in state["lambdas"].items()}
