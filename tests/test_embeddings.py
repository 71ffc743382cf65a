"""Input embeddings (random Fourier features, the exact periodic embedding) and random weight factorisation:
the fast derivative path agrees with nested autograd to third order, the compiled step with eager, the per-layer
histograms name the new layers, a periodic network is periodic, and bad settings are one-line errors."""
import math

import pytest
import torch

from pinncore import PROBLEMS, ConfigError, RunConfig, Trainer, make_model
from pinncore.derivatives import compute
from pinncore.models import FactorisedDense, embedding_choices, parse_embedding
from pinncore.problems.base import Problem, box

from test_derivatives import all_names

MODELS = ("mlp", "modified-mlp", "modified-mlp-released")
# name -> make_model options: every embedding, the chain, trained B, and the factorisation with and without them
SETUPS = {
    "fourier": dict(embedding="fourier", fourier_sigma=2.0, fourier_features=6),
    "fourier trained": dict(embedding="fourier", fourier_sigma=2.0, fourier_features=6, fourier_trained=True),
    "periodic": dict(embedding="periodic"),
    "periodic+fourier": dict(embedding="periodic+fourier", fourier_sigma=1.5, fourier_features=5),
    "rwf": dict(rwf=True),
    "periodic+fourier+rwf": dict(embedding="periodic+fourier", fourier_features=5, rwf=True, rwf_mu=0.5),
}


class Ring(Problem):
    """u = sin(pi x) (1 + y) on [-1, 1] x [0, 1], 2-periodic in x: u_xx + pi^2 u = 0, u(x, 0) = sin(pi x)."""

    name = "ring-test"
    inputs = ("x", "y")
    domain = ((-1.0, 1.0), (0.0, 1.0))
    periodic = {"x": 2.0}

    def exact(self, x):
        return torch.sin(math.pi * x[:, :1]) * (1 + x[:, 1:2])

    def terms(self):
        return (self.term("res", (self.domain,), lambda d: d["xx"] + math.pi ** 2 * d.u, ("xx",)),
                self.term("bc", (box((-1, 1), (0, 0)),), lambda d: d.u - self.exact(d.x)))


@pytest.fixture
def ring(monkeypatch):
    monkeypatch.setitem(PROBLEMS, Ring.name, Ring)
    return Ring()


def network(model, options, depth=2, width=12, dtype=torch.float64):
    problem = Ring()
    mean, std = problem.stats()
    periodic = {0: 2.0} if "periodic" in options.get("embedding", "") else None
    net = make_model(model, 2, 2, depth=depth, width=width, mean=mean, std=std, seed=5, periodic=periodic,
                     **options)
    return net.to(dtype)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_jets_match_nested_autograd_to_third_order_with_their_parameter_gradients(model, setup):
    net = network(model, SETUPS[setup])
    x = torch.rand(13, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    names = all_names(("x", "y"), 3)
    fast, ref = (compute(net, x, names, ("x", "y"), m) for m in ("jet", "autograd"))
    for name in [""] + names:
        a, b = (fast.u, ref.u) if not name else (fast[name], ref[name])
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-10), name
    params = list(net.parameters())
    grads = [torch.autograd.grad(d.u.square().sum() + sum(d[n].square().sum() for n in names), params)
             for d in (fast, ref)]
    for ga, gb in zip(*grads):
        assert torch.allclose(ga, gb, rtol=1e-9, atol=1e-10)


def trajectory(config):
    trainer = Trainer(config)
    steps = [(r.losses, r.lambdas) for r in trainer.step(config.steps) if hasattr(r, "losses")]
    assert not config.compile or trainer.compile_seconds is not None  # compiled indeed, not fallen back to eager
    return steps, [p.detach().clone() for p in trainer.params]


