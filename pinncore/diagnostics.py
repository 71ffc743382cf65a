"""Stiffness diagnostics (paper Section 2.2, Fig. 4-5, 11): the largest eigenvalue of the loss Hessian.

Gradient descent on L is stable only for lr < 2 / sigma_max(grad^2 L); the residual term of a stiff problem
has sigma_max orders of magnitude above the boundary term's. sigma_max is found by power iteration on
Hessian-vector products (double back-propagation), so the Hessian is never formed.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import Tensor


def top_hessian_eigenvalue(loss: Tensor, params: Sequence[Tensor], iters: int = 30, tol: float = 1e-3,
                           generator: torch.Generator | None = None) -> float:
    """The eigenvalue of largest magnitude of d^2 loss / d params^2 (power iteration, Rayleigh quotient).

    Away from a minimum it may be negative; the gradient-descent stability bound concerns its magnitude.
    """
    params = list(params)
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    pairs = [(g, p) for g, p in zip(grads, params) if g is not None]
    grads, params = [g for g, _ in pairs], [p for _, p in pairs]
    v = [torch.randn(p.shape, generator=generator, dtype=torch.float64).to(p) for p in params]
    norm = math.sqrt(sum((x * x).sum().item() for x in v))
    v = [x / norm for x in v]
    value = 0.0
    for i in range(iters):
        hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        new = sum((h * x).sum().item() for h, x in zip(hv, v))
        norm = math.sqrt(sum((h * h).sum().item() for h in hv))
        if norm == 0.0 or not math.isfinite(norm):
            return new
        v = [h.detach() / norm for h in hv]
        if i and abs(new - value) <= tol * abs(new):
            return new
        value = new
    return value


def term_eigenvalues(losses: Callable[[], dict[str, Tensor]], lambdas: dict[str, float],
                     params: Sequence[Tensor], generator: torch.Generator | None = None,
                     iters: int = 30) -> tuple[dict[str, float], float]:
    """sigma_max of each unweighted term and of the weighted total sum_t lambda_t L_t, on one minibatch."""
    values = losses()
    per_term = {t: top_hessian_eigenvalue(L, params, iters, generator=generator) for t, L in values.items()}
    total = sum(lambdas[t] * L for t, L in values.items())
    return per_term, top_hessian_eigenvalue(total, params, iters, generator=generator)
