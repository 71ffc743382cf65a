"""Spectral bias from the evaluation snapshots: the Fourier spectrum of a run's prediction and of its error along a
line of the evaluation grid (the whole grid of a 1D problem, a slice of a 2D one), against step. Pure figure
builders like ``dashboard.figures`` (records in, Plotly figure out, no Streamlit), in a module of their own so
that neither passes the 400 lines a module may have.

A plain MLP learns the low frequencies of the solution first and the high ones late or never (Rahaman et al.
2019; for PINNs, Wang, Wang & Perdikaris, CMAME 2021): its error spectrum empties from the left. A network with
random Fourier features fits the high frequencies as early as the low ones.

The spectrum of a line of n samples f_j over an input's range of length L: the real FFT of (f_j - mean) times a
Hann window (the line is not periodic; the window keeps the jump between its ends from leaking into every
frequency), scaled so that a sine of amplitude a shows as a peak of height a:

    |F(k)| = 2 |sum_j w_j (f_j - mean f) exp(-2 pi i j k / n)| / sum_j w_j,   frequency k / L (periods per unit)

The lines of ``band_figure`` follow the error at the reference's own peaks: |E(k)| / |R(k)| there, 1 while the
network has learnt nothing of that frequency, small once it has.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.figures import TEMPLATE
PEAK_FLOOR = 0.01  # a reference peak lower than this fraction of the highest one is not followed
MAX_PEAKS = 3


def amplitude(line: np.ndarray) -> np.ndarray:
    """|F(k)|, k = 0 .. n // 2, of the samples ``line`` (see the module docstring)."""
    line = np.asarray(line, dtype=np.float64)
    w = np.hanning(line.size) if line.size > 2 else np.ones(line.size)
    return 2 * np.abs(np.fft.rfft(w * (line - line.mean()))) / w.sum()


@dataclass(frozen=True)
class Spectra:
    """A run's spectra along one line of its grid: ``freq`` (periods per unit of ``input``), ``steps`` of the
    snapshots, amplitudes (len(steps), len(freq)) of its error and prediction, and the reference's (len(freq),)."""

    input: str
    where: str               # "" in 1D, "at y = 0.5" for a slice
    freq: np.ndarray
    steps: np.ndarray
    error: np.ndarray
    prediction: np.ndarray
    reference: np.ndarray

    def peaks(self) -> list[int]:
        """Indices into ``freq`` of the reference's highest local maxima (at most MAX_PEAKS, k > 0)."""
        r = self.reference
        idx = [k for k in range(1, r.size) if r[k] >= r[k - 1] and (k + 1 == r.size or r[k] > r[k + 1])
               and r[k] >= PEAK_FLOOR * r[1:].max()]
        return sorted(sorted(idx, key=lambda k: -r[k])[:MAX_PEAKS])


def line_of(field: np.ndarray, axis: int, at: int) -> np.ndarray:
    """The samples along input ``axis`` of a grid field (2D fields are indexed [second input, first input]),
    at index ``at`` of the other input; a 1D field is its own line."""
    field = np.asarray(field, dtype=np.float64)
    if field.ndim == 1:
        return field
    return field[at, :] if axis == 0 else field[:, at]


def busiest(field: np.ndarray, axis: int) -> int:
    """The index of the 2D field's line along ``axis`` where it varies most (largest standard deviation): the
    default slice, so that a solution that vanishes on the middle line (Helmholtz) still shows its spectrum."""
    field = np.asarray(field, dtype=np.float64)
    return int(np.argmax(field.std(axis=1 if axis == 0 else 0)))


