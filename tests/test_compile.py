"""``compile=True``: every step is one compiled graph (``pinncore.fused``). It matches eager to round-off on
each problem family, stops cleanly on non-finite values, resumes from checkpoints, and falls back to eager,
saying so once, where compilation is unavailable."""
import warnings

import pytest
import torch

from pinncore import RunConfig, Trainer
from pinncore import fused as fused_module

SMALL = dict(problem="poisson1d", depth=2, width=8, batch=16, steps=12, grad_every=5, eval_every=0)


def trajectory(config):
    """(losses, lambdas) of every step, then the final parameters."""
    trainer = Trainer(config)
    steps = [(r.losses, r.lambdas) for r in trainer.step(config.steps) if hasattr(r, "losses")]
    return steps, [p.detach().clone() for p in trainer.params]


@pytest.fixture(autouse=True)
def fresh_warning_state(monkeypatch):
    monkeypatch.setattr(fused_module.Compiled, "warned", False)


@pytest.mark.parametrize("method, setup", [
    ("M2", SMALL),
    # the modified MLP, second-order jets, weighting updates (every 10) and snapshots (every 5)
    ("M4", dict(problem="helmholtz", depth=1, width=8, batch=8, steps=14, grad_every=5, eval_every=0)),
    # the same problem with another constant: traced anew, not served from the a2=4 graph above
    ("M1", dict(problem="helmholtz", params={"a2": 1.0}, depth=1, width=8, batch=8, steps=6, grad_every=0,
                eval_every=0, dtype="float64")),
    # third-order jets, two outputs, an output bias no term depends on (inductor once miscompiled this one)
    ("M4", dict(problem="cavity", depth=1, width=8, batch=8, steps=12, grad_every=5, eval_every=0)),
])
def test_compiled_training_matches_eager(method, setup):
    eager, eager_params = trajectory(RunConfig.from_method(method, **setup))
    compiled, compiled_params = trajectory(RunConfig.from_method(method, compile=True, **setup))
    assert len(compiled) == len(eager) == setup["steps"]
    for (le, lame), (lc, lamc) in zip(eager, compiled):
        assert lc == pytest.approx(le, rel=1e-4) and lamc == pytest.approx(lame, rel=1e-4)
    for pe, pc in zip(eager_params, compiled_params):
        assert torch.allclose(pc, pe, rtol=1e-4, atol=1e-6)


def test_compiled_step_stops_on_non_finite_values_without_updating():
    t = Trainer(RunConfig.from_method("M1", compile=True, **SMALL))
    t.step(3)  # 0: snapshot (eager per-term path), 1-2: the fused step
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    adam = {id(p): {k: v.clone() for k, v in s.items()} for p, s in t.optimizer.state.items()}
    with torch.no_grad():
        t.model.out.bias.fill_(float("inf"))
    assert t.step(1) == [] and t.status == "diverged at step 3"
    after = t.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k != "out.bias")
    assert all(torch.equal(adam[id(p)][k], v) for p, s in t.optimizer.state.items() for k, v in s.items())


def test_compiled_run_resumes_from_a_checkpoint():
    config = RunConfig.from_method("M2", compile=True, **{**SMALL, "steps": 16})
    straight = Trainer(config)
    straight.step(16)
    first = Trainer(config)
    first.step(7)
    second = Trainer(config)
    second.load_state_dict(first.state_dict())
    second.step(9)
    for a, b in zip(straight.params, second.params):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("where", ["compile", "first call"])
def test_falls_back_to_eager_and_warns_once(monkeypatch, where):
    def broken_compile(fn, **kwargs):
        if where == "compile":
            raise RuntimeError("no inductor here")

        def call(*args):
            raise RuntimeError("no C++ compiler")
        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    eager = trajectory(RunConfig.from_method("M2", **SMALL))[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = trajectory(RunConfig.from_method("M2", compile=True, **SMALL))[0]
        second = trajectory(RunConfig.from_method("M2", compile=True, **SMALL))[0]
    said = [w for w in caught if "torch.compile is unavailable" in str(w.message)]
    assert len(said) == 1
    assert first == eager and second == eager  # eager arithmetic, bit for bit


def test_compile_must_be_a_boolean():
    with pytest.raises(Exception, match="compile"):
        RunConfig.from_dict({"compile": "yes"})


def test_the_compiled_tanh_is_within_six_ulp_of_tanh_and_keeps_its_gradient():
    """``jets.tanh`` inside a graph: its own formula (inductor's SLEEF tanh is 7x slower), within 6 ulp of the
    exact tanh over the whole float32 range (3 ulp for |x| < 1), inf and nan included; its gradient is tanh's, 1 - t^2 at the value."""
    from pinncore.jets import tanh

    x = torch.cat([torch.linspace(-12, 12, 200_001), torch.logspace(-30, 1.3, 20_001),
                   -torch.logspace(-30, 1.3, 20_001), torch.tensor([0.0, 0.625, -0.625, 0.62499994, 50.0, -100.0])])
    exact = torch.tanh(x.double())
    value = torch.compile(tanh)(x)
    ulp = (torch.nextafter(exact.float().abs(), torch.tensor(float("inf"))) - exact.float().abs()).double()
    err = (value.double() - exact).abs() / ulp
    assert err.max() <= 6 and err[x.abs() < 1].max() <= 3
    assert torch.equal(tanh(x), torch.tanh(x))  # eager: torch.tanh itself
    special = torch.compile(tanh)(torch.tensor([float("inf"), -float("inf"), float("nan")]))
    assert special[:2].tolist() == [1.0, -1.0] and special[2].isnan()

    a = torch.randn(64, 5) * 3
    grad = torch.compile(torch.func.grad(lambda a: (tanh(a) * torch.arange(5.0)).sum()))(a)
    t = torch.compile(tanh)(a)
    assert torch.equal(grad, torch.arange(5.0) * (1 - t * t))
