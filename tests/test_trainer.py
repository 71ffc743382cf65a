"""Determinism, records and cadences, the lr schedule, divergence, resume equality."""
import math

import numpy as np
import pytest
import torch

from pinncore import EvalSnapshot, GradSnapshot, RunConfig, StepRecord, Trainer
from pinncore.run import Run

SMALL = dict(depth=2, width=16, batch=32, eval_points=20)


def losses(records):
    return [r.losses for r in records if isinstance(r, StepRecord)]


@pytest.mark.parametrize("method", ["M1", "M2", "M3", "M4"])
def test_same_seed_gives_identical_losses_step_for_step(method):
    cfg = RunConfig.from_method(method, steps=25, seed=3, **SMALL)
    a, b = Trainer(cfg).step(25), Trainer(cfg).step(25)
    assert losses(a) == losses(b)
    other = Trainer(RunConfig.from_method(method, steps=25, seed=4, **SMALL)).step(25)
    assert losses(other) != losses(a)


def test_records_are_typed_and_follow_their_cadences():
    cfg = RunConfig.from_method("M2", steps=30, eval_every=10, grad_every=12, **SMALL)
    t = Trainer(cfg)
    recs = t.step(7) + t.step(100)  # a UI steps in chunks; the run stops at cfg.steps
    steps = [r for r in recs if isinstance(r, StepRecord)]
    assert [r.step for r in steps] == list(range(30)) and t.status == "finished" and t.steps_done == 30
    assert [r.step for r in recs if isinstance(r, EvalSnapshot)] == [0, 10, 20, 30]
    grads = [r for r in recs if isinstance(r, GradSnapshot)]
    assert [g.step for g in grads] == [0, 12, 24, 29]  # and the last step, for end-of-training histograms
    g = grads[-1]
    assert g.terms == ("res", "bc") and g.layers == ("layer 1", "layer 2", "output")
    assert g.counts.shape == (2, 3, cfg.hist_bins) and len(g.edges) == cfg.hist_bins + 1
    assert (g.counts.sum(axis=2) == [[16 * 2, 16 * 16, 16]] * 2).all()  # every entry lands in a bin
    assert np.all(g.max_abs >= g.mean_abs) and np.all(g.l2 > 0)
    ev = [r for r in recs if isinstance(r, EvalSnapshot)][-1]
    assert ev.prediction.shape == t.reference_field.shape == (20, 20) and math.isfinite(ev.rel_l2)
    assert steps[0].lambdas["bc"] != 1.0  # annealing updates before the step-0 update
    assert t.step(5) == []


def test_learning_rate_decays_continuously():
    t = Trainer(RunConfig(steps=3, lr=2e-3, decay_rate=0.5, decay_steps=2, **SMALL))
    assert [r.lr for r in t.step(3) if isinstance(r, StepRecord)] == pytest.approx([2e-3, 2e-3 * 0.5**0.5, 1e-3])


def test_a_gradient_snapshot_shows_the_weighted_boundary_gradient():
    t = Trainer(RunConfig(steps=1, weights={"bc": 100.0}, grad_every=1, **SMALL))
    unit = Trainer(RunConfig(steps=1, grad_every=1, **SMALL))
    g100 = next(r for r in t.step(1) if isinstance(r, GradSnapshot))
    g1 = next(r for r in unit.step(1) if isinstance(r, GradSnapshot))
    assert g100.mean_abs[1] == pytest.approx(100 * g1.mean_abs[1], rel=1e-4)
    assert g100.mean_abs[0] == pytest.approx(g1.mean_abs[0], rel=1e-6)


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_state():
    t = Trainer(RunConfig(steps=50, eval_every=0, **SMALL))
    t.step(5)
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    with torch.no_grad():
        t.model.out.bias.fill_(float("inf"))
    recs = t.step(10)
    assert t.status == "diverged at step 5" and t.steps_done == 5 and recs == []
    after = t.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k != "out.bias")  # no update applied
    assert t.step(1) == []


def test_overflowing_weighted_loss_is_reported_as_divergence():
    t = Trainer(RunConfig(steps=10, weights={"res": 1e38}, eval_every=0, **SMALL))
    t.step(10)
    assert t.status.startswith("diverged at step")
    assert all(torch.isfinite(p).all() for p in t.model.parameters())


@pytest.mark.parametrize("method", ["M2", "M4"])
def test_resumed_run_continues_the_identical_trajectory(tmp_path, method):
    cfg = RunConfig.from_method(method, steps=40, checkpoint_every=15, eval_every=10, grad_every=10, **SMALL)
    straight = Run.create(cfg, tmp_path / "a")
    straight.advance(40)
    part = Run.create(cfg, tmp_path / "b")
    part.advance(20)  # crosses the cadence: checkpoint at 20
    part.advance(3)   # not saved: steps 20..22 are redone after reopening
    part.close()      # as when its process ends
    resumed = Run.open(tmp_path / "b")
    assert resumed.trainer.steps_done == 20 and len(resumed.metrics) == 20
    resumed.advance(100)
    assert [m.losses for m in resumed.metrics] == [m.losses for m in straight.metrics]
    assert [m.lambdas for m in resumed.metrics] == [m.lambdas for m in straight.metrics]
    assert resumed.summary()["rel_l2"] == straight.summary()["rel_l2"]
    assert resumed.summary()["status"] == "finished"


@pytest.mark.parametrize("problem", ["klein-gordon", "cavity", "poisson1d"])
@pytest.mark.parametrize("method", ["M1", "M4"])
def test_every_problem_trains_and_evaluates(problem, method):
    t = Trainer(RunConfig.from_method(method, problem=problem, steps=12, eval_every=6, grad_every=6, **SMALL))
    recs = t.step(12)
    assert t.status == "finished"
    evals = [r for r in recs if isinstance(r, EvalSnapshot)]
    assert [e.step for e in evals] == [0, 6, 12] and all(math.isfinite(e.rel_l2) for e in evals)
    terms = {"klein-gordon": ("res", "ic", "bc"), "cavity": ("res", "bc"), "poisson1d": ("res", "bc")}[problem]
    assert tuple(recs[-2].losses) == terms


def test_float64_runs():
    t = Trainer(RunConfig(steps=2, dtype="float64", **SMALL))
    t.step(2)
    assert next(t.model.parameters()).dtype == torch.float64 and t.status == "finished"
