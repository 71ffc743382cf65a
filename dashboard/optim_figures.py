"""What the optimisers add to the charts, without Streamlit (``dashboard.optim_view`` draws them).

* The switch of an ``adam+lbfgs`` run (Rathore, Lei, Frangella, Lu & Udell, ICML 2024): a vertical line at
  ``lbfgs_after``, "L-BFGS from here", in the run's colour, on any chart whose x-axis is the step (``mark_switch``).
* sigma_max of each term's Hessian before and after the switch: the stiffness snapshot nearest before or at the
  switch (the trainer takes one at the switch when ``hessian_every`` > 0) and the last one after it
  (``sigma_rows``, ``sigma_words``: "res 5.5e+03 → 2.7e+04").
* The loss against the error over training (``loss_error_figure``): Rathore et al.'s point that good solutions
  need near-zero loss, one marker per evaluation step, log-log.
"""
from __future__ import annotations

import bisect
import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.figures import TEMPLATE, log_ticks, run_colors, set_layout

SWITCH_TEXT = "L-BFGS from here"
PHASE_SYMBOL = {"Adam": "circle", "L-BFGS": "diamond"}


def switch_step(view) -> int | None:
    """The step at which this run's L-BFGS phase began: ``lbfgs_after`` for an adam+lbfgs run that has trained
    past it (its first L-BFGS iteration is step ``lbfgs_after``), else None (another optimiser, or not there yet)."""
    c = view.config
    if getattr(c, "optimizer", "adam") != "adam+lbfgs" or c.lbfgs_after >= c.steps:
        return None
    return c.lbfgs_after if view.steps_done > c.lbfgs_after else None


def mark_switch(fig: go.Figure, views: Sequence) -> go.Figure:
    """A dash-dotted vertical line at each shown adam+lbfgs run's switch, labelled "L-BFGS from here" (with the
    runs' names where more than one adam+lbfgs run is shown), in the run's colour (grey for runs sharing it)."""
    at: dict[int, list[str]] = {}
    for v in views:
        k = switch_step(v)
        if k is not None:
            at.setdefault(k, []).append(v.name)
    if not at:
        return fig
    colors = run_colors(views)
    named = sum(len(n) for n in at.values()) > 1  # one such run: its colour says which
    last = max((v.steps_done for v in views), default=0)
    shapes = list(fig.layout.to_plotly_json().get("shapes", []))
    for k, names in sorted(at.items()):
        color = colors[names[0]] if len(names) == 1 else "#555555"
        text = f"{', '.join(names)}: {SWITCH_TEXT}" if named else SWITCH_TEXT
        # the line's own label, not an annotation (plotly.js widens an axis's autorange to fit annotations' text);
        # left of the line when the switch is late in the chart, where the plot area would clip it
        shapes.append(dict(type="line", xref="x", yref="paper", x0=k, x1=k, y0=0, y1=1,
                           line=dict(color=color, dash="dashdot", width=1.5),
                           label=dict(text=text, textposition="end", textangle=0, yanchor="top", padding=4,
                                      xanchor="right" if k > 0.6 * last else "left",
                                      font=dict(size=11, color=color))))
    return set_layout(fig, dict(shapes=shapes))


def _before_after(view):
    """(the stiffness snapshot nearest before or at the switch, the last one after it or None), or None."""
    k = switch_step(view)
    if k is None or not view.hess:
        return None
    before = [h for h in view.hess if h.step <= k]
    after = [h for h in view.hess if h.step > k]
    if not before:
        return None
    return before[-1], (after[-1] if after else None)


def sigma_rows(views: Sequence) -> list[dict]:
    """Per adam+lbfgs run with a stiffness snapshot before the switch, per term: sigma_max of the term's Hessian
    (lambda_t L_t, the weights frozen at the switch) there and at the last snapshot after it, and their ratio."""
    rows = []
    for v in views:
        pair = _before_after(v)
        if pair is None:
            continue
        a, b = pair
        for term, x in a.eigenvalues.items():
            y = abs(b.eigenvalues[term]) if b is not None and term in b.eigenvalues else None
            rows.append({"run": v.name, "term": term, "switch": switch_step(v), "before at step": a.step,
                         "σ_max before": abs(x), "after at step": b.step if b is not None else None,
                         "σ_max after": y, "after / before": y / abs(x) if y is not None and x else None})
    return rows


