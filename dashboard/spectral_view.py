"""The spectral-bias section of the Error fields view (Streamlit): the shown run's error and prediction spectra
against step, and every comparable run's error at the solution's own frequencies (``dashboard.spectral``)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import figures, spectral
from dashboard.livechart import live_chart


def _slice(run) -> tuple[int, int | None]:
    """The input the spectrum runs along and, for a 2D problem, the grid index of the slice (widgets)."""
    problem = run.config.make_problem()
    if len(problem.inputs) != 2:
        return 0, None
    c1, c2 = st.columns([1, 3])
    name = c1.radio("Spectrum along", problem.inputs, horizontal=True, key="w_spec_axis")
    axis = problem.inputs.index(name)
    other, n = problem.inputs[1 - axis], run.config.eval_points
    lo, hi = problem.domain[1 - axis]
    values = [float(v) for v in np.round(np.linspace(lo, hi, n), 6)]
    key = f"w_spec_at_{problem.name}_{axis}_{n}"  # per problem, axis and grid: each starts at its busiest line
    if key not in st.session_state and run.reference is not None:
        st.session_state[key] = values[spectral.busiest(run.reference, axis)]
    at = c2.select_slider(f"Slice at {other}", values, key=key, help="default: the line where the solution "
                          "varies most")
    return axis, values.index(at)


def summary(runs: list[tuple[str, spectral.Spectra]]) -> str:
    """One sentence per run: at its latest snapshot, the error at each of the solution's frequencies."""
    parts = []
    for name, s in runs:
        peaks = s.peaks()
        ratios = ", ".join(f"{s.error[-1, k] / max(s.reference[k], 1e-30):.0%} at {s.freq[k]:.3g}" for k in peaks)
        parts.append(f"{name} (step {s.steps[-1]:,}): {ratios or 'no peak'}")
    return "; ".join(parts)


def section(views, run) -> None:
    """The spectra of ``run`` and the per-frequency errors of every shown run of the same problem and grid."""
    if run.reference is None or not run.evals:
        return
    st.markdown("**Spectral bias**: what each frequency of the solution has learnt. A plain MLP fits the low "
                "frequencies first and the high ones late or never: its error spectrum empties from the bottom up. "
                "Random Fourier features (*Input embedding: fourier*) let it fit them together.")
    axis, at = _slice(run)
    s = spectral.spectra(run, axis, at)
    live_chart(st, spectral.spectrum_figure(s, run.name), key="fig_spectrum")
    same = [v for v in views if v.evals and v.reference is not None and v.config.problem == run.config.problem
            and v.config.spec == run.config.spec and v.config.eval_points == run.config.eval_points
            and v.config.params == run.config.params]
    lines = [(v.name, spectral.spectra(v, axis, at)) for v in same]
    live_chart(st, spectral.band_figure(lines, figures.run_colors(views)), key="fig_spectrum_bands")
    st.caption("Error at the solution's frequencies, as a fraction of their amplitude (periods per unit "
               f"{s.input}): " + summary(lines) + ". The spectra come from the evaluation snapshots "
               f"({run.config.eval_points} points per input: frequencies up to {s.freq[-1]:.3g} show).")
