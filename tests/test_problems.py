"""Exact solutions make their residuals vanish; derivatives chain-rule through input standardisation."""
import math

import numpy as np
import pytest
import torch

from pinncore import MLP, ConfigError, make_problem
from pinncore.derivatives import compute
from pinncore.problems.cavity import Cavity

EXACT = [
    ("helmholtz", {}),
    ("helmholtz", {"a1": 2.0, "a2": 3.0, "lam": 5.0}),
    ("klein-gordon", {}),
    ("klein-gordon", {"alpha": 0.5, "beta": 2.0, "gamma": -1.0}),
    ("poisson1d", {}),
    ("poisson1d", {"C": 16.0}),
]


@pytest.mark.parametrize("name,params", EXACT)
def test_exact_solution_zeroes_every_residual(name, params):
    problem = make_problem(name, **params)
    gen = torch.Generator().manual_seed(0)
    for term in problem.terms():
        pts = term.sample(64, gen, torch.float64)
        r = term.residuals(problem.exact, pts, "autograd")
        scale = 1.0 + max(params.values(), default=1.0) ** 4 * math.pi**2
        assert r.abs().max().item() < 1e-10 * scale, (name, term.name)


@pytest.mark.parametrize("name,params", EXACT)
def test_a_wrong_solution_does_not(name, params):
    problem = make_problem(name, **params)
    wrong = lambda x: problem.exact(x) + 0.1 * torch.sin(3 * x[:, :1])  # noqa: E731
    pts = problem.terms()[0].sample(64, torch.Generator().manual_seed(0), torch.float64)
    assert problem.terms()[0].residuals(wrong, pts, "autograd").abs().max().item() > 1e-2


def test_samples_lie_in_their_boxes_and_loss_sums_boxes():
    problem = make_problem("helmholtz")
    bc = problem.terms()[1]
    pts = bc.sample(10, torch.Generator().manual_seed(1), torch.float64)
    assert pts.shape == (40, 2)
    for i, box in enumerate(bc.boxes):
        chunk = pts[10 * i:10 * (i + 1)]
        for d, (lo, hi) in enumerate(box):
            assert chunk[:, d].min() >= lo and chunk[:, d].max() <= hi
    ones = lambda x: problem.exact(x) + 1.0  # noqa: E731  residual 1 everywhere
    assert bc.loss(ones, pts, "autograd").item() == pytest.approx(4.0)  # one mean squared residual per edge, summed


def test_cavity_momentum_residual_on_a_taylor_green_field():
    """psi = sin(pi x) sin(pi y) / pi, p = (cos 2 pi x + cos 2 pi y) / 4 balances convection and pressure,
    so the steady residual is the viscous term alone: r = -lap(u) / Re = 2 pi^2 (u, v) / Re."""
    cav = Cavity(Re=50.0)

    def net(x):
        psi = torch.sin(math.pi * x[:, :1]) * torch.sin(math.pi * x[:, 1:2]) / math.pi
        p = (torch.cos(2 * math.pi * x[:, :1]) + torch.cos(2 * math.pi * x[:, 1:2])) / 4
        return torch.cat([psi, p], dim=1)

    x = torch.rand(50, 2, dtype=torch.float64)
    r = cav.terms()[0].residuals(net, x.clone(), "autograd")
    u = torch.sin(math.pi * x[:, 0]) * torch.cos(math.pi * x[:, 1])
    v = -torch.cos(math.pi * x[:, 0]) * torch.sin(math.pi * x[:, 1])
    expected = 2 * math.pi**2 / 50.0 * torch.stack([u, v], dim=1)
    assert torch.allclose(r, expected, atol=1e-10)


def test_cavity_walls_ask_lid_velocity_only_on_the_lid():
    cav = Cavity()
    still = lambda x: torch.zeros(len(x), 2, dtype=x.dtype) + 0 * x.sum(1, keepdim=True)  # noqa: E731
    pts = cav.terms()[1].sample(5, torch.Generator().manual_seed(0), torch.float64)
    r = cav.terms()[1].residuals(still, pts, "autograd")
    assert torch.equal(r[:5, 0], -torch.ones(5, dtype=torch.float64))  # lid first: u - 1
    assert torch.equal(r[5:], torch.zeros(15, 2, dtype=torch.float64))


def test_derivatives_through_standardisation_match_finite_differences():
    torch.manual_seed(0)
    net = MLP(2, 1, depth=2, width=16, mean=[0.3, -2.0], std=[0.5, 3.0]).double()
    x = torch.tensor([[0.2, -1.0], [0.7, 1.5]], dtype=torch.float64, requires_grad=True)
    for method in ("jet", "autograd"):
        d = compute(net, x, ("x", "y", "xx"), ("x", "y"), method)
        check_against_finite_differences(net, x, torch.cat([d["x"], d["y"]], dim=1), d["xx"][:, 0])


def check_against_finite_differences(net, x, g, u_xx):
    h = 1e-4
    for d in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[d] = h
        fd = (net(x + e) - net(x - e))[:, 0] / (2 * h)
        assert torch.allclose(g[:, d], fd, rtol=1e-6, atol=1e-9)
    e = torch.tensor([1e-3, 0.0], dtype=torch.float64)
    fd2 = (net(x + e) - 2 * net(x) + net(x - e))[:, 0] / 1e-6
    assert torch.allclose(u_xx, fd2, rtol=1e-4, atol=1e-6)


def test_grid_is_uniform_and_row_major_in_the_second_input():
    pts, shape = make_problem("klein-gordon").grid(5)
    assert shape == (5, 5) and pts.shape == (25, 2)
    grid = pts.reshape(5, 5, 2)
    assert np.allclose(grid[0, :, 0], np.linspace(0, 1, 5)) and np.allclose(grid[:, 0, 1], np.linspace(0, 1, 5))


@pytest.mark.parametrize("params,field", [({"a2": 100.0}, "a2"), ({"zz": 1.0}, "zz"), ({"a1": float("nan")}, "a1")])
def test_bad_problem_parameters_name_the_field(params, field):
    with pytest.raises(ConfigError, match=field):
        make_problem("helmholtz", **params)


def test_cavity_boundary_loss_averages_the_two_velocity_components():
    """As in the authors' script: a fluid at rest misses only u = 1 on the lid, so L_bc = (1^2 + 0^2) / 2, while
    the momentum residual's two equations are summed."""
    cav = Cavity()
    res, bc = cav.terms()
    assert (res.columns, bc.columns) == ("sum", "mean")
    still = lambda x: torch.zeros(len(x), 2, dtype=x.dtype) + 0 * x.sum(1, keepdim=True)  # noqa: E731
    pts = bc.sample(7, torch.Generator().manual_seed(0), torch.float64)
    assert bc.loss(still, pts, "autograd").item() == pytest.approx(0.5)


def test_term_rejects_an_unknown_column_reduction():
    with pytest.raises(ValueError, match="columns"):
        Cavity().term("bc", [((0.0, 1.0), (1.0, 1.0))], lambda d: d.u, ("x",), columns="max")
