"""pinn sweep: grid parsing, deterministic run names, Ray execution, results table, reuse / resume / extend, a
sweep killed and run again, and one-line errors for bad grids."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from pinncore import ConfigError, RunConfig, Trainer
from pinncli.main import main
from pinncore.run import Run
from pinncore.store import RunStore
from pinnlab.sweep import (Task, cost, expand, list_sweeps, parse_grid, plan, read_sweep, run_name, run_sweep)

pytestmark = pytest.mark.xdist_group("ray")  # with -n 2: the Ray tests on one worker, one Ray at a time

# tiny runs: 1D Poisson, one hidden layer of 8
TINY = ["problem=poisson1d", "depth=1", "width=8", "batch=16", "eval_points=16", "eval_every=10", "grad_every=10",
        "checkpoint_every=10"]


def tiny(**kw) -> RunConfig:
    base = dict(problem="poisson1d", depth=1, width=8, batch=16, eval_points=16, eval_every=10, grad_every=10,
                checkpoint_every=10, steps=30)
    return RunConfig(**{**base, **kw}).validated()


# -- the grid -----------------------------------------------------------------------------------------------
def test_parse_grid_types_ranges_methods_and_params():
    g = parse_grid(["method=M1,M4", "seed=0..2", "lr=1e-3,5e-4", "param.C=2,16", "update_every=none,5",
                    "annealing-variant=paper", "weight.bc=10"])
    assert g == {"method": ["M1", "M4"], "seed": [0, 1, 2], "lr": [1e-3, 5e-4], "params.C": [2.0, 16.0],
                 "update_every": [None, 5], "annealing_variant": ["paper"], "weights.bc": [10.0]}


def test_expand_is_the_cartesian_product_without_equivalent_duplicates():
    configs = expand(parse_grid([*TINY, "method=M1,M2", "annealing_variant=paper,released-code", "seed=0,1"]))
    # M1 does not anneal: its variant is irrelevant, so it is one run per seed, not two
    assert len(configs) == 2 * 1 + 2 * 2
    assert {(c.label(), c.seed) for c in configs} == {("M1", 0), ("M1", 1), ("M2", 0), ("M2", 1),
                                                       ("M2 (paper)", 0), ("M2 (paper)", 1)}
    assert all(c.params == {"C": 4.0} for c in configs)  # problem parameters explicit


def test_run_names_are_deterministic_and_ignore_steps():
    a, b = tiny(seed=3), tiny(seed=3, steps=999)
    assert run_name(a) == run_name(b) == run_name(RunConfig.from_dict(json.loads(a.to_json())))
    assert run_name(a).startswith("poisson1d-M1-1x8-s3-")
    assert run_name(tiny(lr=5e-4)) != run_name(a)
    assert run_name(tiny(params={"C": 4.0})) == run_name(tiny())  # the default spelled out is the same run
    assert run_name(tiny(annealing_variant="paper")) == run_name(tiny())  # no annealing: the variant is moot


def test_longest_runs_start_first():
    def task(steps_done=0, **kw):
        return Task(RunConfig(**kw), Path("x"), "new", steps_done)

    assert cost(task(problem="cavity", model="modified-mlp")) > cost(task(problem="cavity")) \
        > cost(task(problem="klein-gordon", depth=5)) > cost(task(problem="helmholtz"))
    assert cost(task(problem="cavity", steps_done=39_000)) < cost(task(problem="helmholtz"))  # nearly done


@pytest.mark.parametrize("grid,field", [
    (["depth=3,abc"], "depth"),
    (["wdith=3"], "wdith"),
    (["method=M1,M7"], "method"),
    (["method=M1", "model=mlp"], "method"),
    (["lr=0"], "lr"),
    (["problem=wave"], "problem"),
    (["param.Q=1"], "Q"),
    (["seed=0", "seed=1"], "seed"),
    (["compile"], "grid"),
    (["params=1"], "params"),
])
def test_bad_grid_is_one_line_naming_the_field_exit_2_and_writes_nothing(tmp_path, capsys, grid, field):
    out = tmp_path / "sweep"
    code = main(["sweep", "--grid", *grid, "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err and err.startswith("pinn: error:"), err
    assert not out.exists()


# -- running ------------------------------------------------------------------------------------------------
def test_sweep_trains_every_run_and_writes_one_table(tmp_path, ray_session, capsys):
    out = tmp_path / "sweep"
    code = main(["sweep", "--grid", *TINY, "steps=20", "method=M1,M2", "seed=0,1", "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "results:" in printed and "M2" in printed
    meta = read_sweep(out)
    assert meta["complete"] and meta["kind"] == "sweep" and len(meta["runs"]) == 4
    assert meta["grid"]["method"] == ["M1", "M2"] and meta["command"][:2] == ["pinn", "sweep"]
    df = pd.read_parquet(out / "results.parquet")
    csv = pd.read_csv(out / "results.csv")
    assert len(df) == len(csv) == 4 and list(df.columns) == list(csv.columns)
    assert list(df.columns[:4]) == ["run", "problem", "method", "model"]
    for col in ("depth", "width", "seed", "steps", "status", "rel_l2", "lambda_bc", "wall_s", "param.C"):
        assert col in df.columns, col
    assert set(df.status) == {"finished"} and (df.steps_done == 20).all() and df.rel_l2.notna().all()
    assert (df[df.method == "M1"].lambda_bc == 1.0).all() and (df[df.method == "M2"].lambda_bc != 1.0).all()
    for rel in df.run:  # every run is an ordinary run directory
        assert RunStore(out / rel).summary()["status"] == "finished"
    assert list_sweeps(tmp_path)[0][0] == out


def test_sweep_reuses_finished_runs_and_resumes_or_extends_the_others(tmp_path, ray_session):
    out = tmp_path / "sweep"
    finished, partial = tiny(seed=0, steps=30), tiny(seed=1, steps=30, weighting="annealing")
    # a finished run, and a run cut short after its checkpoint at step 10 (killed: its lock is stale)
    for cfg, n in ((finished, 30), (partial, 12)):
        run = Run.create(cfg, out / "runs" / run_name(cfg))
        run.advance(n)
        run.close()
    stale = out / "runs" / run_name(partial) / ".lock"
    stale.write_text("999999999")
    stamp = (out / "runs" / run_name(finished) / "checkpoint.pt").stat().st_mtime_ns
    actions = {t.config.seed: t.action for t in plan([finished, partial], out)}
    assert actions == {0: "reuse", 1: "resume"}

    df, code = run_sweep([finished, partial], out, progress=False)
    assert code == 0 and set(df.status) == {"finished"}
    assert (out / "runs" / run_name(finished) / "checkpoint.pt").stat().st_mtime_ns == stamp  # untouched
    assert not stale.exists()
    # the resumed run follows the trajectory of an uninterrupted one
    straight = Trainer(partial)
    straight.step(30)
    assert df.set_index("seed").loc[1, "rel_l2"] == pytest.approx(straight.evaluate().rel_l2, rel=1e-5)

    # asked for more steps, both runs are extended to the same end as a 50-step run from scratch
    longer = [RunConfig.from_dict({**c.to_dict(), "steps": 50}) for c in (finished, partial)]
    assert {t.action for t in plan(longer, out)} == {"extend"}
    df, code = run_sweep(longer, out, progress=False)
    assert code == 0 and (df.steps_done == 50).all()
    straight = Trainer(longer[0])
    straight.step(50)
    assert df.set_index("seed").loc[0, "rel_l2"] == pytest.approx(straight.evaluate().rel_l2, rel=1e-5)

    # fewer steps than a run already has: refused before anything is written
    with pytest.raises(ConfigError, match="steps"):
        plan([finished], out)


def test_a_failed_run_is_a_row_of_the_table_and_exit_1(tmp_path, ray_session):
    out = tmp_path / "sweep"
    ok, bad = tiny(seed=0, steps=10), tiny(seed=1, steps=10)
    path = out / "runs" / run_name(bad)
    path.mkdir(parents=True)
    (path / "config.json").write_text(bad.to_json())
    (path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    df, code = run_sweep([ok, bad], out, progress=False)
    assert code == 1
    status = df.set_index("seed").status
    assert status[0] == "finished" and status[1].startswith("error:")
    assert not read_sweep(out)["complete"]


def test_a_killed_sweep_continues_where_it_stopped(tmp_path, ray_session):
    """SIGTERM (what `kill` sends) stops a sweep with exit 130 after each running run saved its state; the same
    command then finishes the runs from there."""
    out = tmp_path / "sweep"
    args = ["sweep", "--grid", *TINY, "steps=4000", "method=M1", "seed=0", "--out", str(out), "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "pinncli.main", *args, "--cpus", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    summary = out / "runs" / run_name(tiny(seed=0)) / "summary.json"
    try:
        deadline = time.time() + 300  # Ray's start-up is slow on a loaded 2-core machine
        while not (summary.exists() and json.loads(summary.read_text())["steps_done"] >= 20):
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "the sweep's run did not reach step 20 within 300 s"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "run the same command to continue" in err
    s = json.loads(summary.read_text())
    assert s["status"] == "paused" and 20 <= s["steps_done"] < 4000, s
    assert not (summary.parent / ".lock").exists()
    assert not read_sweep(out)["complete"]

    assert main(args) == 0  # the same command: the run continues from its checkpoint to the end
    s2 = json.loads(summary.read_text())
    assert s2["status"] == "finished" and s2["steps_done"] == 4000
    metrics = pd.read_parquet(summary.parent / "metrics.parquet")
    assert list(metrics.step) == list(range(4000))  # one row per step: nothing lost, nothing twice
    assert read_sweep(out)["complete"]
