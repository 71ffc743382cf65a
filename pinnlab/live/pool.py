"""The service's child processes and their channels: each worker (and each compiler) gets an inbox queue that only
the service writes and only it reads, and a pipe of its own back to the service; the service waits on all the
pipes and on every process's sentinel at once, so a death is seen the moment it happens.

A channel per process, not one queue shared by all: a process killed while it writes to a shared
``multiprocessing.Queue`` can die holding the queue's write lock, and every other writer then blocks forever.
A child watches its parent too (``watch_parent``): when the service's process dies (a crash, SIGKILL), each child
notices within a second, saves what it holds, and exits, so no worker trains on as an orphan holding its runs'
locks.
"""
from __future__ import annotations

import os
import threading
import time
from multiprocessing.connection import wait

from .spawn import plain_main

PARENT_POLL_S = 0.5   # how often a child checks that its parent is alive
PARENT_GRACE_S = 5.0  # after the parent's death, the time a child has to save before it is ended regardless


class Channel:
    """The child's end of its pipe back to the service (``put``, like a queue), safe from several threads."""

    def __init__(self, conn):
        self.conn, self._lock = conn, threading.Lock()

    def put(self, message) -> None:
        with self._lock:
            try:
                self.conn.send(message)
            except (BrokenPipeError, ConnectionResetError, EOFError, OSError):
                pass  # the service is gone: nobody reads this any more (``watch_parent`` ends the process)


def watch_parent(on_death=None, grace: float = PARENT_GRACE_S) -> threading.Event:
    """Start a thread that notices the parent's death (this process re-parented): it sets the returned event,
    calls ``on_death`` (from that thread), and after ``grace`` seconds ends the process whatever it is doing
    (the kernel then releases its file locks). The process's main loop should watch the event and save."""
    parent, gone = os.getppid(), threading.Event()

    def loop() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        gone.set()
        if on_death is not None:
            on_death()
        time.sleep(grace)
        os._exit(3)

    threading.Thread(target=loop, name="parent-watch", daemon=True).start()
    return gone


class Pool:
    """Processes of one kind, by index: started, restarted after a death, each with its inbox and pipe."""

    def __init__(self, ctx, target, args_of, name: str):
        """``target(index, inbox, channel, *args_of(index))`` is each process's main; ``name`` its prefix."""
        self.ctx, self.target, self.args_of, self.name = ctx, target, args_of, name
        self.procs: dict[int, object] = {}
        self.inboxes: dict[int, object] = {}
        self.readers: dict[object, int] = {}  # the service's end of each pipe -> index

    def start(self, index: int) -> None:
        inbox = self.ctx.Queue()
        reader, writer = self.ctx.Pipe(duplex=False)
        proc = self.ctx.Process(target=self.target, args=(index, inbox, writer, *self.args_of(index)),
                                name=f"{self.name}-{index}", daemon=True)
        with plain_main():
            proc.start()
        writer.close()  # the child's end: closed here, so the pipe reports EOF once the child is gone
        self.procs[index], self.inboxes[index], self.readers[reader] = proc, inbox, index

    def send(self, index: int, message) -> None:
        inbox = self.inboxes.get(index)
        if inbox is not None:
            inbox.put(message)

    def alive(self, index: int) -> bool:
        proc = self.procs.get(index)
        return proc is not None and proc.is_alive()

    def forget(self, index: int) -> None:
        """A dead (or ended) process: its pipe and inbox are dropped (a fresh pair comes with ``start``)."""
        self.procs.pop(index, None)
        self.inboxes.pop(index, None)
        for reader in [r for r, i in self.readers.items() if i == index]:
            del self.readers[reader]
            reader.close()

    def sentinels(self) -> dict[int, int]:
        return {p.sentinel: i for i, p in self.procs.items()}


def gather(pools: list[Pool], timeout: float) -> list[tuple]:
    """Wait up to ``timeout`` for any pipe or process of the pools: [("message", pool, index, message), ...,
    ("died", pool, index, exitcode)]. A dead process's pipe is read to its end first, so nothing it sent is lost."""
    readers = {r: (p, i) for p in pools for r, i in p.readers.items()}
    sentinels = {s: (p, i) for p in pools for s, i in p.sentinels().items()}
    events = []
    for ready in wait(list(readers) + list(sentinels), timeout):
        if ready in readers:
            pool, index = readers[ready]
            events += [("message", pool, index, m) for m in _drain(ready)]
        elif ready in sentinels:
            pool, index = sentinels[ready]
            proc = pool.procs.get(index)
            if proc is None:
                continue
            for reader, i in list(pool.readers.items()):
                if i == index:
                    events += [("message", pool, index, m) for m in _drain(reader)]
            proc.join(0.1)
            events.append(("died", pool, index, proc.exitcode))
    return events


def _drain(reader) -> list:
    """Every complete message waiting on a pipe (a message cut short by a death ends the reading)."""
    out = []
    try:
        while reader.poll():
            out.append(reader.recv())
    except (EOFError, OSError, ValueError):
        pass
    except Exception:  # noqa: BLE001 -- a message torn by a kill does not unpickle
        pass
    return out
