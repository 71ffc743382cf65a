"""The run service (pinnlab.live): runs trained in worker processes, commands, lockstep, queue, ownership, the
eager -> compiled switch. Small networks; every test bounds its waits."""
from __future__ import annotations

import time

import pytest

from pinncore import RunConfig, Trainer
from pinnlab.live import CHUNK, Refused, RunService, Viewer

SMALL = dict(depth=2, width=8, batch=16, eval_points=12, eval_every=5, grad_every=5)
ALICE, BOB = Viewer("alice", "tab-a"), Viewer("bob", "tab-b")


def wait_until(pred, timeout=60.0):
    deadline = time.time() + timeout
    while not pred() and time.time() < deadline:
        time.sleep(0.02)
    return pred()


@pytest.fixture(scope="module")
def service():
    s = RunService(workers=2, nice=0)  # at the tests' priority: the other test worker must not starve its compiles
    yield s
    s.shutdown()


def launch(service, tmp_path, configs, who=ALICE, start=True):
    names = [f"r{i}-{time.time_ns()}" for i in range(len(configs))]
    return service.launch(configs, [tmp_path / n for n in names], names, who, start=start)


def steps(service, run):
    return service.view(run.id).steps_done


def test_start_pause_step_stop_and_reopen_from_disk(service, tmp_path):
    (run,) = launch(service, tmp_path, [RunConfig(steps=100_000, **SMALL)])
    assert wait_until(lambda: steps(service, run) >= 40)
    service.command(run.id, "pause", ALICE)
    assert wait_until(lambda: service.view(run.id).status == "paused")
    time.sleep(0.3)
    at = steps(service, run)
    time.sleep(0.5)
    assert steps(service, run) == at
    service.command(run.id, "step", ALICE, 7)
    assert wait_until(lambda: steps(service, run) == at + 7)
    time.sleep(0.3)
    assert steps(service, run) == at + 7
    service.command(run.id, "start", ALICE)
    with pytest.raises(Refused, match="pause it first"):
        service.command(run.id, "step", ALICE, 1)
    service.command(run.id, "stop", ALICE)
    assert wait_until(lambda: service.view(run.id).status == "stopped")
    done = steps(service, run)
    reopened = service.open(run.path)  # from disk now: everything trained is there
    assert reopened.steps_done == done and len(reopened.steps) == done


def test_a_diverging_run_stops_and_says_so(service, tmp_path):
    (run,) = launch(service, tmp_path, [RunConfig(steps=50, weights={"res": 1e38}, **SMALL)])
    assert wait_until(lambda: service.view(run.id).status.startswith("diverged at step "))


def test_a_compare_group_advances_in_lockstep(service, tmp_path):
    configs = [RunConfig.from_method(m, steps=400, **SMALL) for m in ("M1", "M2", "M3", "M4")]
    runs = launch(service, tmp_path, configs)
    worst, deadline = 0, time.time() + 300
    while time.time() < deadline and not all(service.view(r.id).status == "finished" for r in runs):
        done = [service.view(r.id).steps_done for r in runs if service.view(r.id).status == "running"]
        if len(done) > 1:
            worst = max(worst, max(done) - min(done))
        time.sleep(0.01)
    assert worst <= 2 * CHUNK, worst
    assert all(service.view(r.id).steps_done == 400 for r in runs)


def test_nobody_but_the_owner_commands_a_live_run(service, tmp_path):
    (run,) = launch(service, tmp_path, [RunConfig(steps=100_000, **SMALL)])
    service.touch(ALICE)
    assert wait_until(lambda: steps(service, run) > 5)
    view = service.view(run.id, BOB)
    assert not view.mine and service.view(run.id, ALICE).mine
    with pytest.raises(Refused, match="owned by another session"):
        service.command(run.id, "pause", BOB)
    service.command(run.id, "stop", ALICE)
    assert wait_until(lambda: service.view(run.id).status == "stopped")


