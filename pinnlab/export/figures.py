"""Plotly figures of the exported page, from ``RunData``: losses and lambda against step, relative L2 error
against step, sigma_max per term (where recorded), per-layer gradient histograms with a step slider, and the
fields at the last evaluation.

Decimation keeps the page small without hiding what a chart shows: a curve longer than ``MAX_POINTS`` keeps,
in each of ``MAX_POINTS / 2`` equal runs of steps, its smallest and its largest value (so the noise band of a
loss curve and every spike survive), plus the last point; histograms keep at most ``MAX_SNAPSHOTS`` snapshots,
evenly spaced, the first and the last included. Arrays go in as float32 (Plotly embeds them as base64).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from .data import RunData

MAX_POINTS = 2000
MAX_SNAPSHOTS = 100
TERM_DASH = {"res": "solid", "bc": "dash", "ic": "dot"}
TERM_COLORS = qualitative.D3


def run_colors(runs: Sequence[RunData]) -> dict[str, str]:
    palette = qualitative.Plotly
    return {r.label: palette[i % len(palette)] for i, r in enumerate(runs)}


def envelope(x: np.ndarray, y: np.ndarray, limit: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``limit`` points of the curve: the min and max of each of ``limit // 2`` buckets, the last
    point, in step order. Non-finite values become gaps (NaN)."""
    y = np.where(np.isfinite(y), y, np.nan).astype(np.float64)
    n = len(y)
    if n <= limit:
        return np.asarray(x), y.astype(np.float32)
    buckets = max(limit // 2, 1)
    bounds = np.linspace(0, n, buckets + 1).astype(int)
    keep = {n - 1}
    for a, b in zip(bounds[:-1], bounds[1:]):
        seg = y[a:b]
        if b <= a:
            continue
        if np.isnan(seg).all():
            keep.add(a)
            continue
        keep.update((a + int(np.nanargmin(seg)), a + int(np.nanargmax(seg))))
    idx = np.array(sorted(keep))
    return np.asarray(x)[idx], y[idx].astype(np.float32)


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0.01), height=height, template="plotly_white",
                      margin=dict(l=60, r=20, t=60, b=50), legend=dict(font=dict(size=11)))
    return fig


def loss_lambda_figure(runs: Sequence[RunData]) -> go.Figure:
    """Unweighted loss per term (left) and lambda per term (right) against step, every run overlaid."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("unweighted loss per term", "λ per term"),
                        horizontal_spacing=0.08)
    colors = run_colors(runs)
    for r in runs:
        steps = r.metrics["step"].to_numpy(np.int32) if len(r.metrics) else np.zeros(0, np.int32)
        for col, prefix in ((1, "loss_"), (2, "lambda_")):
            for t in r.terms:
                if prefix + t not in r.metrics:
                    continue
                x, y = envelope(steps, r.metrics[prefix + t].to_numpy())
                fig.add_trace(go.Scatter(
                    x=x, y=y, mode="lines", name=f"{r.label} · {'L' if col == 1 else 'λ'}_{t}",
                    legendgroup=r.label, line=dict(color=colors[r.label], dash=TERM_DASH.get(t, "dashdot"),
                                                   width=1.2)), row=1, col=col)
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_xaxes(title_text="step")
    return _layout(fig, "Losses and λ against step", height=460)


def unknowns_figure(runs: Sequence[RunData]) -> go.Figure | None:
    """An inverse problem's unknown coefficients against step (one panel per name), the true value dotted."""
    names = sorted({c[8:] for r in runs for c in r.metrics.columns if c.startswith("unknown_")})
    if not names:
        return None
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.08)
    colors = run_colors(runs)
    for j, name in enumerate(names, 1):
        truth = None
        for r in runs:
            if f"unknown_{name}" not in r.metrics:
                continue
            truth = truth if truth is not None else true_value(r, name)
            x, y = envelope(r.metrics["step"].to_numpy(np.int32), r.metrics[f"unknown_{name}"].to_numpy())
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"{r.label} · {name}", legendgroup=r.label,
                                     line=dict(color=colors[r.label], width=1.2)), row=1, col=j)
        if truth is not None:
            fig.add_hline(y=truth, line=dict(color="black", dash="dot", width=1), row=1, col=j,
                          annotation_text=f"true {truth:g}", annotation_position="top right")
    fig.update_xaxes(title_text="step")
    return _layout(fig, "Unknown coefficients against step", height=380)


