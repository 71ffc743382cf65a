"""Named reference fields a spec may compare against (``evaluate.reference = "lid-driven-cavity"``) when it has
no closed form: name -> fn(parameter values, points (N, dim)) -> values (N,). Packages add theirs with
``register_reference``.

Registered here, each computed by the project itself and cached on disk (``$PINNCORE_CACHE``):

* ``lid-driven-cavity``: |u| of the steady cavity (finite differences, Newton), inputs (x, y), parameter ``Re``;
* ``burgers``: u of Burgers' equation on [-1, 1] x [0, 1] from -sin(pi x) (Cole-Hopf by Gauss-Hermite
  quadrature), inputs (x, t), parameter ``nu`` (default 0.01 / pi);
* ``allen-cahn``: u of u_t - eps u_xx + gamma u^3 - gamma u = 0, periodic on [-1, 1), from x^2 cos(pi x)
  (Fourier spectral, ETDRK4), inputs (x, t), parameters ``eps`` (default 1e-4) and ``gamma`` (default 5).
"""
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


def _burgers_reference(values: dict, points: np.ndarray) -> np.ndarray:
    from ..burgers_reference import NU, burgers_reference

    return burgers_reference(points, values.get("nu", NU))


def _allen_cahn_reference(values: dict, points: np.ndarray) -> np.ndarray:
    from ..allen_cahn_reference import EPS, GAMMA, allen_cahn_reference

    field = allen_cahn_reference(values.get("eps", EPS), values.get("gamma", GAMMA))
    return field.u_at(points[:, 0], points[:, 1])


register_reference("lid-driven-cavity", _cavity_reference)  # |u| of the finite-difference solution at Re
register_reference("burgers", _burgers_reference)  # u(x, t), Cole-Hopf
register_reference("allen-cahn", _allen_cahn_reference)  # u(x, t), Fourier spectral + ETDRK4
