"""The live panel's views of the cures since 2021 (``dashboard.since2021`` builds their figures): NTK (kernel traces
beside λ for every run, and the kernel spectra at a snapshot), Alignment (the score of the terms' gradients, per
run and per layer) and Causal (the weights over t against step, the loss per time chunk, the error against t)."""
from __future__ import annotations

import streamlit as st

from dashboard import figures, since2021
from dashboard.livechart import live_chart

VIEWS = ("NTK", "Alignment", "Causal")


def shown(views) -> tuple[str, ...]:
    """The views offered for these runs: Causal only where a shown run's problem has a time input (the picker
    stays on one line of a 1280-pixel screen otherwise)."""
    timed = any(v.config.make_problem().time_index() is not None for v in views)
    return VIEWS if timed else VIEWS[:2]


def render(view: str, views, pick_run, pick_snapshot) -> None:
    """Draw one of ``VIEWS``; ``pick_run`` and ``pick_snapshot``: the panel's run and snapshot pickers."""
    {"NTK": _ntk, "Alignment": _alignment, "Causal": _causal}[view](views, pick_run, pick_snapshot)


def _ntk(views, pick_run, pick_snapshot) -> None:
    if not any(v.kernels for v in views):
        st.info("No kernel traces yet: they are taken at every gradient snapshot (and at every NTK weight update).")
        return
    c1, c2 = st.columns(2)
    live_chart(c1, since2021.trace_figure(views), key="fig_ntk_traces")
    live_chart(c2, figures.lambda_figure(views), key="fig_ntk_lambda")
    words = []
    for v in views:
        got = since2021.imbalance(v)
        if got:
            hi, lo, ratio = got
            lam = v.steps[-1].lambdas if v.steps else {}
            words.append(f"{v.name}: Tr K_{hi} is {ratio:.3g}× Tr K_{lo} (step {v.kernels[-1].step:,})"
                         + (f", λ_{lo} = {lam.get(lo, 1):.3g}, λ_{hi} = {lam.get(hi, 1):.3g}"
                            if v.config.weighting != "fixed" else ""))
    st.caption("The kernel trace of a term sets how fast gradient descent fits it (Wang, Yu & Perdikaris 2022): "
               "NTK weights λ_i = Σ_j Tr K_jj / Tr K_ii make every term's λ·Tr K equal. " + "; ".join(words) + ".")
    v = pick_run([v for v in views if v.spectra] or views, "w_ntk_run")
    if not v.spectra:
        st.info("No kernel spectrum yet (taken at every gradient snapshot; Kernel spectra points > 0).")
        return
    snap = pick_snapshot(v.spectra, "w_ntk_spec")
    live_chart(st, since2021.spectrum_figure(v, snap), key="fig_ntk_spectrum")
    st.caption("Eigenvalues of each term's kernel block and of the whole kernel on a few points per term: their "
               "fast decay is the spectral bias (the network fits the top eigen-directions first); the block on "
               "top is the term that dominates training.")


def _alignment(views, pick_run, pick_snapshot) -> None:
    if not any(v.aligns for v in views):
        st.info("No alignment score yet: it is measured wherever the terms' gradients are computed (gradient "
                "snapshots, annealing updates).")
        return
    v = pick_run([v for v in views if v.aligns], "w_align_run")
    live_chart(st, since2021.alignment_figure(views, layers_of=v), key="fig_alignment")
    latest = {w.name: since2021.latest_alignment(w) for w in views}
    said = ", ".join(f"{n} A = {a:.2f}" for n, a in latest.items() if a is not None)
    st.caption("A = 2‖(1/n) Σ g_i/‖g_i‖‖² − 1 of the terms' gradients g_i (Wang, Bhartari, Li & Perdikaris 2025); "
               "for two terms the cosine of their angle. Negative: a step that lowers one term's loss raises the "
               f"other's. Latest: {said}. Thin lines: {v.name}'s weight matrices.")


def _causal(views, pick_run, pick_snapshot) -> None:
    causal = [v for v in views if v.causal]
    timed = [v for v in views if v.config.make_problem().time_index() is not None]
    if not timed:
        st.info("Causal weights need a problem with a time input (an input named t, or `time = ...` in a spec): "
                "pick Klein-Gordon or a time-dependent spec, and a recipe with +causal.")
        return
    if causal:
        v = pick_run(causal, "w_causal_run")
        c1, c2 = st.columns(2)
        live_chart(c1, since2021.causal_heatmap(v), key="fig_causal_heat")
        live_chart(c2, since2021.chunk_loss_figure(causal), key="fig_causal_loss")
        front = since2021.causal_front(v)
        st.caption("Causal weights (Wang, Sankaran & Perdikaris 2024): w_i = exp(−ε Σ_{k<i} L_k) over the "
                   "residual's time chunks, so a later time counts once the earlier ones are fitted"
                   + (f"; {v.name}'s weights are at least 0.5 up to t = {front:.3g} now." if front is not None
                      else ".") + " The algorithm is patented by the University of Pennsylvania for commercial use.")
    else:
        st.info("No run with causal weights among the shown runs (a recipe with +causal).")
    live_chart(st, since2021.error_time_figure(timed), key="fig_causal_error_t")
