"""The Burgers reference (pinncore.burgers_reference): Cole-Hopf by Gauss-Hermite quadrature, checked against the
published shock slope and against an independent finite-difference solution at two resolutions."""
import math

import numpy as np
import pytest

from pinncore.burgers_reference import NU, burgers_reference, cole_hopf, cole_hopf_ux, shock_slope, solve_burgers_fd
from pinncore.problems.references import REFERENCES

# Basdevant et al. (1986), Computers & Fluids 14, 23-41, for nu = 0.01 / pi: the steepest slope at x = 0,
# u_x(0, t*) = -152.00516 at t* = 1.6037 / pi (the value the spectral and finite-difference literature tests
# against; the paper's table gives these digits)
BASDEVANT_SLOPE, BASDEVANT_T = -152.00516, 1.6037 / math.pi
SHOCK_ZONE = 0.05  # the FD comparison excludes |x| < 0.05 (the shock at x = 0 is ~0.013 wide at its steepest)
TIMES = np.linspace(0.0, 1.0, 21)


def test_the_steepest_slope_matches_basdevant():
    t_star, slope = shock_slope()
    print(f"t* = {t_star:.7f} (t* pi = {t_star * math.pi:.6f}), u_x(0, t*) = {slope:.6f}")
    assert abs(slope - BASDEVANT_SLOPE) < 5e-6  # the published value has 8 digits
    assert abs(t_star - BASDEVANT_T) < 1e-4 / math.pi  # ... and t* pi 4 decimals


def test_the_quadrature_is_converged():
    x = np.linspace(-1, 1, 2001)
    for t in (0.05, 0.3, 0.5, 1.0):
        assert np.abs(cole_hopf(x, t) - cole_hopf(x, t, nodes=800)).max() < 1e-12
    x = np.linspace(-1, 1, 401)  # the smallest viscosity allowed
    assert np.abs(cole_hopf(x, 1.0, 0.002 / math.pi) - cole_hopf(x, 1.0, 0.002 / math.pi, nodes=800)).max() < 1e-12


def test_initial_and_boundary_values_and_the_derivative():
    x = np.linspace(-1, 1, 101)
    assert np.array_equal(cole_hopf(x, 0.0), -np.sin(np.pi * x))
    assert np.abs(cole_hopf(np.array([-1.0, 1.0]), TIMES[1:, None])).max() < 1e-12
    assert np.abs(cole_hopf(x, 1e-6) + np.sin(np.pi * x)).max() < 1e-4  # continuous at t = 0
    h, t = 1e-6, 0.3
    fd = (cole_hopf(x + h, t) - cole_hopf(x - h, t)) / (2 * h)
    assert np.abs(fd - cole_hopf_ux(x, t)).max() < 1e-6


@pytest.mark.parametrize("cells, bound", [(400, 1e-3), (800, 1e-3)])
def test_finite_differences_agree_away_from_the_shock(cells, bound):
    x, u = solve_burgers_fd(cells, TIMES)
    ref = cole_hopf(x[None, :], TIMES[:, None])
    away = np.abs(x) >= SHOCK_ZONE
    err = np.abs(u - ref)[:, away].max()
    print(f"{cells} cells: max |u_FD - u_CH| over |x| >= {SHOCK_ZONE}, t in [0, 1]: {err:.3e}; "
          f"everywhere: {np.abs(u - ref).max():.3e}")
    assert err < bound


def test_finite_differences_converge_at_second_order_to_cole_hopf():
    errs = []
    for cells in (400, 800):
        x, u = solve_burgers_fd(cells, TIMES)
        away = np.abs(x) >= SHOCK_ZONE
        errs.append(np.abs(u - cole_hopf(x[None, :], TIMES[:, None]))[:, away].max())
    assert 3.5 < errs[0] / errs[1] < 4.5  # h^2: the two solutions tend to the Cole-Hopf values, not elsewhere


def test_the_registered_reference_is_cached_and_deterministic(tmp_path):
    pts = np.stack(np.meshgrid(np.linspace(-1, 1, 41), np.linspace(0, 1, 11)), -1).reshape(-1, 2)
    first = burgers_reference(pts, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("burgers_*.npz"))) == 1
    again = burgers_reference(pts, cache_dir=tmp_path)
    assert np.array_equal(first, again) and np.array_equal(first, cole_hopf(pts[:, 0], pts[:, 1]))
    (f,) = tmp_path.glob("burgers_*.npz")
    f.write_bytes(b"garbage")  # a corrupt cache file is recomputed
    assert np.array_equal(burgers_reference(pts, cache_dir=tmp_path), first)
    assert np.array_equal(REFERENCES["burgers"]({}, pts), first)
    assert not np.allclose(REFERENCES["burgers"]({"nu": 0.05}, pts), first)


@pytest.mark.parametrize("call, message", [
    (lambda: cole_hopf(0.0, -0.1), "t must lie in"),
    (lambda: cole_hopf(float("nan"), 0.1), "must be finite"),
    (lambda: cole_hopf(0.0, 0.1, nu=0.0), "nu must be a number"),
    (lambda: cole_hopf(0.0, 0.1, nu="0.1"), "nu must be a number"),
    (lambda: burgers_reference(np.zeros((3, 3))), "shape (N, 2)"),
    (lambda: solve_burgers_fd(4, [0.1]), "cells must be"),
    (lambda: solve_burgers_fd(100, [0.2, 0.1]), "non-decreasing"),
])
def test_bad_arguments_are_refused(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()
    assert NU == 0.01 / math.pi
