"""torch.compile of the loss is optional: it matches eager to round-off, and falls back to eager, saying so
once, where compilation is unavailable."""
import warnings

import pytest
import torch

from pinncore import RunConfig, Trainer
from pinncore import trainer as trainer_module

SMALL = dict(problem="poisson1d", depth=2, width=8, batch=16, steps=12, grad_every=5, eval_every=0)


def losses(config):
    return [r.losses["res"] for r in Trainer(config).step(config.steps) if hasattr(r, "losses")]


@pytest.fixture(autouse=True)
def fresh_warning_state(monkeypatch):
    monkeypatch.setattr(trainer_module.Compiled, "warned", False)


def test_compiled_training_matches_eager():
    eager = losses(RunConfig.from_method("M2", **SMALL))
    compiled = losses(RunConfig.from_method("M2", compile=True, **SMALL))
    assert compiled == pytest.approx(eager, rel=1e-4)


@pytest.mark.parametrize("where", ["compile", "first call"])
def test_falls_back_to_eager_and_warns_once(monkeypatch, where):
    def broken_compile(fn, **kwargs):
        if where == "compile":
            raise RuntimeError("no inductor here")

        def call(*args):
            raise RuntimeError("no C++ compiler")
        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    eager = losses(RunConfig.from_method("M2", **SMALL))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = losses(RunConfig.from_method("M2", compile=True, **SMALL))
        second = losses(RunConfig.from_method("M2", compile=True, **SMALL))
    said = [w for w in caught if "torch.compile is unavailable" in str(w.message)]
    assert len(said) == 1
    assert first == eager and second == eager  # eager arithmetic, bit for bit


def test_compile_must_be_a_boolean():
    with pytest.raises(Exception, match="compile"):
        RunConfig.from_dict({"compile": "yes"})
