"""Forward-mode (Taylor) propagation of input derivatives through a network: the fast derivative path.

A PDE residual needs a few derivatives of the network's output with respect to its inputs (u_xx and u_yy for
Helmholtz; up to third order of the stream function for the cavity). Nested ``torch.autograd.grad`` builds one
double-backward graph per derivative; here the derivatives are carried forward with the value instead, layer by
layer, and the parameter gradient is an ordinary backward pass through that forward computation.

A jet holds, for every multi-index ``key`` of a closed set (a key is a sorted tuple of input positions, ``()``
the value, ``(0, 0, 1)`` = d^3 / dx0^2 dx1), the derivative of every unit: a list with the value (N, width) at
index 0 and, at index n, the keys of order n stacked, (K_n, N, width); ``None`` stands for zero (the input's
derivatives of order >= 2). The three operations a network needs:

* affine map  h W^T + b:  every derivative is mapped by W^T, only the value gets b (one matmul per order);
* elementwise activation  phi(a):  Faa di Bruno's formula, D^alpha phi(a) = sum over the set partitions P of the
  positions of alpha of phi^(|P|)(a) * prod_{B in P} D^{alpha_B} a;
* product  Z * D  (the modified MLP's gates):  Leibniz, D^alpha (Z D) = sum_{S subset of positions}
  D^{alpha_S} Z * D^{alpha_not S} D.

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
        t = jet[self.order]
        if self.order == 0:
            return t if t.shape[0] == rows else t[:rows]
        if t is None or self.whole:
            return t
        if self.slice is not None:
            return t[self.slice]
        if self.tensor.device != t.device:
            self.tensor = self.tensor.to(t.device)
        return t.index_select(0, self.tensor)


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

    # -- the three operations ---------------------------------------------------------------------------------
    def seed(self, x: Tensor, std: Tensor, rows: int | None = None) -> Jet:
        """The jet of the standardised input x (N, dim): d x_j / d (raw x_i) = delta_ij / std_i; order >= 2: 0.

        Derivatives are carried for the first ``rows`` points only (default: all); the others get the value
        alone, so terms that need no derivative share the forward pass (``derivatives.joint``)."""
        rows = x.shape[0] if rows is None else rows
        jet: Jet = [x] + [None] * self.max_order
        if self.max_order >= 1:
            first = x.new_zeros((len(self.by_order[1]), 1, x.shape[1]))
            for row, (i,) in enumerate(self.by_order[1]):
                first[row, 0, i] = 1.0 / std.reshape(-1)[i]
            jet[1] = first.expand(-1, rows, -1)
        return jet

    def affine(self, jet: Jet, weight: Tensor, bias: Tensor | None) -> Jet:
        if torch.compiler.is_compiling():
            # one matrix product for all orders: inductor writes the producers straight into the stacked
            # buffer, so this saves calls (and their backward) for free; eager, the copy costs more than it saves
            parts = [t for t in jet if t is not None]
            flat = torch.cat([t.reshape(-1, t.shape[-1]) for t in parts]) @ weight.t()
            outs = iter(o.reshape(*t.shape[:-1], -1)
                        for o, t in zip(flat.split([t.numel() // t.shape[-1] for t in parts]), parts))
            out: Jet = [None if t is None else next(outs) for t in jet]
            if bias is not None:
                out[0] = out[0] + bias
            return out
        value = torch.nn.functional.linear(jet[0], weight, bias)
        return [value] + [None if t is None else t @ weight.t() for t in jet[1:]]

    @staticmethod
    def rows(jet: Jet) -> int:
        """How many leading points carry derivatives."""
        return next((t.shape[1] for t in jet[1:] if t is not None), jet[0].shape[0])

    def activation(self, jet: Jet, name: str) -> Jet:
        rows = self.rows(jet)
        phi = activation_derivatives(name, jet[0], self.max_order, rows)
        out: Jet = [phi[0]]
        for n in range(1, self.max_order + 1):
            acc = None
            for m, parts in self.faa[n].items():
                terms = None
                for gathers in parts:
                    prod = gathers[0].take(jet, rows)
                    for g in gathers[1:]:
                        prod = _mul(prod, g.take(jet, rows))
                    terms = _add(terms, prod)
                acc = _add(acc, _mul(phi[m], terms))
            out.append(acc)
        return out

    def product(self, z: Jet, d: Jet) -> Jet:
        rows = self.rows(z)
        out: Jet = [z[0] * d[0]]
        for n in range(1, self.max_order + 1):
            acc = None
            for gz, gd in self.leibniz[n]:
                acc = _add(acc, _mul(gz.take(z, rows), gd.take(d, rows)))
            out.append(acc)
        return out

    def add(self, a: Jet, b: Jet) -> Jet:
        return [_add(x, y) for x, y in zip(a, b)]

    def sub(self, a: Jet, b: Jet) -> Jet:
        return [_add(x, None if y is None else -y) for x, y in zip(a, b)]

    def unpack(self, jet: Jet) -> dict[Key, Tensor]:
        """key -> (rows, outputs) (the value: (N, outputs)); a derivative that is identically zero (a linear
        network) comes back as zeros."""
        rows = self.rows(jet)
        table = {(): jet[0]}
        for n in range(1, self.max_order + 1):
            stack, keys = jet[n], self.by_order[n]
            if stack is None:
                table.update({k: jet[0].new_zeros((rows, jet[0].shape[1])) for k in keys})
            else:
                table.update(zip(keys, stack.unbind(0)))
        return table


def activation_derivatives(name: str, a: Tensor, order: int, rows: int | None = None) -> list[Tensor]:
    """[phi(a), phi'(a[:rows]), ..., phi^(order)(a[:rows])] for the supported activations (order <= 3)."""
    if order > 3:
        raise ValueError(f"jets support derivatives up to order 3, got {order}")
    head = a if rows is None or rows == a.shape[0] else a[:rows]
    if name == "tanh":
        t = torch.tanh(a)
        if order == 0:
            return [t]
        th = t if head is a else t[:rows]
        d1 = 1 - th * th
        out = [t, d1, -2 * th * d1, d1 * (6 * th * th - 2)]
    elif name == "sin":
        s, c = torch.sin(a), torch.cos(head)
        sh = s if head is a else s[:rows]
        out = [s, c, -sh, -c]
    elif name == "gelu":  # x Phi(x): Phi + x phi, phi (2 - x^2), phi (x^3 - 4x)
        cdf = 0.5 * (1 + torch.erf(a / math.sqrt(2)))
        if order == 0:
            return [a * cdf]
        pdf = torch.exp(-0.5 * head * head) / SQRT_2PI
        ch = cdf if head is a else cdf[:rows]
        out = [a * cdf, ch + head * pdf, pdf * (2 - head * head), pdf * (head * head * head - 4 * head)]
    else:
        raise ValueError(f"no jet rule for activation '{name}'")
    return out[:order + 1]


_PLANS: dict[tuple[Key, ...], JetPlan] = {}


def plan_for(keys: tuple[Key, ...]) -> JetPlan:
    """One plan per requested key tuple, built (and closed) once: the training step only looks it up. A plain
    dict, which torch.compile traces without a warning."""
    if keys not in _PLANS:
        _PLANS[keys] = JetPlan(keys)
    return _PLANS[keys]
