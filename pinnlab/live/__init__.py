"""Live runs for many viewers: a run service (one per server process) that trains runs in a pool of worker
processes, streams their records back, keeps compare groups in lockstep, queues what does not fit, and lets
every browser watch any run while only its owner controls it. ``service`` is the server side, ``worker`` the
training processes; neither imports a UI library.

The names below are imported when first asked for, not with the package: a worker or compiler process the service
spawns imports ``pinnlab.live.worker`` (or ``.compiler``) to find its main function, and importing the service here
would import torch there, seconds of a core at the server's priority before the process lowers its own (a new
worker replacing a dead one took them from the dead worker's lockstep partners)."""
from __future__ import annotations

import importlib

_WHERE = {"CHUNK": "worker", "GRACE": "service", "LiveRun": "runs", "Refused": "runs", "RunService": "service",
          "RunView": "runs", "Viewer": "runs"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value
