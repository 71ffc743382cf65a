"""A problem spec (TOML, or the same as JSON), read and checked field by field into a ``Spec``.

Every error is a ``SpecError`` (a ``ConfigError``): one line that names the field (``terms[1].residual``), the
line of the spec it is on where it can be found, and what is wrong. The text is treated as hostile: size-bounded,
parsed by ``tomllib`` / ``json`` (data only), every expression by ``expr.parse`` (a whitelisted grammar).
"""
from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass

from ...errors import ConfigError
from . import expr
from .locate import locate

MAX_TEXT = 64_000
MAX_INPUTS, MAX_OUTPUTS, MAX_PARAMS, MAX_DEFINES, MAX_TERMS, MAX_COLUMNS, MAX_FACES = 3, 8, 16, 16, 8, 8, 16
MAX_ORDER = 3
NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}")
PROBLEM_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
TOP = ("name", "title", "description", "inputs", "outputs", "params", "define", "solution", "terms", "evaluate",
       "time")
RESERVED = set(expr.FUNCTIONS) | set(expr.CONSTANTS) | {"exact", "interior"}


class SpecError(ConfigError):
    """A bad spec: ``field`` is the path (``terms[1].residual``), ``line`` the spec's line (or None),
    ``column`` the column inside an expression (or None)."""

    def __init__(self, path: str, message: str, line: int | None = None, column: int | None = None):
        self.path, self.line, self.column = path, line, column
        where = f"spec line {line}, {path}" if line else f"spec {path}"
        super().__init__(where, message)
        self.field = path


@dataclass(frozen=True)
class Expression:
    text: str
    tree: tuple
    path: str


@dataclass(frozen=True)
class Part:
    faces: tuple[str, ...]  # as written: "interior", "x = 0", ...
    boxes: tuple[tuple[tuple[float, float], ...], ...]
    residuals: tuple[Expression, ...]


@dataclass(frozen=True)
class TermSpec:
    name: str
    parts: tuple[Part, ...]
    columns: str


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: float
    low: float
    high: float
    help: str


@dataclass(frozen=True)
class Spec:
    text: str
    name: str
    title: str
    description: str
    inputs: tuple[str, ...]
    domain: tuple[tuple[float, float], ...]
    outputs: tuple[str, ...]
    params: tuple[ParamSpec, ...]
    defines: tuple[tuple[str, Expression], ...]
    solution: tuple[tuple[str, Expression], ...]  # (output, expression); () without a closed form
    terms: tuple[TermSpec, ...]
    quantity: Expression
    label: str
    reference: str | None
    time: str | None = None  # the time input (causal weights), when declared; else an input named t is


