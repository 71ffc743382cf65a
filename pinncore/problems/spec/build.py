"""A checked ``Spec`` -> an ordinary ``Problem`` subclass whose ``Term``s ask for the derivatives they read.

``problem_class(text)`` builds (and caches, refusals too: ``memo``) the class; instances take the spec's
parameters like any built-in problem. Per parameter values the residuals are derived and compiled once
(``symbolic``, every size bounded before sympy works: ``bounds``) and probed: each term's residual on sampled
points with a small random network, and the reference on a coarse grid, must be finite.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ...data import DataError
from ..base import Param, Problem, Term
from .files import GridReference, ScatteredReference, reference_of, spec_error
from .locate import locate
from .memo import remember
from .schema import Spec, SpecError, read
from .symbolic import Symbols
from .terms import Compiled, build_terms, compile_exprs, latex  # noqa: F401 - latex: re-exported

PROBE_POINTS = 64


@dataclass(frozen=True)
class Built:
    terms: tuple[Term, ...]
    quantity: Compiled
    exact: Compiled | None
    reference: Compiled | None


def build(spec: Spec, values: dict[str, float]) -> Built:
    sym = Symbols(spec, values)
    terms = build_terms(spec, sym)
    quantity = compile_exprs(sym, [spec.quantity])
    exact = reference = None
    if spec.solution:
        exact = compile_exprs(sym, [e for _, e in spec.solution], network=False)
        reference = compile_exprs(sym, [spec.quantity], network=False, exact=True)
    return Built(terms, quantity, exact, reference)


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
        if self.spec.ref is not None:
            return external_reference(self.spec, self.values, points)
        return self._built.reference(_Points(torch.as_tensor(points, dtype=torch.float64)))[:, 0].numpy()

    def scoring(self) -> tuple[np.ndarray, np.ndarray] | None:
        ref = reference_of(self.spec)
        return (ref.points, ref.values) if isinstance(ref, ScatteredReference) else None


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
                 domain=spec.box, quantity=spec.label, unknowns=spec.unknowns, time=spec.time,
                 params=tuple(Param(p.name, p.default, p.low, p.high, p.help) for p in spec.params),
                 __doc__=spec.description or spec.title)
    if spec.region is not None:
        attrs.update(region=spec.region.region, region_columns=spec.region.columns)
    if spec.periodic is not None and spec.periodic.mode == "embedding":
        attrs["periodic"] = {n: hi - lo for n, (lo, hi) in zip(spec.inputs, spec.domain) if n in spec.periodic.inputs}
    cls = type(f"SpecProblem[{spec.name}]", (SpecProblem,), attrs)
    defaults = {p.name: p.default for p in spec.params}
    cls.eval_needs = _build_cached(text, tuple(defaults.items())).quantity.needs  # also probes the defaults
    return cls


def probe(spec: Spec, built: Built, values: dict) -> None:
    """Every residual finite at sampled points for a small random network; the reference finite on a grid."""
    from ...derivatives import compute
    from ...models import make_model

    lo = np.array([d[0] for d in spec.box])
    hi = np.array([d[1] for d in spec.box])
    net = make_model("mlp", len(spec.inputs), len(spec.outputs), depth=2, width=16, activation="tanh",
                     mean=(lo + hi) / 2, std=(hi - lo) / 12**0.5, seed=0).double()
    gen = torch.Generator().manual_seed(0)
    for t, term in zip(spec.terms, built.terms):
        pts = term.sample(PROBE_POINTS, gen, torch.float64)
        x, extra = term.split(pts)
        with torch.enable_grad():
            r = term.residual(term.attach(compute(net, x, term.needs, spec.inputs), extra, None)).detach()
        bad = ~torch.isfinite(r).all(dim=1)
        if bad.any():
            group = int(bad.nonzero()[0, 0]) // PROBE_POINTS
            part = next((p for p, b in _part_groups(t) if group < b), t.parts[-1])
            where = ", ".join(f"{n}={v:.4g}" for n, v in zip(spec.inputs, x[bad][0].tolist()))
            e = part.residuals[0]
            raise SpecError(e.path, f"is not finite at {int(bad.sum())} of {x.shape[0]} sampled points, e.g. "
                                    f"({where})", locate(spec.text, e.path))
    if spec.ref is not None:
        check_reference(spec)
    if built.reference is not None:
        pts = np.stack([m.ravel() for m in np.meshgrid(*[np.linspace(a, b, 11) for a, b in spec.box])], 1)
        ref = built.reference(_Points(torch.as_tensor(pts, dtype=torch.float64)))
        if not torch.isfinite(ref).all():
            raise SpecError("solution", "the reference quantity is not finite everywhere on the domain",
                            locate(spec.text, "solution"))


def _part_groups(t):
    end = 0
    for p in t.parts:
        end += len(p.boxes) or len(p.pieces) or 1
        yield p, end


def check_reference(spec: Spec) -> None:
    """A registered reference exists; a reference file is read, checked and (scattered) triangulated."""
    from ..references import REFERENCES

    ref = reference_of(spec)
    if ref is None and spec.ref.name not in REFERENCES:
        raise SpecError("evaluate.reference", f"unknown reference {spec.ref.name[:60]!r}; registered: "
                        f"{', '.join(REFERENCES) or 'none'} (or a file: .npz, .csv, .txt, .dat)",
                        locate(spec.text, "evaluate.reference"))
    if isinstance(ref, ScatteredReference):
        try:
            ref.interpolant  # noqa: B018 - built (and cached) here: a degenerate point set is refused at once
        except DataError as exc:
            raise spec_error(spec, exc) from None


def external_reference(spec: Spec, values: dict, points: np.ndarray) -> np.ndarray:
    """A registered reference (``evaluate.reference = "lid-driven-cavity"``), a grid file (.npz: one array per
    input, its ascending axis, and ``values`` shaped by them; linear), or scattered points (``files``)."""
    from ..references import REFERENCES

    ref = reference_of(spec)
    if ref is None:
        check_reference(spec)
        return np.asarray(REFERENCES[spec.ref.name](values, points), dtype=np.float64)
    if isinstance(ref, GridReference):
        return ref(points)
    try:
        return ref.interpolant(points)
    except DataError as exc:
        raise spec_error(spec, exc) from None
