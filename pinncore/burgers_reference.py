"""Reference solution of the viscous Burgers equation (numpy + scipy only), and an independent check of it.

Problem (Raissi et al. 2019, Basdevant et al. 1986):

    u_t + u u_x = nu u_xx  on x in [-1, 1], t >= 0,   u(x, 0) = -sin(pi x),   u(-1, t) = u(1, t) = 0,

with nu = 0.01 / pi by default. The Cole-Hopf transformation u = -2 nu phi_x / phi turns it into the heat equation;
for this odd, 2-periodic initial value the solution on the whole line is

    u(x, t) = - int sin(pi (x - y)) f(x - y) G(y) dy / int f(x - y) G(y) dy,
    f(s) = exp(-cos(pi s) / (2 pi nu)),   G(y) = exp(-y^2 / (4 nu t)),

which is odd and 2-periodic in x, so u(+-1, t) = 0 holds by symmetry. Substituting y = 2 sqrt(nu t) z gives
integrals against exp(-z^2), evaluated here by Gauss-Hermite quadrature (as Basdevant et al. do) with ``NODES``
nodes and the exponent shifted by its maximum (no overflow: f spans exp(+-50) at the default nu). u_x is the exact
x-derivative of the same quadrature formula.

Accuracy (measured 2025, this machine's CPU, ``tests/test_burgers_reference.py``): 200 nodes and 800 nodes agree to
4e-15 in max norm on 2,001 x-points at t = 0.05, 0.3, 0.5 and 1; the shock's steepest slope, min over t of
u_x(0, t), is -152.005162 at t = 0.5104698 (= 1.603688 / pi), matching the -152.00516 at t = 1.6037 / pi of
Basdevant et al. (1986).

``solve_burgers_fd`` is an independent check: second-order central differences in conservation form
(u^2/2)_x on a uniform grid, classical RK4 in time with dt under the diffusive and advective limits. Away from the
shock it converges to the Cole-Hopf values at second order (see the tests for the figures).
"""
from __future__ import annotations

import hashlib
import math
import numbers
import os

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import roots_hermite

from .reference_cache import cached_arrays

__all__ = ["NU", "NODES", "cole_hopf", "cole_hopf_ux", "shock_slope", "solve_burgers_fd", "burgers_reference"]

NU = 0.01 / math.pi
NODES = 200
NU_RANGE = (0.002 / math.pi, 1.0)  # 200 nodes are converged to round-off over this range and t in [0, 1]
MAX_T = 10.0
CHUNK = 4096  # points per quadrature block: CHUNK x NODES float64 arrays (6.5 MB each)
VERSION = 1  # bump when the formula or its defaults change: cached values of older versions are recomputed


def _check_nu(nu) -> float:
    if isinstance(nu, bool) or not isinstance(nu, numbers.Real) or not math.isfinite(nu) \
            or not NU_RANGE[0] <= nu <= NU_RANGE[1]:
        raise ValueError(f"nu must be a number in [{NU_RANGE[0]:.6g}, {NU_RANGE[1]:g}], got {nu!r}")
    return float(nu)


def _check_points(x, t) -> tuple[np.ndarray, np.ndarray]:
    x, t = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64))
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t))):
        raise ValueError("points (x, t) must be finite")
    if np.any(t < 0) or np.any(t > MAX_T):
        raise ValueError(f"t must lie in [0, {MAX_T:g}]")
    return x, t


def _quadrature(x: np.ndarray, t: np.ndarray, nu: float, nodes: int, derivative: bool) -> np.ndarray:
    """u (or u_x) at flat arrays x, t with t > 0, one CHUNK of points at a time."""
    z, w = roots_hermite(nodes)
    with np.errstate(divide="ignore"):  # weights that underflow to 0 (many nodes) contribute exp(-inf) = 0
        logw = np.log(w)
    out = np.empty_like(x)
    for s in range(0, x.size, CHUNK):
        xs, ts = x[s:s + CHUNK, None], t[s:s + CHUNK, None]
        y = xs - 2.0 * np.sqrt(nu * ts) * z[None, :]
        e = logw - np.cos(math.pi * y) / (2 * math.pi * nu)
        f = np.exp(e - e.max(axis=1, keepdims=True))
        sin = np.sin(math.pi * y)
        d, n = f.sum(axis=1), (sin * f).sum(axis=1)
        if not derivative:
            out[s:s + CHUNK] = -n / d
            continue
        dn = (math.pi * np.cos(math.pi * y) * f + sin * sin * f / (2 * nu)).sum(axis=1)
        out[s:s + CHUNK] = -(dn * d - n * n / (2 * nu)) / (d * d)  # d_x of the denominator: n / (2 nu)
    return out


def cole_hopf(x, t, nu: float = NU, nodes: int = NODES) -> np.ndarray:
    """u(x, t) by the Cole-Hopf formula (Gauss-Hermite quadrature); arrays broadcast, the result has their shape."""
    return _evaluate(x, t, nu, nodes, derivative=False)


