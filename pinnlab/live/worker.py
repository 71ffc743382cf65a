"""A training worker process of the run service: it owns some runs (trainer + run directory, locked) and steps
them in turn, one chunk each, streaming the records back to the server.

Messages in (a ``multiprocessing`` queue per worker), each a tuple ``(command, run_id, *args)``:
``create`` (config dict, path, slot), ``open`` (path, slot), ``start``, ``pause``, ``step`` (n), ``stop``,
``compiled`` (None, config dict, ok, warm-up: a setup's compile into the cache ended; a warm-up's is loaded
ahead once the worker is idle) and ``shutdown``. Lockstep needs no messages: every run has a slot on a board
shared by the server and all workers (``BOARD`` integers per slot: its group, its steps done, whether it is meant
to run), and a running run of a group may go at most ``CHUNK`` steps past the slowest running member, read from
the board before each chunk. Messages out (on the worker's own pipe to the service, ``pool.Channel``): ``("records", run_id, records,
info)`` after each chunk, ``("ended", run_id, info)`` when a run finished, diverged, stopped or failed (it is
saved and unlocked then), ``("compile", run_id, config dict)`` to have a setup compiled into the cache (by the
service's compiler process), ``("loaded", index, setup key)`` when a compiled step is kept here.

Which engine each run trains on, and when it switches, is ``engines.py``'s business.
"""
from __future__ import annotations

import queue
import sys
import time
import traceback

from .engines import AHEAD_IDLE_S, Engines, Loader, RunEngine

CHUNK = 20          # steps per turn: the lockstep tolerance and how fast commands act
SLOTS = 256         # runs the board holds (the server's limit on runs held by workers is far below)
BOARD = 3           # integers per slot: group (0: none), steps done, meant to run (1) or not (0)
SAVE_EVERY_S = 30.0  # a live run is checkpointed at least this often (and every checkpoint_every steps)
NICE = 10           # workers train at a lower CPU priority: the server and the pages it draws come first, and
                    # training takes every cycle they leave (on an idle machine nothing changes)


class Slot:
    """One run in this worker: its state, its place on the board and its engine."""

    def __init__(self, run, engine: RunEngine, index: int = -1, board=None):
        self.run, self.engine, self.index, self.board = run, engine, index, board
        self.state = "paused"
        self.pending = 0
        self.saved_at = time.monotonic()

    def chunk(self) -> int:
        """Steps to take on this turn (0: nothing to do now)."""
        t = self.run.trainer
        if t.done:
            return 0
        n = CHUNK if self.state == "running" else (min(self.pending, CHUNK) if self.state == "paused" else 0)
        if self.state == "running" and self.board is not None and self.index >= 0:
            frontier = self.frontier()
            if frontier is not None:
                n = min(n, frontier + CHUNK - t.steps_done)
        return max(n, 0)

    def frontier(self) -> int | None:
        """The steps of the slowest running run of this run's group, from the shared board."""
        b, i = self.board, self.index
        group = b[BOARD * i]
        if not group:
            return None
        done = [b[BOARD * j + 1] for j in range(SLOTS) if b[BOARD * j] == group and b[BOARD * j + 2]]
        return min(done) if done else None

    def publish(self) -> None:
        if self.board is not None and self.index >= 0:
            self.board[BOARD * self.index + 1] = self.run.trainer.steps_done

    def info(self) -> dict:
        t = self.run.trainer
        return {"status": t.status if t.done else self.state, "steps_done": t.steps_done, "wall": t.wall,
                **self.engine.info()}


class Worker:
    """What one worker process holds: its slots, its kept compiled steps and the loader that builds them."""

    def __init__(self, index: int, outbox, board=None, start_loader: bool = True):
        self.index, self.outbox, self.board = index, outbox, board
        self.slots: dict[str, Slot] = {}
        self.engines = Engines()
        self.loader = Loader(self.engines, lambda key: outbox.put(("loaded", index, key)), start=start_loader)
        self.ahead: dict[str, dict] = {}  # the warm-up's setups in the cache (key -> config dict), to load ahead
        self.idle_since = time.monotonic()

    def load_ahead(self) -> None:
        """After ``AHEAD_IDLE_S`` with no run here, load the warm-up's setups ahead (all of them queued at once, the
        loader thread loads one after the other), so that the next compare trains compiled from its first steps; a
        run that comes meanwhile waits for its setup's load on the eager step rather than deciding without it."""
        if self.slots:
            self.idle_since = time.monotonic()
            return
        if not self.ahead or self.loader.busy() or time.monotonic() - self.idle_since < AHEAD_IDLE_S:
            return
        from pinncore import RunConfig

        for config in [RunConfig.from_dict(c) for c in self.ahead.values()]:
            if not self.engines.has(config):
                self.loader.load_ahead(config)
        self.ahead.clear()

    def running(self) -> int:
        return sum(s.state == "running" and not s.run.trainer.done for s in self.slots.values())

    def engine_for(self, run_id: str, run) -> RunEngine:
        return RunEngine(run, self.engines, self.loader,
                         lambda config: self.outbox.put(("compile", run_id, config)), sharers=self.running)