def sigma_words(rows: list[dict]) -> str:
    """Per run, "name: res 5.5e+03 → 2.7e+04, bc 1.8e+02 → 2.0e+02 (steps 1,000 → 1,500)"; a run with no
    snapshot after its switch yet says so."""
    out, by = [], {}
    for r in rows:
        by.setdefault(r["run"], []).append(r)
    for run, rs in by.items():
        if rs[0]["after at step"] is None:
            now = ", ".join(f"{r['term']} {r['σ_max before']:.2g}" for r in rs)
            out.append(f"{run}: {now} at step {rs[0]['before at step']:,}, no snapshot after the switch yet")
            continue
        moves = ", ".join(f"{r['term']} {r['σ_max before']:.2g} → {r['σ_max after']:.2g}" for r in rs)
        out.append(f"{run}: {moves} (steps {rs[0]['before at step']:,} → {rs[0]['after at step']:,})")
    return "; ".join(out)


# -- the loss against the error -----------------------------------------------------------------------------------
def total_loss(record) -> float:
    """The weighted training loss sum_t lambda_t L_t of one step record."""
    return float(sum(record.lambdas.get(t, 1.0) * x for t, x in record.losses.items()))


def loss_at(view, step: int):
    """The step record at ``step`` or the last one before it (the final evaluation, at ``steps``, follows the
    last step's record), or None."""
    steps = view.steps
    i = bisect.bisect_right(steps, step, key=lambda r: r.step) - 1
    return steps[i] if i >= 0 else None


def loss_error_points(view) -> list[tuple[int, float, float, str]]:
    """(step, total weighted loss, relative L2 error, phase) at each evaluation with a finite, positive pair."""
    k, out = switch_step(view), []
    for e in view.evals:
        rec = loss_at(view, e.step)
        if rec is None:
            continue
        loss = total_loss(rec)
        if math.isfinite(loss) and loss > 0 and math.isfinite(e.rel_l2) and e.rel_l2 > 0:
            out.append((e.step, loss, e.rel_l2, "L-BFGS" if k is not None and rec.step >= k else "Adam"))
    return out


def loss_error_figure(views: Sequence, height: int = 360) -> go.Figure:
    """x: the total weighted loss at each evaluation step, y: the relative L2 error there, log-log; one colour
    per run (the other charts' colours), joined in step order; L-BFGS iterations as diamonds."""
    fig, colors, xs, ys = go.Figure(), run_colors(views), [], []
    for v in views:
        pts = loss_error_points(v)
        if not pts:
            continue
        step, loss, err, phase = (np.array(c) for c in zip(*pts))
        xs += list(loss)
        ys += list(err)
        fig.add_trace(go.Scatter(
            x=loss, y=err, mode="lines+markers", name=v.name, customdata=np.stack([step, phase], axis=1),
            marker=dict(color=colors[v.name], size=7, symbol=[PHASE_SYMBOL[p] for p in phase]),
            line=dict(color=colors[v.name], width=1), opacity=0.85,
            hovertemplate=f"{v.name} · step %{{customdata[0]}} (%{{customdata[1]}})<br>loss %{{x:.3g}}, "
                          "error %{y:.3g}<extra></extra>"))
    return set_layout(fig, dict(
        title=dict(text="Loss against error, one point per evaluation (◆: L-BFGS)", font=dict(size=14)),
        height=height, margin=dict(l=10, r=10, t=50, b=10), template=TEMPLATE, hovermode="closest",
        legend=dict(orientation="v", x=1.02, xanchor="left", y=1, yanchor="top", font=dict(size=11)),
        xaxis=dict(type="log", exponentformat="power", title=dict(text="total weighted loss Σ λ_t L_t"),
                   **log_ticks(xs)),
        yaxis=dict(type="log", exponentformat="power", title=dict(text="relative L2 error"), **log_ticks(ys))))


def loss_error_words(views: Sequence) -> str:
    """Per run, its latest loss and error: "M1: loss 8.3 at error 1.1; ..." (empty without points)."""
    out = []
    for v in views:
        pts = loss_error_points(v)
        if pts:
            step, loss, err, _ = pts[-1]
            out.append(f"{v.name}: loss {loss:.2g} at error {err:.2g} (step {step:,})")
    return "; ".join(out)
