"""Tests for the classical lid-driven cavity reference solver (pinncore.cavity_reference)."""
import math
import time
from pathlib import Path

import numpy as np
import pytest

from pinncore.cavity_reference import (CavityConvergenceError, CavityField, cavity_reference,
                                       solve_cavity)

# Ghia, Ghia & Shin (1982), J. Comput. Phys. 48, 387-411, Re = 100.
# Table I: u along the vertical centre-line x = 0.5.
GHIA_Y = [0, .0547, .0625, .0703, .1016, .1719, .2813, .4531, .5, .6172, .7344, .8516,
          .9531, .9609, .9688, .9766, 1]
GHIA_U = [0, -.03717, -.04192, -.04775, -.06434, -.10150, -.15662, -.21090, -.20581, -.13641,
          .00332, .23151, .68717, .73722, .78871, .84123, 1]
# Table II: v along the horizontal centre-line y = 0.5.
GHIA_X = [1, .9688, .9609, .9531, .9453, .9063, .8594, .8047, .5, .2344, .2266, .1563, .0938,
          .0781, .0703, .0625, 0]
GHIA_V = [0, -.05906, -.07391, -.08864, -.10313, -.16914, -.22445, -.24533, .05454, .17527,
          .17507, .16077, .12317, .10890, .10091, .09233, 0]


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """Re=100, n=129 solved once (through the cache, which is empty at first)."""
    cache_dir = tmp_path_factory.mktemp("cavity_cache")
    t0 = time.perf_counter()
    field = cavity_reference(100.0, 129, cache_dir=cache_dir)
    return field, cache_dir, time.perf_counter() - t0


@pytest.fixture(scope="module")
def field(cached):
    return cached[0]


def test_u_centreline_matches_ghia(field, record_property):
    y = np.array(GHIA_Y)
    u, _ = field.velocity_at(np.full_like(y, 0.5), y)
    dev = np.abs(u - np.array(GHIA_U))
    print(f"max |u - u_Ghia| on x=0.5 (Re=100, n=129): {dev.max():.5f}")
    record_property("ghia_u_max_dev", float(dev.max()))
    assert dev.max() < 0.02
    assert dev.max() < 0.01  # what a converged 129^2 second-order solution achieves


def test_v_centreline_matches_ghia(field, record_property):
    x = np.array(GHIA_X)
    _, v = field.velocity_at(x, np.full_like(x, 0.5))
    dev = np.abs(v - np.array(GHIA_V))
    print(f"max |v - v_Ghia| on y=0.5 (Re=100, n=129): {dev.max():.5f}")
    record_property("ghia_v_max_dev", float(dev.max()))
    assert dev.max() < 0.02


def test_primary_vortex(field):
    # Ghia: psi_min = -0.103423 at (0.6172, 0.7344); Botella & Peyret (1998): -0.103519.
    iy, ix = np.unravel_index(np.argmin(field.psi), field.psi.shape)
    assert field.psi.min() == pytest.approx(-0.1035, abs=1e-3)
    assert abs(field.x[ix] - 0.6172) < 0.02 and abs(field.y[iy] - 0.7344) < 0.02


def test_grid_and_boundary_conditions_exact(field):
    n = 129
    assert isinstance(field, CavityField) and field.re == 100.0
    for a in (field.psi, field.u, field.v):
        assert a.shape == (n, n) and np.all(np.isfinite(a))
    np.testing.assert_array_equal(field.x, np.linspace(0, 1, n))
    np.testing.assert_array_equal(field.y, np.linspace(0, 1, n))
    psi, u, v = field.psi, field.u, field.v
    for edge in (np.s_[0, :], np.s_[-1, :], np.s_[:, 0], np.s_[:, -1]):
        assert np.all(psi[edge] == 0.0) and np.all(v[edge] == 0.0)
    assert np.all(u[-1, :] == 1.0)  # lid, including both lid corners
    assert np.all(u[0, :] == 0.0) and np.all(u[:-1, 0] == 0.0) and np.all(u[:-1, -1] == 0.0)