def main(index: int, inbox, conn, board=None, nice: int = NICE) -> None:
    """The worker's loop (the target of its process): commands from ``inbox``, messages out on its pipe ``conn``;
    ``board``: the shared lockstep board; ``nice``: how far below the server's CPU priority it trains. When the
    server's process dies, it saves its runs (each stopped at its current step) and exits within seconds."""
    import os

    from .pool import Channel, watch_parent

    orphaned = watch_parent()
    try:  # before torch is imported: that import is seconds of a core, and it must not take them from the runs of
        os.nice(nice)  # the other workers (a worker started in place of a dead one does it while they train)
    except OSError:  # not permitted here: train at the server's priority
        pass
    import torch

    torch.set_num_threads(1)
    import torch._dynamo  # noqa: F401  (torch.optim's first optimizer imports it: 2 s a first run would wait for)

    w = Worker(index, Channel(conn), board)
    while not orphaned.is_set():
        busy = any(s.chunk() for s in w.slots.values())
        # held back by lockstep (a running run waits for its group): look again soon, not in 50 ms
        waiting = w.running() > 0
        if not _drain(inbox, w, block=0.0 if busy else 0.002 if waiting else 0.05):
            break
        w.load_ahead()
        for run_id, slot in list(w.slots.items()):
            slot.engine.maybe_switch()
            n = slot.chunk()
            if n:
                _advance(run_id, slot, n, w)
    for run_id, slot in list(w.slots.items()):
        _end(run_id, slot, w, "stopped")


def _drain(inbox, w: Worker, block: float) -> bool:
    """Apply every waiting command (waiting up to ``block`` seconds for one); False on shutdown."""
    while True:
        try:
            msg = inbox.get(timeout=block) if block else inbox.get_nowait()
        except queue.Empty:
            return True
        block = 0.0
        command, run_id, *args = msg
        if command == "shutdown":
            return False
        try:
            _apply(command, run_id, args, w)
        except Exception as exc:  # noqa: BLE001 -- one bad run never takes the worker down
            reason = str(getattr(exc, "reason", "") and exc) or f"{type(exc).__name__}: {exc}"
            w.outbox.put(("refused", run_id, reason.splitlines()[0][:300] if reason else type(exc).__name__))
            w.slots.pop(run_id, None)


def _apply(command: str, run_id: str, args: list, w: Worker) -> None:
    from pinncore import RunConfig
    from pinncore.run import Run

    if command in ("create", "open"):
        if command == "create":  # a run allowed to compile starts on the eager step (engines.py decides)
            run, index = Run.create(RunConfig.from_dict(args[0]), args[1], engine="eager"), args[2]
        else:
            run, index = Run.open(args[0], engine="eager"), args[1]
        slot = w.slots[run_id] = Slot(run, w.engine_for(run_id, run), index, w.board)
        slot.publish()
        w.outbox.put(("records", run_id, [], slot.info()))
        return
    if command == "compiled":  # a setup's compile into the cache ended: the runs waiting for it load it
        config, ok, warm = args
        from pinncore.engine import setup_key

        key = setup_key(RunConfig.from_dict(config))
        if ok and warm and not w.engines.has(RunConfig.from_dict(config)):
            w.ahead.setdefault(key, config)  # the warm-up's: loaded ahead once this worker is idle
        for slot in w.slots.values():
            if setup_key(slot.engine.config) == key:
                slot.engine.compiled(ok)
        return
    slot = w.slots.get(run_id)
    if slot is None:
        return
    if command == "start":
        slot.state = "running"
    elif command == "pause":
        slot.state, slot.pending = "paused", 0
        slot.run.save()
        w.outbox.put(("records", run_id, [], slot.info()))
    elif command == "step":
        slot.pending += int(args[0])
    elif command == "stop":
        _end(run_id, slot, w, "stopped")


def _advance(run_id: str, slot: Slot, n: int, w: Worker) -> None:
    t0, done0 = time.perf_counter(), slot.run.trainer.steps_done
    try:
        records = slot.run.advance(n)
    except Exception as exc:  # noqa: BLE001 -- a bug or a device error: this run ends, saved, the rest goes on
        print(f"pinn worker: run {run_id} failed at step {slot.run.trainer.steps_done} on {slot.engine.engine}:",
              file=sys.stderr, flush=True)
        traceback.print_exc()
        _end(run_id, slot, w, f"error: {type(exc).__name__}: {str(exc)[:200]}")
        return
    # the steps this chunk trained (a diverged chunk trained fewer than asked)
    slot.engine.timed(slot.run.trainer.steps_done - done0, time.perf_counter() - t0)
    slot.publish()
    if slot.state == "paused":
        slot.pending = max(0, slot.pending - n)
    if time.monotonic() - slot.saved_at > SAVE_EVERY_S:
        slot.run.save()
        slot.saved_at = time.monotonic()
    w.outbox.put(("records", run_id, records, slot.info()))
    t = slot.run.trainer
    if t.done:
        _end(run_id, slot, w, t.status)


def _end(run_id: str, slot: Slot, w: Worker, status: str) -> None:
    t = slot.run.trainer
    if not t.done and not status.startswith("error"):
        t.status = "stopped"
    try:
        slot.run.save()
    finally:
        slot.run.close()
        slot.engine.release(keep=not status.startswith("error"))  # a step that raised may be half updated
        w.slots.pop(run_id, None)
        info = slot.info()
        info["status"] = status
        w.outbox.put(("ended", run_id, info))
