"""Live runs for many viewers: a run service (one per server process) that trains runs in a pool of worker
processes, streams their records back, keeps compare groups in lockstep, queues what does not fit, and lets
every browser watch any run while only its owner controls it. ``service`` is the server side, ``worker`` the
training processes; neither imports a UI library."""
from .service import GRACE, LiveRun, Refused, RunService, RunView, Viewer
from .worker import CHUNK

__all__ = ["CHUNK", "GRACE", "LiveRun", "Refused", "RunService", "RunView", "Viewer"]
