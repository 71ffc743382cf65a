"""The live panel, from the run service's records, in one fragment (``render_live``): the run cards, redrawn every
second while a shown run trains or waits in the queue, and the selected view's charts (the Overview's figures renew
every ``CHARTS_EVERY`` seconds); a chart whose figure did not change is left as it is in the browser (``livechart``).

A browser spends far more on redrawing the panel than the server on building it, and on a 2-core server that
also trains, that time is the training's. Measured in headless Chromium during the default compare (its
renderer's CPU, medians of three 8 s windows), with ``st.plotly_chart``: one fragment for the whole panel every
second, charts renewed every 2 s, 0.37 of a core; two fragments (cards every second, charts every 2 s), 0.24; the
cards alone, 0.07. Only the selected view is drawn. The panel went back to one fragment once its charts were
``live_chart`` components that skip an unchanged figure (``render_live`` says why two fragments lost redraws).

Where that time goes (2026-12-03, 4 pages on one server with the training limit at 4: one page training the
default compare on the Overview, three queued; Chrome's Performance metrics and JS profiler, 15 s windows): the
training page 0.27-0.43 of a core, each queued page 0.10 (React's reconciliation of the cards, about 75 ms per
redraw). On the training page, dropping the four snapshot charts (histograms, |error| fields) took it to 0.21 and
its layouts from 46 to 12 per second: ``st.plotly_chart`` hashes the figure's JSON into the element's id, so the
browser unmounts a chart whose figure changed and builds it anew, with no in-place ``Plotly.react`` update. A
minimal app showed it: the same figure every second kept one chart element, a changing one made a new one on
every redraw. Hiding the mode bar, ``staticPlot`` and switching off CSS animations changed nothing beyond the
noise. So the panel's charts are ``livechart.live_chart``: a component with a fixed key that hands each new
figure to ``Plotly.react``. In a minimal app, four charts redrawn every second cost 0.13 of a core that way
against 0.20; in the 4-page setting above, the training page fell to 0.24-0.26 of a core with 16-20 layouts per
second, and all of Chromium from 0.62-0.65 of a core to 0.54.
"""
from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from dashboard import figures, optim_view, overview, spectral_view, unknowns, views_since
from dashboard.optim_figures import mark_switch
from dashboard.cards import CARDS_EVERY, CHARTS_EVERY, ordinal, ownership_note, status_line  # noqa: F401
from dashboard.live import run_service, viewer
from dashboard.livechart import live_chart
from pinncore import PROBLEMS, ConfigError
from pinncore.store import metrics_frame

VIEWS = ("Overview", "Loss & λ", "Gradient histograms", "Error fields", "Stiffness", *views_since.VIEWS,
         "Compare & export")
# Error fields: the |error| pictures, then the spectral bias (dashboard.spectral_view): both views of the error


def _views() -> list:
    """The runs this session shows, as the run service sees them now (under this session's names)."""
    state = st.session_state
    service, me = run_service(), viewer()
    service.touch(me)
    return [v for n in state.get("w_shown", []) if n in state.runs
            and (v := _named(service.view(state.runs[n], me), n)) is not None]


def render_live(was_active: bool) -> None:
    """The live panel: one card per shown run and whose runs they are, then the view picker and the selected view.

    ONE fragment, redrawn every ``CARDS_EVERY`` seconds while a shown run trains or waits in the queue. The
    Overview's figures renew every ``CHARTS_EVERY`` seconds (``_shown_step``); the other views' with every redraw.
    A chart whose figure did not change is left as it is in the browser (``live_chart``).

    It used to be two fragments, the cards every second and the charts every 2 s. benchmarks/live_load.py (8 pages,
    2,000 steps, six runs) found every page's longest gap at 2.0-2.2 s with the page idle, and every redraw a page
    never showed had never reached its websocket; with the server's message queue instrumented, those redraws were
    made and never enqueued for sending, their run not interrupted. The likely cause, from Streamlit's (1.67) code:
    the browser fires both timers in the same tick every 2 s; when the cards' run has ended before the server reads
    the charts' request, that request starts a new script runner, and events of a replaced runner that were not
    yet delivered are ignored. One fragment sends one request a second, and the gaps fell to 1.3-1.65 s (13 of 15
    runs; two had one gap each, 2.07 and 2.23 s, on a queued page in the burst of Starts).

    When the last shown run stops, the whole page redraws (its buttons, and the polling ends); a queued run that
    starts needs no whole-page redraw any more. A page whose runs wait in the queue draws its cards and a line of
    text, no chart (earlier, queued pages that redrew charts every 2 s cost the browser more than they saved)."""
    views = _views()
    if views:
        status_line(views)
        ownership_note(views)
    if was_active and not any(v.status in ACTIVE for v in views):
        st.rerun(scope="app")
    render_charts(views)


