"""Issue 17: one damaged run never takes anything else down, every refusal is one line, one writer per run."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pinncore import ConfigError, RunConfig
from pinncore.config import LIMITS
from pinncore.run import Run
from pinncore.store import RunStore
from pinncore.locks import acquire_lock, holds_lock, release_lock
from pinncore.catalog import list_runs, resolve_run

sys.path.insert(0, str(Path(__file__).parent))
import corrupt  # noqa: E402
import lock_race  # noqa: E402

TINY = dict(depth=2, width=8, batch=16, eval_points=12)


def tiny_run(path: Path, steps: int = 20, trained: int = 12, **kw) -> Path:
    run = Run.create(RunConfig(steps=steps, eval_every=5, grad_every=5, checkpoint_every=5, **TINY, **kw), path)
    run.advance(trained)
    run.trainer.status = "paused"  # as `pinn train` leaves it on Ctrl-C
    run.save()
    run.close()
    return path


# -- the audit matrix ------------------------------------------------------------------------------------------
def test_every_corruption_ends_in_success_or_one_line_and_nothing_written(tmp_path):
    """All corruption kinds x (pinn eval, pinn resume, pinn list, the dashboard's view): 0 tracebacks, every
    refusal one line with exit 2 and the run directory unchanged, no payload executed."""
    assert len(corrupt.CORRUPTIONS) >= 39
    res = corrupt.matrix(tmp_path)
    bad = {(kind, op): line for kind, row in res.items() for op, (o, line) in row.items() if o == "bad"}
    assert not bad, bad
    assert not corrupt.PAYLOAD.exists()
    for kind in ("checkpoint malicious (torch.save, os.system)", "checkpoint malicious (raw pickle, eval)"):
        for op in ("eval", "resume", "view"):
            assert res[kind][op][0] == "refused" and "refused to load: contains code" in res[kind][op][1], res[kind]
    assert "no column 'lr'" in res["metrics missing a column"]["eval"][1]
    assert "incomplete snapshot: no 'prediction'" in res["eval snapshot missing a key"]["resume"][1]
    assert "eval_points: must be an integer <= 500" in res["config huge eval points"]["eval"][1]
    assert res["stale lock (dead PID)"]["resume"][0] == "ok"
    c = corrupt.counts(res)
    assert c["bad"] == 0 and c["ok"] + c["refused"] == 4 * len(corrupt.CORRUPTIONS)


# -- 1: listing ------------------------------------------------------------------------------------------------
def test_list_runs_lists_damaged_runs_with_their_reason_and_the_rest_normally(tmp_path):
    good = tiny_run(tmp_path / "good")
    for name, damage in (("garbage", lambda p: p.write_bytes(b"\xff\xfe\x00garbage")),
                         ("dir", lambda p: (p.unlink(), p.mkdir())),
                         ("types", lambda p: p.write_text(json.dumps({"steps_done": "ten", "label": "M1"})))):
        tiny_run(tmp_path / name, trained=2)
        damage(tmp_path / name / "summary.json")
    rows = {p.name: s for p, s in list_runs(tmp_path)}
    assert set(rows) == {"good", "garbage", "dir", "types"}
    assert rows["good"]["status"] == "paused" and rows["good"]["steps_done"] == 12 and "damaged" not in rows["good"]
    assert rows["garbage"]["status"] == "damaged" and "not UTF-8" in rows["garbage"]["damaged"]
    assert "is a directory" in rows["dir"]["damaged"]
    assert "'steps_done' has the wrong type" in rows["types"]["damaged"]
    assert RunStore(good).summary_checked()["steps_done"] == 12
    with pytest.raises(ConfigError, match="summary.json"):
        RunStore(tmp_path / "types").summary_checked()


def test_list_runs_of_a_missing_root(tmp_path):
    assert list_runs(tmp_path / "nope") == []  # the dashboard: no runs yet
    with pytest.raises(ConfigError, match="root: .*does not exist"):
        list_runs(tmp_path / "nope", missing_ok=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        list_runs(tmp_path / "file")


# -- 4, 5: refuse before writing -------------------------------------------------------------------------------
@pytest.mark.parametrize("missing", ["checkpoint.pt", "metrics.parquet"])
def test_a_missing_checkpoint_or_history_is_refused_unless_restart(tmp_path, missing):
    run_dir = tiny_run(tmp_path / "r")
    (run_dir / missing).unlink()
    before = corrupt.tree_digest(run_dir)
    for lock in (True, False):
        with pytest.raises(ConfigError, match=f"{missing}: is missing"):
            Run.open(run_dir, lock=lock)
    assert corrupt.tree_digest(run_dir) == before and not holds_lock(run_dir)
    run = Run.open(run_dir, restart=True)  # explicit: train again from step 0, the old history dropped
    assert run.trainer.steps_done == 0 and run.metrics == [] and RunStore(run_dir).metrics() == []
    assert not list((run_dir / "snapshots").glob("*.npz"))
    run.advance(20)
    run.close()
    assert RunStore(run_dir).summary()["status"] == "finished"
    assert [m.step for m in RunStore(run_dir).metrics()] == list(range(20))


def test_resume_with_summary_json_a_directory_writes_nothing(tmp_path):
    run_dir = tiny_run(tmp_path / "r")
    (run_dir / "summary.json").unlink()
    (run_dir / "summary.json").mkdir()
    before = corrupt.tree_digest(run_dir)
    with pytest.raises(ConfigError, match="summary.json: is not a regular file"):
        Run.open(run_dir, steps=40)
    assert corrupt.tree_digest(run_dir) == before


def test_new_steps_are_written_only_under_the_lock(tmp_path):
    """``resume --steps`` while another process trains the run: refused by the lock, config.json unchanged."""
    run_dir = tiny_run(tmp_path / "r")
    with lock_race.held_elsewhere(run_dir) as holder:
        config = (run_dir / "config.json").read_bytes()
        with pytest.raises(ConfigError, match=f"being trained by process {holder.pid}"):
            Run.open(run_dir, steps=60)
        assert (run_dir / "config.json").read_bytes() == config
    run = Run.open(run_dir, steps=60)  # the holder is gone: now it is written
    assert RunStore(run_dir).config().steps == 60 and run.trainer.config.steps == 60
    with pytest.raises(ConfigError, match="steps: must be >= the 12 steps"):
        Run.open(tmp_path / "r", steps=5, lock=False)
    run.close()


# -- 6: a failed create leaves nothing -------------------------------------------------------------------------
def test_a_failed_create_leaves_no_run_directory(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="batch: must be an integer <= "):
        Run.create(RunConfig(batch=1_000_000_000, **{k: v for k, v in TINY.items() if k != "batch"}),
                   tmp_path / "a")
    assert not (tmp_path / "a").exists()

    def full_disk(self, state):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(RunStore, "write_checkpoint", full_disk)
    with pytest.raises(OSError):
        Run.create(RunConfig(**TINY), tmp_path / "new" / "deeper" / "run")
    assert not (tmp_path / "new").exists()  # the parents it made are gone too
    (tmp_path / "empty").mkdir()
    with pytest.raises(OSError):
        Run.create(RunConfig(**TINY), tmp_path / "empty")
    assert list((tmp_path / "empty").iterdir()) == []  # given empty, left empty

    def sibling_then_full_disk(self, state):  # another run is created beside it meanwhile (dashboard threads)
        (tmp_path / "fresh" / "other-run").mkdir()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(RunStore, "write_checkpoint", sibling_then_full_disk)
    with pytest.raises(OSError):
        Run.create(RunConfig(**TINY), tmp_path / "fresh" / "run")
    assert [p.name for p in (tmp_path / "fresh").iterdir()] == ["other-run"]
    assert not holds_lock(tmp_path / "empty")


def test_discard_removes_a_run_that_never_trained(tmp_path):
    run = Run.create(RunConfig(**TINY), tmp_path / "r")
    run.discard()
    assert not (tmp_path / "r").exists()
    run = Run.create(RunConfig(**TINY), tmp_path / "s")
    run.advance(1)
    with pytest.raises(RuntimeError, match="has trained 1 steps"):
        run.discard()
    run.close()


# -- 7: checkpoints by time ------------------------------------------------------------------------------------
def test_checkpoints_by_time_as_well_as_by_steps(tmp_path):
    cfg = RunConfig(steps=1000, checkpoint_every=10_000, eval_every=0, grad_every=0, **TINY)
    timed = Run.create(cfg, tmp_path / "timed", checkpoint_seconds=0.2)
    untimed = Run.create(cfg, tmp_path / "untimed", checkpoint_seconds=None)
    for run in (timed, untimed):
        run.advance(3)
    assert RunStore(tmp_path / "timed").summary()["steps_done"] == 0  # not yet due
    time.sleep(0.25)
    for run in (timed, untimed):
        run.advance(2)
    assert RunStore(tmp_path / "timed").summary()["steps_done"] == 5
    assert RunStore(tmp_path / "untimed").summary()["steps_done"] == 0
    assert Run.open(tmp_path / "timed", lock=False).trainer.steps_done == 5
    with pytest.raises(ConfigError, match="checkpoint_seconds"):
        Run(timed.trainer, timed.store, checkpoint_seconds=0)
    for run in (timed, untimed):
        run.close()


# -- 8: stale temp files ---------------------------------------------------------------------------------------
def test_stale_temp_files_are_removed_when_the_run_is_opened_for_training(tmp_path):
    run_dir = tiny_run(tmp_path / "r")
    stale = [run_dir / ".checkpoint.pt.k2j3.tmp", run_dir / "snapshots" / ".grad_00000010.npz.x9.tmp"]
    for f in stale:
        f.write_bytes(b"x" * 1000)
    Run.view(run_dir)  # viewing never writes, nor deletes
    assert all(f.exists() for f in stale)
    Run.open(run_dir).close()
    assert not any(f.exists() for f in stale)


# -- 9: one writer per run -------------------------------------------------------------------------------------
def test_lock_races_between_two_processes_have_exactly_one_winner():
    """100 forced races with no lock file and 100 with the stale lock a SIGKILL leaves (before the fix: about
    a third of them had two winners)."""
    r = lock_race.races_by_mode(100)
    assert r == {stale: {"races": 100, "double": 0, "none": 0, "single": 100} for stale in (False, True)}


def test_a_killed_holder_leaves_a_lock_that_is_taken_over(tmp_path):
    run_dir = tiny_run(tmp_path / "r")
    code = ("import sys, time; from pinncore.locks import acquire_lock; acquire_lock(sys.argv[1]); "
            "print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=f"process {holder.pid}"):
            acquire_lock(run_dir)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (run_dir / ".lock").read_text() == str(holder.pid)  # what a SIGKILL leaves
    acquire_lock(run_dir)
    assert holds_lock(run_dir) and (run_dir / ".lock").read_text() == str(os.getpid())
    with pytest.raises(ConfigError, match="already open for training in this process"):
        acquire_lock(run_dir)
    release_lock(run_dir)
    assert not (run_dir / ".lock").exists() and not holds_lock(run_dir)


# -- 10: paths under the root, viewing without writing ---------------------------------------------------------
def test_resolve_run_refuses_everything_outside_the_root(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    tiny_run(root / "a" / "run", trained=2)
    tiny_run(outside / "victim", trained=2)
    (root / "link").symlink_to(outside / "victim")
    (root / "inner-link").symlink_to(root / "a" / "run")
    assert resolve_run(root, "a/run") == (root / "a" / "run").resolve()
    assert resolve_run(root, "inner-link") == (root / "a" / "run").resolve()
    for name, reason in (("link", "outside the runs root"), ("../outside/victim", "outside the runs root"),
                         (str(outside / "victim"), "relative to the runs root"), ("x" * 300, "not a valid run name"),
                         ("a", "not a run directory"), ("nope", "does not exist"), ("", "empty")):
        with pytest.raises(ConfigError) as exc:
            resolve_run(root, name)
        assert reason in str(exc.value) and "\n" not in str(exc.value), (name, exc.value)
    assert [p.name for p, _ in list_runs(root)] == ["run"]  # the link out is not listed


def test_viewing_an_unfinished_run_never_writes(tmp_path):
    run_dir = tiny_run(tmp_path / "r")
    before = corrupt.tree_digest(run_dir)
    run = Run.view(run_dir)
    assert run.trainer.steps_done == 12 and len(run.metrics) == 12 and not run.locked
    run.locked = True  # even so
    for call in (lambda: run.advance(1), run.save):
        with pytest.raises(RuntimeError, match="read, not trained"):
            call()
    assert corrupt.tree_digest(run_dir) == before and not (run_dir / ".lock").exists()


# -- 13: limits, the diverged summary --------------------------------------------------------------------------
@pytest.mark.parametrize("field,value", [("depth", 1000), ("width", 100_000), ("batch", 10**9),
                                         ("eval_points", 100_000), ("hessian_k", 10**6)])
def test_upper_bounds_shared_by_every_front_end(field, value):
    with pytest.raises(ConfigError, match=f"{field}: must be an integer <= {LIMITS[field]}"):
        RunConfig(**{field: value}).validated()
    RunConfig(**{field: LIMITS[field]}).validated()


def test_a_diverged_runs_summary_holds_the_last_good_evaluation(tmp_path):
    run = Run.create(RunConfig(steps=50, eval_every=1000, grad_every=0, **TINY), tmp_path / "r")
    run.advance(7)
    run.trainer.weighting.lambdas["res"] = 1e38  # the next gradient overflows: the update is refused
    run.advance(10)
    assert run.trainer.status == "diverged at step 7"
    good = run.trainer.evaluate().rel_l2  # the parameters are still those after step 7
    s = RunStore(run.path).summary_checked()
    assert s["rel_l2_step"] == 7 and s["rel_l2"] == pytest.approx(good) and s["status"] == "diverged at step 7"
    assert [e.step for e in RunStore(run.path).snapshots("eval")] == [0, 7]
    run.close()
    assert Run.view(run.path).summary()["rel_l2_step"] == 7


def test_open_hands_over_the_snapshots_it_checked(tmp_path):
    run_dir = tiny_run(tmp_path / "r", hessian_every=5)
    run = Run.view(run_dir)
    upto = Run.visible_upto(run.trainer)
    for kind in ("eval", "grad", "hess"):
        assert [x.step for x in run.snapshots[kind]] == [x.step for x in RunStore(run_dir).snapshots(kind, upto)]
    assert [x.step for x in run.snapshots["eval"]] == [0, 5, 10] and run.last_eval.step == 10


def test_claim_takes_the_lock_of_a_run_opened_without_it(tmp_path):
    run_dir = tiny_run(tmp_path / "r")
    looking = Run.open(run_dir, lock=False)
    other = Run.open(run_dir)  # someone else trains it meanwhile
    with pytest.raises(ConfigError, match="already open for training"):
        looking.claim()
    other.advance(3)
    other.save()
    other.close()
    with pytest.raises(ConfigError, match="trained on since it was opened"):
        looking.claim()
    assert not holds_lock(run_dir)
    fresh = Run.open(run_dir, lock=False)
    fresh.claim()
    assert fresh.locked and holds_lock(run_dir)
    fresh.advance(1)
    fresh.close()
    with pytest.raises(RuntimeError, match="viewing only"):
        Run.view(run_dir).claim()
