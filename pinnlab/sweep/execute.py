"""Running a sweep on Ray: the task that trains one run in a worker, the Ray context (embedded local Ray or an
existing cluster), and the driver loop that submits the tasks longest first, follows them with a progress bar,
rewrites the results table as each run ends and cancels them cleanly on Ctrl-C / SIGTERM. ``run.run_sweep``
calls ``execute``; the tasks' type (``plan.Task``) and the results table (``results``) live below this module.
"""
from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from pinncore import ConfigError, RunConfig
from pinncore.store import RunStore

from ..provenance import host_info
from .plan import Task
from .results import write_results, write_sweep


# -- is the driver still there? ------------------------------------------------------------------------------
def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (state first, start time at index 19), None where there is none."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def driver_identity(pid: int | None = None) -> dict:
    """This process (or ``pid``) as the workers of its sweep check it: host, PID namespace, PID and start time
    (so that a PID reused by another process does not pass for the driver)."""
    pid = os.getpid() if pid is None else pid
    stat = _proc_stat(pid)
    return {"host": socket.gethostname(), "ns": _pid_namespace(), "pid": pid, "start": stat[19] if stat else None}


def driver_alive(driver: dict | None) -> bool:
    """Whether the sweep's driver still runs. Only a driver on this host, in this PID namespace, can be checked
    (on a cluster, Ray ends the tasks of a job whose driver disconnected); None: nothing to check."""
    if not driver or driver.get("host") != socket.gethostname() or driver.get("ns") != _pid_namespace():
        return True
    pid = driver.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc: the PID exists, take it for the driver
    return stat[0] != "Z" and (driver.get("start") is None or stat[19] == driver["start"])


# -- the Ray task ---------------------------------------------------------------------------------------------
def train_task(config: dict, path: str, env: dict[str, str] | None = None, chunk: int = 100,
               driver: dict | None = None) -> dict:
    """Train one run of a sweep to its end (create, continue or extend it) and return its summary.

    Runs in a Ray worker: one torch thread (the workers share the cores). Cancelled through Ray (Ctrl-C on the
    sweep), it saves a consistent checkpoint before it stops, so the next sweep continues the same trajectory.
    ``driver`` (``driver_identity()`` of the sweep): checked between chunks; once that process is gone (killed
    with SIGKILL, say), the task saves the run and stops instead of training on for nobody."""
    import signal
    import threading

    import torch

    from pinncore.autopilot import Autopilot
    from pinncore.run import Run

    os.environ.update(env or {})
    torch.set_num_threads(1)
    # Ray cancels a running task by simulating SIGINT in it. Take it as a request to stop between two chunks,
    # like Ctrl-C on `pinn train` (an exception in the middle of a step would save a torn state). Installing a
    # handler also matters where SIGINT is ignored (workers of a driver started in the background inherit
    # that), since the simulated signal would then do nothing.
    stop: list[int] = []
    gone = False
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.append(1)) if main_thread else None
    try:
        cfg = RunConfig.from_dict(config)
        p = Path(path)
        if (p / "config.json").is_file():
            stored = RunStore(p).config()
            # extend, as ``pinn resume --steps``: config.json is rewritten only once the lock is held
            run = Run.open(p, steps=cfg.steps if stored.steps < cfg.steps else None, engine="eager")
        else:
            if p.exists():  # a create killed before its config.json: nothing in it to keep
                shutil.rmtree(p)
            run = Run.create(cfg, p, engine="eager")
        pilot = Autopilot(run)  # eager, then compiled where it pays
        try:
            while not run.trainer.done and not stop:
                if not driver_alive(driver):
                    gone = True
                    break
                pilot.advance(chunk)
            if not run.trainer.done:
                run.trainer.status = "paused"
                run.save()
        finally:
            run.close()
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    if stop and not run.trainer.done:
        raise KeyboardInterrupt  # cancelled: Ray reports the task as such
    if gone:
        raise RuntimeError(f"the sweep's driver (process {driver['pid']} on {driver['host']}) is gone: run saved "
                           f"at step {run.trainer.steps_done} and stopped; run the sweep again to continue")
    return {"dir": str(p), **run.summary(), "host": host_info()}


# -- running ---------------------------------------------------------------------------------------------------
def check_address(address: str | None) -> None:
    """ConfigError (one line) unless something answers at a HOST:PORT address within 5 s: ``ray.init`` retries
    a dead address for minutes, printing a warning every few seconds. ``auto``, ``ray://`` and bare hosts are
    left to Ray."""
    if not address or address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("address", f"expected HOST:PORT, auto or ray://HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise ConfigError("address", f"nothing answers at {address} ({exc.strerror or exc}): is the Ray head "
                                     "running there?") from None