def render_charts(views) -> None:
    """The view picker and the selected view; what Start would train while there is nothing to show."""
    state = st.session_state
    if not views:
        what = start_trains()
        st.info(f"No runs yet. **Start** trains {what}; **+1 / +10 / +100** creates "
                f"{'them' if what.startswith('M1') else 'it'} paused and steps through training one click at a "
                "time.")
        if state.w_problem not in PROBLEMS:  # your own PDE: the editor's Check shows its solution
            return
        params = {p.name: state[f"w_p_{p.name}"] for p in PROBLEMS[state.w_problem].params}
        try:
            st.plotly_chart(figures.solution_figure(state.w_problem, params), key="fig_solution")
        except ConfigError as exc:  # a parameter outside its range: Start will refuse it too
            st.warning(f"No solution to show: {exc}")
        return
    offered = [v for v in VIEWS if v not in views_since.VIEWS or v in views_since.shown(views)]
    if "w_view" in st.session_state and st.session_state["w_view"] not in offered:
        del st.session_state["w_view"]  # a view these runs do not offer (Causal without a time input)
    view = st.segmented_control("View", offered, default=VIEWS[0], key="w_view", label_visibility="collapsed",
                                required=True) or VIEWS[0]
    if not any(v.steps or v.evals or v.grads for v in views):  # queued or starting: no axes without a line
        st.caption(_nothing_yet(views))
        return
    if view == VIEWS[0]:
        _overview(views)
    elif view == VIEWS[1]:
        known = unknowns.lines(views, height=360)
        cols = st.columns(3 if known else 2)
        live_chart(cols[0], mark_switch(figures.loss_figure(views), views), key="fig_loss")
        live_chart(cols[1], mark_switch(figures.lambda_figure(views), views), key="fig_lambda")
        if known:  # an inverse problem: its coefficients beside lambda
            live_chart(cols[2], known, key="fig_unknowns")
        optim_view.loss_error(views)  # good solutions need near-zero loss
    elif view == VIEWS[2]:
        _histograms(views)
    elif view == VIEWS[3]:
        _fields(views)
    elif view == VIEWS[4]:
        _stiffness(views)
    elif view in views_since.VIEWS:
        views_since.render(view, views, _pick_run, _pick_snapshot)
    else:
        _compare(views)


def _nothing_yet(views) -> str:
    """What the panel says instead of empty charts. A page whose runs wait in the queue draws no chart at all:
    with a class on one server most pages wait, and each empty chart costs their browsers as much as a full one."""
    first = min((v.queue_position for v in views if v.queue_position), default=None)
    if first:
        return (f"Queued, {ordinal(first)} in line: the server trains at most its limit of runs at once. The "
                "charts start with the first steps.")
    if any(v.status in TRAINING for v in views):
        return "Starting: the charts start with the first steps."
    return "No steps yet: the charts start with the first one (+1 steps a paused run)."


def start_trains() -> str:
    """What Start trains in the sidebar's mode, in words (the title's help and the empty panel say it)."""
    if st.session_state.get("w_mode", "compare") != "compare":
        return "the run set in the sidebar"
    from pinnlab.recipes import DEFAULT, format_recipes, parse_recipes

    text = st.session_state.get("w_recipes", format_recipes(DEFAULT))
    if text == format_recipes(DEFAULT):
        return "M1–M4 side by side"
    try:
        return " against ".join(r.label() for r in parse_recipes(text)) + " side by side"
    except Exception:  # noqa: BLE001 -- Start says what is wrong with it
        return "the recipes set in the sidebar"


ACTIVE = ("queued", "starting", "running")
TRAINING = ("starting", "running")


def _named(view, name: str):
    """The view under this session's name for the run (names are per session)."""
    import dataclasses

    return None if view is None else dataclasses.replace(view, name=name)


