"""Problem registry: name -> class. ``make_problem(name, **params)`` builds one with validated parameters;
``register_problem`` and the entry-point group ``pinncore.problems`` add more; ``problem_from_spec`` builds one
from a spec text (``pinncore.problems.spec``)."""
from __future__ import annotations

from .base import Param, Problem, Term
from .cavity import Cavity
from .helmholtz import Helmholtz
from .klein_gordon import KleinGordon
from .poisson import Poisson1D
from .registry import (ENTRY_POINT_GROUP, PROBLEMS, REFERENCES, load_entry_points, make_problem, register_problem,
                       register_reference)


def problem_from_spec(text: str, **params: float) -> Problem:
    """A problem from a spec text (TOML or JSON); SpecError (a ConfigError) naming the field and line."""
    from .spec import problem_class

    return problem_class(text)(**params)


__all__ = ["PROBLEMS", "Param", "Problem", "Term", "make_problem", "register_problem", "register_reference",
           "load_entry_points", "problem_from_spec", "ENTRY_POINT_GROUP", "REFERENCES",
           "Helmholtz", "KleinGordon", "Cavity", "Poisson1D"]
