"""Steps/s of a spec problem against the equivalent built-in, measured side by side in one process.

    python benchmarks/spec_speed.py [--spec examples/problems/helmholtz.toml] [--builtin helmholtz]
                                    [--compile] [--rounds 7] [--steps 200] [--method M1]

Both trainers are built first (and, with --compile, compiled and warmed up); then rounds alternate between them,
``--steps`` steps each, so load from other processes hits both alike. Prints each round's steps/s and the median
of the per-round ratios spec / built-in. One torch thread.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pinncore import RunConfig, Trainer  # noqa: E402
from pinncore.problems.spec import load_spec_file, problem_class  # noqa: E402


def rate(trainer: Trainer, steps: int) -> float:
    t0 = time.perf_counter()
    trainer.step(steps)
    return steps / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="examples/problems/helmholtz.toml")
    ap.add_argument("--builtin", default="helmholtz")
    ap.add_argument("--method", default="M1")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    text = load_spec_file(args.spec)
    total = args.rounds * args.steps + 50
    common = dict(steps=total + args.steps, eval_every=0, grad_every=0, compile=args.compile)
    spec = Trainer(RunConfig.from_method(args.method, problem=problem_class(text).name, spec=text, **common))
    builtin = Trainer(RunConfig.from_method(args.method, problem=args.builtin, **common))
    for t in (spec, builtin):  # warm-up: compilation, allocator, the first update step
        t.step(50)
        if args.compile:
            assert not t._fused.failed, "compilation failed: the comparison would be eager"
    ratios = []
    for k in range(args.rounds):
        pair = [(builtin, "builtin"), (spec, "spec")]
        if k % 2:
            pair.reverse()
        r = {name: rate(t, args.steps) for t, name in pair}
        ratios.append(r["spec"] / r["builtin"])
        print(f"round {k}: built-in {r['builtin']:.1f} steps/s, spec {r['spec']:.1f} steps/s, "
              f"ratio {ratios[-1]:.3f}", flush=True)
    mode = "compiled" if args.compile else "eager"
    print(f"{args.builtin} {args.method} {mode}: median spec / built-in = {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}, {args.rounds} rounds of {args.steps} steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