def _overview(views) -> None:
    """The paper's story on one screen: histograms of M1 and M2, lambda, error, the |error| fields of M1 and
    M4, all at one common step, and one sentence that says what they show."""
    m1, m2, m4 = overview.pick(views, "M1", 0), overview.pick(views, "M2", 1), overview.pick(views, "M4", 3)
    pair, ends = overview.distinct([m1, m2]), overview.distinct([m1, m4])
    upto, runs = _shown_step(views), tuple((v.path, v.name) for v in views)
    grad_step = overview.common_step(pair, "grads", upto)
    eval_step = overview.common_step(ends, "evals", upto)
    more = overview.more_story(views, m1, m4, eval_step, upto)
    paper = [v.name for v in views] == ["M1", "M2", "M3", "M4"]
    # the paper's compare: the paper's sentence, the rest on hover (a third line pushed the last charts below a
    # 1280x720 screen); any other recipes: all of it, since the paper's sentence does not cover them
    st.markdown(f":blue-background[{overview.story(m1, m2, m4, grad_step, eval_step)}"
                f"{' Also: ' + more + '.' if more and not paper else ''}]",
                help=f"Also: {more}." if more and paper else None)
    known = unknowns.words(views)
    if known:  # an inverse problem: "kappa = 0.1012 (true 0.1)"
        st.markdown(f"**Learned coefficients** · {known}")
    top = st.columns(4)
    if grad_step is not None:
        layers = list(overview.at(m1.grads, grad_step).layers)
        layer = st.session_state.get("w_ov_layer", layers[-1])
        layer = layer if layer in layers else layers[-1]
        xrange = overview.grad_range(pair)
        for col, v in zip(top[:2], pair):
            fig = _snapshot_figure(("hist", v.path, v.name, grad_step, layer, xrange),
                                   lambda v=v: overview.layer_histogram(v, overview.at(v.grads, grad_step),
                                                                        layers.index(layer), xrange))
            live_chart(col, fig, key=f"fig_ov_hist{v is m2:d}", revision=f"layer {layer}")
    if eval_step is not None and all(v.reference is not None for v in ends):
        for col, v in zip(top[2:], ends):
            fig = _snapshot_figure(("field", v.path, v.name, eval_step), lambda v=v: overview.error_field(v, eval_step))
            live_chart(col, fig, key=f"fig_ov_field{v is m4:d}")
    lines = unknowns.lines(views, upto, title="Unknown coefficients", height=overview.HEIGHT)
    if lines is not None:  # beside lambda
        c1, cu, c2, c3 = st.columns([1.0, 1.0, 1.0, 0.6])
        live_chart(cu, lines, key="fig_ov_unknowns")
    else:
        c1, c2, c3 = st.columns([1.3, 1.3, 0.6])
    live_chart(c1, _snapshot_figure(("lambda", runs, upto), lambda: overview.lambda_lines(views, upto)),
               key="fig_ov_lambda")
    live_chart(c2, _snapshot_figure(("error", runs, upto), lambda: overview.error_lines(views, upto)),
               key="fig_ov_error")
    if grad_step is not None:
        c3.selectbox("Layer of the histograms", layers, index=layers.index(layer), key="w_ov_layer")
        c3.caption("Same x-range at every step. Other views: the tabs above.")


def _shown_step(views) -> int:
    """The step the Overview's charts show (its lines end there, its snapshots are the latest at or before it):
    the furthest run's, renewed at most every CHARTS_EVERY seconds while runs train, so that a redraw in between
    (a widget of the view changed) leaves the charts as they are, and the browser skips them."""
    import time

    newest = max(v.steps_done for v in views)
    if not any(v.status in ACTIVE for v in views):
        return newest
    built, step = st.session_state.get("ov_lines", (0.0, newest))
    if time.monotonic() - built >= CHARTS_EVERY or step > newest:
        built, step = time.monotonic(), newest
        st.session_state["ov_lines"] = (built, step)
    return step


_FIGURES: dict[tuple, object] = {}  # the Overview's snapshot charts, shared by all sessions of this server


def _snapshot_figure(key: tuple, build):
    """A chart that changes only with a new snapshot (a histogram, an |error| field), built once per snapshot:
    the live panel redraws every second, and most redraws bring no new snapshot."""
    if key not in _FIGURES:
        while len(_FIGURES) >= 64:
            _FIGURES.pop(next(iter(_FIGURES), None), None)
        _FIGURES[key] = build()
    return _FIGURES[key]


def _pick_run(views, key: str):
    names = [v.name for v in views]
    name = st.selectbox("Run", names, key=key) if len(names) > 1 else names[0]
    return next(v for v in views if v.name == name)


def _pick_snapshot(snaps, key: str):
    """A step slider over stored snapshots; 'follow latest' keeps it at the newest while training."""
    if len(snaps) == 1:
        return snaps[0]
    steps = [s.step for s in snaps]
    c1, c2 = st.columns([4, 1])
    follow = c2.toggle("follow latest", value=True, key=f"{key}_follow")
    if follow or state_step(key) not in steps:
        st.session_state[f"{key}_step"] = steps[-1]
    step = c1.select_slider("Snapshot at step", steps, key=f"{key}_step", disabled=follow,
                            help="switch off *follow latest* to pick a step" if follow else None)
    if follow:
        c1.caption("Showing the newest snapshot; switch off *follow latest* to move the slider.")
    return snaps[steps.index(step)]


