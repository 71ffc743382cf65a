"""The Lessons page's tabs for what helps since 2021: spectral bias and Fourier features (lesson 4, its setups and
numbers in ``dashboard.lessons``), NTK weights, causality, conflicting gradients and Adam then L-BFGS (lessons 5-8,
theirs in ``dashboard.lessons_since``). Each tab is a function of the page's ``launch`` and ``live`` (the experiment's start
and its polling fragment)."""
from __future__ import annotations

import streamlit as st

from dashboard import figures, lessons, lessons_since, optim_figures, since2021, spectral

DEFAULTS = {"l4_b": 50.0, "l4_sigma": 10.0, "l4_steps": 1500, "l4_width": 50, "l4_run": "MLP",
            "l5_c": 8.0, "l5_steps": 2000, "l5_width": 50, "l6_rho": 5.0, "l6_steps": 3000, "l7_steps": 1500,
            "l7_every": 25, "l8_c": 8.0, "l8_steps": 2000, "l8_switch": 1000, "l8_width": 50}
TITLES = ("4 · Spectral bias", "5 · NTK weights", "6 · Causality", "7 · Conflicting gradients", "8 · Adam then L-BFGS")


def defaults(state) -> None:
    for key, value in DEFAULTS.items():
        if key not in state:
            state[key] = value


# -- lesson 4 --------------------------------------------------------------------------------------------------
B_RANGE = (2.0, 100.0)  # the spec's range for B (its own check names it too)


def draw_l4(exp) -> None:
    runs = [r for r in exp.runs() if r.evals]
    if not runs:
        return
    colors = figures.run_colors(runs)
    st.plotly_chart(spectral.band_figure([(r.name, spectral.spectra(r)) for r in runs], colors), key="fig_l4_bands")
    rows = lessons.spectral_rows(runs)
    st.dataframe(rows, hide_index=True, key="tbl_l4", column_config={
        k: st.column_config.NumberColumn(format="%.2e") for k in rows[0] if k not in ("run", "step")})
    name = st.radio("Spectra of", [r.name for r in runs], key="l4_run", horizontal=True)
    run = next((r for r in runs if r.name == name), runs[0])
    st.plotly_chart(spectral.spectrum_figure(spectral.spectra(run), run.name), key="fig_l4_spectrum")
    st.plotly_chart(figures.field_figure(run), key="fig_l4_field")


def lesson4(launch, live) -> None:
    state = st.session_state
    st.markdown(
        "A network learns the low frequencies of a function first and the high ones late (**spectral bias**). "
        "Here u'' = f on [0, 1] with u = sin(2πx) + 0.1 sin(Bπx): a slow wave and a fast, small one (the "
        "multiscale Fourier feature paper's example, B = 50). *Run* trains a plain MLP and the same MLP with "
        "**random Fourier features** [cos(Bz), sin(Bz)] of scale σ (Wang, Wang & Perdikaris 2021) and follows the "
        "error at each of the solution's frequencies as a fraction of its amplitude: 1 means nothing of it is "
        "learnt. In a PINN the residual weighs a frequency k by k⁴, so the fast wave dominates the loss: the plain "
        "MLP cannot learn it, and distorts the slow one chasing it; the Fourier network fits the fast wave within a "
        "few hundred steps, and with σ = 10 it is the slow wave that takes long (the paper's case for mixing "
        "scales). The table gives the numbers this run measured.")
    with st.expander("Settings", expanded=False):
        c = st.columns(4)
        c[0].number_input("B (fast wave)", *B_RANGE, step=2.0, key="l4_b")
        c[1].number_input("Fourier σ", 0.1, 50.0, step=1.0, key="l4_sigma")
        c[2].number_input("Steps", 100, 20_000, step=100, key="l4_steps")
        c[3].number_input("Width", 4, 100, key="l4_width", help="two hidden layers; m = width / 2 features")
    if st.button("Run lesson 4", key="btn_l4", type="primary", icon=":material/play_arrow:"):
        launch("l4", lambda: lessons.Experiment(lessons.spectral_configs(
            float(state.l4_b), float(state.l4_sigma), int(state.l4_steps), 2, int(state.l4_width)), chunk=50))
    live("l4", draw_l4)


# -- lesson 5 --------------------------------------------------------------------------------------------------
def draw_l5(exp) -> None:
    runs = exp.runs()
    c1, c2 = st.columns(2)
    c1.plotly_chart(since2021.trace_figure(runs, height=330), key="fig_l5_traces")
    c2.plotly_chart(figures.error_figure(runs), key="fig_l5_error")
    rows = lessons_since.ntk_rows(runs)
    st.dataframe(rows, hide_index=True, key="tbl_l5")
    plain, ntk = (rows + [{}, {}])[:2]
    if plain.get("Tr K_res / Tr K_bc, now") and ntk.get("λ_bc") and plain.get("rel. L2 error") and \
            ntk.get("rel. L2 error"):
        st.caption(f"Measured: the residual's kernel trace is {plain['Tr K_res / Tr K_bc, now']:.3g}× the "
                   f"boundary's in the plain run (step {plain['step']:,}), so gradient descent fits the residual "
                   f"that much faster and leaves the boundary behind; NTK weights set λ_bc = {ntk['λ_bc']:.3g}, "
                   f"which makes λ·Tr K equal for both terms. Errors: plain {plain['rel. L2 error']:.2e}, NTK "
                   f"{ntk['rel. L2 error']:.2e}.")


