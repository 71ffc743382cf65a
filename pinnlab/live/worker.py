"""A training worker process of the run service: it owns some runs (trainer + run directory, locked) and steps
them in turn, one chunk each, streaming the records back to the server.

Messages in (a ``multiprocessing`` queue per worker), each a tuple ``(command, run_id, *args)``:
``create`` (config dict, path, slot), ``open`` (path, slot), ``start``, ``pause``, ``step`` (n), ``stop`` and
``shutdown``. Lockstep needs no messages: every run has a slot on a board shared by the server and all workers
(``BOARD`` integers per slot: its group, its steps done, whether it is meant to run), and a running run of a
group may go at most ``CHUNK`` steps past the slowest running member, read from the board before each chunk.
Messages out (one queue shared by all workers): ``("records", run_id, records, info)`` after each chunk,
``("ended", run_id, info)`` when a run finished, diverged, stopped or failed (it is saved and unlocked then),
``("warm", None, seconds)`` when the compile cache has been warmed.

The engine: a run whose config asks for ``compile`` starts on the eager step at once, while a thread of this
worker compiles a twin trainer of the same config on throwaway steps; when it is ready, the twin takes over
the run's exact state (model, Adam, weights, sampler) and trains on compiled. Eager and compiled steps agree
to float round-off, not bit for bit, so the trajectory of such a run is that of eager training up to the
switch step and of compiled training after it; the checkpoint format is the same, and ``pinn resume`` of the
run continues it on whatever engine its config says. A worker keeps the compiled trainers of the setups it has
trained or warmed (``Engines``): the next run of the same setup switches to compiled at its first turn.
"""
from __future__ import annotations

import dataclasses
import itertools
import queue
import sys
import threading
import time
import traceback
from typing import Any

CHUNK = 20          # steps per turn: the lockstep tolerance and how fast commands act
SLOTS = 256         # runs the board holds (the server's limit on runs held by workers is far below)
BOARD = 3           # integers per slot: group (0: none), steps done, meant to run (1) or not (0)
SAVE_EVERY_S = 30.0  # a live run is checkpointed at least this often (and every checkpoint_every steps)
KEEP = 8            # idle compiled trainers a worker keeps for the next runs (the least recently used go first)
NICE = 10           # workers train at a lower CPU priority: the server and the pages it draws come first, and
                    # training takes every cycle they leave (on an idle machine nothing changes)


class Slot:
    """One run in this worker: its state and the engine switch."""

    def __init__(self, run, compile_: bool, compiler: "Compiler", index: int = -1, board=None):
        self.run, self.index, self.board = run, index, board
        self.state = "paused"
        self.pending = 0
        self.engine = "eager"
        self.switch_step: int | None = None
        self.saved_at = time.monotonic()
        self.twin: Any = None
        self.compiler = None  # to ask for a twin, once
        self.engines = None   # where the compiled trainer goes when the run leaves this worker
        self.gone = False  # the run left this worker: a twin not compiled yet is not wanted any more
        self._handover = threading.Lock()  # the twin passes between the compiler thread and the training loop
        self.advanced = False  # has trained a chunk here (its first records are out)
        if compile_:
            if run.trainer.config.compile:
                self._go_eager()
            self.engine = "eager, compiling…"
            self.engines = compiler.engines
            self.twin = compiler.engines.take(run.trainer.config)  # a setup trained here before: compiled at once
            if self.twin is None:
                self.compiler = compiler  # asked once the first steps are out: they must not wait for it

    def _go_eager(self) -> None:
        from pinncore import Trainer

        t = self.run.trainer
        eager = Trainer(dataclasses.replace(t.config, compile=False))
        eager.load_state_dict(t.state_dict())
        eager.status = t.status
        self.run.trainer = eager

    def offer(self, twin) -> None:
        """The compiler thread's result: the twin (or "failed"); to the worker's engines if the run has left."""
        with self._handover:
            if not self.gone:
                self.twin = twin
                return
        if twin != "failed":
            self.engines.give(twin)

    def maybe_switch(self) -> None:
        with self._handover:
            twin, self.twin = self.twin, None
        if twin is None:
            return
        if twin == "failed":
            self.engine = "eager (compilation unavailable)"
            return
        t = self.run.trainer
        twin.rebind(dataclasses.replace(t.config, compile=True))
        twin.load_state_dict(t.state_dict())
        twin.status = t.status
        self.run.trainer = twin
        self.engine, self.switch_step = "compiled", t.steps_done

    def release(self, keep: bool = True) -> None:
        """The run leaves this worker: its compiled trainer (or a twin it did not switch to) waits for the next
        run of the same setup, unless not ``keep``."""
        with self._handover:
            self.gone = True
            twin, self.twin = self.twin, None
        if self.engines is None or not keep:
            return
        for trainer in (self.run.trainer if self.engine == "compiled" else None, twin):
            if trainer is not None and trainer != "failed":
                self.engines.give(trainer)

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
                "engine": self.engine, "switch_step": self.switch_step}


