"""Forced races for a run's training lock (issue 17, item 9): two processes call ``acquire_lock`` on the same
run directory at the same moment (released by one barrier), each race on a fresh directory, with no lock file
or with the stale lock a SIGKILL leaves (a dead PID in ``.lock``). Exactly one of them must win every race.

    python tests/lock_race.py [RACES]     # default 300 per mode; prints the double acquisitions
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import subprocess
import sys
import tempfile
import types
from pathlib import Path

STALE_PID = "999999999"  # above pid_max: never a live process


@contextlib.contextmanager
def held_elsewhere(run_dir):
    """Another process holds the run's training lock for the duration; yields that process."""
    code = ("import sys; from pinncore.locks import acquire_lock; acquire_lock(sys.argv[1]); print('held', "
            "flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(30)


def _racer(dirs: list[str], barrier, results, index: int) -> None:
    from pinncore import ConfigError
    from pinncore.locks import acquire_lock, release_lock

    barrier.wait()  # both imported
    for i, d in enumerate(dirs):
        barrier.wait()
        try:
            acquire_lock(d)
            got = 1
        except ConfigError:
            got = 0
        results[2 * i + index] = got
        barrier.wait()  # both have tried while the winner still holds it
        if got:
            release_lock(d)


def race(races: int = 300, stale: bool = False, workdir: str | Path | None = None) -> dict[str, int]:
    """Run ``races`` races; {'races', 'double' (both acquired), 'none' (neither did), 'single'}."""
    return races_by_mode(races, (stale,), workdir)[stale]


def races_by_mode(races: int = 300, modes=(False, True), workdir: str | Path | None = None) -> dict[bool, dict]:
    """``races`` races for each mode (stale lock or not), all by the same two processes (starting them, which
    imports torch, is what takes time); {stale: counts as ``race`` returns them}."""
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        dirs = []
        for stale in modes:
            for i in range(races):
                d = Path(tmp) / f"{'stale' if stale else 'none'}{i}"
                d.mkdir()
                if stale:
                    (d / ".lock").write_text(STALE_PID)
                dirs.append(str(d))
        barrier = ctx.Barrier(2)
        results = ctx.Array("i", 2 * len(dirs))
        procs = [ctx.Process(target=_racer, args=(dirs, barrier, results, k)) for k in range(2)]
        main = sys.modules.get("__main__")  # a spawned child re-runs __main__: after an AppTest that can be
        sys.modules["__main__"] = types.ModuleType("__main__")  # the dashboard's page script, so: a plain one
        try:
            for p in procs:
                p.start()
        finally:
            sys.modules["__main__"] = main
        for p in procs:
            p.join(600)
            if p.is_alive():
                p.kill()
                raise RuntimeError("a racer hung")
            if p.exitcode != 0:
                raise RuntimeError(f"a racer failed (exit {p.exitcode})")
        won = [results[2 * i] + results[2 * i + 1] for i in range(len(dirs))]
    out = {}
    for k, stale in enumerate(modes):
        w = won[k * races:(k + 1) * races]
        out[stale] = {"races": races, "double": w.count(2), "none": w.count(0), "single": w.count(1)}
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import lock_race  # the racers are spawned by module name: run as a script, this file is __main__, which they
    # cannot import (races_by_mode hands them a plain __main__)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    for stale, r in lock_race.races_by_mode(n).items():
        print(f"{'stale lock' if stale else 'no lock file':13s} {r['races']} races: {r['double']} double "
              f"acquisitions, {r['none']} with no winner, {r['single']} with exactly one")
