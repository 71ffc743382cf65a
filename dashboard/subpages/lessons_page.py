"""Lessons: the paper's argument in three guided experiments, each run with one button and drawn live.

The experiments train in a worker thread (``dashboard.lessons.Experiment``); a fragment per lesson redraws its
charts every second while it runs, so the page stays responsive.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import streamlit as st
import torch

if __package__ in (None, ""):  # `streamlit run dashboard/app.py` runs this file as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dashboard import ICON, figures, lesson_tabs, lessons  # noqa: E402
from pinncore import PROBLEMS, ConfigError  # noqa: E402

torch.set_num_threads(1)  # the worker gets one core, the page the other
st.set_page_config(page_title="Lessons · PINN gradient pathologies", page_icon=ICON, layout="wide")
state = st.session_state
for key in [k for k in state if str(k).startswith("w_")]:
    state[key] = state[key]  # keep the main page's setup while this page is shown

C_RANGE = next((p.low, p.high) for p in PROBLEMS["poisson1d"].params if p.name == "C")
A2_RANGE = next((p.low, p.high) for p in PROBLEMS["helmholtz"].params if p.name == "a2")
DEFAULTS = {"l1_cs": "1, 2, 4, 8", "l1_steps": 2000, "l1_seeds": 3, "l1_method": "M2", "l1_depth": 1,
            "l1_width": 50, "l1_hist_when": "latest", "l2_steps": 2000, "l2_every": 100, "l2_depth": 3,
            "l2_width": 50, "l3_steps": 3000, "l3_a2": 4.0, "l3_run": "M1", "l3_hist_when": "latest"}
for key, value in DEFAULTS.items():
    if key not in state:
        state[key] = value
lesson_tabs.defaults(state)
if "lessons" not in state:
    state.lessons = {}        # lesson id -> Experiment (this session's)
    state.lesson_errors = {}  # lesson id -> the last launch error, shown once


def session_alive():
    """Is this browser session still open? (for the worker thread; None in bare mode, e.g. AppTest)"""
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not runtime.exists():
        return None
    session_id, rt = ctx.session_id, runtime.get_instance()
    return lambda: rt.is_active_session(session_id)


def launch(lesson: str, build) -> None:
    """Replace the lesson's experiment by a new one; a bad input shows one line naming the field."""
    old = state.lessons.pop(lesson, None)
    if old is not None:
        old.stop()
    try:
        exp = build()
    except ConfigError as exc:
        state.lesson_errors[lesson] = f"Cannot run: {exc}"
        return
    exp.alive = session_alive()
    state.lessons[lesson] = exp.start()


def progress(exp) -> None:
    secs = exp.elapsed if not exp.active else time.perf_counter() - exp.started
    st.progress(min(exp.progress, 1.0), text=f"{exp.status} · {secs:.0f} s")


def when_picker(key: str, snaps):
    """The first or the latest gradient snapshot."""
    when = st.radio("Histograms", ("initialisation", "latest"), key=key, horizontal=True)
    return snaps[0] if when == "initialisation" else snaps[-1]


def live(lesson: str, draw) -> None:
    """Draw the lesson's experiment in a fragment that polls every second while it runs."""
    for msg in [state.lesson_errors.pop(lesson, None)]:
        if msg:
            st.error(msg)
    exp = state.lessons.get(lesson)
    if exp is None:
        return

    def body(was_active: bool) -> None:
        progress(exp)
        if exp.status.startswith("error"):
            st.error(exp.status)
        draw(exp)
        if was_active and not exp.active:
            st.rerun(scope="app")  # finished: stop polling, redraw the button

    st.fragment(body, run_every=1.0 if exp.active else None)(exp.active)


# -- lesson 1 ------------------------------------------------------------------------------------------------
def build_l1():
    cs = lessons.parse_values(state.l1_cs, "C values", *C_RANGE)
    cfgs = lessons.imbalance_configs(cs, int(state.l1_steps), int(state.l1_seeds), state.l1_method,
                                     int(state.l1_depth), int(state.l1_width))
    return lessons.Experiment(cfgs, chunk=100)


