"""Figures and words for the cures since 2021: NTK weights and kernel traces, the gradient alignment score and
causal weights (docs/science/ntk-causal-alignment.md). Pure builders, no Streamlit: records in, Plotly figures
and sentences out, for ``RunView``-like objects (name, label, config, steps, evals, kernels, spectra, aligns,
causal, reference).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.figures import TERM_DASH, _layout, decimate, log_ticks, run_colors, set_layout

LAYER_DASH = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def _records(view, kind: str) -> list:
    return list(getattr(view, kind, None) or [])


# -- NTK -------------------------------------------------------------------------------------------------------
def trace_figure(views: Sequence, upto: int | None = None, height: int = 360) -> go.Figure:
    """Per run and term, the kernel trace per point Tr K_ii / m against step (log scale): the rate at which
    gradient descent moves that term's residual. Recorded for every run at its gradient snapshots, and at every
    update of NTK weights."""
    traces, colors = [], run_colors(views)
    for v in views:
        recs = [r for r in _records(v, "kernels") if upto is None or r.step <= upto]
        if not recs:
            continue
        for term in recs[0].traces:
            traces.append(go.Scatter(
                x=np.array([r.step for r in recs]), y=np.array([r.traces[term] / r.points for r in recs]),
                mode="lines+markers", marker=dict(size=4), name=f"Tr K_{term}/m", legendgroup=v.name,
                legendgrouptitle=dict(text=v.name),
                hovertemplate=f"{v.name} · Tr K_{term} / m: %{{y:.3g}}<extra></extra>",
                line=dict(color=colors[v.name], dash=TERM_DASH.get(term, "dashdot"), width=1.5)))
    fig = _layout(go.Figure(data=traces), "Kernel trace per point, Tr K_ii / m, per term", height=height)
    return set_layout(fig, dict(yaxis=dict(title=dict(text="Tr K_ii / m"))))


def imbalance(view) -> tuple[str, str, float] | None:
    """(largest, smallest, ratio) of the kernel traces at the run's latest record: how much faster gradient
    descent moves one term's residual than another's."""
    recs = _records(view, "kernels")
    if not recs:
        return None
    tr = {t: v for t, v in recs[-1].traces.items() if v > 0 and math.isfinite(v)}
    if len(tr) < 2:
        return None
    hi, lo = max(tr, key=tr.get), min(tr, key=tr.get)
    return hi, lo, tr[hi] / tr[lo]


def spectrum_figure(view, snap, height: int = 360) -> go.Figure:
    """The eigenvalues of each term's kernel block K_ii and of the whole kernel K at one snapshot, largest first
    (log scale): how fast they decay is the spectral bias, which block sits on top is the imbalance."""
    fig = go.Figure()
    for term, vals in snap.terms.items():
        vals = np.clip(np.asarray(vals, dtype=np.float64), 1e-300, None)
        fig.add_trace(go.Scatter(x=np.arange(1, vals.size + 1), y=vals, mode="lines", name=f"K_{term}",
                                 line=dict(dash=TERM_DASH.get(term, "dashdot"), width=1.6)))
    total = np.clip(np.asarray(snap.total, dtype=np.float64), 1e-300, None)
    fig.add_trace(go.Scatter(x=np.arange(1, total.size + 1), y=total, mode="lines", name="K (all terms)",
                             line=dict(color="black", width=2.5), opacity=0.6))
    fig = _layout(fig, f"{view.name}: NTK eigenvalues at step {snap.step:,} ({snap.points} points per term)",
                  height=height)
    return set_layout(fig, dict(xaxis=dict(title=dict(text="index (largest first)"), type="log"),
                                yaxis=dict(title=dict(text="eigenvalue")), hovermode="closest"))


# -- alignment -------------------------------------------------------------------------------------------------
def alignment_figure(views: Sequence, upto: int | None = None, height: int = 360, layers_of=None) -> go.Figure:
    """The alignment score A of the terms' gradients against step, one line per run (all parameters); with
    ``layers_of`` (a run), that run's per-layer scores too. A < 0: the terms pull against each other."""
    traces, colors = [], run_colors(views)
    for v in views:
        recs = [r for r in _records(v, "aligns") if upto is None or r.step <= upto]
        if not recs:
            continue
        idx = decimate(len(recs), 600)
        traces.append(go.Scatter(x=np.array([recs[i].step for i in idx]), y=np.array([recs[i].score for i in idx]),
                                 mode="lines+markers", marker=dict(size=3), name=v.name,
                                 line=dict(color=colors[v.name], width=2)))
        if layers_of is not None and v.name == layers_of.name:
            for j, layer in enumerate(recs[-1].layers):
                traces.append(go.Scatter(
                    x=np.array([recs[i].step for i in idx]),
                    y=np.array([recs[i].layers.get(layer, math.nan) for i in idx]), mode="lines",
                    name=f"{v.name} · {layer}", line=dict(color=colors[v.name], width=1,
                                                          dash=LAYER_DASH[j % len(LAYER_DASH)]), opacity=0.6))
    fig = _layout(go.Figure(data=traces), "Gradient alignment A of the terms (1: together, 0: at right angles, "
                                         "< 0: against each other)", ylog=False, height=height)
    fig.add_hline(y=0, line=dict(color="black", dash="dot", width=1))
    return set_layout(fig, dict(yaxis=dict(range=[-1.05, 1.05], title=dict(text="A"))))


