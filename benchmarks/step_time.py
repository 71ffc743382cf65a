"""Seconds per 1,000 training steps of the dashboard's default compare setups (Helmholtz 3x50, the dashboard's
cadences: gradient snapshots and evaluations every 250 steps, a Hessian snapshot every 500), in this checkout and in
another source tree (``--before``, e.g. ``git archive <commit> | tar -x -C /tmp/before``), each timing in a fresh
process, the two trees alternating, medians over ``--rounds``:

    nice -n 19 python benchmarks/step_time.py --before /tmp/before --rounds 5 > step_time.log 2>&1 &

Each process builds a trainer (compiled or eager, one thread), takes ``--warm`` steps (compilation, warm-up) and
times ``--steps`` more, snapshots included.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json, sys, time, torch
torch.set_num_threads(1)
from pinncore import RunConfig, Trainer
method, compiled, warm, steps = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), int(sys.argv[4])
t = Trainer(RunConfig.from_method(method, problem="helmholtz", steps=10 ** 7, grad_every=250, eval_every=250,
                                  hessian_every=500, compile=compiled))
t.step(warm)
t0, c0 = time.perf_counter(), time.process_time()
t.step(steps)
print(json.dumps({"wall": (time.perf_counter() - t0) / steps * 1000, "cpu": (time.process_time() - c0) / steps * 1000}))
"""


def probe(tree: Path, method: str, compiled: bool, warm: int, steps: int) -> dict[str, float]:
    """{"wall", "cpu"}: seconds per 1,000 steps (CPU: the process's own, one thread; it does not count the time
    other processes of a shared machine take)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", PROBE, method, "1" if compiled else "0", str(warm), str(steps)],
                         cwd=tree, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", required=True, help="the other source tree")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warm", type=int, default=300)
    p.add_argument("--steps", type=int, default=2000)
    a = p.parse_args()
    trees = {"before": Path(a.before).resolve(), "after": ROOT}
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {a.rounds} rounds, {a.steps} timed steps after {a.warm}", flush=True)
    for compiled in (True, False):
        for method in ("M1", "M2"):
            times: dict[str, list[dict]] = {k: [] for k in trees}
            for _ in range(a.rounds):
                for name, tree in trees.items():
                    times[name].append(probe(tree, method, compiled, a.warm, a.steps))
            for kind in ("cpu", "wall"):
                before = [x[kind] for x in times["before"]]
                after = [x[kind] for x in times["after"]]
                b, c = statistics.median(before), statistics.median(after)
                print(f"{method} {'compiled' if compiled else 'eager'} {kind}: before {b:.3f} s, after {c:.3f} s per "
                      f"1,000 steps ({100 * (c / b - 1):+.1f} %); before {['%.3f' % x for x in before]}, after "
                      f"{['%.3f' % x for x in after]}", flush=True)


if __name__ == "__main__":
    main()
