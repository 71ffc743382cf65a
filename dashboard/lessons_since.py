"""The Lessons page's experiments of the cures since 2021, without Streamlit: their run setups and the numbers
each lesson states (``dashboard.lessons.Experiment`` trains them).

5. Why NTK weights balance the terms: 1D Poisson u = sin(Cx), C = 8, plain (M1) against NTK weights; the kernel
   traces of the residual and the boundary per point, the weights NTK sets, the errors.
6. Causality: the 1D reaction u_t = rho u (1 - u), rho = 5 (examples/problems/reaction.toml), plain against causal
   weights; the weights over t, the error at each t.
7. Conflicting gradients: Helmholtz a2 = 4, M1 and M2; the alignment score of the residual's and the boundary's
   gradients over training.
8. Adam then L-BFGS (Rathore et al., ICML 2024): 1D Poisson u = sin(8x) in float64, Adam alone against Adam then
   L-BFGS at equal steps; the errors, the loss against the error, each run's training seconds (and the mixed run's
   error within Adam alone's seconds), sigma_max before and after the switch.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from pinncore import ConfigError, RunConfig

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "problems"


# -- lesson 5: NTK weights ----------------------------------------------------------------------------------------
def ntk_configs(c: float, steps: int, width: int) -> dict[str, RunConfig]:
    every = max(1, steps // 20)
    common = dict(problem="poisson1d", params={"C": c}, depth=1, width=width, steps=steps, grad_every=every,
                  eval_every=max(1, steps // 10), hessian_every=0)
    return {"M1 (fixed λ)": RunConfig(**common), "NTK weights": RunConfig(weighting="ntk", **common)}


def trace_ratio(record, top: str = "res", other: str = "bc") -> float:
    """Tr K_res / Tr K_bc of one KernelTraces record (same number of points per term)."""
    return record.traces[top] / max(record.traces[other], 1e-300)


def ntk_rows(runs) -> list[dict]:
    """Per run: the traces' ratio at the first and the latest record, λ_bc now, the error now."""
    rows = []
    for r in runs:
        rows.append({"run": r.name, "step": r.steps_done,
                     "Tr K_res / Tr K_bc, first": trace_ratio(r.kernels[0]) if r.kernels else None,
                     "Tr K_res / Tr K_bc, now": trace_ratio(r.kernels[-1]) if r.kernels else None,
                     "λ_bc": r.steps[-1].lambdas.get("bc") if r.steps else None,
                     "rel. L2 error": r.evals[-1].rel_l2 if r.evals else None})
    return rows