class Engines:
    """The idle compiled trainers of a worker, by ``build_key``, the most recently used kept (``KEEP``). Taking one
    spares a run its compilation: dynamo's tracing alone takes seconds, even when inductor's disk cache has the
    kernels. Shared by the training loop and the compiler thread."""

    def __init__(self, keep: int = KEEP):
        self.keep = keep
        self._idle: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def give(self, trainer) -> None:
        if not trainer.config.compile or trainer.compile_seconds is None:  # never compiled, or fell back
            return
        with self._lock:
            self._idle.append((self._key(trainer.config), trainer))
            del self._idle[:-self.keep]

    def take(self, config):
        """An idle compiled trainer for this config's setup (to be rebound and loaded), or None."""
        key = self._key(config)
        with self._lock:
            for i in range(len(self._idle) - 1, -1, -1):
                if self._idle[i][0] == key:
                    return self._idle.pop(i)[1]
        return None

    def has(self, config) -> bool:
        key = self._key(config)
        with self._lock:
            return any(k == key for k, _ in self._idle)

    @staticmethod
    def _key(config) -> str:
        from pinncore.trainer import build_key

        return build_key(dataclasses.replace(config, compile=True))


class Compiler:
    """Compiles twins one at a time in a background thread of the worker (compiling holds the GIL a lot; one
    at a time leaves the training loop its share). A run's twin goes before the configs warmed at start: a
    user's run never waits behind the cache warm-up of a cold server."""

    def __init__(self, start: bool = True):
        self.engines = Engines()
        self.todo: "queue.PriorityQueue[tuple[int, int, Slot | dict]]" = queue.PriorityQueue()
        self._order = itertools.count()
        if start:
            threading.Thread(target=self._loop, name="compiler", daemon=True).start()

    def submit(self, item) -> None:
        self.todo.put((0 if isinstance(item, Slot) else 1, next(self._order), item))

    def _loop(self) -> None:
        from pinncore import RunConfig, Trainer

        while True:
            item = self.todo.get()[2]
            slot = item if isinstance(item, Slot) else None
            if slot is not None and slot.gone:
                continue  # stopped or ended before its turn: compiling it would only take the others' cores
            config = slot.run.trainer.config if slot else RunConfig.from_dict(item)
            twin = self.engines.take(config) if slot else None  # warmed (or freed) since the slot asked
            if twin is None and (slot or not self.engines.has(config)):
                try:
                    twin = Trainer(dataclasses.replace(config, compile=True))
                    twin.step(12)  # both graphs: an update / snapshot step (0) and a plain one (1)
                    twin = None if twin.compile_seconds is None else twin  # None: it fell back to eager
                except Exception:  # noqa: BLE001 -- the run trains on eager
                    twin = None
                if slot is None and twin is not None:
                    self.engines.give(twin)
            if slot is not None:
                slot.offer("failed" if twin is None else twin)


