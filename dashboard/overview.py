"""The Overview: the paper's three facts on one projector screen, for the runs shown, at one common step.

1. the residual's back-propagated gradients dwarf the boundary's (M1), side by side with M2's;
2. annealing lifts lambda until they balance (lambda against step);
3. the error of M4 falls far below M1's (relative L2 error against step, and the two |error| fields);
and one sentence that says what the numbers show now. Pure builders: records in, figures and text out.
"""
from __future__ import annotations

import bisect
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.figures import TEMPLATE, TERM_COLORS, TERM_DASH, log_ticks, run_colors, set_layout

HEIGHT = 192  # px per chart: two rows fit under the controls on a 1280x720 screen


def pick(views: Sequence, label: str, fallback: int):
    """The first run of a method, else the run at ``fallback`` (single-run pages, custom sets)."""
    return next((v for v in views if v.label == label), views[min(fallback, len(views) - 1)] if views else None)


def distinct(views: Sequence) -> list:
    """The runs in order, each once (by identity: a view is not hashable), without the missing ones."""
    out = []
    for v in views:
        if v is not None and all(v is not w for w in out):
            out.append(v)
    return out


def common_step(views: Sequence, kind: str, upto: int | None = None) -> int | None:
    """The latest step (at most ``upto``) at which every one of these runs has a snapshot of this kind ('grads'
    or 'evals')."""
    sets = [{s.step for s in getattr(v, kind) if upto is None or s.step <= upto} for v in views if v is not None]
    both = set.intersection(*sets) if sets else set()
    return max(both) if both else None


def at(snaps, step):
    return next((s for s in snaps if s.step == step), None)


def grad_range(views: Sequence) -> tuple[float, float]:
    """One x-range (log10 |gradient|) for every histogram of these runs, over all their snapshots, so that
    moving through the steps never makes the axes jump."""
    edges = [s.edges for v in views for s in v.grads]
    if not edges:
        return -8.0, 0.0
    return float(min(e[0] for e in edges)), float(max(e[-1] for e in edges))


def _compact(fig: go.Figure, title: str, height: int = HEIGHT, legend: str = "right", **axes) -> go.Figure:
    """Small charts for the Overview: the legend beside the plot (right) or inside it (inside), never under the
    x-axis title; ``axes``: xaxis=dict(...), yaxis=dict(...) (one layout assignment, ``figures.set_layout``)."""
    place = (dict(orientation="v", x=1.02, xanchor="left", y=1, yanchor="top") if legend == "right" else
             dict(orientation="v", x=0.01, xanchor="left", y=0.99, yanchor="top", bgcolor="rgba(255,255,255,0.7)"))
    return set_layout(fig, dict(title=dict(text=title, font=dict(size=13), y=0.97), height=height, template=TEMPLATE,
                                margin=dict(l=8, r=8, t=34, b=8), legend=dict(font=dict(size=10), **place),
                                font=dict(size=11), **axes))


def _axis(title: str, **more) -> dict:
    return dict(title=dict(text=title, standoff=2), **more)


def layer_histogram(view, snap, layer: int, xrange: tuple[float, float]) -> go.Figure:
    """One layer of one run: the distribution of log10 |grad_W L_res| against log10 |grad_W (lambda_i L_i)|."""
    traces = []
    centers = (snap.edges[:-1] + snap.edges[1:]) / 2
    for i, term in enumerate(snap.terms):
        counts = snap.counts[i, layer]
        lam = snap.lambdas.get(term, 1.0)
        name = "∇L_res" if term == "res" else f"∇(λ·L_{term}), λ={lam:.3g}"
        traces.append(go.Scatter(x=centers, y=counts / max(counts.sum(), 1), mode="lines", name=name,
                                 line=dict(shape="hvh", color=TERM_COLORS.get(term)), fill="tozeroy", opacity=0.5))
    return _compact(go.Figure(data=traces), f"{view.name} gradients · {snap.layers[layer]}", legend="inside",
                    xaxis=_axis("log10 |∇W|", range=list(xrange)), yaxis=_axis("fraction of weights"))


def error_field(view, step: int) -> go.Figure:
    """|prediction - reference| on the evaluation grid at this step (sequential colour scale: never negative)."""
    snap = at(view.evals, step)
    problem = view.config.make_problem()
    err = np.abs(np.asarray(snap.prediction, dtype=np.float64) - np.asarray(view.reference))
    axes = [np.linspace(lo, hi, view.config.eval_points) for lo, hi in problem.domain]
    title = f"{view.name} |error| · rel. L2 {snap.rel_l2:.2e}"
    if len(axes) == 1:
        fig = go.Figure(go.Scatter(x=axes[0], y=err, line=dict(color="#d62728"), name="|error|"))
        return _compact(fig, title, xaxis=dict(title=dict(text=problem.inputs[0])))
    k = max(1, int(np.ceil(err.shape[0] / 50)))  # at most 50 x 50 cells: a small chart shows no more
    fig = go.Figure(go.Heatmap(x=axes[0][::k], y=axes[1][::k], z=err[::k, ::k], colorscale="Viridis", zmin=0,
                               colorbar=dict(thickness=8, len=0.9)))
    return _compact(fig, title, xaxis=_axis(problem.inputs[0], constrain="domain"),
                    yaxis=_axis(problem.inputs[1], scaleanchor="x", constrain="domain"))


