"""The worker's own rules, in this process (no worker processes): what its compiler thread compiles first, and
that a compiled run's twin waits until every running run of the worker has its first points out."""
from __future__ import annotations

import queue

from pinncore import RunConfig
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
