"""Neural tangent kernels of the loss terms (Wang, Yu & Perdikaris, J. Comput. Phys. 449, 2022).

For a loss term i with residual r_i (one value per point and residual column), its kernel on points x, x' is
K_ii(x, x') = <d r_i(x) / d theta, d r_i(x') / d theta>, theta all the network's parameters: K_ii = J_i J_i^T with
J_i the Jacobian of the term's residuals at its points. Its trace

    Tr K_ii = sum over the term's points x (and residual columns) of ||d r_i(x) / d theta||^2

sets how fast gradient descent drives that term's residual down (the paper's Section 4: in the NTK regime each
term decays at rates given by the eigenvalues of its block of K, and their sum is the trace).

The rows of J are per-point parameter gradients, computed with ``torch.func``: ``vmap`` over points of the
reverse-mode Jacobian (``jacrev``, a ``grad`` per residual column) of the residual at ONE point, so there is no
Python loop over points; points go through in chunks that bound the memory of the (points x parameters) block.
The residual's input derivatives come from the forward-mode jets (``pinncore.derivatives``, ``jet`` path),
whatever the run's derivative path (nested ``torch.autograd.grad`` does not compose with ``torch.func``);
both paths agree to round-off (tests/test_derivatives.py).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .derivatives import joint, joint_plan
from .fused import Compiled, compile_options

CHUNK_ENTRIES = 8_000_000  # (points x residual columns x parameters) entries of J held at once: 32 MB in float32


class TermResiduals(nn.Module):
    """The residual of a problem's term at ONE point as a module of the network: ``forward(x, box, term=i)`` -> (k,)
    for a point ``x`` (dim,) of the term's box ``box`` (a 0-d index)."""

    def __init__(self, model: nn.Module, terms: Sequence, inputs: tuple[str, ...], unknowns=None):
        super().__init__()
        self.model, self.terms, self.inputs = model, tuple(terms), inputs
        # the unknown coefficients' current values (constants here: the kernel is the network's), or None
        self._values = (lambda: {k: v.detach() for k, v in unknowns().items()}) if unknowns is not None else None
        for t in self.terms:  # build the jet plans now, not inside a transform
            joint_plan([t.needs], inputs)

    def rows(self, x: Tensor, term: int) -> Tensor:
        """The term's residuals at the rows of ``x`` (N, dim + its aux columns) -> (N, k)."""
        t = self.terms[term]
        coords, extra = t.split(x)
        d = joint(self.model, [(coords, t.needs)], self.inputs, "jet")[0]
        values = self._values() if t.unknowns and self._values is not None else None
        return t.residual(t.attach(d, extra, values))

    def forward(self, x: Tensor, box: Tensor, term: int) -> Tensor:
        """A ``pointwise`` term evaluates the point alone; one whose boxes have different residuals sees the point
        in every box's place, and the row of its own box is taken; a ``paired`` term's "point" is its rows that
        belong together (``subset``: a pair on opposite faces per periodic input), and its residuals are flattened."""
        t = self.terms[term]
        if t.paired:
            return self.rows(x, term).reshape(-1)
        if t.pointwise:
            return self.rows(x[None], term)[0]
        rows = self.rows(x[None].expand(t.groups, -1), term)
        return torch.index_select(rows, 0, box.reshape(1))[0]


