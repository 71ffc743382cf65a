"""Acceptance measurements of NTK weights, causal weights and the alignment score (issue 32); the numbers of
docs/science/ntk-causal-alignment.md. Long: run it in the background, niced, with a log:

    nice -n 19 python benchmarks/ntk_causal.py wave   --out runs/acceptance > wave.log 2>&1 &
    nice -n 19 python benchmarks/ntk_causal.py causal --out runs/acceptance > causal.log 2>&1 &
    nice -n 19 python benchmarks/ntk_causal.py cost   > cost.log 2>&1 &

* ``wave``: the NTK paper's failure case (examples/problems/wave-ntk.toml, u_tt = 4 u_xx), a [2, 100 x 5, 1] tanh
  MLP, 20,000 Adam steps at a constant lr 1e-3 (the PINNacle protocol), 128 points per term and face per step,
  seeds 0-2: fixed weights (M1), annealing (M2) and NTK weights, each a ``pinn train`` (compiled where it pays).
* ``causal``: 1D convection u_t + 40 u_x = 0 (examples/problems/convection-causal.toml), [2, 50 x 4, 1], 12,000 steps,
  256 points per term and face, seeds 0-2, plain (M1) against causal weights (32 chunks, eps = 1): errors, and the
  error at each t.
* ``cost``: interleaved rounds of timed trainers (1 thread, compiled after a warm-up), medians of CPU and wall
  seconds per 1,000 steps: Helmholtz M1 against M1 with NTK weights at their default cadence, M2 with and without
  the alignment score (its computation patched out in this process for the "without" side), Klein-Gordon M1 with
  and without causal weights. The machine is shared: rounds alternate so that drift hits both sides alike, and
  CPU time (this process's) does not count the time other processes take.

Every run's directory stays under ``--out``; the tables are printed at the end.
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "problems"
WAVE = dict(file="wave-ntk.toml", depth=5, width=100, steps=20_000, lr=1e-3, decay=1.0, batch=128,
            recipes={"fixed (M1)": ["--method", "M1"], "annealing (M2)": ["--method", "M2"],
                     "NTK weights": ["--weighting", "ntk"]})
CAUSAL = dict(file="convection-causal.toml", depth=4, width=50, steps=12_000, lr=1e-3, decay=0.9, batch=256,
              recipes={"plain (M1)": ["--method", "M1"], "causal (M1 + causal)": ["--method", "M1", "--causal"]})


def train(setup: dict, name: str, flags: list[str], seed: int, out: Path) -> dict:
    """One ``pinn train`` run (reused when its directory holds a finished run): its summary."""
    run = out / f"{Path(setup['file']).stem}-{name.split()[0].strip('()')}-s{seed}"
    summary = run / "summary.json"
    if summary.exists() and json.loads(summary.read_text()).get("status") == "finished":
        return json.loads(summary.read_text()) | {"dir": str(run)}
    if run.exists():
        import shutil

        shutil.rmtree(run)
    cmd = [sys.executable, "-m", "pinncli", "train", "--problem-file", str(EXAMPLES / setup["file"]), *flags,
           "--depth", str(setup["depth"]), "--width", str(setup["width"]), "--steps", str(setup["steps"]),
           "--lr", str(setup["lr"]), "--decay-rate", str(setup["decay"]), "--batch", str(setup["batch"]),
           "--seed", str(seed), "--eval-every", "1000", "--grad-every", "2000", "--out", str(run)]
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    print(f"{name} seed {seed}: exit {proc.returncode} after {time.time() - t0:.0f} s "
          f"{proc.stderr.strip().splitlines()[-1][:200] if proc.stderr.strip() else ''}", flush=True)
    return json.loads(summary.read_text()) | {"dir": str(run)} if summary.exists() else {"status": "failed"}


def table(setup: dict, out: Path, seeds: int, workers: int) -> dict[str, list[dict]]:
    jobs = [(name, flags, s) for s in range(seeds) for name, flags in setup["recipes"].items()]
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda j: (j[0], train(setup, j[0], j[1], j[2], out)), jobs))
    by: dict[str, list[dict]] = {}
    for name, summary in results:
        by.setdefault(name, []).append(summary)
    print(f"\n{setup['file']}: [{', '.join(['2'] + [str(setup['width'])] * setup['depth'] + ['1'])}] tanh, "
          f"{setup['steps']:,} steps, lr {setup['lr']:g} x {setup['decay']:g}^(step/1000), batch {setup['batch']}")
    print(f"{'recipe':24s} {'rel. L2 per seed':40s} {'mean':>9s} {'steps/s':>8s}")
    for name, rows in by.items():
        errs = [r.get("rel_l2") for r in rows]
        ok = [e for e in errs if isinstance(e, (int, float))]
        rates = [r.get("steps_per_s") for r in rows if r.get("steps_per_s")]
        print(f"{name:24s} {', '.join(f'{e:.3e}' if isinstance(e, float) else str(e) for e in errs):40s} "
              f"{np.mean(ok) if ok else float('nan'):9.3e} {np.median(rates) if rates else float('nan'):8.1f}")
    return by


def error_by_t(run_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """The relative L2 error of u(., t) at each t of the run's last evaluation."""
    from pinncore.run import Run

    run = Run.view(run_dir)
    pred = run.snapshots["eval"][-1].prediction.astype(np.float64)
    ref = run.trainer.reference_field
    err = np.linalg.norm(pred - ref, axis=1) / np.linalg.norm(ref, axis=1)  # rows: t (the second input)
    return np.linspace(*run.trainer.problem.domain[1], err.size), err


