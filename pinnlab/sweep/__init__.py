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

from .execute import RayContext, cost, train_task
from .grid import MAX_RUNS, canonical, default_out, expand, identity, parse_grid, run_name
from .plan import RUNS, SWEEP_FILE, Task, is_final, plan
from .results import list_sweeps, read_sweep, results_frame, write_results, write_sweep
from .run import run_sweep

__all__ = ["RayContext", "cost", "train_task", "MAX_RUNS", "canonical", "default_out", "expand", "identity", "parse_grid",
           "run_name", "RUNS", "SWEEP_FILE", "Task", "is_final", "plan", "list_sweeps", "read_sweep",
           "results_frame", "write_results", "write_sweep", "run_sweep"]
