"""How many torch threads a run should use: ``recommended_threads(config)``.

A PINN step at the paper's sizes is hundreds of small operations (a 128 x 50 float32 tile is 25 KB): the
matrix products, and either ATen's elementwise kernels (eager) or inductor's fused C++ kernels (``compile=True``:
inductor compiles each kernel for torch's thread count, with an OpenMP parallel region when it is above 1).
Splitting such an operation over two threads costs a fork and a join per operation, more than the work saved,
and the join waits until the other thread has run: on a 2-core machine that is busy with anything else (another
run, the dashboard, the Python thread itself) it waits a scheduler slice at a time, and spinning OpenMP threads
burn the other core meanwhile. The issue measured the compiled cavity step 3x slower with 2 threads than with 1
on an idle 2-core machine (M1 184 -> 65, M4 47 -> 19 steps/s); on the same machine shared with other work
(load 7-10), compiled cavity M4: 1 thread 29 and 45 steps/s, 2 threads 1.6 and 3.8 steps/s, and 2 threads used
about 2.5x the CPU time per step of 1. Where the cost goes, measured on an idle 2-core VM (compiled cavity M1,
400 steps x 3, steps/s at 1 / 2 threads): default 338 / 185; inductor's kernels kept serial
(``cpp.min_chunk_size`` 1M, so only ATen's matrix products split) 326 / 113; ``OMP_WAIT_POLICY=ACTIVE`` 333 / 182;
``PASSIVE`` 322 / 62. So it is OpenMP's fork/join and thread wake-up per small operation, not how inductor
splits its loops, and waking a sleeping thread is the dearest part. One thread per run is therefore the choice
at these sizes, and parallelism
comes from running several runs at once (sweeps, the dashboard's side-by-side runs). Only a step whose
operations are large (big batches, wide layers) is worth splitting.

The answer depends on the work per operation, not on the problem's name: the rows of the largest jet stack
(batch x points per term x derivative keys) times the width.
"""
from __future__ import annotations

import os

import torch

from .config import RunConfig

# elements of one layer's largest operation above which a second thread pays for its fork/join (about 1M floats,
# 4 MB: far above the paper's sizes, where every measured split was slower)
PARALLEL_ELEMENTS = 1 << 20


def step_elements(config: RunConfig) -> int:
    """Elements of one hidden layer's jet for a step of ``config``: every term's points (per box) with the value
    and, for the points that carry them, the derivative keys of the term's jet (an upper bound: all keys)."""
    from .derivatives import joint_plan
    from .problems import make_problem

    problem = make_problem(config.problem, **config.params)
    rows = 0
    for term in problem.terms():
        points = config.batch * term.groups
        keys = len(joint_plan([term.needs], problem.inputs).keys) if term.needs else 1
        rows += points * keys
    return rows * config.width


def recommended_threads(config: RunConfig, cores: int | None = None) -> int:
    """torch threads for one run of ``config`` on this machine (``cores``: the cores it may use, default all).

    1 for a CUDA run (the host thread only launches kernels) and for every CPU step whose largest operation is
    below ``PARALLEL_ELEMENTS`` elements (the paper's problems at their sizes, compiled or eager: a second
    thread makes them slower, see the module docstring); otherwise up to one thread per 1M elements, at most
    ``cores``. Callers that train several runs at once give each run its share of the cores as ``cores``."""
    cores = max(1, cores if cores is not None else (os.cpu_count() or 1))
    if config.device.startswith("cuda"):
        return 1
    return max(1, min(cores, step_elements(config) // PARALLEL_ELEMENTS))


def apply_threads(config: RunConfig, cores: int | None = None) -> int:
    """``torch.set_num_threads(recommended_threads(config, cores))``; returns the count."""
    n = recommended_threads(config, cores)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
