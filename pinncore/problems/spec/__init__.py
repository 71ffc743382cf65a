"""Problems as data: a TOML (or JSON) spec -> an ordinary ``Problem``. See the README, "Your own PDE".

The public calls (the CLI and the dashboard use these):

* ``read_spec(text) -> Spec``: parse and check the structure, names and expressions (fast, no sympy);
* ``problem_class(text) -> type[Problem]``: the checked class (derivatives taken, residuals probed for
  finiteness at the default parameters); ``problem_class(text)(**params)`` an instance;
* ``describe(text, **params) -> dict``: what a Check button shows: title, inputs and domain, outputs, parameters,
  LaTeX of the definitions, residuals, solution and evaluated quantity, and the terms' faces;
* ``check(text, **params) -> dict``: ``describe`` or the error, never raising for a bad spec:
  {"ok": True, "info": {...}} or {"ok": False, "error": {"path", "line", "column", "message"}};
* ``sample_points(problem, batch, seed) -> {term: ndarray (N, dim)}``: the points one training step draws;
* ``load_spec_file(path) -> str``: a spec file's text, with a relative reference file made absolute;
* ``SpecError``: every error; ``.path`` (field), ``.line`` (spec line or None), ``.column`` (in an expression).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .build import SpecProblem, latex, problem_class, read_cached
from .schema import Spec, SpecError, load

__all__ = ["Spec", "SpecError", "SpecProblem", "check", "describe", "load_spec_file", "problem_class", "read_spec",
           "sample_points"]


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
    }


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
    """A spec file's text. A relative ``evaluate.reference`` file is resolved against the spec's folder; the
    text then comes back as JSON with the absolute path, so that the run directory's copy works anywhere."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError("problem-file", f"cannot read {path}: {exc}") from None
    data = load(text)
    ev = data.get("evaluate")
    ref = ev.get("reference") if isinstance(ev, dict) else None
    if isinstance(ref, str) and ref.endswith(".npz") and not Path(ref).expanduser().is_absolute():
        ev["reference"] = str((path.parent / ref).resolve())
        return json.dumps(data, indent=2)
    return text
