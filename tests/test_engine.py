"""The engine choice (pinncore.engine, pinncore.autopilot): compile only when it pays, by this machine's measured
costs; a twin takes over only if it measured faster; a failure leaves the run eager. No timing is asserted: the
costs are given, and compiling is stood in for where the rule, not the compiler, is under test."""
from __future__ import annotations

import dataclasses

import pytest

from pinncore import RunConfig, Trainer
from pinncore import autopilot as autopilot_module
from pinncore.autopilot import Autopilot
from pinncore.engine import Costs, Profile, Twin, plan, setup_key
from pinncore.run import Run

SMALL = dict(depth=2, width=8, batch=16, eval_points=12, eval_every=0, grad_every=0)
COLD = Costs(eager_s=0.004, compiled_s=0.002, cold_s=40.0, warm_s=5.0, warm=False)


@pytest.fixture(autouse=True)
def _profile(tmp_path, monkeypatch):
    monkeypatch.setenv("PINNCORE_CACHE", str(tmp_path / "cache"))


def test_a_short_run_stays_eager_and_a_long_one_compiles():
    config = RunConfig(compile=True, **SMALL)
    short = plan(config, 3_000, COLD)  # 12 s eager against 40 + 6 s
    assert short.engine == "eager" and short.reason == "eager: 3,000 steps finish sooner than compiling would"
    assert "cold compile of ~40 s (estimated on this machine)" in short.detail
    long = plan(config, 100_000, COLD)  # 400 s eager against 240 s
    assert long.engine == "compiled" and long.reason == "compiling: 100,000 steps finish sooner compiled"
    assert plan(config, 20_000, dataclasses.replace(COLD, warm=True)).engine == "compiled"  # 80 s against 45 s


def test_the_rule_counts_who_waits_and_what_is_in_memory():
    config = RunConfig(compile=True, **SMALL)
    warm = dataclasses.replace(COLD, warm=True)
    assert plan(config, 10_000, warm).engine == "compiled"  # 40 s against 25 s
    assert plan(config, 10_000, warm, sharers=4).engine == "eager"  # a load pausing 4 runs: 40 s against 40 s
    assert plan(config, 10_000, warm, min_eager_s=60).engine == "eager"  # too little left to pause the others
    assert plan(config, 5, COLD, in_memory=True).engine == "compiled"  # nothing to wait for
    assert plan(dataclasses.replace(config, compile=False), 10**6, warm).reason == "eager (engine setting)"
    slower = plan(config, 10**6, dataclasses.replace(COLD, compiled_s=0.005))
    assert slower.engine == "eager" and slower.reason == "eager: the compiled step is slower here"
    assert plan(config, 10_000, COLD, eager_s=0.1).engine == "compiled"  # the run's own eager time counts


def test_the_profile_keeps_measurements_per_setup_and_survives_a_damaged_file(tmp_path):
    profile = Profile(tmp_path / "p.json")
    a, b = RunConfig(compile=True, **SMALL), RunConfig(compile=True, **{**SMALL, "width": 9})
    assert setup_key(a) == setup_key(dataclasses.replace(a, seed=4, steps=7, compile=False))
    assert setup_key(a) != setup_key(b)
    profile.record(a, eager_s=0.004, compiled_s=0.002)
    profile.record(a, eager_s=0.006, cold_s=30.0)
    costs = profile.costs(a)
    assert (costs.eager_s, costs.compiled_s, costs.cold_s, costs.warm) == (0.005, 0.002, 30.0, True)
    assert set(costs.measured) == {"eager_s", "compiled_s", "cold_s"}
    assert profile.costs(b).cold_s == 30.0 and not profile.costs(b).warm  # another setup's compile: a guess
    (tmp_path / "p.json").write_text("{ garbage")
    assert profile.costs(a).eager_s is None  # ignored, and replaced by the next record
    profile.record(a, eager_s=0.003)
    assert profile.costs(a).eager_s == 0.003


def run_of(tmp_path, steps):
    return Run.create(RunConfig(compile=True, **{**SMALL, "steps": steps}), tmp_path / "r", engine="eager")


def fake_twin(probe_s):
    def compile_twin(config, profile=None):
        trainer = Trainer(dataclasses.replace(config, compile=True))  # never stepped here: never compiled
        return Twin(trainer, 1.0, True, probe_s)
    return compile_twin


def test_the_autopilot_keeps_a_short_run_eager_from_start_to_end(tmp_path, monkeypatch):
    monkeypatch.setattr(autopilot_module, "compile_twin", lambda *a, **k: pytest.fail("compiled a short run"))
    run = run_of(tmp_path, 300)
    lines = []
    pilot = Autopilot(run, say=lines.append)
    while not run.trainer.done:
        pilot.advance(100)
    run.close()
    assert pilot.engine == "eager" and not run.trainer.config.compile and run.trainer.steps_done == 300
    assert lines and lines[0].startswith("eager: 240 steps finish sooner than compiling would")


@pytest.mark.parametrize("probe_s, adopted", [(1e-6, True), (10.0, False)])
def test_the_autopilot_switches_a_long_run_only_to_a_faster_step(tmp_path, monkeypatch, probe_s, adopted):
    monkeypatch.setattr(autopilot_module, "compile_twin", fake_twin(probe_s))
    run = run_of(tmp_path, 10**6)
    Profile().record(run.trainer.config, compiled_s=1e-6, cold_s=0.01)  # compiling is known to pay here
    pilot = Autopilot(run)
    pilot.advance(100)
    run.close()
    assert run.trainer.steps_done == 100 and pilot.decided
    assert (pilot.engine == "compiled") == adopted and run.trainer.config.compile == adopted
    if adopted:
        assert pilot.switch_step == 60 and pilot.reason.startswith("compiled from step 60")
    else:
        assert pilot.reason.startswith("eager: the compiled step is slower here")


def test_a_compile_failure_leaves_the_cli_run_eager(tmp_path, monkeypatch):
    monkeypatch.setattr(autopilot_module, "compile_twin", lambda *a, **k: None)
    run = run_of(tmp_path, 10**6)
    Profile().record(run.trainer.config, compiled_s=1e-6, cold_s=0.01)
    pilot = Autopilot(run)
    pilot.advance(100)
    run.close()
    assert pilot.engine == "eager" and pilot.reason == "eager: compilation is unavailable here"
    assert run.trainer.steps_done == 100