def main(index: int, inbox, outbox, warm: list[dict] | None = None, board=None, nice: int = NICE) -> None:
    """The worker's loop (the target of its process); ``board``: the shared lockstep board; ``nice``: how far
    below the server's CPU priority it trains."""
    import os

    import torch

    torch.set_num_threads(1)
    try:
        os.nice(nice)
    except OSError:  # not permitted here: train at the server's priority
        pass
    compiler = Compiler()
    for config in warm or ():
        compiler.submit(config)
    slots: dict[str, Slot] = {}
    while True:
        busy = any(s.chunk() for s in slots.values())
        # held back by lockstep (a running run waits for its group): look again soon, not in 50 ms
        waiting = any(s.state == "running" and not s.run.trainer.done for s in slots.values())
        if not _drain(inbox, outbox, slots, compiler, block=0.0 if busy else 0.002 if waiting else 0.05,
                      board=board):
            break
        for run_id, slot in list(slots.items()):
            slot.maybe_switch()
            n = slot.chunk()
            if n:
                _advance(run_id, slot, n, outbox, slots)
    for run_id, slot in list(slots.items()):
        _end(run_id, slot, outbox, slots, "stopped")


def _drain(inbox, outbox, slots: dict, compiler: Compiler, block: float, board=None) -> bool:
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
            _apply(command, run_id, args, outbox, slots, compiler, board)
        except Exception as exc:  # noqa: BLE001 -- one bad run never takes the worker down
            reason = str(getattr(exc, "reason", "") and exc) or f"{type(exc).__name__}: {exc}"
            outbox.put(("refused", run_id, reason.splitlines()[0][:300] if reason else type(exc).__name__))
            slots.pop(run_id, None)


def _apply(command: str, run_id: str, args: list, outbox, slots: dict, compiler: Compiler, board=None) -> None:
    from pinncore import RunConfig
    from pinncore.run import Run

    if command in ("create", "open"):
        if command == "create":  # a compiled run starts on the eager step: no compiled trainer to build first
            config = RunConfig.from_dict(args[0])
            run, index = Run.create(config, args[1], engine="eager"), args[2]
        else:
            run, index = Run.open(args[0]), args[1]
            config = run.trainer.config
        slot = slots[run_id] = Slot(run, config.compile, compiler, index, board)
        slot.publish()
        outbox.put(("records", run_id, [], slot.info()))
        return
    slot = slots.get(run_id)
    if slot is None:
        return
    if command == "start":
        slot.state = "running"
    elif command == "pause":
        slot.state, slot.pending = "paused", 0
        slot.run.save()
        outbox.put(("records", run_id, [], slot.info()))
    elif command == "step":
        slot.pending += int(args[0])
    elif command == "stop":
        _end(run_id, slot, outbox, slots, "stopped")


def _advance(run_id: str, slot: Slot, n: int, outbox, slots: dict) -> None:
    try:
        records = slot.run.advance(n)
    except Exception as exc:  # noqa: BLE001 -- a bug or a device error: this run ends, saved, the rest goes on
        print(f"pinn worker: run {run_id} failed at step {slot.run.trainer.steps_done} on {slot.engine}:",
              file=sys.stderr, flush=True)
        traceback.print_exc()
        _end(run_id, slot, outbox, slots, f"error: {type(exc).__name__}: {str(exc)[:200]}")
        return
    slot.publish()
    slot.advanced = True
    # compile once every running run here has its first points out: the compiler takes much of the GIL
    if all(s.advanced or s.state != "running" for s in slots.values()):
        for s in slots.values():
            if s.compiler is not None and s.advanced:
                s.compiler.submit(s)
                s.compiler = None
    if slot.state == "paused":
        slot.pending = max(0, slot.pending - n)
    if time.monotonic() - slot.saved_at > SAVE_EVERY_S:
        slot.run.save()
        slot.saved_at = time.monotonic()
    outbox.put(("records", run_id, records, slot.info()))
    t = slot.run.trainer
    if t.done:
        _end(run_id, slot, outbox, slots, t.status)


def _end(run_id: str, slot: Slot, outbox, slots: dict, status: str) -> None:
    t = slot.run.trainer
    if not t.done and not status.startswith("error"):
        t.status = "stopped"
    try:
        slot.run.save()
    finally:
        slot.run.close()
        slot.release(keep=not status.startswith("error"))  # a step that raised may have left it half updated
        slots.pop(run_id, None)
        info = slot.info()
        info["status"] = status
        outbox.put(("ended", run_id, info))
