"""Pure figure builders: records in, ``plotly.graph_objects.Figure`` out. No Streamlit here.

Every builder takes ``RunView``-like objects (name, label, steps, evals, grads, config) so they can be
unit-tested with records from a few trainer steps.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from pinncore import GradSnapshot, make_problem

METHOD_COLORS = {"M1": "#d62728", "M2": "#ff7f0e", "M3": "#2ca02c", "M4": "#1f77b4"}
OTHER_COLORS = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
TERM_DASH = {"res": "solid", "bc": "dash", "ic": "dot"}
TERM_COLORS = {"res": "#1f77b4", "bc": "#d62728", "ic": "#2ca02c"}
MAX_POINTS = 1500  # per trace: enough for the eye, light enough to redraw every second
GRID = "#EBF0F8"
# plotly_white's look in the properties these charts show. Setting the full plotly_white template validates and
# deep-copies it per figure: 12 ms each, a quarter of the server's CPU while the Overview redraws every second
pio.templates["pinn"] = go.layout.Template(layout=dict(
    paper_bgcolor="white", plot_bgcolor="white", font=dict(color="#2a3f5f"),
    xaxis=dict(gridcolor=GRID, linecolor=GRID, zerolinecolor=GRID, automargin=True, ticks=""),
    yaxis=dict(gridcolor=GRID, linecolor=GRID, zerolinecolor=GRID, automargin=True, ticks=""),
    colorway=["#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692", "#B6E880"]))
TEMPLATE = "pinn"


def set_layout(fig: go.Figure, *updates: dict) -> go.Figure:
    """Merge these layout updates (nested dicts, in order; no magic underscores) into the figure's layout in one
    assignment. ``update_layout`` and ``update_xaxes`` parse and validate property by property, about 3 ms a
    call and 10 ms a chart; one assignment validates the whole layout in about 1 ms (the live panel builds some
    ten charts a second for every browser)."""
    layout = fig.layout.to_plotly_json()
    for update in updates:
        _merge(layout, update)
    fig.layout = layout
    return fig


def _merge(into: dict, update: dict) -> None:
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def run_colors(views: Sequence) -> dict[str, str]:
    """The method's colour for the first run of each method, distinct spare colours for the others."""
    colors, used, spare = {}, set(), iter(OTHER_COLORS * 10)
    for v in views:
        own = METHOD_COLORS.get(v.label)
        colors[v.name] = own if own and own not in used else next(spare)
        used.add(colors[v.name])
    return colors


def log_ticks(values, least: int = 3) -> dict:
    """Tick values and labels for a log axis over these values: the decades, or 1-2-5 steps (then every
    integer mantissa) when fewer than ``least`` decades fall in the range, so every log axis shows at least
    three labelled ticks. Returns {} when there is nothing positive to show."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x) and x > 0], dtype=np.float64)
    if not len(v):
        return {}
    lo, hi = float(v.min()), float(v.max())
    lo, hi = (lo / 2, hi * 2) if lo == hi else (lo, hi)
    for mantissas in ((1,), (1, 2, 5), tuple(range(1, 10))):
        ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
                 for m in mantissas if lo <= m * 10.0 ** e <= hi]
        if len(ticks) >= least:
            break
    if len(ticks) < least:  # a very narrow range: evenly spaced in log
        ticks = list(np.geomspace(lo, hi, least))
    return dict(tickvals=ticks, ticktext=[f"{t:.3g}" for t in ticks])


def decimate(n: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most ~max_points evenly spaced items of n, always keeping the first and the last."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.r_[np.linspace(0, n - 1, max_points).astype(int), n - 1])


def _layout(fig: go.Figure, title: str, ylog: bool = True, height: int = 360, also: Sequence[float] = ()
            ) -> go.Figure:
    """The common look: the legend beside the plot (never over the x-axis title), grouped by run where the
    traces say so, and on a log axis at least three labelled ticks over the traces' values and ``also`` (a
    reference line's)."""
    yaxis = {}
    if ylog:
        values = [y for trace in fig.data for y in (trace.y if trace.y is not None else ())] + list(also)
        yaxis = dict(type="log", exponentformat="power", **log_ticks(values))
    return set_layout(fig, dict(
        title=dict(text=title, font=dict(size=14)), height=height, margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="v", x=1.02, xanchor="left", y=1, yanchor="top", font=dict(size=11),
                    groupclick="toggleitem", tracegroupgap=6),
        hovermode="x unified", template=TEMPLATE, xaxis=dict(title=dict(text="step")), yaxis=yaxis))


