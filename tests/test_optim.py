"""Optimisers (``pinncore.optim``): Adam then L-BFGS and SOAP, in the trainer, the run store, the registry's front
ends and the engine choice."""
import dataclasses
import io
import warnings

import pytest
import torch

from pinncore import ConfigError, RunConfig, Trainer
from pinncore.engine import Costs, plan
from pinncore.optim import FLOAT32_WARNING, OPTIMIZERS, compiled_steps_left
from pinncore.records import StepRecord
from pinncore.run import Run
from pinncore.trainer import build_key
from pinnlab.recipes import Recipe, format_recipes, parse_recipes

LBFGS = dict(optimizer="adam+lbfgs", lbfgs_after=20, lbfgs_batch=64, steps=60, eval_every=0, grad_every=0,
             dtype="float64", depth=2, width=16, batch=32)


def steps_of(records):
    return [r for r in records if isinstance(r, StepRecord)]


def total(r: StepRecord) -> float:
    return sum(r.lambdas[t] * v for t, v in r.losses.items())


def round_trip(state):
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_the_switch_is_honoured_exactly_and_lbfgs_never_raises_the_loss_on_its_batch():
    t = Trainer(RunConfig(weighting="annealing", **LBFGS))
    early = steps_of(t.step(20))
    assert t.lbfgs is None and [r.lr for r in early] == [t.lr_at(k) for k in range(20)]
    frozen = dict(t.weighting.lambdas)
    late = steps_of(t.step(40))
    assert t.lbfgs is not None and [r.step for r in late] == list(range(20, 60))
    assert all(r.lambdas == frozen for r in late)  # the weights are frozen at the switch
    totals = [total(r) for r in late]
    assert all(b <= a for a, b in zip(totals, totals[1:]))
    assert totals[-1] < 0.7 * totals[0]
    assert t.status == "finished"


def test_a_checkpoint_taken_during_lbfgs_resumes_the_same_trajectory(tmp_path):
    config = RunConfig(**LBFGS)
    whole = Trainer(config)
    reference = steps_of(whole.step(60))
    run = Run.create(config, tmp_path / "run", checkpoint_seconds=None)
    run.advance(35)  # 15 L-BFGS iterations in
    run.save()
    run.close()
    again = Run.open(tmp_path / "run")
    assert again.trainer.lbfgs is not None
    resumed = steps_of(again.advance(25))
    again.close()
    assert [r.step for r in resumed] == list(range(35, 60))
    for a, b in zip(reference[35:], resumed):
        assert total(b) == pytest.approx(total(a), rel=1e-10, abs=1e-14)
    for p, q in zip(whole.params, again.trainer.params):
        assert torch.allclose(p, q, rtol=1e-10, atol=1e-12)


def test_the_iterations_reuse_the_line_searchs_last_evaluation_without_changing_the_trajectory():
    """Each L-BFGS iteration starts where the last line search ended: the loss and gradient there come from the
    memo, and the run is bit for bit the one that evaluates them again."""
    memo, again = Trainer(RunConfig(**LBFGS)), Trainer(RunConfig(**LBFGS))
    memo.step(20), again.step(20)
    iterate = again._lbfgs_step

    def forgetting(k, records):  # the same phase, its memo dropped before every iteration
        if again.lbfgs is not None:
            again.lbfgs.memo = None
        return iterate(k, records)

    again._lbfgs_step = forgetting
    a, b = steps_of(memo.step(40)), steps_of(again.step(40))
    assert [r.losses for r in a] == [r.losses for r in b] and [r.lr for r in a] == [r.lr for r in b]
    assert all(torch.equal(p, q) for p, q in zip(memo.params, again.params))
    assert again.lbfgs.evaluations - memo.lbfgs.evaluations == 40 - 1  # one saved per iteration after the first


