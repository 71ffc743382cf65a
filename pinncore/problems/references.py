"""Named reference fields a spec may compare against (``evaluate.reference = "lid-driven-cavity"``) when it has
no closed form: name -> fn(parameter values, points (N, dim)) -> values (N,). Packages add theirs with
``register_reference``."""
from __future__ import annotations

from typing import Callable

import numpy as np

REFERENCES: dict[str, Callable[[dict, np.ndarray], np.ndarray]] = {}


def register_reference(name: str, fn: Callable[[dict, np.ndarray], np.ndarray]) -> None:
    REFERENCES[name] = fn


def _cavity_reference(values: dict, points: np.ndarray) -> np.ndarray:
    from ..cavity_reference import cavity_reference

    ref = cavity_reference(values.get("Re", 100.0))
    vx, vy = ref.velocity_at(points[:, 0], points[:, 1])
    return np.sqrt(vx**2 + vy**2)


register_reference("lid-driven-cavity", _cavity_reference)  # |u| of the finite-difference solution at Re
