"""``pinn bench``: the benchmark's options (``pinnlab.bench`` measures); also the DeepXDE worker's entry point
(``python -m pinncli.bench --deepxde-worker``), which runs in a process of its own."""
from __future__ import annotations

import argparse
import json
import sys

from .args import Parser


def build_parser() -> Parser:
    from pinnlab import bench

    p = Parser(prog="pinn bench", description=bench.__doc__.split("\n\n")[0])
    p.label = "pinn bench"
    p.add_argument("--methods", nargs="+", default=None,
                   help="default M1 M2 M4 on Helmholtz, M1 M4 on the cavity")
    p.add_argument("--problems", nargs="+", default=["helmholtz"], choices=["helmholtz", "cavity"],
                   help="default helmholtz")
    p.add_argument("--paths", nargs="+", default=["fast", "reference"], choices=list(bench.PATHS),
                   help="default fast reference (fast: compiled with --compile, else eager)")
    p.add_argument("--steps", type=int, default=1000, help="timed steps per measurement (default 1000)")
    p.add_argument("--repeats", type=int, default=3, help="measurements per path (default 3; median reported)")
    p.add_argument("--threads", nargs="+", default=["auto"],
                   help="torch thread counts to measure, or auto: pinncore.threads.recommended_threads per run "
                        "(default auto)")
    p.add_argument("--compile", action="store_true", help="compile the fast path's steps (pinncore.fused)")
    p.add_argument("--no-deepxde", action="store_true", help="skip DeepXDE")
    p.add_argument("--snapshots", action="store_true", help="also time M2 with histograms every 100 steps")
    p.add_argument("--deepxde-worker", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    if any(t != "auto" and not (t.isdigit() and int(t) >= 1) for t in a.threads):
        p.exit(2, "pinn bench: error: --threads: each must be auto or an integer >= 1\n")
    threads = [t if t == "auto" else int(t) for t in a.threads]
    if a.steps < 1 or a.repeats < 1:
        p.exit(2, "pinn bench: error: --steps, --repeats and --threads must be >= 1\n")
    for m in a.methods or []:
        if m not in ("M1", "M2", "M3", "M4"):
            p.exit(2, f"pinn bench: error: --methods: unknown '{m}'; allowed: M1 M2 M3 M4\n")
    import torch

    from pinnlab import bench

    fixed = [t for t in threads if t != "auto"]
    torch.set_num_threads(fixed[0] if fixed else 1)
    if a.deepxde_worker:
        print(json.dumps({"steps_per_s": bench.deepxde_worker(a.steps)}))
        return 0
    bench.run(a.methods, steps=a.steps, repeats=a.repeats, compile_=a.compile, deepxde_=not a.no_deepxde,
              snapshots=a.snapshots, problems=tuple(a.problems), paths=tuple(a.paths), threads=tuple(threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
