"""The record of a sweep: ``sweep.json`` (what was asked, where and when it ran, per-run errors) and the results
table (``results.csv`` / ``results.parquet``, one row per run), rewritten atomically as each run ends.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from pinncore import ConfigError
from pinncore.store import RunStore, atomic_write

from .plan import SWEEP_FILE

# columns that lead the results table, in this order (others follow)
LEAD = ["run", "problem", "method", "model", "weighting", "causal", "annealing_variant", "depth", "width", "seed", "steps",
        "status", "steps_done", "rel_l2"]


def read_sweep(sweep_dir: str | os.PathLike) -> dict:
    f = Path(sweep_dir) / SWEEP_FILE
    try:
        data = json.loads(f.read_text())
    except FileNotFoundError:
        raise ConfigError("sweep", f"'{sweep_dir}' has no {SWEEP_FILE}: not a sweep directory") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(SWEEP_FILE, f"malformed JSON in '{f}' ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise ConfigError(SWEEP_FILE, f"'{f}' has no list of runs")
    return data


def write_sweep(sweep_dir: Path, data: dict) -> None:
    atomic_write(sweep_dir / SWEEP_FILE, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def results_frame(sweep_dir: str | os.PathLike, meta: dict | None = None) -> pd.DataFrame:
    """One row per run of the sweep, in grid order: config columns, status, error, lambdas, learned unknowns,
    wall time."""
    sweep_dir = Path(sweep_dir)
    meta = meta if meta is not None else read_sweep(sweep_dir)
    errors = meta.get("errors", {})
    rows = []
    for rel in meta["runs"]:
        store = RunStore(sweep_dir / rel)
        if not (store.path / "config.json").is_file():
            rows.append({"run": rel, "status": errors.get(rel, "not started")})
            continue
        try:
            cfg = store.config()
        except ConfigError as exc:
            rows.append({"run": rel, "status": f"unreadable: {exc}"})
            continue
        s = store.summary()
        d = cfg.to_dict()
        row: dict[str, Any] = {"run": rel, "method": cfg.label()}
        row.update({k: v for k, v in d.items() if k not in ("params", "weights")})
        row.update({f"param.{k}": v for k, v in d["params"].items()})
        row.update({f"weight.{k}": v for k, v in d["weights"].items()})
        row["status"] = errors.get(rel) or s.get("status", "not started")
        row["steps_done"] = s.get("steps_done", 0)
        row["rel_l2"] = s.get("rel_l2")
        row.update({f"lambda_{k}": v for k, v in (s.get("lambdas") or {}).items()})
        row.update({f"unknown_{k}": v for k, v in (s.get("unknowns") or {}).items()})  # an inverse problem's
        row["wall_s"] = s.get("wall_s")
        row["steps_per_s"] = s.get("steps_per_s")
        rows.append(row)
    df = pd.DataFrame(rows)
    first = [c for c in LEAD if c in df.columns]
    results = [c for c in df.columns if c.startswith(("param.", "lambda_", "unknown_"))
               or c in ("wall_s", "steps_per_s")]
    rest = [c for c in df.columns if c not in first and c not in results]
    df = df[first + [c for c in results if c.startswith("param.")] + [c for c in results if not c.startswith("param.")] + rest]
    if "rel_l2" in df.columns:
        df["rel_l2"] = pd.to_numeric(df["rel_l2"], errors="coerce")
    return df


def write_results(sweep_dir: Path, meta: dict) -> pd.DataFrame:
    import io

    df = results_frame(sweep_dir, meta)
    atomic_write(sweep_dir / "results.csv", df.to_csv(index=False).encode())
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write(sweep_dir / "results.parquet", buf.getvalue())
    return df


def list_sweeps(root: str | os.PathLike) -> list[tuple[Path, dict]]:
    """Sweep directories under ``root`` (recursively), newest first, with their sweep.json."""
    root = Path(root)
    out = []
    for f in root.rglob(SWEEP_FILE) if root.exists() else ():
        try:
            out.append((f.parent, read_sweep(f.parent)))
        except ConfigError:
            continue
    return sorted(out, key=lambda s: (s[0] / SWEEP_FILE).stat().st_mtime, reverse=True)
