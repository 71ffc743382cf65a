"""A checked spec's expressions compiled at fixed parameters, and its loss terms: box faces, a region's pieces,
data rows, and the periodic penalty.

``Compiled`` evaluates a list of expressions on a ``Derivatives`` object: the network's derivatives it reads
(``reads``), the inputs, and the names it reads from ``d.extra`` (``extras``: unknown coefficients, normals
``n_x``, observed columns). A term with several parts evaluates each on the rows of its own faces or pieces.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy
import torch
from torch import Tensor

from ..base import Term
from ..periodic import periodic_term
from ..pieces import DataRows, RegionBoundary, RegionInterior
from .extras import needs_slopes
from .files import data_rows
from .schema import Expression, Spec, SpecError
from .symbolic import Symbols, compile_columns


@dataclass(frozen=True)
class Compiled:
    """One expression list at fixed parameters: the jet reads and the column function."""

    reads: dict  # symbol name -> (output index, derivative letters)
    run: Callable[[dict], list]
    needs: tuple[str, ...]
    inputs: tuple[str, ...]  # the input names
    outputs: int
    extras: tuple[str, ...] = ()  # names read from d.extra

    def __call__(self, d, rows: slice | None = None) -> Tensor:
        env = {}
        for sym, (j, letters) in self.reads.items():
            t = d.u if not letters else d[letters]
            t = t if self.outputs == 1 else t[:, j:j + 1]
            env[sym] = t if rows is None else t[rows]
        for i, sym in enumerate(self.inputs):
            t = d.x[:, i:i + 1]
            env[sym] = t if rows is None else t[rows]
        for sym in self.extras:
            t = d.extra[sym]
            env[sym] = t if rows is None or t.shape[0] == 1 else t[rows]
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
    extras = tuple(sorted({s.name for ex in forms for s in ex.free_symbols if s.name in sym.extras}))
    return Compiled(reads, run, needs, sym.spec.inputs, len(sym.spec.outputs), extras)


def part_residual(parts: list[tuple[Compiled, int, int]], total: int):
    """The residual of a term: one compiled part, or several, each on the rows of its own boxes (pieces)."""
    if len(parts) == 1:
        return lambda d: parts[0][0](d)

    def residual(d) -> Tensor:
        n = d.x.shape[0] // total
        return torch.cat([c(d, slice(b0 * n, b1 * n)) for c, b0, b1 in parts], dim=0)
    return residual


def build_terms(spec: Spec, sym: Symbols) -> tuple[Term, ...]:
    """The spec's terms, in order, then the periodic penalty term when ``periodic_mode = "penalty"``."""
    terms = []
    for i, t in enumerate(spec.terms):
        parts, groups, needs, pieces = [], 0, set(), []
        for p in t.parts:
            c = compile_exprs(sym, list(p.residuals))
            size = len(p.boxes) or len(p.pieces) or 1
            parts.append((c, groups, groups + size))
            groups += size
            needs.update(c.needs)
            pieces.extend(_pieces(spec, p, normals=any(n in c.extras for n in spec.normals())))
        residual = part_residual(parts, groups)
        extras = {n for c, _, _ in parts for n in c.extras}
        unknowns = tuple(u for u in spec.unknowns if u.name in extras)
        if t.data is not None:
            points, observed = data_rows(spec, i)
            pieces = [DataRows(points, observed, t.data.observed, label=f"data: {t.data.file}")]
        boxes = tuple(b for p in t.parts for b in p.boxes)
        aux = tuple(dict.fromkeys(a for piece in pieces for a in piece.aux))
        terms.append(Term(t.name, boxes, residual, tuple(sorted(needs)), spec.inputs, t.columns,
                          pointwise=len(parts) == 1, pieces=tuple(pieces), aux=aux, unknowns=unknowns))
    if spec.periodic is not None and spec.periodic.mode == "penalty":
        slopes = spec.periodic.derivatives
        if slopes is None:
            slopes = needs_slopes(spec.periodic.inputs, {n for t in terms for n in t.needs})
        terms.append(periodic_term(spec.inputs, spec.box, spec.periodic.inputs, slopes))
    return tuple(terms)


def _pieces(spec: Spec, part, normals: bool) -> list:
    """A part's region pieces; boundary points carry their normals where the residual reads them."""
    if not part.pieces:
        return []
    rs = spec.region
    return [RegionInterior(rs.region, rs.order) if name == "interior"
            else RegionBoundary(rs.region, name, rs.order, spec.inputs if normals else ()) for name in part.pieces]


def latex(spec: Spec, e: Expression) -> str:
    """LaTeX of an expression as written (parameters by name, derivatives as subscripts); its powers of numbers
    bounded as in ``build`` (with a parameter by name, not by value, a number may grow where it did not)."""
    from .bounds import Sizes, check_power
    from .expr import to_sympy
    from .locate import locate

    sizes = Sizes()

    def guard(kind, value, *operands):
        why = check_power(sizes, *operands) if value is None else None
        if why:
            raise SpecError(e.path, why, locate(spec.text, e.path))
    return sympy.latex(to_sympy(e.tree, sympy.Symbol, guard))