def causal_report(by: dict[str, list[dict]]) -> None:
    print("\nrelative L2 error of u(., t) at t = 0, 0.25, 0.5, 0.75, 1 (last evaluation):")
    for name, rows in by.items():
        for r in rows:
            if "dir" in r and r.get("status") == "finished":
                t, err = error_by_t(r["dir"])
                picks = [int(round(f * (len(t) - 1))) for f in (0, 0.25, 0.5, 0.75, 1.0)]
                print(f"  {name:24s} {Path(r['dir']).name:28s} " + "  ".join(f"{err[i]:.2e}" for i in picks))


# -- cost ------------------------------------------------------------------------------------------------------
def _trainer(config_kw: dict, steps: int):
    from pinncore import RunConfig, Trainer

    t = Trainer(RunConfig(**config_kw, steps=10 ** 7).validated())
    t.step(steps)  # compile and warm up (the first NTK update compiles the kernel traces' graph)
    return t


def seconds_per_1000(trainer, steps: int) -> tuple[float, float]:
    """(wall, CPU) seconds per 1,000 steps of this trainer. CPU time (this process's, one thread) is what the
    step costs whatever else the machine runs; wall time is what a user waits for, and drifts with the load."""
    t0, c0 = time.perf_counter(), time.process_time()
    trainer.step(steps)
    return (time.perf_counter() - t0) / steps * 1000, (time.process_time() - c0) / steps * 1000


def cost(rounds: int, steps: int) -> None:
    import torch

    import pinncore.trainer as trainer_module
    from pinncore.alignment import alignment_record

    torch.set_num_threads(1)
    helm = dict(problem="helmholtz", compile=True, grad_every=500, eval_every=500)
    kg = dict(problem="klein-gordon", depth=5, compile=True, grad_every=500, eval_every=500)
    pairs = {"NTK weights (Helmholtz, M1 vs mlp+ntk)": (dict(helm), dict(helm, weighting="ntk")),
             "alignment score (Helmholtz M2, without vs with)": (dict(helm, weighting="annealing"),
                                                                 dict(helm, weighting="annealing")),
             "causal weights (Klein-Gordon, M1 vs M1 + causal)": (dict(kg), dict(kg, causal=True))}
    off = lambda step, per_term, layers: None  # noqa: E731 -- the score skipped, for the "without" side
    for what, (a_kw, b_kw) in pairs.items():
        align = what.startswith("alignment")
        a, b = _trainer(a_kw, 200), _trainer(b_kw, 200)
        times: dict[str, list[tuple[float, float]]] = {"a": [], "b": []}
        for _ in range(rounds):
            for side, trainer in (("a", a), ("b", b)):
                trainer_module.alignment_record = off if align and side == "a" else alignment_record
                times[side].append(seconds_per_1000(trainer, steps))
        trainer_module.alignment_record = alignment_record
        for k, kind in ((1, "CPU"), (0, "wall")):
            ma = statistics.median(x[k] for x in times["a"])
            mb = statistics.median(x[k] for x in times["b"])
            print(f"{what}, {kind}: {ma:.3f} s against {mb:.3f} s per 1,000 steps (medians of {rounds} interleaved "
                  f"rounds of {steps} steps): {100 * (mb / ma - 1):+.1f} %  "
                  f"[{', '.join(f'{x[k]:.3f}' for x in times['a'])}] [{', '.join(f'{x[k]:.3f}' for x in times['b'])}]",
                  flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("wave", "causal", "cost"))
    p.add_argument("--out", default="runs/acceptance")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2, help="runs trained at once (one thread each)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=2000, help="cost: steps per timed round")
    a = p.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} on {platform()}", flush=True)
    if a.what == "cost":
        cost(a.rounds, a.steps)
        return
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    setup = WAVE if a.what == "wave" else CAUSAL
    by = table(setup, out, a.seeds, a.workers)
    if a.what == "causal":
        causal_report(by)


def platform() -> str:
    from pinncore.engine import cpu_model

    import os

    return f"{cpu_model()}, {os.cpu_count()} cores"


if __name__ == "__main__":
    main()
