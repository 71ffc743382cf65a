"""The service's compiler processes: a setup's training step compiled into torch.compile's disk cache, away from
the workers and the runs they train.

A cold compile (inductor generating and compiling C++) takes half a minute to a minute of a core. Inside a worker
it would take that worker's core, and the GIL, from the runs it trains; here it runs in a process of its own, and
the workers then load the cached step in seconds (``engines.Loader``). Two kinds, one compile at a time:

* ``warm``: the warm-up's setups (the default compare), at the idle scheduling class (Linux SCHED_IDLE: it runs
  only on cycles nothing else wants, so it yields to every run and every page);
* ``run``: a setup that a shown run waits for, because ``pinncore.engine.plan`` said compiling pays for it, at
  the workers' priority. While one runs, the warm process is ended (and started again afterwards, its unfinished
  setups queued again): two compiles would share the cores, and a starved one can hold the cache's lock on the
  same graph.

Each compile reports ``("compiled", None, config dict, ok, warm)`` on the service's queue; the service tells the
workers. A compiler process notices the server's death between compiles and exits.
"""
from __future__ import annotations

import os
import queue
import signal

from .spawn import plain_main

KINDS = ("run", "warm")


def main(kind: str, inbox, outbox, nice: int) -> None:
    """A compiler process: compile each config dict it is sent (``compile_twin``: its costs go to the machine's
    profile), report it, until None or the server's death."""
    parent = os.getppid()
    try:
        os.setpgrp()  # its C++ compiler processes in its group: the service can end them with it
    except OSError:
        pass
    _lower_priority(kind, nice)
    import torch

    from pinncore import RunConfig
    from pinncore.engine import compile_twin

    torch.set_num_threads(1)
    while True:
        try:
            config = inbox.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                return  # the server is gone
            continue
        if config is None:
            return
        try:
            ok = compile_twin(RunConfig.from_dict(config)) is not None
        except Exception:  # noqa: BLE001 -- a config the workers will not load either
            ok = False
        outbox.put(("compiled", None, config, ok, kind == "warm"))


def _lower_priority(kind: str, nice: int) -> None:
    try:
        if kind == "warm" and hasattr(os, "SCHED_IDLE"):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        else:
            os.nice(nice if kind == "run" else 19)
    except OSError:
        pass


class Compilers:
    """The service's side: starts a compiler process on first use, compiles each setup once (its result is
    remembered), and keeps one compile at a time (a ``run`` compile ends a busy ``warm`` process)."""

    def __init__(self, ctx, outbox, nice: int):
        self.ctx, self.outbox, self.nice = ctx, outbox, nice
        self.procs: dict[str, object] = {}
        self.inboxes: dict[str, object] = {}
        self.queued: dict[str, list[dict]] = {k: [] for k in KINDS}  # sent, not reported yet, in order
        self.done: dict[str, bool] = {}  # setup key -> compiled (True) or failed (False)

    @staticmethod
    def key(config: dict) -> str:
        from pinncore import RunConfig
        from pinncore.engine import setup_key

        return setup_key(RunConfig.from_dict(config))

    def submit(self, config: dict, kind: str) -> bool | None:
        """Have ``config``'s setup compiled; its earlier result if it was compiled before (then nothing is
        sent), else None (the result comes as a "compiled" message)."""
        key = self.key(config)
        if key in self.done:
            return self.done[key]
        if any(self.key(c) == key for c in self.queued[kind]):
            return None
        if kind == "run" and self.queued["warm"]:
            self._stop("warm")  # one compile at a time; its setups go again once the run compiles are done
        self.queued[kind].append(config)
        if kind == "run" or not self.queued["run"]:
            self._send(kind, config)
        return None

    def finished(self, config: dict, ok: bool, warm: bool) -> None:
        kind = "warm" if warm else "run"
        key = self.key(config)
        self.done[key] = ok
        self.queued[kind] = [c for c in self.queued[kind] if self.key(c) != key]
        if kind == "run" and not self.queued["run"] and self.queued["warm"] and "warm" not in self.procs:
            for c in self.queued["warm"]:  # the run compiles are done: the warm-up goes on
                self._send("warm", c)

    def _send(self, kind: str, config: dict) -> None:
        if kind not in self.procs:
            self.inboxes[kind] = self.ctx.Queue()
            proc = self.ctx.Process(target=main, args=(kind, self.inboxes[kind], self.outbox, self.nice),
                                    name=f"pinn-compiler-{kind}", daemon=True)
            with plain_main():
                proc.start()
            self.procs[kind] = proc
        self.inboxes[kind].put(config)

    def _stop(self, kind: str) -> None:
        proc = self.procs.pop(kind, None)
        self.inboxes.pop(kind, None)
        if proc is not None and proc.is_alive():
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # it and its C++ compiler processes
            except OSError:
                proc.kill()
            proc.join(5)

    def shutdown(self) -> None:
        for kind in list(self.procs):
            self._stop(kind)
