"""A checked ``Spec`` -> an ordinary ``Problem`` subclass whose ``Term``s ask for the derivatives they read.

``problem_class(text)`` builds (and caches, refusals too: ``memo``) the class; instances take the spec's
parameters like any built-in problem. Per parameter values the residuals are derived and compiled once
(``symbolic``, every size bounded before sympy works: ``bounds``) and probed: each term's residual on sampled
points with a small random network, and the reference on a coarse grid, must be finite.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import sympy
import torch
from torch import Tensor

from ..base import Param, Problem, Term
from .locate import locate
from .memo import remember
from .schema import Expression, Spec, SpecError, read
from .symbolic import Symbols, compile_columns

PROBE_POINTS = 64


@dataclass(frozen=True)
class Compiled:
    """One expression list at fixed parameters: the jet reads and the column function."""

    reads: dict  # symbol name -> (output index, derivative letters)
    run: Callable[[dict], list]
    needs: tuple[str, ...]
    inputs: tuple[str, ...]  # the input names
    outputs: int

    def __call__(self, d, rows: slice | None = None) -> Tensor:
        env = {}
        for sym, (j, letters) in self.reads.items():
            t = d.u if not letters else d[letters]
            t = t if self.outputs == 1 else t[:, j:j + 1]
            env[sym] = t if rows is None else t[rows]
        for i, sym in enumerate(self.inputs):
            t = d.x[:, i:i + 1]
            env[sym] = t if rows is None else t[rows]
        cols = self.run(env)
        n = d.x.shape[0] if rows is None else rows.stop - rows.start
        cols = [torch.full((n, 1), c, dtype=d.x.dtype, device=d.x.device) if isinstance(c, float) else c
                for c in cols]
        return cols[0] if len(cols) == 1 else torch.cat(cols, dim=1)


def compile_exprs(sym: Symbols, exprs: list[Expression], network: bool = True, exact: bool = False) -> Compiled:
    forms, reads = [], {}
    for e in exprs:
        ex = sym.derive(e, exact=exact)
        ex, r = sym.network_form(ex, e)
        if network and not r:
            sym.fail(e, "does not depend on the network's outputs (nothing to train)")
        forms.append(ex)
        reads.update({k.name: v for k, v in r.items()})
    first = exprs[0]
    run = compile_columns(forms, lambda msg: sym.fail(first, msg))
    needs = tuple(sorted({letters for _, letters in reads.values() if letters}))
    return Compiled(reads, run, needs, sym.spec.inputs, len(sym.spec.outputs))


def part_residual(parts: list[tuple[Compiled, int, int]], total: int):
    """The residual of a term: one compiled part, or several, each on the rows of its own boxes."""
    if len(parts) == 1:
        return lambda d: parts[0][0](d)

    def residual(d) -> Tensor:
        n = d.x.shape[0] // total
        return torch.cat([c(d, slice(b0 * n, b1 * n)) for c, b0, b1 in parts], dim=0)
    return residual


@dataclass(frozen=True)
class Built:
    terms: tuple[Term, ...]
    quantity: Compiled
    exact: Compiled | None
    reference: Compiled | None


def build(spec: Spec, values: dict[str, float]) -> Built:
    sym = Symbols(spec, values)
    terms = []
    for t in spec.terms:
        parts, boxes, needs = [], [], set()
        for p in t.parts:
            c = compile_exprs(sym, list(p.residuals))
            parts.append((c, len(boxes), len(boxes) + len(p.boxes)))
            boxes.extend(p.boxes)
            needs.update(c.needs)
        terms.append(Term(t.name, tuple(boxes), part_residual(parts, len(boxes)), tuple(sorted(needs)),
                          spec.inputs, t.columns, pointwise=len(parts) == 1))
    quantity = compile_exprs(sym, [spec.quantity])
    exact = reference = None
    if spec.solution:
        exact = compile_exprs(sym, [e for _, e in spec.solution], network=False)
        reference = compile_exprs(sym, [spec.quantity], network=False, exact=True)
    return Built(tuple(terms), quantity, exact, reference)


class SpecProblem(Problem):
    """Base of the classes ``problem_class`` makes; ``spec`` is the checked spec."""

    spec: Spec

    def __init__(self, **values: float):
        super().__init__(**values)
        self._built = _build_cached(self.spec.text, tuple(self.values.items()))

    def terms(self) -> tuple[Term, ...]:
        return self._built.terms

    def evaluate(self, d) -> Tensor:
        return self._built.quantity(d)[:, 0]

    def exact(self, x: Tensor) -> Tensor:
        if self._built.exact is None:
            raise NotImplementedError(f"{self.name} has no closed-form solution")
        return self._built.exact(_Points(x))

    def reference(self, points: np.ndarray) -> np.ndarray:
        if self.spec.reference is not None:
            return external_reference(self.spec, self.values, points)
        return self._built.reference(_Points(torch.as_tensor(points, dtype=torch.float64)))[:, 0].numpy()


class _Points:
    """Stands in for ``Derivatives`` where only the points are read (the closed form)."""

    def __init__(self, x: Tensor):
        self.x = x


@remember(maxsize=64)
def read_cached(text: str) -> Spec:
    return read(text)


@remember(maxsize=64)
def _build_cached(text: str, values: tuple) -> Built:
    spec = read_cached(text)
    built = build(spec, dict(values))
    probe(spec, built, dict(values))
    return built


@remember(maxsize=64)
def problem_class(text: str) -> type[SpecProblem]:
    """The ``Problem`` subclass of a spec text (checked; SpecError on the first problem)."""
    spec = read_cached(text)
    for p in spec.params:  # a problem instance carries its parameters as attributes
        if hasattr(SpecProblem, p.name):
            raise SpecError(f"params.{p.name}", f"'{p.name}' is reserved (an attribute of every problem)",
                            locate(text, f"params.{p.name}"))
    if spec.reference is None and not spec.solution:
        raise SpecError("evaluate.reference", "a spec needs a solution or a reference field to evaluate against")
    attrs = dict(spec=spec, name=spec.name, title=spec.title, inputs=spec.inputs, outputs=spec.outputs,
                 domain=spec.domain, quantity=spec.label, time=spec.time,
                 params=tuple(Param(p.name, p.default, p.low, p.high, p.help) for p in spec.params),
                 __doc__=spec.description or spec.title)
    cls = type(f"SpecProblem[{spec.name}]", (SpecProblem,), attrs)
    defaults = {p.name: p.default for p in spec.params}
    cls.eval_needs = _build_cached(text, tuple(defaults.items())).quantity.needs  # also probes the defaults
    return cls


def probe(spec: Spec, built: Built, values: dict) -> None:
    """Every residual finite at sampled points for a small random network; the reference finite on a grid."""
    from ...derivatives import compute
    from ...models import make_model

    lo = np.array([d[0] for d in spec.domain])
    hi = np.array([d[1] for d in spec.domain])
    net = make_model("mlp", len(spec.inputs), len(spec.outputs), depth=2, width=16, activation="tanh",
                     mean=(lo + hi) / 2, std=(hi - lo) / 12**0.5, seed=0).double()
    gen = torch.Generator().manual_seed(0)
    for t, term in zip(spec.terms, built.terms):
        x = term.sample(PROBE_POINTS, gen, torch.float64)
        with torch.enable_grad():
            r = term.residual(compute(net, x, term.needs, spec.inputs)).detach()
        bad = ~torch.isfinite(r).all(dim=1)
        if bad.any():
            box = int(bad.nonzero()[0, 0]) // PROBE_POINTS
            part = next(p for p, b in _part_boxes(t) if box < b)
            where = ", ".join(f"{n}={v:.4g}" for n, v in zip(spec.inputs, x[bad][0].tolist()))
            e = part.residuals[0]
            raise SpecError(e.path, f"is not finite at {int(bad.sum())} of {x.shape[0]} sampled points, e.g. "
                                    f"({where})", locate(spec.text, e.path))
    if built.reference is not None:
        pts = np.stack([m.ravel() for m in np.meshgrid(*[np.linspace(a, b, 11) for a, b in spec.domain])], 1)
        ref = built.reference(_Points(torch.as_tensor(pts, dtype=torch.float64)))
        if not torch.isfinite(ref).all():
            raise SpecError("solution", "the reference quantity is not finite everywhere on the domain",
                            locate(spec.text, "solution"))


def _part_boxes(t):
    end = 0
    for p in t.parts:
        end += len(p.boxes)
        yield p, end


def external_reference(spec: Spec, values: dict, points: np.ndarray) -> np.ndarray:
    """A registered reference (``evaluate.reference = "lid-driven-cavity"``) or a grid file (.npz): one array
    per input (its ascending axis, named by the input) and ``values`` shaped by those axes, linearly
    interpolated."""
    from ..references import REFERENCES

    name = spec.reference
    if not name.endswith(".npz"):
        if name not in REFERENCES:
            raise SpecError("evaluate.reference", f"unknown reference {name!r}; registered: "
                            f"{', '.join(REFERENCES) or 'none'} (or a .npz file)")
        return np.asarray(REFERENCES[name](values, points), dtype=np.float64)
    return _grid_file(Path(name).expanduser(), spec.inputs, points)


def _grid_file(path: Path, inputs, points: np.ndarray) -> np.ndarray:
    from scipy.interpolate import RegularGridInterpolator

    if not path.is_file():
        raise SpecError("evaluate.reference", f"no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            axes = [np.asarray(f[n], dtype=np.float64) for n in inputs]
            vals = np.asarray(f["values"], dtype=np.float64)
    except (KeyError, ValueError, OSError) as exc:
        raise SpecError("evaluate.reference", f"{path}: needs arrays {', '.join(inputs)} and values ({exc})") \
            from None
    if vals.shape != tuple(len(a) for a in axes):
        raise SpecError("evaluate.reference", f"{path}: values has shape {vals.shape}, the axes "
                                              f"{tuple(len(a) for a in axes)}")
    interp = RegularGridInterpolator(axes, vals, bounds_error=False, fill_value=None)
    return interp(points)


def latex(spec: Spec, e: Expression) -> str:
    """LaTeX of an expression as written (parameters by name, derivatives as subscripts); its powers of numbers
    bounded as in ``build`` (with a parameter by name, not by value, a number may grow where it did not)."""
    from .bounds import Sizes, check_power
    from .expr import to_sympy

    sizes = Sizes()

    def guard(kind, value, *operands):
        why = check_power(sizes, *operands) if value is None else None
        if why:
            raise SpecError(e.path, why, locate(spec.text, e.path))
    return sympy.latex(to_sympy(e.tree, sympy.Symbol, guard))
