"""Loss weighting: L = sum_i lambda_i L_i over the named terms, one registered module per strategy.

``WEIGHTINGS`` is the registry (name -> class) that the CLI's choices, the dashboard's options, sweep grids, config
validation and the exports read: fixed (``base``), annealing, grad-norm, ntk. Causal weights (``causal``) are not
one of them: a switch on the residual term that combines with any of them (``RunConfig.causal``).
"""
from __future__ import annotations

import inspect
from typing import Sequence

from ..errors import ConfigError
from .annealing import Annealing
from .base import Grads, Weighting
from .causal import SCHEDULES, Causal, CausalTerm
from .gradnorm import GradNorm
from .ntk import NTK

WEIGHTINGS: dict[str, type[Weighting]] = {"fixed": Weighting, "annealing": Annealing, "grad-norm": GradNorm,
                                          "ntk": NTK}


def make_weighting(name: str, terms: Sequence[str], **kwargs) -> Weighting:
    """The weighting ``name`` over these terms; arguments its constructor does not take (``variant`` for a
    weighting other than annealing) are dropped."""
    if name not in WEIGHTINGS:
        raise ConfigError("weighting", f"unknown '{name}'; allowed: {', '.join(WEIGHTINGS)}")
    cls = WEIGHTINGS[name]
    accepted = set(inspect.signature(cls.__init__).parameters)
    return cls(terms, **{k: v for k, v in kwargs.items() if k in accepted})


def weighting_for(config, terms: Sequence[str]) -> Weighting:
    """The weighting of a RunConfig, each reading its own fields (``Weighting.config_kwargs``)."""
    if config.weighting not in WEIGHTINGS:
        raise ConfigError("weighting", f"unknown '{config.weighting}'; allowed: {', '.join(WEIGHTINGS)}")
    cls = WEIGHTINGS[config.weighting]
    return cls(terms, **cls.config_kwargs(config))


__all__ = ["WEIGHTINGS", "SCHEDULES", "Weighting", "Annealing", "GradNorm", "NTK", "Causal", "CausalTerm", "Grads",
           "make_weighting", "weighting_for"]
