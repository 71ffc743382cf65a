"""Process deaths during a compare, repeated at random moments: what a crash leaves behind.

    python benchmarks/process_deaths.py [--worker-kills 10] [--server-kills 10] [--seed 0] [--engine auto]

**Worker kills**: a run service (two workers, as on a 2-core machine) trains the default compare as the dashboard
starts it (M1-M4 on Helmholtz, the paper's network and protocol, engine auto: eager at once, compiled where that
pays; 100,000 steps each so that nothing finishes), while the owner's page is open (it touches the service every
0.5 s, as a page's redraws do: otherwise the service stops an absent owner's runs after 60 s, and on a busy machine
that stopped partners in the middle of the measurement); at a random moment 2-20 s after Start one worker gets
SIGKILL. Counted: the runs of the dead worker that are not ``stopped`` with a reason within 10 s (stuck), partners
training at the kill that neither advance within 60 s after their dead partners stopped nor leave ``running``
(stalled; one that leaves, finished or paused or failed, is listed with its status), a new compare that does not
train, and per dead run the steps lost (steps shown before the kill minus the checkpoint it stopped at) and whether
``pinn resume`` continues it.

**Server kills**: a process running a run service trains the same compare; at a random moment 2-20 s after
Start the process gets SIGKILL. Counted: worker processes still alive 10 s later (orphans), run directories whose
lock is still held (``pinn resume`` refused with "being trained by process"), and whether every run resumes.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("M1", "M2", "M3", "M4")
SERVER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from pinncore import RunConfig
    from pinnlab.live import RunService, Viewer
    root = Path(sys.argv[1])
    service = RunService(workers=2)
    who = Viewer("alice", "tab")
    runs = service.launch([RunConfig.from_method(m, steps=100_000) for m in ("M1", "M2", "M3", "M4")],
                          [root / m for m in ("M1", "M2", "M3", "M4")], ["M1", "M2", "M3", "M4"], who)
    print(json.dumps([p.pid for p in service._workers.procs.values()]), flush=True)
    while True:
        service.touch(who)
        time.sleep(0.2)
""")


