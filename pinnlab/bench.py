"""``pinn bench``: training speed of the fast derivative path against the nested-autograd reference and DeepXDE.

Helmholtz 3x50 (and, with ``--problems ... cavity``, the lid-driven cavity 3x50: third-order jets, two
outputs), 128 fresh points per term and per edge, the paper's protocol; for each method (M1, M2, M4 by default;
M1 and M4 on the cavity unless ``--methods`` says otherwise) it measures, alternating A B C A B C ... to cancel
drift:

* ``fast``       -- forward-mode jets, one forward pass for all terms (``derivatives="jet"``; ``--compile`` adds
                    each step compiled into one graph, ``pinncore.fused``);
* ``eager`` / ``compiled`` -- the fast path without / with torch.compile, named explicitly (``--paths``);
* ``reference``  -- the nested ``torch.autograd.grad`` path (``derivatives="autograd"``), same trainer;
* ``deepxde``    -- DeepXDE with its PyTorch backend, resampling every step (Helmholtz M1 only: it has no
                    annealing or modified MLP), in a subprocess, when it is installed (``pip install deepxde``).

Each measurement builds a fresh run, warms up (and compiles, timed and reported), then times ``--steps`` steps;
the report is the median over ``--repeats`` and the ratios of medians. ``--threads`` takes one or more counts,
or ``auto``: ``pinncore.threads.recommended_threads`` per run (the default), so the choice is measured too.
``--snapshots`` also times M2 with gradient-histogram snapshots every 100 steps, to show what they cost.
The report ends with each method's matrix-product work per step against M1's (``matmul_mflop``).
"""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time

import torch

from pinncore import RunConfig

from .provenance import host_info

WARMUP = 50


def machine() -> str:
    h = host_info()
    return (f"machine: {h['cores']} cores ({h['cpu']}), torch {h['torch']}, {torch.get_num_threads()} threads, "
            f"Python {h['python']}")


def ours(method: str, path: str, steps: int, compile_: bool, grad_every: int = 0, problem: str = "helmholtz",
         timings: dict | None = None) -> float:
    """Steps per second of one fresh run of ours. ``path``: fast (compiled when ``compile_``), eager, compiled
    or reference. ``timings``, when given, receives the seconds of the warm-up (which compiles)."""
    from pinncore import Trainer

    compiled = path == "compiled" or (path == "fast" and compile_)
    config = RunConfig.from_method(method, problem=problem, steps=steps + WARMUP, grad_every=grad_every,
                                   eval_every=0, derivatives="jet" if path != "reference" else "autograd",
                                   compile=compiled)
    trainer = Trainer(config)
    t0 = time.perf_counter()
    trainer.step(WARMUP)
    t1 = time.perf_counter()
    trainer.step(steps)
    if timings is not None:
        timings["warmup_s"] = t1 - t0
    return steps / (time.perf_counter() - t1)


