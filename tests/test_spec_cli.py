"""``pinn train --problem-file`` and ``pinn sweep --problem-file``: a spec problem trains, resumes and evaluates
from its run directory alone; bad specs exit 2 with one line."""
from __future__ import annotations

import json
from pathlib import Path

from pinncli.main import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "problems"
TINY = ["--depth", "1", "--width", "8", "--batch", "16", "--eval-points", "10", "--grad-every", "0"]


def test_train_a_problem_file_then_resume_and_eval_without_it(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert main(["train", "--problem-file", str(EXAMPLES / "heat.toml"), "--param", "n=1", "--steps", "6",
                 "--out", str(out), *TINY]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["problem"] == "heat" and first["steps_done"] == 6
    monkeypatch.chdir(tmp_path)  # elsewhere, and the spec file is not needed any more
    assert main(["resume", str(out), "--steps", "9"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps_done"] == 9
    assert main(["eval", str(out)]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["problem"] == "heat" and 0 < evaluated["rel_l2"] < 10
    config = json.loads((out / "config.json").read_text())
    assert config["spec"] == (EXAMPLES / "heat.toml").read_text() and config["params"] == {"n": 1.0}


def test_a_bad_problem_file_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[inputs]\nx = [0, 1]\n[[terms]]\nname = "res"\non = "x = 3"\nresidual = "u_xx"\n')
    assert main(["train", "--problem-file", str(bad), "--out", str(tmp_path / "r"), *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "pinn: error: spec line 6, terms[0].on: 'x = 3' lies outside the domain [0, 1] of x"
    assert not (tmp_path / "r").exists()
    assert main(["train", "--problem-file", str(tmp_path / "missing.toml"), *TINY]) == 2
    assert "problem-file: cannot read" in capsys.readouterr().err


def test_sweep_a_problem_file(tmp_path, capsys):
    assert main(["sweep", "--problem-file", str(EXAMPLES / "wave.toml"), "--grid", "method=M1,M2", "param.c=1,2",
                 "steps=5", "--out", str(tmp_path / "sw"), "--dry-run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and all("/runs/wave-M" in line for line in lines)
    from pinnlab.sweep import expand, parse_grid
    from pinncore import RunConfig

    spec = (EXAMPLES / "wave.toml").read_text()
    configs = expand(parse_grid(["param.c=1,2"]), RunConfig(problem="wave", spec=spec))
    assert [c.params for c in configs] == [{"c": 1.0}, {"c": 2.0}] and all(c.spec == spec for c in configs)