def test_a_line_search_stall_ends_the_run_saying_so():
    config = RunConfig(problem="poisson1d", optimizer="adam+lbfgs", steps=3000, lbfgs_after=100, lbfgs_batch=64,
                       eval_every=0, grad_every=0, width=10, depth=1)  # float32: stalls within a few hundred
    t = Trainer(config)
    with pytest.warns(RuntimeWarning, match="more reliable in float64"):
        records = t.step(3000)
    assert t.status.startswith("stalled at step ") and "line search found no lower loss" in t.status
    assert t.done and t.steps_done < 3000 and t.step(5) == []
    last = steps_of(records)[-1]
    assert last.lr == 0.0 and last.step == t.steps_done - 1
    assert type(records[-1]).__name__ == "EvalSnapshot"  # the run ends with its evaluation


def test_the_float32_warning_comes_once_per_run_and_only_for_lbfgs_in_float32():
    from pinncore.optim import warning_of

    assert warning_of(RunConfig(optimizer="adam+lbfgs")) == FLOAT32_WARNING
    assert warning_of(RunConfig(optimizer="adam+lbfgs", dtype="float64")) is None
    assert warning_of(RunConfig(optimizer="soap")) is None
    t = Trainer(RunConfig(**{**LBFGS, "dtype": "float32", "steps": 24}))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        t.step(24)
    assert [str(w.message) for w in seen if w.category is RuntimeWarning] == [FLOAT32_WARNING]


def test_soap_trains_helmholtz_and_its_state_survives_a_checkpoint():
    config = RunConfig(optimizer="soap", steps=620, eval_every=0, grad_every=0, dtype="float64")
    a = Trainer(config)
    losses = [total(r) for r in steps_of(a.step(600))]
    assert sum(losses[-20:]) < 0.5 * sum(losses[:20])  # Adam: 0.54, SOAP: 0.20 (seed 0)
    b = Trainer(config)
    b.load_state_dict(round_trip(a.state_dict()))
    a.step(20)
    b.step(20)
    for p, q in zip(a.params, b.params):
        assert torch.equal(p, q)


def test_the_registry_feeds_validation_the_cli_recipes_and_labels():
    assert tuple(OPTIMIZERS) == ("adam", "adam+lbfgs", "soap")
    with pytest.raises(ConfigError, match="optimizer.*unknown 'lbfgs'.*adam, adam\\+lbfgs, soap"):
        RunConfig(optimizer="lbfgs").validated()
    with pytest.raises(ConfigError, match="optimizer.*causal"):
        RunConfig(problem="klein-gordon", optimizer="adam+lbfgs", causal=True).validated()
    for field, value in (("lbfgs_batch", 0), ("lbfgs_history", 0), ("soap_every", 0), ("lbfgs_after", -1)):
        with pytest.raises(ConfigError, match=field):
            RunConfig(**{field: value}).validated()
    assert RunConfig(optimizer="adam+lbfgs").method is None
    assert RunConfig(optimizer="adam+lbfgs").label() == "M1 · adam+lbfgs"
    assert RunConfig(model="modified-mlp", weighting="annealing", optimizer="soap").label() == "M4 · soap"
    recipes = [Recipe(), Recipe(optimizer="adam+lbfgs"), Recipe("mlp", "ntk", optimizer="soap")]
    text = format_recipes(recipes)
    assert text == "M1,mlp+fixed+optimizer=adam+lbfgs,mlp+ntk+optimizer=soap"
    assert parse_recipes(text) == recipes
    with pytest.raises(ConfigError, match="recipe 1.*unknown optimizer 'sgd'"):
        parse_recipes("mlp+fixed+optimizer=sgd")
    from pinncli.args import build_parser

    helps = {a.dest: a.help for a in build_parser()._subparsers._group_actions[0].choices["train"]._actions}
    assert "one of adam, adam+lbfgs, soap" in helps["optimizer"]