def reference_line(fig: go.Figure, y: float, text: str, log: bool = True) -> go.Figure:
    """A horizontal reference line with its label at its own height: on a log axis a shape's annotation is in
    log10 units (plotly's add_hline would put "2" near 10^2), so the label is placed in data coordinates here."""
    fig.add_hline(y=y, line=dict(color="black", dash="dot", width=1))
    fig.add_annotation(x=1, xref="paper", xanchor="right", y=math.log10(y) if log else y, yref="y",
                       yanchor="bottom", text=text, showarrow=False, font=dict(size=11))
    return fig


def _term_lines(views: Sequence, field: str, symbol: str, title: str, skip_constant_res: bool) -> go.Figure:
    """One line per (run, term) of StepRecord.<field> against step: colour = run, dash = term."""
    traces, colors = [], run_colors(views)
    for v in views:
        steps = [v.steps[i] for i in decimate(len(v.steps))]
        for term in (getattr(steps[0], field) if steps else {}):
            ys = [getattr(r, field)[term] for r in steps]
            if skip_constant_res and term == "res" and all(y == 1.0 for y in ys):
                continue
            traces.append(go.Scatter(  # arrays: plotly validates a list element by element
                x=np.array([r.step for r in steps]), y=np.array(ys), mode="lines", name=f"{symbol}_{term}",
                legendgroup=v.name, legendgrouptitle=dict(text=v.name),
                hovertemplate=f"{v.name} · {symbol}_{term}: %{{y:.3g}}<extra></extra>",
                line=dict(color=colors[v.name], dash=TERM_DASH.get(term, "dashdot"), width=1.5)))
    return _layout(go.Figure(data=traces), title)


def loss_figure(views: Sequence) -> go.Figure:
    """Unweighted loss per term against step (log scale), every run overlaid."""
    return _term_lines(views, "losses", "L", "Unweighted loss per term", skip_constant_res=False)


def lambda_figure(views: Sequence) -> go.Figure:
    """lambda per term against step; the residual's weight is left out while it stays 1."""
    return _term_lines(views, "lambdas", "λ", "Loss weights λ per term", skip_constant_res=True)


def error_figure(views: Sequence) -> go.Figure:
    """Relative L2 error on the evaluation grid against step, every run."""
    fig, colors = go.Figure(), run_colors(views)
    for v in views:
        fig.add_trace(go.Scatter(x=[e.step for e in v.evals], y=[e.rel_l2 for e in v.evals],
                                 mode="lines+markers", name=v.name, line=dict(color=colors[v.name])))
    quantities = {v.config.make_problem().quantity for v in views}
    return _layout(fig, f"Relative L2 error of {' / '.join(sorted(quantities)) or 'u'} on the evaluation grid")