def _upto(records: Sequence, step: int | None) -> Sequence:
    """The records up to this step (all of them for None); records are in step order."""
    if step is None or not records or records[-1].step <= step:
        return records
    return records[:bisect.bisect_right([r.step for r in records], step)]


def lambda_lines(views: Sequence, upto: int | None = None) -> go.Figure:
    """lambda of every non-residual term against step, one colour per run (runs without annealing stay at 1), up
    to step ``upto`` (default: all)."""
    traces, colors = [], run_colors(views)
    for v in views:
        steps = _upto(v.steps, upto)
        if not steps:
            continue
        idx = np.unique(np.linspace(0, len(steps) - 1, min(len(steps), 600)).astype(int))
        terms = [t for t in steps[0].lambdas if t != "res"]
        for term in terms:
            traces.append(go.Scatter(x=np.array([steps[i].step for i in idx]),
                                     y=np.array([steps[i].lambdas[term] for i in idx]),
                                     mode="lines", name=v.name if len(terms) == 1 else f"{v.name} · {term}",
                                     line=dict(color=colors[v.name], width=1.6,
                                               dash=TERM_DASH.get(term, "solid") if len(terms) > 1 else "solid")))
    ticks = log_ticks([y for trace in traces for y in trace.y])
    return _compact(go.Figure(data=traces), "λ of the boundary terms: annealing lifts it",
                    yaxis=_axis("λ", type="log", **ticks), xaxis=_axis("step"))


def error_lines(views: Sequence, upto: int | None = None) -> go.Figure:
    """Relative L2 error against step, one line per run, up to step ``upto`` (default: all)."""
    colors = run_colors(views)
    evals = {v.name: _upto(v.evals, upto) for v in views}
    traces = [go.Scatter(x=[e.step for e in evals[v.name]], y=[e.rel_l2 for e in evals[v.name]], mode="lines+markers",
                         name=v.name, line=dict(color=colors[v.name]), marker=dict(size=4)) for v in views]
    ticks = log_ticks([e.rel_l2 for es in evals.values() for e in es])
    return _compact(go.Figure(data=traces), "Relative L2 error", yaxis=_axis("rel. L2 error", type="log", **ticks),
                    xaxis=_axis("step"))


def imbalance(snap) -> tuple[str, float] | None:
    """The boundary-like term whose gradients the residual's dwarf most, and by how much: the mean over layers
    of mean |grad L_res|, over the same of mean |grad (lambda_i L_i)|."""
    if snap is None or len(snap.terms) < 2:
        return None
    res = snap.mean_abs[0].mean()
    ratios = {t: res / max(snap.mean_abs[i].mean(), 1e-300) for i, t in enumerate(snap.terms) if i}
    term = max(ratios, key=ratios.get)
    return term, float(ratios[term])


def story(m1, m2, m4, grad_step: int | None, eval_step: int | None) -> str:
    """One sentence of what the numbers show now, from the snapshots at the common steps."""
    parts = []
    first = imbalance(at(m1.grads, grad_step)) if m1 is not None and grad_step is not None else None
    if first:
        parts.append(f"{m1.name}'s residual gradients are {first[1]:.3g}× the {first[0]} term's")
    adaptive = m2 is not None and getattr(getattr(m2, "config", None), "weighting", "annealing") != "fixed"
    if adaptive and m2 is not m1 and grad_step is not None:
        snap = at(m2.grads, grad_step)
        second = imbalance(snap)
        if second:
            lam = snap.lambdas.get(second[0], 1.0)
            verb = "has balanced them" if second[1] < 3 else "is closing the gap"
            parts.append(f"{m2.name}'s λ_{second[0]} = {lam:.3g} {verb} ({second[1]:.2g}× left)")
    if m1 is not None and m4 is not None and m4 is not m1 and eval_step is not None:
        e1, e4 = at(m1.evals, eval_step).rel_l2, at(m4.evals, eval_step).rel_l2
        if e4 > 0:
            rel = f"{e1 / e4:.3g}× below" if e4 < e1 else f"{e4 / e1:.3g}× above"
            parts.append(f"{m4.name}'s error {e4:.2e} is {rel} {m1.name}'s {e1:.2e}")
    where = f" (step {grad_step:,})" if grad_step is not None else ""
    return ("; ".join(parts) + where + ".") if parts else "Waiting for the first gradient snapshots and evaluations."