@pytest.mark.parametrize("method, setup", [
    # the per-term graph (annealing updates every 10 steps, snapshots every 5), trained B, factorised layers
    ("M2", dict(problem="poisson1d", depth=2, width=8, batch=16, steps=12, grad_every=5, eval_every=0,
                embedding="fourier", fourier_sigma=3.0, fourier_trained=True, rwf=True)),
    # the joint graph, the modified MLP, second-order jets through the periodic and Fourier embeddings
    ("M3", dict(problem="ring-test", depth=1, width=8, batch=8, steps=8, grad_every=0, eval_every=0,
                embedding="fourier", fourier_features=4, rwf=True)),
])
def test_compiled_training_matches_eager(ring, method, setup):
    eager, eager_params = trajectory(RunConfig.from_method(method, **setup))
    compiled, compiled_params = trajectory(RunConfig.from_method(method, compile=True, **setup))
    assert len(compiled) == len(eager) == setup["steps"]
    for (le, lame), (lc, lamc) in zip(eager, compiled):
        assert lc == pytest.approx(le, rel=1e-4) and lamc == pytest.approx(lame, rel=1e-4)
    for pe, pc in zip(eager_params, compiled_params):
        assert torch.allclose(pc, pe, rtol=1e-4, atol=1e-6)


def test_the_histograms_name_the_fourier_matrix_and_the_factorised_layers():
    config = RunConfig.from_method("M4", problem="poisson1d", depth=2, width=6, batch=8, steps=11, grad_every=10,
                                   eval_every=0, embedding="fourier", fourier_trained=True, rwf=True)
    trainer = Trainer(config)
    snaps = [r for r in trainer.step(11) if type(r).__name__ == "GradSnapshot"]
    expected = ["fourier B"] + [f"{n} ({p})" for n in ("encoder U", "encoder V", "layer 1", "gate 1", "gate 2",
                                                        "output") for p in ("s", "V")]
    assert [s.layers for s in snaps] == [tuple(expected)] * 2
    assert snaps[0].counts.shape[:2] == (2, len(expected))
    assert trainer.model.weight_matrices() == ("encoder U (V)", "encoder V (V)", "layer 1 (V)", "gate 1 (V)",
                                               "gate 2 (V)", "output (V)")
    assert trainer.weighting.lambdas["bc"] != 1.0  # the annealing updated (at step 10) from the V matrices
    plain = Trainer(RunConfig.from_method("M1", problem="poisson1d", depth=2, embedding="fourier"))
    assert list(plain.layers) == ["layer 1", "layer 2", "output"]  # a fixed B is no trained layer


