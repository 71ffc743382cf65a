"""Planning a sweep, before anything is written: which run directory each configuration of the grid gets
(``grid.run_name``) and what to do with it (reuse a finished run, resume one cut short, extend one asked for more
steps, or train a new one). ``Task`` is the type the executor and the results table share.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pinncore import ConfigError, RunConfig
from pinncore.store import RunStore

from .grid import identity, run_name

SWEEP_FILE = "sweep.json"
RUNS = "runs"

def is_final(status: str | None) -> bool:
    from pinncore.status import ended

    return bool(status) and ended(status)


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
        if stored.steps < cfg.steps and not str(summary.get("status", "")).startswith(("diverged", "stalled")):
            tasks.append(Task(cfg, path, "extend", done))
        elif is_final(summary.get("status")):
            tasks.append(Task(cfg, path, "reuse", done))
        else:
            tasks.append(Task(cfg, path, "resume", done))
    return tasks