def true_value(run: RunData, name: str) -> float | None:
    """The true value a spec states for an unknown (None where it states none or the spec cannot be read)."""
    try:
        found = [u.true for u in run.problem().unknowns if u.name == name]
    except Exception:  # noqa: BLE001 -- a run whose files are gone still exports its trajectory
        return None
    return found[0] if found else None


def error_figure(runs: Sequence[RunData]) -> go.Figure:
    fig, colors = go.Figure(), run_colors(runs)
    for r in runs:
        if not r.evals:
            continue
        x, y = envelope(np.array([e.step for e in r.evals], np.int32), np.array([e.rel_l2 for e in r.evals]))
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", marker=dict(size=4), name=r.label,
                                 line=dict(color=colors[r.label])))
    fig.update_yaxes(type="log", exponentformat="power", title_text="relative L2 error")
    fig.update_xaxes(title_text="step")
    return _layout(fig, "Relative L2 error against step")


def stiffness_figure(runs: Sequence[RunData]) -> go.Figure | None:
    """sigma_max of the Hessian of each weighted term and of the loss, where any run recorded it."""
    if not any(r.hess for r in runs):
        return None
    fig, colors = go.Figure(), run_colors(runs)
    for r in runs:
        if not r.hess:
            continue
        steps = np.array([h.step for h in r.hess], np.int32)
        for t in r.hess[0].eigenvalues:
            fig.add_trace(go.Scatter(
                x=steps, y=np.array([abs(h.eigenvalues.get(t, math.nan)) for h in r.hess], np.float32),
                mode="lines+markers", marker=dict(size=4), name=f"{r.label} · σ_max(∇²(λ_{t}·L_{t}))",
                legendgroup=r.label, line=dict(color=colors[r.label], dash=TERM_DASH.get(t, "dashdot"))))
        fig.add_trace(go.Scatter(x=steps, y=np.array([h.sigma_max for h in r.hess], np.float32), mode="lines",
                                 name=f"{r.label} · σ_max(∇²L)", legendgroup=r.label, opacity=0.5,
                                 line=dict(color=colors[r.label], width=3)))
    fig.update_yaxes(type="log", exponentformat="power", title_text="σ_max")
    fig.update_xaxes(title_text="step")
    return _layout(fig, "Stiffness: largest Hessian eigenvalue per term")


def pick_snapshots(n: int, limit: int = MAX_SNAPSHOTS) -> list[int]:
    if n <= limit:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, limit).round().astype(int).tolist()))


def _hist_title(label: str, snap) -> str:
    lam = ", ".join(f"λ_{t} = {v:.3g}" for t, v in snap.lambdas.items())
    return f"{label}: log10 |∇_W (λ_t L_t)| per layer at step {snap.step} ({lam})"


def _hist_data(snap) -> tuple[list, list, list]:
    """Per trace (layer-major, then term): x0, dx and the stored counts of one snapshot."""
    edges = np.asarray(snap.edges, np.float64)
    dx = float(edges[1] - edges[0]) if len(edges) > 1 else 1.0
    x0s, dxs, ys = [], [], []
    for li in range(len(snap.layers)):
        for ti in range(len(snap.terms)):
            x0s.append(round(float(edges[0]) + dx / 2, 6))
            dxs.append(round(dx, 6))
            ys.append(np.asarray(snap.counts[ti, li]).astype(int).tolist())
    return x0s, dxs, ys