def stiffness_rows(views: Sequence) -> list[dict]:
    """Per run, at its latest Hessian snapshot: sigma_max of the residual's Hessian, of each other weighted
    term's, their ratio (the stiffness imbalance the paper's argument is about), sigma_max of the loss and
    lr * sigma_max."""
    rows = []
    for v in views:
        if not v.hess:
            continue
        h = v.hess[-1]
        sig = {t: abs(x) for t, x in h.eigenvalues.items()}
        others = {t: x for t, x in sig.items() if t != "res"}
        worst = min(others, key=others.get) if others else None
        rows.append({"run": v.name, "step": h.step, "σ_max(∇²L_res)": sig.get("res"),
                     "term": worst, "σ_max(∇²λ·L_term)": others.get(worst),
                     "stiffness imbalance": sig.get("res", 0) / others[worst] if worst and others[worst] else None,
                     "σ_max(∇²L)": abs(h.total), "lr·σ_max": h.stability})
    return rows


def stiffness_words(rows: list[dict]) -> str:
    """What the modified MLP does to the stiffness here, measured from the rows (M1 against M3, or M2 against
    M4, at their latest snapshots), in one sentence; empty when the runs shown cannot tell."""
    by = {r["run"]: r for r in rows}
    for plain, gated in (("M1", "M3"), ("M2", "M4")):
        a, b = by.get(plain), by.get(gated)
        if a and b and a["σ_max(∇²L_res)"] and b["σ_max(∇²L_res)"]:
            q = a["σ_max(∇²L_res)"] / b["σ_max(∇²L_res)"]
            verb = f"lowers it {q:.2g}×" if q > 1 else f"raises it {1 / q:.2g}×"
            return (f"Measured here: the modified MLP ({gated}) {verb} against {plain} "
                    f"(σ_max(∇²L_res) {b['σ_max(∇²L_res)']:.3g} against {a['σ_max(∇²L_res)']:.3g}, steps "
                    f"{b['step']:,} and {a['step']:,}; the paper reports about 3× lower), and its stiffness "
                    f"imbalance is {b['stiffness imbalance']:.3g} against {a['stiffness imbalance']:.3g}.")
    return ""


def _at_most(records, step: int | None):
    recs = [r for r in records or () if step is None or r.step <= step]
    return recs[-1] if recs else None


CONFLICT = -0.3  # an alignment score at or below this is the story: the terms clearly pull against each other


def more_story(views: Sequence, m1, m4, eval_step: int | None, upto: int | None) -> str:
    """What else the numbers show for the recipes shown, beyond ``story``'s three facts, in short clauses: the other
    runs' errors against the baseline's, gradients that clearly point against each other (the alignment score at or
    below ``CONFLICT``), how NTK weights offset the kernel traces, how far in time causal weights have reached.
    Empty when none applies."""
    parts = []
    if m1 is not None and eval_step is not None and at(m1.evals, eval_step):
        e1, rel = at(m1.evals, eval_step).rel_l2, []
        for v in views:
            snap = at(v.evals, eval_step) if v is not m1 and v is not m4 else None
            if snap is not None and snap.rel_l2 > 0 and e1 > 0:
                q = e1 / snap.rel_l2
                rel.append(f"{v.name} {q:.3g}× below" if q >= 1.05 else f"{v.name} {1 / q:.3g}× above"
                           if q <= 1 / 1.05 else f"{v.name} level with")
        if rel:
            parts.append(", ".join(rel) + f" {m1.name}")
    against = [(v.name, a.score) for v in views if (a := _at_most(getattr(v, "aligns", None), upto)) is not None
               and a.score <= CONFLICT]
    if against:
        two = len(views[0].steps[-1].losses) == 2 if views and views[0].steps else False
        what = "residual and boundary gradients" if two else "terms' gradients"
        parts.append(f"{what} point against each other in " + ", ".join(f"{n} (A = {a:.2f})" for n, a in against))
    return "; ".join(parts + _kernel_words(views, upto) + _causal_words(views, upto))


def _kernel_words(views: Sequence, upto: int | None) -> list[str]:
    out = []
    for v in views:
        k = _at_most(getattr(v, "kernels", None), upto)
        steps = _upto(v.steps, upto)
        if k is None or v.config.weighting != "ntk" or not steps or len(k.traces) < 2:
            continue
        hi, lo = max(k.traces, key=k.traces.get), min(k.traces, key=k.traces.get)
        out.append(f"{v.name}'s λ_{lo} = {steps[-1].lambdas.get(lo, 1):.3g} offsets Tr K_{hi} = "
                   f"{k.traces[hi] / max(k.traces[lo], 1e-300):.3g}× Tr K_{lo}")
    return out


def _causal_words(views: Sequence, upto: int | None) -> list[str]:
    out = []
    for v in views:
        r = _at_most(getattr(v, "causal", None), upto)
        if r is None:
            continue
        below = np.flatnonzero(r.weights < 0.5)
        reach = r.t[-1] if below.size == 0 else r.t[max(below[0] - 1, 0)]
        out.append(f"{v.name}'s causal weights are ≥ 0.5 up to t = {reach:.2g} (ε = {r.eps:g})")
    return out