def wait_until(pred, timeout):
    deadline = time.time() + timeout
    while not pred() and time.time() < deadline:
        time.sleep(0.05)
    return pred()


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def resumable(path: Path) -> tuple[bool, str]:
    """``pinn resume`` of the run for 20 more steps: (ok, the error line if not)."""
    saved = json.loads((path / "summary.json").read_text())["steps_done"]
    proc = subprocess.run([sys.executable, "-m", "pinncli.main", "resume", str(path), "--steps", str(saved + 20)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    return proc.returncode == 0, (proc.stderr.strip().splitlines() or [""])[-1]


def pages(service, viewers, stop: threading.Event) -> None:
    """The owners' pages are open: each redraw touches the service (a page redraws every second while it trains)."""
    while not stop.is_set():
        for who in viewers:
            service.touch(who)
        stop.wait(0.5)


def worker_kill(tmp: Path, rng: random.Random, compile: bool = True) -> dict:
    from pinncore import RunConfig
    from pinnlab.live import RunService, Viewer

    who, bob = Viewer("alice", "tab"), Viewer("bob", "tab-b")
    service = RunService(workers=2)
    closed = threading.Event()
    threading.Thread(target=pages, args=(service, [who, bob], closed), daemon=True).start()
    out = {"stuck": 0, "partners_stalled": 0, "new_start_failed": 0, "lost": [], "not_resumable": []}
    try:
        runs = service.launch([RunConfig.from_method(m, steps=100_000, compile=compile) for m in METHODS],
                              [tmp / m for m in METHODS], list(METHODS), who)
        wait_until(lambda: min(service.view(r.id).steps_done for r in runs) > 0, 120)
        time.sleep(rng.uniform(2, 20))
        index = rng.randrange(2)
        view = service.view
        out["at_kill"] = [(r.name, view(r.id).status, view(r.id).steps_done, r.worker, view(r.id).engine)
                          for r in runs]
        dead = [r for r in runs if r.worker == index]
        partners = [r for r in runs if r.worker is not None and r.worker != index and view(r.id).status == "running"]
        shown = {r.id: view(r.id).steps_done for r in dead}
        os.kill(service._workers.procs[index].pid, signal.SIGKILL)
        if not wait_until(lambda: all(view(r.id).status == "stopped" for r in dead), 10):
            out["stuck"] = sum(view(r.id).status != "stopped" for r in dead)
        before, t0 = {r.id: view(r.id).steps_done for r in partners}, time.time()

        def moved(r) -> bool:  # advanced, or left the group (finished, paused, failed): not waiting for the dead
            return view(r.id).steps_done > before[r.id] or view(r.id).status != "running"

        if wait_until(lambda: all(moved(r) for r in partners), 60):
            out["partners_moved_s"] = round(time.time() - t0, 1)
        stalled = [r for r in partners if not moved(r)]
        left = [r for r in partners if view(r.id).status != "running"]
        out["partners_stalled"] = len(stalled)
        if stalled or left:
            out["partners"] = [(r.name, view(r.id).status, before[r.id], view(r.id).steps_done, view(r.id).engine,
                                view(r.id).message) for r in partners]
        fresh = service.launch([RunConfig.from_method("M1", steps=100_000, seed=7, compile=compile)],
                               [tmp / "fresh"], ["fresh"], bob)
        if not wait_until(lambda: view(fresh[0].id).steps_done > 0, 60):
            out["new_start_failed"] = 1
        for r in dead:
            out["lost"].append(shown[r.id] - view(r.id).steps_done)
    finally:
        service.shutdown()
        closed.set()
    for r in dead:
        ok, why = resumable(r.path)
        if not ok:
            out["not_resumable"].append(why)
    return out


def server_kill(tmp: Path, rng: random.Random) -> dict:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    workers = json.loads(proc.stdout.readline())
    wait_until(lambda: all((tmp / m / "summary.json").is_file() for m in METHODS), 120)
    time.sleep(rng.uniform(2, 20))
    proc.kill()
    proc.wait(10)
    wait_until(lambda: not any(alive(p) for p in workers), 10)
    orphans = [p for p in workers if alive(p)]
    for p in orphans:  # leave the machine clean for the next round
        os.kill(p, signal.SIGKILL)
    out = {"orphans": len(orphans), "locked": 0, "not_resumable": []}
    for m in METHODS:
        ok, why = resumable(tmp / m)
        if not ok:
            out["not_resumable"].append(why)
            out["locked"] += "being trained by process" in why
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker-kills", type=int, default=10)
    p.add_argument("--server-kills", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--engine", choices=("auto", "eager"), default="auto",
                   help="the worker kills' compare: auto (the dashboard's default: compiled where it pays) or eager")
    a = p.parse_args()
    rng = random.Random(a.seed)
    results = {"worker": [], "server": []}
    kill_worker = lambda tmp, rng: worker_kill(tmp, rng, compile=a.engine == "auto")  # noqa: E731
    for kind, n, fn in (("worker", a.worker_kills, kill_worker), ("server", a.server_kills, server_kill)):
        for i in range(n):
            with tempfile.TemporaryDirectory(prefix="pinn-deaths-") as tmp:
                r = fn(Path(tmp), rng)
            results[kind].append(r)
            print(f"{kind} kill {i + 1}: {json.dumps(r)}", flush=True)
    w, s = results["worker"], results["server"]
    lost = [x for r in w for x in r["lost"]]
    moved = [r["partners_moved_s"] for r in w if "partners_moved_s" in r]
    print(f"{len(w)} worker kills: {sum(r['stuck'] for r in w)} runs stuck, "
          f"{sum(r['partners_stalled'] for r in w)} partners stalled (the slowest moved on "
          f"{max(moved) if moved else '-'} s after its dead partners stopped), {sum(r['new_start_failed'] for r in w)} new "
          f"Starts failed, {sum(len(r['not_resumable']) for r in w)} runs not resumable; steps lost per dead run: "
          f"max {max(lost) if lost else 0}, median {sorted(lost)[len(lost) // 2] if lost else 0}")
    print(f"{len(s)} server kills: {sum(r['orphans'] for r in s)} orphan workers, {sum(r['locked'] for r in s)} "
          f"locks left, {sum(len(r['not_resumable']) for r in s)} runs not resumable")
    return 0


if __name__ == "__main__":
    sys.exit(main())
