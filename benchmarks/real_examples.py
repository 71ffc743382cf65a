"""Train the real-problem examples (issue 34) with the documented commands and print their numbers.

    nice -n 19 python benchmarks/real_examples.py [--runs runs/real] [--workers 2] [--only burgers ...]
    python benchmarks/real_examples.py --table-only        # the table of the runs there are

Each run is ``pinn train --problem-file examples/problems/NAME.toml --method M --seed S --steps N --out DIR`` (the
engine chosen as for any ``pinn train``: compiled where it pays), three seeds per method; a run whose directory
holds a finished run is not trained again, an interrupted one is resumed (``pinn resume``). The table gives, per
example and method, the relative L2 error of each seed at the last step (and for the inverse problem the learned
coefficient), the median and the training time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "problems"
SEEDS = (0, 1, 2)
PLAN = {  # example -> (steps, methods)
    "burgers": (20_000, ("M1", "M2", "M4")),
    "allen-cahn": (20_000, ("M1", "M2", "M4")),
    "poisson-holes": (10_000, ("M1", "M2", "M4")),
    "heat-inverse": (10_000, ("M1", "M2", "M4")),
    "convection": (10_000, ("M1", "M2", "M3", "M4")),
}


def tasks(only, methods_only=None) -> list[tuple[str, str, int, int]]:
    """The runs to train, example by example in the order ``only`` gives (all of PLAN by default)."""
    return [(name, m, seed, PLAN[name][0]) for name in (only or PLAN) for m in PLAN[name][1]
            if not methods_only or m in methods_only for seed in SEEDS]


def summary(run: Path) -> dict:
    try:
        return json.loads((run / "summary.json").read_text())
    except (OSError, ValueError):
        return {}


def train(root: Path, task) -> str:
    name, method, seed, steps = task
    run = root / f"{name}-{method}-s{seed}"
    done = summary(run)
    if done.get("status") == "finished":
        return f"{run.name}: finished already"
    cmd = [sys.executable, "-m", "pinncli"]
    if (run / "checkpoint.pt").exists():
        cmd += ["resume", str(run)]
    else:
        if run.exists():  # created, never checkpointed: start again
            subprocess.run(["rm", "-rf", str(run)], check=True)
        cmd += ["train", "--problem-file", str(EXAMPLES / f"{name}.toml"), "--method", method, "--seed", str(seed),
                "--steps", str(steps), "--out", str(run)]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
    return f"{run.name}: exit {proc.returncode} after {time.time() - t0:.0f} s {tail[0][:200]}"


def table(root: Path) -> str:
    lines = ["| example | method | steps | rel. L2 error, seeds 0 / 1 / 2 | median | unknowns (seeds) | "
             "training time per run |", "|---|---|---|---|---|---|---|"]
    for name, (steps, methods) in PLAN.items():
        for m in methods:
            runs = [summary(root / f"{name}-{m}-s{s}") for s in SEEDS]
            runs = [r if r.get("status") == "finished" else {} for r in runs]  # a run cut short is no result
            errs = [r.get("rel_l2") for r in runs]
            known = [r.get("unknowns") or {} for r in runs]
            done = [r.get("steps_done") for r in runs]
            if not any(done):
                continue
            errs_text = " / ".join("–" if e is None else f"{e:.3g}" for e in errs)
            fin = [e for e in errs if e is not None]
            unk = "; ".join(" / ".join(f"{k} = {v:.4g}" for k, v in u.items()) for u in known if u) or "–"
            wall = [r.get("wall_s") for r in runs if r.get("wall_s")]
            lines.append(f"| {name} | {m} | {steps:,} | {errs_text} | "
                         f"{statistics.median(fin):.3g} | {unk} | "
                         f"{statistics.median(wall):.0f} s |" if fin and wall else
                         f"| {name} | {m} | - | {errs_text} | - | {unk} | - |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default=str(ROOT / "runs" / "real"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", nargs="+", choices=list(PLAN), help="these examples, in this order")
    ap.add_argument("--methods", nargs="+", help="only these methods (e.g. M1 M4)")
    ap.add_argument("--table-only", action="store_true")
    a = ap.parse_args(argv)
    root = Path(a.runs)
    root.mkdir(parents=True, exist_ok=True)
    if not a.table_only:
        with ThreadPoolExecutor(a.workers) as pool:
            for line in pool.map(lambda t: train(root, t), tasks(a.only, a.methods)):
                print(time.strftime("%H:%M:%S"), line, flush=True)
    print(table(root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
