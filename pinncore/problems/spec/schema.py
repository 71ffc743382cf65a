"""A problem spec (TOML, or the same as JSON), read and checked field by field into a ``Spec``.

Every error is a ``SpecError`` (a ``ConfigError``): one line that names the field (``terms[1].residual``), the
line of the spec it is on where it can be found, and what is wrong. The text is treated as hostile: size-bounded,
parsed by ``tomllib`` / ``json`` (data only), every expression by ``expr.parse`` (a whitelisted grammar). The
pieces: ``reader`` (types, paths, lines), ``fields`` (inputs, outputs, parameters, solution, terms), ``region``
(the ``[domain]`` table), ``extras`` (periodic inputs, unknowns, data and reference files).
"""
from __future__ import annotations

from dataclasses import dataclass

from ...unknowns import Unknown
from . import expr
from .extras import PeriodicSpec, ReferenceSpec, read_periodic, read_reference, read_unknowns
from .fields import read_inputs, read_outputs, read_params, read_solution, read_terms, read_time
from .reader import (MAX_DEFINES, MAX_ORDER, PROBLEM_NAME, RESERVED, TOP, Expression, ParamSpec, Part, Reader,
                     SpecError, TermSpec, load)
from .region import RegionSpec, read_domain

__all__ = ["MAX_ORDER", "Expression", "Part", "Spec", "SpecError", "TermSpec", "check_names", "load", "read",
           "split_name"]
NORMAL = "n"  # n_x: the outward normal's x component; u_n: the normal derivative (with a [domain])


@dataclass(frozen=True)
class Spec:
    text: str
    name: str
    title: str
    description: str
    inputs: tuple[str, ...]
    domain: tuple[tuple[float, float], ...]  # the inputs' ranges as written
    outputs: tuple[str, ...]
    params: tuple[ParamSpec, ...]
    defines: tuple[tuple[str, Expression], ...]
    solution: tuple[tuple[str, Expression], ...]  # (output, expression); () without a closed form
    terms: tuple[TermSpec, ...]
    quantity: Expression
    label: str
    reference: str | None  # as written (a registered name or a file), for display
    region: RegionSpec | None = None  # the [domain]
    periodic: PeriodicSpec | None = None
    unknowns: tuple[Unknown, ...] = ()
    ref: ReferenceSpec | None = None
    time: str | None = None  # the time input (causal weights), when declared; else an input named t is

    @property
    def box(self) -> tuple[tuple[float, float], ...]:
        """The box the problem lives in: the region's bounding box, or the inputs' ranges."""
        return self.region.box if self.region is not None else self.domain

    def normals(self) -> tuple[str, ...]:
        """The normal components a boundary residual may read: n_<input> for the region's inputs."""
        return tuple(f"{NORMAL}_{n}" for n in self.inputs) if self.region is not None else ()


def read(text: str) -> Spec:
    """Parse and check a spec: structure, names, faces and expressions (not yet derivatives, values or files)."""
    data = load(text)
    r = Reader(text)
    r.table(data, "", TOP)
    for key in ("name", "inputs", "terms"):
        if key not in data:
            r.fail(key, "is required")
    name = r.string(data["name"], "name", 40)
    if not PROBLEM_NAME.fullmatch(name):
        r.fail("name", f"{name!r} must be lower case letters, digits and '-', starting with a letter")
    if "domain" in data:
        r.reserved = RESERVED | {NORMAL}
    taken: set[str] = set()
    inputs, domain = read_inputs(r, data["inputs"], taken)
    outputs = read_outputs(r, data.get("outputs", ["u"]), taken)
    params = read_params(r, data.get("params", {}), taken)
    unknowns = read_unknowns(r, data.get("unknowns", {}), taken)
    defines = tuple((k, r.expression(v, f"define.{k}"))
                    for k, v in r.table(data.get("define", {}), "define").items())
    for k, _ in defines:
        r.name(k, f"define.{k}", taken)
    if len(defines) > MAX_DEFINES:
        r.fail("define", f"at most {MAX_DEFINES} definitions")
    solution = read_solution(r, data.get("solution"), outputs)
    region = read_domain(r, data["domain"], inputs, domain) if "domain" in data else None
    periodic = read_periodic(r, data, inputs, region is not None)
    ev = r.table(data.get("evaluate", {}), "evaluate", ("quantity", "label", "reference"))
    quantity = r.expression(ev.get("quantity", outputs[0]), "evaluate.quantity")
    label = r.string(ev.get("label", quantity.text), "evaluate.label", 40)
    ref = read_reference(r, ev["reference"]) if "reference" in ev else None
    terms = read_terms(r, data["terms"], inputs, domain, region, taken)
    if periodic is not None and periodic.mode == "penalty" and any(t.name == "periodic" for t in terms):
        r.fail("terms", "a term named 'periodic' clashes with the periodic penalty term this spec adds")
    spec = Spec(text, name, r.string(data.get("title", name), "title", 80),
                r.string(data.get("description", ""), "description", 2000), inputs, domain, outputs, params,
                defines, solution, terms, quantity, label, None if ref is None else (ref.name or ref.file), region,
                periodic, unknowns, ref, read_time(r, data.get("time"), inputs))
    check_names(r, spec)
    return spec


