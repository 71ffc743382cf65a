"""The live panel's parts about the optimisers (figures and numbers in ``dashboard.optim_figures``): the loss
against the error under the Loss & λ charts, and sigma_max before and after an adam+lbfgs run's switch in the
Stiffness view."""
from __future__ import annotations

import streamlit as st

from dashboard import optim_figures
from dashboard.livechart import live_chart

RATHORE = "Rathore, Lei, Frangella, Lu & Udell, ICML 2024"


def loss_error(views) -> None:
    """The loss against the error of every shown run, beside what it says."""
    if not any(v.evals and v.steps for v in views):
        return
    c1, c2 = st.columns([3, 2])
    live_chart(c1, optim_figures.loss_error_figure(views), key="fig_loss_error")
    said = optim_figures.loss_error_words(views)
    c2.markdown(
        f"**Good solutions need near-zero loss** ({RATHORE}): a PINN's error falls only as its loss approaches "
        "zero, so the loss an optimiser reaches matters, not only how fast it falls at first. Each point is one "
        "evaluation: the total weighted training loss Σ λ_t L_t at that step (on its minibatch; on L-BFGS's fixed "
        "batch after an adam+lbfgs run's switch, drawn as ◆) against the relative L2 error."
        + (f" Latest: {said}." if said else ""))


def stiffness_switch(views) -> None:
    """For the shown adam+lbfgs runs past their switch: sigma_max per term before and after it, in a table and in
    words, with what this Hessian is and is not."""
    if not any(optim_figures.switch_step(v) is not None for v in views):
        return
    rows = optim_figures.sigma_rows(views)
    if not rows:
        st.caption("L-BFGS from the dash-dotted line on: no stiffness snapshot at or before the switch (set "
                   "*Stiffness every* > 0 before Start; the trainer then takes one at the switch).")
        return
    st.markdown("**Before and after the switch to L-BFGS**")
    st.dataframe(rows, hide_index=True, key="tbl_switch_sigma", column_config={
        k: st.column_config.NumberColumn(format="%.3g") for k in ("σ_max before", "σ_max after", "after / before")})
    st.caption(
        f"σ_max of each weighted term's Hessian at the stiffness snapshot nearest before or at the switch and at the "
        f"last one after it: {optim_figures.sigma_words(rows)}. {RATHORE} find that L-BFGS lowers the outlying "
        "eigenvalues by orders of magnitude; their figure is of the Hessian preconditioned by L-BFGS's own curvature "
        "estimate. This view shows the raw Hessian of the loss at the parameters reached (Lanczos, on a minibatch of "
        "its own): its change reflects where L-BFGS took the parameters, and it may as well rise. "
        "2/lr and lr·σ_max end at the switch: L-BFGS has no learning rate (its step is line-searched).")
