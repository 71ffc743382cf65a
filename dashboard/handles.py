"""A thread-safe handle on one training run, kept in ``st.session_state`` and driven by a worker thread.

The worker owns the ``pinncore.run.Run`` (trainer + run store) and never calls ``st.*``. It trains in small
chunks and appends the records to lists under a lock; the page reads consistent copies with ``view()``.
Commands (start, pause, resume, step, stop) only flip state and wake the worker, so they return at once.
"""
from __future__ import annotations

import atexit
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from pinncore import ConfigError, EvalSnapshot, GradSnapshot, RunConfig, StepRecord, StiffnessSnapshot
from pinncore.run import Run
from pinncore.store import acquire_lock

CHUNK = 10  # steps per worker iteration: small enough that pause and stop act within a few milliseconds
ALIVE_EVERY = 5.0   # seconds between checks that the page owning a run still exists
ALIVE_GRACE = 60.0  # how long the page may be gone (a dropped connection reconnects) before its runs stop


_LIVE: "weakref.WeakSet[RunHandle]" = weakref.WeakSet()


@atexit.register
def stop_all(timeout: float = 10.0) -> None:
    """Stop and save every run of this process (server shutdown, end of a test session): no worker thread is
    left inside torch when the interpreter goes down."""
    handles = list(_LIVE)
    for h in handles:
        h.stop()
    for h in handles:
        h.join(timeout)


@dataclass(frozen=True)
class RunView:
    """A consistent copy of a run's state and records for one redraw."""

    name: str
    label: str
    config: RunConfig
    status: str              # running, paused, finished, stopped, diverged at step k, error: ...
    steps_done: int
    steps_per_s: float | None
    steps: list[StepRecord] = field(repr=False)
    evals: list[EvalSnapshot] = field(repr=False)
    grads: list[GradSnapshot] = field(repr=False)
    hess: list[StiffnessSnapshot] = field(repr=False)
    reference: object = field(repr=False)  # the reference field on the evaluation grid
    path: Path | None = None


