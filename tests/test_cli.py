"""The pinn command: one-line errors that name the field (exit 2, nothing written), train/resume/eval/list."""
import json
import re

import pytest

from pinncli.main import main

FAST = ["--depth", "2", "--width", "8", "--batch", "16", "--eval-points", "10"]


@pytest.mark.parametrize("args,field", [
    (["--problem", "wave"], "problem"),
    (["--method", "M5"], "method"),
    (["--width", "0"], "width"),
    (["--lr", "0"], "lr"),
    (["--lr=-1e-3"], "lr"),
    (["--lr", "nan"], "lr"),
    (["--steps", "-1"], "steps"),
    (["--beta", "inf"], "beta"),
    (["--model", "transformer"], "model"),
    (["--weighting", "magic"], "weighting"),
    (["--annealing-variant", "v9"], "annealing_variant"),
    (["--param", "a2=nan"], "a2"),
    (["--param", "Re=100"], "Re"),
    (["--weight", "bc=0"], "weights"),
    (["--device", "tpu"], "device"),
    (["--width", "wide"], "--width"),
    (["--threads", "0"], "threads"),
])
def test_bad_input_is_one_line_naming_the_field_and_writes_nothing(tmp_path, capsys, args, field):
    out = tmp_path / "run"
    try:
        code = main(["train", *args, "--out", str(out)])
    except SystemExit as exc:  # argparse's own type errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err, err
    assert not out.exists()


def test_malformed_config_file(tmp_path, capsys):
    bad = tmp_path / "c.json"
    bad.write_text('{"width": 50,')
    assert main(["train", "--config", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "malformed JSON" in capsys.readouterr().err
    bad.write_text('{"widht": 50}')
    assert main(["train", "--config", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "widht" in capsys.readouterr().err and not (tmp_path / "r").exists()


@pytest.mark.parametrize("text,field", [('{"params": "x"}', "params"), ('{"weights": [1]}', "weights"),
                                        ('{"model": []}', "model"), ('{"seed": 1180591620717411303424}', "seed"),
                                        ('[1, 2]', "config")])
def test_wrongly_typed_config_fields_are_one_line_errors(tmp_path, capsys, text, field):
    cfg = tmp_path / "c.json"
    cfg.write_text(text)
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err, err
    assert not (tmp_path / "r").exists()


def test_unwritable_output_is_a_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["train", "--steps", "1", *FAST, "--out", str(blocker / "run")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_cuda_request_without_cuda_is_a_clear_error(tmp_path, capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["train", "--device", "cuda", "--out", str(tmp_path / "r")]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_train_resume_eval_list(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"problem": "poisson1d", "params": {"C": 2.0}}))
    out = tmp_path / "r"
    assert main(["train", "--config", str(cfg), "--method", "M2", "--steps", "30", *FAST, "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["steps_done"] == 30 and summary["label"] == "M2"
    assert set(summary) >= {"rel_l2", "lambdas", "wall_s", "steps_per_s"} and summary["lambdas"]["bc"] != 1.0
    assert json.loads((out / "config.json").read_text())["params"] == {"C": 2.0}
    assert main(["resume", str(out), "--steps", "50"]) == 0
    assert json.loads((out / "summary.json").read_text())["steps_done"] == 50
    capsys.readouterr()
    assert main(["eval", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["rel_l2"] == pytest.approx(summary["rel_l2"], rel=10)
    assert main(["list", str(tmp_path)]) == 0
    assert "M2" in capsys.readouterr().out
    assert main(["eval", str(tmp_path / "nope")]) == 2


def test_a_run_says_which_engine_it_trains_on_and_why(tmp_path, capsys):
    """pinn train may compile by default; a short run is told, in a line of its own, that it stays eager."""
    out = tmp_path / "r"
    assert main(["train", "--problem", "poisson1d", "--method", "M2", "--steps", "120", "--depth", "1", "--width",
                 "8", "--batch", "16", "--eval-points", "10", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert re.search(r"M2: eager: 60 steps finish sooner than compiling would \(~\d+ s eager against", err), err
    assert "engine=eager" in err
    assert json.loads((out / "config.json").read_text())["compile"] is True  # allowed: a resume decides again
    assert main(["train", "--problem", "poisson1d", "--steps", "120", "--depth", "1", "--width", "8", "--batch",
                 "16", "--eval-points", "10", "--no-compile", "--out", str(tmp_path / "e")]) == 0
    assert "finish sooner" not in capsys.readouterr().err


def test_diverging_run_exits_1_and_says_so(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", "--weight", "res=1e38", "--steps", "20", *FAST, "--out", str(out)]) == 1
    assert "diverged at step" in capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["status"].startswith("diverged at step")


def test_ctrl_c_saves_a_consistent_run_that_resumes_identically(tmp_path):
    """SIGINT lands mid-chunk; the run stops between chunks, saves, and resumes on the same trajectory."""
    import signal
    import subprocess
    import sys
    import time

    from pinncore.store import RunStore
    args = ["--steps", "3000", "--checkpoint-every", "100000", *FAST]
    straight = tmp_path / "straight"
    assert main(["train", *args, "--out", str(straight)]) == 0
    out = tmp_path / "r"
    proc = subprocess.Popen([sys.executable, "-m", "pinncli.main", "train", *args, "--out", str(out)],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "snapshots").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    summary = RunStore(out).summary()
    assert summary["status"] == "paused" and 0 < summary["steps_done"] < 3000
    assert len(RunStore(out).metrics()) == summary["steps_done"]  # metrics match the checkpoint
    assert main(["resume", str(out)]) == 0
    assert [m.losses for m in RunStore(out).metrics()] == [m.losses for m in RunStore(straight).metrics()]


def test_a_run_being_trained_cannot_be_resumed_twice(tmp_path, capsys):
    from pinncore.run import Run
    from pinncore import RunConfig
    run = Run.create(RunConfig(steps=10, depth=2, width=8, batch=16, eval_points=10), tmp_path / "r")
    assert main(["resume", str(tmp_path / "r")]) == 2
    assert "already open" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "r")]) == 0  # reading is fine
    run.close()
    assert main(["resume", str(tmp_path / "r")]) == 0
