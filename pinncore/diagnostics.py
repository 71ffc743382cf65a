"""Stiffness and gradient-imbalance diagnostics (paper Section 2.2-2.3, Fig. 2, 4, 5, 11).

* Hessian eigenvalues. Gradient descent on L is stable only for lr < 2 / sigma_max(grad^2 L); the residual
  term of a stiff problem has sigma_max orders of magnitude above the boundary term's. The top-k eigenvalues
  (largest magnitude first) come from Lanczos iterations with full reorthogonalisation on Hessian-vector
  products (double back-propagation), so the P x P Hessian is never formed. ``hessian_matrix`` builds it with
  ``torch.autograd.functional.hessian`` for small networks only, for the full spectrum of the paper's Fig. 4.
* Gradient imbalance. ``gradient_imbalance`` reads a ``GradSnapshot`` (no extra backward pass): per weight
  matrix W, max |grad_W L_r| / mean |grad_W L_t| for every other term t, and overall the paper's eq. 40
  statistic max_W max |grad_W L_r| / mean_W mean |grad_W L_t| (the mean over the layers of each layer's mean,
  as the released code takes it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .errors import ConfigError
from .records import GradSnapshot

MAX_FULL_HESSIAN = 3000  # parameters: P x P float64 and eigh of it stay around a second


def hessian_operator(loss: Tensor, params: Sequence[Tensor]) -> Callable[[Tensor], Tensor]:
    """v -> (d^2 loss / d params^2) v for a flat v of all parameters (zero rows for unused parameters)."""
    params = list(params)
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    active = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]
    sizes = [p.numel() for p in params]

    def matvec(v: Tensor) -> Tensor:
        if not active:
            return torch.zeros_like(v)
        parts = v.split(sizes)
        hv = torch.autograd.grad([grads[i] for i in active], params,
                                 grad_outputs=[parts[i].view_as(params[i]).to(params[i]) for i in active],
                                 retain_graph=True, allow_unused=True)
        return torch.cat([torch.zeros(n, dtype=v.dtype, device=v.device) if h is None
                          else h.reshape(-1).to(v.dtype) for h, n in zip(hv, sizes)])

    return matvec


def lanczos(matvec: Callable[[Tensor], Tensor], dim: int, k: int = 1, iters: int = 80, tol: float = 1e-3,
            generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> list[float]:
    """The k eigenvalues of largest magnitude of a symmetric operator (largest |.| first, signs kept).

    Lanczos with full reorthogonalisation (float64 basis). Stops once every wanted Ritz pair has a residual
    ||H y - theta y|| <= tol * |theta| (so an eigenvalue lies within that distance), on an invariant subspace,
    or after ``iters`` products. Returns NaNs if the operator gives non-finite values.
    """
    if k < 1:
        raise ConfigError("k", f"must be >= 1, got {k}")
    k, steps = min(k, dim), min(iters, dim)
    q = torch.randn(dim, generator=generator, dtype=torch.float64).to(device)
    q /= q.norm()
    basis, alphas, betas = [q], [], []
    theta, order = np.zeros(1), np.zeros(1, dtype=int)
    for j in range(steps):
        w = matvec(q).to(torch.float64)
        if not torch.isfinite(w).all():
            return [math.nan] * k
        alpha = float(w @ q)
        w = w - alpha * q - (betas[-1] * basis[-2] if betas else 0.0)
        Q = torch.stack(basis)
        for _ in range(2):  # full reorthogonalisation, twice is enough
            w = w - Q.T @ (Q @ w)
        beta = float(w.norm())
        alphas.append(alpha)
        T = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
        theta, S = np.linalg.eigh(T)
        order = np.argsort(-np.abs(theta))[:k]
        scale = float(np.abs(theta).max())
        resid = np.abs(beta * S[-1, order])
        if beta <= 1e-12 * max(scale, 1e-300) or (j + 1 >= min(k + 4, steps)
                                                   and np.all(resid <= tol * np.abs(theta[order]))):
            break
        betas.append(beta)
        q = w / beta
        basis.append(q)
    out = [float(x) for x in theta[order]]
    return out + [math.nan] * (k - len(out))


def top_hessian_eigenvalues(loss: Tensor, params: Sequence[Tensor], k: int = 1, iters: int = 80,
                            tol: float = 1e-3, generator: torch.Generator | None = None) -> list[float]:
    """The k eigenvalues of largest magnitude of d^2 loss / d params^2, from Hessian-vector products.

    Away from a minimum some may be negative; the gradient-descent stability bound concerns the magnitude.
    """
    params = list(params)
    dim = sum(p.numel() for p in params)
    return lanczos(hessian_operator(loss, params), dim, k, iters, tol, generator, params[0].device)


def top_hessian_eigenvalue(loss: Tensor, params: Sequence[Tensor], iters: int = 80, tol: float = 1e-3,
                           generator: torch.Generator | None = None) -> float:
    """sigma_max: the eigenvalue of largest magnitude of d^2 loss / d params^2 (sign kept)."""
    return top_hessian_eigenvalues(loss, params, 1, iters, tol, generator)[0]


def term_eigenvalues(losses: dict[str, Tensor], lambdas: dict[str, float], params: Sequence[Tensor],
                     k: int = 1, iters: int = 80, tol: float = 1e-3, generator: torch.Generator | None = None
                     ) -> tuple[dict[str, tuple[float, ...]], tuple[float, ...]]:
    """Top-k eigenvalues of grad^2 (lambda_t L_t) for every term and of grad^2 sum_t lambda_t L_t, on the
    minibatch the given losses were computed on. A term's weighted spectrum is lambda_t times its own."""
    per_term = {t: tuple(lambdas[t] * x for x in top_hessian_eigenvalues(L, params, k, iters, tol, generator))
                for t, L in losses.items()}
    total = sum(lambdas[t] * L for t, L in losses.items())
    return per_term, tuple(top_hessian_eigenvalues(total, params, k, iters, tol, generator))


