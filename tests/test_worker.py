"""The worker's engine rules, in this process (no worker processes): a short run trains eagerly from start to end,
a long one asks for a compile, a twin takes over only if it measured faster, a compile failure leaves the run eager
with one line for its card, a setup kept compiled in a worker trains the next run compiled from its first step,
and the warm-up's setups are loaded ahead by an idle worker only."""
from __future__ import annotations

import dataclasses
import queue

import pytest
import torch

from pinncore import ConfigError, RunConfig, Trainer
from pinncore.engine import Profile
from pinncore.run import Run
from pinnlab.live import engines, worker

SMALL = dict(depth=2, width=8, batch=16, eval_points=12, eval_every=5, grad_every=5, steps=1000)


@pytest.fixture(autouse=True)
def _profile(tmp_path, monkeypatch):
    """A machine profile of this test's own (the decisions read it)."""
    monkeypatch.setenv("PINNCORE_CACHE", str(tmp_path / "cache"))


class Loader:
    """Records what the worker asks its loader for."""

    def __init__(self):
        self.submitted = []

    def submit(self, item):
        self.submitted.append(item)

    def loading_ahead(self, config):
        return False


def engine_for(run, requests=None, loader=None, kept=None):
    return engines.RunEngine(run, kept or engines.Engines(), loader or Loader(),
                             (requests if requests is not None else []).append)


def test_a_worker_loads_the_warm_ups_steps_ahead_only_once_it_has_had_no_run_for_a_while(tmp_path):
    """A warm-up's compile ended: the worker loads nothing at once (a load holds its interpreter for seconds, and
    a Start arriving then would wait for it), nothing while it has a run, and the setup once it has had none for
    ``AHEAD_IDLE_S``; a setup it holds compiled already is not loaded again."""
    w = worker.Worker(0, queue.Queue(), start_loader=False)
    config = RunConfig(compile=True, **SMALL)
    worker._apply("compiled", None, [config.to_dict(), True, True], w)
    worker._apply("compiled", None, [dataclasses.replace(config, width=9).to_dict(), False, True], w)  # failed
    worker._apply("compiled", None, [dataclasses.replace(config, width=10).to_dict(), True, False], w)  # a run's
    w.load_ahead()
    assert w.loader.todo.empty() and list(w.ahead) == [engines.setup_of(config)]
    run = Run.create(RunConfig(**SMALL), tmp_path / "r", engine="eager")
    try:
        w.slots["r"] = worker.Slot(run, w.engine_for("r", run))
        w.idle_since -= engines.AHEAD_IDLE_S + 1
        w.load_ahead()  # a run here: not now, and the idle time starts again
        assert w.loader.todo.empty() and w.idle_since > 0
    finally:
        run.close()
    del w.slots["r"]
    other = dataclasses.replace(config, width=11)
    worker._apply("compiled", None, [other.to_dict(), True, True], w)
    w.idle_since -= engines.AHEAD_IDLE_S + 1
    w.load_ahead()  # every setup queued at once: a run that comes during the first load waits for its own too
    items = [w.loader.todo.get_nowait(), w.loader.todo.get_nowait()]
    assert all(isinstance(i, engines.Ahead) for i in items) and not w.ahead
    assert w.loader.loading_ahead(config) and w.loader.loading_ahead(other)
    w.engines.mark(config, 0.001)
    worker._apply("compiled", None, [config.to_dict(), True, True], w)  # held here already: nothing to load
    assert not w.ahead


def test_a_run_that_comes_while_its_setup_loads_ahead_waits_for_it_and_switches(tmp_path, monkeypatch):
    """A short run would stay eager, but its setup is loading ahead in this worker: it waits for that load (it costs
    the run nothing more) and takes the compiled step over when it is there, faster."""
    from pinncore import engine as engine_mod

    config = RunConfig(compile=True, **{**SMALL, "steps": 3000})
    built = []
    monkeypatch.setattr(engine_mod, "compile_twin", lambda c: built.append(c) or engine_mod.Twin(
        Twin(c, 0.001), 1.0, False, 0.001))
    loader = engines.Loader(engines.Engines(), start=False)
    loader.load_ahead(config)
    run = Run.create(config, tmp_path / "r", engine="eager")
    try:
        e = engines.RunEngine(run, loader.engines, loader, [].append)
        e.timed(engines.MEASURE, engines.MEASURE * 0.004)  # 12 s eager: alone, it would never compile
        assert e.reason == "compiled: loaded ahead" and e.waiting == "load"
        while not loader.todo.empty():
            loader.serve(loader.todo.get_nowait())
        assert len(built) == 1 and not loader.loading_ahead(config)
        e.maybe_switch()
        assert e.engine == "compiled" and e.reason == "compiled from step 0: loaded ahead"
        assert isinstance(run.trainer, Twin)
    finally:
        run.close()


