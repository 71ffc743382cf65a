"""Problem specs: the built-in problems written as specs are the same problems (losses, trajectories, eager and
compiled); derivatives of definitions and solutions are right. Hostile specs: tests/test_spec_errors.py."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from pinncore import Problem, RunConfig, Trainer, make_model, make_problem, problem_from_spec, register_problem
from pinncore.derivatives import compute
from pinncore.fused import TermLosses
from pinncore.problems import PROBLEMS
from pinncore.problems.spec import describe, load_spec_file, problem_class, sample_points

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "problems"
BUILTIN = {"helmholtz": "helmholtz.toml", "klein-gordon": "klein-gordon.toml", "cavity": "cavity.toml",
           "poisson1d": "poisson1d.toml"}
PARAMS = {"helmholtz": {"a1": 2.0, "a2": 3.0, "lam": 2.5}, "klein-gordon": {"alpha": -2.0, "beta": 0.5, "gamma": 1.5},
          "cavity": {"Re": 50.0}, "poisson1d": {"C": 8.0}}


def text_of(builtin: str) -> str:
    return (EXAMPLES / BUILTIN[builtin]).read_text()


def net_for(problem: Problem, model: str = "mlp", seed: int = 0):
    mean, std = problem.stats()
    return make_model(model, len(problem.inputs), len(problem.outputs), depth=2, width=20, mean=mean, std=std,
                      seed=seed).double()


@pytest.mark.parametrize("model", ["mlp", "modified-mlp"])
@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_as_spec_gives_the_same_losses_and_evaluation(name, model):
    ours, theirs = problem_from_spec(text_of(name), **PARAMS[name]), make_problem(name, **PARAMS[name])
    assert ours.inputs == theirs.inputs and ours.domain == theirs.domain and ours.outputs == theirs.outputs
    assert [p.name for p in ours.params] == [p.name for p in theirs.params]
    assert [(t.name, len(t.boxes), t.columns) for t in ours.terms()] == \
        [(t.name, len(t.boxes), t.columns) for t in theirs.terms()]
    net = net_for(theirs, model)
    gen = torch.Generator().manual_seed(3)
    points = [t.sample(64, gen, torch.float64) for t in theirs.terms()]
    a = TermLosses(net, ours.terms(), ours.inputs, "jet")(*points)
    b = TermLosses(net, theirs.terms(), theirs.inputs, "jet")(*points)
    torch.testing.assert_close(a, b, rtol=1e-10, atol=0)
    for ta, tb, x in zip(ours.terms(), theirs.terms(), points):  # and residual by residual, on the autograd path
        torch.testing.assert_close(ta.residuals(net, x, "autograd"), tb.residuals(net, x, "autograd"),
                                   rtol=1e-10, atol=1e-12)
    grid = torch.as_tensor(theirs.grid(12)[0])
    torch.testing.assert_close(ours.predict(net, grid), theirs.predict(net, grid), rtol=1e-10, atol=1e-14)
    if name != "cavity":  # the cavity's reference is the same function (tests/test_cavity_reference.py)
        np.testing.assert_allclose(ours.reference(grid.numpy()), theirs.reference(grid.numpy()), rtol=1e-10,
                                   atol=1e-12)


def trajectory(config: RunConfig, steps: int) -> tuple[list[dict], list[torch.Tensor]]:
    trainer = Trainer(config)
    records = [r for r in trainer.step(steps) if type(r).__name__ == "StepRecord"]
    if config.compile:
        assert trainer._fused is not None and not trainer._fused.failed  # it did not fall back to eager
    return [r.losses for r in records] + [r.lambdas for r in records], \
        [p.detach().clone() for p in trainer.params]


def same_trajectory(builtin: str, steps: int, rtol: float, spec_kw: dict | None = None, **kw) -> None:
    spec = text_of(builtin)
    name = problem_class(spec).name
    base = {**dict(dtype="float64", steps=steps, eval_every=0, grad_every=0, batch=32, depth=2, width=20), **kw}
    a_logs, a_params = trajectory(RunConfig(problem=name, spec=spec, **base, **(spec_kw or {})), steps)
    b_logs, b_params = trajectory(RunConfig(problem=builtin, **base), steps)
    assert len(a_logs) == 2 * steps
    for x, y in zip(a_logs, b_logs):
        assert x.keys() == y.keys()
        np.testing.assert_allclose([x[k] for k in x], [y[k] for k in y], rtol=rtol)
    for p, q in zip(a_params, b_params):
        torch.testing.assert_close(p, q, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_as_spec_trains_the_same_100_steps(name):
    """Annealing (M2) every 10 steps: the weighting reads every term's gradient, so a difference shows."""
    same_trajectory(name, 100, 1e-10, weighting="annealing")


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_as_spec_trains_the_same_100_steps_compiled(name):
    """The spec's compiled step (M2: the per-term graph, lambda updated every 10 steps) against the built-in's
    eager one, 100 steps in float64. A small network keeps the four cold compiles to about 30 s on 2 cores."""
    same_trajectory(name, 100, 1e-8, spec_kw=dict(compile=True), weighting="annealing", depth=1, width=8,
                    batch=16)


