"""The service's compiler processes: a setup's training step compiled into torch.compile's disk cache, away from
the workers and the runs they train.

A cold compile (inductor generating and compiling C++) takes half a minute to a minute of a core. Inside a worker
it would take that worker's core, and the GIL, from the runs it trains; here it runs in a process of its own, and
the workers then load the cached step in seconds (``engines.Loader``). Two kinds, one compile at a time:

* ``warm``: the warm-up's setups (the default compare), at the idle scheduling class (Linux SCHED_IDLE: it runs
  only on cycles nothing else wants), and stopped outright (SIGSTOP to its process group, SIGCONT after) while
  any run trains: idle cycles of a training machine are not free (two vCPUs of one core share its units, and a
  worker waiting for its lockstep partner leaves its vCPU idle for a moment), and the default compare finished
  about 6 s later while a cold warm-up compiled beside it;
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

from .pool import Channel, Pool, watch_parent

KINDS = ("run", "warm")


def main(index: int, inbox, conn, nice: int) -> None:
    """A compiler process (``KINDS[index]``): compile each config dict it is sent (``compile_twin``: its costs go
    to the machine's profile), report it on its pipe, until None or the server's death (then it ends at once,
    with its C++ compiler processes: it holds nothing to save)."""
    kind = KINDS[index]
    try:
        os.setpgrp()  # its C++ compiler processes in its group: the service can end them with it
    except OSError:
        pass
    watch_parent(_end_group)
    _lower_priority(kind, nice)
    import torch

    from pinncore import RunConfig
    from pinncore.engine import compile_twin

    torch.set_num_threads(1)
    out = Channel(conn)
    while True:
        try:
            config = inbox.get(timeout=1.0)
        except queue.Empty:
            continue
        if config is None:
            return
        try:
            ok = compile_twin(RunConfig.from_dict(config)) is not None
        except Exception:  # noqa: BLE001 -- a config the workers will not load either
            ok = False
        out.put(("compiled", None, config, ok, kind == "warm"))


def _end_group() -> None:
    """The server died: end this process and its C++ compiler processes at once (nothing here to save)."""
    if os.getpgrp() == os.getpid():  # it leads a group of its own (never the server's)
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(3)


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

    def __init__(self, ctx, nice: int):
        self.pool = Pool(ctx, main, lambda index: (nice,), "pinn-compiler")
        self.queued: dict[str, list[dict]] = {k: [] for k in KINDS}  # sent, not reported yet, in order
        self.done: dict[str, bool] = {}  # setup key -> compiled (True) or failed (False)
        self.warm_held = False  # the warm-up's process is stopped (SIGSTOP) while runs train

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
        warm_index = KINDS.index("warm")
        if kind == "run" and not self.queued["run"] and self.queued["warm"] and warm_index not in self.pool.procs:
            for c in self.queued["warm"]:  # the run compiles are done: the warm-up goes on
                self._send("warm", c)

    def hold_warm(self, busy: bool) -> None:
        """Stop the warm-up's process (and its C++ compilers) while ``busy``, continue it when not. A stopped
        process whose server dies is continued by the kernel (its orphaned process group gets SIGHUP and
        SIGCONT) and ends."""
        proc = self.pool.procs.get(KINDS.index("warm"))
        if proc is None or not proc.is_alive():
            self.warm_held = False
            return
        if busy == self.warm_held:
            return
        try:
            os.killpg(proc.pid, signal.SIGSTOP if busy else signal.SIGCONT)
            self.warm_held = busy
        except OSError:
            pass

    def died(self, index: int) -> None:
        """A compiler process died (not ended by ``_stop``): its setups are sent again to a new one."""
        self.pool.forget(index)
        for config in self.queued[KINDS[index]]:
            self._send(KINDS[index], config)

    def _send(self, kind: str, config: dict) -> None:
        index = KINDS.index(kind)
        if index not in self.pool.procs:
            self.pool.start(index)
        self.pool.send(index, config)

    def _stop(self, kind: str) -> None:
        index = KINDS.index(kind)
        if kind == "warm":
            self.warm_held = False  # SIGKILL ends a stopped process too
        proc = self.pool.procs.get(index)
        self.pool.forget(index)
        if proc is not None and proc.is_alive():
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # it and its C++ compiler processes
            except OSError:
                proc.kill()
            proc.join(5)

    def shutdown(self) -> None:
        for kind in KINDS:
            self._stop(kind)
