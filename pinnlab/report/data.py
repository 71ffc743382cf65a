"""Reading the runs of a reproduction for the report: one row per run from the run store (summary, final errors,
lambdas, the cavity's spectral-norm error), the last snapshot of a run and its lambda history, (the titles and
the paper's constants are in ``pinnlab.paper``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pinncore import EvalSnapshot, GradSnapshot, RunConfig
from pinncore.store import RunStore
from pinncore.status import completed

from ..sweep.grid import run_name
from ..sweep.plan import RUNS

# -- reading the runs --------------------------------------------------------------------------------------------
def _last(path: Path, kind: str):
    files = sorted((path / "snapshots").glob(f"{kind}_*.npz"))
    if not files:
        return None
    cls = {"eval": EvalSnapshot, "grad": GradSnapshot}[kind]
    with np.load(files[-1]) as a:
        return cls.from_arrays({k: a[k] for k in a.files})


def spectral_error(path: Path) -> float | None:
    """The authors' cavity measure: ||A - A_hat||_2 / ||A||_2 with the matrix 2-norm (largest singular value)
    of the 2-D arrays on the evaluation grid, from the final evaluation snapshot."""
    ref, snap = RunStore(path).reference(), _last(path, "eval")
    if ref is None or snap is None or ref[1].ndim != 2:
        return None
    field = ref[1].astype(np.float64)
    return float(np.linalg.norm(snap.prediction.astype(np.float64) - field, 2) / np.linalg.norm(field, 2))


def load_runs(configs: list[RunConfig], runs_dir: Path) -> pd.DataFrame:
    rows = []
    for cfg in configs:
        path = runs_dir / RUNS / run_name(cfg)
        s = RunStore(path).summary()
        row = {"problem": cfg.problem, "method": cfg.method, "variant": cfg.annealing_variant,
               "annealing": cfg.weighting == "annealing", "seed": cfg.seed, "steps": cfg.steps,
               "status": s.get("status", "missing"), "steps_done": s.get("steps_done", 0),
               "rel_l2": s.get("rel_l2") if completed(s.get("status")) else None,
               "wall_s": s.get("wall_s"), "steps_per_s": s.get("steps_per_s"), "path": path,
               "run": path.relative_to(runs_dir).as_posix()}
        row.update({f"lambda_{k}": v for k, v in (s.get("lambdas") or {}).items() if k != "res"})
        if cfg.problem == "cavity" and row["rel_l2"] is not None:
            row["spectral"] = spectral_error(path)
        rows.append(row)
    df = pd.DataFrame(rows)
    df["rel_l2"] = pd.to_numeric(df["rel_l2"], errors="coerce")
    return df


def lambda_history(path: Path, every: int = 10) -> pd.DataFrame:
    f = path / "metrics.parquet"
    if not f.exists():
        return pd.DataFrame()
    df = pd.read_parquet(f)
    cols = [c for c in df.columns if c.startswith("lambda_") and c != "lambda_res"]
    return df.loc[df["step"] % every == 0, ["step", *cols]]
