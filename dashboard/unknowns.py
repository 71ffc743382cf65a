"""An inverse problem's unknown coefficients in the live panel: their values against step beside lambda, and the
Overview's line "kappa = 0.1012 (true 0.1)". Pure builders: records in, figures and text out."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.figures import run_colors


def names(views: Sequence) -> list[str]:
    """The unknowns the runs shown record, in order of first appearance."""
    out: dict[str, None] = {}
    for v in views:
        if v.steps:
            out.update(dict.fromkeys(v.steps[-1].unknowns))
    return list(out)


def truths(view) -> dict[str, float]:
    """The true values the run's spec states (none where it states none, or its problem cannot be built)."""
    try:
        return {u.name: u.true for u in view.config.make_problem().unknowns if u.true is not None}
    except Exception:  # noqa: BLE001 -- a run whose data file is gone still shows its trajectory
        return {}


def words(views: Sequence) -> str:
    """'M1: kappa = 0.2316 (true 0.1) · M2: kappa = 0.1012 (true 0.1)' at each run's latest step; '' without
    unknowns."""
    parts = []
    for v in views:
        if not v.steps or not v.steps[-1].unknowns:
            continue
        true = truths(v)
        vals = ", ".join(f"{n} = {x:.4g}" + (f" (true {true[n]:g})" if n in true else "")
                         for n, x in v.steps[-1].unknowns.items())
        parts.append(f"{v.name}: {vals}")
    return " · ".join(parts)


def lines(views: Sequence, upto: int | None = None, title: str = "Unknown coefficients: learned with the network",
          height: int | None = None) -> go.Figure | None:
    """Every unknown of every run against step (one colour per run, one dash per unknown), the true values dotted;
    None without unknowns."""
    found = names(views)
    if not found:
        return None
    fig, colors = go.Figure(), run_colors(views)
    dashes = ("solid", "dash", "dot", "dashdot")
    truth: dict[str, float] = {}
    for v in views:
        steps = [s for s in v.steps if upto is None or s.step <= upto]
        if not steps or not steps[-1].unknowns:
            continue
        truth.update(truths(v))
        idx = np.unique(np.linspace(0, len(steps) - 1, min(len(steps), 600)).astype(int))
        for k, n in enumerate(found):
            if n not in steps[-1].unknowns:
                continue
            fig.add_trace(go.Scatter(x=np.array([steps[i].step for i in idx]),
                                     y=np.array([steps[i].unknowns.get(n, np.nan) for i in idx]), mode="lines",
                                     name=v.name if len(found) == 1 else f"{v.name} · {n}",
                                     line=dict(color=colors[v.name], width=1.6, dash=dashes[k % len(dashes)])))
    for n, y in truth.items():
        fig.add_hline(y=y, line=dict(color="black", dash="dot", width=1), annotation_text=f"true {n} = {y:g}",
                      annotation_position="top right", annotation_font_size=10)
    fig.update_layout(title=dict(text=title, font=dict(size=13)), template="plotly_white",
                      margin=dict(l=8, r=8, t=34, b=8), xaxis=dict(title=dict(text="step")),
                      yaxis=dict(title=dict(text=", ".join(found))), legend=dict(font=dict(size=10)),
                      **({"height": height} if height else {}))
    return fig
