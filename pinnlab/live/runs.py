"""What the run service holds and hands out: a run's server-side mirror (``LiveRun``), the consistent copy a
page draws (``RunView``), who looks (``Viewer``), and the one-line refusal of a command (``Refused``)."""
from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from pathlib import Path

from pinncore import ConfigError, EvalSnapshot, GradSnapshot, RunConfig, StepRecord, StiffnessSnapshot
from pinncore.records import AlignmentRecord, CausalRecord, KernelSpectrum, KernelTraces


class Refused(Exception):
    """A command the service will not carry out, with the reason in one line."""


@dataclass(frozen=True)
class Viewer:
    identity: str  # the browser (owner key): derived from a cookie, never from the URL
    session: str   # the browser session (a tab)


@dataclass(frozen=True)
class RunView:
    """A consistent copy of a run's state and records for one redraw."""

    name: str
    label: str
    config: RunConfig
    status: str              # queued, starting, running, paused, finished, stopped, diverged at step k, error: ...
    steps_done: int
    steps_per_s: float | None
    steps: list = field(repr=False)
    evals: list = field(repr=False)
    grads: list = field(repr=False)
    hess: list = field(repr=False)
    reference: object = field(repr=False)  # the reference field on the evaluation grid
    path: Path | None = None
    engine: str = "-"        # eager, "eager, compiling…", "eager, loading the compiled step…", compiled
    engine_reason: str = ""  # which engine and why, in words ("eager: 3,000 steps finish sooner than compiling would")
    engine_detail: str = ""  # the numbers behind it
    mine: bool = True        # the viewer owns the run (may command it)
    queue_position: int | None = None  # 1 = next in line
    message: str = ""        # the last refusal or failure, in words
    kernels: list = field(default_factory=list, repr=False)  # KernelTraces: Tr K_ii per term
    spectra: list = field(default_factory=list, repr=False)  # KernelSpectrum: eigenvalues of K_ii and K
    aligns: list = field(default_factory=list, repr=False)   # AlignmentRecord: the terms' gradient alignment
    causal: list = field(default_factory=list, repr=False)   # CausalRecord: weights and losses per time chunk


class LiveRun:
    """The server's mirror of one run: its records as streamed by its worker (or read from disk)."""

    def __init__(self, path: Path, config: RunConfig, name: str, owner: str | None, group: str | None):
        self.path, self.config, self.name, self.owner, self.group = path, config, name, owner, group
        self.id = str(path)
        self.label = config.label()
        self.status = "queued"
        self.worker: int | None = None
        self.steps: list[StepRecord] = []
        self.evals: list[EvalSnapshot] = []
        self.grads: list[GradSnapshot] = []
        self.hess: list[StiffnessSnapshot] = []
        self.kernels: list[KernelTraces] = []
        self.spectra: list[KernelSpectrum] = []
        self.aligns: list[AlignmentRecord] = []
        self.causal: list[CausalRecord] = []
        self.steps_done = 0
        self.wall = 0.0
        self.engine = "-"
        self.engine_reason = self.engine_detail = ""
        self.message = ""
        self.slot: int | None = None  # its place on the workers' shared lockstep board
        self.want = "paused"   # what the owner asked for: running or paused
        self.pending_steps = 0  # steps asked for (+1 / +10 / +100) before the run reached a worker
        self.previous: str | None = None  # the status of a run from disk before it was queued to train on
        self.exists = False  # its directory has been created
        self._reference = None
        self._rate: collections.deque = collections.deque(maxlen=40)  # (time, steps_done)

    @property
    def live(self) -> bool:
        """Held by a worker (training, paused there, or being started); a run read from disk is not."""
        return self.worker is not None

    def reference(self):
        """The reference field on the evaluation grid: the run's reference.npz, else computed from its problem
        (a run whose file is missing); None if neither works."""
        if self._reference is None and self.exists:
            from pinncore.store import RunStore

            try:
                ref = RunStore(self.path).reference()
                self._reference = ref[1] if ref is not None else self._computed_reference()
            except (ConfigError, OSError, ValueError):
                self._reference = self._computed_reference()
        return self._reference

    def _computed_reference(self):
        try:
            problem = self.config.make_problem()
            grid, shape = problem.grid(self.config.eval_points)
            return problem.reference(grid).reshape(shape)
        except Exception:  # noqa: BLE001 -- a damaged run: the page shows it without its fields
            return None

    def add(self, records, info: dict) -> None:
        lists = {StepRecord: self.steps, EvalSnapshot: self.evals, GradSnapshot: self.grads,
                 StiffnessSnapshot: self.hess, KernelTraces: self.kernels, KernelSpectrum: self.spectra,
                 AlignmentRecord: self.aligns, CausalRecord: self.causal}
        for r in records:
            if type(r) in lists:  # a record kind this server does not draw is dropped, not an error
                lists[type(r)].append(r)
        self.steps_done, self.wall = info["steps_done"], info["wall"]
        self.engine, self.status = info["engine"], info["status"]
        self.engine_reason, self.engine_detail = info.get("engine_reason", ""), info.get("engine_detail", "")
        if self.status == "paused" and self.want == "running":
            self.status = "starting"  # created or opened; the start command is on its way
        self._rate.append((time.monotonic(), self.steps_done))

    def truncate_to_disk(self) -> int:
        """After its worker died: the run as its directory holds it, its records past the last checkpoint dropped
        (a Resume continues from that checkpoint and trains those steps again). Returns the steps saved."""
        from pinncore.store import RunStore

        try:
            saved = RunStore(self.path).summary().get("steps_done")
        except (ConfigError, OSError, ValueError):
            saved = None
        saved = saved if isinstance(saved, int) and 0 <= saved <= self.steps_done else 0
        self.steps = [r for r in self.steps if r.step < saved]
        self.evals, self.grads, self.hess = ([r for r in records if r.step < saved]
                                             for records in (self.evals, self.grads, self.hess))
        self.steps_done = saved
        self.wall = self.steps[-1].wall if self.steps else 0.0
        self._rate.clear()
        return saved

    def steps_per_s(self) -> float | None:
        if self.status == "running" and len(self._rate) > 1:
            (t0, s0), (t1, s1) = self._rate[0], self._rate[-1]
            if time.monotonic() - t1 < 2.0 and t1 > t0:
                return (s1 - s0) / (t1 - t0)
        return self.steps_done / self.wall if self.wall > 0 and self.steps_done else None