def test_a_short_run_trains_eagerly_from_start_to_end(tmp_path):
    run = Run.create(RunConfig(compile=True, **{**SMALL, "steps": 3000}), tmp_path / "r", engine="eager")
    requests, loader = [], Loader()
    try:
        e = engine_for(run, requests, loader)
        e.timed(engines.MEASURE, engines.MEASURE * 0.004)  # 4 ms a step: 3,000 steps take 12 s eager
        assert e.decided and e.engine == "eager" and requests == [] and loader.submitted == []
        assert e.reason.startswith("eager: 3,000 steps") and "finish sooner than compiling would" in e.reason
        assert "cold compile" in e.detail
    finally:
        run.close()


def test_a_long_run_asks_for_a_compile_and_loads_it_when_the_cache_has_it(tmp_path):
    config = RunConfig(compile=True, **{**SMALL, "steps": 400_000})
    run = Run.create(config, tmp_path / "r", engine="eager")
    requests, loader = [], Loader()
    try:
        e = engine_for(run, requests, loader)
        e.timed(engines.MEASURE, engines.MEASURE * 0.004)  # 400,000 steps: 27 min eager
        assert e.engine == "eager, compiling…" and e.reason.startswith("compiling: ")
        assert requests == [dataclasses.asdict(dataclasses.replace(config, compile=True))]
        e.compiled(True)  # the service's compiler put it in the cache: the loader builds it here
        assert e.engine == "eager, loading the compiled step…" and loader.submitted == [e]
    finally:
        run.close()


def test_a_long_run_of_a_setup_compiled_here_before_loads_it_without_the_compiler(tmp_path):
    config = RunConfig(compile=True, **{**SMALL, "steps": 400_000})
    Profile().record(config, warm_s=5.0, compiled_s=0.001)  # compiled into this cache before
    run = Run.create(config, tmp_path / "r", engine="eager")
    requests, loader = [], Loader()
    try:
        e = engine_for(run, requests, loader)
        e.timed(engines.MEASURE, engines.MEASURE * 0.004)
        assert requests == [] and loader.submitted == [e]
    finally:
        run.close()


class Twin:
    """A stand-in for a compiled trainer: whatever takes over from the run is this trainer."""

    def __init__(self, config, probe_s):
        self.inner = Trainer(dataclasses.replace(config, compile=True))  # never stepped: never compiles
        self.probe_s, self.compile_seconds = probe_s, 1.0

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.parametrize("probe_s, adopted", [(0.001, True), (0.010, False)])
def test_a_twin_takes_over_only_if_it_measured_faster(tmp_path, probe_s, adopted):
    run = Run.create(RunConfig(compile=True, **{**SMALL, "steps": 400_000}), tmp_path / "r", engine="eager")
    kept = engines.Engines()
    try:
        e = engine_for(run, kept=kept)
        e.timed(engines.MEASURE, engines.MEASURE * 0.004)  # eager: 4 ms a step
        twin = Twin(run.trainer.config, probe_s)
        e.offer(twin)
        e.maybe_switch()
        assert (run.trainer is twin) == adopted
        assert e.engine == ("compiled" if adopted else "eager")
        if not adopted:
            assert e.reason == "eager: the compiled step is slower here" and "10.00 against 4.00 ms" in e.detail
    finally:
        run.close()


def test_a_compile_failure_leaves_the_run_eager_with_one_line(tmp_path):
    run = Run.create(RunConfig(compile=True, **{**SMALL, "steps": 400_000}), tmp_path / "r", engine="eager")
    try:
        e = engine_for(run)
        e.timed(engines.MEASURE, engines.MEASURE * 0.004)
        e.compiled(False)
        assert e.engine == "eager" and e.reason == "eager: compilation is unavailable here"
        e.offer("failed")  # or the loader's build failed
        e.maybe_switch()
        assert e.engine == "eager" and e.reason == "eager: compilation is unavailable here"
    finally:
        run.close()