def split_name(name: str, spec: Spec) -> tuple[str, str] | None:
    """'psi_xyy' -> ('psi', 'xyy') when psi is an output, definition or 'exact' and x, y are inputs."""
    base, sep, suffix = name.rpartition("_")
    if not sep or not suffix or any(ch not in spec.inputs for ch in suffix):
        return None
    if _is_base(base, spec):
        return base, suffix
    return None


def normal_base(name: str, spec: Spec) -> str | None:
    """'u_n' -> 'u' (the normal derivative of an output, definition or 'exact'), with a [domain]."""
    base, sep, suffix = name.rpartition("_")
    return base if spec.region is not None and sep and suffix == NORMAL and _is_base(base, spec) else None


def _is_base(base: str, spec: Spec) -> bool:
    return base in spec.outputs or base in dict(spec.defines) or (base == "exact" and len(spec.solution) == 1
                                                                   and len(spec.outputs) == 1)


def check_names(r: Reader, spec: Spec) -> None:
    """Every name an expression reads is known where it is used; derivative names up to third order. Unknowns
    may be read by definitions and residuals, not by the solution or the evaluated quantity; normals (``n_x``,
    ``u_n``) by residuals on boundary pieces; a data term's observed columns by its own residual."""
    base = set(spec.inputs) | {p.name for p in spec.params} | set(expr.CONSTANTS)
    unknowns = {u.name for u in spec.unknowns}
    exact = {"exact"} if len(spec.solution) == 1 and len(spec.outputs) == 1 else set()
    for _, e in spec.solution:
        _known(r, spec, e, base, derivs=False)
    seen: set[str] = set()
    tainted = set(unknowns)  # unknowns and the definitions that read one
    for k, e in spec.defines:
        _known(r, spec, e, base | unknowns | set(spec.outputs) | seen, derivs=True,
               allowed_bases=set(spec.outputs) | seen)
        if _reads(spec, e) & tainted:
            tainted.add(k)
        seen.add(k)
    every = base | set(spec.outputs) | seen | unknowns
    for t in spec.terms:
        local = set(t.data.observed) if t.data is not None else set()
        for p in t.parts:
            normal = bool(p.pieces) and "interior" not in p.pieces
            for e in p.residuals:
                _known(r, spec, e, every | exact | local | (set(spec.normals()) if normal else set()), derivs=True,
                       normal=normal)
    _known(r, spec, spec.quantity, every - unknowns, derivs=True, allowed_bases=set(spec.outputs) | seen)
    bad = sorted(_reads(spec, spec.quantity) & tainted)
    if bad:
        what = f"the unknown {bad[0]!r}" if bad[0] in unknowns else f"define.{bad[0]}, which reads an unknown"
        r.fail(spec.quantity.path, f"reads {what}: the evaluated quantity must not depend on the unknowns")


def _reads(spec: Spec, e: Expression) -> set[str]:
    """The names ``e`` reads, derivatives by their base (``flux_x`` -> ``flux``)."""
    out = set()
    for n in expr.names(e.tree):
        split = split_name(n, spec)
        out.add(split[0] if split else normal_base(n, spec) or n)
    return out


def _known(r: Reader, spec: Spec, e: Expression, known: set[str], derivs: bool, allowed_bases=None,
           normal: bool = False) -> None:
    for n in sorted(expr.names(e.tree)):
        if n in known:
            continue
        split = split_name(n, spec) if derivs else None
        if split and (allowed_bases is None or split[0] in allowed_bases) and (split[0] in known
                                                                             or split[0] == "exact"):
            if len(split[1]) > MAX_ORDER:
                r.fail(e.path, f"{n!r} is a derivative of order {len(split[1])}; at most {MAX_ORDER}")
            continue
        nb = normal_base(n, spec) if derivs and allowed_bases is None else None
        if nb is not None and normal and (nb in known or nb == "exact"):
            continue
        r.fail(e.path, f"unknown name {n!r}{_hint(n, spec, derivs, nb)}; known: {', '.join(sorted(known))}")


def _hint(n: str, spec: Spec, derivs: bool, nb: str | None) -> str:
    if not derivs:
        return " (a solution may use the inputs, parameters and pi only)"
    if nb is not None or n in spec.normals():
        return " (normals are defined on the [domain]'s boundary pieces only, not in its interior)"
    if n.startswith(f"{NORMAL}_") or n.endswith(f"_{NORMAL}"):
        return " (normals n_x and normal derivatives u_n need a [domain])"
    if n in {u.name for u in spec.unknowns}:
        return " (an unknown may be read by definitions and residuals only)"
    return " (a coefficient to learn? declare it under [unknowns])" if "_" not in n else ""
