"""The records a ``Trainer`` takes of itself besides its steps: gradient histograms (``GradSnapshot``), the
stiffness of the loss (``StiffnessSnapshot``, full Hessian spectra) and the terms' neural tangent kernels
(``KernelTraces``, ``KernelSpectrum``). A mixin of ``Trainer`` (``pinncore.trainer``), which owns the state
these read: the model, its parameters and layers, the weighting, the kernel probe and the config.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .diagnostics import term_eigenvalues
from .records import GradSnapshot, KernelSpectrum, KernelTraces, Record, StiffnessSnapshot


class Snapshots:
    """``Trainer``'s diagnostic records (see the module's docstring)."""

    def stiffness(self, k: int | None = None, iters: int = 80, tol: float = 1e-3) -> StiffnessSnapshot:
        """Top-k Hessian eigenvalues (Lanczos on Hessian-vector products) of each weighted term lambda_t L_t and
        of the loss, on a minibatch of its own RNG stream (seeded by seed and step), so that the training
        trajectory does not depend on this diagnostic. k: the argument, else ``config.hessian_k``."""
        k = k if k is not None else self.config.hessian_k
        gen = self._diagnostic_generator()
        lam = dict(self.weighting.lambdas)
        per_term, total = term_eigenvalues(self.losses(gen), lam, self.params, k=k, iters=iters, tol=tol,
                                           generator=gen)
        lbfgs = self.lbfgs is not None and self.steps_done > self.config.lbfgs_after
        lr = math.nan if lbfgs else self.lr_at(self.steps_done)  # L-BFGS has no learning rate: no 2 / lr bound
        return StiffnessSnapshot(self.steps_done, per_term, total, lr, lam)

    def _diagnostic_generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.steps_done + 1)

    def hessian_spectra(self, max_params: int | None = None) -> dict[str, np.ndarray]:
        """Every eigenvalue (largest first) of grad^2 (lambda_t L_t) per term and of grad^2 L ("total"), from
        the full Hessian (``torch.autograd.functional.hessian`` + ``eigh``), on the minibatch ``stiffness``
        uses at this step. For networks of at most ``diagnostics.MAX_FULL_HESSIAN`` parameters (paper Fig. 4)."""
        from .diagnostics import MAX_FULL_HESSIAN, hessian_matrix, spectrum

        lam = self.weighting.lambdas
        state = self._diagnostic_generator().get_state()

        def term_loss(name: str):
            return lambda: self.losses(torch.Generator().set_state(state))[name]

        hess = {t: lam[t] * hessian_matrix(term_loss(t), self.model, max_params or MAX_FULL_HESSIAN)
                for t in self.term_names}
        out = {t: spectrum(h) for t, h in hess.items()}
        out["total"] = spectrum(sum(hess.values()))
        return out

    def _kernel_traces(self, k: int, points) -> KernelTraces:
        m = min(self.config.ntk_points, min(x.shape[0] for x in points))
        return KernelTraces(k, self.kernels.traces(points, m), m)

    def _kernel_snapshot(self, k: int, points) -> list[Record]:
        """At a gradient snapshot: the spectra of K_ii and K on ``ntk_eig_points`` points per term and, for a run
        without NTK weights (whose updates record them), the traces on the same points; with ``ntk_eig_points``
        0, the traces alone, on ``ntk_points``."""
        ntk = self.weighting.needs == "kernel"
        m = min(self.config.ntk_eig_points, min(x.shape[0] for x in points))
        if not m:
            return [] if ntk else [self._kernel_traces(k, points)]
        traces, per_term, total = self.kernels.spectra(points, m)
        return ([] if ntk else [KernelTraces(k, traces, m)]) + [KernelSpectrum(k, m, per_term, total)]

    def _snapshot(self, k: int, per_term) -> GradSnapshot:
        lam = self.weighting.lambdas
        grads = [[(lam[t] * per_term[t][i]).detach().abs().flatten().to("cpu", torch.float64)
                  for i in self._layer_index] for t in self.term_names]
        logs = [[torch.log10(g[g > 0]) for g in row] for row in grads]
        finite = torch.cat([x for row in logs for x in row])
        hi = math.ceil(finite.max().item()) if finite.numel() else 0.0
        lo = max(math.floor(finite.min().item()), hi - 12) if finite.numel() else -1.0
        bins = self.config.hist_bins
        edges = np.linspace(lo, hi, bins + 1)
        counts = np.array([[np.histogram(x.clamp(lo, hi).numpy(), edges)[0] for x in row] for row in logs])
        stat = lambda f: np.array([[f(g) for g in row] for row in grads])  # noqa: E731
        return GradSnapshot(
            step=k, terms=self.term_names, layers=tuple(self.layers), lambdas=dict(lam), edges=edges,
            counts=counts, max_abs=stat(lambda g: g.max().item()), mean_abs=stat(lambda g: g.mean().item()),
            l2=stat(lambda g: g.norm().item()))