def test_only_adam_compiles_and_adam_lbfgs_shares_adams_compiled_step():
    assert build_key(RunConfig(optimizer="adam+lbfgs", lbfgs_after=5)) == build_key(RunConfig())
    assert build_key(RunConfig(optimizer="soap")) != build_key(RunConfig())
    costs = Costs(eager_s=1e-2, compiled_s=1e-3, cold_s=1.0, warm_s=0.5, warm=False, measured=())
    soap = plan(RunConfig(optimizer="soap", compile=True), 10**6, costs)
    assert soap.engine == "eager" and "not soap" in soap.reason
    late = RunConfig(optimizer="adam+lbfgs", lbfgs_after=100, steps=10**6, compile=True)
    assert compiled_steps_left(late, 0) == 100 and compiled_steps_left(late, 500) == 0
    assert plan(late, compiled_steps_left(late, 500), costs, in_memory=True).engine == "eager"
    assert Trainer(RunConfig(optimizer="soap", compile=True))._fused is None


def test_compiled_adam_then_eager_lbfgs_matches_eager_throughout():
    setup = dict(LBFGS, problem="poisson1d", steps=30, lbfgs_after=12, grad_every=10)
    eager = Trainer(RunConfig(**setup))
    compiled = Trainer(RunConfig(compile=True, **setup))
    a, b = steps_of(eager.step(30)), steps_of(compiled.step(30))
    assert compiled._fused is not None and compiled._fused.compile_seconds is not None
    for x, y in zip(a, b):
        assert total(y) == pytest.approx(total(x), rel=1e-9)
    for p, q in zip(eager.params, compiled.params):
        assert torch.allclose(p, q, rtol=1e-8, atol=1e-10)


def test_gradient_snapshots_go_on_during_lbfgs_on_its_fixed_batch():
    t = Trainer(RunConfig(**{**LBFGS, "grad_every": 10}))
    records = t.step(60)
    grads = [r.step for r in records if type(r).__name__ == "GradSnapshot"]
    assert grads == [0, 10, 20, 30, 40, 50, 59]
    replaced = dataclasses.replace(t.config, hessian_every=15)
    s = Trainer(replaced)
    hess = [r.step for r in s.step(60) if type(r).__name__ == "HessianSnapshot"]
    assert hess == [0, 15, 20, 30, 45, 60]  # and one at the switch (before L-BFGS) and one where the run ends