def draw_l1(exp) -> None:
    runs = exp.runs()
    s = lessons.imbalance_scaling(runs)
    st.plotly_chart(figures.imbalance_scaling_figure(s), key="fig_l1_scaling")
    facts = []
    for name, ys, slope in (("at initialisation", s.init, s.slope_init), ("after training", s.after, s.slope_after)):
        parts = [f"slope {slope:.2f}" if slope is not None else "slope –"]
        if 1.0 in s.cs and 4.0 in s.cs:
            i1, i4 = int(np.flatnonzero(s.cs == 1.0)[0]), int(np.flatnonzero(s.cs == 4.0)[0])
            if np.isfinite(ys[i1]) and np.isfinite(ys[i4]):
                parts.append(f"C=4 / C=1 = {ys[i4] / ys[i1]:.1f}×")
        facts.append(f"{name}: " + ", ".join(parts))
    slopes = [x for x in (s.slope_init, s.slope_after) if x is not None]
    verdict = ("every measured slope lies below 4" if slopes and max(slopes) < 4 else
               "a slope above 4 comes from too few points or seeds (the ratio varies several-fold between "
               "seeds): add seeds or values of C")
    st.caption("Measured " + "; ".join(facts) + f" (trained with {runs[0].label if runs else '–'}). The dashed C⁴ "
               f"line is the paper's upper bound, not a prediction: {verdict}.")
    largest = max(s.cs) if s.cs.size else None
    run = next((r for r in runs if r.grads and float(r.config.params["C"]) == largest), None)
    if run is not None:
        snap = when_picker("l1_hist_when", run.grads)
        st.plotly_chart(figures.histogram_figure(snap, f"{run.name}: per-layer gradients at step {snap.step}"),
                        key="fig_l1_hist")


def lesson1() -> None:
    st.markdown(
        "A PINN for u'' = −C² sin(Cx) on [0, 1] adds a residual loss L_r and a boundary loss L_bc. The residual "
        "holds second derivatives, so for a solution of frequency C its gradient carries powers of C that the "
        "boundary's lacks: the paper bounds the gap by **O(C⁴)**. *Run* trains one network per C and seed and "
        "measures max|∇L_r| / mean|∇L_bc| (the paper's eq. 40, unweighted) at initialisation and over the second "
        "half of training; the C⁴ line is that bound, drawn for reference, **a bound and not a prediction**.")
    with st.expander("Settings", expanded=False):
        c = st.columns(3)
        c[0].text_input("C values", key="l1_cs", help="comma-separated, each in [%g, %g]" % C_RANGE)
        c[1].number_input("Steps", 100, 20_000, step=100, key="l1_steps")
        c[2].number_input("Seeds per C", 1, 5, key="l1_seeds")
        c = st.columns(3)
        c[0].radio("Train with", ("M2", "M1"), key="l1_method", horizontal=True,
                   help="M2 (annealing) lets every network approach its solution, as the analysis assumes; with "
                        "M1 the large-C runs never fit the boundary, whose own error then props up ∇L_bc")
        c[1].number_input("Hidden layers", 1, 5, key="l1_depth")
        c[2].number_input("Width", 4, 100, key="l1_width")
    if st.button("Run lesson 1", key="btn_l1", type="primary", icon=":material/play_arrow:"):
        launch("l1", build_l1)
    live("l1", draw_l1)


# -- lesson 2 ------------------------------------------------------------------------------------------------
def build_l2():
    cfgs = lessons.stiffness_configs((1.0, 4.0), int(state.l2_steps), int(state.l2_every), int(state.l2_depth),
                                     int(state.l2_width))
    return lessons.Experiment(cfgs, chunk=int(state.l2_every), finish=lessons.spectra)


def draw_l2(exp) -> None:
    runs = exp.runs()
    c1, c2 = st.columns(2)
    c1.plotly_chart(figures.sigma_figure(runs, "σ_max of each term's Hessian (paper Fig. 5)"), key="fig_l2_sigma")
    c2.plotly_chart(figures.loss_figure(runs), key="fig_l2_loss")
    steps, ratios = lessons.sigma_ratio(runs[0], runs[1])
    if ratios:
        c1, c2 = st.columns(2)
        c1.plotly_chart(figures.sigma_ratio_figure(steps, ratios, "σ_max(∇²L_r): stiff / mild"), key="fig_l2_ratio")
        above = np.mean(np.array(ratios) >= 10)
        c1.caption(f"σ_max(∇²L_r) of the stiff problem is ≥ 10× the mild one's at {above:.0%} of the "
                   f"{len(ratios)} snapshots (median ratio {np.median(ratios):.0f}×).")
        if exp.extras:
            c2.plotly_chart(figures.spectrum_figure(exp.extras, colors=figures.run_colors(runs)), key="fig_l2_spectrum")


