"""Steps/s of a spec on a disk (and one periodic in x) against the equivalent box spec: same network, same terms,
the same number of points per step; measured side by side in one process.

    python benchmarks/real_speed.py [--compile] [--rounds 9] [--steps 200] [--method M1]

Pairs (``benchmarks/specs/``): Poisson with a manufactured solution on the square [-1, 1]^2 (interior and its
boundary, 128 + 4 x 128 points) against the same on the square minus a disk (interior, outer boundary and the
hole's circle: 128 + 4 x 128 points, sampled by rejection and by arc length); and convection u_t + 30 u_x = 0
with Dirichlet values on x = 0 and x = 2 pi (2 x 128 points) against the periodic penalty pairing x = 0 with
x = 2 pi (128 pairs, by default on values only: the equation is of first order in x), and the same box with
values and slopes u_x on its faces against the penalty on values and u_x (``periodic_derivatives = true``: the
same derivatives at the same points). All trainers are built (and with --compile,
compiled and warmed up) first; then rounds alternate the order within each pair, ``--steps`` steps each, so load
from other processes hits both alike. Prints each round's ratio and the median. One torch thread.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pinncore import RunConfig, Trainer  # noqa: E402
from pinncore.problems.spec import load_spec_file, problem_class  # noqa: E402

PAIRS = (("poisson-box", "poisson-disk"), ("convection-box", "convection-periodic"),
         ("convection-box-slopes", "convection-periodic-slopes"))


def trainer(name: str, method: str, steps: int, compile: bool) -> Trainer:
    text = load_spec_file(ROOT / "benchmarks" / "specs" / f"{name}.toml")
    config = RunConfig.from_method(method, problem=problem_class(text).name, spec=text, steps=steps, eval_every=0,
                                   grad_every=0, compile=compile)
    return Trainer(config)


def rate(t: Trainer, steps: int) -> tuple[float, float]:
    """(steps per wall-clock second, steps per second of this process's CPU time)."""
    t0, c0 = time.perf_counter(), time.process_time()
    t.step(steps)
    return steps / (time.perf_counter() - t0), steps / (time.process_time() - c0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="M1")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    total = (args.rounds + 1) * args.steps + 50
    mode = "compiled" if args.compile else "eager"
    for box, other in PAIRS:
        ts = {n: trainer(n, args.method, total, args.compile) for n in (box, other)}
        for t in ts.values():  # warm-up: compilation, allocator, the first update step
            t.step(50)
            if args.compile:
                assert not t._fused.failed, "compilation failed: the comparison would be eager"
        ratios, cpu = [], []
        for k in range(args.rounds):
            order = [box, other] if k % 2 == 0 else [other, box]
            r = {n: rate(ts[n], args.steps) for n in order}
            ratios.append(r[other][0] / r[box][0])
            cpu.append(r[other][1] / r[box][1])
            print(f"round {k}: {box} {r[box][0]:.1f} steps/s, {other} {r[other][0]:.1f} steps/s, ratio "
                  f"{ratios[-1]:.3f} (CPU time: {cpu[-1]:.3f})", flush=True)
        print(f"{other} / {box}, {args.method} {mode}: median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, "
              f"max {max(ratios):.3f}, {args.rounds} rounds of {args.steps} steps); by CPU time: median "
              f"{statistics.median(cpu):.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
