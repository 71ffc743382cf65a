"""The worker's own rules, in this process (no worker processes): what its compiler thread compiles first, that a
compiled run's twin waits until every running run of the worker has its first points out, and that a setup
compiled once in a worker trains the next run of that setup compiled from its first step."""
from __future__ import annotations

import dataclasses
import queue

import pytest
import torch

from pinncore import ConfigError, RunConfig, Trainer
from pinncore.run import Run
from pinnlab.live import worker

SMALL = dict(depth=2, width=8, batch=16, eval_points=12, eval_every=5, grad_every=5, steps=1000)


def test_a_run_s_twin_is_compiled_before_the_configs_warmed_at_start(tmp_path):
    compiler = worker.Compiler(start=False)  # no thread: the queue is read here
    run = Run.create(RunConfig(compile=True, **SMALL), tmp_path / "a", engine="eager")
    try:
        slot = worker.Slot(run, True, compiler)
        compiler.submit({"warm": 1})
        compiler.submit({"warm": 2})
        compiler.submit(slot)
        assert [compiler.todo.get()[2] for _ in range(3)] == [slot, {"warm": 1}, {"warm": 2}]
    finally:
        run.close()


class Recorder:
    def __init__(self):
        self.submitted = []
        self.engines = worker.Engines()

    def submit(self, item):
        self.submitted.append(item)


def test_twins_are_compiled_only_once_every_running_run_has_its_first_points(tmp_path):
    compiler, outbox, slots = Recorder(), queue.Queue(), {}
    runs = [Run.create(RunConfig(compile=True, seed=i, **SMALL), tmp_path / f"r{i}", engine="eager")
            for i in range(3)]
    try:
        for i, run in enumerate(runs):
            slots[f"r{i}"] = worker.Slot(run, True, compiler)
        slots["r0"].state = slots["r1"].state = "running"  # r2 stays paused: it must not hold the others back
        worker._advance("r0", slots["r0"], 3, outbox, slots)
        assert compiler.submitted == []  # r1 has no points yet: compiling now would slow its first steps
        worker._advance("r1", slots["r1"], 3, outbox, slots)
        assert compiler.submitted == [slots["r0"], slots["r1"]]
        slots["r2"].pending = 2  # +2 on the paused run: its twin once it has trained
        worker._advance("r2", slots["r2"], 2, outbox, slots)
        assert compiler.submitted == [slots["r0"], slots["r1"], slots["r2"]]
        assert all(s.engine == "eager, compiling…" for s in slots.values())
    finally:
        for run in runs:
            run.close()


def test_a_setup_compiled_before_in_the_worker_trains_the_next_run_compiled_from_its_first_step(tmp_path):
    base = RunConfig(compile=True, **SMALL)
    compiled = Trainer(base)
    compiled.step(12)  # compiles (or loads) the step, as the compiler thread does
    assert compiled.compile_seconds is not None
    compiler = Recorder()
    compiler.engines.give(compiled)
    # another seed, length, lr and cadences: the same compiled step serves; another width would not
    other = dataclasses.replace(base, seed=3, steps=40, lr=2e-3, eval_every=7)
    assert compiler.engines.take(dataclasses.replace(other, width=9)) is None
    run = Run.create(other, tmp_path / "r", engine="eager")
    outbox, slots = queue.Queue(), {}
    try:
        slot = slots["r"] = worker.Slot(run, True, compiler)
        assert slot.twin is compiled and compiler.submitted == []  # nothing to compile
        slot.state = "running"
        slot.maybe_switch()
        assert (slot.engine, slot.switch_step) == ("compiled", 0) and run.trainer is compiled
        assert run.trainer.config == other and run.trainer.steps_done == 0
        worker._advance("r", slot, 20, outbox, slots)
        eager = Trainer(dataclasses.replace(other, compile=False))  # the same run on eager: same trajectory
        eager.step(20)
        for pc, pe in zip(compiled.model.parameters(), eager.model.parameters()):
            assert torch.allclose(pc, pe, rtol=1e-4, atol=1e-6)
        worker._end("r", slot, outbox, slots, "stopped")
        assert compiler.engines.take(other) is compiled  # back in the pool for the next run
    finally:
        run.close()


def test_a_trainer_rebinds_only_to_a_config_of_the_same_build():
    trainer = Trainer(RunConfig(**SMALL))
    trainer.rebind(dataclasses.replace(trainer.config, seed=5, steps=9, hessian_every=3))
    assert trainer.config.seed == 5
    with pytest.raises(ConfigError, match="config"):
        trainer.rebind(dataclasses.replace(trainer.config, batch=17))
