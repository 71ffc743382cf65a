"""The Lessons page's experiments of the cures since 2021, without Streamlit: their run setups and the numbers
each lesson states (``dashboard.lessons.Experiment`` trains them).

5. Why NTK weights balance the terms: 1D Poisson u = sin(Cx), C = 8, plain (M1) against NTK weights; the kernel
   traces of the residual and the boundary per point, the weights NTK sets, the errors.
6. Causality: the 1D reaction u_t = rho u (1 - u), rho = 5 (examples/problems/reaction.toml), plain against causal
   weights; the weights over t, the error at each t.
7. Conflicting gradients: Helmholtz a2 = 4, M1 and M2; the alignment score of the residual's and the boundary's
   gradients over training.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from pinncore import RunConfig

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
