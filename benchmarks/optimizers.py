"""Acceptance measurements of the optimisers (issue 33); the numbers of docs/science/optimisers.md. Long: run it in
the background, niced, with a log, and nothing else heavy beside it for the timings:

    nice -n 19 python benchmarks/optimizers.py lbfgs --json lbfgs.json > lbfgs.log 2>&1 &
    nice -n 19 python benchmarks/optimizers.py soap  --json soap.json  > soap.log 2>&1 &

* ``lbfgs``: Adam alone against Adam then L-BFGS at the same training time, seeds 0-2, float64 (both), eager,
  one thread: Helmholtz (a1 = 1, a2 = 4, the paper's [2, 50 x 3, 1] MLP) and the NTK paper's wave (u_tt = 4 u_xx,
  examples/problems/wave-ntk.toml, Rathore et al.'s [2, 100 x 3, 1]). Adam alone trains ``--steps`` steps (lr 1e-3
  x 0.9^(step/1000), 128 fresh points per term and edge). From Adam's state at ``--switch``, L-BFGS iterations on
  1,024 fixed points per term train for the CPU time Adam's remaining steps took, or until the line search
  stalls. Reported: relative L2 error, the final loss on
  the L-BFGS batch, L-BFGS iterations, and sigma_max of each term's Hessian (lambda_t L_t, Lanczos) at the switch
  and at the end of each run.
* ``soap``: Adam against SOAP on the default Helmholtz setup (M1, float32, eager: the compiled step implements Adam
  only, so both are timed eager), ``--steps`` steps, seeds 0-2: relative L2 error and steps/s; and the cost of one
  step, SOAP against Adam, as the median of interleaved timed rounds of 500 steps.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pinncore import RunConfig, Trainer  # noqa: E402
from pinncore.engine import cpu_model  # noqa: E402

WAVE = (ROOT / "examples" / "problems" / "wave-ntk.toml").read_text()
PROBLEMS = {"helmholtz": dict(problem="helmholtz", depth=3, width=50),
            "wave": dict(problem="wave-ntk", spec=WAVE, depth=3, width=100)}


def sigma_max(trainer: Trainer) -> dict[str, float]:
    """Top Hessian eigenvalue of each weighted term and of the loss, at the trainer's current parameters."""
    s = trainer.stiffness(k=1)
    return {**{t: float(v) for t, v in s.eigenvalues.items()}, "total": float(s.total)}


def batch_loss(trainer: Trainer, points) -> float:
    losses = trainer.loss_module(*points)  # the residual needs derivatives: no torch.no_grad here
    return float(sum(trainer.weighting.lambdas[t] * float(v) for t, v in zip(trainer.term_names, losses)))


def lbfgs_pair(name: str, seed: int, steps: int, switch: int) -> dict:
    """Adam to the switch, then from that same state: Adam alone to ``steps``, and L-BFGS for as much CPU time as
    Adam's second half took (this process's CPU time: one thread, so on a quiet machine its wall time, and under
    load still what each side computed)."""
    base = dict(PROBLEMS[name], seed=seed, dtype="float64", eval_every=0, grad_every=0, hessian_every=0)
    adam = Trainer(RunConfig(steps=steps, **base))
    adam.step(switch)
    at_switch = sigma_max(adam)
    state = copy.deepcopy(adam.state_dict())
    c0 = time.process_time()
    adam.step(steps - switch)
    budget = time.process_time() - c0
    mixed = Trainer(RunConfig(steps=10**7, optimizer="adam+lbfgs", lbfgs_after=switch, **base))
    mixed.load_state_dict(state)
    c0 = time.process_time()
    while time.process_time() - c0 < budget and not mixed.done:
        mixed.step(5)
    used = time.process_time() - c0
    fixed = mixed.lbfgs.points
    out = {"problem": name, "seed": seed, "switch": switch, "budget_cpu_s": round(budget, 1),
           "sigma_switch": at_switch, "error_switch": None}
    for label, t, cpu in (("adam", adam, budget), ("adam+lbfgs", mixed, used)):
        out[label] = {"rel_l2": t.evaluate().rel_l2, "steps": t.steps_done, "cpu_s": round(cpu, 1),
                      "status": t.status if t.done else "budget used", "sigma_end": sigma_max(t),
                      "loss_on_lbfgs_batch": batch_loss(t, fixed)}
    out["adam+lbfgs"]["lbfgs_iterations"] = mixed.steps_done - switch
    reference = Trainer(RunConfig(steps=steps, **base))
    reference.load_state_dict(state)
    out["error_switch"] = reference.evaluate().rel_l2
    print(json.dumps(out), flush=True)
    return out


def soap_pair(seed: int, steps: int) -> dict:
    out = {"seed": seed}
    for opt in ("adam", "soap"):
        t = Trainer(RunConfig(optimizer=opt, steps=steps, seed=seed, eval_every=0, grad_every=0))
        t.step(steps)
        out[opt] = {"rel_l2": t.evaluate().rel_l2, "steps_per_s": round(steps / t.wall, 1)}
    print(json.dumps(out), flush=True)
    return out


def step_cost(rounds: int = 5, n: int = 500) -> dict:
    """Seconds per step of Adam and SOAP, interleaved rounds of ``n`` steps after 100 warm-up steps each."""
    trainers = {opt: Trainer(RunConfig(optimizer=opt, steps=10**7, eval_every=0, grad_every=0))
                for opt in ("adam", "soap")}
    for t in trainers.values():
        t.step(100)
    times: dict[str, list[float]] = {opt: [] for opt in trainers}
    for _ in range(rounds):
        for opt, t in trainers.items():
            t0 = time.perf_counter()
            t.step(n)
            times[opt].append((time.perf_counter() - t0) / n)
    med = {opt: statistics.median(v) for opt, v in times.items()}
    return {"adam_ms": med["adam"] * 1e3, "soap_ms": med["soap"] * 1e3, "ratio": med["soap"] / med["adam"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("lbfgs", "soap"))
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--switch", type=int, default=5_000, help="lbfgs: Adam steps before L-BFGS")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    p.add_argument("--json", help="write the results here")
    a = p.parse_args()
    torch.set_num_threads(1)
    print(f"{time.strftime('%Y-%m-%d %H:%M')} {cpu_model()}, {platform.python_version()}, torch {torch.__version__}, "
          "1 thread", flush=True)
    if a.what == "lbfgs":
        results = [lbfgs_pair(name, s, a.steps, a.switch) for name in a.problems for s in range(a.seeds)]
    else:
        results = {"runs": [soap_pair(s, a.steps) for s in range(a.seeds)], "cost": step_cost()}
        print(json.dumps(results["cost"]), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
