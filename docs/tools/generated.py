"""Reference text generated from the code, so that the docs cannot drift from it.

A page asks for one with a marker on a line of its own, ``<!-- generated: NAME -->`` or, with an argument,
``<!-- generated: help train -->``; the MkDocs hook (docs/tools/hooks.py) replaces the marker by ``GENERATORS[NAME](arg)``.
Each generator reads the code's own documentation: the comments on the RunConfig fields (the same text
``pinn train --help`` prints), the records' field comments, the dashboard's settings schema, the registries, the
argument parsers. A RunConfig field without a comment fails the build.
"""
from __future__ import annotations

import ast
import dataclasses
import io
import os
import re
import tokenize
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]


def cell(text: object) -> str:
    """A value as a Markdown table cell (pipes escaped, one line)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n\n")[0].replace("``", "`")


# -- RunConfig -------------------------------------------------------------------------------------------------
def _flag(name: str) -> str:
    from pinncli.args import FIELDS

    special = {"params": "`--param NAME=VALUE`", "weights": "`--weight TERM=VALUE`", "spec": "`--problem-file FILE`"}
    if name in special:
        return special[name]
    return f"`--{name.replace('_', '-')}`" if name in FIELDS else "`--config` file"


def runconfig(_: str = "") -> str:
    """Every RunConfig field: type, default, its `pinn train` flag and the comment on its line in pinncore/config.py."""
    from pinncli.args import field_docs
    from pinncore import RunConfig
    from pinncore.config import LIMITS

    docs, default = field_docs(), RunConfig()
    missing = [f.name for f in dataclasses.fields(RunConfig) if f.name not in docs]
    if missing:
        raise ValueError(f"RunConfig field(s) without a comment in pinncore/config.py: {', '.join(missing)}; "
                         "the comment is the field's documentation (pinn train --help and the docs)")
    rows = []
    for f in dataclasses.fields(RunConfig):
        text = docs[f.name] + (f" (at most {LIMITS[f.name]:,})" if f.name in LIMITS else "")
        rows.append((f"`{f.name}`", f"`{f.type}`", f"`{getattr(default, f.name)!r}`", _flag(f.name), text))
    return table(("field", "type", "default", "pinn train", "what it is"), rows)


# -- records ---------------------------------------------------------------------------------------------------
def _comments(source: str) -> dict[int, str]:
    """Line number -> the comment on it."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def records(_: str = "") -> str:
    """Each record class of pinncore/records.py: its docstring and its fields with their comments."""
    path = ROOT / "pinncore" / "records.py"
    source = path.read_text()
    comments, parts = _comments(source), []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        rows = [(f"`{n.target.id}`", f"`{ast.unparse(n.annotation)}`", comments.get(n.lineno, ""))
                for n in node.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
        doc = first_line(ast.get_docstring(node))
        parts.append(f"### `{node.name}`\n\n" + (doc + "\n\n" if doc else "") + table(("field", "type", "what it is"), rows))
    return "\n\n".join(parts)


def run_directory(_: str = "") -> str:
    """The run directory's files, as pinncore/store.py's docstring lists them, and the fields of summary.json."""
    import pinncore.store as store

    tree = [line for line in store.__doc__.splitlines() if line.startswith("    ")]
    types = {k: " or ".join(t.__name__ for t in kinds) + (" or null" if none else "")
             for k, (kinds, none) in store.SUMMARY_FIELDS.items()}
    return ("```text\n" + "\n".join(line[4:] for line in tree) + "\n```\n\n`summary.json` holds at least:\n\n"
            + table(("field", "type"), [(f"`{k}`", v) for k, v in types.items()]))


# -- the dashboard's settings ------------------------------------------------------------------------------------
def settings(_: str = "") -> str:
    """The sidebar's settings: label, URL parameter, default, what is allowed, help (dashboard/settings.py)."""
    from dashboard.settings import SETTINGS

    rows = []
    for s in SETTINGS:
        if s.choices:
            allowed = ", ".join(f"`{c}`" for c in s.choices)
        elif s.lo is not None:
            allowed = f"{s.lo:g} to {s.hi:g}"
        else:
            allowed = "text"
        rows.append((s.label, f"`{s.key}`", f"`{s.format(s.default)}`" if s.default != "" else "(empty)", allowed,
                     s.help))
    return table(("setting", "URL parameter", "default", "allowed", "help"), rows)


# -- registries ------------------------------------------------------------------------------------------------
def problems(_: str = "") -> str:
    from pinncore import PROBLEMS

    rows = [(f"`{name}`", cls.title, "; ".join(f"`{p.name}` = {p.default:g} ({p.low:g} to {p.high:g}): {p.help}"
                                                for p in cls.params)) for name, cls in PROBLEMS.items()]
    return table(("name", "problem", "parameters: default (range): meaning"), rows)


def registries(_: str = "") -> str:
    """Models, activations, weightings and annealing variants, as their registries list them."""
    from pinncore.models import ACTIVATIONS, MODELS
    from pinncore.weighting import WEIGHTINGS, Annealing

    rows = [("model", f"`{n}`", first_line(c.__doc__)) for n, c in MODELS.items()]
    rows += [("weighting", f"`{n}`", first_line(c.__doc__)) for n, c in WEIGHTINGS.items()]
    rows += [("annealing variant", f"`{v}`", "") for v in Annealing.variants]
    rows += [("activation", f"`{n}`", "") for n in ACTIVATIONS]
    return table(("kind", "name", "what it is"), rows)


def limits(which: str = "") -> str:
    """The bounds every front end enforces, read from the constants that enforce them: ``run`` (RunConfig and
    sweeps), ``spec`` (problem specs and their links), or both."""
    from dashboard.custom_pde import MAX_SPEC_BYTES, MAX_URL_SPEC
    from pinncore.config import LIMITS
    from pinncore.problems.spec.expr import MAX_CHARS, MAX_DEPTH, MAX_NODES
    from pinnlab.sweep.grid import MAX_RUNS

    run = [(f"RunConfig `{k}`", f"{v:,}", "pinncore.config.LIMITS") for k, v in LIMITS.items()]
    run.append(("runs in one sweep", f"{MAX_RUNS:,}", "pinnlab.sweep.grid.MAX_RUNS"))
    spec = [("characters of one expression", f"{MAX_CHARS:,}", "pinncore.problems.spec.expr.MAX_CHARS"),
            ("tree nodes of one expression", f"{MAX_NODES:,}", "pinncore.problems.spec.expr.MAX_NODES"),
            ("nesting of one expression", f"{MAX_DEPTH:,}", "pinncore.problems.spec.expr.MAX_DEPTH"),
            ("a spec in a dashboard link (compressed, characters)", f"{MAX_URL_SPEC:,}",
             "dashboard.custom_pde.MAX_URL_SPEC"),
            ("a spec's text in the dashboard (bytes)", f"{MAX_SPEC_BYTES:,}", "dashboard.custom_pde.MAX_SPEC_BYTES")]
    rows = {"run": run, "spec": spec}.get(which, run + spec)
    return table(("what", "at most", "where it is set"), rows)


def layout(_: str = "") -> str:
    """Every module of the four packages with the first sentence of its docstring (read with ast, not imported)."""
    rows = []
    for pkg in ("pinncore", "pinnlab", "pinncli", "dashboard"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if path.name == "__main__.py":
                continue
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            sentence = doc.strip().split("\n\n")[0].replace("\n", " ").replace("``", "`")
            sentence = re.split(r"\.\s+(?=[A-Z`])", sentence)[0].rstrip(".")
            name = rel.parent.as_posix() + "/" if path.name == "__init__.py" else rel.as_posix()
            rows.append((f"`{name}`", sentence))
    return table(("module", "what it is"), rows)


# -- command help ----------------------------------------------------------------------------------------------
@contextmanager
def _columns(n: int):
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(n)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def help_text(command: str) -> str:
    """``pinn COMMAND --help`` as a text block (``pinn --help`` for an empty command)."""
    import argparse

    from pinncli import bench, dashboard
    from pinncli.args import build_parser

    with _columns(100):
        if command == "bench":
            text = bench.build_parser().format_help()
        elif command == "dashboard":
            text = dashboard.parser().format_help()
        else:
            parser = build_parser()
            if command:
                sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
                parser = sub.choices[command]
            text = parser.format_help()
    return f"```text\n$ pinn {command + ' ' if command else ''}--help\n{text.rstrip()}\n```"


GENERATORS: dict[str, Callable[[str], str]] = {
    "runconfig": runconfig, "records": records, "run-directory": run_directory, "settings": settings, "problems": problems,
    "registries": registries, "limits": limits, "layout": layout, "help": help_text,
}
