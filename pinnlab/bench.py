"""``pinn bench``: training speed of the fast derivative path against the nested-autograd reference and DeepXDE.

Helmholtz 3x50, 128 fresh points per term and per edge, the paper's protocol; for each method (M1, M2, M4 by
default) it measures, alternating A B C A B C ... to cancel drift:

* ``fast``       -- forward-mode jets, one forward pass for all terms (``derivatives="jet"``; ``--compile`` adds
                    each step compiled into one graph, ``pinncore.fused``);
* ``reference``  -- the nested ``torch.autograd.grad`` path (``derivatives="autograd"``), same trainer;
* ``deepxde``    -- DeepXDE with its PyTorch backend, resampling every step (M1 only: it has no annealing or
                    modified MLP), in a subprocess, when it is installed (``pip install deepxde``).

Each measurement builds a fresh run, warms up (and compiles), then times ``--steps`` steps; the report is the
median over ``--repeats`` and the ratios of medians. ``--snapshots`` also times M2 with gradient-histogram
snapshots every 100 steps, to show what they cost.
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


def ours(method: str, path: str, steps: int, compile_: bool, grad_every: int = 0) -> float:
    """Steps per second of one fresh run of ours."""
    from pinncore import Trainer

    config = RunConfig.from_method(method, steps=steps + WARMUP, grad_every=grad_every, eval_every=0,
                                   derivatives="jet" if path != "reference" else "autograd",
                                   compile=compile_ and path != "reference")
    trainer = Trainer(config)
    trainer.step(WARMUP)
    t0 = time.perf_counter()
    trainer.step(steps)
    return steps / (time.perf_counter() - t0)


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


def run(methods: list[str], steps: int = 1000, repeats: int = 3, compile_: bool = False, deepxde_: bool = True,
        snapshots: bool = False) -> dict[tuple[str, str], float]:
    """Measure every path of every method ``repeats`` times, alternating, print each measurement and the medians
    with their ratios; returns the medians. The thread count is the caller's (``torch.set_num_threads``)."""
    threads = torch.get_num_threads()
    jobs = _jobs(methods, deepxde_, snapshots)
    print(machine())
    print(f"Helmholtz 3x50, batch 128 per term and per edge; {steps} timed steps after {WARMUP} warm-up, "
          f"{repeats} repeats, alternating paths; fast path {'with' if compile_ else 'without'} torch.compile")
    if not deepxde_ or not deepxde_installed():
        print("DeepXDE: skipped (" + ("--no-deepxde" if not deepxde_ else "not installed; pip install deepxde") + ")")
    rates: dict[tuple[str, str], list[float]] = {j: [] for j in jobs}
    for r in range(repeats):
        for m, path in jobs:
            if path == "deepxde":
                rate = deepxde(steps, threads)
                if rate is None:  # reported; the other repeats still try
                    continue
            else:
                rate = ours(m, "fast" if path.startswith("fast") else path, steps, compile_,
                            grad_every=100 if "histograms" in path else 0)
            rates[(m, path)].append(rate)
            print(f"  repeat {r + 1}: {m} {path:>22}: {rate:8.1f} steps/s", flush=True)
    med = {j: statistics.median(v) for j, v in rates.items() if v}
    _print_medians(methods, med)
    return med


def _jobs(methods: list[str], deepxde_: bool, snapshots: bool) -> list[tuple[str, str]]:
    use_dde = deepxde_ and deepxde_installed()
    jobs = []
    for m in methods:
        jobs += [(m, "fast"), (m, "reference")]
        if m == "M1" and use_dde:
            jobs.append((m, "deepxde"))
        if m == "M2" and snapshots:
            jobs.append((m, "fast + histograms/100"))
    return jobs


def _print_medians(methods: list[str], med: dict[tuple[str, str], float]) -> None:
    print("\nmedian steps/s")
    for m in methods:
        row = [f"{m}: fast {med[(m, 'fast')]:.0f}", f"reference {med[(m, 'reference')]:.0f}",
               f"fast/reference {med[(m, 'fast')] / med[(m, 'reference')]:.2f}x"]
        if (m, "deepxde") in med:
            row += [f"deepxde {med[(m, 'deepxde')]:.0f}", f"fast/deepxde {med[(m, 'fast')] / med[(m, 'deepxde')]:.2f}x"]
        if (m, "fast + histograms/100") in med:
            cost = 1 - med[(m, "fast + histograms/100")] / med[(m, "fast")]
            row += [f"histograms every 100 steps cost {100 * cost:.1f} %"]
        print("  " + ", ".join(row))