class RunHandle:
    def __init__(self, run: Run, name: str, evals=(), grads=(), hess=(), alive=None):
        """``alive``: an optional callable; when it returns False (the browser session that owns the run is
        gone) the worker stops the run and saves it, instead of training on for nobody."""
        self.run = run
        self.alive = alive
        self.name = name
        self.label = run.trainer.config.label()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._steps: list[StepRecord] = list(run.metrics)
        self._evals: list[EvalSnapshot] = list(evals)
        self._grads: list[GradSnapshot] = list(grads)
        self._hess: list[StiffnessSnapshot] = list(hess)
        status = run.trainer.status
        self._state = status if run.trainer.done else ("paused" if run.locked else "read-only")
        self._pending = 0
        self._busy = False  # the worker is inside run.advance
        self._rate: tuple[float, int] | None = None  # (time, steps) at the last resume, for live steps/s
        self._thread: threading.Thread | None = None
        self._gone_since: float | None = None  # when alive() first said the page was gone
        _LIVE.add(self)
        if self._state == "paused":
            self._ensure_worker()  # idles in a timed wait: notices commands, and a page that is gone

    # -- construction ---------------------------------------------------------------------------------------
    @classmethod
    def create(cls, config: RunConfig, out: Path, name: str) -> "RunHandle":
        return cls(Run.create(config, out), name)

    @classmethod
    def open(cls, path: Path) -> "RunHandle":
        """Reopen a run from disk: its records become scrubbable, and an unfinished run can train on, unless
        another process or session is training it: then it opens read-only."""
        run = Run.open(path, lock=False)
        if not run.trainer.done:
            try:
                acquire_lock(run.path)
                run.locked = True
            except ConfigError:
                pass  # in use elsewhere: read-only
        upto = Run.visible_upto(run.trainer)
        snaps = {kind: run.store.snapshots(kind, upto) for kind in ("eval", "grad", "hess")}
        return cls(run, Path(path).name, snaps["eval"], snaps["grad"], snaps["hess"])

    # -- commands (called from the page) ----------------------------------------------------------------------
    def _reclaim(self) -> None:  # lock held: a stopped (or read-only) run may train on if nobody else does
        if self._state not in ("stopped", "read-only") or self.run.trainer.done:
            return
        acquire_lock(self.run.path)  # ConfigError if another session or process trains it now
        if self._state == "read-only":  # its owner may have trained on since we read it: reload from disk
            run = Run.open(self.run.path, lock=False)
            run.locked = True
            upto = Run.visible_upto(run.trainer)
            self.run, self._steps = run, list(run.metrics)
            self._evals, self._grads, self._hess = (run.store.snapshots(k, upto) for k in ("eval", "grad", "hess"))
        self.run.locked = True
        self._state = "paused"

    def start(self) -> None:
        """Run continuously (also: resume after a pause or a stop). ConfigError if it is trained elsewhere."""
        with self._lock:
            self._reclaim()
            if self._state == "paused":
                self._state = "running"
                self._rate = (time.perf_counter(), self.run.trainer.steps_done)
                self._ensure_worker()
                self._wake.notify_all()

    resume = start

    def pause(self, timeout: float = 5.0) -> None:
        """Stop after the chunk in flight; returns once the step counter is frozen (or after ``timeout``)."""
        with self._lock:
            if self._state == "running":
                self._state = "paused"
                self._pending = 0
            self._wake.wait_for(lambda: not self._busy, timeout)

    def step(self, n: int) -> None:
        """Advance n steps from a paused (or stopped) run, then stay paused."""
        with self._lock:
            self._reclaim()
            if self._state == "paused":
                self._pending += int(n)
                self._ensure_worker()
                self._wake.notify_all()

    def stop(self) -> None:
        """End the run here; it is saved and can be reopened (and resumed) from disk later."""
        with self._lock:
            if self._state in ("running", "paused"):
                self._state = "stopping"
                self._wake.notify_all()
                worker = self._thread
            else:
                return
        if worker is None or not worker.is_alive():
            self.run.trainer.status = "stopped"
            self._finish("stopped")

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # -- reading --------------------------------------------------------------------------------------------
    @property
    def status(self) -> str:
        return self._state

    @property
    def active(self) -> bool:
        return self._state in ("running", "stopping") or self._pending > 0 or self._busy

    def view(self) -> RunView:
        t = self.run.trainer
        with self._lock:
            steps, evals, grads, hess = list(self._steps), list(self._evals), list(self._grads), list(self._hess)
            state, rate = self._state, self._rate
        done = len(steps)
        if state == "running" and rate is not None and time.perf_counter() > rate[0]:
            speed = (done - rate[1]) / (time.perf_counter() - rate[0]) if done > rate[1] else None
        else:
            speed = done / t.wall if t.wall > 0 and done else None
        return RunView(self.name, self.label, t.config, state, done, speed, steps, evals, grads, hess,
                       t.reference_field, self.run.path)

    # -- worker ---------------------------------------------------------------------------------------------
    def _ensure_worker(self) -> None:  # lock held
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name=f"train-{self.name}", daemon=True)
            self._thread.start()

    def _page_gone(self) -> bool:
        """True once alive() has said no for longer than the grace period (checked outside the lock)."""
        if self.alive is None or self.alive():
            self._gone_since = None
            return False
        self._gone_since = self._gone_since or time.monotonic()
        return time.monotonic() - self._gone_since > ALIVE_GRACE

    def _loop(self) -> None:
        checked = time.monotonic()
        while True:
            if time.monotonic() - checked > ALIVE_EVERY:
                checked = time.monotonic()
                if self._page_gone():
                    with self._lock:
                        self._state = "stopping"
            with self._lock:
                if self._state == "paused" and self._pending == 0:
                    self._wake.wait(ALIVE_EVERY)  # wakes for commands, and to notice a closed page
                    continue
                if self._state == "stopping":
                    break
                n = CHUNK if self._state == "running" else min(self._pending, CHUNK)
                self._busy = True
            try:
                records = self.run.advance(n)
            except Exception as exc:  # a bug or a device error: report it on the page, keep what we have
                self._finish(f"error: {type(exc).__name__}: {exc}")
                return
            with self._lock:
                self._busy = False
                self._wake.notify_all()
                lists = {StepRecord: self._steps, EvalSnapshot: self._evals, GradSnapshot: self._grads,
                         StiffnessSnapshot: self._hess}
                for r in records:
                    lists[type(r)].append(r)
                if self._state == "paused":
                    self._pending = max(0, self._pending - n)
                idle = self._state == "paused" and self._pending == 0
                status = self.run.trainer.status
            if status == "finished" or status.startswith("diverged"):
                self._finish(status)
                return
            if idle:  # paused: make what was trained so far durable
                self.run.save()
        self.run.trainer.status = "stopped"  # on disk too; ``open`` can train it on later
        self._finish("stopped")

    def _finish(self, state: str) -> None:
        try:
            self.run.save()
        finally:
            self.run.close()  # release the training lock: another session or `pinn resume` may take it
            with self._lock:
                self._state = state
                self._pending = 0
                self._busy = False
                self._wake.notify_all()
