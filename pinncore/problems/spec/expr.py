"""Spec expressions: a small whitelisted grammar, tokenised and parsed by hand into a tuple tree.

Nothing of the user's text is ever given to ``eval``, ``exec``, Python's own parser or ``sympify``: the tokeniser
accepts numbers, names, ``+ - * / ^ **``, parentheses and commas, and anything else (quotes, dots after a name,
brackets, colons, ...) is an error at its column. The parser is recursive descent with an explicit depth bound,
so ten thousand nested parentheses end at depth ``MAX_DEPTH`` with an error rather than a RecursionError.

Grammar (``^`` and ``**`` are the same right-associative power; ``-x^2`` is ``-(x^2)``):

    expr    := product (('+' | '-') product)*
    product := unary (('*' | '/') unary)*
    unary   := ('+' | '-') unary | power
    power   := atom (('^' | '**') unary)?
    atom    := NUMBER | NAME | FUNCTION '(' expr ')' | '(' expr ')'

An exponent must be a constant (numbers and ``pi`` only) of magnitude at most ``MAX_EXPONENT``: ``9^9^9`` is
refused while folding ``9^9``. Trees are tuples: ``("num", value)``, ``("name", name)``, ``("neg", a)``,
``("+", a, b)`` (and ``- * /``), ``("^", a, b)``, ``("call", function, a)``.
"""
from __future__ import annotations

import math
import re

FUNCTIONS = ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sinh", "cosh", "abs")
CONSTANTS = {"pi": math.pi}
MAX_CHARS = 2000  # characters of one expression
MAX_NODES = 400  # tree nodes of one expression
MAX_DEPTH = 40  # nesting of parentheses, unary signs, powers and calls
MAX_EXPONENT = 16.0  # |p| in x^p
MAX_NUMBER = 1e12  # |literal|

_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                    r"|(?P<op>\*\*|[-+*/^(),]))")


class ExprError(ValueError):
    """A parse error at a 1-based column of the expression."""

    def __init__(self, message: str, column: int | None = None):
        self.message, self.column = message, column
        super().__init__(f"{message} (column {column})" if column else message)


