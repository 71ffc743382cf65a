"""Spec expressions, symbolically: definitions and solutions differentiated by sympy (on the parsed tree only),
then compiled into torch functions of the network's derivatives.

A network output ``psi`` is the sympy function psi(x, y); a definition ``u = psi_y`` is its derivative, so
``u_x`` is diff(psi_y, x) = psi_xy; ``exact_xx`` is the second derivative of the closed form. After the
derivatives are taken, each psi-derivative becomes a plain symbol read from the jet table (``d["xy"]``), common
subexpressions are shared (``sympy.cse``) and the result is a chain of torch operations: no code is generated
from text, no ``lambdify``.
"""
from __future__ import annotations

import math
from typing import Callable

import sympy
import torch
from sympy.core.function import AppliedUndef
from torch import Tensor

from .bounds import MAX_BITS, OVERFLOW, NotDifferentiable, Sizes, check_power
from .expr import to_sympy
from .locate import locate
from .schema import MAX_ORDER, Expression, Spec, SpecError, normal_base, split_name

MAX_DERIVED = 3000  # nodes of one derivative
MAX_ESTIMATE = 2 * MAX_DERIVED  # nodes a derivative is estimated to have before sympy takes it
MAX_EXPANDED = 2 * MAX_DERIVED  # nodes of one expression (any part of it) with its definitions written out
MAX_TOTAL = 20_000  # nodes of all the expressions of a spec at one set of parameter values
MAX_NESTING = 160  # levels of one expression with its definitions written out (4 times what one may write)


