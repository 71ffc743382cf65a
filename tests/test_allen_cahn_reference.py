"""The Allen-Cahn reference (pinncore.allen_cahn_reference): Fourier spectral + ETDRK4, checked by refinement."""
import numpy as np
import pytest

from pinncore.allen_cahn_reference import allen_cahn_reference, solve_allen_cahn
from pinncore.problems.references import REFERENCES

SAVE = 0.01


def _changes(coarse, fine):
    """Max |u| difference at the coarse grid's nodes per snapshot (the fine grid holds every coarse node)."""
    (xc, tc, uc), (xf, tf, uf) = coarse, fine
    step = len(xf) // len(xc)
    assert np.allclose(tc, tf) and np.array_equal(xf[::step], xc)
    return tc, np.abs(uc - uf[:, ::step]).max(axis=1)


def test_halving_dt_and_doubling_the_modes_changes_little():
    ref = allen_cahn_reference()  # (2048 modes, dt 2.5e-4), snapshots every 1e-3: computed once, then cached
    fine = ref.x, ref.t[::10], ref.u[::10]
    mid = solve_allen_cahn(1024, 5e-4, SAVE)
    t, b = _changes(mid, fine)
    _, a = _changes(solve_allen_cahn(512, 1e-3, SAVE), mid)
    late = t >= 0.1
    print(f"max change (512, 1e-3) -> (1024, 5e-4): all t {a.max():.2e}, t >= 0.1 {a[late].max():.2e}, "
          f"t = 1 {a[-1]:.2e}; (1024, 5e-4) -> (2048, 2.5e-4): {b.max():.2e}, {b[late].max():.2e}, {b[-1]:.2e}")
    assert b.max() < 5e-4 and b[late].max() < 5e-5 and b[-1] < 1e-8
    assert a[late].max() / b[late].max() > 3  # converging (second order while the layer at x = +-1 is thin)


def test_the_time_error_is_negligible():
    x, t, u = solve_allen_cahn(512, 1e-3, SAVE)
    _, _, u2 = solve_allen_cahn(512, 5e-4, SAVE)
    assert np.abs(u - u2).max() < 1e-10


def test_the_solution_has_the_known_shape():
    x, t, u = solve_allen_cahn(512, 1e-3, 0.25)
    assert np.allclose(u[0], x**2 * np.cos(np.pi * x))
    assert np.abs(u[-1] - u[-1][::-1][np.r_[-1, :len(x) - 1]]).max() < 1e-12  # even in x, as the initial value
    assert -1.0 - 1e-6 < u[-1].min() < -0.999 and 0.99 < u[-1].max() < 1.0  # the two phases +-1 at t = 1


def test_the_cached_field_evaluates_anywhere(tmp_path):
    field = allen_cahn_reference(cache_dir=tmp_path)
    assert len(list(tmp_path.glob("allen_cahn_*.npz"))) == 1
    again = allen_cahn_reference(cache_dir=tmp_path)
    assert np.array_equal(field.u, again.u)
    i = 500  # snapshot t = 0.5: the spline reproduces the grid values, x periodic
    assert np.abs(field.u_at(field.x, field.t[i]) - field.u[i]).max() < 1e-12
    assert np.allclose(field.u_at(field.x + 2.0, field.t[i]), field.u[i], atol=1e-12)
    pts = np.array([[0.3, 0.25], [-0.7, 1.0]])
    assert np.array_equal(REFERENCES["allen-cahn"]({}, pts), field.u_at(pts[:, 0], pts[:, 1]))
    with pytest.raises(ValueError, match="t must lie"):
        field.u_at(0.0, 1.5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(modes=100.5), "modes must be"), (dict(modes=31), "modes must be"), (dict(dt=0.0), "dt must be"),
    (dict(save_dt=1.5e-3, dt=1e-3), "whole multiples"), (dict(eps=float("nan")), "eps must be"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        solve_allen_cahn(**kwargs)