def histogram_figure(run: RunData) -> go.Figure | None:
    """Per-layer histograms of log10 |grad_W (lambda_t L_t)| of every term, from the stored bin counts, with a
    slider over the stored snapshots (the last one shown first)."""
    if not run.grads:
        return None
    picked = [run.grads[i] for i in pick_snapshots(len(run.grads))]
    last = picked[-1]
    layers, terms = last.layers, last.terms
    cols = min(len(layers), 4)
    rows = math.ceil(len(layers) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=layers, horizontal_spacing=0.05,
                        vertical_spacing=0.18 if rows > 1 else 0.1)
    x0s, dxs, ys = _hist_data(last)
    k = 0
    for li in range(len(layers)):
        for ti, t in enumerate(terms):
            fig.add_trace(go.Scatter(
                x0=x0s[k], dx=dxs[k], y=ys[k], mode="lines", line_shape="hvh", fill="tozeroy", name=t,
                legendgroup=t, showlegend=li == 0, opacity=0.8,
                line=dict(color=TERM_COLORS[ti % len(TERM_COLORS)], width=1)),
                row=li // cols + 1, col=li % cols + 1)
            k += 1
    steps = []
    for snap in picked:
        if snap.layers != layers or snap.terms != terms:
            continue  # a snapshot of another layout cannot be drawn into these traces
        x0s, dxs, ys = _hist_data(snap)
        steps.append(dict(method="update", label=str(snap.step),
                          args=[{"x0": x0s, "dx": dxs, "y": ys}, {"title.text": _hist_title(run.label, snap)}]))
    fig.update_layout(sliders=[dict(active=len(steps) - 1, steps=steps, currentvalue=dict(prefix="step "),
                                    pad=dict(t=50), len=1.0)])
    fig.update_xaxes(title_text="log10 |g|")
    fig.update_yaxes(title_text="count", row=None, col=1)
    fig = _layout(fig, _hist_title(run.label, last), height=330 * rows + 170)
    if len(picked) < len(run.grads):
        fig.add_annotation(text=f"{len(picked)} of {len(run.grads)} snapshots, evenly spaced", xref="paper",
                           yref="paper", x=1, y=1.12, showarrow=False, font=dict(size=11, color="gray"))
    return fig


def fields_figure(run: RunData) -> go.Figure | None:
    """Reference, prediction and |error| at the last evaluation: heatmaps for 2D problems, curves for 1D."""
    if not run.evals or run.reference is None:
        return None
    grid, ref = run.reference
    pred = np.asarray(run.evals[-1].prediction, np.float64)
    ref = np.asarray(ref, np.float64)
    if pred.shape != ref.shape:
        return None
    problem = run.problem()
    q = problem.quantity
    step = run.evals[-1].step
    title = f"{run.label}: {q} at step {step} (relative L2 error {run.evals[-1].rel_l2:.3g})"
    if ref.ndim == 1:
        return _fields_1d(grid, ref, pred, q, problem.inputs, title)
    return _fields_2d(grid, ref, pred, q, problem.inputs, title)


def _fields_1d(grid, ref, pred, q, inputs, title) -> go.Figure:
    x = np.asarray(grid)[:, 0].astype(np.float32)
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"reference and prediction of {q}", f"|error| of {q}"))
    fig.add_trace(go.Scatter(x=x, y=ref.astype(np.float32), name="reference", line=dict(color="black")), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=pred.astype(np.float32), name="prediction", line=dict(dash="dash")), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=np.abs(pred - ref).astype(np.float32), name="|error|",
                             line=dict(color="firebrick")), 1, 2)
    fig.update_xaxes(title_text=inputs[0] if inputs else "x")
    return _layout(fig, title, height=380)


def _fields_2d(grid, ref, pred, q, inputs, title) -> go.Figure:
    shape = ref.shape
    gx = np.asarray(grid)[:, 0].reshape(shape)[0, :].astype(np.float32)
    gy = np.asarray(grid)[:, 1].reshape(shape)[:, 0].astype(np.float32)
    fig = make_subplots(rows=1, cols=3, subplot_titles=(f"reference {q}", f"predicted {q}", f"|error| of {q}"),
                        horizontal_spacing=0.09)
    lo, hi = float(np.nanmin(ref)), float(np.nanmax(ref))
    for col, z in ((1, ref), (2, pred)):
        fig.add_trace(go.Heatmap(x=gx, y=gy, z=z.astype(np.float32), coloraxis="coloraxis"), 1, col)
    fig.add_trace(go.Heatmap(x=gx, y=gy, z=np.abs(pred - ref).astype(np.float32), coloraxis="coloraxis2"), 1, 3)
    fig.update_layout(coloraxis=dict(colorscale="RdBu_r", cmin=lo, cmax=hi, colorbar=dict(x=0.635, len=0.9)),
                      coloraxis2=dict(colorscale="Viridis", colorbar=dict(x=1.0, len=0.9)))
    names = tuple(inputs) + ("x", "y")[len(inputs):]
    fig.update_xaxes(title_text=names[0])
    fig.update_yaxes(title_text=names[1], col=1)
    for col in (1, 2, 3):
        fig.update_yaxes(scaleanchor=f"x{'' if col == 1 else col}", row=1, col=col)
    return _layout(fig, title, height=400)
