"""The observations of ``heat-inverse.toml``: 200 noisy values of the exact solution of u_t = kappa u_xx with
kappa = 0.1, u(x, 0) = sin(pi x), u(0, t) = u(1, t) = 0, that is u = exp(-kappa pi^2 t) sin(pi x), at points drawn
uniformly in [0, 1] x [0, 1], plus Gaussian noise of standard deviation 0.01 (1 % of max |u|).

    python examples/problems/heat_inverse_data.py            # writes heat-inverse-observations.csv beside it
    python examples/problems/heat_inverse_data.py --seed 3 --noise 0.05 --points 50 --out other.csv
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

KAPPA = 0.1


def observations(points: int = 200, noise: float = 0.01, seed: int = 0, kappa: float = KAPPA) -> np.ndarray:
    """Rows (x, t, observed u)."""
    rng = np.random.default_rng(seed)
    x, t = rng.uniform(0.0, 1.0, points), rng.uniform(0.0, 1.0, points)
    u = np.exp(-kappa * math.pi**2 * t) * np.sin(math.pi * x)
    return np.stack([x, t, u + noise * rng.standard_normal(points)], axis=1)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=200)
    p.add_argument("--noise", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(__file__).with_name("heat-inverse-observations.csv")))
    a = p.parse_args(argv)
    rows = observations(a.points, a.noise, a.seed)
    np.savetxt(a.out, rows, delimiter=",", header="x,t,obs", comments="", fmt="%.17g")
    print(f"{a.out}: {len(rows)} observations, noise {a.noise:g}, seed {a.seed}")


if __name__ == "__main__":
    main()