def cluster_auth() -> None:
    """Before connecting to an existing cluster: Ray (2.52+) sends its authentication token by itself only for
    ``address=auto``, so a cluster that uses one (``ray start --head`` does, by default, once ``~/.ray/auth_token``
    exists) refused ``--address HOST:PORT``. Send the token whenever one is available (RAY_AUTH_TOKEN,
    RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token, Ray's own order) unless RAY_AUTH_MODE says otherwise; a cluster
    without authentication accepts it as well."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path:
        try:
            ok = bool(Path(path).read_text().strip())
        except OSError:
            ok = False
        if not ok:  # Ray aborts the process on an unreadable token file: say it in one line instead
            raise ConfigError("RAY_AUTH_TOKEN_PATH", f"'{path}' is not a readable, non-empty token file")
    if os.environ.get("RAY_AUTH_TOKEN") or path or (Path.home() / ".ray" / "auth_token").is_file():
        os.environ["RAY_AUTH_MODE"] = "token"
        try:  # Ray reads its configuration once; make it read the mode again, as ray.init does for auto
            from ray._raylet import Config

            Config.initialize("")
        except (ImportError, AttributeError):
            pass


class RayContext:
    """ray.init on entry unless Ray is already up in this process (then it is left as it is on exit)."""

    def __init__(self, address: str | None = None, cpus: int | None = None):
        self.address, self.cpus, self.owner = address, cpus, False

    def __enter__(self):
        import logging

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network calls, no prompt
        import ray

        if not ray.is_initialized():
            kwargs: dict[str, Any] = dict(log_to_driver=False, logging_level=logging.ERROR, include_dashboard=False)
            if self.address:
                cluster_auth()
                try:
                    ray.init(address=self.address, **kwargs)
                except ConnectionError as exc:
                    raise ConfigError("address", f"cannot connect to the Ray cluster at '{self.address}' ({exc}); "
                                                 "is its head running, and if it uses token authentication, is its "
                                                 "token in RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token?"
                                      ) from None
            else:
                ray.init(num_cpus=self.cpus or os.cpu_count() or 1, object_store_memory=200 * 1024**2, **kwargs)
            self.owner = True
        return ray

    def __exit__(self, *exc):
        if self.owner:
            import ray

            ray.shutdown()


def execute(todo: list[Task], out: Path, meta: dict, address, cpus, progress: bool, log) -> int:
    env = {k: v for k, v in os.environ.items() if k in ("PINNCORE_CACHE",)}
    with RayContext(address, cpus) as ray:
        meta["parallel"] = int(ray.cluster_resources().get("CPU", 0))  # runs at a time (one CPU each)
        return _execute_on_ray(ray, todo, out, meta, progress, log, env)


def _interrupt(*_):
    raise KeyboardInterrupt


def _execute_on_ray(ray, todo: list[Task], out: Path, meta: dict, progress: bool, log, env) -> int:
    """Submit one task per run, follow them, write the table as each ends. SIGTERM (installed after ray.init,
    which sets its own) and Ctrl-C cancel the tasks, which save their runs."""
    import signal
    import threading

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        return _follow(ray, todo, out, meta, progress, log, env)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def cost(task: Task) -> float:
    """A rough guess of a run's remaining time (measured ratios on one core: the cavity's third derivatives
    ~8x Helmholtz, Klein-Gordon's depth 5 ~2x, the modified MLP ~2x), to start the longest runs first so that
    no core idles at the end of a sweep behind one long run."""
    c = task.config
    per_step = ({"cavity": 8.0, "klein-gordon": 2.0}.get(c.problem, 1.0) * (2.0 if "modified" in c.model else 1.0)
                * c.depth / 3 * c.width / 50 * c.batch / 128)
    return per_step * max(c.steps - task.steps_done, 0)


def _follow(ray, todo: list[Task], out: Path, meta: dict, progress: bool, log, env) -> int:
    from tqdm import tqdm

    remote = ray.remote(num_cpus=1, max_retries=1)(train_task)
    driver = driver_identity()
    refs = {remote.remote(t.config.to_dict(), str(t.path.resolve()), env, 100, driver): t
            for t in sorted(todo, key=cost, reverse=True)}  # longest first; Ray starts them in this order
    ended: set[Path] = set()
    bar = tqdm(total=sum(t.config.steps for t in todo), initial=sum(t.steps_done for t in todo), unit="step",
               desc="sweep", mininterval=1.0, dynamic_ncols=True, file=sys.stderr, disable=not progress)
    say = bar.write if progress else log

    def steps_now() -> int:  # from the summaries the runs write at every checkpoint
        return sum(t.config.steps if t.path in ended else int(RunStore(t.path).summary().get("steps_done") or 0)
                   for t in todo)

    pending, failed = list(refs), 0
    initial = sum(t.steps_done for t in todo)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            for ref in ready:
                t = refs[ref]
                ended.add(t.path)
                rel = t.path.relative_to(out).as_posix()
                try:
                    res = ray.get(ref)
                    meta["hosts"][rel] = res.pop("host", None)
                    err = res.get("rel_l2")
                    say(f"{rel}: {res['status']}, rel. L2 {err:.3e}, {res['wall_s']:.0f} s"
                        if isinstance(err, float) else f"{rel}: {res['status']}")
                except Exception as exc:  # noqa: BLE001 -- a failed run is a row of the table, not the end
                    failed += 1
                    text = str(exc).strip()
                    reason = text.splitlines()[-1] if text else type(exc).__name__
                    meta["errors"][rel] = f"error: {reason}"[:300]
                    say(f"{rel}: failed ({reason})")
                write_sweep(out, meta)
                write_results(out, meta)
            bar.n = steps_now()
            starting = bar.n == initial  # the bar moves at each run's checkpoint
            bar.set_postfix_str(f"{len(refs) - len(pending)}/{len(refs)} runs"
                                + (f", {failed} failed" if failed else "")
                                + (", starting (a long run compiles its step first)" if starting else ""),
                                refresh=False)
            bar.refresh()
    except KeyboardInterrupt:
        bar.close()
        log(f"sweep: interrupted; saving the {len(pending)} unfinished runs (run the same command to continue)")
        for ref in pending:
            ray.cancel(ref)  # a KeyboardInterrupt in the task: it saves its checkpoint and stops
        ray.wait(pending, num_returns=len(pending), timeout=60)
        return 130
    bar.close()
    return 1 if failed else 0
