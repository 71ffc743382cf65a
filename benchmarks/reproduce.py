"""Reproduce the paper's headline numbers with ``pinn train`` at the paper protocol (40,000 steps, seed 0).

    python benchmarks/reproduce.py [--jobs 2] [--steps 40000] [--root runs/reproduce] [--only NAME ...]

Runs each case as its own single-threaded ``pinn train`` process (``--jobs`` at a time), skips cases whose run
directory already holds a finished summary, and prints a Markdown table of final relative L2 errors and lambdas
next to the issue's acceptance bounds and the paper's numbers. Minutes per case on a laptop core; not a test.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# name: (pinn train arguments, acceptance bound or None, paper's number or None)
CASES = {
    "helmholtz-M1": ("--problem helmholtz --method M1 --depth 3", ("above", 3e-2), 1.06e-1),
    "helmholtz-M2": ("--problem helmholtz --method M2 --depth 3", ("at most", 4e-2), 1.12e-2),
    "helmholtz-M3": ("--problem helmholtz --method M3 --depth 3", None, 2.46e-2),
    "helmholtz-M4": ("--problem helmholtz --method M4 --depth 3", ("at most", 1e-2), 3.87e-3),
    "helmholtz-M2-paper": ("--problem helmholtz --method M2 --depth 3 --annealing-variant paper", None, None),
    "helmholtz-M4-paper": ("--problem helmholtz --method M4 --depth 3 --annealing-variant paper", None, None),
    "klein-gordon-M4": ("--problem klein-gordon --method M4 --depth 5", ("at most", 1e-2), 2.81e-3),
    "cavity-M4": ("--problem cavity --method M4 --depth 3", ("at most", 1e-1), 3.42e-2),
}


def run_case(name: str, args: str, root: Path, steps: int, seed: int) -> dict:
    out = root / name
    summary = out / "summary.json"
    if summary.exists() and json.loads(summary.read_text()).get("status") == "finished":
        return json.loads(summary.read_text())
    if out.exists():  # an interrupted run: continue it
        cmd = ["pinn", "resume", str(out)]
    else:
        cmd = ["pinn", "train", *args.split(), "--steps", str(steps), "--seed", str(seed), "--out", str(out)]
    t0 = time.time()
    with open(root / f"{name}.log", "w") as log:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
    print(f"{name}: done in {time.time() - t0:.0f} s", flush=True)
    return json.loads(summary.read_text()) if summary.exists() else {"status": "failed"}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--steps", type=int, default=40_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--root", default="runs/reproduce")
    p.add_argument("--only", nargs="*", choices=list(CASES), help="run only these cases")
    a = p.parse_args()
    root = Path(a.root)
    root.mkdir(parents=True, exist_ok=True)
    names = a.only or list(CASES)
    with ThreadPoolExecutor(a.jobs) as pool:
        results = dict(zip(names, pool.map(lambda n: run_case(n, CASES[n][0], root, a.steps, a.seed), names)))
    print("\n| case | status | rel. L2 error | bound | paper | lambdas | steps/s |\n|---|---|---|---|---|---|---|")
    ok = True
    for name in names:
        s, (_, bound, paper) = results[name], CASES[name]
        err = s.get("rel_l2")
        verdict = ""
        if bound and isinstance(err, float):
            passed = err > bound[1] if bound[0] == "above" else err <= bound[1]
            ok &= passed
            verdict = f"{bound[0]} {bound[1]:.0e} {'ok' if passed else 'MISSED'}"
        lam = ", ".join(f"{k}={v:.3g}" for k, v in s.get("lambdas", {}).items() if k != "res")
        print(f"| {name} | {s.get('status')} | {err:.3e} | {verdict} | {paper or '-'} | {lam} | "
              f"{s.get('steps_per_s')} |" if isinstance(err, float) else f"| {name} | {s.get('status')} | - | | | | |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