def test_a_periodic_network_and_its_first_derivatives_match_on_opposite_faces():
    for model in MODELS:
        net = network(model, SETUPS["periodic+fourier+rwf"], depth=3, width=20)
        y = torch.rand(50, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
        left, right = (torch.cat([torch.full_like(y, edge), y], dim=1) for edge in (-1.0, 1.0))
        a, b = (compute(net, pts, ("x", "y", "xx"), ("x", "y")) for pts in (left, right))
        scale = a.u.abs().max().item()
        for name in ("", "x", "y", "xx"):
            u, v = (a.u, b.u) if not name else (a[name], b[name])
            assert (u - v).abs().max().item() < 1e-12 * max(scale, 1.0), (model, name)
        inner = torch.cat([torch.full_like(y, 0.3), y], dim=1)  # and it is not constant in x
        assert (net(inner) - net(left)).abs().max().item() > 1e-3


def test_the_trainer_embeds_a_problems_periodic_inputs_whatever_the_embedding_says(ring):
    trainer = Trainer(RunConfig(problem="ring-test", depth=1, width=8, dtype="float64"))
    assert trainer.model.embedding == "periodic" and trainer.model.in_features == 3  # y, cos(pi x), sin(pi x)
    y = torch.rand(20, 1, dtype=torch.float64)
    left, right = (trainer.model(torch.cat([torch.full_like(y, e), y], dim=1)) for e in (-1.0, 1.0))
    assert torch.allclose(left, right, rtol=0, atol=1e-13)


def test_factorisation_keeps_the_initial_function_and_draws_s_around_mu():
    plain = make_model("modified-mlp", 2, 1, depth=2, width=64, seed=3)
    factored = make_model("modified-mlp", 2, 1, depth=2, width=64, seed=3, rwf=True, rwf_mu=1.0, rwf_sigma=0.1)
    assert sum(isinstance(m, FactorisedDense) for m in factored.modules()) == 6
    for (name, a), b in zip(plain.dense_layers().items(), factored.dense_layers().values()):
        assert torch.allclose(a.weight, b.weight, rtol=1e-6, atol=0), name
    x = torch.rand(30, 2)
    assert torch.allclose(plain(x), factored(x), rtol=1e-5, atol=1e-6)
    s = torch.cat([layer.s.detach() for layer in factored.dense_layers().values()])
    assert abs(s.mean().item() - 1.0) < 0.03 and 0.07 < s.std().item() < 0.13
    gate = factored.gates[0]
    assert {n for n, _ in gate.named_parameters()} == {"v", "s", "bias"}


def test_fourier_features_are_cos_and_sin_of_b_times_the_standardised_input():
    net = make_model("mlp", 1, 1, depth=1, width=100, mean=[0.5], std=[0.25], seed=0, embedding="fourier",
                     fourier_sigma=10.0)
    B = net.fourier.B
    assert B.shape == (50, 1) and not B.requires_grad  # default m = width // 2, a buffer
    assert 8.0 < B.std().item() < 12.0
    x = torch.rand(7, 1)
    z = (x - 0.5) / 0.25
    assert torch.allclose(net.fourier(z), torch.cat([torch.cos(z @ B.T), torch.sin(z @ B.T)], dim=1), atol=1e-5)
    assert net.in_features == 100 and net.hidden[0].weight.shape == (100, 100)
    trained = make_model("mlp", 1, 1, width=8, embedding="fourier", fourier_trained=True, seed=0)
    assert trained.fourier.B.requires_grad and "fourier.B" in dict(trained.named_parameters())


def test_embedding_names_come_from_the_registry():
    assert embedding_choices() == ("none", "fourier", "periodic", "periodic+fourier")
    assert parse_embedding("none") == () and parse_embedding("periodic+fourier") == ("periodic", "fourier")
    assert RunConfig(embedding="fourier", rwf=True).label() == "M1+fourier+rwf"
    assert RunConfig().label() == "M1"


class BadPeriod(Ring):
    name = "ring-test"
    periodic = {"z": 2.0}


@pytest.mark.parametrize("field, value", [
    ("embedding", "fourrier"), ("embedding", "fourier+periodic"), ("embedding", "none+fourier"),
    ("embedding", "periodic"), ("embedding", 3), ("fourier_sigma", 0.0), ("fourier_sigma", -1.0),
    ("fourier_sigma", float("nan")), ("fourier_sigma", "10"), ("fourier_sigma", 1e6), ("fourier_features", 0),
    ("fourier_features", 5000), ("fourier_features", 2.5), ("fourier_features", True),
    ("fourier_trained", "yes"), ("rwf", 1), ("rwf_mu", float("inf")), ("rwf_mu", 11.0), ("rwf_sigma", -0.1),
    ("rwf_sigma", None),
])
def test_malformed_network_settings_are_one_line_errors_naming_the_field(field, value):
    with pytest.raises(ConfigError) as exc:
        RunConfig.from_dict({"problem": "helmholtz", field: value})
    assert exc.value.field == field and "\n" not in str(exc.value) and str(exc.value).startswith(field)


def test_a_problem_with_a_bad_periodic_declaration_is_refused_naming_periodic(monkeypatch):
    monkeypatch.setitem(PROBLEMS, BadPeriod.name, BadPeriod)
    with pytest.raises(ConfigError) as exc:
        RunConfig(problem="ring-test").validated()
    assert exc.value.field == "periodic" and "'z' is not an input" in str(exc.value)
