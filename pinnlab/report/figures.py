"""The report's matplotlib figures (PNG, Agg backend): our errors against the paper's, per-layer gradient
histograms, exact / predicted / error fields, and lambda against step. Each builder writes one file into the
report's directory and returns its name, or None when the runs hold nothing to draw.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pinncore import make_problem
from pinncore.store import RunStore

from ..paper import BAND, PAPER, TITLES
from .data import _last, lambda_history


# -- figures ----------------------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path, name: str, dpi: int = 100) -> str:
    """Lay out, write out/name, free the figure; the file name is what the report links."""
    fig.tight_layout()
    fig.savefig(out / name, dpi=dpi)
    _plt().close(fig)
    return name


def _first(df: pd.DataFrame, problem: str, method: str, variant: str = "released-code") -> pd.Series | None:
    sel = df[(df.problem == problem) & (df.method == method) & (df.variant == variant) & df.rel_l2.notna()]
    return sel.sort_values("seed").iloc[0] if len(sel) else None


def fig_errors(df: pd.DataFrame, out: Path) -> str | None:
    main = df[(df.variant == "released-code") & df.rel_l2.notna()]
    problems = list(dict.fromkeys(main.problem))
    if not problems:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(problems), figsize=(4.2 * len(problems), 3.6), squeeze=False)
    for ax, problem in zip(axes[0], problems):
        sub = main[main.problem == problem]
        methods = list(dict.fromkeys(sub.method))
        x = np.arange(len(methods))
        for i, m in enumerate(methods):
            e = sub[sub.method == m].rel_l2
            ax.scatter(np.full(len(e), i - 0.12), e, s=14, color="tab:blue", alpha=0.6,
                       label="ours (each seed)" if i == 0 else None)
            ax.scatter([i - 0.12], [e.mean()], marker="_", s=300, color="tab:blue",
                       label="ours (mean)" if i == 0 else None)
            if (problem, m) in PAPER:
                ax.scatter([i + 0.12], [PAPER[(problem, m)]], marker="*", s=90, color="tab:red",
                           label="paper" if i == 0 else None)
        ax.set_xticks(x, methods)
        ax.set_yscale("log")
        ax.set_title(TITLES.get(problem, problem), fontsize=9)
        ax.set_ylabel("relative L2 error")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    return _save(fig, out, "errors.png", dpi=110)


def fig_gradients(df: pd.DataFrame, problem: str, out: Path) -> str | None:
    """Per-layer histograms of grad_W L_r and grad_W (lambda_i L_i), M1 against M2, at the end of training."""
    runs = [(m, _first(df, problem, m)) for m in ("M1", "M2")]
    snaps = [(m, _last(r.path, "grad")) for m, r in runs if r is not None]
    snaps = [(m, s) for m, s in snaps if s is not None]
    if not snaps:
        return None
    plt = _plt()
    layers = len(snaps[0][1].layers)
    fig, axes = plt.subplots(len(snaps), layers, figsize=(2.6 * layers, 2.4 * len(snaps)), squeeze=False,
                             sharex=True)
    for row, (m, s) in enumerate(snaps):
        centers = (s.edges[:-1] + s.edges[1:]) / 2
        for j, layer in enumerate(s.layers):
            ax = axes[row][j]
            for t, term in enumerate(s.terms):
                label = "∇L_r" if term == "res" else f"∇(λ_{term} L_{term})"
                ax.fill_between(centers, s.counts[t, j] / max(s.counts[t, j].sum(), 1), step="mid", alpha=0.45,
                                label=label)
            ax.set_title(f"{m}, {layer}", fontsize=9)
            ax.set_yticks([])
            if row == len(snaps) - 1:
                ax.set_xlabel("log10 |gradient|", fontsize=8)
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{TITLES.get(problem, problem)}: gradient histograms at step {snaps[0][1].step}", fontsize=10)
    return _save(fig, out, f"gradients-{problem}.png")


def fig_fields(df: pd.DataFrame, problem: str, out: Path) -> str | None:
    """Exact (or reference), predicted and |error| fields for M1 and M4."""
    rows = []
    for m in ("M1", "M4"):
        r = _first(df, problem, m)
        if r is None:
            continue
        ref, snap = RunStore(r.path).reference(), _last(r.path, "eval")
        if ref is not None and snap is not None and ref[1].ndim == 2:
            rows.append((m, r, ref, snap))
    if not rows:
        return None
    plt = _plt()
    prob = make_problem(problem)
    fig, axes = plt.subplots(len(rows), 3, figsize=(11, 3.2 * len(rows)), squeeze=False)
    for i, (m, r, (grid, field), snap) in enumerate(rows):
        extent = (grid[:, 0].min(), grid[:, 0].max(), grid[:, 1].min(), grid[:, 1].max())
        lo, hi = float(min(field.min(), snap.prediction.min())), float(max(field.max(), snap.prediction.max()))
        for j, (title, data, kw) in enumerate((
                (f"{'reference' if problem == 'cavity' else 'exact'} {prob.quantity}", field, dict(vmin=lo, vmax=hi)),
                (f"{m} predicted (seed {r.seed})", snap.prediction, dict(vmin=lo, vmax=hi)),
                (f"{m} |error|, rel. L2 {snap.rel_l2:.2e}", np.abs(snap.prediction - field), dict(cmap="magma")))):
            ax = axes[i][j]
            im = ax.imshow(data, origin="lower", extent=extent, aspect="auto", **kw)
            ax.set_title(title, fontsize=9)
            ax.set_xlabel(prob.inputs[0])
            ax.set_ylabel(prob.inputs[1])
            fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(fig, out, f"fields-{problem}.png")


def fig_lambdas(df: pd.DataFrame, problem: str, out: Path) -> str | None:
    """lambda_i against step for every annealing run (each seed a line, one colour per variant)."""
    sub = df[(df.problem == problem) & df.annealing & (df.steps_done > 0)]
    methods = list(dict.fromkeys(sub.method))
    if not methods:
        return None
    plt = _plt()
    colours = {"released-code": "tab:blue", "paper": "tab:red", "cavity-code": "tab:green"}
    fig, axes = plt.subplots(1, len(methods), figsize=(5 * len(methods), 3.6), squeeze=False)
    for ax, m in zip(axes[0], methods):
        seen = set()
        for _, r in sub[sub.method == m].iterrows():
            hist = lambda_history(r.path)
            for k, col in enumerate(c for c in hist.columns if c.startswith("lambda_")):
                key = (r.variant, col)
                ax.plot(hist.step, hist[col], color=colours.get(r.variant, "tab:gray"), alpha=0.7, lw=1,
                        ls=("-", "--", ":")[k % 3], label=None if key in seen else f"{col[7:]}, {r.variant}")
                seen.add(key)
        if problem == "helmholtz":
            ax.axhspan(*BAND, color="tab:gray", alpha=0.15, label="paper's Fig. 8 range")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("λ")
        ax.set_title(f"{TITLES.get(problem, problem)}, {m}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, out, f"lambdas-{problem}.png")