def test_a_queue_forms_past_the_limit_and_drains(tmp_path):
    s = RunService(workers=1, max_training=2, per_session=4)
    try:
        a = launch(s, tmp_path, [RunConfig(steps=300, **SMALL)], Viewer("a", "1"))
        b = launch(s, tmp_path, [RunConfig(steps=300, **SMALL)], Viewer("b", "2"))
        c = launch(s, tmp_path, [RunConfig(steps=300, **SMALL)], Viewer("c", "3"))
        view = s.view(c[0].id)
        assert view.status == "queued" and view.queue_position == 1
        assert wait_until(lambda: s.view(c[0].id).status in ("running", "finished"), 120)
        assert s.view(a[0].id).status == "finished" or s.view(b[0].id).status == "finished"
        assert wait_until(lambda: s.view(c[0].id).status == "finished", 120)
    finally:
        s.shutdown()


def test_steps_asked_of_a_queued_run_are_taken_when_it_starts(tmp_path):
    """+10 on a run waiting in the queue (created paused, no slot free) was dropped without a word."""
    s = RunService(workers=1, max_training=1, per_session=4)
    try:
        (a,) = launch(s, tmp_path, [RunConfig(steps=100_000, **SMALL)], Viewer("a", "1"))
        who = Viewer("b", "2")
        (b,) = launch(s, tmp_path, [RunConfig(steps=100_000, **SMALL)], who, start=False)
        assert s.view(b.id).status == "queued"
        s.command(b.id, "step", who, 10)
        s.command(a.id, "stop", Viewer("a", "1"))
        assert wait_until(lambda: s.view(b.id).steps_done == 10, 120), s.view(b.id)
        time.sleep(0.5)
        assert s.view(b.id).steps_done == 10 and s.view(b.id).status == "paused"
    finally:
        s.shutdown()


def test_an_absent_owner_s_runs_stop_and_can_be_taken_over(tmp_path):
    s = RunService(workers=1, grace=1.0)
    try:
        (run,) = launch(s, tmp_path, [RunConfig(steps=100_000, **SMALL)])
        assert wait_until(lambda: s.touch(ALICE) or s.view(run.id).steps_done > 5, 120), s.view(run.id)  # her page redraws
        # alice never touches the service again (tab closed): after the grace period her run stops, saved
        assert wait_until(lambda: s.view(run.id).status == "stopped", 30)
        opened = s.open(run.path)
        s.command(opened.id, "resume", BOB)
        assert wait_until(lambda: s.touch(BOB) or s.view(opened.id).status == "running", 30)  # his page redraws
        assert s.view(opened.id, BOB).mine and not s.view(opened.id, ALICE).mine
    finally:
        s.shutdown()


def test_a_compiled_run_starts_eager_switches_and_matches_eager_training(service, tmp_path):
    config = RunConfig(steps=100_000, compile=True, **SMALL)
    (run,) = launch(service, tmp_path, [config])
    assert wait_until(lambda: service.view(run.id).engine == "compiled", 240), service.view(run.id).engine
    assert wait_until(lambda: steps(service, run) > 200, 120)
    service.command(run.id, "stop", ALICE)
    assert wait_until(lambda: service.view(run.id).status == "stopped")
    live = service.view(run.id).steps
    eager = [r for r in Trainer(RunConfig(steps=len(live), **SMALL)).step(len(live)) if hasattr(r, "losses")]
    for a, b in zip(live[:200], eager[:200]):
        for t in a.losses:
            assert a.losses[t] == pytest.approx(b.losses[t], rel=1e-3, abs=1e-6), (a.step, t)


def test_pinn_resume_continues_a_run_the_service_stopped(service, tmp_path):
    import json
    import subprocess
    import sys

    (run,) = launch(service, tmp_path, [RunConfig(steps=100_000, **SMALL)])
    assert wait_until(lambda: steps(service, run) >= 30)
    service.command(run.id, "stop", ALICE)
    assert wait_until(lambda: service.view(run.id).status == "stopped")
    done = steps(service, run)
    proc = subprocess.run([sys.executable, "-m", "pinncli.main", "resume", str(run.path), "--steps", str(done + 25)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-500:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["steps_done"] == done + 25 and summary["status"] == "finished"
