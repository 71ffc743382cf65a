"""The spec's core fields, read and checked: inputs, outputs, parameters, the solution and the terms (where each
samples: box faces, or with a [domain] its pieces; or a data file)."""
from __future__ import annotations

import re

from . import expr
from .extras import read_data
from .reader import (MAX_COLUMNS, MAX_FACES, MAX_INPUTS, MAX_OUTPUTS, MAX_PARAMS, MAX_TERMS, NAME, ParamSpec, Part,
                     Reader, TermSpec, kind)
from .region import RegionSpec, face_piece


def read_inputs(r: Reader, value, taken: set[str]):
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
            r.fail(path, f"must be [low, high], got {kind(iv)}")
        lo, hi = r.number(iv[0], path), r.number(iv[1], path)
        if not lo < hi:
            r.fail(path, f"empty domain [{lo:g}, {hi:g}]: low must be below high")
        if max(abs(lo), abs(hi)) > 1e6:
            r.fail(path, "bounds must lie within [-1e6, 1e6]")
        domain.append((lo, hi))
    return tuple(table), tuple(domain)


def read_time(r: Reader, value, inputs: tuple[str, ...]) -> str | None:
    """``time = "s"``: which input is time (for causal weights); without it, an input named t is."""
    if value is None:
        return None
    r.string(value, "time", 40)
    if value not in inputs:
        r.fail("time", f"must name one of the inputs ({', '.join(inputs)}), got {value!r}")
    return value


def read_outputs(r: Reader, value, taken: set[str]) -> tuple[str, ...]:
    items = r.strings(value, "outputs", MAX_OUTPUTS)
    return tuple(r.name(v, f"outputs[{i}]", taken) for i, v in enumerate(items))


def read_params(r: Reader, value, taken: set[str]) -> tuple[ParamSpec, ...]:
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


def read_solution(r: Reader, value, outputs) -> tuple:
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


def read_terms(r: Reader, value, inputs, domain, region: RegionSpec | None, taken: set[str]) -> tuple[TermSpec, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_TERMS:
        r.fail("terms", f"must be a list of 1 to {MAX_TERMS} tables, got {kind(value)}")
    out, names = [], set()
    for i, t in enumerate(value):
        path = f"terms[{i}]"
        r.table(t, path, ("name", "on", "residual", "parts", "columns", "data"))
        if "name" not in t:
            r.fail(f"{path}.name", "is required")
        tname = r.string(t["name"], f"{path}.name", 16)
        if not NAME.fullmatch(tname) or tname in names:
            r.fail(f"{path}.name", f"{tname!r} must be a new name (letters and digits)")
        names.add(tname)
        columns = r.string(t.get("columns", "sum"), f"{path}.columns")
        if columns not in ("sum", "mean"):
            r.fail(f"{path}.columns", f"must be 'sum' or 'mean', got {columns!r}")
        if "data" in t:
            out.append(_data_term(r, t, path, tname, columns, inputs, taken))
            continue
        if ("parts" in t) == ("on" in t or "residual" in t):
            r.fail(path, "give either 'on' and 'residual', or 'parts' (or 'data' and 'residual')")
        raw = t["parts"] if "parts" in t else [{k: t[k] for k in ("on", "residual") if k in t}]
        prefix = f"{path}.parts" if "parts" in t else None
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_FACES:
            r.fail(f"{path}.parts", f"must be a list of 1 to {MAX_FACES} tables")
        parts = tuple(_part(r, p, f"{prefix}[{j}]" if prefix else path, inputs, domain, region)
                      for j, p in enumerate(raw))
        if len({len(p.residuals) for p in parts}) > 1:
            r.fail(f"{path}.parts", "every part needs the same number of residual expressions")
        out.append(TermSpec(tname, parts, columns))
    if "res" not in names:
        r.fail("terms", "one term must be named 'res' (the PDE residual: annealing weighs the others against it)")
    return tuple(out)


def _data_term(r: Reader, t: dict, path: str, name: str, columns: str, inputs, taken) -> TermSpec:
    for key in ("on", "parts"):
        if key in t:
            r.fail(f"{path}.{key}", "a data term samples its file's points: no 'on' or 'parts'")
    if "residual" not in t:
        r.fail(f"{path}.residual", "is required (e.g. 'u - obs', the observed column by its name)")
    data = read_data(r, t["data"], f"{path}.data", inputs, taken)
    return TermSpec(name, (Part(("data",), (), _residuals(r, t["residual"], path)),), columns, data)


def _residuals(r: Reader, value, path: str) -> tuple:
    res = r.strings(value, f"{path}.residual", MAX_COLUMNS)
    single = isinstance(value, str)
    return tuple(r.expression(e, f"{path}.residual" + ("" if single else f"[{k}]")) for k, e in enumerate(res))


def _part(r: Reader, p, path: str, inputs, domain, region: RegionSpec | None) -> Part:
    r.table(p, path, ("on", "residual"))
    for f in ("on", "residual"):
        if f not in p:
            r.fail(f"{path}.{f}", "is required")
    faces = r.strings(p["on"], f"{path}.on", MAX_FACES)
    where = [f"{path}.on[{k}]" if isinstance(p["on"], list) else f"{path}.on" for k in range(len(faces))]
    residuals = _residuals(r, p["residual"], path)
    if region is not None:
        pieces = tuple(face_piece(r, f, w, inputs, region) for f, w in zip(faces, where))
        return Part(tuple(faces), (), residuals, pieces)
    return Part(tuple(faces), tuple(face_box(r, f, w, inputs, domain) for f, w in zip(faces, where)), residuals)


def face_box(r: Reader, face, path: str, inputs, domain):
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