def deepxde_worker(steps: int) -> float:
    """DeepXDE on the same problem: Helmholtz, [2, 50, 50, 50, 1] tanh Glorot normal, Adam 1e-3, 128 domain and
    512 boundary points resampled every step (PDEPointResampler(period=1), boundary points too)."""
    import deepxde as dde
    import numpy as np

    a1, a2, lam = 1.0, 4.0, 1.0

    def exact(x):
        return torch.sin(a1 * math.pi * x[:, 0:1]) * torch.sin(a2 * math.pi * x[:, 1:2])

    def pde(x, y):
        lap = dde.grad.hessian(y, x, i=0, j=0) + dde.grad.hessian(y, x, i=1, j=1)
        q = (lam - (a1**2 + a2**2) * math.pi**2) * exact(x)
        return lap + lam * y - q

    geom = dde.geometry.Rectangle([-1.0, -1.0], [1.0, 1.0])
    bc = dde.icbc.DirichletBC(geom, lambda x: (torch.sin(a1 * math.pi * torch.as_tensor(x[:, 0:1]))
                                               * torch.sin(a2 * math.pi * torch.as_tensor(x[:, 1:2]))).numpy(),
                              # exactly on an edge: DeepXDE's own tolerance (float32) now and then counts an
                              # interior point as boundary, and the resampler then stops on a changed count
                              lambda x, _: bool(np.any(np.abs(x) == 1.0)))
    data = dde.data.PDE(geom, pde, bc, num_domain=128, num_boundary=512, train_distribution="pseudo")
    net = dde.nn.FNN([2] + [50] * 3 + [1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    model.compile("adam", lr=1e-3)
    resample = dde.callbacks.PDEPointResampler(period=1, bc_points=True)
    model.train(iterations=WARMUP, callbacks=[resample], display_every=10**9, verbose=0)
    t0 = time.perf_counter()
    model.train(iterations=steps, callbacks=[resample], display_every=10**9, verbose=0)
    return steps / (time.perf_counter() - t0)


def deepxde(steps: int, threads: int) -> float | None:
    """DeepXDE in a subprocess (it picks its backend and default dtype process-wide); None when absent."""
    env = {**os.environ, "DDE_BACKEND": "pytorch", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "pinncli.bench", "--deepxde-worker", "--steps", str(steps),
           "--threads", str(threads)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        why = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"  DeepXDE run failed (exit {proc.returncode}): {why[:200]}")
        return None
    return json.loads(lines[-1])["steps_per_s"]


def deepxde_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("deepxde") is not None


PATHS = ("fast", "eager", "compiled", "reference")
DEFAULT_METHODS = {"helmholtz": ["M1", "M2", "M4"], "cavity": ["M1", "M4"]}


def run(methods: list[str] | None = None, steps: int = 1000, repeats: int = 3, compile_: bool = False,
        deepxde_: bool = True, snapshots: bool = False, problems: tuple[str, ...] = ("helmholtz",),
        paths: tuple[str, ...] = ("fast", "reference"), threads: tuple[int | str, ...] | None = None,
        ) -> dict[tuple, float]:
    """Measure every path of every method of every problem ``repeats`` times, alternating, print each
    measurement and the medians with their ratios; returns the medians by job (problem, method, path, threads).

    ``methods``: None for each problem's defaults (``DEFAULT_METHODS``). ``threads``: torch thread counts to
    measure, ``"auto"`` for ``recommended_threads`` of each run; None: the caller's (``torch.get_num_threads``)."""
    threads = tuple(threads) if threads else (torch.get_num_threads(),)
    jobs = _jobs(methods, deepxde_, snapshots, problems, paths, threads)
    print(machine())
    names = {"helmholtz": "Helmholtz 3x50", "cavity": "lid-driven cavity 3x50"}
    print(f"{', '.join(names.get(p, p) for p in problems)}, batch 128 per term and per edge; {steps} timed steps "
          f"after {WARMUP} warm-up, {repeats} repeats, alternating paths; fast path "
          f"{'with' if compile_ else 'without'} torch.compile; threads {' '.join(map(str, threads))}")
    if not deepxde_ or not deepxde_installed():
        print("DeepXDE: skipped (" + ("--no-deepxde" if not deepxde_ else "not installed; pip install deepxde") + ")")
    rates: dict[tuple, list[float]] = {j: [] for j in jobs}
    warmups: dict[tuple, list[float]] = {j: [] for j in jobs}
    for r in range(repeats):
        for job in jobs:
            problem, m, path, n = job
            count = _threads_for(problem, m, path, n, compile_)
            torch.set_num_threads(count)
            timings: dict = {}
            if path == "deepxde":
                rate = deepxde(steps, count)
                if rate is None:  # reported; the other repeats still try
                    continue
            else:
                rate = ours(m, "fast" if path.startswith("fast") else path, steps, compile_,
                            grad_every=100 if "histograms" in path else 0, problem=problem, timings=timings)
                warmups[job].append(timings["warmup_s"])
            rates[job].append(rate)
            extra = f"  (warm-up {timings['warmup_s']:.1f} s)" if "warmup_s" in timings and _compiles(path, compile_) else ""
            print(f"  repeat {r + 1}: {_label(job, threads)}: {rate:8.1f} steps/s{extra}", flush=True)
    med = {j: statistics.median(v) for j, v in rates.items() if v}
    _print_medians(jobs, med, threads, warmups, compile_)
    _print_work(jobs)
    return med


def matmul_mflop(method: str, problem: str = "helmholtz") -> float:
    """Matrix-product MFLOP of one ordinary training step (not a weighting update or a snapshot) of ``method``
    on ``problem`` at the benchmark's sizes, counted by ``torch.utils.flop_counter`` on the eager jet path. The
    compiled step does the same products (it concatenates a layer's jet orders into one, and M2/M4's graph
    runs each term's points through their own pass: the same rows, the same FLOPs)."""
    from torch.utils.flop_counter import FlopCounterMode

    from pinncore import Trainer

    config = RunConfig.from_method(method, problem=problem, steps=4, grad_every=0, eval_every=0, compile=False)
    trainer = Trainer(config)
    trainer.step(1)  # step 0 updates the weights of M2/M4; step 1 is an ordinary one
    with FlopCounterMode(display=False) as counter:
        trainer.step(1)
    return counter.get_total_flops() / 1e6


def _print_work(jobs) -> None:
    """The matrix-product work of each measured method against M1's on the same problem. At the paper's sizes
    these products take about half of a compiled step or more, so with a share g of M1's step in them, a method
    doing k times M1's products, and no less other work (the modified MLP's is more: gates, encoders), runs at
    most 1 / (k g + 1 - g) times M1's steps/s."""
    pairs = list(dict.fromkeys((p, m) for p, m, path, _ in jobs if path != "deepxde"))
    if not pairs:
        return
    work = {pair: matmul_mflop(pair[1], pair[0]) for pair in pairs}
    print("\nwork per ordinary step (matrix products)")
    for (p, m), mflop in work.items():
        head = m if p == "helmholtz" else f"{p} {m}"
        row = f"  {head}: {mflop:.1f} MFLOP"
        if m != "M1" and (p, "M1") in work:
            ratio = mflop / work[(p, "M1")]
            row += f", {ratio:.2f}x M1's"
        print(row)


def _compiles(path: str, compile_: bool) -> bool:
    return path == "compiled" or (path.startswith("fast") and compile_)


def _threads_for(problem: str, method: str, path: str, n: int | str, compile_: bool) -> int:
    if n != "auto":
        return int(n)
    from pinncore.threads import recommended_threads

    return recommended_threads(RunConfig.from_method(method, problem=problem, compile=_compiles(path, compile_)))


def _label(job: tuple, threads: tuple) -> str:
    problem, m, path, n = job
    head = m if problem == "helmholtz" else f"{problem} {m}"
    tail = f" ({n} threads)" if len(threads) > 1 else ""
    return f"{head} {path:>22}{tail}"


def _jobs(methods, deepxde_: bool, snapshots: bool, problems=("helmholtz",), paths=("fast", "reference"),
          threads=(1,)) -> list[tuple]:
    use_dde = deepxde_ and deepxde_installed()
    jobs = []
    for problem in problems:
        for m in methods or DEFAULT_METHODS.get(problem, ["M1", "M4"]):
            for n in threads:
                jobs += [(problem, m, path, n) for path in paths]
                if m == "M1" and use_dde and problem == "helmholtz":
                    jobs.append((problem, m, "deepxde", n))
                if m == "M2" and snapshots:
                    jobs.append((problem, m, "fast + histograms/100", n))
    return jobs


def _print_medians(jobs, med, threads, warmups, compile_: bool) -> None:
    print("\nmedian steps/s")
    groups = list(dict.fromkeys((p, m, n) for p, m, _, n in jobs))
    for problem, m, n in groups:
        rate = {path: med[(problem, m, path, n)] for p, mm, path, nn in jobs
                if (p, mm, nn) == (problem, m, n) and (p, mm, path, nn) in med}
        head = m if problem == "helmholtz" else f"{problem} {m}"
        head += f" ({n} threads)" if len(threads) > 1 else ""
        row = [f"{path} {v:.0f}" for path, v in rate.items() if not path.startswith("fast +")]
        if "reference" in rate:
            row += [f"{path}/reference {v / rate['reference']:.2f}x" for path, v in rate.items()
                    if path in ("fast", "eager", "compiled")]
        if "deepxde" in rate and "fast" in rate:
            row += [f"fast/deepxde {rate['fast'] / rate['deepxde']:.2f}x"]
        if "fast + histograms/100" in rate and "fast" in rate:
            cost = 1 - rate["fast + histograms/100"] / rate["fast"]
            row += [f"histograms every 100 steps cost {100 * cost:.1f} %"]
        compiled = [w for (p, mm, path, nn), ws in warmups.items() for w in ws
                    if (p, mm, nn) == (problem, m, n) and _compiles(path, compile_)]
        if compiled:
            row += [f"compiled warm-up (first {WARMUP} steps, compile included) max {max(compiled):.1f} s "
                    f"min {min(compiled):.1f} s"]
        print(f"  {head}: " + ", ".join(row))
    ref = {(p, m, n): v for (p, m, path, n), v in med.items() if path in ("compiled", "fast")}
    for (p, m, n), v in ref.items():
        if m != "M1" and (p, "M1", n) in ref:
            head = p + (f" ({n} threads)" if len(threads) > 1 else "")
            print(f"  {head}: {m}/M1 {v / ref[(p, 'M1', n)]:.2f}x")