def fd(f, x: np.ndarray, i: int, h: float = 1e-4) -> np.ndarray:
    e = np.zeros(x.shape[1])
    e[i] = h
    return (f(x + e) - f(x - e)) / (2 * h)


def test_derivatives_of_definitions_match_finite_differences():
    """The cavity spec's u = psi_y, v = -psi_x: u_x, u_xx, v_yy and the momentum residual by central
    differences of the network itself (float64)."""
    text = text_of("cavity")
    problem = problem_from_spec(text)
    net = net_for(problem)
    x = torch.as_tensor(np.random.default_rng(0).uniform(0.1, 0.9, (20, 2)))
    d = compute(net, x, ("x", "y", "xx", "xy", "yy", "xxx", "xxy", "xyy", "yyy"), problem.inputs)

    def psi(pts):
        return net(torch.as_tensor(pts)).detach().numpy()[:, 0]

    u = lambda pts: fd(psi, pts, 1)  # noqa: E731
    v = lambda pts: -fd(psi, pts, 0)  # noqa: E731
    pts = x.numpy()
    np.testing.assert_allclose(d["xy"][:, 0].detach().numpy(), fd(u, pts, 0, 1e-3), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(d["xxy"][:, 0].detach().numpy(), fd(lambda p: fd(u, p, 0, 1e-3), pts, 0, 1e-3),
                               rtol=1e-3, atol=1e-5)
    # the residual the spec derives symbolically, against the same equation by finite differences
    res = problem.terms()[0].residual(d).detach().numpy()
    p_x = lambda pts: fd(lambda q: net(torch.as_tensor(q)).detach().numpy()[:, 1], pts, 0)  # noqa: E731
    lap_u = fd(lambda p: fd(u, p, 0, 1e-3), pts, 0, 1e-3) + fd(lambda p: fd(u, p, 1, 1e-3), pts, 1, 1e-3)
    r_u = u(pts) * fd(u, pts, 0) + v(pts) * fd(u, pts, 1) + p_x(pts) - lap_u / 100.0
    np.testing.assert_allclose(res[:, 0], r_u, rtol=1e-3, atol=1e-4)


def test_derivatives_of_solutions_match_finite_differences():
    """exact_tt, exact_xx, exact_t of the wave solution: the residual u_tt - c^2 u_xx of the closed form vanishes
    and exact_t, exact_xx agree with central differences (float64)."""
    spec = """
name = "probe"
solution = "sin(pi*x)*cos(c*pi*t) + 0.5*sin(4*pi*x)*cos(4*c*pi*t) + x^3*exp(t)/(1 + t^2)"
[inputs]
x = [0, 1]
t = [0, 1]
[params]
c = 2
[define]
w = "u_x*t"
[[terms]]
name = "res"
on = "interior"
residual = ["u - exact_t", "u - exact_xx", "u - exact_xxt", "w_t - t*u_xt"]
"""
    problem = problem_from_spec(spec)
    x = torch.as_tensor(np.random.default_rng(1).uniform(0.05, 0.95, (30, 2)))
    zero, u_x = torch.zeros_like(x[:, :1]), torch.rand_like(x[:, :1])
    table = {(): zero, (0,): u_x, (0, 1): torch.rand_like(u_x), (1,): zero}
    from pinncore.derivatives import Derivatives

    r = -problem.terms()[0].residual(Derivatives(x, problem.inputs, table)).numpy()  # u = 0: -r = exact_*
    exact = lambda p: problem.exact(torch.as_tensor(p))[:, 0].numpy()  # noqa: E731
    pts = x.numpy()
    np.testing.assert_allclose(r[:, 0], fd(exact, pts, 1, 1e-5), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(r[:, 1], fd(lambda p: fd(exact, p, 0, 1e-4), pts, 0, 1e-4), rtol=1e-4, atol=1e-3)
    xxt = fd(lambda p: fd(lambda q: fd(exact, q, 0, 1e-3), p, 0, 1e-3), pts, 1, 1e-3)
    np.testing.assert_allclose(r[:, 2], xxt, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(-r[:, 3], u_x[:, 0].numpy(), rtol=1e-12)  # w_t = u_x + t u_xt, symbolically


def test_json_is_the_same_spec_and_the_run_directory_keeps_it(tmp_path):
    text = (EXAMPLES / "wave.toml").read_text()
    as_json = json.dumps(tomllib.loads(text))
    a, b = problem_from_spec(text), problem_from_spec(as_json)
    net = net_for(a)
    gen = torch.Generator().manual_seed(0)
    for ta, tb in zip(a.terms(), b.terms()):
        pts = ta.sample(16, gen, torch.float64)
        torch.testing.assert_close(ta.loss(net, pts), tb.loss(net, pts), rtol=0, atol=0)
    from pinncore.run import Run

    config = RunConfig(problem="wave", spec=text, steps=3, depth=1, width=8, eval_every=0, grad_every=0,
                       eval_points=10)
    run = Run.create(config, tmp_path / "wave")
    run.advance(2)
    run.save()
    run.close()
    stored = json.loads((tmp_path / "wave" / "config.json").read_text())
    assert stored["spec"] == text and stored["problem"] == "wave"
    again = Run.open(tmp_path / "wave")
    assert again.trainer.steps_done == 2 and again.trainer.problem.name == "wave"
    again.advance(1)
    assert again.trainer.done
    again.close()


def test_old_configs_without_spec_still_load():
    data = RunConfig(problem="poisson1d").to_dict()
    del data["spec"]
    assert RunConfig.from_dict(data).spec == ""


def test_the_spec_name_must_match_the_config_problem():
    from pinncore import ConfigError

    with pytest.raises(ConfigError, match="problem: must be the spec's name 'wave'"):
        RunConfig(problem="helmholtz", spec=(EXAMPLES / "wave.toml").read_text()).validated()


def test_every_example_builds_describes_and_samples():
    for path in sorted(EXAMPLES.glob("*.toml")):
        text = load_spec_file(path)
        info = describe(text)
        assert info["terms"][0]["name"] == "res" and info["terms"][0]["parts"][0]["latex"]
        cls = problem_class(text)
        pts = sample_points(cls(), batch=8, seed=0)
        for t in cls().terms():
            if t.pieces:  # a region's pieces, periodic face pairs, data rows (tests/test_real_spec.py)
                dim = len(cls.inputs)
                assert pts[t.name].shape == (sum(p.rows(8) for p in t.pieces), dim + len(t.aux))
                lo, hi = np.array(cls.domain).T
                assert (pts[t.name][:, :dim] >= lo).all() and (pts[t.name][:, :dim] <= hi).all()
                continue
            lo, hi = t._lo.numpy().min(axis=(0, 1)), (t._lo + t._span).numpy().max(axis=(0, 1))
            assert pts[t.name].shape == (8 * len(t.boxes), len(cls.inputs))
            assert (pts[t.name] >= lo).all() and (pts[t.name] <= hi).all()
    assert describe((EXAMPLES / "wave.toml").read_text())["terms"][0]["parts"][0]["latex"][0] == \
        "- c^{2} u_{xx} + u_{tt}"


def test_registered_problems_and_spec_texts_appear_in_the_registry():
    text = (EXAMPLES / "heat.toml").read_text()
    cls = register_problem("heat", text)
    try:
        assert PROBLEMS["heat"] is cls and make_problem("heat", kappa=0.2).values["kappa"] == 0.2
        assert Trainer(RunConfig(problem="heat", steps=1, depth=1, width=4, eval_points=8)).problem.name == "heat"
    finally:
        del PROBLEMS["heat"]


def test_an_installed_package_adds_problems_by_entry_point(monkeypatch):
    import importlib.metadata as md

    from pinncore.problems import registry

    class EP:
        name, value = "heat", "somepkg:SPEC"

        def load(self):
            return (EXAMPLES / "heat.toml").read_text()

    monkeypatch.setattr(md, "entry_points", lambda group: [EP()] if group == registry.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(registry, "_loaded", False)
    try:
        assert make_problem("heat").name == "heat"
    finally:
        PROBLEMS.pop("heat", None)


def test_the_plugin_example_of_the_docs_trains(tmp_path):
    """The Python problem of the docs' "Problems from a Python package", registered, trains and evaluates (the
    block is the project's own documentation, run as a module)."""
    import importlib.util
    import re

    doc = (Path(__file__).resolve().parent.parent / "docs" / "pde" / "python-problems.md").read_text()
    code = re.search(r"```python\n(# mypkg/problems.py\n.*?)```", doc, re.S).group(1)
    module = tmp_path / "mypkg_problems.py"
    module.write_text(code)
    spec = importlib.util.spec_from_file_location("mypkg_problems", module)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    register_problem("advection", mod.Advection)
    try:
        trainer = Trainer(RunConfig(problem="advection", steps=5, depth=1, width=8, eval_points=10))
        records = trainer.step(5)
        assert trainer.done and 0 < records[-1].rel_l2 < 10
    finally:
        del PROBLEMS["advection"]


def test_a_spec_problem_has_every_diagnostic():
    """Gradient snapshots (histograms), Hessian eigenvalues and evaluation snapshots, on the cavity spec (two
    outputs, definitions, third derivatives, a face-wise residual)."""
    text = text_of("cavity")
    config = RunConfig.from_method("M2", problem="cavity-spec", spec=text, steps=2, depth=1, width=8, batch=8,
                                   grad_every=2, hessian_every=2, eval_every=2, eval_points=8)
    kinds = {type(r).__name__ for r in Trainer(config).step(2)}
    assert {"GradSnapshot", "HessianSnapshot", "EvalSnapshot", "StepRecord"} <= kinds


def test_a_reference_grid_file_is_found_beside_the_spec_and_interpolated(tmp_path):
    """evaluate.reference = "ref.npz" (relative to the spec file): load_spec_file makes it absolute, so the run
    directory's copy of the spec works from any working directory; values are interpolated linearly."""
    text = (EXAMPLES / "heat.toml").read_text()
    exact = problem_from_spec(text)
    xs, ts = np.linspace(0, 1, 201), np.linspace(0, 1, 101)
    X, T = np.meshgrid(xs, ts, indexing="ij")
    values = exact.reference(np.stack([X.ravel(), T.ravel()], 1)).reshape(X.shape)
    np.savez(tmp_path / "ref.npz", x=xs, t=ts, values=values)
    no_solution = text.replace('solution = "exp(-kappa*n^2*pi^2*t)*sin(n*pi*x)"', "")
    no_solution = no_solution.replace('residual = "u - sin(n*pi*x)"', 'residual = "u - sin(n*pi*x)"\n'
                                      '[evaluate]\nreference = "ref.npz"')
    (tmp_path / "heat.toml").write_text(no_solution)
    loaded = load_spec_file(tmp_path / "heat.toml")
    assert json.loads(loaded)["evaluate"]["reference"] == str(tmp_path / "ref.npz")
    pts = np.random.default_rng(0).uniform(0, 1, (50, 2))
    np.testing.assert_allclose(problem_from_spec(loaded).reference(pts), exact.reference(pts), atol=2e-3)


def test_several_outputs_with_a_solution_table_and_a_derived_quantity():
    text = """
name = "two"
outputs = ["u", "v"]
[inputs]
x = [0, 1]
[solution]
u = "sin(x)"
v = "cos(x)"
[[terms]]
name = "res"
on = "interior"
residual = ["u_x - v", "v_x + u"]
[[terms]]
name = "bc"
on = "x = 0"
residual = ["u", "v - 1"]
[evaluate]
quantity = "u_x + 2*v"
"""
    problem = problem_from_spec(text)
    pts = np.linspace(0, 1, 7)[:, None]
    np.testing.assert_allclose(problem.reference(pts), 3 * np.cos(pts[:, 0]), rtol=1e-14)
    np.testing.assert_allclose(problem.exact(torch.as_tensor(pts)).numpy(),
                               np.stack([np.sin(pts[:, 0]), np.cos(pts[:, 0])], 1), rtol=1e-14)
    assert problem.eval_needs == ("x",)
