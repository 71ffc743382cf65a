"""Forward-mode (Taylor) propagation of input derivatives through a network: the fast derivative path.

A PDE residual needs a few derivatives of the network's output with respect to its inputs (u_xx and u_yy for
Helmholtz; up to third order of the stream function for the cavity). Nested ``torch.autograd.grad`` builds one
double-backward graph per derivative; here the derivatives are carried forward with the value instead, layer by
layer, and the parameter gradient is an ordinary backward pass through that forward computation.

A jet holds, for every multi-index ``key`` of a closed set (a key is a sorted tuple of input positions, ``()``
the value, ``(0, 0, 1)`` = d^3 / dx0^2 dx1), the derivative of every unit: a list with the value (N, width) at
index 0 and, at index n, the keys of order n stacked, (K_n, N, width); ``None`` stands for zero (the input's
derivatives of order >= 2). Each order carries its own number of leading points (``rows``, one count per
order, non-increasing): a term that needs first derivatives only (the cavity's walls) carries order 1 and no
higher order, so the third-order arithmetic runs on the residual's points alone. The three operations a network
needs:

* affine map  h W^T + b:  every derivative is mapped by W^T, only the value gets b (one matmul per order);
* elementwise activation  phi(a):  Faa di Bruno's formula, D^alpha phi(a) = sum over the set partitions P of the
  positions of alpha of phi^(|P|)(a) * prod_{B in P} D^{alpha_B} a;
* product  Z * D  (the modified MLP's gates):  Leibniz, D^alpha (Z D) = sum_{S subset of positions}
  D^{alpha_S} Z * D^{alpha_not S} D.

Input embeddings and factorised weights need nothing more (``pinncore.models``): random Fourier features and
the periodic embedding are an affine map of the standardised input followed by sin, cos(a) being sin(a + pi/2)
(``affine`` then ``activation(.., "sin")``, or ``compose`` with per-unit derivatives where some units pass
through unchanged), and a factorised layer's W = diag(exp(s)) V is an ordinary matrix to ``affine``, with the
parameter gradient carried on to s and V by the backward pass.

Each formula is applied to all keys of one order at once (gathered from that order's stack; a gather that takes
the whole stack in order is the stack itself), so the op count does not grow with the number of inputs.
``JetPlan`` precomputes the index lists once per key set.
"""
from __future__ import annotations

import math
from itertools import combinations
from typing import Iterable, Sequence

import torch
from torch import Tensor

Key = tuple[int, ...]
SQRT_2PI = math.sqrt(2 * math.pi)


def closure(keys: Iterable[Key]) -> tuple[Key, ...]:
    """Every sub-multi-index of ``keys`` (the value ``()`` included), ordered by order, then lexicographically."""
    out: set[Key] = {()}
    for key in keys:
        key = tuple(sorted(key))
        for n in range(1, len(key) + 1):
            out.update(tuple(key[i] for i in pos) for pos in combinations(range(len(key)), n))
    return tuple(sorted(out, key=lambda k: (len(k), k)))


def set_partitions(items: tuple[int, ...]) -> list[list[tuple[int, ...]]]:
    """All partitions of ``items`` into non-empty blocks."""
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    out = []
    for part in set_partitions(rest):
        out.append([(first,)] + part)
        for i in range(len(part)):
            out.append(part[:i] + [(first,) + part[i]] + part[i + 1:])
    return out


def _sub(key: Key, positions: Iterable[int]) -> Key:
    return tuple(sorted(key[i] for i in positions))


Jet = list  # [value (N, W), order-1 stack (K_1, N, W) or None, order-2 stack or None, ...]


class _Gather:
    """Keys of one order picked from that order's stack: the stack itself, a slice, or an index_select."""

    def __init__(self, order: int, idx: Sequence[int], size: int):
        idx = list(idx)
        self.order = order
        self.whole = order == 0 or idx == list(range(size))
        self.slice = self.tensor = None
        if not self.whole:
            if idx == list(range(idx[0], idx[0] + len(idx))):
                self.slice = slice(idx[0], idx[0] + len(idx))
            else:
                self.tensor = torch.tensor(idx)

    def take(self, jet: Jet, rows: int) -> Tensor | None:
        """The gathered keys, for the first ``rows`` points."""
        t = jet[self.order]
        if self.order == 0:
            return t if t.shape[0] == rows else t[:rows]
        if t is None:
            return t
        if t.shape[1] != rows:
            t = t[:, :rows]
        if self.whole:
            return t
        if self.slice is not None:
            return t[self.slice]
        if self.tensor.device != t.device:
            self.tensor = self.tensor.to(t.device)
        return t.index_select(0, self.tensor)


