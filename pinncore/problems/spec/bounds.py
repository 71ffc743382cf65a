"""Sizes of sympy expressions, known before sympy does the expensive work.

sympy shares subexpressions: a definition ``w2 = "w1*sin(w1)"`` holds ``w1`` once, so building a chain of
definitions is cheap, but every walk over the result (``diff``, ``preorder_traversal``, ``has``, printing) visits
the expanded tree, which doubles with each link of the chain. Everything here is counted over the shared graph
instead (each distinct node once, memoised by identity, no recursion), so it costs as much as building did:

* ``size(ex)``: the nodes of the expanded tree, exactly ``len(list(preorder_traversal(ex)))``, and ``depth(ex)``;
* ``diff_size(ex, x)``: an estimate, before it is taken, of ``size(sympy.diff(ex, x))`` from the rules sympy
  differentiates by (the product rule copies every other factor once per factor, the chain rule copies the
  argument); it is an upper bound up to sympy's own folding (a number times a sum is distributed: at most about
  twice the estimate);
* ``bits(ex)``: the largest numerator or denominator of its exact numbers, in bits, so that a power of a large
  number (``((1e12^16)^16)^16``) is refused before sympy computes a number of millions of digits;
* ``value(ex)``: a constant's value in floating point, or OVERFLOW where a part of it is beyond float64: sympy
  evaluates constants numerically to sort and compare them, and ``exp(exp(exp(exp(100))))`` would take it
  hours; a constant with an imaginary part is refused as it is built, too.

With these, every expression of a spec and each of its derivatives is refused at the size limits before sympy is
asked to build it: the work for any spec is bounded by the limits, not by how the text nests.
"""
from __future__ import annotations

import cmath
import math

import sympy
from sympy.core.function import AppliedUndef

MAX_BITS = 2048  # of an exact number's numerator or denominator (float64 ends at 2^1024)
_FLOAT = {sympy.sin: cmath.sin, sympy.cos: cmath.cos, sympy.tan: cmath.tan, sympy.exp: cmath.exp,
          sympy.log: cmath.log, sympy.tanh: cmath.tanh, sympy.sinh: cmath.sinh, sympy.cosh: cmath.cosh,
          sympy.Abs: abs, sympy.sign: lambda z: z / abs(z) if z else 0j}
OVERFLOW = "overflow"
# what one more derivative adds to the size of the function it is taken of: f'(a) in place of f(a)
_OUTER = {sympy.sin: 0, sympy.cos: 2, sympy.tan: 4, sympy.exp: 0, sympy.log: 1, sympy.tanh: 6, sympy.sinh: 0,
          sympy.cosh: 0, sympy.Abs: 2, sympy.sign: 3}


class NotDifferentiable(ValueError):
    """sympy would differentiate this only through real and imaginary parts (``abs`` of an expression that may be
    complex, such as ``abs(sqrt(u_t))``): an expansion as large as it is useless, since re and im do not compile."""


