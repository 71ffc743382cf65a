"""Issue 17 on sweeps: a grid too large is refused at once (13), workers stop when their driver is gone (11),
and `pinn sweep --address` against a real `ray start --head` with its default token authentication (15)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from pinncore import ConfigError, RunConfig
from pinncore.locks import acquire_lock, release_lock
from pinncore.store import RunStore
from pinnlab.sweep import MAX_RUNS, expand, parse_grid, run_name
from pinnlab.sweep.execute import driver_alive, driver_identity, train_task
from procs import free_port

pytestmark = pytest.mark.xdist_group("ray")  # with -n 2: the Ray tests on one worker, one Ray at a time

TINY = dict(depth=2, width=8, batch=16, eval_points=10, eval_every=0, grad_every=0)


def test_a_grid_too_large_is_refused_before_it_is_expanded():
    grid = parse_grid(["seed=0..10000", "depth=1..32", "width=1..1000"])
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=rf"grid: 320,032,000 runs .*more than the {MAX_RUNS:,}"):
        expand(grid)
    assert time.perf_counter() - t0 < 1.0
    out = subprocess.run([sys.executable, "-m", "pinncli.main", "sweep", "--grid", "seed=0..10000", "depth=1..10000",
                          "--dry-run"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert len(expand(parse_grid(["seed=0..3", "depth=2,3"]))) == 8


def test_an_address_where_nothing_answers_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "sweep"
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "pinncli.main", "sweep", "--grid", "depth=2", "width=8", "steps=10",
                           "--out", str(out), "--address", f"127.0.0.1:{free_port()}", "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "nothing answers at 127.0.0.1:" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()
    assert time.time() - t0 < 60  # Ray itself retries for minutes


def test_a_worker_stops_when_its_driver_is_gone(tmp_path):
    """train_task checks between chunks that the driver process still lives (same host): once it is killed,
    the task saves the run and stops instead of training on for nobody."""
    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    me = driver_identity(driver.pid)
    assert driver_alive(me) and driver_alive(None) and driver_alive(driver_identity())
    assert driver_alive({**me, "host": "another-machine"})  # cannot be checked from here: Ray's business
    cfg = RunConfig(steps=10_000_000, checkpoint_every=100_000, **TINY)
    path = tmp_path / run_name(cfg)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(out=_call(train_task, cfg.to_dict(), str(path),
                                                                     driver=me, chunk=10)))
    worker.start()
    deadline = time.time() + 120
    while not (path / "metrics.parquet").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert not driver_alive(me)
    worker.join(60)
    assert not worker.is_alive(), "the task trained on after its driver died"
    assert isinstance(result["out"], Exception) and "driver" in str(result["out"])
    s = RunStore(path).summary_checked()
    assert s["status"] == "paused" and 0 < s["steps_done"] < 10_000_000  # saved where it stopped
    acquire_lock(path)  # and released
    release_lock(path)


def _call(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        return exc


@pytest.mark.timeout(900)
@pytest.mark.skipif(shutil.which("ray") is None and not (Path(sys.executable).parent / "ray").exists(),
                    reason="needs the ray command")
def test_sweep_on_a_real_ray_head_with_its_default_token_authentication(tmp_path):
    """`ray start --head` on 127.0.0.1 finds the token a local ray.init() left in ~/.ray and turns token
    authentication on; `pinn sweep --address 127.0.0.1:PORT` then has to authenticate (Ray enables the token
    by itself only for address=auto). HOME is a temporary directory: the token stays out of the user's."""
    ray_cli = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
    home = Path(tempfile.mkdtemp(prefix="rh", dir="/tmp"))  # short: Ray's socket paths live under it
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(HOME=str(home), RAY_USAGE_STATS_ENABLED="0")
    subprocess.run([ray_cli, "get-auth-token", "--generate"], env=env, check=True, capture_output=True, timeout=120)
    assert (home / ".ray" / "auth_token").is_file()
    port = free_port()
    head = subprocess.Popen([ray_cli, "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
                             "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
                             f"--temp-dir={home / 'ray'}"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        lines = []
        deadline = time.time() + 300
        for line in head.stdout:
            lines.append(line)
            if "Ray runtime started" in line or time.time() > deadline:
                break
        assert any("Token authentication is enabled" in x for x in lines), "".join(lines)
        assert any("Ray runtime started" in x for x in lines), "".join(lines)
        threading.Thread(target=head.stdout.read, daemon=True).start()  # keep the pipe drained
        out = tmp_path / "sweep"
        proc = subprocess.run([sys.executable, "-m", "pinncli.main", "sweep", "--grid", "depth=2", "width=8",
                               "batch=16", "eval_points=10", "steps=20", "method=M1,M2", "--out", str(out),
                               "--address", f"127.0.0.1:{port}", "--quiet"], env=env, capture_output=True,
                              text=True, timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        sweep = json.loads((out / "sweep.json").read_text())
        assert sweep["complete"] and sweep["address"] == f"127.0.0.1:{port}"
        assert len(list((out / "runs").iterdir())) == 2
    finally:
        os.killpg(head.pid, signal.SIGTERM)  # --block: the head stops its Ray processes when it is terminated
        try:
            head.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(home, ignore_errors=True)
