"""The compiled step's time with random Fourier features and weight factorisation against the plain network's,
on Helmholtz (a1 = 1, a2 = 4) at equal width and depth (3 x 50, 128 points per term and edge, one thread).

Every variant is built and compiled first (one Trainer each, compile=True), then timed in interleaved rounds
(A B C ... A B C ...) so that the machine's drift falls on all alike; the report is each variant's median step
time over the rounds and its ratio to the plain network's median.

    nice -n 19 python benchmarks/network_speed.py [--models mlp modified-mlp] [--rounds 15] [--steps 400]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pinncore import RunConfig, Trainer  # noqa: E402

VARIANTS = {  # name -> RunConfig fields on top of the plain network
    "plain": {},
    "fourier (m = 25, B fixed)": dict(embedding="fourier"),
    "fourier (B trained)": dict(embedding="fourier", fourier_trained=True),
    "rwf": dict(rwf=True),
    "fourier + rwf": dict(embedding="fourier", rwf=True),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["mlp"], help="mlp, modified-mlp (fixed weights: M1, M3)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps", type=int, default=400, help="timed steps per variant and round")
    a = ap.parse_args()
    torch.set_num_threads(1)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} · {platform.processor() or platform.machine()} · torch "
          f"{torch.__version__} · 1 thread · {a.rounds} rounds x {a.steps} steps", flush=True)
    for model in a.models:
        trainers = {}
        for name, fields in VARIANTS.items():
            config = RunConfig(problem="helmholtz", model=model, depth=3, width=50, batch=128, compile=True,
                               steps=10 ** 7, eval_every=0, grad_every=0, **fields)
            t = trainers[name] = Trainer(config)
            t.step(20)  # compiles
            print(f"{model} {name}: compiled in {t.compile_seconds:.0f} s", flush=True)
        times = {name: [] for name in trainers}
        for _ in range(a.rounds):
            for name, t in trainers.items():
                t0 = time.perf_counter()
                t.step(a.steps)
                times[name].append((time.perf_counter() - t0) / a.steps)
        base = statistics.median(times["plain"])
        print(f"\n{model}, Helmholtz 3x50, compiled step (median of {a.rounds} rounds):\n")
        print("| network | ms / step (median) | min - max over rounds | vs plain |")
        print("|---|---|---|---|")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"| {name} | {1e3 * med:.3f} | {1e3 * min(ts):.3f} - {1e3 * max(ts):.3f} | {med / base:.2f}x |",
                  flush=True)


if __name__ == "__main__":
    main()