# -- lesson 6: causality ------------------------------------------------------------------------------------------
def causal_configs(rho: float, steps: int) -> dict[str, RunConfig]:
    spec = (EXAMPLES / "reaction.toml").read_text(encoding="utf-8")
    common = dict(problem="reaction", spec=spec, params={"rho": rho}, depth=3, width=32, batch=128, steps=steps,
                  grad_every=0, eval_every=max(1, steps // 10), hessian_every=0, causal_every=max(1, steps // 60))
    return {"plain (M1)": RunConfig(**common), "causal weights": RunConfig(causal=True, **common)}


def error_at(view, fractions=(0.0, 0.25, 0.5, 0.75, 1.0)) -> list[float] | None:
    """The relative L2 error of u(., t) at these fractions of the time span, at the run's latest evaluation."""
    from dashboard.since2021 import error_by_time

    if not view.evals:
        return None
    got = error_by_time(view, view.evals[-1])
    if got is None:
        return None
    t, err = got
    return [float(err[int(round(f * (len(t) - 1)))]) for f in fractions]


# -- lesson 7: conflicting gradients ------------------------------------------------------------------------------
def conflict_configs(steps: int, every: int) -> dict[str, RunConfig]:
    common = dict(problem="helmholtz", steps=steps, grad_every=every, eval_every=max(every, steps // 10),
                  hessian_every=0)
    return {m: RunConfig.from_method(m, **common) for m in ("M1", "M2")}


def alignment_numbers(view) -> dict | None:
    """A at the first record, its median over the second half of training, the share of records below 0."""
    scores = np.array([a.score for a in view.aligns if math.isfinite(a.score)])
    if not scores.size:
        return None
    half = np.array([a.score for a in view.aligns if a.step >= view.config.steps // 2 and math.isfinite(a.score)])
    return {"run": view.name, "A at step 0": float(scores[0]),
            "median A, second half": float(np.median(half)) if half.size else None,
            "share of A < 0": float(np.mean(scores < 0)), "records": int(scores.size)}


# -- lesson 8: Adam, then L-BFGS ----------------------------------------------------------------------------------
def lbfgs_configs(c: float, steps: int, switch: int, width: int) -> dict[str, RunConfig]:
    """1D Poisson u = sin(Cx), one hidden layer, float64 (L-BFGS's line search needs the digits): Adam alone and
    Adam then L-BFGS from step ``switch`` (Rathore et al. 2024), the same seed, so both share the Adam steps up to
    the switch; 20 evaluations and a stiffness snapshot every quarter of the run (and one at the switch). A switch
    at or past the last step would leave nothing to compare: ConfigError naming the setting."""
    if not 0 <= switch < steps:
        raise ConfigError("L-BFGS from step", f"must be below the steps ({steps:,}), got {switch:,}")
    common = dict(problem="poisson1d", params={"C": c}, depth=1, width=width, steps=steps, dtype="float64",
                  grad_every=0, eval_every=max(1, steps // 20), hessian_every=max(1, steps // 4))
    return {"Adam": RunConfig(**common).validated(),
            "Adam → L-BFGS": RunConfig(optimizer="adam+lbfgs", lbfgs_after=switch, **common).validated()}


def _wall_at(view, step: int) -> float:
    """The run's training seconds once it had trained up to ``step`` (its step records' cumulative wall)."""
    recs = [r for r in view.steps if r.step < step]
    return recs[-1].wall if recs else 0.0


def lbfgs_rows(runs) -> list[dict]:
    """Per run: its status, steps, training seconds, final loss and error (``optim_figures``' loss: the weighted
    training loss of the last step record)."""
    from dashboard.optim_figures import loss_error_points

    rows = []
    for r in runs:
        pts = loss_error_points(r)
        rows.append({"run": r.name, "status": r.status, "step": r.steps_done,
                     "training s": r.steps[-1].wall if r.steps else None,
                     "loss": pts[-1][1] if pts else None, "rel. L2 error": r.evals[-1].rel_l2 if r.evals else None})
    return rows


def equal_time(adam, mixed) -> tuple[int, float, float] | None:
    """(step, seconds, error) of the mixed run at its last evaluation within the training seconds Adam alone took
    in all, or None while Adam alone has not finished or the mixed run has no evaluation within them."""
    if adam.status != "finished" or not adam.steps:
        return None
    budget = adam.steps[-1].wall
    within = [(e.step, w, e.rel_l2) for e in mixed.evals if (w := _wall_at(mixed, e.step)) <= budget]
    return within[-1] if within else None


def lbfgs_words(runs) -> str:
    """The lesson's sentence, from its runs' numbers only (empty until both have an evaluation)."""
    from dashboard import optim_figures

    if len(runs) != 2 or not all(r.evals and r.steps for r in runs):
        return ""
    adam, mixed = runs
    a, b = lbfgs_rows(runs)
    if a["loss"] is None or b["loss"] is None:
        return ""
    ratio = a["rel. L2 error"] / b["rel. L2 error"] if b["rel. L2 error"] else math.inf
    times = max(ratio, 1 / ratio) if ratio else math.inf
    verdict = (f"{times:,.0f}" if times >= 100 else f"{times:.3g}") + ("× lower" if ratio >= 1 else "× higher")
    out = [f"after {a['step']:,} steps Adam alone is at loss {a['loss']:.2g}, error {a['rel. L2 error']:.2g} "
           f"({a['training s']:.1f} s); Adam then L-BFGS after {b['step']:,} steps at loss {b['loss']:.2g}, error "
           f"{b['rel. L2 error']:.2g} ({b['training s']:.1f} s; training seconds, diagnostics included): an error "
           f"{verdict}"]
    if mixed.status.startswith("stalled"):
        out.append(f"L-BFGS {mixed.status.split(':')[0]}: its line search found no lower loss")
    same = equal_time(adam, mixed)
    if same is not None:
        out.append(f"within Adam alone's {a['training s']:.1f} s of training, Adam then L-BFGS reached error "
                   f"{same[2]:.2g} (step {same[0]:,}, {same[1]:.1f} s)")
    same_order = (a["loss"] < b["loss"]) == (a["rel. L2 error"] < b["rel. L2 error"])
    out.append("the run with the lower final loss has the lower error too" if same_order else
               "here the lower final loss did not come with the lower error")
    words = optim_figures.sigma_words(optim_figures.sigma_rows([mixed]))
    if words:
        out.append(f"σ_max of the raw Hessian per term, {words.split(': ', 1)[1]}")
    return "Measured: " + "; ".join(out) + "."