def cole_hopf_ux(x, t, nu: float = NU, nodes: int = NODES) -> np.ndarray:
    """u_x(x, t), the exact derivative of the quadrature formula of ``cole_hopf``."""
    return _evaluate(x, t, nu, nodes, derivative=True)


def _evaluate(x, t, nu, nodes: int, derivative: bool) -> np.ndarray:
    nu = _check_nu(nu)
    if isinstance(nodes, bool) or not isinstance(nodes, numbers.Integral) or not 8 <= nodes <= 2000:
        raise ValueError(f"nodes must be an integer in [8, 2000], got {nodes!r}")
    x, t = _check_points(x, t)
    xf, tf = x.ravel(), t.ravel()
    out = -math.pi * np.cos(math.pi * xf) if derivative else -np.sin(math.pi * xf)  # t = 0: the initial value
    late = tf > 0
    out[late] = _quadrature(xf[late], tf[late], nu, int(nodes), derivative)
    return out.reshape(x.shape)


def shock_slope(nu: float = NU, bracket: tuple[float, float] = (0.3, 0.8)) -> tuple[float, float]:
    """(t*, u_x(0, t*)): the time and value of the steepest slope at the shock x = 0, min over t of u_x(0, t).

    Basdevant et al. (1986) give u_x(0, t*) = -152.00516 at t* = 1.6037 / pi for nu = 0.01 / pi."""
    res = minimize_scalar(lambda t: float(cole_hopf_ux(0.0, t, nu)), bounds=bracket, method="bounded",
                          options={"xatol": 1e-10})
    return float(res.x), float(res.fun)


def _fd_rhs(u: np.ndarray, h: float, nu: float) -> np.ndarray:
    r = np.zeros_like(u)
    flux = 0.5 * u * u
    r[1:-1] = -(flux[2:] - flux[:-2]) / (2 * h) + nu * (u[2:] - 2 * u[1:-1] + u[:-2]) / (h * h)
    return r


def solve_burgers_fd(cells: int, times, nu: float = NU) -> tuple[np.ndarray, np.ndarray]:
    """An independent finite-difference solution on ``cells`` uniform cells: (x (cells+1,), u (len(times), cells+1)).

    Central differences (flux form for u u_x), Dirichlet u(+-1) = 0, RK4 with the largest step of equal length
    between consecutive output times under dt <= 2.5 h^2 / (4 nu) (diffusion) and dt <= 2 h (advection, |u| <= 1).
    """
    nu = _check_nu(nu)
    if isinstance(cells, bool) or not isinstance(cells, numbers.Integral) or not 16 <= cells <= 20_000:
        raise ValueError(f"cells must be an integer in [16, 20000], got {cells!r}")
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or not np.all(np.isfinite(times)) or np.any(np.diff(times) < 0) or np.any(times < 0):
        raise ValueError("times must be a finite, non-negative, non-decreasing 1D array")
    x = np.linspace(-1.0, 1.0, cells + 1)
    h = 2.0 / cells
    dt_max = min(2.5 * h * h / (4 * nu), 2.0 * h)
    u = -np.sin(math.pi * x)
    u[0] = u[-1] = 0.0
    out, now = np.empty((len(times), cells + 1)), 0.0
    for i, target in enumerate(times):
        steps = int(math.ceil((target - now) / dt_max)) if target > now else 0
        dt = (target - now) / steps if steps else 0.0
        for _ in range(steps):
            k1 = _fd_rhs(u, h, nu)
            k2 = _fd_rhs(u + 0.5 * dt * k1, h, nu)
            k3 = _fd_rhs(u + 0.5 * dt * k2, h, nu)
            k4 = _fd_rhs(u + dt * k3, h, nu)
            u = u + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        now = max(now, target)
        out[i] = u
    return x, out


def burgers_reference(points: np.ndarray, nu: float = NU, cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """u at ``points`` (N, 2) = columns (x, t): the Cole-Hopf values, cached on disk per (nu, points).

    The cache key is the SHA-256 of the points' float64 bytes, so the same evaluation grid is computed once."""
    nu = _check_nu(nu)
    pts = np.ascontiguousarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2) = (x, t), got {pts.shape}")
    _check_points(pts[:, 0], pts[:, 1])
    digest = hashlib.sha256(pts.tobytes()).hexdigest()
    key = {"solver": "burgers-cole-hopf", "version": VERSION, "nu": nu, "nodes": NODES, "points": digest}
    arrays = cached_arrays(f"burgers_nu{nu:.6g}_{digest[:16]}", key, ("u",),
                           lambda: {"u": cole_hopf(pts[:, 0], pts[:, 1], nu)}, cache_dir)
    if arrays["u"].shape != (len(pts),):
        raise RuntimeError("burgers_reference: cached values do not match the points")  # a hash collision
    return arrays["u"]