def latest_alignment(view) -> float | None:
    recs = [r for r in _records(view, "aligns") if math.isfinite(r.score)]
    return recs[-1].score if recs else None


# -- causal ----------------------------------------------------------------------------------------------------
def causal_heatmap(view, height: int = 330) -> go.Figure:
    """The causal weights w_i of the residual's time chunks (y: the chunk's t) against step (x): a user sees the
    fitted region move forward in time, or stall."""
    recs = _records(view, "causal")
    idx = decimate(len(recs), 300)
    z = np.array([recs[i].weights for i in idx]).T
    t = np.mean([r.t for r in recs], axis=0)
    fig = go.Figure(go.Heatmap(x=[recs[i].step for i in idx], y=t, z=z, zmin=0, zmax=1, colorscale="Viridis",
                               colorbar=dict(title=dict(text="w"), thickness=10)))
    eps = recs[-1].eps
    fig = _layout(fig, f"{view.name}: causal weights over t (ε = {eps:g} now)", ylog=False, height=height)
    return set_layout(fig, dict(yaxis=dict(title=dict(text="t (chunk centre)")), hovermode="closest"))


def chunk_loss_figure(views: Sequence, height: int = 330) -> go.Figure:
    """The residual's mean squared value per time chunk at each causal run's latest record (log scale), with its
    weight on hover."""
    fig, colors = go.Figure(), run_colors(views)
    for v in views:
        recs = _records(v, "causal")
        if recs:
            r = recs[-1]
            fig.add_trace(go.Scatter(x=r.t, y=r.losses, mode="lines+markers", name=f"{v.name} (step {r.step:,})",
                                     customdata=r.weights, line=dict(color=colors[v.name]),
                                     hovertemplate="t %{x:.3f}: L %{y:.3g}, w %{customdata:.3f}<extra></extra>"))
    fig = _layout(fig, "Residual loss per time chunk, latest record", height=height)
    return set_layout(fig, dict(xaxis=dict(title=dict(text="t")), yaxis=dict(title=dict(text="L_i")),
                                hovermode="closest"))


def error_by_time(view, snap) -> tuple[np.ndarray, np.ndarray] | None:
    """(t, relative L2 error of the slice at that t) of one evaluation of a problem with a time input and two
    inputs; None otherwise."""
    problem = view.config.make_problem()
    k = problem.time_index()
    if k is None or len(problem.inputs) != 2 or view.reference is None:
        return None
    pred, ref = np.asarray(snap.prediction, dtype=np.float64), np.asarray(view.reference, dtype=np.float64)
    axis = 1 if k == 1 else 0  # the grid is [i_second_input, i_first_input]: rows vary the second input
    err = np.linalg.norm(pred - ref, axis=axis) / np.maximum(np.linalg.norm(ref, axis=axis), 1e-300)
    lo, hi = problem.domain[k]
    return np.linspace(lo, hi, err.size), err


def error_time_figure(views: Sequence, height: int = 330) -> go.Figure:
    """Relative L2 error of u(., t) against t at each run's latest evaluation: where in time a run fails."""
    fig, colors = go.Figure(), run_colors(views)
    for v in views:
        if not v.evals:
            continue
        got = error_by_time(v, v.evals[-1])
        if got is not None:
            fig.add_trace(go.Scatter(x=got[0], y=got[1], mode="lines", name=f"{v.name} (step {v.evals[-1].step:,})",
                                     line=dict(color=colors[v.name])))
    fig = _layout(fig, "Relative L2 error at each t, latest evaluation", height=height)
    values = [y for tr in fig.data for y in tr.y]
    return set_layout(fig, dict(xaxis=dict(title=dict(text="t")), hovermode="closest",
                                yaxis=dict(title=dict(text="rel. L2 error of u(·, t)"), **log_ticks(values))))


def causal_front(view, level: float = 0.5) -> float | None:
    """The latest t up to which every causal weight is at least ``level`` (how far training has reached)."""
    recs = _records(view, "causal")
    if not recs:
        return None
    w, t = recs[-1].weights, recs[-1].t
    below = np.flatnonzero(w < level)
    return float(t[-1] if below.size == 0 else (t[below[0] - 1] if below[0] > 0 else t[0]))