def test_a_setup_compiled_before_in_the_worker_trains_the_next_run_compiled_from_its_first_step(tmp_path):
    base = RunConfig(compile=True, **SMALL)
    compiled = Trainer(base)
    compiled.step(12)  # compiles (or loads) the step, as the loader does
    assert compiled.compile_seconds is not None
    kept = engines.Engines()
    kept.give(compiled)
    # another seed, length, lr and cadences: the same compiled step serves; another width would not
    other = dataclasses.replace(base, seed=3, steps=40, lr=2e-3, eval_every=7)
    assert kept.take(dataclasses.replace(other, width=9)) is None
    run = Run.create(other, tmp_path / "r", engine="eager")
    w = worker.Worker(0, queue.Queue(), start_loader=False)
    w.engines = kept
    try:
        slot = w.slots["r"] = worker.Slot(run, w.engine_for("r", run))
        assert slot.engine.reason == "compiled: ready in memory"
        slot.state = "running"
        slot.engine.maybe_switch()
        assert (slot.engine.engine, slot.engine.switch_step) == ("compiled", 0) and run.trainer is compiled
        assert run.trainer.config == other and run.trainer.steps_done == 0
        worker._advance("r", slot, 20, w)
        eager = Trainer(dataclasses.replace(other, compile=False))  # the same run on eager: same trajectory
        eager.step(20)
        for pc, pe in zip(compiled.model.parameters(), eager.model.parameters()):
            assert torch.allclose(pc, pe, rtol=1e-4, atol=1e-6)
        worker._end("r", slot, w, "stopped")
        assert kept.take(other) is compiled  # back in the pool for the next run
    finally:
        run.close()


def test_a_trainer_rebinds_only_to_a_config_of_the_same_build():
    trainer = Trainer(RunConfig(**SMALL))
    trainer.rebind(dataclasses.replace(trainer.config, seed=5, steps=9, hessian_every=3))
    assert trainer.config.seed == 5
    with pytest.raises(ConfigError, match="config"):
        trainer.rebind(dataclasses.replace(trainer.config, batch=17))


def test_one_compiled_step_serves_every_weighting_of_a_setup(tmp_path):
    """M1's compiled trainer trains an M2 run: the weights are an input of the graph, the weighting is rebuilt."""
    m1 = RunConfig.from_method("M1", compile=True, **SMALL)
    compiled = Trainer(m1)
    compiled.step(12)
    kept = engines.Engines()
    kept.give(compiled)
    m2 = dataclasses.replace(RunConfig.from_method("M2", compile=True, **SMALL), seed=2)
    twin = kept.take(m2)
    assert twin is compiled
    eager = Trainer(dataclasses.replace(m2, compile=False))
    from pinncore.engine import adopt

    adopted = adopt(eager, twin)
    assert adopted.weighting.name == "annealing" and adopted.config.weighting == "annealing"
    adopted.step(30)
    eager.step(30)
    assert adopted.weighting.lambdas["bc"] == pytest.approx(eager.weighting.lambdas["bc"], rel=1e-3)
    for pc, pe in zip(adopted.model.parameters(), eager.model.parameters()):
        assert torch.allclose(pc, pe, rtol=1e-4, atol=1e-6)


class _Sleeper:
    """A process that leads a group of its own, as a compiler process does (its C++ compilers in its group), with
    the two members of ``multiprocessing.Process`` that ``Compilers`` reads. A plain subprocess: a spawned
    multiprocessing child would have to import this test module, which a parallel run cannot always do."""

    def __init__(self):
        import subprocess
        import sys

        self.proc = subprocess.Popen([sys.executable, "-c", "import os, time; os.setpgrp(); time.sleep(60)"])
        self.pid = self.proc.pid

    def is_alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        self.proc.kill()

    def join(self, timeout=None) -> None:
        self.proc.wait(timeout)


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@pytest.mark.skipif(not hasattr(__import__("os"), "killpg"), reason="POSIX process groups")
def test_the_warm_up_compiler_is_stopped_while_runs_train_and_continued_after():
    """``Compilers.hold_warm``: the warm-up's process group stopped (state T) while runs train, continued when none
    does; a process that died is forgotten, so the next one is stopped too."""
    import multiprocessing
    import os
    import time

    from pinnlab.live.compiler import KINDS, Compilers

    compilers = Compilers(multiprocessing.get_context("spawn"), 10)
    procs = []
    try:
        for _ in range(2):
            proc = _Sleeper()
            procs.append(proc)
            deadline = time.time() + 60
            while time.time() < deadline and os.getpgid(proc.pid) != proc.pid:  # until it leads its group
                time.sleep(0.05)
            compilers.pool.procs[KINDS.index("warm")] = proc
            compilers.hold_warm(True)
            time.sleep(0.2)
            assert _state(proc.pid) == "T"
            compilers.hold_warm(True)  # again: nothing changes
            assert _state(proc.pid) == "T"
            if len(procs) == 1:
                compilers.hold_warm(False)
                time.sleep(0.2)
                assert _state(proc.pid) in "SR"
                compilers.hold_warm(True)
                proc.kill()
                proc.join(5)
                compilers.hold_warm(True)  # its process died: forgotten
                assert not compilers.warm_held
    finally:
        for proc in procs:
            proc.kill()
