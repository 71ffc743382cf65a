"""Atomic writes: a run killed at any moment stays loadable; nothing is half-written."""
import os
import signal
import subprocess
import sys
import time

import pytest

from pinncore import RunConfig
from pinncore.run import Run
from pinncore.store import RunStore, atomic_write
from pinncore.catalog import list_runs

SMALL = dict(depth=2, width=16, batch=32, eval_points=20)


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path, monkeypatch):
    f = tmp_path / "summary.json"
    atomic_write(f, b'{"ok": 1}')

    def killed(*args):
        raise KeyboardInterrupt  # the process dies between writing the temp file and renaming it

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(f, b'{"ok": 2, "half')
    assert f.read_bytes() == b'{"ok": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temp file left behind


def test_run_directory_round_trip(tmp_path):
    run = Run.create(RunConfig.from_method("M2", steps=12, eval_every=5, grad_every=5, **SMALL), tmp_path / "r")
    run.advance(12)
    store = RunStore(tmp_path / "r")
    assert store.config() == run.trainer.config
    assert store.summary()["status"] == "finished" and store.summary()["steps_done"] == 12
    assert [m.losses for m in store.metrics()] == [m.losses for m in run.metrics]
    assert [s.step for s in store.snapshots("eval")] == [0, 5, 10, 12]
    assert [s.step for s in store.snapshots("grad")] == [0, 5, 10, 11]
    grid, field = store.reference()
    assert field.shape == (20, 20) and grid.shape == (400, 2)
    assert list_runs(tmp_path)[0][1]["label"] == "M2"


def test_run_killed_at_random_moments_still_loads(tmp_path):
    """SIGKILL a training process while it checkpoints every step; every kill leaves a loadable run."""
    code = ("import sys; from pinncore import RunConfig; from pinncore.run import Run; "
            "r = Run.create(RunConfig(steps=100000, checkpoint_every=1, eval_every=7, grad_every=7, depth=2, "
            "width=16, batch=32, eval_points=20), sys.argv[1]); print('go', flush=True); r.advance(100000)")
    for i, delay in enumerate((0.3, 0.55, 0.8)):
        out = tmp_path / f"run{i}"
        proc = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "go"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        run = Run.open(out)
        assert len(run.metrics) == run.trainer.steps_done
        run.advance(3)  # and it trains on from there
        assert run.metrics[-1].step == run.trainer.steps_done - 1


def test_creating_a_run_in_a_non_empty_directory_writes_nothing(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="out"):
        Run.create(RunConfig(**SMALL), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
