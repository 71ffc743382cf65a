"""What the L-BFGS phase's memo saves: iterations with it against the same phase evaluating each iteration's start
again (what torch's LBFGS does when called once per iteration), side by side in one process.

    python benchmarks/lbfgs_memo.py [--rounds 9] [--iterations 20]

Helmholtz (a1 = 1, a2 = 4), the paper's [2, 50 x 3, 1] MLP, fixed weights, float64, eager, one thread, the default
L-BFGS batch (1,024 points per term). Two trainers of the same config train 300 Adam steps and switch; then rounds
of ``--iterations`` L-BFGS iterations alternate between them (the order swapped every round). Prints the median
time and loss evaluations per iteration of each, their ratio, and whether the two ended with the same parameters
bit for bit.
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


def forgetting(trainer: Trainer) -> Trainer:
    """The same trainer with the memo dropped before every L-BFGS iteration."""
    step = trainer._lbfgs_step

    def again(k, records):
        if trainer.lbfgs is not None:
            trainer.lbfgs.memo = None
        return step(k, records)

    trainer._lbfgs_step = again
    return trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--iterations", type=int, default=20)
    a = ap.parse_args()
    torch.set_num_threads(1)
    config = RunConfig(optimizer="adam+lbfgs", lbfgs_after=300, steps=1_000_000, dtype="float64", eval_every=0,
                       grad_every=0, compile=False)
    memo, again = Trainer(config), forgetting(Trainer(config))
    memo.step(301), again.step(301)
    times: dict[str, list[tuple[float, float]]] = {"memo": [], "again": []}
    for r in range(a.rounds):
        pair = [("memo", memo), ("again", again)]
        for name, t in pair if r % 2 == 0 else pair[::-1]:
            e0, t0 = t.lbfgs.evaluations, time.perf_counter()
            t.step(a.iterations)
            times[name].append(((time.perf_counter() - t0) / a.iterations,
                                (t.lbfgs.evaluations - e0) / a.iterations))
    med = {n: (statistics.median(s for s, _ in v), statistics.median(e for _, e in v)) for n, v in times.items()}
    for name, label in (("memo", "with the memo"), ("again", "evaluating each start again")):
        print(f"{label}: {med[name][0] * 1e3:.2f} ms and {med[name][1]:.2f} evaluations per iteration")
    same = all(torch.equal(p, q) for p, q in zip(memo.params, again.params))
    print(f"ratio {med['again'][0] / med['memo'][0]:.3f}; the same parameters bit for bit: {same}; "
          f"status {memo.status} / {again.status}")


if __name__ == "__main__":
    main()
