"""The export page's charts of the cures since 2021, from stored runs: kernel traces per term (every run), the
alignment score of the terms' gradients, and per causal run its weights over t against step."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from .data import RunData
from .figures import TERM_DASH, _layout, envelope, run_colors


def kernel_figure(runs: Sequence[RunData]) -> go.Figure | None:
    """Tr K_ii / m per term against step (log), where any run recorded kernel traces."""
    if not any(r.kernels for r in runs):
        return None
    fig, colors = go.Figure(), run_colors(runs)
    for r in runs:
        if not r.kernels:
            continue
        steps = np.array([k.step for k in r.kernels], np.int32)
        for t in r.kernels[0].traces:
            y = np.array([k.traces.get(t, math.nan) / k.points for k in r.kernels])
            fig.add_trace(go.Scatter(x=steps, y=y, mode="lines+markers", marker=dict(size=4),
                                     name=f"{r.label} · Tr K_{t} / m", legendgroup=r.label,
                                     line=dict(color=colors[r.label], dash=TERM_DASH.get(t, "dashdot"))))
    fig.update_yaxes(type="log", exponentformat="power", title_text="Tr K_ii / m")
    fig.update_xaxes(title_text="step")
    return _layout(fig, "Kernel trace per point of each term (NTK, Wang, Yu & Perdikaris 2022)")


def alignment_figure(runs: Sequence[RunData]) -> go.Figure | None:
    """The alignment score A of the terms' gradients (all parameters) against step."""
    if not any(r.aligns for r in runs):
        return None
    fig, colors = go.Figure(), run_colors(runs)
    for r in runs:
        if r.aligns:
            x, y = envelope(np.array([a.step for a in r.aligns], np.int32), np.array([a.score for a in r.aligns]))
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", marker=dict(size=3), name=r.label,
                                     line=dict(color=colors[r.label])))
    fig.add_hline(y=0, line=dict(color="black", dash="dot", width=1))
    fig.update_yaxes(range=[-1.05, 1.05], title_text="A")
    fig.update_xaxes(title_text="step")
    return _layout(fig, "Gradient alignment A of the terms (< 0: they pull against each other)")


def causal_figure(run: RunData) -> go.Figure | None:
    """The causal weights of the residual's time chunks over t against step (a heat map)."""
    if not run.causal:
        return None
    z = np.array([c.weights for c in run.causal]).T
    t = np.mean([c.t for c in run.causal], axis=0)
    fig = go.Figure(go.Heatmap(x=[c.step for c in run.causal], y=t, z=z, zmin=0, zmax=1, colorscale="Viridis",
                               colorbar=dict(title=dict(text="w"))))
    fig.update_yaxes(title_text="t (chunk centre)")
    fig.update_xaxes(title_text="step")
    return _layout(fig, f"Causal weights over t (ε = {run.causal[-1].eps:g} at the end)", height=360)