def subset(points: Tensor, m: int, boxes: int = 1, paired: int = 0) -> tuple[Tensor, Tensor]:
    """``m`` of the rows, evenly spaced, and the box of each: a term's points are stacked box after box (edge
    after edge), so this draws from every box in proportion, deterministically. A ``paired`` term's rows are
    ``2 * paired`` blocks of n (a point and its partner, per block pair): its ``m`` "points" are (m, 2 * paired, dim),
    the i-th row of every block."""
    if paired:
        n = points.shape[0] // (2 * paired)
        idx = torch.arange(n, device=points.device) if m >= n else \
            torch.linspace(0, n - 1, m, device=points.device).round().long()
        groups = points[: 2 * paired * n].reshape(2 * paired, n, -1)[:, idx].transpose(0, 1).contiguous()
        return groups, torch.zeros(len(idx), dtype=torch.long, device=points.device)
    n = points.shape[0]
    idx = torch.arange(n, device=points.device) if m >= n else \
        torch.linspace(0, n - 1, m, device=points.device).round().long()
    return points[idx], torch.div(idx, max(n // boxes, 1), rounding_mode="floor")


class KernelProbe:
    """Per-point residual gradients of each term of one trainer's network, and what they give: the kernel
    traces (``traces``) and the kernel blocks and their eigenvalues (``spectra``).

    ``compiled``: ``traces`` runs as one compiled graph (``torch.compile`` of the same ``vmap``/``jacrev``
    computation, about 10x faster: 2.6 against 27.6 ms for Helmholtz 3x50, 128 points per term, 1 thread), built on
    its first call; where compilation fails it runs eagerly. A trainer with a compiled step and NTK weights uses it
    (its first step, an NTK update, compiles both); everything else runs eagerly."""

    def __init__(self, model: nn.Module, terms: Sequence, inputs: tuple[str, ...], compiled: bool = False,
                 unknowns=None):
        self.module = TermResiduals(model, terms, inputs, unknowns)
        self.names = [f"model.{n}" for n, _ in model.named_parameters()]
        self.model = model
        self.n_params = sum(p.numel() for p in model.parameters())
        self.compiled = compiled
        self._graph: Compiled | None = None

    def _jac_fn(self, term: int):
        """(params, points (n, dim), boxes (n,)) -> name -> (n, k, *shape): ``vmap`` over points of ``jacrev`` of
        the residual at one point."""
        def one(p: dict, xi: Tensor, bi: Tensor) -> Tensor:
            return torch.func.functional_call(self.module, p, (xi, bi), {"term": term})

        return torch.func.vmap(torch.func.jacrev(one), in_dims=(None, 0, 0))

    def blocks(self, x: Tensor, box: Tensor, term: int):
        """The per-point gradients of the term's residual at ``x`` (points of boxes ``box``), chunk by chunk: for
        each chunk of points, one dict parameter name -> (n, k, *shape), d r(x)_column / d theta."""
        params = {n: p.detach() for n, p in zip(self.names, self.model.parameters())}
        jac_fn, width = self._jac_fn(term), max(1, CHUNK_ENTRIES // max(self.n_params, 1))
        for xs, bs in zip(x.split(width), box.split(width)):
            yield jac_fn(params, xs, bs)

    def jacobian(self, x: Tensor, box: Tensor, term: int) -> Tensor:
        """J: (N * k, P), row (point, column) = d r(x)_column / d theta, all parameters flattened in order."""
        return torch.cat([torch.cat([j.reshape(j.shape[0] * j.shape[1], -1) for j in jac.values()], dim=1)
                          for jac in self.blocks(x, box, term)])

    def trace(self, x: Tensor, box: Tensor, term: int) -> float:
        """Tr K_ii = sum of ||d r(x) / d theta||^2 over these points (and residual columns), summed in float64
        block by block (J itself is never assembled)."""
        return float(sum(j.square().sum(dtype=torch.float64) for jac in self.blocks(x, box, term)
                         for j in jac.values()))

    @property
    def compile_seconds(self) -> float:
        """What compiling the traces' graph took (0 when it was not compiled, or failed)."""
        g = self._graph
        return g.seconds if g is not None and not g.failed and g.seconds else 0.0

    def traces(self, points: Sequence[Tensor], m: int) -> dict[str, float]:
        """Tr K_ii of every term on ``m`` of its points (``subset``)."""
        picked = [subset(x, m, t.groups, t.paired) for x, t in zip(points, self.module.terms)]
        names = [t.name for t in self.module.terms]
        if self.compiled:
            params = [p.detach() for p in self.model.parameters()]
            if self._graph is None:
                self._graph = Compiled(self._traces_graph, compile_options(params))
            out = self._graph(tuple(params), *(a for pair in picked for a in pair))
            if out is not None:
                return dict(zip(names, out.tolist()))
        return {name: self.trace(x, box, i) for i, (name, (x, box)) in enumerate(zip(names, picked))}

    def _traces_graph(self, params: tuple[Tensor, ...], *points_and_boxes: Tensor) -> Tensor:
        """The traces of every term as one function of the parameters, points and boxes (what ``Compiled``
        traces)."""
        with torch.no_grad():  # torch.func.jacrev differentiates inside; no autograd tape outside
            out, named = [], dict(zip(self.names, params))
            width = max(1, CHUNK_ENTRIES // max(self.n_params, 1))
            for i in range(len(points_and_boxes) // 2):
                x, box = points_and_boxes[2 * i], points_and_boxes[2 * i + 1]
                jac_fn = self._jac_fn(i)
                total = torch.zeros((), dtype=torch.float64, device=x.device)
                for xs, bs in zip(x.split(width), box.split(width)):
                    total = total + sum(j.square().sum(dtype=torch.float64) for j in jac_fn(named, xs, bs).values())
                out.append(total)
            return torch.stack(out)

    def spectra(self, points: Sequence[Tensor], m: int) -> tuple[dict[str, float], dict[str, np.ndarray], np.ndarray]:
        """On ``m`` points of each term: the traces Tr K_ii, and the eigenvalues (largest first, float64) of each
        term's block K_ii and of the whole kernel K = J J^T of all terms (the paper's spectral-bias picture,
        its Fig. 1-2); one Jacobian per term for all three."""
        terms = self.module.terms
        blocks = [self.jacobian(*subset(x, m, t.groups, t.paired), i).to(torch.float64)
                  for i, (x, t) in enumerate(zip(points, terms))]
        names = [t.name for t in terms]
        traces = {t: float(J.square().sum()) for t, J in zip(names, blocks)}
        per_term = {t: _eigenvalues(J @ J.T) for t, J in zip(names, blocks)}
        J = torch.cat(blocks)
        return traces, per_term, _eigenvalues(J @ J.T)


def _eigenvalues(K: Tensor) -> np.ndarray:
    """Eigenvalues of a symmetric positive semi-definite matrix, largest first (round-off negatives kept)."""
    return torch.linalg.eigvalsh(K).flip(0).cpu().numpy()