def lesson5(launch, live) -> None:
    state = st.session_state
    st.markdown(
        "Wang, Yu & Perdikaris (J. Comput. Phys. 2022) look at training through the **neural tangent kernel**: "
        "each loss term i has a kernel K_ii whose trace Tr K_ii = Σ_x ‖∂r_i(x)/∂θ‖² sets how fast gradient descent "
        "drives that term's residual down. When one trace dwarfs another, that term is fitted first and the other "
        "waits. **NTK weights** λ_i = Σ_j Tr K_jj / Tr K_ii equalise the rates. *Run* trains 1D Poisson "
        "u = sin(Cx) with fixed weights and with NTK weights, and measures every run's traces as it trains.")
    with st.expander("Settings", expanded=False):
        c = st.columns(3)
        c[0].number_input("C", 1.0, 20.0, step=1.0, key="l5_c")
        c[1].number_input("Steps", 100, 20_000, step=100, key="l5_steps")
        c[2].number_input("Width (one hidden layer)", 4, 200, key="l5_width")
    if st.button("Run lesson 5", key="btn_l5", type="primary", icon=":material/play_arrow:"):
        launch("l5", lambda: lessons.Experiment(lessons_since.ntk_configs(
            float(state.l5_c), int(state.l5_steps), int(state.l5_width)), chunk=100))
    live("l5", draw_l5)


# -- lesson 6 --------------------------------------------------------------------------------------------------
def draw_l6(exp) -> None:
    runs = exp.runs()
    causal = [r for r in runs if r.causal]
    c1, c2 = st.columns(2)
    if causal:
        c1.plotly_chart(since2021.causal_heatmap(causal[0]), key="fig_l6_heat")
    c2.plotly_chart(since2021.error_time_figure(runs), key="fig_l6_error_t")
    rows = []
    for r in runs:
        at = lessons_since.error_at(r)
        rows.append({"run": r.name, "step": r.steps_done, "rel. L2 error": r.evals[-1].rel_l2 if r.evals else None,
                     **({f"error at t = {t:g}": e for t, e in zip((0, 0.25, 0.5, 0.75, 1), at)} if at else {})})
    st.dataframe(rows, hide_index=True, key="tbl_l6")
    if len(rows) == 2 and all(row.get("rel. L2 error") for row in rows):
        front = since2021.causal_front(causal[0]) if causal else None
        st.caption(f"Measured: plain {rows[0]['rel. L2 error']:.2e}, causal {rows[1]['rel. L2 error']:.2e}"
                   + (f"; the causal weights are ≥ 0.5 up to t = {front:.2g} now" if front is not None else "")
                   + ". Causal weights are patented by the University of Pennsylvania for commercial use.")


def lesson6(launch, live) -> None:
    state = st.session_state
    st.markdown(
        "A plain PINN minimises the residual at all times at once, so it can fit a late time before the early ones "
        "that determine it, and settle on a wrong solution. Wang, Sankaran & Perdikaris (CMAME 2024) **respect "
        "causality**: the residual's points are split into time chunks, and chunk i counts with weight "
        "w_i = exp(−ε Σ_{k<i} L_k), so a later time only counts once the earlier ones are fitted. *Run* trains the "
        "1D reaction u_t = ρ u (1 − u) plainly and with causal weights: watch the weights move forward in time.")
    with st.expander("Settings", expanded=False):
        c = st.columns(2)
        c[0].number_input("ρ", 0.1, 20.0, step=0.5, key="l6_rho")
        c[1].number_input("Steps", 100, 20_000, step=100, key="l6_steps")
    if st.button("Run lesson 6", key="btn_l6", type="primary", icon=":material/play_arrow:"):
        launch("l6", lambda: lessons.Experiment(lessons_since.causal_configs(float(state.l6_rho),
                                                                             int(state.l6_steps)), chunk=100))
    live("l6", draw_l6)


# -- lesson 7 --------------------------------------------------------------------------------------------------
def draw_l7(exp) -> None:
    runs = exp.runs()
    st.plotly_chart(since2021.alignment_figure(runs, height=330), key="fig_l7_align")
    rows = [n for r in runs if (n := lessons_since.alignment_numbers(r))]
    st.dataframe(rows, hide_index=True, key="tbl_l7")
    if rows:
        st.caption("Measured: " + "; ".join(
            f"{row['run']}: A = {row['A at step 0']:.2f} at step 0, median {row['median A, second half']:.2f} over "
            f"the second half, below 0 at {row['share of A < 0']:.0%} of {row['records']} records"
            for row in rows if row["median A, second half"] is not None) + ".")