# -- the full Hessian, small networks only ----------------------------------------------------------------------
class _Closure(nn.Module):
    """Runs ``fn`` (which reads ``model``'s parameters) as a module's forward, so that
    ``torch.func.functional_call`` can substitute the parameters for the duration of the call."""

    def __init__(self, model: nn.Module, fn: Callable[[], Tensor]):
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self) -> Tensor:
        return self.fn()


def hessian_matrix(fn: Callable[[], Tensor], model: nn.Module, max_params: int = MAX_FULL_HESSIAN) -> Tensor:
    """d^2 fn() / d theta^2 over all of ``model``'s parameters (flattened in ``named_parameters`` order), by
    ``torch.autograd.functional.hessian``. ``fn`` must evaluate the loss on fixed points."""
    names, params = zip(*model.named_parameters())
    sizes = [p.numel() for p in params]
    if sum(sizes) > max_params:
        raise ConfigError("params", f"the full Hessian is for networks of at most {max_params} parameters; "
                                    f"this one has {sum(sizes)}")
    wrapper = _Closure(model, fn)

    def of_flat(flat: Tensor) -> Tensor:
        tensors = [t.view_as(p) for t, p in zip(flat.split(sizes), params)]
        return torch.func.functional_call(wrapper, {f"model.{n}": t for n, t in zip(names, tensors)}, ())

    flat = torch.cat([p.detach().reshape(-1) for p in params])
    return torch.autograd.functional.hessian(of_flat, flat).detach()


def spectrum(hessian: Tensor) -> np.ndarray:
    """All eigenvalues of a symmetric matrix, in float64, largest first (paper Fig. 4 plots them sorted)."""
    h = hessian.detach().to("cpu", torch.float64)
    return np.sort(torch.linalg.eigvalsh((h + h.T) / 2).numpy())[::-1].copy()


# -- gradient imbalance -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Imbalance:
    """Residual against every other term: how much larger the residual's gradients are."""

    step: int
    terms: tuple[str, ...]     # the terms compared with the residual (every term but the first)
    layers: tuple[str, ...]
    per_layer: np.ndarray      # (terms, layers): max |grad_W L_r| / mean |grad_W L_t| per weight matrix
    overall: dict[str, float]  # max_W max |grad_W L_r| / mean_W mean |grad_W L_t|  (paper eq. 40)
    weighted: bool             # True: L_t means lambda_t L_t (what the update sees); False: unweighted


def gradient_imbalance(snap: GradSnapshot, weighted: bool = False) -> Imbalance:
    """Imbalance statistics of one gradient snapshot, at no extra cost (the snapshot holds per-term, per-layer
    max and mean |grad_W (lambda_t L_t)|; the unweighted ones divide by lambda_t). The first term is the
    residual. A zero mean gives inf."""
    lam = np.array([1.0 if weighted else snap.lambdas.get(t, 1.0) for t in snap.terms])[:, None]
    mx, mean = np.asarray(snap.max_abs) / lam, np.asarray(snap.mean_abs) / lam
    with np.errstate(divide="ignore", invalid="ignore"):
        per_layer = mx[0][None, :] / mean[1:]
        overall = {t: float(mx[0].max() / mean[i + 1].mean()) for i, t in enumerate(snap.terms[1:])}
    return Imbalance(snap.step, tuple(snap.terms[1:]), tuple(snap.layers), per_layer, overall, weighted)
