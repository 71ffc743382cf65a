"""Classical reference solution of the steady 2D lid-driven cavity (numpy + scipy only).

Domain [0,1]^2, lid y=1 moves with u=1, v=0 (the two lid corners belong to the lid),
the other three walls are no-slip.  The solution is used as ground truth for PINNs.

Formulation (stream function psi / vorticity w, u = psi_y, v = -psi_x, w = v_x - u_y):

    -lap(psi) = w,        psi_y w_x - psi_x w_y = lap(w) / re

on a uniform n x n grid (h = 1/(n-1)) with second-order central differences.  psi = 0
on all walls; the wall vorticity uses Jensen's second-order formula
``w_wall = -(8 psi_1 - psi_2) / (2 h^2) - 3 U / h`` (psi_1, psi_2: first two nodes along the
inward normal; U = 1 on the lid, 0 on the other walls).  The corner vorticity values never
enter the interior stencils and are pinned to 0.

All 2 n^2 nodal values form one nonlinear algebraic system F(z) = 0 whose rows are scaled
to O(1) coefficients: Poisson ``4 psi_P - sum(psi_nb) - h^2 w_P``, transport (times re h^2)
``4 w_P - sum(w_nb) + re h^2 (psi_y w_x - psi_x w_y)``, wall ``h^2 w + (8 psi_1 - psi_2)/2
+ 3 h U`` and ``psi = 0`` on the walls.  It is solved directly for the steady state by Newton's method with a
sparse LU factorisation of the exact Jacobian (the convective term is bilinear), starting
from rest (the first Newton step is therefore the Stokes solution).  Newton steps are
undamped; for re > 200 the Reynolds number is continued (first stage 200, increment doubled
after a converged stage, halved after a failed one).

Convergence criterion: ``max|F(z)| < tol`` for the h^2-scaled discrete equations at the
target Reynolds number (``CavityField.residual`` is that final max-norm).  If this is not
reached within ``max_iter`` Newton steps per continuation stage, or the iteration produces
non-finite values, :class:`CavityConvergenceError` is raised instead of returning a field.
"""
from __future__ import annotations

import logging
import math
import numbers
import os
import tempfile
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.interpolate import RectBivariateSpline
from scipy.sparse.linalg import splu

__all__ = ["CavityField", "CavityConvergenceError", "solve_cavity", "cavity_reference"]
log = logging.getLogger(__name__)


class CavityConvergenceError(RuntimeError):
    """Newton's method did not reach the requested residual."""