def test_discrete_continuity_and_residual(field):
    h = field.x[1] - field.x[0]
    div = (field.u[1:-1, 2:] - field.u[1:-1, :-2]) / (2 * h) \
        + (field.v[2:, 1:-1] - field.v[:-2, 1:-1]) / (2 * h)
    assert np.abs(div).max() < 1e-9
    assert 0.0 <= field.residual < 1e-10


def test_velocity_at_shapes_and_grid_values(field):
    u, v = field.velocity_at(field.x[None, :].repeat(3, 0), np.full((3, 129), field.y[64]))
    assert u.shape == v.shape == (3, 129)
    np.testing.assert_allclose(u[0], field.u[64], atol=1e-12)
    np.testing.assert_allclose(v[0], field.v[64], atol=1e-12)
    u0, v0 = field.velocity_at(0.5, 1.0)
    assert np.shape(u0) == () and float(u0) == pytest.approx(1.0) and abs(float(v0)) < 1e-12
    with pytest.raises(ValueError):
        field.velocity_at(1.5, 0.5)


def test_cache_second_call_loads_from_disk(cached):
    field, cache_dir, t_first = cached
    path = Path(cache_dir) / "cavity_re100_n129.npz"
    assert path.is_file()
    t0 = time.perf_counter()
    again = cavity_reference(100.0, 129, cache_dir=cache_dir)
    t_second = time.perf_counter() - t0
    assert t_second < 0.2 * t_first
    for name in ("x", "y", "psi", "u", "v"):
        np.testing.assert_array_equal(getattr(again, name), getattr(field, name))
    assert again.re == field.re and again.residual == field.residual
    assert not list(Path(cache_dir).glob("*.tmp"))


@pytest.mark.parametrize("garbage", [b"", b"not a zip file", b"PK\x03\x04truncated"])
def test_corrupt_cache_is_recomputed(tmp_path, garbage):
    ref = solve_cavity(10.0, 33)
    path = tmp_path / "cavity_re10_n33.npz"
    path.write_bytes(garbage)
    field = cavity_reference(10.0, 33, cache_dir=tmp_path)
    np.testing.assert_allclose(field.psi, ref.psi, atol=1e-12)
    with np.load(path) as d:  # rewritten with a valid file
        np.testing.assert_array_equal(d["psi"], field.psi)
    assert not list(tmp_path.glob("*.tmp"))


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PINNCORE_CACHE", str(tmp_path / "env_cache"))
    cavity_reference(1.0, 17)
    assert (tmp_path / "env_cache" / "cavity_re1_n17.npz").is_file()


def test_high_reynolds_continuation_converges():
    f = solve_cavity(1000.0, 65)
    assert f.residual < 1e-10
    assert -0.125 < f.psi.min() < -0.10  # Ghia (n=129): -0.1179


def test_non_convergence_raises():
    with pytest.raises(CavityConvergenceError, match="did not converge"):
        solve_cavity(100.0, 33, max_iter=1)
    assert issubclass(CavityConvergenceError, RuntimeError)


@pytest.mark.parametrize("re", [0, -1.0, math.nan, math.inf, "100", None, True])
@pytest.mark.parametrize("fn", [solve_cavity, cavity_reference])
def test_bad_re_raises(fn, re):
    with pytest.raises(ValueError, match=r"^re must be a finite number > 0, got "):
        fn(re, 33)


@pytest.mark.parametrize("n", [16, 5, 64.0, "129", None, True])
@pytest.mark.parametrize("fn", [solve_cavity, cavity_reference])
def test_bad_n_raises(fn, n):
    with pytest.raises(ValueError, match=r"^n must be an integer >= 17, got "):
        fn(100.0, n)


@pytest.mark.parametrize("kw", [{"tol": 0.0}, {"tol": math.nan}, {"max_iter": 0}])
def test_bad_solver_options_raise(kw):
    with pytest.raises(ValueError, match=f"^{next(iter(kw))} must be"):
        solve_cavity(100.0, 33, **kw)