class Sizes:
    """Memoised counts over the shared graph of sympy expressions (kept alive while memoised)."""

    def __init__(self):
        self._size: dict[int, tuple] = {}
        self._bits: dict[int, tuple] = {}
        self._deps: dict[int, tuple] = {}
        self._diff: dict[tuple, tuple] = {}
        self._value: dict[int, tuple] = {}
        self._depth: dict[int, tuple] = {}

    @staticmethod
    def _fold(memo: dict, key, ex, combine):
        """``combine(node, [values of node.args])`` over the graph below ``ex``, children first, each node once."""
        stack = [ex]
        while stack:
            node = stack[-1]
            k = key(node)
            if k in memo:
                stack.pop()
                continue
            pending = [a for a in node.args if key(a) not in memo]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            memo[k] = (node, combine(node, [memo[key(a)][1] for a in node.args]))
        return memo[key(ex)][1]

    def size(self, ex) -> int:
        """Nodes of the expanded tree (as ``preorder_traversal`` visits them)."""
        return self._fold(self._size, id, ex, lambda node, sizes: 1 + sum(sizes))

    def depth(self, ex) -> int:
        """Levels of nesting (a symbol: 1). sympy walks trees recursively and some of its checks on a function's
        argument walk the whole argument each time: their cost grows with the square of the depth."""
        return self._fold(self._depth, id, ex, lambda node, depths: 1 + max(depths, default=0))

    def bits(self, ex) -> int:
        """The largest numerator or denominator of an exact number in ``ex``, in bits."""
        def combine(node, below):
            here = max(int(node.p).bit_length(), int(node.q).bit_length()) if isinstance(node, sympy.Rational) else 0
            return max([here, *below])
        return self._fold(self._bits, id, ex, combine)

    def symbols(self, ex) -> frozenset:
        """The symbols ``ex`` depends on (a network output: its arguments)."""
        def combine(node, below):
            if isinstance(node, sympy.Symbol):
                return frozenset((node,))
            return frozenset().union(*below)
        return self._fold(self._deps, id, ex, combine)

    def value(self, ex):
        """The complex value of ``ex`` in floating point if it is a constant (None if not, or not known), OVERFLOW
        if it or a part of it is beyond float64 (evaluated bottom-up: a tower of exponentials stops at its first
        overflow)."""
        return self._fold(self._value, id, ex, _value)

    def diff_size(self, ex, x) -> int:
        """An estimate of ``size(sympy.diff(ex, x))`` (0 where ``ex`` does not depend on ``x``)."""
        memo = self._diff.setdefault(x, {})
        return self._fold(memo, id, ex, lambda node, d: self._diff_node(node, d, x))

    def _diff_node(self, node, d: list[int], x) -> int:
        if x not in self.symbols(node):
            return 0
        if isinstance(node, sympy.Symbol):
            return 1
        size = self.size(node)
        if isinstance(node, (AppliedUndef, sympy.Derivative)):
            return size + 4  # Derivative(u(x, t), (x, 1)): one more (variable, count) pair
        if isinstance(node, sympy.Add):
            return 1 + sum(d)
        if isinstance(node, sympy.Mul):  # sum over the factors of (the others times its derivative)
            sizes = [self.size(a) for a in node.args]
            total = sum(sizes)
            terms = [1 + total - s + di for s, di in zip(sizes, d) if di]
            return sum(terms) + (len(terms) > 1)
        if isinstance(node, sympy.Pow):  # b^e -> e * b^(e - 1) * b' (+ b^e * log(b) * e' for a variable e)
            base, exp = (self.size(a) for a in node.args)
            return 2 * (base + exp) + 6 + d[0] + (d[1] and 2 * size + base + 4 + d[1])
        if isinstance(node, sympy.Abs) and not (node.args[0].is_extended_real or node.args[0].is_imaginary):
            raise NotDifferentiable("abs() of an expression that may be complex cannot be differentiated (its "
                                    "derivative needs real and imaginary parts): write it without abs")
        if isinstance(node, sympy.Function) and len(node.args) == 1 and type(node) in _OUTER:
            return size + _OUTER[type(node)] + d[0] + 1  # f'(a) * a'
        return 3 * size + 10 + 2 * sum(d)  # anything else: generously


def _value(node, below: list):
    """The complex value of a constant node, None where unknown (a variable, an unusual function), OVERFLOW where
    it or a part of it is beyond float64."""
    if any(v is OVERFLOW for v in below):
        return OVERFLOW
    try:
        if isinstance(node, sympy.Rational):
            z = complex(int(node.p) / int(node.q))
        elif isinstance(node, sympy.NumberSymbol):
            z = complex(float(node))
        elif node is sympy.I:
            z = 1j
        elif any(v is None for v in below) or not below:
            return None
        elif isinstance(node, sympy.Add):
            z = sum(below)
        elif isinstance(node, sympy.Mul):
            z = math.prod(below)
        elif isinstance(node, sympy.Pow):
            z = below[0] ** below[1]
        elif type(node) in _FLOAT and len(below) == 1:
            z = complex(_FLOAT[type(node)](below[0]))
        else:
            return None
    except (OverflowError, ValueError):  # beyond float64, or undefined there (a domain error)
        return OVERFLOW
    except ZeroDivisionError:
        return None  # sympy's own zoo: "infinite or undefined" is said later
    return z if cmath.isfinite(z) else OVERFLOW


def check_power(sizes: Sizes, base, exponent) -> str | None:
    """Why ``base ** exponent`` may not be built (its exact numbers would grow too large), or None."""
    if not exponent.is_Number:
        return None
    grow = sizes.bits(base) * max(1, abs(int(sympy.ceiling(exponent))))
    if grow > MAX_BITS:
        return (f"a power makes a number of about {grow * 0.30103:.0f} digits (more than {MAX_BITS * 0.30103:.0f}): "
                f"write smaller constants or fewer nested powers")
    return None
