"""Where problems come from: the built-in classes, ``register_problem`` (Python), spec texts, and installed
packages (the entry-point group ``pinncore.problems``). Named reference fields for specs: ``references``.

An entry point names a ``Problem`` subclass, or a spec text (a ``str``), or a zero-argument callable that
returns either; they are loaded on the first lookup of an unknown name (or by ``load_entry_points()``), so
``import pinncore`` stays fast.
"""
from __future__ import annotations

import warnings

from ..errors import ConfigError
from .base import Problem
from .cavity import Cavity
from .helmholtz import Helmholtz
from .klein_gordon import KleinGordon
from .poisson import Poisson1D
from .references import REFERENCES, register_reference  # noqa: F401 - re-exported

ENTRY_POINT_GROUP = "pinncore.problems"
PROBLEMS: dict[str, type[Problem]] = {cls.name: cls for cls in (Helmholtz, KleinGordon, Cavity, Poisson1D)}
_loaded = False


def register_problem(name: str, factory, replace: bool = False) -> type[Problem]:
    """Add a problem under ``name``: a ``Problem`` subclass or a spec text. Returns the class."""
    if isinstance(factory, str):
        from .spec import problem_class

        factory = problem_class(factory)
    if not (isinstance(factory, type) and issubclass(factory, Problem)):
        raise ConfigError("problem", f"'{name}': register a Problem subclass or a spec text, got "
                                     f"{type(factory).__name__}")
    if factory.name != name:
        raise ConfigError("problem", f"'{name}': the class is named '{factory.name}'")
    if name in PROBLEMS and PROBLEMS[name] is not factory and not replace:
        raise ConfigError("problem", f"'{name}' is already registered (pass replace=True to replace it)")
    PROBLEMS[name] = factory
    return factory


def load_entry_points() -> list[str]:
    """Register the problems of installed packages (once); returns the names added. A broken plug-in is
    reported with a warning and skipped."""
    global _loaded
    if _loaded:
        return []
    _loaded = True
    from importlib.metadata import entry_points

    added = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            obj = obj() if callable(obj) and not isinstance(obj, type) else obj
            cls = register_problem(ep.name, obj)
        except Exception as exc:  # noqa: BLE001 - one broken package must not break the others
            warnings.warn(f"problem plug-in '{ep.name}' ({ep.value}) skipped: {exc}", RuntimeWarning,
                          stacklevel=2)
            continue
        added.append(cls.name)
    return added


def make_problem(name: str, **params: float) -> Problem:
    if name not in PROBLEMS:
        load_entry_points()
    if name not in PROBLEMS:
        raise ConfigError("problem", f"unknown '{name}'; allowed: {', '.join(PROBLEMS)}")
    return PROBLEMS[name](**params)

