"""Reference solution of the Allen-Cahn equation by a Fourier spectral method with ETDRK4 (numpy FFT only).

Problem (Raissi et al. 2019; Wang, Sankaran & Perdikaris 2022):

    u_t - eps u_xx + gamma u^3 - gamma u = 0  on x in [-1, 1) periodic, t in [0, 1],  u(x, 0) = x^2 cos(pi x),

with eps = 1e-4 and gamma = 5 by default. In Fourier space v = rfft(u), k = pi m (period 2), the equation is
v_t = L v + N(v) with the diagonal linear part L = -eps k^2 and N(v) = rfft(gamma u - gamma u^3). It is stepped
with the fourth-order exponential time-differencing Runge-Kutta scheme ETDRK4 of Cox & Matthews (2002) in the form of
Kassam & Trefethen (2005), their phi-function coefficients computed by the mean over M = 32 points of a circle of
radius 1 around each dt L (contour integral; no cancellation for small dt L). No dealiasing: the cubic term's
aliasing error is below the refinement check's tolerance at the default resolution.

Snapshots are kept every ``save_dt``; ``AllenCahnField.u_at`` evaluates anywhere by a bicubic spline over
(t, x) after a 2x Fourier (band-limited) refinement in x, x taken modulo the period.

The initial value is continuous but not smooth as a periodic function: u_x jumps from 2 to -2 across x = +-1. The
solution is smooth for t > 0, but the layer there is thin at first, so the error is largest at early times and
converges at second order in the grid spacing there (spectrally later). Measured 2025 on this machine's CPU
(``tests/test_allen_cahn_reference.py`` repeats the cheap ones), max |u| change at the grid nodes:

    (modes, dt)                        all t      t >= 0.1   t = 1
    (512, 1e-3)   -> (1024, 5e-4)      5.7e-4     1.3e-4     1.4e-6
    (1024, 5e-4)  -> (2048, 2.5e-4)    2.6e-4     3.2e-5     1.3e-9
    (2048, 2.5e-4)-> (4096, 1.25e-4)   6.3e-5     7.9e-6     3.1e-10
    halving dt alone (1024 modes)      2.0e-12

The cached reference is the (2048, 2.5e-4) solution: its spline against the 4096-mode solution at 4,096 nodes and
100 times: max 3.6e-4 for t < 0.05 (near x = +-1), 1.9e-5 for t >= 0.05, 7.9e-6 for t >= 0.1, 3e-10 at t = 1.
"""
from __future__ import annotations

import functools
import math
import numbers
import os
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import RectBivariateSpline

from .reference_cache import cached_arrays

__all__ = ["AllenCahnField", "solve_allen_cahn", "allen_cahn_reference", "EPS", "GAMMA"]

EPS, GAMMA = 1e-4, 5.0
MODES, DT, SAVE_DT, T_END = 2048, 2.5e-4, 1e-3, 1.0
REFINE, PAD = 2, 8  # Fourier refinement in x for the spline, and periodic padding points on each side
CONTOUR = 32
VERSION = 1