def lesson7(launch, live) -> None:
    state = st.session_state
    st.markdown(
        "Two loss terms can pull the parameters in different directions: then a step that lowers one raises the "
        "other. Wang, Bhartari, Li & Perdikaris (NeurIPS 2025) measure it with the **alignment score** "
        "A = 2‖(1/n) Σ g_i/‖g_i‖‖² − 1 of the terms' gradients g_i, the cosine of their angle for two terms: near 1 "
        "they agree, below 0 they conflict. *Run* trains M1 and M2 on the stiff Helmholtz problem and measures A "
        "at every gradient snapshot.")
    with st.expander("Settings", expanded=False):
        c = st.columns(2)
        c[0].number_input("Steps", 100, 20_000, step=100, key="l7_steps")
        c[1].number_input("A every (steps)", 5, 1000, step=5, key="l7_every")
    if st.button("Run lesson 7", key="btn_l7", type="primary", icon=":material/play_arrow:"):
        launch("l7", lambda: lessons.Experiment(lessons_since.conflict_configs(int(state.l7_steps),
                                                                               int(state.l7_every)), chunk=50))
    live("l7", draw_l7)


# -- lesson 8 --------------------------------------------------------------------------------------------------
def draw_l8(exp) -> None:
    runs = exp.runs()
    c1, c2 = st.columns(2)
    c1.plotly_chart(optim_figures.mark_switch(figures.error_figure(runs), runs), key="fig_l8_error")
    c2.plotly_chart(optim_figures.loss_error_figure(runs), key="fig_l8_loss_error")
    st.dataframe(lessons_since.lbfgs_rows(runs), hide_index=True, key="tbl_l8", column_config={
        k: st.column_config.NumberColumn(format=f) for k, f in (("loss", "%.2e"), ("rel. L2 error", "%.2e"),
                                                                 ("training s", "%.1f"))})
    said = lessons_since.lbfgs_words(runs)
    if said:
        st.caption(said + " Good solutions need near-zero loss (Rathore et al.): the chart beside the errors "
                          "puts each evaluation's loss against its error.")
    if any(r.hess for r in runs):
        c1, c2 = st.columns([3, 2])
        c1.plotly_chart(optim_figures.mark_switch(figures.sigma_figure(runs, "σ_max of each term's Hessian"), runs),
                        key="fig_l8_sigma")
        c2.caption("The raw Hessian of the loss at the parameters each run reached (Lanczos): Rathore et al.'s "
                   "figure, where L-BFGS lowers the outlying eigenvalues by orders of magnitude, is of the Hessian "
                   "preconditioned by L-BFGS's curvature estimate, which this chart does not show. What changes "
                   "here after the switch is where L-BFGS took the parameters.")


def lesson8(launch, live) -> None:
    state = st.session_state
    st.markdown(
        "Rathore, Lei, Frangella, Lu & Udell (ICML 2024) trace the hard training of PINNs to the residual's "
        "differential operator, which makes the loss ill-conditioned: a first-order method such as Adam makes "
        "slow progress along its flat directions. They train with **Adam first, then L-BFGS**, a quasi-Newton "
        "method that builds a curvature estimate from its last steps and line-searches each step length, and "
        "show that good solutions need near-zero loss, and that Adam then L-BFGS reaches a lower loss than "
        "either alone. *Run* trains "
        "1D Poisson u = sin(Cx) (lesson 1's hardest case, C = 8, one hidden layer) in float64 with Adam alone "
        "and with Adam then L-BFGS from the switch step on (on 1,024 fixed points per term, λ frozen), the same "
        "seed, for the same number of steps; an L-BFGS step costs up to 25 loss evaluations, so the table gives "
        "each run's training seconds and the caption compares them at equal time too.")
    with st.expander("Settings", expanded=False):
        c = st.columns(4)
        c[0].number_input("C", 1.0, 20.0, step=1.0, key="l8_c")
        c[1].number_input("Steps", 100, 20_000, step=100, key="l8_steps")
        c[2].number_input("L-BFGS from step", 0, 20_000, step=100, key="l8_switch")
        c[3].number_input("Width (one hidden layer)", 4, 200, key="l8_width")
    if st.button("Run lesson 8", key="btn_l8", type="primary", icon=":material/play_arrow:"):
        launch("l8", lambda: lessons.Experiment(lessons_since.lbfgs_configs(
            float(state.l8_c), int(state.l8_steps), int(state.l8_switch), int(state.l8_width)), chunk=50))
    live("l8", draw_l8)


LESSONS = (lesson4, lesson5, lesson6, lesson7, lesson8)