def state_step(key: str):
    return st.session_state.get(f"{key}_step")


def _histograms(views) -> None:
    v = _pick_run(views, "w_hist_run")
    if not v.grads:
        st.info("No gradient snapshot yet (the first one is taken at step 0).")
        return
    snap = _pick_snapshot(v.grads, "w_hist")
    live_chart(st, figures.histogram_figure(snap, f"{v.name}: back-propagated gradients at step {snap.step}"),
               key="fig_hist")
    ratio = {t: snap.mean_abs[0].mean() / snap.mean_abs[i].mean() for i, t in enumerate(snap.terms) if i}
    st.caption("Mean |∇L_res| / mean |∇(λ·L_term)| over the layers: "
               + ", ".join(f"{t}: {r:.3g}" for t, r in ratio.items())
               + ". A ratio far above 1 is the paper's pathology: the boundary hardly moves the weights.")


def _fields(views) -> None:
    live_chart(st, mark_switch(figures.error_figure(views), views), key="fig_error")
    v = _pick_run(views, "w_field_run")
    if not v.evals:
        st.info("No evaluation yet.")
        return
    snap = _pick_snapshot(v.evals, "w_field")
    live_chart(st, figures.field_figure(v, v.evals.index(snap)), key="fig_field")
    spectral_view.section(views, v)  # the error's and the prediction's spectra against step


def _stiffness(views) -> None:
    if not any(v.hess for v in views):
        st.info("No stiffness snapshot yet: set *Stiffness every* > 0 under Diagnostics before Start.")
        return
    c1, c2 = st.columns([3, 2])
    live_chart(c1, mark_switch(figures.sigma_figure(views), views), key="fig_stiffness")
    live_chart(c2, mark_switch(figures.stability_figure(views), views), key="fig_stability")
    rows = overview.stiffness_rows(views)
    st.dataframe(rows, hide_index=True, key="tbl_stiffness", column_config={
        k: st.column_config.NumberColumn(format="%.3g") for k in
        ("σ_max(∇²L_res)", "σ_max(∇²λ·L_term)", "stiffness imbalance", "σ_max(∇²L)", "lr·σ_max")})
    st.markdown(
        "**Why every run sits far above lr·σ_max = 2 and still trains:** the bound 2/lr is for plain gradient "
        "descent, whose step along the top eigenvector is lr times the curvature; Adam divides each parameter's "
        "step by the running root-mean-square of its gradient, so its effective step there is much smaller than "
        "lr and the bound does not apply to it. What the paper's argument needs is the **stiffness imbalance**, "
        "σ_max of the residual's Hessian over that of the weighted boundary term: when it is large, one learning "
        "rate cannot suit both, and the boundary term is left behind. "
        + overview.stiffness_words(rows))
    optim_view.stiffness_switch(views)  # adam+lbfgs: sigma_max before and after the switch


def _compare(views) -> None:
    table = figures.compare_table(views)
    st.dataframe(table, hide_index=True, key="tbl_compare", column_config={
        "rel. L2 error": st.column_config.NumberColumn(format="%.3e"),
        "steps/s": st.column_config.NumberColumn(format="%.0f"),
        **{c: st.column_config.NumberColumn(format="%.1f×") for c in table.columns if c.startswith("× better")}})

    def csv() -> bytes:
        frames = [metrics_frame(v.steps).assign(run=v.name, method=v.label) for v in views]
        buf = io.StringIO()
        pd.concat(frames, ignore_index=True).to_csv(buf, index=False)
        return buf.getvalue().encode()

    def html() -> bytes:
        from pinnlab.export import download_page

        return download_page([v.path for v in views if v.path])

    c1, c2 = st.columns(2)
    c1.download_button("Download this comparison (one HTML page)", data=html, file_name="pinn-comparison.html",
                       mime="text/html", icon=":material/download:", key="dl_html", on_click="ignore",
                       help="setup, loss and λ, gradient histograms with a step slider, errors, fields and this "
                            "table in one file that opens offline; live runs as of their last checkpoint")
    c2.download_button("Metrics of the shown runs (CSV)", data=csv, file_name="pinn-metrics.csv",
                       mime="text/csv", icon=":material/download:", key="dl_csv", on_click="ignore")
    st.caption("Each run is saved under its directory (config, metrics, snapshots, checkpoint): "
               + "; ".join(f"{v.name} → `{v.path}`" for v in views if v.path)
               + ". Every chart's toolbar has a PNG download.")
