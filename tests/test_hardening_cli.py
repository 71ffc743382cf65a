"""Issue 17 through the `pinn` command line: one line and exit 2 for every refusal, nothing written."""
import json
import sys
from pathlib import Path

import pytest

from lock_race import held_elsewhere

from pinncli.main import main
from pinncore import RunConfig
from pinncore.run import Run
from pinncore.store import RunStore

sys.path.insert(0, str(Path(__file__).parent))
import corrupt  # noqa: E402

FAST = ["--depth", "2", "--width", "8", "--batch", "16", "--eval-points", "10", "--eval-every", "5",
        "--grad-every", "5", "--checkpoint-every", "5"]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def paused_run(path: Path, steps: int = 20, trained: int = 12) -> Path:
    run = Run.create(RunConfig(steps=steps, depth=2, width=8, batch=16, eval_points=10, eval_every=5, grad_every=5,
                               checkpoint_every=5), path)
    run.advance(trained)
    run.trainer.status = "paused"
    run.save()
    run.close()
    return path


def test_pinn_list_shows_damaged_runs_and_refuses_a_missing_root(tmp_path, capsys):
    paused_run(tmp_path / "root" / "good")
    bad = paused_run(tmp_path / "root" / "bad", trained=2)
    (bad / "summary.json").write_text(json.dumps({"steps_done": "many", "label": "M1"}))
    baddir = paused_run(tmp_path / "root" / "dir", trained=2)
    (baddir / "summary.json").unlink()
    (baddir / "summary.json").mkdir()
    capsys.readouterr()
    assert main(["list", str(tmp_path / "root")]) == 0
    out = capsys.readouterr().out
    rows = {Path(line.split()[0]).name: line for line in out.splitlines()[1:] if line.strip()
            and not line.startswith(" ")}  # the reason of a damaged run is on the indented line below it
    assert set(rows) >= {"good", "bad", "dir"}, out
    assert " paused " in rows["good"] and " 12 " in rows["good"]
    assert "damaged" in rows["bad"] and "'steps_done' has the wrong type" in out
    assert "damaged" in rows["dir"] and "is a directory" in out
    assert main(["list", str(tmp_path / "nope")]) == 2
    assert "does not exist" in one_line_error(capsys)
    (tmp_path / "file").write_text("x")
    assert main(["list", str(tmp_path / "file")]) == 2
    assert "not a directory" in one_line_error(capsys)


@pytest.mark.parametrize("missing", ["checkpoint.pt", "metrics.parquet"])
def test_resume_and_eval_refuse_a_run_with_missing_files_unless_restart(tmp_path, capsys, missing):
    run_dir = paused_run(tmp_path / "r")
    (run_dir / missing).unlink()
    before = corrupt.tree_digest(run_dir)
    capsys.readouterr()
    for cmd in ("eval", "resume"):
        assert main([cmd, str(run_dir)]) == 2
        line = one_line_error(capsys)
        assert f"{missing}: is missing" in line, line
    assert "--restart" in line
    assert corrupt.tree_digest(run_dir) == before
    assert main(["resume", str(run_dir), "--restart"]) == 0
    s = json.loads((run_dir / "summary.json").read_text())
    assert s["status"] == "finished" and s["steps_done"] == 20
    assert [m.step for m in RunStore(run_dir).metrics()] == list(range(20))


def test_resume_steps_while_another_process_trains_leaves_config_json_alone(tmp_path, capsys):
    run_dir = paused_run(tmp_path / "r")
    with held_elsewhere(run_dir) as holder:
        config = (run_dir / "config.json").read_bytes()
        capsys.readouterr()
        assert main(["resume", str(run_dir), "--steps", "60"]) == 2
        assert f"being trained by process {holder.pid}" in one_line_error(capsys)
        assert (run_dir / "config.json").read_bytes() == config
    assert main(["resume", str(run_dir), "--steps", "30"]) == 0
    assert RunStore(run_dir).summary()["steps_done"] == 30


def test_resume_with_summary_json_a_directory_writes_nothing(tmp_path, capsys):
    run_dir = paused_run(tmp_path / "r")
    (run_dir / "summary.json").unlink()
    (run_dir / "summary.json").mkdir()
    before = corrupt.tree_digest(run_dir)
    capsys.readouterr()
    assert main(["resume", str(run_dir)]) == 2
    assert "summary.json" in one_line_error(capsys)
    assert corrupt.tree_digest(run_dir) == before


@pytest.mark.parametrize("flag,value", [("--batch", "1000000000"), ("--eval-points", "100000"), ("--depth", "1000"),
                                        ("--width", "100000")])
def test_train_beyond_the_limits_is_one_line_and_leaves_no_directory(tmp_path, capsys, flag, value):
    out = tmp_path / "r"
    assert main(["train", *FAST, flag, value, "--out", str(out)]) == 2
    assert flag[2:].replace("-", "_") in one_line_error(capsys)
    assert not out.exists()


def test_a_train_that_fails_in_its_first_step_leaves_no_directory(tmp_path, capsys, monkeypatch):
    from pinncore.trainer import Trainer

    def out_of_memory(self, n=1):
        raise RuntimeError("CUDA out of memory. Tried to allocate 74.5 GiB")

    monkeypatch.setattr(Trainer, "step", out_of_memory)
    out = tmp_path / "new" / "r"
    assert main(["train", *FAST, "--steps", "10", "--out", str(out)]) == 2
    err = capsys.readouterr().err  # the progress bar had started: the error is the last line
    assert "Traceback" not in err and "out of memory" in err.strip().splitlines()[-1], err
    assert not out.exists()


def test_pinn_dashboard_is_a_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["dashboard", "--help"])
    assert exc.value.code == 0
    assert "127.0.0.1" in capsys.readouterr().out
    assert main(["dashboard", "--host", "example.com"]) == 2
    assert "host" in one_line_error(capsys)
