"""The equations of exported runs: a built-in problem's from a table (or its module's docstring), a spec run's from
the spec stored in its config.json, as written (one line for the setup table) and typeset from the spec's LaTeX
(``pinncore.problems.spec.describe``) as inline SVG by matplotlib's mathtext: the page stays one file that needs
no network and no TeX.
"""
from __future__ import annotations

import html
import io
import re
import sys
from typing import Sequence

from pinncore import ConfigError

EQUATIONS = {
    "helmholtz": "u_xx + u_yy + λu = q(x, y) on [−1, 1]², exact u = sin(a1·πx)·sin(a2·πy), "
                 "u = exact on the boundary",
    "klein-gordon": "u_tt + α·u_xx + β·u + γ·u³ = f(t, x) on [0, 1]², exact u = x·cos(5πt) + (xt)³; "
                    "u(0, x) = x, u_t(0, x) = 0; u = exact at x = 0 and x = 1",
    "cavity": "steady Navier-Stokes (u·∇)u + ∇p − Δu / Re = 0 on [0, 1]², u = (ψ_y, −ψ_x); "
              "lid u = (1, 0) at y = 1, no slip on the other walls",
    "poisson1d": "u_xx = −C²·sin(Cx) on [0, 1], exact u = sin(Cx), u = exact at x = 0 and x = 1",
}


def equation(problem: str, spec: str = "") -> str:
    """The problem's equation in one line: a spec's residuals as written, this table's for the built-in problems,
    else the first line of the problem module's docstring ("" for a problem not registered here)."""
    if spec:
        return spec_equation(spec)
    if problem in EQUATIONS:
        return EQUATIONS[problem]
    from pinncore import PROBLEMS

    if problem not in PROBLEMS:
        return ""
    doc = (sys.modules[PROBLEMS[problem].__module__].__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def spec_equation(text: str) -> str:
    """'res on interior: u_tt - c^2*u_xx = 0; ic on t = 0: u - exact = 0, u_t = 0; ...; exact u = ...'."""
    from pinncore.problems.spec import read_spec

    try:
        spec = read_spec(text)
    except ConfigError as exc:
        return f"(the stored spec does not read: {exc})"
    parts = [f"{k} = {e.text}" for k, e in spec.defines]
    for t in spec.terms:
        for p in t.parts:
            parts.append(f"{t.name} on {', '.join(p.faces)}: " + ", ".join(f"{e.text} = 0" for e in p.residuals))
    parts += [f"exact {o} = {e.text}" for o, e in spec.solution]
    domain = " × ".join(f"[{a:g}, {b:g}]" for a, b in spec.domain)
    return f"{', '.join(spec.inputs)} in {domain}; " + "; ".join(parts)


def typeset(tex: str, key: str) -> str:
    """``tex`` as an inline SVG (its ids prefixed by ``key``, unique in the page; the LaTeX in its title), or the
    LaTeX itself where mathtext cannot draw it."""
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    buf = io.BytesIO()
    try:
        mathtext.math_to_image(f"${tex}$", buf, prop=FontProperties(size=13), format="svg")
    except (ValueError, RuntimeError):
        return f"<code>{html.escape(tex)}</code>"
    svg = buf.getvalue().decode("utf-8")
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg[svg.index("<svg"):], flags=re.S)  # a date: not reproducible
    svg = re.sub(r'(\bid="|href="#|url\(#)', lambda m: m.group(1) + key + "-", svg)
    return (f"<span class=eq title=\"{html.escape(tex)}\" role=img aria-label=\"{html.escape(tex)}\">"
            f"{svg.replace('<svg', '<svg class=eq-svg', 1)}</span>")


def _latex(text: str, params: dict) -> dict | None:
    from pinncore.problems.spec import describe

    try:
        return describe(text, **params)
    except ConfigError:
        return None


def spec_sections(runs: Sequence) -> str:
    """One section per distinct spec among the runs: its equations typeset, the terms and where they sample, the
    parameter values per run, and the spec's text as stored."""
    seen: dict[str, list] = {}
    for r in runs:
        if r.config.spec:
            seen.setdefault(r.config.spec, []).append(r)
    out = []
    for i, (text, users) in enumerate(seen.items()):
        info = _latex(text, users[0].config.params)
        title = info["title"] if info else users[0].config.problem
        out.append(f"<h2>Your own PDE: {html.escape(title)}</h2>")
        defaults = {p.name: p.default for p in info["params"]} if info else {}
        values = "; ".join(f"{u.label}: {_values(defaults | u.config.params)}" for u in users)
        out.append(f"<p class=meta>Runs and their parameters: {html.escape(values)}</p>")
        out.append(_equations(info, f"eq{i}") if info else
                   f"<p>{html.escape(spec_equation(text))}</p>")
        out.append(f"<details><summary>The spec, as stored in config.json</summary><pre>{html.escape(text)}</pre>"
                   f"</details>")
    return "\n".join(out)


def _values(values: dict) -> str:
    return ", ".join(f"{k} = {v:g}" for k, v in values.items()) or "no parameters"


def _equations(info: dict, key: str) -> str:
    rows = [("definition", "", typeset(f"{d['name']} = {d['latex']}", f"{key}d{j}"))
            for j, d in enumerate(info["definitions"])]
    for j, t in enumerate(info["terms"]):
        for k, part in enumerate(t["parts"]):
            for m, tex in enumerate(part["latex"]):
                rows.append((t["name"], ", ".join(part["on"]), typeset(f"{tex} = 0", f"{key}t{j}p{k}c{m}")))
    rows += [("exact solution", "", typeset(f"{s['output']} = {s['latex']}", f"{key}s{j}"))
             for j, s in enumerate(info["solution"])]
    rows.append((f"evaluated: {info['quantity']['label']}", "", typeset(info["quantity"]["latex"], f"{key}q")))
    domain = ", ".join(f"{n} ∈ [{a:g}, {b:g}]" for n, (a, b) in info["inputs"].items())
    body = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{c}</td></tr>" for a, b, c in rows)
    return (f"<p>Inputs {html.escape(domain)} · outputs {html.escape(', '.join(info['outputs']))}</p>"
            f"<table><tr><th></th><th>on</th><th>equation</th></tr>{body}</table>")