def test_pinn_train_warns_in_one_line_and_says_how_the_run_ended(tmp_path, capsys):
    from pinncli.main import main

    out = tmp_path / "run"
    code = main(["train", "--problem", "poisson1d", "--optimizer", "adam+lbfgs", "--lbfgs-after", "100",
                 "--lbfgs-batch", "64", "--steps", "3000", "--width", "10", "--depth", "1", "--eval-every", "0",
                 "--grad-every", "0", "--no-compile", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0
    assert err.count("warning") == 1 and f"pinn: warning: {FLOAT32_WARNING}" in err
    assert "pinn: run stalled at step" in err
    summary = __import__("json").loads((out / "summary.json").read_text())
    assert summary["status"].startswith("stalled at step") and summary["steps_done"] < 3000
    assert main(["resume", str(out)]) == 0  # nothing left to train: it says so and ends


def test_the_live_worker_trains_soap_eagerly_and_says_why(tmp_path, monkeypatch):
    import dataclasses as dc

    from pinnlab.live import engines

    monkeypatch.setenv("PINNCORE_CACHE", str(tmp_path / "cache"))
    run = Run.create(RunConfig(optimizer="soap", compile=True, depth=2, width=8, batch=16, steps=400_000,
                               eval_every=0, grad_every=0), tmp_path / "r", engine="eager")
    requests = []
    try:
        loader = type("L", (), {"submit": lambda self, x: None, "loading_ahead": lambda self, c: False})()
        e = engines.RunEngine(run, engines.Engines(), loader, requests.append)
        e.timed(engines.MEASURE, engines.MEASURE * 0.004)  # 400,000 steps would pay for a compile with Adam
        assert e.engine == "eager" and requests == [] and e.reason == "eager: the compiled step implements Adam, not soap"
        assert dc.replace(run.trainer.config, compile=False).optimizer == "soap"
    finally:
        run.close()


def test_a_kept_compiled_adam_trainer_takes_over_an_adam_lbfgs_run_and_switches_on_time():
    from pinncore.engine import adopt

    setup = dict(LBFGS, problem="poisson1d", steps=40, lbfgs_after=25)
    compiled = Trainer(RunConfig(compile=True, **{**setup, "optimizer": "adam"}))
    compiled.step(3)
    eager = Trainer(RunConfig(**setup))
    eager.step(10)
    reference = Trainer(RunConfig(**setup))
    reference.step(10)
    adopted = adopt(eager, compiled)
    assert adopted.config.optimizer == "adam+lbfgs" and adopted.lbfgs is None
    a, b = steps_of(adopted.step(30)), steps_of(reference.step(30))
    assert adopted.lbfgs is not None and [r.step for r in a] == [r.step for r in b] == list(range(10, 40))
    for x, y in zip(a, b):
        assert total(x) == pytest.approx(total(y), rel=1e-9)


def test_stiffness_snapshots_after_the_switch_have_no_learning_rate_and_survive_the_store(tmp_path):
    import math

    config = RunConfig(**{**LBFGS, "hessian_every": 15, "steps": 40})
    run = Run.create(config, tmp_path / "run", checkpoint_seconds=None)
    run.advance(40)
    run.close()
    hess = Run.view(tmp_path / "run").snapshots["hess"]
    assert [h.step for h in hess] == [0, 15, 20, 30, 40]
    assert [math.isnan(h.lr) for h in hess] == [False, False, False, True, True]
    assert all(math.isfinite(h.sigma_max) for h in hess)


def test_a_line_search_that_keeps_a_nan_point_stops_the_run_as_diverged_with_the_last_good_parameters():
    from pinncore.optim.lbfgs import LbfgsPhase

    t = Trainer(RunConfig(**{**LBFGS, "problem": "poisson1d"}))
    t.step(20)
    t._switch()
    start = [p.detach().clone() for p in t.params]
    original = t.loss_module.forward

    def poisoned(*points, **kw):  # NaN wherever the line search tries a point away from the start
        out = original(*points, **kw)
        far = sum((p - s).abs().sum() for p, s in zip(t.params, start))
        return torch.where(far > 1e-3, torch.full_like(out, float("nan")), out)

    t.loss_module.forward = poisoned
    assert isinstance(t.lbfgs, LbfgsPhase)
    records = t.step(5)
    assert t.status == "diverged at step 20" and steps_of(records) == []
    for p, s in zip(t.params, start):
        assert torch.equal(p, s)


def test_a_switch_at_or_past_the_last_step_is_refused_naming_it():
    with pytest.raises(ConfigError, match="lbfgs_after.*before the last step"):
        RunConfig(optimizer="adam+lbfgs", lbfgs_after=100, steps=100).validated()
    RunConfig(optimizer="adam", lbfgs_after=100, steps=100).validated()  # only adam+lbfgs reads it


def test_stalled_runs_count_as_results_and_sweeps_do_not_repeat_runs_an_optimiser_setting_cannot_change():
    from pinncore.trainer import completed
    from pinnlab.sweep.grid import expand, parse_grid, run_name

    assert completed("finished") and completed("stalled at step 9: ...") and not completed("diverged at step 3")
    configs = expand(parse_grid(["optimizer=adam,adam+lbfgs,soap", "lbfgs_after=500,1000", "soap_every=2,10"]))
    assert len({run_name(c) for c in configs}) == 5  # adam once, adam+lbfgs twice, soap twice
    assert build_key(RunConfig(soap_every=10)) == build_key(RunConfig())