def lesson2() -> None:
    st.markdown(
        "The imbalance makes the gradient flow **stiff**: the Hessian of L_r has a largest eigenvalue σ_max far "
        "above the boundary term's, and gradient descent is stable only for lr < 2 / σ_max, so the steps the "
        "residual allows hardly move the boundary. *Run* trains a plain PINN (M1) on Helmholtz with a2 = 1 (mild) "
        "and a2 = 4 (stiff, the paper's case) and follows σ_max of each term (Lanczos on Hessian-vector products) "
        "against 2 / lr, as in the paper's Fig. 5; at the end it draws each term's spectrum (Fig. 4).")
    with st.expander("Settings", expanded=False):
        c = st.columns(4)
        c[0].number_input("Steps", 100, 20_000, step=100, key="l2_steps")
        c[1].number_input("σ_max every (steps)", 10, 2000, step=10, key="l2_every")
        c[2].number_input("Hidden layers", 1, 5, key="l2_depth")
        c[3].number_input("Width", 4, 100, key="l2_width", help="up to 3,000 parameters the spectrum is complete")
    if st.button("Run lesson 2", key="btn_l2", type="primary", icon=":material/play_arrow:"):
        launch("l2", build_l2)
    live("l2", draw_l2)


# -- lesson 3 ------------------------------------------------------------------------------------------------
def build_l3():
    return lessons.Experiment(lessons.cure_configs(float(state.l3_a2), int(state.l3_steps)), chunk=50)


def draw_l3(exp) -> None:
    runs = exp.runs()
    c1, c2 = st.columns(2)
    c1.plotly_chart(figures.error_figure(runs), key="fig_l3_error")
    c2.plotly_chart(figures.lambda_figure(runs), key="fig_l3_lambda")
    rows = []
    for r in runs:
        bal = lessons.balance(r.grads[-1]) if r.grads else {}
        rows.append({"method": r.name, "step": r.steps_done,
                     "rel. L2 error": r.evals[-1].rel_l2 if r.evals else None,
                     "λ_bc": r.steps[-1].lambdas.get("bc") if r.steps else None,
                     "mean|∇L_r| / mean|∇(λ·L_bc)|": bal.get("bc")})
    st.dataframe(rows, hide_index=True, key="tbl_l3")
    names = [r.name for r in runs]
    c1, c2 = st.columns([1, 2])
    name = c1.radio("Histograms of", names, key="l3_run", horizontal=True)
    run = next((r for r in runs if r.name == name), runs[0])
    if run.grads:
        with c2:
            snap = when_picker("l3_hist_when", run.grads)
        st.plotly_chart(figures.histogram_figure(snap, f"{run.name}: per-layer gradients at step {snap.step}"),
                        key="fig_l3_hist")


def lesson3() -> None:
    st.markdown(
        "**Learning-rate annealing** (M2) sets λ_bc from the gradient statistics, so that the boundary gets its "
        "share of each update; the **modified MLP** with annealing (M4) also lowers the stiffness. *Run* trains "
        "M1, M2 and M4 on the stiff Helmholtz problem: watch the errors fall apart, λ_bc settle, and the "
        "histograms of ∇L_r and ∇(λ·L_bc) move together (paper Fig. 7-9).")
    with st.expander("Settings", expanded=False):
        c = st.columns(2)
        c[0].number_input("Steps", 100, 20_000, step=100, key="l3_steps")
        c[1].number_input("a2", *A2_RANGE, step=0.5, key="l3_a2")
    if st.button("Run lesson 3", key="btn_l3", type="primary", icon=":material/play_arrow:"):
        launch("l3", build_l3)
    live("l3", draw_l3)


st.title("Lessons: why plain PINNs fail, and what helps")
st.caption("1-3: Wang, Teng & Perdikaris, *Understanding and mitigating gradient pathologies in physics-informed "
           "neural networks*, SIAM J. Sci. Comput. 43 (2021); 4-7: what the same group added since (Fourier "
           "features against spectral bias, NTK weights, causality, gradient alignment); 8: Adam then L-BFGS "
           "(Rathore et al. 2024). Each lesson takes about a minute at its defaults.")
tabs = st.tabs(["1 · The imbalance", "2 · Stiffness", "3 · The cure", *lesson_tabs.TITLES])
for tab, lesson in zip(tabs[:3], (lesson1, lesson2, lesson3)):
    with tab:
        lesson()
for tab, lesson in zip(tabs[3:], lesson_tabs.LESSONS):
    with tab:
        lesson(launch, live)