@dataclass(frozen=True, eq=False)
class CavityField:
    """Converged cavity solution on the grid; arrays are indexed ``[iy, ix]``."""

    re: float
    x: np.ndarray  # (n,) grid coordinates, 0..1
    y: np.ndarray  # (n,)
    psi: np.ndarray  # (n, n) stream function
    u: np.ndarray  # (n, n) u = dpsi/dy (central differences; exact wall values)
    v: np.ndarray  # (n, n) v = -dpsi/dx
    residual: float  # final max-norm residual of the h^2-scaled discrete equations

    @cached_property
    def _splines(self) -> tuple[RectBivariateSpline, RectBivariateSpline]:
        return (RectBivariateSpline(self.y, self.x, self.u, kx=3, ky=3, s=0),
                RectBivariateSpline(self.y, self.x, self.v, kx=3, ky=3, s=0))

    def velocity_at(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Bicubic-spline (u, v) at points (x, y) in [0,1]^2; returns arrays of the input shape.

        Near the two singular lid corners the spline rings over a few cells (the data jump
        from u=1 on the lid to u=0 on the side walls); elsewhere it is 4th-order accurate.
        """
        x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        pts = np.stack([x, y])
        if not np.all(np.isfinite(pts)) or np.any((pts < -1e-9) | (pts > 1 + 1e-9)):
            raise ValueError("velocity_at: points (x, y) must be finite and lie in [0, 1]^2")
        x, y = np.clip(x, 0.0, 1.0), np.clip(y, 0.0, 1.0)
        su, sv = self._splines
        xf, yf = x.ravel(), y.ravel()
        return su.ev(yf, xf).reshape(x.shape), sv.ev(yf, xf).reshape(x.shape)


def _check_inputs(re, n) -> tuple[float, int]:
    if isinstance(re, bool) or not isinstance(re, numbers.Real) or not (math.isfinite(re) and re > 0):
        raise ValueError(f"re must be a finite number > 0, got {re!r}")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 17:
        raise ValueError(f"n must be an integer >= 17, got {n!r}")
    return float(re), int(n)


class _System:
    """h^2-scaled discrete equations F(z) = L z + c + C(z), z = [psi.ravel(), w.ravel()]."""

    def __init__(self, n: int):
        self.n, h, N = n, 1.0 / (n - 1), n * n
        idx = np.arange(N).reshape(n, n)
        P, E, W = idx[1:-1, 1:-1].ravel(), idx[1:-1, 2:].ravel(), idx[1:-1, :-2].ravel()
        Nn, S = idx[2:, 1:-1].ravel(), idx[:-2, 1:-1].ravel()
        self.P, self.E, self.W, self.Nn, self.S = P, E, W, Nn, S
        rows, cols, vals = [], [], []

        def add(r, c, v):
            rows.append(r), cols.append(c), vals.append(np.broadcast_to(v, r.shape))

        for off in (0, N):  # 5-point Laplacians: psi rows (0) and w rows (N)
            add(off + P, off + P, 4.0)
            for nb in (E, W, Nn, S):
                add(off + P, off + nb, -1.0)
        add(P, N + P, -h * h)  # -h^2 w_P in the Poisson rows
        bnd = np.setdiff1d(idx.ravel(), P)
        add(bnd, bnd, 1.0)  # psi = 0 on the walls
        corners = idx[[0, 0, -1, -1], [0, -1, 0, -1]]
        add(N + corners, N + corners, 1.0)  # corner vorticity (unused) pinned to 0
        self.c = np.zeros(2 * N)
        for wall, in1, in2, lid in ((idx[0, 1:-1], idx[1, 1:-1], idx[2, 1:-1], 0.0),
                                    (idx[-1, 1:-1], idx[-2, 1:-1], idx[-3, 1:-1], 1.0),
                                    (idx[1:-1, 0], idx[1:-1, 1], idx[1:-1, 2], 0.0),
                                    (idx[1:-1, -1], idx[1:-1, -2], idx[1:-1, -3], 0.0)):
            add(N + wall, N + wall, h * h)  # Jensen: h^2 w + (8 psi_1 - psi_2)/2 + 3 h U = 0
            add(N + wall, in1, 4.0)
            add(N + wall, in2, -0.5)
            self.c[N + wall] = 3.0 * h * lid
        self.L = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(2 * N, 2 * N))
        self.N = N

    def residual(self, z: np.ndarray, re: float) -> np.ndarray:
        N, P, E, W, Nn, S = self.N, self.P, self.E, self.W, self.Nn, self.S
        F = self.L @ z + self.c
        F[N + P] += 0.25 * re * ((z[Nn] - z[S]) * (z[N + E] - z[N + W])
                                 - (z[E] - z[W]) * (z[N + Nn] - z[N + S]))
        return F

    def jacobian(self, z: np.ndarray, re: float) -> sp.csc_matrix:
        N, P, E, W, Nn, S = self.N, self.P, self.E, self.W, self.Nn, self.S
        a, b = 0.25 * re * (z[N + E] - z[N + W]), 0.25 * re * (z[N + Nn] - z[N + S])
        c, d = 0.25 * re * (z[Nn] - z[S]), 0.25 * re * (z[E] - z[W])
        cols = np.concatenate([Nn, S, E, W, N + E, N + W, N + Nn, N + S])
        vals = np.concatenate([a, -a, -b, b, c, -c, -d, d])
        C = sp.csr_matrix((vals, (np.tile(N + P, 8), cols)), shape=self.L.shape)
        return (self.L + C).tocsc()


def _newton(system: _System, z: np.ndarray, re: float, tol: float, max_iter: int):
    """Plain Newton iteration; returns (z, max|F|, converged).  Stops early on divergence."""
    F = system.residual(z, re)
    res = res0 = float(np.max(np.abs(F)))
    for it in range(1, max_iter + 1):
        if res < tol:
            break
        try:
            z = z + splu(system.jacobian(z, re)).solve(-F)
        except RuntimeError:  # singular Jacobian
            return z, math.inf, False
        F = system.residual(z, re)
        res = float(np.max(np.abs(F)))
        log.debug("re=%g newton it %d: max|F| = %.3e", re, it, res)
        if not math.isfinite(res) or res > 1e3 * max(res0, 1.0):
            return z, res, False
    return z, res, res < tol


def solve_cavity(re: float = 100.0, n: int = 129, tol: float = 1e-10, max_iter: int = 50) -> CavityField:
    """Solve the steady cavity at Reynolds number ``re`` on an ``n x n`` grid (see module doc).

    Newton starts from rest (first step = Stokes flow) and, for re > 200, continues in re
    with adaptive increments (halved when a stage fails, doubled when it succeeds).
    Converged means ``max|F| < tol`` for the h^2-scaled discrete equations at ``re``
    within ``max_iter`` Newton steps per stage; otherwise CavityConvergenceError is raised.
    """
    re, n = _check_inputs(re, n)
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    system = _System(n)
    z, done, d_re = np.zeros(2 * n * n), 0.0, min(re, 200.0)
    while done < re:
        r = min(done + d_re, re)
        z_new, res, ok = _newton(system, z, r, tol if r == re else max(tol, 1e-6), max_iter)
        if ok:
            z, done, d_re = z_new, r, 2 * d_re
        elif d_re > re / 64:
            d_re /= 2
        else:
            raise CavityConvergenceError(
                f"Newton did not converge for re={re:g} (n={n}): stalled at re={r:g} with "
                f"max|F| = {res:.3e} > tol = {tol:.1e} (max_iter={max_iter} per stage)")
    h = 1.0 / (n - 1)
    psi = z[: n * n].reshape(n, n).copy()
    u, v = np.zeros((n, n)), np.zeros((n, n))
    u[1:-1, 1:-1] = (psi[2:, 1:-1] - psi[:-2, 1:-1]) / (2 * h)
    v[1:-1, 1:-1] = -(psi[1:-1, 2:] - psi[1:-1, :-2]) / (2 * h)
    u[-1, :] = 1.0  # lid, including both lid corners
    grid = np.linspace(0.0, 1.0, n)
    return CavityField(re=re, x=grid, y=grid.copy(), psi=psi, u=u, v=v, residual=res)


def cavity_reference(re: float = 100.0, n: int = 129, cache_dir: str | os.PathLike | None = None) -> CavityField:
    """:func:`solve_cavity` with an on-disk cache ``cavity_re{re:g}_n{n}.npz``.

    ``cache_dir`` defaults to ``$PINNCORE_CACHE`` or ``~/.cache/pinncore``.  Unreadable or
    mismatching cache files are ignored and recomputed; writes are atomic (temp + os.replace).
    """
    re, n = _check_inputs(re, n)
    if cache_dir is None:
        cache_dir = os.environ.get("PINNCORE_CACHE") or Path.home() / ".cache" / "pinncore"
    path = Path(cache_dir) / f"cavity_re{re:g}_n{n}.npz"
    names = ("x", "y", "psi", "u", "v")
    try:
        with np.load(path, allow_pickle=False) as d:
            arrays = {k: np.array(d[k], dtype=float) for k in names}
            meta = float(d["re"]), int(d["n"]), float(d["residual"])
        shapes_ok = all(arrays[k].shape == (n,) for k in "xy") and \
            all(arrays[k].shape == (n, n) for k in names[2:])
        if meta[:2] == (re, n) and shapes_ok and all(np.all(np.isfinite(a)) for a in arrays.values()):
            return CavityField(re=re, residual=meta[2], **arrays)
    except Exception:  # missing, truncated or corrupt file: recompute
        pass
    field = solve_cavity(re, n)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(delete=False, dir=path.parent, suffix=".tmp") as f:
            tmp = f.name
            np.savez(f, re=field.re, n=n, residual=field.residual, **{k: getattr(field, k) for k in names})
        os.replace(tmp, path)
    except OSError as exc:
        warnings.warn(f"could not write cavity cache {path}: {exc}", RuntimeWarning, stacklevel=2)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return field
