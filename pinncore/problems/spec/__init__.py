"""Problems as data: a TOML (or JSON) spec -> an ordinary ``Problem``. See the README, "Your own PDE".

The public calls (the CLI and the dashboard use these):

* ``read_spec(text) -> Spec``: parse and check the structure, names and expressions (fast, no sympy);
* ``problem_class(text) -> type[Problem]``: the checked class (derivatives taken, residuals probed for
  finiteness at the default parameters); ``problem_class(text)(**params)`` an instance;
* ``describe(text, **params) -> dict``: what a Check button shows: title, inputs and domain, outputs, parameters,
  LaTeX of the definitions, residuals, solution and evaluated quantity, and the terms' faces;
* ``check(text, **params) -> dict``: ``describe`` or the error, never raising for a bad spec:
  {"ok": True, "info": {...}} or {"ok": False, "error": {"path", "line", "column", "message"}};
* ``sample_points(problem, batch, seed) -> {term: ndarray (N, dim + aux)}``: the points one training step draws
  (with a term's aux columns after the coordinates: normals, observed values);
* ``load_spec_file(path) -> str``: a spec file's text, with relative reference and data files made absolute;
* ``file_fields(text) -> {field: path}``: the files a spec reads (its reference, its data terms'), as written;
  ``with_files(text, {field: path}) -> str``: the spec with those paths replaced (JSON);
* ``SpecError``: every error; ``.path`` (field), ``.line`` (spec line or None), ``.column`` (in an expression).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .build import SpecProblem, latex, problem_class, read_cached
from .extras import FILE_SUFFIXES
from .files import absolute
from .schema import Spec, SpecError, load

__all__ = ["Spec", "SpecError", "SpecProblem", "check", "describe", "file_fields", "load_spec_file",
           "problem_class", "read_spec", "sample_points", "with_files"]


def read_spec(text: str) -> Spec:
    return read_cached(text)


def describe(text: str, **params: float) -> dict:
    """A checked spec, for display. Raises SpecError (or ConfigError for a parameter out of range)."""
    cls = problem_class(text)
    problem = cls(**params)
    spec = cls.spec
    return {
        "name": spec.name, "title": spec.title, "description": spec.description,
        "inputs": {n: list(iv) for n, iv in zip(spec.inputs, spec.domain)}, "outputs": list(spec.outputs),
        "params": list(cls.params), "values": dict(problem.values),
        "definitions": [{"name": k, "latex": latex(spec, e)} for k, e in spec.defines],
        "solution": [{"output": o, "latex": latex(spec, e)} for o, e in spec.solution],
        "terms": [{"name": t.name, "columns": t.columns,
                   "parts": [{"on": list(p.faces), "latex": [latex(spec, e) for e in p.residuals]}
                             for p in t.parts]} for t in spec.terms],
        "quantity": {"label": spec.label, "latex": latex(spec, spec.quantity)},
        "reference": spec.reference,
        "domain": _domain(spec), "periodic": _periodic(spec, problem.terms()),
        "unknowns": [{"name": u.name, "initial": u.initial, "low": u.low, "high": u.high, "true": u.true,
                      "help": u.help, "transform": u.transform} for u in spec.unknowns],
        "data": {t.name: {"file": t.data.file, "columns": list(t.data.columns), "rows": len(piece.data)}
                 for t, term in zip(spec.terms, problem.terms()) if t.data is not None for piece in term.pieces},
        "files": file_fields(text),
    }


def _domain(spec) -> dict | None:
    if spec.region is None:
        return None
    region = spec.region.region
    info = getattr(region, "space", region).describe()  # area, bbox, mean, std, pieces: their lengths
    return {"space": list(spec.region.space), "pieces": list(region.pieces), "lengths": info.pop("pieces"),
            **info, "box": [list(b) for b in spec.region.box]}


def _periodic(spec, terms) -> dict | None:
    """The periodic inputs; ``derivatives``: whether the penalty matches slopes too (as given, or as decided)."""
    p = spec.periodic
    if p is None:
        return None
    slopes = [bool(t.needs) for t in terms if t.name == "periodic" and t.paired]  # the penalty term, if any
    derivatives = slopes[0] if slopes else p.derivatives
    return {"inputs": list(p.inputs), "mode": p.mode, "derivatives": derivatives,
            "periods": {n: hi - lo for n, (lo, hi) in zip(spec.inputs, spec.domain) if n in p.inputs}}


def check(text: str, **params: float) -> dict:
    """What a Check button shows: the description, or the first error with its field, line and column."""
    from ...errors import ConfigError

    try:
        return {"ok": True, "info": describe(text, **params)}
    except SpecError as exc:
        return {"ok": False, "error": {"path": exc.path, "line": exc.line, "column": exc.column,
                                       "message": str(exc)}}
    except ConfigError as exc:  # a parameter value out of its range
        return {"ok": False, "error": {"path": exc.field, "line": None, "column": None, "message": str(exc)}}


def sample_points(problem, batch: int = 128, seed: int = 0) -> dict[str, np.ndarray]:
    """The points each term samples in one step (float64), by term name."""
    gen = torch.Generator().manual_seed(seed)
    return {t.name: t.sample(batch, gen, torch.float64).numpy() for t in problem.terms()}


def load_spec_file(path: str | Path) -> str:
    """A spec file's text. Relative reference and data files are resolved against the spec's folder; the text then
    comes back as JSON with the absolute paths, so that the run directory's copy works from any folder (on a
    machine that has the files)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError("problem-file", f"cannot read {path}: {exc}") from None
    files = file_fields(text)
    moved = {f: absolute(p, path.parent) for f, p in files.items() if absolute(p, path.parent) != p}
    return with_files(text, moved) if moved else text


def file_fields(text: str) -> dict[str, str]:
    """The files a spec reads, as written, by field: ``evaluate.reference`` (or ``evaluate.reference.file``) and
    ``terms[i].data.file``. Only the structure is looked at (no check, no file read)."""
    data = load(text)
    out = {}
    ev = data.get("evaluate")
    ref = ev.get("reference") if isinstance(ev, dict) else None
    if isinstance(ref, str) and ref.lower().endswith(FILE_SUFFIXES):
        out["evaluate.reference"] = ref
    elif isinstance(ref, dict) and isinstance(ref.get("file"), str):
        out["evaluate.reference.file"] = ref["file"]
    terms = data.get("terms")
    for i, t in enumerate(terms if isinstance(terms, list) else []):
        d = t.get("data") if isinstance(t, dict) else None
        if isinstance(d, dict) and isinstance(d.get("file"), str):
            out[f"terms[{i}].data.file"] = d["file"]
    return out


def with_files(text: str, paths: dict[str, str]) -> str:
    """The spec (as JSON) with the files of ``paths`` (field -> new path) in place of those written."""
    data = load(text)
    for field, p in paths.items():
        if field == "evaluate.reference":
            data["evaluate"]["reference"] = p
        elif field == "evaluate.reference.file":
            data["evaluate"]["reference"]["file"] = p
        else:
            i = int(field[len("terms["):field.index("]")])
            data["terms"][i]["data"]["file"] = p
    return json.dumps(data, indent=2)
