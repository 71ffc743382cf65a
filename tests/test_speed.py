"""The speed work keeps the numbers: jet orders carried for only the rows that need them, the modified MLP's
merged encoders, the single compiled step graph, and the thread-count choice."""
import pytest
import torch

from pinncore import RunConfig, Trainer, make_model, make_problem
from pinncore.derivatives import joint, joint_plan
from pinncore.threads import PARALLEL_ELEMENTS, recommended_threads, step_elements

MODELS = ("mlp", "modified-mlp", "modified-mlp-released")


def network(problem, model, depth=2, width=12):
    mean, std = problem.stats()
    return make_model(model, len(problem.inputs), len(problem.outputs), depth=depth, width=width, mean=mean,
                      std=std, seed=5).double()


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", ["cavity", "klein-gordon", "helmholtz"])
def test_one_forward_with_rows_per_order_equals_nested_autograd(name, model):
    """The cavity's walls carry first order only, its residual third order; Klein-Gordon mixes orders 2, 1, 0.
    Losses and their parameter gradients equal term-by-term nested autograd to float64 round-off."""
    problem = make_problem(name)
    net = network(problem, model)
    gen = torch.Generator().manual_seed(4)
    terms = problem.terms()
    pts = [t.sample(6, gen, torch.float64) for t in terms]
    shared = joint(net, [(p, t.needs) for t, p in zip(terms, pts)], problem.inputs)
    params = list(net.parameters())
    for term, p, d in zip(terms, pts, shared):
        fast = term.loss_of(d)
        ref = term.loss(net, p.clone(), "autograd")
        assert torch.allclose(fast, ref, rtol=1e-11), term.name
        ga = torch.autograd.grad(fast, params, allow_unused=True, retain_graph=True)
        gb = torch.autograd.grad(ref, params, allow_unused=True)
        for a, b in zip(ga, gb):
            assert (a is None) == (b is None)
            if a is not None:
                assert torch.allclose(a, b, rtol=1e-9, atol=1e-12), term.name


def test_a_term_reads_only_the_orders_its_rows_carry():
    problem = make_problem("cavity")
    net = network(problem, "modified-mlp")
    res, bc = problem.terms()
    gen = torch.Generator().manual_seed(0)
    d_res, d_bc = joint(net, [(res.sample(4, gen, torch.float64), res.needs),
                              (bc.sample(4, gen, torch.float64), bc.needs)], problem.inputs)
    assert d_res["xxy"].shape == (4, 2) and d_bc["x"].shape == (16, 2)
    with pytest.raises(KeyError):
        d_bc["xx"]  # not carried on the walls' rows


def test_row_counts_must_not_grow_with_the_order():
    plan = joint_plan([("xxy",)], ("x", "y"))
    assert plan.row_counts(10) == (10, 10, 10, 10)
    assert plan.row_counts(10, [8, 3]) == (10, 8, 3, 3)
    with pytest.raises(ValueError, match="grow"):
        plan.row_counts(10, [3, 8])
    with pytest.raises(ValueError, match="grow"):
        plan.row_counts(10, 11)


@pytest.mark.parametrize("model", ["modified-mlp", "modified-mlp-released"])
def test_merged_encoders_give_the_forward_values(model):
    problem = make_problem("helmholtz")
    net = network(problem, model)
    x = torch.rand(9, 2, dtype=torch.float64) * 2 - 1
    plan = joint_plan([("xx", "yy")], problem.inputs)
    assert torch.allclose(net.forward_jet(plan, x)[0], net(x), rtol=1e-13, atol=1e-15)


def test_compiled_steps_are_one_graph_and_match_eager_per_term_gradients():
    """M4 on the cavity: annealing updates (every 10 steps, step 0 included), snapshots and ordinary steps all run
    the one compiled graph (compiled once), and its per-term gradients equal the eager path's."""
    from torch._dynamo.utils import counters

    setup = dict(problem="cavity", depth=1, width=8, batch=8, steps=12, grad_every=5, eval_every=0,
                 dtype="float64")
    eager = Trainer(RunConfig.from_method("M4", **setup))
    compiled = Trainer(RunConfig.from_method("M4", compile=True, **setup))
    points = eager._sample(torch.Generator().manual_seed(1))
    loss, jac = compiled._fused.term_grads(points)
    losses = dict(zip(eager.term_names, eager.loss_module(*points)))
    ref = eager._per_term_grads(losses, retain=False)
    for i, t in enumerate(eager.term_names):
        assert loss[i].item() == pytest.approx(losses[t].item(), rel=1e-12)
        for g, r in zip(jac, ref[t]):
            assert torch.allclose(g[i], r, rtol=1e-9, atol=1e-13), t
    before = counters["stats"]["unique_graphs"]
    records = compiled.step(12)
    assert counters["stats"]["unique_graphs"] == before  # the term_grads call above compiled the only graph
    assert sum(hasattr(r, "losses") for r in records) == 12 and not compiled._fused.failed


def test_one_thread_for_the_paper_sizes_more_only_for_large_steps():
    for problem in ("helmholtz", "cavity", "klein-gordon", "poisson1d"):
        for method in ("M1", "M4"):
            for compile_ in (False, True):
                config = RunConfig.from_method(method, problem=problem, compile=compile_)
                assert recommended_threads(config, cores=16) == 1, (problem, method, compile_)
    big = RunConfig.from_method("M1", problem="cavity", batch=8192, width=256)
    assert step_elements(big) >= 4 * PARALLEL_ELEMENTS
    assert recommended_threads(big, cores=2) == 2 and recommended_threads(big, cores=1) == 1
    assert recommended_threads(RunConfig.from_method("M1", problem="cavity", batch=8192, width=256,
                                                     device="cuda"), cores=16) == 1


def test_the_trainer_says_what_compiling_cost_once():
    setup = dict(problem="poisson1d", depth=1, width=8, batch=8, steps=3, grad_every=0, eval_every=0)
    assert Trainer(RunConfig.from_method("M1", **setup)).compile_seconds is None
    t = Trainer(RunConfig.from_method("M1", compile=True, **setup))
    assert t.compile_seconds is None
    t.step(1)
    first = t.compile_seconds
    assert first is not None and first > 0
    t.step(2)
    assert t.compile_seconds == first


def test_each_order_is_carried_for_its_own_rows_only():
    """The cavity: the walls' 16 points carry the value and first order, the residual's 4 points all orders."""
    problem = make_problem("cavity")
    net = network(problem, "modified-mlp")
    seen = []
    forward_jet = net.forward_jet

    def spy(plan, x, rows=None):
        jet = forward_jet(plan, x, rows)
        seen.append([None if t is None else t.shape[-2] for t in jet])
        return jet

    net.forward_jet = spy
    res, bc = problem.terms()
    gen = torch.Generator().manual_seed(0)
    joint(net, [(bc.sample(4, gen, torch.float64), bc.needs), (res.sample(4, gen, torch.float64), res.needs)],
          problem.inputs)
    assert seen == [[20, 20, 4, 4]]
    jet = forward_jet(joint_plan([res.needs], problem.inputs), torch.rand(9, 2, dtype=torch.float64), [7, 3])
    assert [t.shape[-2] for t in jet] == [9, 7, 3, 3]