def histogram_figure(snap: GradSnapshot, title: str = "") -> go.Figure:
    """Paper Fig. 2 / 7: per layer, the distribution of log10 |grad_W (lambda_t L_t)| for every term."""
    n = len(snap.layers)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(snap.layers), shared_yaxes=False,
                        horizontal_spacing=0.06, vertical_spacing=0.18)
    centers = (snap.edges[:-1] + snap.edges[1:]) / 2
    for j, layer in enumerate(snap.layers):
        r, c = j // cols + 1, j % cols + 1
        for i, term in enumerate(snap.terms):
            counts = snap.counts[i, j]
            dens = counts / max(counts.sum(), 1)
            lam = snap.lambdas.get(term, 1.0)
            name = f"∇L_{term}" if lam == 1.0 else f"∇(λ_{term}·L_{term}), λ={lam:.3g}"
            fig.add_trace(go.Scatter(
                x=centers, y=dens, mode="lines", line=dict(shape="hvh", color=TERM_COLORS.get(term)),
                fill="tozeroy", opacity=0.5, name=name, legendgroup=term, showlegend=j == 0,
                hovertemplate=f"{term}: mean |g| = {snap.mean_abs[i, j]:.2e}, max |g| = {snap.max_abs[i, j]:.2e}"
                              "<extra></extra>"), row=r, col=c)
        fig.update_xaxes(title_text="log10 |gradient|", row=r, col=c)
    fig.update_layout(title=title or f"Back-propagated gradients per layer at step {snap.step}",
                      height=280 * rows + 80, margin=dict(l=10, r=10, t=70, b=10), template=TEMPLATE,
                      legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom", xanchor="left"))
    fig.update_yaxes(title_text="fraction of weights", col=1)
    return fig


def field_figure(view, step_index: int = -1) -> go.Figure:
    """Reference, prediction and |error| on the evaluation grid (heatmaps in 2D, curves in 1D)."""
    problem = view.config.make_problem()
    snap = view.evals[step_index]
    ref, pred = np.asarray(view.reference), np.asarray(snap.prediction, dtype=np.float64)
    err = np.abs(pred - ref)
    q = problem.quantity
    axes = [np.linspace(lo, hi, view.config.eval_points) for lo, hi in problem.domain]
    if len(axes) == 1:
        fig = make_subplots(rows=1, cols=2, subplot_titles=[f"{q}: reference and prediction", "|error|"])
        fig.add_trace(go.Scatter(x=axes[0], y=ref, name="reference", line=dict(color="black")), 1, 1)
        fig.add_trace(go.Scatter(x=axes[0], y=pred, name="prediction", line=dict(dash="dash")), 1, 1)
        fig.add_trace(go.Scatter(x=axes[0], y=err, name="|error|", line=dict(color="#d62728")), 1, 2)
        fig.update_xaxes(title_text=problem.inputs[0])
    else:
        ref_name = "exact" if q == "u" else "reference (finite differences)"
        fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.1,
                            subplot_titles=[f"{ref_name} {q}", f"predicted {q}", "|error|"])
        for k, (z, axis) in enumerate(((ref, "coloraxis"), (pred, "coloraxis"), (err, "coloraxis2"))):
            fig.add_trace(go.Heatmap(x=axes[0], y=axes[1], z=z, coloraxis=axis, name=("reference", "prediction",
                                                                                      "|error|")[k]), 1, k + 1)
            fig.update_xaxes(title_text=problem.inputs[0], row=1, col=k + 1, constrain="domain")
            fig.update_yaxes(title_text=problem.inputs[1] if k == 0 else None, showticklabels=k == 0, row=1,
                             col=k + 1, scaleanchor=f"x{k + 1 if k else ''}", constrain="domain")
        lo, hi = float(np.nanmin(ref)), float(np.nanmax(ref))  # NaN: outside a domain with holes
        scale = "Viridis" if lo >= 0 else "RdBu_r"  # a field that is never negative (|u|) gets a sequential one
        fig.update_layout(  # exact and predicted share one colour scale, so they compare by eye
            coloraxis=dict(colorscale=scale, cmin=lo, cmax=hi, colorbar=dict(x=0.655, len=0.85, thickness=10)),
            coloraxis2=dict(colorscale="Viridis", colorbar=dict(x=1.0, len=0.85, thickness=10)))
    fig.update_layout(title=f"{view.label}: step {snap.step}, relative L2 error {snap.rel_l2:.2e}", height=380,
                      margin=dict(l=10, r=10, t=70, b=10), template=TEMPLATE)
    return fig


def solution_figure(problem_name, params: dict | None = None, n: int = 100) -> go.Figure:
    """The exact (or reference) solution of a problem on its evaluation grid: what the networks must learn.
    ``problem_name``: a registered name (with ``params``) or a Problem instance (a spec problem)."""
    problem = make_problem(problem_name, **(params or {})) if isinstance(problem_name, str) else problem_name
    grid, shape = problem.grid(n)
    inside = problem.mask(grid)
    field = np.full(len(grid), np.nan)  # NaN outside a domain with holes: blank in the picture
    field[inside] = problem.reference(grid[inside])
    field = field.reshape(shape)
    axes = [np.linspace(lo, hi, n) for lo, hi in problem.domain]
    if len(axes) == 1:
        fig = go.Figure(go.Scatter(x=axes[0], y=field, line=dict(color="black"), name=problem.quantity))
        fig.update_xaxes(title_text=problem.inputs[0])
    else:
        fig = go.Figure(go.Heatmap(x=axes[0], y=axes[1], z=field, colorscale="RdBu_r" if np.nanmin(field) < 0
                                   else "Viridis", colorbar=dict(thickness=10)))
        fig.update_xaxes(title_text=problem.inputs[0], constrain="domain")
        fig.update_yaxes(title_text=problem.inputs[1], scaleanchor="x", constrain="domain")
    kind = "exact solution" if problem.quantity == "u" else "reference solution (finite differences)"
    fig.update_layout(title=f"What the networks must learn: {problem.describe()}, {kind} {problem.quantity}",
                      height=380, margin=dict(l=10, r=10, t=50, b=10), template=TEMPLATE)
    return fig