THIN = 4  # a product with at most this many inputs or outputs per row is written out (see ``thin_product``)


def thin_product(x: Tensor, weight: Tensor) -> Tensor:
    """``x @ weight.t()`` inside a compiled graph. A product with few inputs per row (a network's first layer:
    K = 2 coordinates) or few outputs (its last layer: one or two outputs) is a handful of multiply-adds per
    element, which inductor fuses into the kernels around it, forward and backward; as a matrix product it is a
    library call that does almost no arithmetic per call and, for these shapes, little per microsecond: measured
    in the compiled Helmholtz M1 step (1 thread, AMD EPYC), (1152, 1) x (1, 50) took 106 us, (50, 896) x (896, 2)
    145 us and (1152, 50) x (50, 1) 73 us, 13 % of the step between them."""
    n_out, n_in = weight.shape
    if n_in <= THIN:
        out = x[:, 0:1] * weight[:, 0]
        for k in range(1, n_in):
            out = out + x[:, k:k + 1] * weight[:, k]
        return out
    if n_out <= THIN:
        return torch.stack([(x * weight[j]).sum(-1) for j in range(n_out)], dim=-1)
    return x @ weight.t()


def _add(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    return b if a is None else a if b is None else a + b


def _mul(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    return None if a is None or b is None else a * b


class JetPlan:
    """Index bookkeeping for one closed key set: which stacks multiply which, order by order."""

    def __init__(self, keys: Iterable[Key]):
        self.keys = closure(keys)
        self.max_order = max(len(k) for k in self.keys)
        self.by_order = [[k for k in self.keys if len(k) == n] for n in range(self.max_order + 1)]
        pos = {k: self.by_order[len(k)].index(k) for k in self.keys}

        def gather(group: list[Key], positions) -> _Gather:
            subs = [_sub(k, positions) for k in group]
            n = len(subs[0])
            return _Gather(n, [pos[s] for s in subs], len(self.by_order[n]))

        # Faa di Bruno: per order n, per number of blocks m, the partitions, each a list of gathers (one per block)
        self.faa: dict[int, dict[int, list[list[_Gather]]]] = {}
        # Leibniz: per order n, (gather of Z, gather of D) for each subset of positions
        self.leibniz: dict[int, list[tuple[_Gather, _Gather]]] = {}
        for n in range(1, self.max_order + 1):
            group = self.by_order[n]
            by_blocks: dict[int, list[list[_Gather]]] = {}
            for part in set_partitions(tuple(range(n))):
                by_blocks.setdefault(len(part), []).append([gather(group, block) for block in part])
            self.faa[n] = by_blocks
            self.leibniz[n] = [(gather(group, s), gather(group, [i for i in range(n) if i not in s]))
                               for r in range(n + 1) for s in combinations(range(n), r)]

    # -- rows ---------------------------------------------------------------------------------------------------
    def row_counts(self, points: int, rows: int | Sequence[int] | None = None) -> tuple[int, ...]:
        """(points, rows of order 1, ..., rows of order max_order): how many leading points carry each order.
        ``rows``: None (every point, every order), one count for every order, or one count per order 1.. (a
        shorter list repeats its last count); counts must not grow with the order."""
        if rows is None:
            rows = points
        if isinstance(rows, int):
            rows = [rows]
        rows = [int(r) for r in rows][:self.max_order]
        if self.max_order:
            rows += [rows[-1] if rows else points] * (self.max_order - len(rows))
        counts = (points, *rows)
        if any(b > a for a, b in zip(counts, counts[1:])) or counts[-1] < 0:
            raise ValueError(f"rows per order must not grow with the order and fit {points} points, got {rows}")
        return counts

    # -- the three operations ---------------------------------------------------------------------------------
    def seed(self, x: Tensor, std: Tensor, rows: tuple[int, ...]) -> Jet:
        """The jet of the standardised input x (N, dim): d x_j / d (raw x_i) = delta_ij / std_i; order >= 2: 0.

        ``rows``: ``row_counts(N, ...)``; order n is carried for the first ``rows[n]`` points, so terms that need
        no derivative, or low orders only, share the forward pass (``derivatives.joint``)."""
        jet: Jet = [x] + [None] * self.max_order
        if self.max_order >= 1:
            first = x.new_zeros((len(self.by_order[1]), 1, x.shape[1]))
            for row, (i,) in enumerate(self.by_order[1]):
                first[row, 0, i] = 1.0 / std.reshape(-1)[i]
            jet[1] = first.expand(-1, rows[1], -1)
        return jet

    def affine(self, jet: Jet, weight: Tensor, bias: Tensor | None) -> Jet:
        if torch.compiler.is_compiling():
            # one matrix product for all orders: inductor writes the producers straight into the stacked
            # buffer, so this saves calls (and their backward) for free; eager, the copy costs more than it saves
            parts = [t for t in jet if t is not None]
            flat = thin_product(torch.cat([t.reshape(-1, t.shape[-1]) for t in parts]), weight)
            outs = iter(o.reshape(*t.shape[:-1], -1)
                        for o, t in zip(flat.split([t.numel() // t.shape[-1] for t in parts]), parts))
            out: Jet = [None if t is None else next(outs) for t in jet]
            if bias is not None:
                out[0] = out[0] + bias
            return out
        value = torch.nn.functional.linear(jet[0], weight, bias)
        return [value] + [None if t is None else t @ weight.t() for t in jet[1:]]

    def activation(self, jet: Jet, name: str, rows: tuple[int, ...]) -> Jet:
        return self.compose(jet, activation_derivatives(name, jet[0], self.max_order, rows), rows)

    def compose(self, jet: Jet, phi: Sequence[Tensor], rows: tuple[int, ...]) -> Jet:
        """An elementwise function of the jet's units, given its derivatives ``phi`` = [phi(a), phi'(a), ...,
        phi^(max_order)(a)] at the value a = ``jet[0]`` (phi^(m) on the first ``rows[m]`` points; a unit's phi
        may differ from its neighbour's, as in ``models.embeddings.PeriodicEmbedding``): Faa di Bruno."""
        out: Jet = [phi[0]]
        for n in range(1, self.max_order + 1):
            r, acc = rows[n], None
            for m, parts in self.faa[n].items():
                terms = None
                for gathers in parts:
                    prod = gathers[0].take(jet, r)
                    for g in gathers[1:]:
                        prod = _mul(prod, g.take(jet, r))
                    terms = _add(terms, prod)
                acc = _add(acc, _mul(phi[m] if phi[m].shape[0] == r else phi[m][:r], terms))
            out.append(acc)
        return out

    def product(self, z: Jet, d: Jet, rows: tuple[int, ...]) -> Jet:
        out: Jet = [z[0] * d[0]]
        for n in range(1, self.max_order + 1):
            acc = None
            for gz, gd in self.leibniz[n]:
                acc = _add(acc, _mul(gz.take(z, rows[n]), gd.take(d, rows[n])))
            out.append(acc)
        return out

    def add(self, a: Jet, b: Jet) -> Jet:
        return [_add(x, y) for x, y in zip(a, b)]

    def sub(self, a: Jet, b: Jet) -> Jet:
        return [_add(x, None if y is None else -y) for x, y in zip(a, b)]

    def unpack(self, jet: Jet, rows: tuple[int, ...]) -> dict[Key, Tensor]:
        """key -> (rows[order], outputs) (the value: (N, outputs)); a derivative that is identically zero (a
        linear network) comes back as zeros."""
        table = {(): jet[0]}
        for n in range(1, self.max_order + 1):
            stack, keys = jet[n], self.by_order[n]
            if stack is None:
                table.update({k: jet[0].new_zeros((rows[n], jet[0].shape[1])) for k in keys})
            else:
                table.update(zip(keys, stack.unbind(0)))
        return table


# tanh(x) = x P(s) / Q(s), s = x^2, for |x| <= TANH_CLAMP (beyond it tanh rounds to +-1 in float32): P of degree
# 6 and Q of degree 3 in s, fitted here (linearised least squares on the relative error, then Lawson reweighting
# towards minimax, against float64 tanh, in the variable s / TANH_CLAMP^2): 1.5e-9 relative error in exact
# arithmetic; evaluated in float32 (Horner, one division) within 5.5 ulp of the exact tanh (2.5 ulp for |x| < 1),
# measured on 4 million points in [-12, 12] and on 10^-30..20 of either sign, never beyond +-1. XLA's CPU tanh,
# which the JAX peer (benchmarks/jax_peer.py) runs, is a rational function of the same kind with the same clamp
TANH_CLAMP = 7.90531110763549805
TANH_P = (0.9999999984504799, 0.13127922830381875, 0.00315341129227507, 1.1686923883493033e-05,
          -2.2513839157172046e-08, 6.476341831637668e-11, -1.1904465980217846e-13)
TANH_Q = (1.0, 0.4646125455357651, 0.024690954381102654, 0.0002618980716193381)


def tanh(a: Tensor) -> Tensor:
    """torch.tanh; inside a compiled graph, in float32, the same function from cheaper operations, with the same
    gradient (float64 keeps torch.tanh: the approximation is exact to float32's precision only).

    Inductor's CPU kernels call SLEEF's tanh, which costs about 7x ATen's own (MKL) tanh: 190 against 28 us for
    96,000 floats on one core (Intel). Here tanh is a rational function of the clamped input, x P(x^2) / Q(x^2)
    (nine multiply-adds and a division, fused into the kernel that consumes it; no exponential), within 5.5 ulp of
    the exact tanh in float32 (SLEEF: 1.0, MKL: 0.57). Measured 2026-12-07 (AMD EPYC, 1 thread), a compiled tanh with its
    first two derivatives on 1152 x 150 floats, forward and gradient: 598 and 600 us against 1,072 and 1,204 us
    with the previous formula (an odd polynomial below |x| = 0.625 and (1 - E) / (1 + E), E = exp(-2|x|), above).
    The gradient is tanh's own, grad (1 - t^2) at the value t, as ``torch.tanh``'s backward computes it: the
    formula itself is not differentiated, and nothing but a product with zero (``a - a.detach()``) lies on the
    gradient's path."""
    if not torch.compiler.is_compiling() or a.dtype != torch.float32:  # the fit is exact to float32's precision
        return torch.tanh(a)
    a = a.clamp(-20.0, 20.0)  # tanh(20) is 1 in float32 and 1 - t^2 = 0 there, as clamp's gradient; inf - inf is not 0
    x = a.detach().clamp(-TANH_CLAMP, TANH_CLAMP)
    s = x * x
    num = TANH_P[-1]
    for c in reversed(TANH_P[:-1]):
        num = num * s + c
    den = TANH_Q[-1]
    for c in reversed(TANH_Q[:-1]):
        den = den * s + c
    t = torch.where(x.abs() < TANH_CLAMP, x * num / den, x.sign())  # +-1 exactly where float32's tanh is
    return t + (a - a.detach()) * (1 - t * t)  # the value t exactly, the derivative 1 - t^2


def activation_derivatives(name: str, a: Tensor, order: int, rows: Sequence[int] | int | None = None
                           ) -> list[Tensor]:
    """[phi(a), phi'(a), ..., phi^(order)(a)] for the supported activations (order <= 3), phi^(m) on the first
    ``rows[m]`` points only (``rows``: one count per order as ``JetPlan.row_counts`` gives, or one for all)."""
    if order > 3:
        raise ValueError(f"jets support derivatives up to order 3, got {order}")
    n = a.shape[0]
    if rows is None or isinstance(rows, int):
        rows = (n,) + (n if rows is None else rows,) * order
    head = lambda t, m: t if t.shape[0] == rows[m] else t[:rows[m]]  # noqa: E731
    if name == "tanh":
        t = tanh(a)
        if order == 0:
            return [t]
        th = head(t, 1)
        d1 = 1 - th * th
        out = [t, d1]
        if order >= 2:
            t2, d12 = head(th, 2), head(d1, 2)
            out.append(-2 * t2 * d12)
        if order >= 3:
            t3 = head(th, 3)
            out.append(head(d1, 3) * (6 * t3 * t3 - 2))
        return out
    if name == "sin":
        s = torch.sin(a)
        if order == 0:
            return [s]
        out = [s, torch.cos(head(a, 1))]
        if order >= 2:
            out.append(-head(s, 2))
        if order >= 3:
            out.append(-head(out[1], 3))
        return out
    if name == "gelu":  # x Phi(x): Phi + x phi, phi (2 - x^2), phi (x^3 - 4x)
        cdf = 0.5 * (1 + torch.erf(a / math.sqrt(2)))
        if order == 0:
            return [a * cdf]
        h = head(a, 1)
        pdf = torch.exp(-0.5 * h * h) / SQRT_2PI
        out = [a * cdf, head(cdf, 1) + h * pdf]
        if order >= 2:
            h2, p2 = head(h, 2), head(pdf, 2)
            out.append(p2 * (2 - h2 * h2))
        if order >= 3:
            h3, p3 = head(h, 3), head(pdf, 3)
            out.append(p3 * (h3 * h3 * h3 - 4 * h3))
        return out
    raise ValueError(f"no jet rule for activation '{name}'")


_PLANS: dict[tuple[Key, ...], JetPlan] = {}


def plan_for(keys: tuple[Key, ...]) -> JetPlan:
    """One plan per requested key tuple, built (and closed) once: the training step only looks it up. A plain
    dict, which torch.compile traces without a warning."""
    if keys not in _PLANS:
        _PLANS[keys] = JetPlan(keys)
    return _PLANS[keys]
