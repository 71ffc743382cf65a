"""What Check shows of a spec's real-problem parts, without Streamlit: the domain with its named boundary pieces
and the points one step samples per term (``points_figure``), and one line each for the domain, the periodic
inputs, the unknown coefficients and the data terms (``notes``)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.figures import TEMPLATE

PIECE_COLORS = ("#000000", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def points_figure(problem, points: dict[str, np.ndarray]) -> go.Figure:
    """The points of one step per term (the first two coordinates; a space-time region's space), over the
    region's boundary pieces drawn and named in the legend."""
    fig = go.Figure()
    cols = [problem.inputs.index(n) for n in _shown_inputs(problem)]
    for name, pts in points.items():
        x = pts[:, cols[0]]
        y = pts[:, cols[1]] if len(cols) > 1 else np.zeros(len(pts))
        fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name=f"{name} ({len(pts)})", opacity=0.55,
                                 marker=dict(size=4)))
    region = problem.region
    space = getattr(region, "space", region)
    if space is not None and hasattr(space, "outline"):  # drawn over the points, each piece in its own colour
        for k, (piece, lines) in enumerate(space.outline(points_per_unit=100).items()):
            color = PIECE_COLORS[k % len(PIECE_COLORS)]
            for j, line in enumerate(lines):
                fig.add_trace(go.Scatter(x=line[:, 0], y=line[:, 1], mode="lines", name=f"piece: {piece}",
                                         legendgroup=f"piece {piece}", showlegend=j == 0,
                                         line=dict(color=color, width=2)))
    fig.update_layout(title="The domain, its boundary pieces and the points one step samples", height=340,
                      template=TEMPLATE, margin=dict(l=10, r=10, t=40, b=10))
    names = _shown_inputs(problem)
    fig.update_xaxes(title_text=names[0])
    if len(names) > 1:
        fig.update_yaxes(title_text=names[1], scaleanchor="x")
    return fig


def _shown_inputs(problem) -> tuple[str, ...]:
    """The two inputs drawn: a region's spatial ones, else the first two."""
    if problem.region is not None:
        return tuple(problem.inputs[i] for i in problem.region_columns[:2])
    return tuple(problem.inputs[:2])


def notes(info: dict) -> list[str]:
    """Markdown lines for the domain, periodic inputs, unknowns and data terms of a ``describe`` result."""
    out = []
    d = info.get("domain")
    if d:
        pieces = ", ".join(f"{p} ({d['lengths'][p]:.3g})" if p in d["lengths"] else p for p in d["pieces"])
        out.append(f"**Domain** in {', '.join(d['space'])}: area {d['area']:.4g}; boundary pieces (length): {pieces}")
    p = info.get("periodic")
    if p:
        how = ("a penalty term 'periodic' pairing opposite faces (values" + (" and first derivatives)" if
               p["derivatives"] else ")")) if p["mode"] == "penalty" else \
            "the network's input embedding (cos and sin of 2π·x/L)"
        periods = ", ".join(f"{n} (period {L:g})" for n, L in p["periods"].items())
        out.append(f"**Periodic** in {periods}, by {how}")
    for u in info.get("unknowns", []):
        bounds = f", kept in ({_b(u['low'], '-∞')}, {_b(u['high'], '∞')}) as {u['transform']}"
        true = f", true {u['true']:g}" if u["true"] is not None else ""
        out.append(f"**Unknown** {u['name']}: learned from {u['initial']:g}{bounds}{true}"
                   + (f" · {u['help']}" if u["help"] else ""))
    for term, data in info.get("data", {}).items():
        name = str(data["file"]).replace("\\", "/").rsplit("/", 1)[-1]
        out.append(f"**Data** term {term}: {data['rows']:,} rows of {name} ({', '.join(data['columns'])})")
    return out


def _b(v, inf: str) -> str:
    return inf if v is None else f"{v:g}"
