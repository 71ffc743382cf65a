"""Spectral bias, measured: 1D Poisson with u = sin(2 pi x) + 0.1 sin(50 pi x) (examples/problems/
poisson1d-multiscale.toml; Wang, Wang & Perdikaris, CMAME 2021, Section 5.1), a plain MLP against the same MLP
with random Fourier features (sigma = 10, as in the paper), 10,000 steps, 3 seeds; and the paper's own Fourier
network, one hidden layer after the embedding ([FF 100, 100, 1]).

Every run: Adam, lr 1e-3 decaying 0.9 per 1000 steps, 128 points per term and end, the compiled step, one torch
thread, relative L2 error on 500 evenly spaced points; and the error at the solution's two frequencies (1 and 25
periods per unit x) as a fraction of their amplitude (dashboard.spectral), at 1,000 steps and at the end; and the
error left once the best straight line through it is removed (a wrong boundary shows as a line a + bx).

    nice -n 19 python benchmarks/spectral_bias.py [--steps 10000] [--seeds 3] [--json out.json]
    nice -n 19 python benchmarks/spectral_bias.py --sigmas 1 3 5    # the same MLP + Fourier at other scales
    nice -n 19 python benchmarks/spectral_bias.py --method M2       # with learning-rate annealing
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.spectral import amplitude  # noqa: E402
from pinncore import RunConfig, Trainer  # noqa: E402

SPEC = (ROOT / "examples" / "problems" / "poisson1d-multiscale.toml").read_text()
NETWORKS = {  # name -> RunConfig fields
    "MLP 2x100": dict(depth=2, width=100),
    "MLP 2x100 + Fourier (sigma 10, m 50)": dict(depth=2, width=100, embedding="fourier", fourier_sigma=10.0),
    "paper's [FF 100, 100, 1] (sigma 10)": dict(depth=1, width=100, embedding="fourier", fourier_sigma=10.0),
}
FREQS = (1, 25)  # periods per unit x of sin(2 pi x) and sin(50 pi x)


def band_errors(pred: np.ndarray, ref: np.ndarray) -> list[float]:
    """|E(k)| / |R(k)| at the two frequencies (the grid spans [0, 1]: bin k is k periods per unit)."""
    e, r = amplitude(pred - ref), amplitude(ref)
    return [float(e[k] / r[k]) for k in FREQS]


def train(fields: dict, seed: int, steps: int, method: str = "M1") -> dict:
    config = RunConfig.from_method(method, problem="poisson1d-multiscale", spec=SPEC, steps=steps, seed=seed,
                                   eval_every=1000, grad_every=0, eval_points=500, compile=True, **fields)
    trainer = Trainer(config)
    t0 = time.perf_counter()
    evals = [r for r in trainer.step(steps) if type(r).__name__ == "EvalSnapshot"]
    wall = time.perf_counter() - t0
    ref = trainer.reference_field
    early = next(e for e in evals if e.step == min(1000, steps))
    err = evals[-1].prediction.astype(np.float64) - ref
    x = np.linspace(0.0, 1.0, err.size)
    unlined = err - np.polyval(np.polyfit(x, err, 1), x)  # what is left once the best straight line is removed
    return {"seed": seed, "rel_l2": evals[-1].rel_l2, "status": trainer.status, "seconds": wall,
            "rel_l2_without_line": float(np.linalg.norm(unlined) / np.linalg.norm(ref)),
            "compile_s": trainer.compile_seconds, "bands_1000": band_errors(early.prediction, ref),
            "bands_end": band_errors(evals[-1].prediction, ref), "curve": [(e.step, e.rel_l2) for e in evals]}


def geomean(values) -> float:
    return float(math.exp(np.mean(np.log(values))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", help="write every run's numbers here")
    ap.add_argument("--method", default="M1", choices=["M1", "M2"],
                    help="M1: fixed weights (default); M2: the same networks with learning-rate annealing")
    ap.add_argument("--sigmas", nargs="+", type=float, default=[],
                    help="instead of the three networks: MLP 2x100 + Fourier at each of these sigma")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.sigmas:
        NETWORKS.clear()
        NETWORKS.update({f"MLP 2x100 + Fourier (sigma {s:g}, m 50)": dict(depth=2, width=100, embedding="fourier",
                                                                         fourier_sigma=s) for s in a.sigmas})
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} · {platform.processor() or platform.machine()} · torch "
          f"{torch.__version__} · {a.steps} steps · seeds 0..{a.seeds - 1} · {a.method}", flush=True)
    results = {}
    for name, fields in NETWORKS.items():
        results[name] = []
        for seed in range(a.seeds):
            r = train(fields, seed, a.steps, a.method)
            results[name].append(r)
            print(f"{name} seed {seed}: rel. L2 {r['rel_l2']:.3e} (without the best line through the error "
                  f"{r['rel_l2_without_line']:.3e}; {r['status']}, {r['seconds']:.0f} s, compile "
                  f"{r['compile_s'] or 0:.0f} s); error at 1 / 25 periods: after 1000 steps "
                  f"{r['bands_1000'][0]:.2f} / {r['bands_1000'][1]:.2f}, at the end "
                  f"{r['bands_end'][0]:.2e} / {r['bands_end'][1]:.2e}", flush=True)
    print("\n| network | rel. L2 per seed | geometric mean | error at 1 / 25 periods per unit, end (median) |")
    print("|---|---|---|---|")
    for name, runs in results.items():
        errs = [r["rel_l2"] for r in runs]
        bands = np.median([r["bands_end"] for r in runs], axis=0)
        print(f"| {name} | {', '.join(f'{e:.2e}' for e in errs)} | {geomean(errs):.2e} | "
              f"{bands[0]:.1e} / {bands[1]:.1e} |")
    if not a.sigmas:
        plain, ff = (geomean([r["rel_l2"] for r in results[n]]) for n in list(NETWORKS)[:2])
        print(f"\nplain / Fourier (geometric means): {plain / ff:.1f}x")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
