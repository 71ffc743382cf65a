"""Process deaths in the run service (issue 'hardening II'): a worker killed with SIGKILL mid-compare, and the
server's process killed with SIGKILL. Real processes, real signals; every wait is bounded."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pinncore import RunConfig
from pinnlab.live import RunService, Viewer

SMALL = dict(depth=2, width=8, batch=16, eval_points=12, eval_every=50, grad_every=50, steps=10**6,
             checkpoint_every=100)
ALICE = Viewer("alice", "tab-a")
ROOT = Path(__file__).resolve().parent.parent


def wait_until(pred, timeout=60.0):
    deadline = time.time() + timeout
    while not pred() and time.time() < deadline:
        time.sleep(0.05)
    return pred()


def resume(path: Path, steps: int) -> dict:
    proc = subprocess.run([sys.executable, "-m", "pinncli.main", "resume", str(path), "--steps", str(steps)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-800:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_killed_worker_s_runs_stop_at_their_checkpoint_and_the_rest_goes_on(tmp_path):
    service = RunService(workers=2, nice=0)
    try:
        configs = [RunConfig.from_method(m, **SMALL) for m in ("M1", "M2", "M3", "M4")]
        runs = service.launch(configs, [tmp_path / m for m in ("M1", "M2", "M3", "M4")],
                              ["M1", "M2", "M3", "M4"], ALICE)
        service.touch(ALICE)
        assert wait_until(lambda: min(service.view(r.id).steps_done for r in runs) >= 150, 180)
        victim = service._workers.procs[0]
        dead = [r for r in runs if r.worker == 0]
        partners = [r for r in runs if r.worker == 1]
        assert dead and partners
        os.kill(victim.pid, signal.SIGKILL)
        t0 = time.time()
        assert wait_until(lambda: all(service.view(r.id).status == "stopped" for r in dead), 10), \
            [service.view(r.id).status for r in dead]
        noticed = time.time() - t0
        for r in dead:
            view = service.view(r.id)
            assert "worker process was killed by signal 9 (SIGKILL)" in view.message
            assert "Resume continues from there" in view.message
            saved = json.loads((r.path / "summary.json").read_text())["steps_done"]
            assert view.steps_done == saved and len(view.steps) == saved  # the card shows what the disk holds
        # the partners leave the dead runs behind: lockstep no longer waits for them
        before = {r.id: service.view(r.id).steps_done for r in partners}
        assert wait_until(lambda: all(service.view(r.id).steps_done > before[r.id] + 100 for r in partners), 60)
        # a new Start trains, on the workers there are now (a new one replaced the dead one)
        assert wait_until(lambda: service._workers.alive(0), 10)
        fresh = service.launch([RunConfig(**SMALL), RunConfig(seed=1, **SMALL)],
                               [tmp_path / "new0", tmp_path / "new1"], ["n0", "n1"], Viewer("bob", "tab-b"))
        assert wait_until(lambda: all(service.view(r.id).steps_done >= 40 for r in fresh), 120)
        for r in runs + fresh:
            service.command(r.id, "stop", ALICE if r in runs else Viewer("bob", "tab-b")) \
                if service.view(r.id).status != "stopped" else None
        assert wait_until(lambda: all(not service.get(r.id).live for r in runs + fresh), 30)
    finally:
        service.shutdown()
    assert noticed < 10
    for r in dead:  # the checkpoint it stopped at, continued by pinn resume
        saved = json.loads((r.path / "summary.json").read_text())["steps_done"]
        assert resume(r.path, saved + 30)["steps_done"] == saved + 30


SERVER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from pinncore import RunConfig
    from pinnlab.live import RunService, Viewer
    root = Path(sys.argv[1])
    small = dict(depth=2, width=8, batch=16, eval_points=12, eval_every=50, grad_every=50, steps=10**6,
                 checkpoint_every=100)
    service = RunService(workers=2, nice=0)
    who = Viewer("alice", "tab")
    runs = service.launch([RunConfig.from_method(m, **small) for m in ("M1", "M2", "M3", "M4")],
                          [root / m for m in ("M1", "M2", "M3", "M4")], ["M1", "M2", "M3", "M4"], who)
    while min(service.view(r.id).steps_done for r in runs) < 120:
        service.touch(who)
        time.sleep(0.1)
    print(json.dumps([p.pid for p in service._workers.procs.values()]), flush=True)
    while True:
        service.touch(who)
        time.sleep(0.1)
""")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_killed_server_leaves_no_worker_alive_and_every_run_resumable(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    try:
        line = proc.stdout.readline()
        assert line, "the server did not start its runs"
        workers = json.loads(line)
        assert all(alive(pid) for pid in workers)
        proc.kill()
        proc.wait(10)
        t0 = time.time()
        assert wait_until(lambda: not any(alive(pid) for pid in workers), 10), "a worker outlived its server"
        gone_after = time.time() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert gone_after < 10
    for m in ("M1", "M2", "M3", "M4"):  # saved on the way out: unlocked, resumable, nothing lost past it
        summary = json.loads((tmp_path / m / "summary.json").read_text())
        assert summary["steps_done"] >= 100
        assert resume(tmp_path / m, summary["steps_done"] + 20)["steps_done"] == summary["steps_done"] + 20


PRIORITY_FIRST = textwrap.dedent("""
    import os, sys
    from pinnlab.live import {module} as entry
    assert "torch" not in sys.modules, "importing the process's entry module imported torch"

    def nice(n):  # the process lowers its priority: torch must not be imported yet
        sys.exit(3 if "torch" in sys.modules else 0)

    os.nice = nice
    entry.main(0, None, None, nice=10)
    sys.exit(4)  # never lowered its priority
""")


@pytest.mark.parametrize("module", ["worker", "compiler"])
def test_a_spawned_process_lowers_its_priority_before_it_imports_torch(module):
    """A worker started in place of a dead one imports torch (seconds of a core) while the dead worker's lockstep
    partners train: at the server's priority it took their core. A spawned process imports only its entry module
    (``pinnlab.live`` imports nothing heavy) and lowers its priority before it imports torch."""
    proc = subprocess.run([sys.executable, "-c", PRIORITY_FIRST.format(module=module)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-800:]
