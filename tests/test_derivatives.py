"""The fast derivative path (forward-mode jets) agrees with the nested-autograd reference.

Checked on every problem, model and activation, for derivative orders 1-3 (the cavity needs third derivatives
of the stream function), in float64 to round-off and in float32 to float32 round-off; and parameter gradients
of the losses agree too, since training back-propagates through the jets.
"""
import itertools

import pytest
import torch

from pinncore import PROBLEMS, RunConfig, Trainer, make_model, make_problem
from pinncore.derivatives import compute, joint
from pinncore.jets import closure, set_partitions

MODELS = ("mlp", "modified-mlp", "modified-mlp-released")


def network(problem, model, activation="tanh", dtype=torch.float64, depth=3, width=20):
    mean, std = problem.stats()
    net = make_model(model, len(problem.inputs), len(problem.outputs), depth=depth, width=width,
                     activation=activation, mean=mean, std=std, seed=3)
    return net.to(dtype)


def all_names(inputs, order):
    return ["".join(c) for n in range(1, order + 1) for c in itertools.combinations_with_replacement(inputs, n)]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("activation", ["tanh", "sin", "gelu"])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_every_derivative_up_to_order_three_matches_autograd(model, activation, order):
    problem = make_problem("cavity")  # two inputs, two outputs
    net = network(problem, model, activation)
    x = torch.rand(17, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(order))
    names = all_names(problem.inputs, order)
    fast, ref = (compute(net, x, names, problem.inputs, m) for m in ("jet", "autograd"))
    for name in [""] + names:
        a, b = (fast.u, ref.u) if not name else (fast[name], ref[name])
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), name


@pytest.mark.parametrize("name", sorted(PROBLEMS))
@pytest.mark.parametrize("model", MODELS)
def test_residuals_and_their_parameter_gradients_agree_in_float64(name, model):
    problem = make_problem(name)
    net = network(problem, model)
    gen = torch.Generator().manual_seed(0)
    for term in problem.terms():
        pts = term.sample(16, gen, torch.float64)
        losses = [term.loss(net, pts.clone(), m) for m in ("jet", "autograd")]
        grads = [torch.autograd.grad(L, list(net.parameters()), allow_unused=True) for L in losses]
        assert torch.allclose(losses[0], losses[1], rtol=1e-11), term.name
        for ga, gb in zip(*grads):
            if ga is None or gb is None:
                assert ga is None and gb is None  # e.g. the cavity's output bias: no term depends on it
                continue
            assert torch.allclose(ga, gb, rtol=1e-9, atol=1e-12), term.name


@pytest.mark.parametrize("name", sorted(PROBLEMS))
@pytest.mark.parametrize("model", MODELS)
def test_float32_agrees_to_float32_round_off(name, model):
    problem = make_problem(name)
    net = network(problem, model, dtype=torch.float32, width=50)
    gen = torch.Generator().manual_seed(1)
    for term in problem.terms():
        pts = term.sample(128, gen, torch.float32)
        a, b = (term.residuals(net, pts.clone(), m).detach() for m in ("jet", "autograd"))
        exact = term.residuals(net.double(), pts.double().clone(), "autograd").detach()
        net.float()
        scale = exact.abs().max().item() + 1e-6
        # both float32 paths sit within float32 round-off of the float64 value, and of each other
        assert (a.double() - exact).abs().max().item() < 1e-4 * scale, term.name
        assert (a - b).abs().max().item() < 2e-4 * scale, term.name


def test_one_forward_for_all_terms_equals_term_by_term():
    problem = make_problem("klein-gordon")  # res needs tt, xx; ic needs t; bc the value only
    net = network(problem, "modified-mlp")
    gen = torch.Generator().manual_seed(2)
    terms = problem.terms()
    pts = [t.sample(8, gen, torch.float64) for t in terms]
    shared = joint(net, [(p, t.needs) for t, p in zip(terms, pts)], problem.inputs)
    for term, p, d in zip(terms, pts, shared):
        alone = term.derivatives(net, p, "autograd")
        assert torch.allclose(term.residual(d), term.residual(alone), rtol=1e-11, atol=1e-13), term.name


def test_training_on_either_path_follows_the_same_trajectory():
    runs = {}
    for method in ("jet", "autograd"):
        t = Trainer(RunConfig.from_method("M4", steps=30, dtype="float64", derivatives=method, grad_every=0,
                                          eval_every=0))
        runs[method] = [r.losses["res"] for r in t.step(30) if hasattr(r, "losses")]
    assert runs["jet"] == pytest.approx(runs["autograd"], rel=1e-8)


def test_key_bookkeeping():
    assert closure([(0, 1, 1)]) == ((), (0,), (1,), (0, 1), (1, 1), (0, 1, 1))
    assert len(set_partitions((0, 1, 2))) == 5 and len(set_partitions((0, 1, 2, 3))) == 15
    with pytest.raises(ValueError, match="input"):
        compute(lambda x: x, torch.zeros(2, 2), ["xz"], ("x", "y"))
