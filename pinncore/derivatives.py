"""The derivatives a residual asks for, by name, from one of two interchangeable paths.

A problem's residual receives a ``Derivatives`` object: ``d.x`` the raw points, ``d.u`` the network output
(N, outputs) and ``d["xx"]``, ``d["xyy"]``, ... its partial derivatives named by input letters (for inputs
("t", "x"), ``d["tt"]`` is d^2 u / dt^2). Each term declares the names it needs, so only those are computed.

* ``jet`` (default, fast): forward-mode propagation through the network (``pinncore.jets``), written once per
  model family; needs a ``Network``.
* ``autograd`` (reference): nested ``torch.autograd.grad``, for any differentiable callable (the closed-form
  solutions in the tests, too). Tests check both agree to float32 round-off on every problem and model.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import Tensor

from .jets import JetPlan, Key, closure, plan_for

METHODS = ("jet", "autograd")
_PARSED: dict[tuple[str, tuple[str, ...]], Key] = {}


def parse(name: str, inputs: tuple[str, ...]) -> Key:
    """'xyy' -> (0, 1, 1) for inputs ('x', 'y'). Cached (a plain dict, which torch.compile traces quietly):
    residuals look names up at every step."""
    key = _PARSED.get((name, inputs))
    if key is None:
        try:
            key = _PARSED[(name, inputs)] = tuple(sorted(inputs.index(ch) for ch in name))
        except ValueError:
            raise ValueError(f"derivative '{name}' names an input not in {inputs}") from None
    return key


class Derivatives:
    """Output derivatives at ``x``, each (N, outputs); ``d.u`` is the value, ``d["xy"]`` a partial. ``d.extra``:
    named columns (N, 1) or scalars (1, 1) a residual may read besides them: the outward normals of boundary
    points (``n_x``), the observed values of a data term, the problem's unknown coefficients."""

    extra: dict[str, Tensor] = {}  # (read only; a term that has extras sets its own)

    def __init__(self, x: Tensor, inputs: tuple[str, ...], table: dict[Key, Tensor],
                 extra: dict[str, Tensor] | None = None):
        self.x, self.inputs, self.table = x, inputs, table
        if extra is not None:
            self.extra = extra

    @property
    def u(self) -> Tensor:
        return self.table[()]

    def __getitem__(self, name: str) -> Tensor:
        key = parse(name, self.inputs)
        if key not in self.table:
            raise KeyError(f"derivative '{name}' was not requested by this term")
        return self.table[key]


def compute(u: Callable[[Tensor], Tensor], x: Tensor, names: Iterable[str], inputs: tuple[str, ...],
            method: str = "jet") -> Derivatives:
    """Evaluate ``u`` and the named derivatives at the raw points ``x`` (N, dim)."""
    keys = tuple(parse(n, inputs) for n in names)
    if not any(keys):
        return Derivatives(x, inputs, {(): u(x)})
    if method == "jet" and hasattr(u, "forward_jet"):
        plan = plan_for(keys)
        return Derivatives(x, inputs, plan.unpack(u.forward_jet(plan, x), plan.row_counts(x.shape[0])))
    if method not in METHODS:
        raise ValueError(f"unknown derivative method '{method}'; allowed: {', '.join(METHODS)}")
    return Derivatives(x, inputs, by_autograd(u, x, keys))


def joint(u: Callable[[Tensor], Tensor], requests: list[tuple[Tensor, tuple[str, ...]]],
          inputs: tuple[str, ...], method: str = "jet") -> list[Derivatives]:
    """``compute`` for several (points, names) requests -- the terms of a loss -- in ONE forward pass.

    With jets, the points of all requests are stacked, highest derivative order first; each order is carried
    for the rows of the requests that need it (or a higher one) only, the keys of that order being the union
    of the requested ones (closed under sub-derivatives), and rows that need no derivative get the value
    alone. Each request then reads its own rows. The parameter gradient of any one term is an ordinary
    backward pass through the shared graph (``retain_graph`` between terms). The autograd path computes
    request by request.
    """
    if method != "jet" or not hasattr(u, "forward_jet"):
        return [compute(u, x, names, inputs, method) for x, names in requests]
    keys = [tuple(parse(n, inputs) for n in names) for _, names in requests]
    top = [max([len(k) for k in ks] + [0]) for ks in keys]
    if (max(top) == 0 or not any(x.shape[0] for (x, _), t in zip(requests, top) if t)) \
            and not torch.compiler.is_compiling():  # compiled, values go through the jet path's products too
        values = u(torch.cat([x for x, _ in requests]) if len(requests) > 1 else requests[0][0])
        sizes = [x.shape[0] for x, _ in requests]
        return [Derivatives(x, inputs, {(): v}) for (x, _), v in zip(requests, values.split(sizes))]
    plan = plan_for(tuple(k for ks in keys for k in ks))
    order = sorted(range(len(requests)), key=lambda i: -top[i])  # highest order first (stable)
    sizes = [requests[i][0].shape[0] for i in order]
    rows = [sum(s for i, s in zip(order, sizes) if top[i] >= n) for n in range(1, plan.max_order + 1)]
    x_all = torch.cat([requests[i][0] for i in order])
    counts = plan.row_counts(x_all.shape[0], rows)
    table = plan.unpack(u.forward_jet(plan, x_all, rows), counts)
    out: list[Derivatives | None] = [None] * len(requests)
    start = 0
    for i, size in zip(order, sizes):
        sl = slice(start, start + size)
        # the keys of every order carried this far (the request's own keys among them)
        out[i] = Derivatives(requests[i][0], inputs,
                             {k: t[sl] for k, t in table.items() if counts[len(k)] >= sl.stop})
        start += size
    return out


def joint_plan(needs: Iterable[tuple[str, ...]], inputs: tuple[str, ...]) -> JetPlan:
    """The jet plan ``joint`` uses for terms with these ``needs`` (to build it ahead, e.g. before tracing)."""
    return plan_for(tuple(parse(n, inputs) for names in needs for n in names))


def by_autograd(u: Callable[[Tensor], Tensor], x: Tensor, keys: Iterable[Key]) -> dict[Key, Tensor]:
    """The reference path: every key of the closure by nested autograd, one backward pass per (output, prefix).

    The graph is kept (``create_graph``) so the result can be back-propagated to the parameters.
    """
    x = x if x.requires_grad else x.detach().requires_grad_(True)
    out = u(x)
    table: dict[Key, list[Tensor]] = {(): [out[:, c:c + 1] for c in range(out.shape[1])]}
    for key in closure(keys):
        if not key or key in table:
            continue
        parent = key[:-1]
        # keys are sorted, so the parent (one order lower) is in the closure and already computed
        cols = []
        for y in table[parent]:
            g = torch.autograd.grad(y, x, torch.ones_like(y), create_graph=True)[0]
            cols.append(g)
        for j in range(x.shape[1]):
            child = tuple(sorted(parent + (j,)))
            if child not in table:
                table[child] = [g[:, j:j + 1] for g in cols]
    return {k: torch.cat(v, dim=1) for k, v in table.items()}