def tokenize(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, column) triples, kind in num / name / op, ending with ("end", "", column)."""
    if not isinstance(text, str):
        raise ExprError(f"must be a string, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ExprError(f"longer than {MAX_CHARS} characters ({len(text)})")
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            bad = text[pos:].lstrip()[:1]
            col = len(text) - len(text[pos:].lstrip()) + 1
            raise ExprError(f"unexpected character {bad!r}", col)
        kind = m.lastgroup
        out.append((kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    out.append(("end", "", len(text) + 1))
    return out


class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.nodes = 0

    # -- helpers ------------------------------------------------------------------------------------------
    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, str, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, op: str) -> None:
        kind, text, col = self.take()
        if (kind, text) != ("op", op):
            found = "the end" if kind == "end" else repr(text)
            raise ExprError(f"expected {op!r}, found {found}", col)

    def node(self, *parts) -> tuple:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExprError(f"more than {MAX_NODES} terms and operators", self.peek()[2])
        return parts

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"nested deeper than {MAX_DEPTH} levels", self.peek()[2])

    # -- grammar ------------------------------------------------------------------------------------------
    def parse(self) -> tuple:
        tree = self.expr()
        kind, text, col = self.peek()
        if kind != "end":
            raise ExprError(f"unexpected {text!r}", col)
        return tree

    def expr(self) -> tuple:
        tree = self.product()
        while self.peek()[:2] in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            tree = self.node(op, tree, self.product())
        return tree

    def product(self) -> tuple:
        tree = self.unary()
        while self.peek()[:2] in (("op", "*"), ("op", "/")):
            op = self.take()[1]
            tree = self.node(op, tree, self.unary())
        return tree

    def unary(self) -> tuple:
        self.enter()
        try:
            if self.peek()[:2] == ("op", "-"):
                self.take()
                return self.node("neg", self.unary())
            if self.peek()[:2] == ("op", "+"):
                self.take()
                return self.unary()
            return self.power()
        finally:
            self.depth -= 1

    def power(self) -> tuple:
        base = self.atom()
        if self.peek()[:2] in (("op", "^"), ("op", "**")):
            col = self.take()[2]
            exponent = self.unary()
            value = constant_value(exponent, col)
            if value is None:
                raise ExprError("an exponent must be a constant number", col)
            if not abs(value) <= MAX_EXPONENT:
                raise ExprError(f"exponent {value:g} is out of range [-{MAX_EXPONENT:g}, {MAX_EXPONENT:g}]", col)
            return self.node("^", base, exponent)
        return base

    def atom(self) -> tuple:
        kind, text, col = self.take()
        if kind == "num":
            value = float(text)
            if not value <= MAX_NUMBER:
                raise ExprError(f"number {text} is larger than {MAX_NUMBER:g}", col)
            return self.node("num", value)
        if kind == "name":
            if text in FUNCTIONS:
                self.expect("(")
                arg = self.expr()
                self.expect(")")
                return self.node("call", text, arg)
            if self.peek()[:2] == ("op", "("):
                raise ExprError(f"unknown function {text!r}; allowed: {', '.join(FUNCTIONS)}", col)
            return self.node("name", text)
        if (kind, text) == ("op", "("):
            tree = self.expr()
            self.expect(")")
            return tree
        found = "the end of the expression" if kind == "end" else repr(text)
        raise ExprError(f"unexpected {found}", col)


def parse(text: str) -> tuple:
    """The tree of ``text``; ExprError (with a column) when it is not in the grammar or over a bound."""
    return _Parser(text).parse()


def constant_value(tree: tuple, column: int | None = None) -> float | None:
    """The value of a tree made of numbers, ``pi`` and operators only; None if it has any other name."""
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "name":
        return CONSTANTS.get(tree[1])
    args = [constant_value(t, column) for t in tree[2:]] if kind == "call" else \
        [constant_value(t, column) for t in tree[1:]]
    if any(a is None for a in args):
        return None
    try:
        if kind == "neg":
            return -args[0]
        if kind == "call":
            return float(getattr(math, "fabs" if tree[1] == "abs" else tree[1])(args[0]))
        a, b = args
        value = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
                 "^": lambda: a ** b}[kind]()
    except (OverflowError, ZeroDivisionError, ValueError):
        raise ExprError("a constant part cannot be evaluated (overflow, division by zero or a complex "
                        "power)", column) from None
    if isinstance(value, complex) or not math.isfinite(value):
        raise ExprError("a constant part is not a finite real number", column)
    return float(value)


def names(tree: tuple) -> set[str]:
    """Every name the tree reads (constants included)."""
    if tree[0] == "name":
        return {tree[1]}
    if tree[0] == "num":
        return set()
    children = tree[2:] if tree[0] == "call" else tree[1:]
    return set().union(*(names(t) for t in children))


def to_sympy(tree: tuple, resolve, guard=None):
    """The sympy expression of ``tree``; ``resolve(name)`` gives the sympy object of every non-constant name.
    (sympy runs on this tree, never on the user's text.) ``guard(kind, value, *operands)``, if given, sees every
    node: before a power is built (value None) and after each node is built; it raises to refuse."""
    import sympy

    def node(kind, value, *operands):
        if guard is not None:
            guard(kind, value, *operands)
        return value

    kind = tree[0]
    if kind == "num":
        v = tree[1]
        return sympy.Integer(int(v)) if v == int(v) else sympy.Rational(repr(v))
    if kind == "name":
        return node(kind, sympy.pi if tree[1] == "pi" else resolve(tree[1]))
    if kind == "call":
        fn = {"abs": sympy.Abs}.get(tree[1]) or getattr(sympy, tree[1])
        return node(kind, fn(to_sympy(tree[2], resolve, guard)))
    if kind == "neg":
        return node(kind, -to_sympy(tree[1], resolve, guard))
    a, b = to_sympy(tree[1], resolve, guard), to_sympy(tree[2], resolve, guard)
    if kind == "^":
        node("^", None, a, b)  # before sympy computes it: a power of a large number is a larger one
        return node(kind, a ** b)
    if kind == "+":
        return node(kind, a + b)
    if kind == "-":
        return node(kind, a - b)
    if kind == "*":
        return node(kind, a * b)
    return node(kind, a / b)
