"""The Lessons page's tabs for the cures since 2021 (their experiments and numbers: ``dashboard.lessons_since``).
Each tab is a function of the page's ``launch`` and ``live`` (the experiment's start and its polling fragment)."""
from __future__ import annotations

import streamlit as st

from dashboard import figures, lessons, lessons_since, since2021

DEFAULTS = {"l4_c": 8.0, "l4_steps": 2000, "l4_width": 50, "l5_rho": 5.0, "l5_steps": 3000, "l6_steps": 1500,
            "l6_every": 25}
TITLES = ("4 · NTK weights", "5 · Causality", "6 · Conflicting gradients")


def defaults(state) -> None:
    for key, value in DEFAULTS.items():
        if key not in state:
            state[key] = value


# -- lesson 4 --------------------------------------------------------------------------------------------------
def draw_l4(exp) -> None:
    runs = exp.runs()
    c1, c2 = st.columns(2)
    c1.plotly_chart(since2021.trace_figure(runs, height=330), key="fig_l4_traces")
    c2.plotly_chart(figures.error_figure(runs), key="fig_l4_error")
    rows = lessons_since.ntk_rows(runs)
    st.dataframe(rows, hide_index=True, key="tbl_l4")
    plain, ntk = (rows + [{}, {}])[:2]
    if plain.get("Tr K_res / Tr K_bc, now") and ntk.get("λ_bc") and plain.get("rel. L2 error") and \
            ntk.get("rel. L2 error"):
        st.caption(f"Measured: the residual's kernel trace is {plain['Tr K_res / Tr K_bc, now']:.3g}× the "
                   f"boundary's in the plain run (step {plain['step']:,}), so gradient descent fits the residual "
                   f"that much faster and leaves the boundary behind; NTK weights set λ_bc = {ntk['λ_bc']:.3g}, "
                   f"which makes λ·Tr K equal for both terms. Errors: plain {plain['rel. L2 error']:.2e}, NTK "
                   f"{ntk['rel. L2 error']:.2e}.")


def lesson4(launch, live) -> None:
    state = st.session_state
    st.markdown(
        "Wang, Yu & Perdikaris (J. Comput. Phys. 2022) look at training through the **neural tangent kernel**: "
        "each loss term i has a kernel K_ii whose trace Tr K_ii = Σ_x ‖∂r_i(x)/∂θ‖² sets how fast gradient descent "
        "drives that term's residual down. When one trace dwarfs another, that term is fitted first and the other "
        "waits. **NTK weights** λ_i = Σ_j Tr K_jj / Tr K_ii equalise the rates. *Run* trains 1D Poisson "
        "u = sin(Cx) with fixed weights and with NTK weights, and measures every run's traces as it trains.")
    with st.expander("Settings", expanded=False):
        c = st.columns(3)
        c[0].number_input("C", 1.0, 20.0, step=1.0, key="l4_c")
        c[1].number_input("Steps", 100, 20_000, step=100, key="l4_steps")
        c[2].number_input("Width (one hidden layer)", 4, 200, key="l4_width")
    if st.button("Run lesson 4", key="btn_l4", type="primary", icon=":material/play_arrow:"):
        launch("l4", lambda: lessons.Experiment(lessons_since.ntk_configs(
            float(state.l4_c), int(state.l4_steps), int(state.l4_width)), chunk=100))
    live("l4", draw_l4)


