"""Adam (the paper's optimiser) and the base of every registered optimiser."""
from __future__ import annotations

import torch


def make_adam(params, lr: float) -> torch.optim.Optimizer:
    """Adam; the fused kernel (one op for all parameters) where this torch build has it for the device."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


class Optimiser:
    """What the trainer asks of an optimiser: the one it steps from step 0 (its learning rate set by the run's
    schedule at every step), whether the compiled step implements it, and how many of a run's steps it trains
    before a second phase (``adam+lbfgs``) takes over."""

    name = "adam"
    compiles = True  # the compiled step (pinncore.fused) implements it

    @staticmethod
    def make(params, config) -> torch.optim.Optimizer:
        return make_adam(params, config.lr)

    @staticmethod
    def adam_steps(config) -> int:
        """Steps trained by the first optimiser (``make``'s): all of them here."""
        return config.steps

    @staticmethod
    def check(config, problem) -> None:
        """ConfigError naming a field this optimiser cannot work with."""


class Adam(Optimiser):
    pass
