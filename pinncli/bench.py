"""``pinn bench``: the benchmark's options (``pinnlab.bench`` measures); also the DeepXDE worker's entry point
(``python -m pinncli.bench --deepxde-worker``), which runs in a process of its own."""
from __future__ import annotations

import argparse
import json
import os
import sys

from .args import Parser


def build_parser() -> Parser:
    from pinnlab import bench

    p = Parser(prog="pinn bench", description=bench.__doc__.split("\n\n")[0])
    p.label = "pinn bench"
    p.add_argument("--methods", nargs="+", default=["M1", "M2", "M4"], help="default M1 M2 M4")
    p.add_argument("--steps", type=int, default=1000, help="timed steps per measurement (default 1000)")
    p.add_argument("--repeats", type=int, default=3, help="measurements per path (default 3; median reported)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all cores)")
    p.add_argument("--compile", action="store_true", help="compile the fast path's steps (pinncore.fused)")
    p.add_argument("--no-deepxde", action="store_true", help="skip DeepXDE")
    p.add_argument("--snapshots", action="store_true", help="also time M2 with histograms every 100 steps")
    p.add_argument("--deepxde-worker", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    if a.steps < 1 or a.repeats < 1 or a.threads < 1:
        p.exit(2, "pinn bench: error: --steps, --repeats and --threads must be >= 1\n")
    for m in a.methods:
        if m not in ("M1", "M2", "M3", "M4"):
            p.exit(2, f"pinn bench: error: --methods: unknown '{m}'; allowed: M1 M2 M3 M4\n")
    import torch

    from pinnlab import bench

    torch.set_num_threads(a.threads)
    if a.deepxde_worker:
        print(json.dumps({"steps_per_s": bench.deepxde_worker(a.steps)}))
        return 0
    bench.run(a.methods, steps=a.steps, repeats=a.repeats, compile_=a.compile, deepxde_=not a.no_deepxde,
              snapshots=a.snapshots)
    return 0


if __name__ == "__main__":
    sys.exit(main())