def _number(value, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def _coefficients(lin: np.ndarray, dt: float) -> tuple[np.ndarray, ...]:
    """ETDRK4's E, E2, Q, f1, f2, f3 for the diagonal L (Kassam & Trefethen 2005, eq. 2.5 and their contour)."""
    r = np.exp(1j * math.pi * (np.arange(1, CONTOUR + 1) - 0.5) / CONTOUR)
    lr = dt * lin[:, None] + r[None, :]
    ex = np.exp(lr)
    q = dt * np.real(np.mean((np.exp(lr / 2) - 1) / lr, axis=1))
    f1 = dt * np.real(np.mean((-4 - lr + ex * (4 - 3 * lr + lr**2)) / lr**3, axis=1))
    f2 = dt * np.real(np.mean((2 + lr + ex * (lr - 2)) / lr**3, axis=1))
    f3 = dt * np.real(np.mean((-4 - 3 * lr - lr**2 + ex * (4 - lr)) / lr**3, axis=1))
    return np.exp(dt * lin), np.exp(dt * lin / 2), q, f1, f2, f3


def solve_allen_cahn(modes: int = MODES, dt: float = DT, save_dt: float = SAVE_DT, t_end: float = T_END,
                     eps: float = EPS, gamma: float = GAMMA) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x (modes,), t (S,), u (S, modes)): the solution at the grid x_j = -1 + 2 j / modes, every ``save_dt``.

    ``save_dt`` and ``t_end`` must be whole multiples of ``dt``."""
    if isinstance(modes, bool) or not isinstance(modes, numbers.Integral) or modes % 2 or not 32 <= modes <= 16384:
        raise ValueError(f"modes must be an even integer in [32, 16384], got {modes!r}")
    dt, save_dt = _number(dt, "dt", 1e-7, 0.1), _number(save_dt, "save_dt", 1e-7, 1.0)
    t_end, eps, gamma = _number(t_end, "t_end", 0.0, 10.0), _number(eps, "eps", 0.0, 1.0), \
        _number(gamma, "gamma", 0.0, 100.0)
    every, steps = round(save_dt / dt), round(t_end / dt)
    if abs(every * dt - save_dt) > 1e-9 * save_dt or abs(steps * dt - t_end) > 1e-9 * max(t_end, dt) \
            or steps % every:
        raise ValueError(f"save_dt ({save_dt:g}) and t_end ({t_end:g}) must be whole multiples of dt ({dt:g}), "
                         f"t_end of save_dt")
    x = -1.0 + 2.0 * np.arange(modes) / modes
    e, e2, q, f1, f2, f3 = _coefficients(-eps * (math.pi * np.arange(modes // 2 + 1)) ** 2, dt)

    def nonlinear(v):
        u = np.fft.irfft(v, modes)
        return np.fft.rfft(gamma * (u - u**3))

    v = np.fft.rfft(x**2 * np.cos(math.pi * x))
    snaps = [np.fft.irfft(v, modes)]
    for step in range(1, steps + 1):
        nv = nonlinear(v)
        a = e2 * v + q * nv
        na = nonlinear(a)
        b = e2 * v + q * na
        nb = nonlinear(b)
        c = e2 * a + q * (2 * nb - nv)
        v = e * v + f1 * nv + 2 * f2 * (na + nb) + f3 * nonlinear(c)
        if step % every == 0:
            snaps.append(np.fft.irfft(v, modes))
    return x, np.arange(len(snaps)) * save_dt, np.array(snaps)


def refine(u: np.ndarray, factor: int) -> np.ndarray:
    """Band-limited (Fourier) interpolation of periodic samples along the last axis onto a ``factor`` x finer grid."""
    n = u.shape[-1]
    v = np.fft.rfft(u, axis=-1)
    v[..., -1] *= 0.5  # the Nyquist mode splits evenly between +n/2 and -n/2
    fine = np.zeros(u.shape[:-1] + (n * factor // 2 + 1,), dtype=complex)
    fine[..., : v.shape[-1]] = v
    return np.fft.irfft(fine, n * factor, axis=-1) * factor


@dataclass(frozen=True, eq=False)
class AllenCahnField:
    """Snapshots ``u[i_t, i_x]`` at times ``t`` and the periodic grid ``x`` (spacing 2 / len(x), from -1)."""

    x: np.ndarray
    t: np.ndarray
    u: np.ndarray

    @functools.cached_property
    def _spline(self) -> RectBivariateSpline:
        fine = refine(self.u, REFINE)
        n = fine.shape[1]
        xf = -1.0 + 2.0 * np.arange(n) / n
        xe = np.concatenate([xf[-PAD:] - 2.0, xf, xf[:PAD] + 2.0])
        ue = np.concatenate([fine[:, -PAD:], fine, fine[:, :PAD]], axis=1)
        return RectBivariateSpline(self.t, xe, ue, kx=3, ky=3, s=0)

    def u_at(self, x, t) -> np.ndarray:
        """u at points (x, t), t in [0, t_end], x taken modulo 2 into [-1, 1); returns the broadcast shape."""
        x, t = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64))
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t))):
            raise ValueError("points (x, t) must be finite")
        if np.any(t < -1e-12) or np.any(t > self.t[-1] + 1e-12):
            raise ValueError(f"t must lie in [0, {self.t[-1]:g}]")
        xm = np.mod(x + 1.0, 2.0) - 1.0
        tc = np.clip(t, 0.0, self.t[-1])
        return self._spline.ev(tc.ravel(), xm.ravel()).reshape(x.shape)


def allen_cahn_reference(eps: float = EPS, gamma: float = GAMMA, modes: int = MODES, dt: float = DT,
                         cache_dir: str | os.PathLike | None = None) -> AllenCahnField:
    """:func:`solve_allen_cahn` on [0, 1] with snapshots every 1e-3, cached on disk (``allen_cahn_*.npz``)."""
    eps, gamma = _number(eps, "eps", 0.0, 1.0), _number(gamma, "gamma", 0.0, 100.0)
    dt = _number(dt, "dt", 1e-7, 0.1)
    key = {"solver": "allen-cahn-etdrk4", "version": VERSION, "eps": eps, "gamma": gamma, "modes": modes,
           "dt": dt, "save_dt": SAVE_DT, "t_end": T_END}

    def compute():
        x, t, u = solve_allen_cahn(modes, dt, SAVE_DT, T_END, eps, gamma)
        return {"x": x, "t": t, "u": u}

    a = cached_arrays(f"allen_cahn_eps{eps:g}_g{gamma:g}_m{modes}_dt{dt:g}", key, ("x", "t", "u"), compute,
                      cache_dir)
    if a["u"].shape != (len(a["t"]), len(a["x"])):
        raise RuntimeError("allen_cahn_reference: cached arrays have inconsistent shapes")
    return AllenCahnField(a["x"], a["t"], a["u"])
