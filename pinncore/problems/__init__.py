"""Problem registry: name -> class. ``make_problem(name, **params)`` builds one with validated parameters."""
from __future__ import annotations

from ..errors import ConfigError
from .base import Param, Problem, Term
from .cavity import Cavity
from .helmholtz import Helmholtz
from .klein_gordon import KleinGordon
from .poisson import Poisson1D

PROBLEMS: dict[str, type[Problem]] = {cls.name: cls for cls in (Helmholtz, KleinGordon, Cavity, Poisson1D)}


def make_problem(name: str, **params: float) -> Problem:
    if name not in PROBLEMS:
        raise ConfigError("problem", f"unknown '{name}'; allowed: {', '.join(PROBLEMS)}")
    return PROBLEMS[name](**params)


__all__ = ["PROBLEMS", "Param", "Problem", "Term", "make_problem",
           "Helmholtz", "KleinGordon", "Cavity", "Poisson1D"]