class _Reader:
    """Type checks with the field's path and line."""

    def __init__(self, text: str):
        self.text = text

    def fail(self, path: str, message: str, column: int | None = None):
        where = f" (column {column})" if column else ""
        raise SpecError(path, message + where, locate(self.text, path), column)

    def table(self, value, path: str, allowed=None) -> dict:
        if not isinstance(value, dict):
            self.fail(path, f"must be a table, got {_kind(value)}")
        for key in value:
            if allowed is not None and key not in allowed:
                self.fail(f"{path}.{key}" if path else key, f"unknown field; allowed: {', '.join(allowed)}")
        return value

    def string(self, value, path: str, limit: int = 200) -> str:
        if not isinstance(value, str):
            self.fail(path, f"must be a string, got {_kind(value)}")
        if len(value) > limit:
            self.fail(path, f"longer than {limit} characters")
        return value

    def number(self, value, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(path, f"must be a finite number, got {_kind(value)}")
        return float(value)

    def name(self, value, path: str, taken: set[str]) -> str:
        self.string(value, path)
        if not NAME.fullmatch(value):
            self.fail(path, f"{value!r} is not a name (a letter, then up to 15 letters or digits)")
        if value in RESERVED:
            self.fail(path, f"{value!r} is reserved")
        if value in taken:
            self.fail(path, f"{value!r} is already used")
        taken.add(value)
        return value

    def strings(self, value, path: str, limit: int) -> list:
        """A string or a list of 1..limit strings, as a list."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not 1 <= len(items) <= limit:
            self.fail(path, f"must be a string or a list of 1 to {limit} strings, got {_kind(value)}")
        return items

    def expression(self, value, path: str) -> Expression:
        self.string(value, path, expr.MAX_CHARS)
        try:
            return Expression(value, expr.parse(value), path)
        except expr.ExprError as exc:
            self.fail(path, exc.message, exc.column)


def _kind(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def load(text: str) -> dict:
    """TOML or JSON (a text starting with '{') to a dict; one-line errors with the line."""
    if not isinstance(text, str):
        raise SpecError("spec", f"must be text, got {_kind(text)}")
    if len(text) > MAX_TEXT:
        raise SpecError("spec", f"longer than {MAX_TEXT} characters ({len(text)})")
    try:
        if text.lstrip().startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SpecError("spec", f"malformed JSON: {exc.msg}", exc.lineno) from None
        else:
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                msg = str(exc)
                m = re.search(r"\(at line (\d+), column \d+\)", msg)
                raise SpecError("spec", f"malformed TOML: {msg.split(' (at ')[0]}",
                                int(m.group(1)) if m else None) from None
    except RecursionError:
        raise SpecError("spec", "nested too deeply") from None
    if not isinstance(data, dict):
        raise SpecError("spec", f"must be a table (a JSON object), got {_kind(data)}")
    return data


def read(text: str) -> Spec:
    """Parse and check a spec: structure, names, faces and expressions (not yet derivatives or values)."""
    data = load(text)
    r = _Reader(text)
    r.table(data, "", TOP)
    for key in ("name", "inputs", "terms"):
        if key not in data:
            r.fail(key, "is required")
    name = r.string(data["name"], "name", 40)
    if not PROBLEM_NAME.fullmatch(name):
        r.fail("name", f"{name!r} must be lower case letters, digits and '-', starting with a letter")
    taken: set[str] = set()
    inputs, domain = _inputs(r, data["inputs"], taken)
    outputs = _outputs(r, data.get("outputs", ["u"]), taken)
    params = _params(r, data.get("params", {}), taken)
    defines = tuple((k, r.expression(v, f"define.{k}"))
                    for k, v in r.table(data.get("define", {}), "define").items())
    for k, _ in defines:
        r.name(k, f"define.{k}", taken)
    if len(defines) > MAX_DEFINES:
        r.fail("define", f"at most {MAX_DEFINES} definitions")
    solution = _solution(r, data.get("solution"), outputs)
    ev = r.table(data.get("evaluate", {}), "evaluate", ("quantity", "label", "reference"))
    quantity = r.expression(ev.get("quantity", outputs[0]), "evaluate.quantity")
    label = r.string(ev.get("label", quantity.text), "evaluate.label", 40)
    reference = r.string(ev["reference"], "evaluate.reference", 400) if "reference" in ev else None
    spec = Spec(text, name, r.string(data.get("title", name), "title", 80),
                r.string(data.get("description", ""), "description", 2000), inputs, domain, outputs, params,
                defines, solution, _terms(r, data["terms"], inputs, domain), quantity, label, reference,
                _time(r, data.get("time"), inputs))
    check_names(r, spec)
    return spec


def _inputs(r: _Reader, value, taken: set[str]):
    table = r.table(value, "inputs")
    if not 1 <= len(table) <= MAX_INPUTS:
        r.fail("inputs", f"must have 1 to {MAX_INPUTS} inputs, got {len(table)}")
    domain = []
    for key, iv in table.items():
        path = f"inputs.{key}"
        if not re.fullmatch(r"[a-z]", key) or key == "e":
            r.fail(path, f"an input is one lower-case letter other than 'e', got {key!r}")
        r.name(key, path, taken)
        if not isinstance(iv, list) or len(iv) != 2:
            r.fail(path, f"must be [low, high], got {_kind(iv)}")
        lo, hi = r.number(iv[0], path), r.number(iv[1], path)
        if not lo < hi:
            r.fail(path, f"empty domain [{lo:g}, {hi:g}]: low must be below high")
        if max(abs(lo), abs(hi)) > 1e6:
            r.fail(path, "bounds must lie within [-1e6, 1e6]")
        domain.append((lo, hi))
    return tuple(table), tuple(domain)


def _time(r: _Reader, value, inputs: tuple[str, ...]) -> str | None:
    """``time = "s"``: which input is time (for causal weights); without it, an input named t is."""
    if value is None:
        return None
    r.string(value, "time", 40)
    if value not in inputs:
        r.fail("time", f"must name one of the inputs ({', '.join(inputs)}), got {value!r}")
    return value


def _outputs(r: _Reader, value, taken: set[str]) -> tuple[str, ...]:
    items = r.strings(value, "outputs", MAX_OUTPUTS)
    return tuple(r.name(v, f"outputs[{i}]", taken) for i, v in enumerate(items))


def _params(r: _Reader, value, taken: set[str]) -> tuple[ParamSpec, ...]:
    table = r.table(value, "params")
    if len(table) > MAX_PARAMS:
        r.fail("params", f"at most {MAX_PARAMS} parameters")
    out = []
    for key, v in table.items():
        path = f"params.{key}"
        r.name(key, path, taken)
        if not isinstance(v, dict):  # a bare number: a constant
            d = r.number(v, path)
            out.append(ParamSpec(key, d, d, d, ""))
            continue
        r.table(v, path, ("default", "low", "high", "help"))
        for f in ("default", "low", "high"):
            if f not in v:
                r.fail(f"{path}.{f}", "is required (or give the parameter as a bare number)")
        d, lo, hi = (r.number(v[f], f"{path}.{f}") for f in ("default", "low", "high"))
        if not lo <= d <= hi:
            r.fail(path, f"needs low <= default <= high, got {lo:g}, {d:g}, {hi:g}")
        out.append(ParamSpec(key, d, lo, hi, r.string(v.get("help", ""), f"{path}.help")))
    return tuple(out)


def _solution(r: _Reader, value, outputs) -> tuple:
    if value is None:
        return ()
    if isinstance(value, str):
        if len(outputs) != 1:
            r.fail("solution", "a single expression needs a single output; give a table output = expression")
        return ((outputs[0], r.expression(value, "solution")),)
    table = r.table(value, "solution", outputs)
    missing = [o for o in outputs if o not in table]
    if missing:
        r.fail("solution", f"gives no expression for {', '.join(missing)}")
    return tuple((o, r.expression(table[o], f"solution.{o}")) for o in outputs)


def _terms(r: _Reader, value, inputs, domain) -> tuple[TermSpec, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_TERMS:
        r.fail("terms", f"must be a list of 1 to {MAX_TERMS} tables, got {_kind(value)}")
    out, names = [], set()
    for i, t in enumerate(value):
        path = f"terms[{i}]"
        r.table(t, path, ("name", "on", "residual", "parts", "columns"))
        if "name" not in t:
            r.fail(f"{path}.name", "is required")
        tname = r.string(t["name"], f"{path}.name", 16)
        if not NAME.fullmatch(tname) or tname in names:
            r.fail(f"{path}.name", f"{tname!r} must be a new name (letters and digits)")
        names.add(tname)
        columns = r.string(t.get("columns", "sum"), f"{path}.columns")
        if columns not in ("sum", "mean"):
            r.fail(f"{path}.columns", f"must be 'sum' or 'mean', got {columns!r}")
        if ("parts" in t) == ("on" in t or "residual" in t):
            r.fail(path, "give either 'on' and 'residual', or 'parts'")
        raw = t["parts"] if "parts" in t else [{k: t[k] for k in ("on", "residual") if k in t}]
        prefix = f"{path}.parts" if "parts" in t else None
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_FACES:
            r.fail(f"{path}.parts", f"must be a list of 1 to {MAX_FACES} tables")
        parts = tuple(_part(r, p, f"{prefix}[{j}]" if prefix else path, inputs, domain) for j, p in enumerate(raw))
        if len({len(p.residuals) for p in parts}) > 1:
            r.fail(f"{path}.parts", "every part needs the same number of residual expressions")
        out.append(TermSpec(tname, parts, columns))
    if "res" not in names:
        r.fail("terms", "one term must be named 'res' (the PDE residual: annealing weighs the others against it)")
    return tuple(out)


def _part(r: _Reader, p, path: str, inputs, domain) -> Part:
    r.table(p, path, ("on", "residual"))
    for f in ("on", "residual"):
        if f not in p:
            r.fail(f"{path}.{f}", "is required")
    faces = r.strings(p["on"], f"{path}.on", MAX_FACES)
    boxes = tuple(face_box(r, f, f"{path}.on[{k}]" if isinstance(p["on"], list) else f"{path}.on", inputs, domain)
                  for k, f in enumerate(faces))
    res = r.strings(p["residual"], f"{path}.residual", MAX_COLUMNS)
    single = isinstance(p["residual"], str)
    return Part(tuple(faces), boxes, tuple(r.expression(e, f"{path}.residual" + ("" if single else f"[{k}]"))
                                           for k, e in enumerate(res)))


def face_box(r: _Reader, face, path: str, inputs, domain):
    """'interior' -> the domain; 'x = 0' (or 'x = 0, y = 1') -> the domain with those inputs pinned."""
    r.string(face, path)
    if face.strip() == "interior":
        return tuple(domain)
    box = list(domain)
    for pin in face.split(","):
        m = re.fullmatch(r"\s*([a-z])\s*=\s*(.+?)\s*", pin)
        if not m or m.group(1) not in inputs:
            r.fail(path, f"{face!r} must be 'interior' or like '{inputs[0]} = {domain[0][0]:g}' "
                         f"(an input = a number, comma-separated)")
        try:
            value = expr.constant_value(expr.parse(m.group(2)))
        except expr.ExprError:
            value = None
        if value is None:
            r.fail(path, f"{pin.strip()!r}: the value must be a number")
        i = inputs.index(m.group(1))
        lo, hi = domain[i]
        if not lo <= value <= hi:
            r.fail(path, f"{pin.strip()!r} lies outside the domain [{lo:g}, {hi:g}] of {m.group(1)}")
        box[i] = (value, value)
    return tuple(box)


def split_name(name: str, spec: Spec) -> tuple[str, str] | None:
    """'psi_xyy' -> ('psi', 'xyy') when psi is an output, definition or 'exact' and x, y are inputs."""
    base, sep, suffix = name.rpartition("_")
    if not sep or not suffix or any(ch not in spec.inputs for ch in suffix):
        return None
    if base in spec.outputs or base in dict(spec.defines) or (base == "exact" and len(spec.solution) == 1
                                                               and len(spec.outputs) == 1):
        return base, suffix
    return None


def check_names(r: _Reader, spec: Spec) -> None:
    """Every name an expression reads is known where it is used; derivative names up to third order."""
    base = set(spec.inputs) | {p.name for p in spec.params} | set(expr.CONSTANTS)
    exact = {"exact"} if len(spec.solution) == 1 and len(spec.outputs) == 1 else set()
    for _, e in spec.solution:
        _known(r, spec, e, base, derivs=False)
    seen: set[str] = set()
    for k, e in spec.defines:
        _known(r, spec, e, base | set(spec.outputs) | seen, derivs=True, allowed_bases=set(spec.outputs) | seen)
        seen.add(k)
    every = base | set(spec.outputs) | seen
    for t in spec.terms:
        for p in t.parts:
            for e in p.residuals:
                _known(r, spec, e, every | exact, derivs=True)
    _known(r, spec, spec.quantity, every, derivs=True, allowed_bases=set(spec.outputs) | seen)


def _known(r: _Reader, spec: Spec, e: Expression, known: set[str], derivs: bool, allowed_bases=None) -> None:
    for n in sorted(expr.names(e.tree)):
        if n in known:
            continue
        split = split_name(n, spec) if derivs else None
        if split and (allowed_bases is None or split[0] in allowed_bases) and (split[0] in known
                                                                             or split[0] == "exact"):
            if len(split[1]) > MAX_ORDER:
                r.fail(e.path, f"{n!r} is a derivative of order {len(split[1])}; at most {MAX_ORDER}")
            continue
        hint = "" if derivs else " (a solution may use the inputs, parameters and pi only)"
        r.fail(e.path, f"unknown name {n!r}{hint}; known: {', '.join(sorted(known))}")