def baseline(views: Sequence):
    """The run the others are measured against: the first M1, else the first run shown."""
    return next((v for v in views if v.label == "M1"), views[0] if views else None)


def compare_table(views: Sequence) -> pd.DataFrame:
    """One row per run: status, step, current error, lambdas, speed, and the improvement factor over the
    baseline (M1, else the first run) of the same problem."""
    base, ref = {}, baseline(views)
    for v in views:
        if ref is not None and v.label == ref.label and v.evals:
            base.setdefault((v.config.problem, tuple(sorted(v.config.params.items()))), v.evals[-1].rel_l2)
    rows = []
    for v in views:
        err = v.evals[-1].rel_l2 if v.evals else None
        m1 = base.get((v.config.problem, tuple(sorted(v.config.params.items()))))
        lam = v.steps[-1].lambdas if v.steps else {}
        rows.append({
            "run": v.name, "method": v.label, "status": v.status, "step": v.steps_done,
            "rel. L2 error": err,
            "λ": ", ".join(f"{k}={x:.3g}" for k, x in lam.items() if k != "res" or x != 1.0),
            "steps/s": v.steps_per_s,
            f"× better than {ref.label}": m1 / err if m1 and err else None,
        })
    return pd.DataFrame(rows)


# -- Hessian diagnostics and the Lessons page ------------------------------------------------------------------
def _sigma_name(term: str, snap) -> str:
    return f"σ_max(∇²L_{term})" if not snap.lambdas else f"σ_max(∇²(λ_{term}·L_{term}))"


def sigma_figure(views: Sequence, title: str = "Stiffness: largest Hessian eigenvalue per term") -> go.Figure:
    """Paper Fig. 5: sigma_max of the Hessian of each weighted term lambda_t L_t (thin, dashed by term) and of the
    loss L (thick) against step, every run, with 2 / lr: plain gradient descent on L is unstable where the thick
    line lies above it."""
    fig, colors = go.Figure(), run_colors(views)
    for v in views:
        if not v.hess:
            continue
        steps = [h.step for h in v.hess]
        for term in v.hess[0].eigenvalues:
            fig.add_trace(go.Scatter(
                x=steps, y=[abs(h.eigenvalues[term]) for h in v.hess], mode="lines+markers", marker=dict(size=4),
                name=f"{v.name} · {_sigma_name(term, v.hess[0])}", legendgroup=v.name,
                line=dict(color=colors[v.name], dash=TERM_DASH.get(term, "dashdot"), width=1.5)))
        fig.add_trace(go.Scatter(x=steps, y=[h.sigma_max for h in v.hess], mode="lines",
                                 name=f"{v.name} · σ_max(∇²L), L = Σ λ_t L_t", legendgroup=v.name,
                                 line=dict(color=colors[v.name], width=3), opacity=0.5))
    with_lr = [[h for h in v.hess if math.isfinite(h.lr) and h.lr > 0] for v in views]  # L-BFGS's have none
    longest = max(with_lr, key=len, default=None)
    if longest:
        fig.add_trace(go.Scatter(x=[h.step for h in longest], y=[2 / h.lr for h in longest],
                                 mode="lines", name="2 / lr (GD stability bound)",
                                 line=dict(color="black", dash="dot", width=1)))
    return _layout(fig, title)


