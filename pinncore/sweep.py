"""Sweeps: a grid of runs trained in parallel on Ray, into one directory of the run store.

    sweep_dir/
      sweep.json          what was asked (grid, runs in grid order), where and when it ran, per-run errors
      results.csv         one row per run: config columns, status, final relative L2 error, lambdas, wall time
      results.parquet     the same table
      runs/<name>/        one ordinary run directory per grid point (``pinn resume`` / the dashboard open it)

A run's directory name is derived from its configuration alone (problem, method, depth x width, seed and a hash
of every other field that is not at its default), so running the same sweep again finds its runs: a finished run
is reused as it is, a run cut short (killed sweep, Ctrl-C) continues from its last checkpoint, and a run asked
for with more steps than it has is extended (the learning-rate schedule does not depend on the total, so the
trajectory is the one a longer run would have followed). ``steps`` is therefore left out of the name.

Ray executes one task per run that needs training: an embedded local Ray by default (one task per core), or an
existing cluster given by address. On a cluster, the sweep directory must be on a filesystem every node sees, and
every node needs this package installed.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from .config import RunConfig
from .errors import ConfigError
from .report_data import git_commit
from .grid import canonical, default_out, expand, identity, parse_grid, run_name  # noqa: F401 (re-exported)
from .store import RunStore, atomic_write
from .sweep_exec import RayContext, _execute, cost, host_info, train_task  # noqa: F401 (re-exported)

SWEEP_FILE = "sweep.json"
RUNS = "runs"
FINAL = ("finished",)  # plus any "diverged at step k"

# columns that lead the results table, in this order (others follow)
LEAD = ["run", "problem", "method", "model", "weighting", "annealing_variant", "depth", "width", "seed", "steps",
        "status", "steps_done", "rel_l2"]


def is_final(status: str | None) -> bool:
    return bool(status) and (status == "finished" or status.startswith("diverged"))


# -- planning (all checks before anything is written) ----------------------------------------------------------
@dataclass
class Task:
    config: RunConfig
    path: Path
    action: str           # "reuse", "resume", "extend" or "new"
    steps_done: int = 0


def plan(configs: list[RunConfig], out: str | os.PathLike) -> list[Task]:
    """What to do for each run. Raises ConfigError (naming the field) when a run directory of this sweep holds a
    different configuration, or more steps than asked: the sweep then writes nothing."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError("out", f"'{out}' exists and is not a directory")
    tasks = []
    for cfg in configs:
        path = out / RUNS / run_name(cfg)
        if not (path / "config.json").is_file():
            tasks.append(Task(cfg, path, "new"))
            continue
        store = RunStore(path)
        try:
            stored = store.config()
        except ConfigError as exc:
            raise ConfigError("out", f"run '{path}' cannot be reused ({exc}); move it away") from None
        have, want = identity(stored), identity(cfg)
        for key in want:
            if have.get(key) != want[key]:
                raise ConfigError(key, f"run '{path}' was made with {key}={have.get(key)!r}, this sweep asks "
                                       f"for {want[key]!r}; use another --out")
        if stored.steps > cfg.steps:
            raise ConfigError("steps", f"run '{path}' is set to {stored.steps} steps, more than the {cfg.steps} "
                                       f"asked; use another --out")
        summary = store.summary()
        done = int(summary.get("steps_done") or 0)
        if stored.steps < cfg.steps and not str(summary.get("status", "")).startswith("diverged"):
            tasks.append(Task(cfg, path, "extend", done))
        elif is_final(summary.get("status")):
            tasks.append(Task(cfg, path, "reuse", done))
        else:
            tasks.append(Task(cfg, path, "resume", done))
    return tasks


# -- the results table ----------------------------------------------------------------------------------------
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
    """One row per run of the sweep, in grid order: config columns, status, error, lambdas, wall time."""
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
        row["wall_s"] = s.get("wall_s")
        row["steps_per_s"] = s.get("steps_per_s")
        rows.append(row)
    df = pd.DataFrame(rows)
    first = [c for c in LEAD if c in df.columns]
    results = [c for c in df.columns if c.startswith(("param.", "lambda_")) or c in ("wall_s", "steps_per_s")]
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


# -- running ---------------------------------------------------------------------------------------------------
def run_sweep(configs: list[RunConfig], out: str | os.PathLike, *, grid: dict | None = None, kind: str = "sweep",
              address: str | None = None, cpus: int | None = None, progress: bool = True,
              command: list[str] | None = None, log: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, int]:
    """Train every run of ``configs`` that is not finished yet into ``out`` and write the results table.

    Returns (results, exit code): 0 every run ended (finished or diverged), 1 some run failed with an error,
    130 interrupted (Ctrl-C / SIGTERM; every run saved; run the same sweep again to continue). Raises
    ConfigError before writing anything when the sweep cannot be planned."""
    out = Path(out)
    tasks = plan(configs, out)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        meta = read_sweep(out)
    except ConfigError:
        meta = {}
    now = time.strftime("%Y-%m-%d %H:%M:%S %z")
    meta.update({"kind": kind, "grid": grid if grid is not None else meta.get("grid"),
                 "runs": [t.path.relative_to(out).as_posix() for t in tasks],
                 "created": meta.get("created", now), "updated": now, "complete": False,
                 "command": command if command is not None else meta.get("command"), "driver": host_info(),
                 "commit": git_commit(),
                 "address": address or "local", "errors": {}, "hosts": meta.get("hosts", {}),
                 "elapsed_s": meta.get("elapsed_s", 0.0)})
    out.mkdir(parents=True, exist_ok=True)
    write_sweep(out, meta)
    todo = [t for t in tasks if t.action != "reuse"]
    counts = {a: sum(t.action == a for t in tasks) for a in ("new", "resume", "extend", "reuse")}
    log(f"sweep: {len(tasks)} runs in {out} ({', '.join(f'{n} {a}' for a, n in counts.items() if n)})")
    t0, code = time.time(), 0
    if todo:
        code = _execute(todo, out, meta, address, cpus, progress, log)
    meta["elapsed_s"] = round(meta["elapsed_s"] + time.time() - t0, 1)
    df = results_frame(out, meta)
    meta["complete"] = bool(len(df)) and all(is_final(s) for s in df["status"])
    meta["updated"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
    write_sweep(out, meta)
    df = write_results(out, meta)
    return df, code
