"""Optimisers: one registered module per optimiser, named by ``RunConfig.optimizer``.

``OPTIMIZERS`` is the registry (name -> class) that the CLI's choices, the dashboard's options, recipes, sweep grids
and config validation read:

* ``adam`` (``adam``): the paper's Adam, the only one the compiled step implements (``pinncore.fused``);
* ``adam+lbfgs`` (``lbfgs``): Adam for ``lbfgs_after`` steps, then ``torch.optim.LBFGS`` (strong Wolfe, one
  iteration per step) on a fixed batch drawn at the switch (Rathore et al., ICML 2024);
* ``soap`` (``soap``): SOAP (Vyas et al. 2024), the gradient-alignment paper's optimiser (Wang et al., NeurIPS
  2025), from the ``pytorch-optimizer`` package.
"""
from __future__ import annotations

from ..errors import ConfigError
from .adam import Adam, Optimiser, make_adam
from .lbfgs import FLOAT32_WARNING, AdamLbfgs, LbfgsPhase
from .soap import Soap

OPTIMIZERS: dict[str, type[Optimiser]] = {"adam": Adam, "adam+lbfgs": AdamLbfgs, "soap": Soap}


def optimiser_of(config) -> type[Optimiser]:
    if config.optimizer not in OPTIMIZERS:
        raise ConfigError("optimizer", f"unknown '{config.optimizer}'; allowed: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[config.optimizer]


def compiled_steps_left(config, steps_done: int) -> int:
    """The steps of a run the compiled step could still train (Adam's): all that are left for ``adam``, those
    before the switch for ``adam+lbfgs``, none for an optimiser the compiled step does not implement."""
    return max(0, optimiser_of(config).adam_steps(config) - steps_done)


def warning_of(config) -> str | None:
    """The one-line warning a run of this config deserves (L-BFGS in float32), or None."""
    return FLOAT32_WARNING if config.optimizer == "adam+lbfgs" and config.dtype == "float32" else None


__all__ = ["OPTIMIZERS", "Optimiser", "Adam", "AdamLbfgs", "Soap", "LbfgsPhase", "make_adam", "optimiser_of",
           "compiled_steps_left", "warning_of", "FLOAT32_WARNING"]