# -- lesson 5 --------------------------------------------------------------------------------------------------
def draw_l5(exp) -> None:
    runs = exp.runs()
    causal = [r for r in runs if r.causal]
    c1, c2 = st.columns(2)
    if causal:
        c1.plotly_chart(since2021.causal_heatmap(causal[0]), key="fig_l5_heat")
    c2.plotly_chart(since2021.error_time_figure(runs), key="fig_l5_error_t")
    rows = []
    for r in runs:
        at = lessons_since.error_at(r)
        rows.append({"run": r.name, "step": r.steps_done, "rel. L2 error": r.evals[-1].rel_l2 if r.evals else None,
                     **({f"error at t = {t:g}": e for t, e in zip((0, 0.25, 0.5, 0.75, 1), at)} if at else {})})
    st.dataframe(rows, hide_index=True, key="tbl_l5")
    if len(rows) == 2 and all(row.get("rel. L2 error") for row in rows):
        front = since2021.causal_front(causal[0]) if causal else None
        st.caption(f"Measured: plain {rows[0]['rel. L2 error']:.2e}, causal {rows[1]['rel. L2 error']:.2e}"
                   + (f"; the causal weights are ≥ 0.5 up to t = {front:.2g} now" if front is not None else "")
                   + ". Causal weights are patented by the University of Pennsylvania for commercial use.")


def lesson5(launch, live) -> None:
    state = st.session_state
    st.markdown(
        "A plain PINN minimises the residual at all times at once, so it can fit a late time before the early ones "
        "that determine it, and settle on a wrong solution. Wang, Sankaran & Perdikaris (CMAME 2024) **respect "
        "causality**: the residual's points are split into time chunks, and chunk i counts with weight "
        "w_i = exp(−ε Σ_{k<i} L_k), so a later time only counts once the earlier ones are fitted. *Run* trains the "
        "1D reaction u_t = ρ u (1 − u) plainly and with causal weights: watch the weights move forward in time.")
    with st.expander("Settings", expanded=False):
        c = st.columns(2)
        c[0].number_input("ρ", 0.1, 20.0, step=0.5, key="l5_rho")
        c[1].number_input("Steps", 100, 20_000, step=100, key="l5_steps")
    if st.button("Run lesson 5", key="btn_l5", type="primary", icon=":material/play_arrow:"):
        launch("l5", lambda: lessons.Experiment(lessons_since.causal_configs(float(state.l5_rho),
                                                                             int(state.l5_steps)), chunk=100))
    live("l5", draw_l5)


# -- lesson 6 --------------------------------------------------------------------------------------------------
def draw_l6(exp) -> None:
    runs = exp.runs()
    st.plotly_chart(since2021.alignment_figure(runs, height=330), key="fig_l6_align")
    rows = [n for r in runs if (n := lessons_since.alignment_numbers(r))]
    st.dataframe(rows, hide_index=True, key="tbl_l6")
    if rows:
        st.caption("Measured: " + "; ".join(
            f"{row['run']}: A = {row['A at step 0']:.2f} at step 0, median {row['median A, second half']:.2f} over "
            f"the second half, below 0 at {row['share of A < 0']:.0%} of {row['records']} records"
            for row in rows if row["median A, second half"] is not None) + ".")


def lesson6(launch, live) -> None:
    state = st.session_state
    st.markdown(
        "Two loss terms can pull the parameters in different directions: then a step that lowers one raises the "
        "other. Wang, Bhartari, Li & Perdikaris (NeurIPS 2025) measure it with the **alignment score** "
        "A = 2‖(1/n) Σ g_i/‖g_i‖‖² − 1 of the terms' gradients g_i, the cosine of their angle for two terms: near 1 "
        "they agree, below 0 they conflict. *Run* trains M1 and M2 on the stiff Helmholtz problem and measures A "
        "at every gradient snapshot.")
    with st.expander("Settings", expanded=False):
        c = st.columns(2)
        c[0].number_input("Steps", 100, 20_000, step=100, key="l6_steps")
        c[1].number_input("A every (steps)", 5, 1000, step=5, key="l6_every")
    if st.button("Run lesson 6", key="btn_l6", type="primary", icon=":material/play_arrow:"):
        launch("l6", lambda: lessons.Experiment(lessons_since.conflict_configs(int(state.l6_steps),
                                                                               int(state.l6_every)), chunk=50))
    live("l6", draw_l6)


LESSONS = (lesson4, lesson5, lesson6)
