"""Cold and warm compile times of the default compare's training steps, in fresh processes.

    python benchmarks/compile_time.py [--setups M1 M2 M3 M4] [--problem helmholtz] [--repeats 3]
                                      [--repo DIR ...] [--env NAME=VALUE ...]

For each checkout (``--repo``, default this one; pass an older checkout to measure before a change) and each
repeat: a new, EMPTY compile cache (``TORCHINDUCTOR_CACHE_DIR``), then for each setup, one after the other in
that cache, a fresh Python process that builds ``Trainer(compile=True)`` for the setup (the paper's protocol,
3x50) and times its first step: cold for the first setup of each graph, warm (found in the cache) for a setup
whose graph an earlier setup compiled. Then one more fresh process per setup on the now-full cache: the warm
compile. Reported per checkout: the medians per setup, and the default compare's total cold compile time (the sum
over its setups in order, which is what a new machine pays once). Checkouts are measured alternately, repeat by
repeat, so that the machine's drift falls on all alike.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json, sys, time, torch
torch.set_num_threads(1)
from pinncore import RunConfig, Trainer
c = RunConfig.from_method(sys.argv[1], problem=sys.argv[2], steps=3, grad_every=0, eval_every=0, compile=True)
t = Trainer(c)
t0 = time.perf_counter()
t.step(2)
print(json.dumps({"first_steps_s": time.perf_counter() - t0, "compile_s": t.compile_seconds}))
"""


def probe(repo: Path, setup: str, problem: str, cache: Path, extra_env: dict) -> float:
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str(cache), PYTHONPATH=str(repo), **extra_env)
    proc = subprocess.run([sys.executable, "-c", PROBE, setup, problem], capture_output=True, text=True, cwd=repo,
                          env=env, timeout=1200)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        raise SystemExit(f"{repo} {setup}: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}")
    return json.loads(lines[-1])["first_steps_s"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--setups", nargs="+", default=["M1", "M2", "M3", "M4"])
    p.add_argument("--problem", default="helmholtz")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--repo", type=Path, nargs="+", default=[ROOT])
    p.add_argument("--env", nargs="*", default=[], metavar="NAME=VALUE", help="environment for every probe")
    a = p.parse_args()
    extra = dict(e.split("=", 1) for e in a.env)
    cold: dict = {(r, s): [] for r in a.repo for s in a.setups}
    warm: dict = {(r, s): [] for r in a.repo for s in a.setups}
    totals: dict = {r: [] for r in a.repo}
    for i in range(a.repeats):
        for repo in a.repo:
            with tempfile.TemporaryDirectory(prefix="pinn-compile-") as cache:
                first = {s: probe(repo, s, a.problem, Path(cache), extra) for s in a.setups}
                again = {s: probe(repo, s, a.problem, Path(cache), extra) for s in a.setups}
            for s in a.setups:
                cold[(repo, s)].append(first[s])
                warm[(repo, s)].append(again[s])
            totals[repo].append(sum(first.values()))
            print(f"repeat {i + 1} {repo}: first compiles " + ", ".join(f"{s} {first[s]:.1f} s" for s in a.setups)
                  + f" (total {sum(first.values()):.1f} s); warm " + ", ".join(f"{s} {again[s]:.1f} s"
                                                                        for s in a.setups), flush=True)
    print(f"{a.problem}, setups {' '.join(a.setups)} in this order, {a.repeats} repeats, medians:")
    for repo in a.repo:
        print(f"  {repo}: first compile " + ", ".join(f"{s} {statistics.median(cold[(repo, s)]):.1f} s"
                                                      for s in a.setups)
              + f"; compare total {statistics.median(totals[repo]):.1f} s; warm "
              + ", ".join(f"{s} {statistics.median(warm[(repo, s)]):.1f} s" for s in a.setups))
    return 0


if __name__ == "__main__":
    sys.exit(main())