def spectra(view, axis: int = 0, at: int | None = None) -> Spectra | None:
    """The spectra of a run (``RunView``-like: config, evals, reference) along input ``axis``, at grid index
    ``at`` of the other input (default: ``busiest``); None without snapshots or reference."""
    if not view.evals or view.reference is None:
        return None
    problem = view.config.make_problem()
    n = view.config.eval_points
    lo, hi = problem.domain[axis]
    where = ""
    if len(problem.domain) == 2:
        at = busiest(view.reference, axis) if at is None else int(np.clip(at, 0, n - 1))
        other = 1 - axis
        o_lo, o_hi = problem.domain[other]
        where = f"at {problem.inputs[other]} = {o_lo + (o_hi - o_lo) * at / max(n - 1, 1):.3g}"
    ref = line_of(view.reference, axis, at or 0)
    preds = [line_of(e.prediction, axis, at or 0) for e in view.evals]
    return Spectra(problem.inputs[axis], where, np.arange(ref.size // 2 + 1) / (hi - lo),
                   np.array([e.step for e in view.evals]), np.array([amplitude(p - ref) for p in preds]),
                   np.array([amplitude(p) for p in preds]), amplitude(ref))


def _log(a: np.ndarray, top: float) -> np.ndarray:
    return np.log10(np.maximum(a, top * 1e-6))


def spectrum_figure(s: Spectra, name: str) -> go.Figure:
    """Two heatmaps against step and frequency: log10 of the error's amplitude and of the prediction's, on one
    colour scale (the reference's spectrum is the prediction's target, marked by its peaks)."""
    top = max(float(s.reference.max()), 1e-30)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08, shared_yaxes=True,
                        subplot_titles=["|error| spectrum", "prediction spectrum"])
    for col, amp in ((1, s.error), (2, s.prediction)):
        fig.add_trace(go.Heatmap(x=s.steps, y=s.freq, z=_log(amp, top).T, coloraxis="coloraxis",
                                 hovertemplate="step %{x}<br>frequency %{y:.3g}<br>log10 amplitude %{z:.2f}"
                                               "<extra></extra>"), 1, col)
        for k in s.peaks():
            fig.add_hline(y=s.freq[k], line=dict(color="white", dash="dot", width=1), row=1, col=col)
        fig.update_xaxes(title_text="step", row=1, col=col)
    fig.update_yaxes(title_text=f"periods per unit {s.input}", row=1, col=1)
    hi = float(np.log10(top))
    fig.update_layout(
        title=f"{name}: Fourier spectrum along {s.input} {s.where} (dotted: the reference's peaks)".replace("  ", " "),
        coloraxis=dict(colorscale="Viridis", cmin=hi - 5, cmax=hi, colorbar=dict(title="log10", thickness=10)),
        height=360, margin=dict(l=10, r=10, t=70, b=10), template=TEMPLATE)
    return fig


def band_figure(runs: Sequence[tuple[str, Spectra]], colors: dict[str, str] | None = None) -> go.Figure:
    """|E(k)| / |R(k)| at each reference peak against step: one colour per run, one dash per frequency."""
    fig, dashes = go.Figure(), ("solid", "dash", "dot")
    for name, s in runs:
        for d, k in zip(dashes, s.peaks()):
            ratio = s.error[:, k] / max(s.reference[k], 1e-30)
            fig.add_trace(go.Scatter(x=s.steps, y=ratio, mode="lines+markers", name=f"{name} · {s.freq[k]:.3g}",
                                     line=dict(dash=d, color=(colors or {}).get(name)),
                                     hovertemplate=f"{name}, frequency {s.freq[k]:.3g}: "
                                                   "step %{x}, error/reference %{y:.3g}<extra></extra>"))
    first = runs[0][1] if runs else None
    unit = f"periods per unit {first.input}" if first else ""
    fig.update_layout(title=f"Error at each of the solution's frequencies ({unit}), relative to its amplitude",
                      yaxis=dict(type="log", title="|error| / |reference| at that frequency"),
                      xaxis=dict(title="step"), height=360, margin=dict(l=10, r=10, t=60, b=10),
                      template=TEMPLATE, legend=dict(title="run · frequency"))
    return fig