class Symbols:
    """The sympy objects of one spec at fixed parameter values (exact rationals)."""

    def __init__(self, spec: Spec, values: dict[str, float]):
        self.spec = spec
        self.x = tuple(sympy.Symbol(n, real=True) for n in spec.inputs)
        self.values = {k: sympy.Rational(repr(float(v))) for k, v in values.items()}
        self.sizes = Sizes()
        self.spent = 0  # nodes of the expressions derived so far (MAX_TOTAL)
        self.funcs = {o: sympy.Function(o, real=True)(*self.x) for o in spec.outputs}
        # names read from the points' extra columns or the trained unknowns: plain symbols, never differentiated
        observed = {c for t in spec.terms if t.data is not None for c in t.data.observed}
        self.extras = {u.name for u in spec.unknowns} | set(spec.normals()) | observed
        self.space = spec.region.space if spec.region is not None else ()
        self.exact = {o: self.derive(e) for o, e in spec.solution}
        self.defs: dict[str, sympy.Expr] = {}
        self._exact_defs: dict[str, sympy.Expr] | None = None
        self._diffs: dict[tuple, sympy.Expr] = {}
        for k, e in spec.defines:
            self.defs[k] = self.derive(e)

    def fail(self, e: Expression, message: str):
        raise SpecError(e.path, message, locate(self.spec.text, e.path))

    def exact_defs(self) -> dict[str, sympy.Expr]:
        """The definitions with the closed-form solution in place of the network (for the reference)."""
        if self._exact_defs is None:
            self._exact_defs = {}
            for k, e in self.spec.defines:
                self._exact_defs[k] = self.derive(e, exact=True)
        return self._exact_defs

    def diff(self, key: tuple, target: sympy.Expr, suffix: str, e: Expression) -> sympy.Expr:
        """d^suffix target, one order at a time. Each derivative's size is estimated before sympy takes it and
        counted after: refused past MAX_ESTIMATE or MAX_DERIVED nodes (a product of many factors differentiated
        three times has thousands of terms; a chain of definitions doubles with each: hostile input must not keep
        sympy busy)."""
        for n in range(1, len(suffix) + 1):
            done = self._diffs.get((key, suffix[:n]))
            if done is None:
                x = self.x[self.spec.inputs.index(suffix[n - 1])]
                try:
                    guess = self.sizes.diff_size(target, x)
                except NotDifferentiable as exc:
                    self.fail(e, f"the derivative {key[1]}_{suffix[:n]}: {exc}")
                if guess > MAX_ESTIMATE:
                    self.fail(e, f"the derivative {key[1]}_{suffix[:n]} would have about {guess:,} terms and "
                                 f"operators (estimated before it is taken), more than {MAX_DERIVED}: write a "
                                 f"simpler expression")
                done = sympy.diff(target, x)
                size = self.sizes.size(done)
                if size > MAX_DERIVED:
                    self.fail(e, f"the derivative {key[1]}_{suffix[:n]} has {size} terms and operators, more than "
                                 f"{MAX_DERIVED}: write a simpler expression")
                self._diffs[(key, suffix[:n])] = done
            target = done
        return target

    def guard(self, e: Expression):
        """What ``to_sympy`` calls on every node of ``e``: its size and its numbers bounded while it is built."""
        def check(kind, value, *operands):
            if value is None:
                why = check_power(self.sizes, *operands)
                if why:
                    self.fail(e, why)
                return
            size = self.sizes.size(value)
            if size > MAX_EXPANDED:
                self.fail(e, f"has more than {MAX_EXPANDED} terms and operators with its definitions written out "
                             f"({size:,}): write a simpler expression or fewer nested definitions")
            if self.sizes.depth(value) > MAX_NESTING:
                self.fail(e, f"is nested more than {MAX_NESTING} levels deep with its definitions written out: write "
                             f"fewer nested definitions")
            if self.sizes.bits(value) > MAX_BITS:
                self.fail(e, f"makes a number of more than {MAX_BITS * 0.30103:.0f} digits: write smaller "
                             f"constants")
            known = self.sizes.value(value)
            if known is OVERFLOW:
                self.fail(e, "has a constant part beyond 1.8e308 or undefined in floating point (a power or "
                             "exponential of a large number?)")
            if known is not None and known.imag != 0:
                self.fail(e, f"the constant {_short(value)} is not a finite real number")
        return check

    def derive(self, e: Expression, exact: bool = False) -> sympy.Expr:
        """The sympy expression of ``e``; ``exact``: with the closed form in place of every network output."""
        def resolve(name: str):
            if name in self.values:
                return self.values[name]
            if name in self.spec.inputs:
                return self.x[self.spec.inputs.index(name)]
            if name in self.extras:
                return sympy.Symbol(name, real=True)
            normal = normal_base(name, self.spec)
            if normal is not None:  # n . grad over the spatial inputs
                target = resolve(normal)
                return sympy.Add(*[sympy.Symbol(f"n_{s}", real=True) * self.diff(self._key(normal, exact), target,
                                                                                  s, e) for s in self.space])
            base, suffix = (name, "") if "_" not in name else split_name(name, self.spec)
            key = self._key(base, exact)
            if base == "exact":
                target = self.exact[self.spec.outputs[0]]
            elif base in self.defs:
                target = (self.exact_defs() if exact else self.defs)[base]
            else:
                target = (self.exact if exact else self.funcs)[base]
            return self.diff(key, target, suffix, e) if suffix else target

        try:
            out = to_sympy(e.tree, resolve, self.guard(e))
        except SpecError:
            raise
        except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
            self.fail(e, f"cannot be formed ({type(exc).__name__})")
        if out.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            self.fail(e, "is infinite or undefined (a division by zero?)")
        self.spent += self.sizes.size(out)
        if self.spent > MAX_TOTAL:
            self.fail(e, f"brings the spec's expressions to more than {MAX_TOTAL} terms and operators in all (with "
                         f"their definitions written out): write fewer or simpler expressions")
        return out

    @staticmethod
    def _key(base: str, exact: bool) -> tuple:
        """The cache key of a base's derivatives: the closed form's, or the network's (or with ``exact`` in place
        of the network)."""
        return ("exact", base) if base == "exact" else (exact, base)

    def network_form(self, ex: sympy.Expr, e: Expression) -> tuple[sympy.Expr, dict[sympy.Symbol, tuple[int, str]]]:
        """``ex`` with every psi-derivative replaced by a symbol; symbol -> (output index, derivative letters)."""
        mapping, reads = {}, {}
        for atom in ex.atoms(sympy.Derivative, AppliedUndef):
            fn = atom.expr if isinstance(atom, sympy.Derivative) else atom
            out = type(fn).__name__
            if out not in self.funcs or fn != self.funcs[out]:
                self.fail(e, f"cannot differentiate {atom}")
            letters = ""
            if isinstance(atom, sympy.Derivative):
                for var, count in atom.variable_count:
                    letters += str(var) * int(count)
            letters = "".join(sorted(letters, key=self.spec.inputs.index))
            if len(letters) > MAX_ORDER:
                self.fail(e, f"needs the derivative {out}_{letters} of order {len(letters)} (through the "
                             f"definitions); at most {MAX_ORDER}")
            sym = sympy.Symbol(f"{out}_{letters}" if letters else out, real=True)
            mapping[atom] = sym
            reads[sym] = (self.spec.outputs.index(out), letters)
        # one pass, from the root down: a derivative is replaced whole, before psi(x, y) inside it is reached
        ex = ex.xreplace(mapping)
        return ex, reads