def stability_figure(views: Sequence) -> go.Figure:
    """lr * sigma_max(grad^2 L) against step for every run, and the value 2 above which plain gradient descent
    at that learning rate diverges along the top eigenvector (Adam rescales the step, so it may still train)."""
    fig, colors = go.Figure(), run_colors(views)
    for v in views:
        if v.hess:
            fig.add_trace(go.Scatter(x=[h.step for h in v.hess], y=[h.stability for h in v.hess],
                                     mode="lines+markers", name=v.name, line=dict(color=colors[v.name])))
    fig = _layout(fig, "lr · σ_max (gradient descent: < 2)", also=[2.0])
    return reference_line(fig, 2.0, "2: gradient descent's bound")


def imbalance_scaling_figure(s) -> go.Figure:
    """Lesson 1: the gradient ratio against C on log-log axes, at initialisation and after training, with the
    fitted slopes and the paper's C^4 upper bound anchored at the first initialisation point."""
    fig = go.Figure()
    for ys, rng, slope, name, color in ((s.init, s.init_range, s.slope_init, "at initialisation", "#1f77b4"),
                                        (s.after, s.after_range, s.slope_after, "second half of training",
                                         "#d62728")):
        ok = np.isfinite(ys)
        if not ok.any():
            continue
        label = f"{name}" + (f" (fitted slope {slope:.2f})" if slope is not None else "")
        fig.add_trace(go.Scatter(
            x=s.cs[ok], y=ys[ok], mode="lines+markers", name=label, line=dict(color=color),
            error_y=dict(type="data", symmetric=False, array=(rng[1] - ys)[ok], arrayminus=(ys - rng[0])[ok],
                         thickness=1)))
    first = np.flatnonzero(np.isfinite(s.init))
    if first.size:
        c0, y0 = s.cs[first[0]], s.init[first[0]]
        cs = np.geomspace(s.cs.min(), s.cs.max(), 30)
        fig.add_trace(go.Scatter(x=cs, y=y0 * (cs / c0) ** 4, mode="lines", name="∝ C⁴: the paper's upper bound",
                                 line=dict(color="gray", dash="dash")))
    fig = _layout(fig, "max |∇L_r| / mean |∇L_bc| against C (unweighted; geometric mean over seeds, bars: range)")
    fig.update_xaxes(type="log", title_text="C (u = sin(C x))", tickvals=list(s.cs), ticktext=[f"{c:g}" for c in s.cs])
    fig.update_layout(hovermode="closest")
    return fig


def sigma_ratio_figure(steps: Sequence[int], ratios: Sequence[float], title: str) -> go.Figure:
    """Lesson 2: sigma_max(stiff) / sigma_max(mild) against step, with the factor 10 marked."""
    fig = go.Figure(go.Scatter(x=list(steps), y=list(ratios), mode="lines+markers", name="ratio",
                               line=dict(color="#9467bd")))
    fig = _layout(fig, title, height=300)
    fig.update_yaxes(**log_ticks(list(ratios) + [10.0]))
    return reference_line(fig, 10.0, "10×")


def spectrum_figure(spectra: dict[str, dict], terms: Sequence[str] = ("res", "bc"),
                    colors: dict[str, str] | None = None) -> go.Figure:
    """Paper Fig. 4: Hessian eigenvalues of each (weighted) term sorted by magnitude, one line per run and term.
    ``spectra``: run name -> {"full": bool, "values": {term: eigenvalues, largest first}}; ``colors``: the
    runs' colours in the page's other charts (``run_colors``), so a run keeps its colour."""
    fig = go.Figure()
    colors = colors or dict(zip(spectra, [*METHOD_COLORS.values(), *OTHER_COLORS]))
    full = all(s["full"] for s in spectra.values())
    for name, s in spectra.items():
        for term in terms:
            vals = np.sort(np.abs(np.asarray(s["values"][term])))[::-1]
            fig.add_trace(go.Scatter(x=np.arange(1, vals.size + 1), y=vals, mode="lines+markers",
                                     marker=dict(size=3), name=f"∇²(λ·L_{term})", legendgroup=name,
                                     legendgrouptitle_text=name,
                                     line=dict(color=colors.get(name, OTHER_COLORS[0]), dash=TERM_DASH.get(term, "dashdot"))))
    what = "all eigenvalues" if full else "top eigenvalues (Lanczos)"
    fig = _layout(fig, f"Hessian spectrum at the end: {what}")
    fig.update_yaxes(title_text="|eigenvalue|")
    fig.update_xaxes(title_text="rank", type="log" if full else "linear")
    return fig
