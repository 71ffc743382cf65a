"""``run_sweep``: plan a sweep, record it, train what is not finished on Ray, and write the results table."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable

import pandas as pd

from pinncore import ConfigError, RunConfig

from ..provenance import git_commit, host_info
from .execute import check_address, execute
from .plan import is_final, plan
from .results import read_sweep, results_frame, write_results, write_sweep


def run_sweep(configs: list[RunConfig], out: str | os.PathLike, *, grid: dict | None = None, kind: str = "sweep",
              address: str | None = None, cpus: int | None = None, progress: bool = True,
              command: list[str] | None = None, log: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, int]:
    """Train every run of ``configs`` that is not finished yet into ``out`` and write the results table.

    Returns (results, exit code): 0 every run ended (finished or diverged), 1 some run failed with an error,
    130 interrupted (Ctrl-C / SIGTERM; every run saved; run the same sweep again to continue). Raises
    ConfigError before writing anything when the sweep cannot be planned."""
    out = Path(out)
    tasks = plan(configs, out)
    if any(t.action != "reuse" for t in tasks):
        check_address(address)  # before anything is written: Ray retries a dead address for minutes
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
        code = execute(todo, out, meta, address, cpus, progress, log)
    meta["elapsed_s"] = round(meta["elapsed_s"] + time.time() - t0, 1)
    df = results_frame(out, meta)
    meta["complete"] = bool(len(df)) and all(is_final(s) for s in df["status"])
    meta["updated"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
    write_sweep(out, meta)
    df = write_results(out, meta)
    return df, code