FUNCS: dict[type, Callable[[Tensor], Tensor]] = {
    sympy.sin: torch.sin, sympy.cos: torch.cos, sympy.tan: torch.tan, sympy.exp: torch.exp,
    sympy.log: torch.log, sympy.tanh: torch.tanh, sympy.sinh: torch.sinh, sympy.cosh: torch.cosh,
    sympy.Abs: torch.abs, sympy.sign: torch.sign,
}


def _short(node, limit: int = 60) -> str:
    text = str(node)
    return text if len(text) <= limit else text[:limit - 1] + "…"


class Compiler:
    """sympy expression -> a callable of an environment (symbol -> tensor), or a float for a constant."""

    def __init__(self, fail: Callable[[str], None]):
        self.fail = fail

    def constant(self, node) -> float:
        try:
            value = complex(node.evalf(30))
        except (TypeError, ValueError, OverflowError):
            self.fail(f"the constant {_short(node)} cannot be evaluated")
        if value.imag != 0 or not math.isfinite(value.real):
            self.fail(f"the constant {_short(node)} is not a finite real number")
        return value.real

    def __call__(self, node):
        if not node.free_symbols:
            return self.constant(node)
        if isinstance(node, sympy.Symbol):
            return lambda env, s=node.name: env[s]  # str keys: torch.compile traces the lookups
        if isinstance(node, sympy.Add):
            return self.add(node)
        if isinstance(node, sympy.Mul):
            return self.mul(node)
        if isinstance(node, sympy.Pow):
            return self.pow(node)
        fn = FUNCS.get(type(node))
        if fn is None or len(node.args) != 1:
            self.fail(f"{type(node).__name__} is not supported here (a derivative of abs or sign?)")
        arg = self(node.args[0])
        return lambda env: fn(arg(env))

    def add(self, node):
        parts = [self(a) for a in node.args]
        const = sum(p for p in parts if isinstance(p, float))
        fns = [p for p in parts if not isinstance(p, float)]

        def run(env):
            acc = fns[0](env)
            for f in fns[1:]:
                acc = acc + f(env)
            return acc + const if const else acc
        return run

    def mul(self, node):
        num, den, coef = [], [], 1.0
        for a in node.args:
            if isinstance(a, sympy.Pow) and a.exp.is_number and a.exp.is_negative and a.base.free_symbols:
                den.append(self(a.base ** -a.exp))
            else:
                p = self(a)
                if isinstance(p, float):
                    coef *= p
                else:
                    num.append(p)

        def run(env):
            acc = num[0](env) if num else None
            for f in num[1:]:
                acc = acc * f(env)
            if coef != 1.0:
                acc = coef * acc if acc is not None else coef
            if den:
                d = den[0](env)
                for f in den[1:]:
                    d = d * f(env)
                acc = (1.0 if acc is None else acc) / d
            return acc
        return run

    def pow(self, node):
        base, p = self(node.base), node.exp
        if not p.is_number:
            self.fail(f"the power {node} has a non-constant exponent")
        if p == sympy.Rational(1, 2):
            return lambda env: torch.sqrt(base(env))
        if p == sympy.Rational(-1, 2):
            return lambda env: torch.rsqrt(base(env))
        if p.is_integer:
            n = int(p)
            if n == 2:
                return lambda env: (lambda b: b * b)(base(env))
            return lambda env: base(env) ** n
        q = self.constant(p)
        return lambda env: base(env) ** q


def compile_columns(exprs: list[sympy.Expr], fail: Callable[[str], None]):
    """A function env (symbol name -> tensor) -> list of column tensors (N, 1) (floats for constant columns),
    sharing common subexpressions."""
    replacements, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("_cse"), optimizations=None,
                                      order="none")
    comp = Compiler(fail)
    consts, steps = {}, []
    for sym, ex in replacements:  # a constant subexpression is folded back into its users
        ex = ex.xreplace(consts)
        if ex.free_symbols:
            steps.append((sym.name, comp(ex)))
        else:
            consts[sym] = ex
    cols = [comp(ex.xreplace(consts)) for ex in reduced]

    def run(env: dict) -> list:
        env = dict(env)
        for sym, fn in steps:
            env[sym] = fn(env)
        return [c if isinstance(c, float) else c(env) for c in cols]
    return run
