"""The run service: one per server process, it owns every live run (trained in a small pool of worker
processes, ``worker.py``) and every run opened from disk, keyed by run directory. Browser sessions hold
subscriptions (run ids), never the runs themselves, so a reload or a second browser sees the same live run.

Rules (documented in the README, "Live runs and sharing"):
- **Ownership.** A run belongs to the browser that started (or resumed) it: its *identity*, a value derived from
  a cookie of that browser, which a link cannot carry. Only the owner may pause, resume, step or stop it; anyone
  with the link watches it live. When no session of the owner has been seen for ``grace`` seconds (tab closed,
  connection lost), its live runs are stopped and saved, and whoever opens one next may resume it and owns it.
- **Lockstep.** The runs started together (a compare group) advance together: a run may not get more than
  ``CHUNK`` steps ahead of the slowest running member of its group. A run that ends leaves the group.
- **Admission.** At most ``max_training`` runs train at once on the server and ``per_session`` per owner; a
  group that does not fit waits in a queue, first come first served, and starts when slots free.

The interface to the workers is a handful of messages (``worker.py``), narrow enough to place the same runs on
Ray actors later; this module is pure Python and imports no UI library.
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import threading
import time
from pathlib import Path
from typing import Callable

from pinncore import RunConfig

from . import worker as _worker
from .compiler import Compilers
from .pool import Pool
from .supervise import Supervisor
from .runs import LiveRun, Refused, RunView, Viewer  # noqa: F401 (re-exported)

GRACE = 60.0  # seconds an owner may be gone (a reload, a dropped connection) before its runs stop


def _setup(config: RunConfig) -> str:
    from pinncore.engine import setup_key

    return setup_key(config)


def _cpus() -> int:
    """The cores this process may run on (a container's share, not the host's count where the OS says)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class RunService(Supervisor):
    def __init__(self, workers: int | None = None, max_training: int | None = None, per_session: int | None = None,
                 warm: list[RunConfig] = (), grace: float = GRACE,
                 is_active: Callable[[str], bool | None] | None = None, nice: int | None = None):
        """``workers``: training processes (default: one per core); ``max_training``: runs training at once on
        the server (default 4 per core); ``per_session``: runs one owner may train at once (default 4, one
        compare); ``warm``: configs whose steps every worker compiles at start and keeps (and the disk cache holds);
        ``is_active(session)``: True/False if the server knows whether a browser session is open, None if not;
        ``nice``: the workers' CPU priority, below the server's (0: the same)."""
        self.n_workers = workers or int(os.environ.get("PINN_WORKERS", 0) or _cpus())
        nice = _worker.NICE if nice is None else nice
        nice = int(os.environ.get("PINN_WORKER_NICE", "") or nice)
        self.max_training = max_training or int(os.environ.get("PINN_MAX_RUNS", 0) or 4 * _cpus())
        self.per_session = per_session or int(os.environ.get("PINN_MAX_RUNS_PER_SESSION", 0) or 4)
        self.grace, self.is_active = grace, is_active
        self.runs: dict[str, LiveRun] = {}
        self.queue: list[list[LiveRun]] = []  # groups waiting for admission, first come first served
        self.seen: dict[str, tuple[str, float]] = {}  # session -> (identity, last seen)
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        ctx = mp.get_context("spawn")  # never fork a process that runs threads (Streamlit, torch)
        self._board = ctx.Array("q", _worker.BOARD * _worker.SLOTS, lock=False)  # lockstep, shared
        self._free = list(range(_worker.SLOTS))
        self._workers = Pool(ctx, _worker.main, lambda index: (self._board, nice), "pinn-worker")
        for i in range(self.n_workers):
            self._workers.start(i)
        self._compilers = Compilers(ctx, nice)
        self._held: list[set[str]] = [set() for _ in range(self.n_workers)]  # setups each worker keeps compiled
        self._warm_up([c.to_dict() for c in warm])
        self._closed = False
        threading.Thread(target=self._pump, name="run-service-pump", daemon=True).start()
        threading.Thread(target=self._reaper, name="run-service-reaper", daemon=True).start()

    def touch(self, viewer: Viewer) -> None:
        """The viewer's page is there (called on every redraw)."""
        with self._lock:
            self.seen[viewer.session] = (viewer.identity, time.monotonic())

    def _owner_present(self, identity: str | None) -> bool:
        """A session of this browser is open, or was seen less than ``grace`` seconds ago (a reload)."""
        now = time.monotonic()
        for session, (ident, last) in list(self.seen.items()):
            if ident == identity and ((self.is_active and self.is_active(session)) or now - last < self.grace):
                return True
        return False

    # -- runs -----------------------------------------------------------------------------------------------
    def launch(self, configs: list[RunConfig], paths: list[Path], names: list[str], viewer: Viewer,
               start: bool = True) -> list[LiveRun]:
        """A group of new runs, owned by the viewer: started now if the limits allow, else queued."""
        group = f"g{next(self._ids)}"
        runs = [LiveRun(Path(p).resolve(), c, n, viewer.identity, group) for c, p, n in zip(configs, paths, names)]
        with self._lock:
            for r in runs:
                r.want = "running" if start else "paused"
                self.runs[r.id] = r
            self.seen[viewer.session] = (viewer.identity, time.monotonic())  # here now: it just pressed Start
            self.queue.append(runs)
            self._admit()
        return runs

    def get(self, run_id: str) -> LiveRun | None:
        with self._lock:
            return self.runs.get(run_id)

    def open(self, path: Path) -> LiveRun:
        """The run of this directory: the live one if there is one, else it is read from disk (without writing
        a byte; ConfigError if it cannot be read)."""
        path = Path(path).resolve()
        with self._lock:
            run = self.runs.get(str(path))
            if run is not None and (run.live or run.status == "queued"):
                return run
        from pinncore.run import Run

        disk = Run.view(path)  # reads only
        t = disk.trainer
        run = LiveRun(path, t.config, t.config.label(), None, None)
        run.exists = True
        upto = Run.visible_upto(t)
        run.steps = list(disk.metrics)
        run.evals, run.grads, run.hess, run.spectra = (disk.store.snapshots(k, upto)
                                                       for k in ("eval", "grad", "hess", "ntk"))
        run.kernels, run.aligns, run.causal = (list(disk.series[k]) for k in ("kernel", "alignment", "causal"))
        run.steps_done, run.wall = t.steps_done, t.wall
        run.status = t.status if t.status != "running" else "stopped"
        with self._lock:
            self.runs[run.id] = run
        return run

    def command(self, run_id: str, action: str, viewer: Viewer, n: int = 0) -> None:
        """start | pause | resume | step | stop; Refused (one line) when the viewer may not or it cannot act."""
        with self._lock:
            self.seen[viewer.session] = (viewer.identity, time.monotonic())  # here now: it just gave a command
            run = self.runs.get(run_id)
            if run is None:
                raise Refused("no such run")
            if run.live or run.status == "queued":
                if run.owner != viewer.identity:
                    if self._owner_present(run.owner):
                        raise Refused(f"{run.name}: watching a run owned by another session; it cannot be "
                                      "controlled from here (Start your own copy)")
                    run.owner = viewer.identity  # its owner is gone: taken over
                self._live_command(run, action, n)
            else:
                self._disk_command(run, action, viewer, n)

    def _live_command(self, run: LiveRun, action: str, n: int) -> None:
        if run.status == "queued":
            if action == "stop":
                self.queue = [[r for r in g if r is not run] for g in self.queue]
                self.queue = [g for g in self.queue if g]
                run.status = "stopped"
                return
            run.want = "running" if action in ("start", "resume") else "paused"
            if action == "step":  # carried out when the run reaches a worker (+10 on a queued run was lost)
                run.pending_steps += int(n)
            return
        if action in ("start", "resume"):
            run.want = run.status = "running"
            self._send(run, "start")
            self._lockstep(run.group)
        elif action == "pause":
            run.want = "paused"
            self._lockstep(run.group)
            self._send(run, "pause")
        elif action == "step":
            if run.status == "running":
                raise Refused(f"{run.name}: training; pause it first to step it")
            self._send(run, "step", int(n))
        elif action == "stop":
            self._send(run, "stop")

    def _disk_command(self, run: LiveRun, action: str, viewer: Viewer, n: int) -> None:
        if run.status == "finished" or run.status.startswith(("diverged", "stalled")):
            raise Refused(f"{run.name}: {run.status}; nothing left to train (Start a new run)")
        if run.status.startswith("error"):
            raise Refused(f"{run.name}: {run.status}")
        if action == "stop":
            raise Refused(f"{run.name}: not training")
        run.owner, run.group, run.previous = viewer.identity, f"g{next(self._ids)}", run.status
        run.want = "running" if action in ("start", "resume") else "paused"
        run.pending_steps = int(n) if action == "step" else 0
        run.status = "queued"
        self.queue.append([run])
        self._admit()

    def view(self, run_id: str, viewer: Viewer | None = None) -> RunView | None:
        with self._lock:
            r = self.runs.get(run_id)
            if r is None:
                return None
            position = next((i + 1 for i, g in enumerate(self.queue) if r in g), None)
            return RunView(r.name, r.label, r.config, r.status, r.steps_done, r.steps_per_s(), list(r.steps),
                           list(r.evals), list(r.grads), list(r.hess), r.reference(), r.path, r.engine,
                           r.engine_reason, r.engine_detail, viewer is None or r.owner in (None, viewer.identity),
                           position, r.message, list(r.kernels), list(r.spectra), list(r.aligns), list(r.causal))

    # -- admission, dispatch, lockstep ------------------------------------------------------------------------
    def _training(self, owner: str | None = None) -> int:
        return sum(r.live for r in self.runs.values() if owner is None or r.owner == owner)

    def _admit(self) -> None:
        """Start the waiting groups that fit, in order; a group larger than a limit starts alone. The server's
        limit keeps the order (nobody overtakes); an owner at its own limit lets the next owners pass."""
        for group in list(self.queue):
            total, own = self._training(), self._training(group[0].owner)
            if total and total + len(group) > self.max_training:
                return
            if own and own + len(group) > self.per_session:
                continue
            self.queue.remove(group)
            for r in group:
                self._dispatch(r)
            self._lockstep(group[0].group)

    def _dispatch(self, run: LiveRun) -> None:
        from ..sweep.execute import cost
        from ..sweep.plan import Task

        load = [0.0] * self.n_workers
        for r in self.runs.values():
            if r.live and r.worker is not None:
                load[r.worker] += cost(Task(r.config, r.path, "new", r.steps_done))
        # the least loaded worker; one that keeps this setup's compiled step counts as less loaded by half a run
        mine = cost(Task(run.config, run.path, "new", run.steps_done))
        key = _setup(run.config) if run.config.compile else None
        run.worker = min(range(self.n_workers), key=lambda i: load[i] - (0.5 * mine if key in self._held[i] else 0))
        run.slot = self._free.pop(0)
        b, k = self._board, _worker.BOARD * run.slot
        b[k], b[k + 1], b[k + 2] = int(run.group[1:]), run.steps_done, 0
        if run.exists:
            self._send(run, "open", str(run.path), run.slot)
        else:
            self._send(run, "create", run.config.to_dict(), str(run.path), run.slot)
            run.exists = True
        run.status, run.message = "starting", ""
        if run.want == "running":
            self._send(run, "start")
        elif run.pending_steps:
            self._send(run, "step", run.pending_steps)
            run.pending_steps = 0

    def _lockstep(self, group: str | None) -> None:
        """Mark on the shared board which members of the group are meant to run: the workers keep each running
        member within CHUNK steps of the slowest of them, by themselves."""
        for r in self.runs.values():
            if r.group == group and r.live and r.slot is not None:
                self._board[_worker.BOARD * r.slot + 2] = int(r.want == "running")

    def _release(self, run: LiveRun) -> None:
        """The run left its worker: its slot on the board is free again."""
        if run.slot is not None:
            k = _worker.BOARD * run.slot
            self._board[k], self._board[k + 2] = 0, 0
            self._free.append(run.slot)
            run.slot = None
        run.worker = None

    def _send(self, run: LiveRun, command: str, *args) -> None:
        if run.worker is not None:
            self._workers.send(run.worker, (command, run.id, *args))

    # -- threads --------------------------------------------------------------------------------------------
    def _reaper(self) -> None:
        while not self._closed:
            time.sleep(2.0)
            with self._lock:
                owners = {r.owner for r in self.runs.values() if r.live or r.status == "queued"}
                gone = {o for o in owners if not self._owner_present(o)}
                for r in list(self.runs.values()):
                    if r.owner in gone and (r.live or r.status == "queued"):
                        self._live_command(r, "stop", 0)
                now = time.monotonic()
                self.seen = {s: v for s, v in self.seen.items() if now - v[1] < 10 * self.grace}

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop and save every live run, then end the workers."""
        if self._closed:
            return
        with self._lock:
            for r in self.runs.values():
                if r.live:
                    self._send(r, "stop")
            self.queue = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(r.live for r in self.runs.values()):
            time.sleep(0.05)
        self._closed = True
        self._compilers.shutdown()
        procs = dict(self._workers.procs)
        for i in procs:
            self._workers.send(i, ("shutdown", None))
        for p in procs.values():
            p.join(max(0.1, deadline - time.monotonic()))
            if p.is_alive():
                p.terminate()
