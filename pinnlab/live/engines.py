"""A worker's engines: which step each of its runs trains on, and the compiled steps it keeps.

A run allowed to compile (``config.compile``) starts on the eager step at once. Its worker times the eager step
over the first ``MEASURE`` steps and asks ``pinncore.engine.plan`` whether compiling pays for the steps left,
with this machine's measured costs (``pinncore.engine.Profile``). The answer is one of:

* **compiled, ready in memory**: a compiled trainer of this setup is kept here (``Engines``: from an earlier run);
  it takes over the run's exact state at once;
* **compile**: if the compile cache holds the graph, this worker's ``Loader`` thread traces and loads it (seconds);
  otherwise the service's compiler process compiles it first (``pinnlab.live.compiler``: a process of its own,
  one compile at a time, so the cold compile never runs on this worker's core), and the loader loads it after;
* **eager**: the run finishes sooner eager (a short run), or the compiled step measured slower here.

A loaded twin is timed on throwaway steps and takes over only if it measured faster than the run's eager step,
so a switch is a speed-up, never a slow-down. A worker never interrupts its runs to load a step for a run with
less than ``LOAD_MIN_S`` of eager work left. The server's warm-up fills the disk cache with the default setups (so a
later long run of them loads in seconds instead of compiling for a minute), and a worker that has trained nothing
for ``AHEAD_IDLE_S`` loads them ahead (``Ahead``, in its loader thread), so that the next compare trains compiled
from its first steps at no cost to it. Not at once: a Start that arrived during such a load (on a freshly
launched server, the page's first Start) waited for it at step 0 for about 3 s; a run that arrives during one
waits for it on the eager step and switches when it is there.
Eager and compiled steps agree to float round-off, so such a run follows eager training up to the switch step and
compiled training after it; ``pinn resume`` continues it on whatever engine pays then.
"""
from __future__ import annotations

import dataclasses
import os
import queue
import threading
from typing import Any, Callable

MEASURE = 50        # eager steps a run times before its engine is decided
LOAD_MIN_S = 120.0  # a worker slows its runs to load a compiled step only for a run with more eager work left:
                    # at 60 s, the default compare on a warm cache loaded for its slower runs (their eager work,
                    # measured with four runs and a browser on two cores, crossed 60 s) and finished ~10 s later
                    # than eager (benchmarks/live_first_minute.py, 2026-12-07, AMD EPYC)
AHEAD_IDLE_S = float(os.environ.get("PINN_AHEAD_IDLE_S") or 10.0)  # a worker loads the warm-up's steps ahead only
                     # after this long without a run: a new user's first Start comes sooner (benchmarks/
                     # live_first_minute.py clicks it within 2 s of the page), and one during a load waits for it
KEEP = 8            # idle compiled trainers a worker keeps for the next runs (the least recently used go first)


def setup_of(config) -> str:
    from pinncore.engine import setup_key

    return setup_key(config)


class Engines:
    """The compiled steps of a worker, by setup. Once this process has compiled a setup's step (any run of it, or
    the warm-up), dynamo's cache holds the graph and a new compiled trainer of that setup, whatever its weighting,
    seed or length, compiles in milliseconds; the idle trainers of finished runs are kept too (``KEEP``, the most
    recently used), which spares building one. Shared by the training loop and the loader thread."""

    def __init__(self, keep: int = KEEP):
        self.keep = keep
        self._idle: list[tuple[str, Any]] = []
        self._compiled: dict[str, float | None] = {}  # setup key -> its measured compiled step (s), if known
        self._lock = threading.Lock()

    def give(self, trainer) -> None:
        if not trainer.config.compile or trainer.compile_seconds is None:  # never compiled, or fell back
            return
        key = setup_of(trainer.config)
        with self._lock:
            self._compiled[key] = getattr(trainer, "probe_s", None) or self._compiled.get(key)
            self._idle.append((key, trainer))
            del self._idle[:-self.keep]

    def take(self, config):
        """A compiled trainer for this config's setup (to be rebound and loaded): a kept one, else a new one when
        this process has compiled the setup (its first step then finds the graph in dynamo's cache), else None."""
        from pinncore import Trainer

        key = setup_of(config)
        with self._lock:
            for i in range(len(self._idle) - 1, -1, -1):
                if self._idle[i][0] == key:
                    return self._idle.pop(i)[1]
            if key not in self._compiled:
                return None
            probe = self._compiled[key]
        trainer = Trainer(dataclasses.replace(config, compile=True))
        trainer.probe_s = probe
        return trainer

    def has(self, config) -> bool:
        with self._lock:
            return setup_of(config) in self._compiled

    def mark(self, config, probe_s: float | None) -> None:
        """This process has compiled the setup of ``config`` (its step measured ``probe_s`` seconds)."""
        with self._lock:
            self._compiled[setup_of(config)] = probe_s


class Loader:
    """The worker's thread that builds its runs' compiled trainers (twins) from the compile cache, one at a time,
    in the order asked (building holds the GIL much of the time)."""

    def __init__(self, engines: Engines, on_loaded: Callable[[str], None] | None = None, start: bool = True):
        self.engines, self.on_loaded = engines, on_loaded or (lambda key: None)
        self.todo: "queue.Queue[RunEngine | Ahead]" = queue.Queue()
        self.ahead: set[str] = set()  # setups queued or loading ahead of any run
        self.serving = False
        if start:
            threading.Thread(target=self._loop, name="loader", daemon=True).start()

    def busy(self) -> bool:
        return self.serving or not self.todo.empty()

    def load_ahead(self, config) -> None:
        """Load ``config``'s setup ahead of any run and keep it (called by the training thread, idle)."""
        import torch._inductor.compile_fx  # noqa: F401  (see submit)

        self.ahead.add(setup_of(config))
        self.todo.put(Ahead(config))

    def loading_ahead(self, config) -> bool:
        return setup_of(config) in self.ahead

    def submit(self, item: "RunEngine") -> None:
        """Called by the training thread. Inductor's modules are imported here, by that thread, before the loader
        thread compiles: imported by the loader while the training thread imports lazily too, a circular import
        handed one of them half-initialised (seen: "'_inductor_test' object has no attribute 'realize'", and the
        run stayed eager). Not at the worker's start: 2 s of imports that a run which never compiles (the default
        compare) would wait for."""
        import torch._inductor.compile_fx  # noqa: F401

        self.todo.put(item)

    def _loop(self) -> None:
        while True:
            item = self.todo.get()
            self.serving = True
            try:
                self.serve(item)
            finally:
                self.serving = False

    def serve(self, item: "RunEngine | Ahead") -> None:
        from pinncore.engine import compile_twin

        if isinstance(item, Ahead):
            try:
                if not self.engines.has(item.config):  # not compiled in this process yet (else: milliseconds)
                    built = compile_twin(item.config)
                    if built is not None:
                        self.engines.mark(item.config, built.compiled_s)
                        self.engines.give(built.trainer)
                        self.on_loaded(setup_of(item.config))
            finally:
                self.ahead.discard(setup_of(item.config))
            return
        if item.gone:
            return  # stopped or ended before its turn
        twin = self.engines.take(item.config)
        if twin is None:
            built = compile_twin(item.config)
            twin = None if built is None else built.trainer
            if twin is not None:
                self.engines.mark(item.config, built.compiled_s)
                self.on_loaded(setup_of(item.config))
        item.offer("failed" if twin is None else twin)


class Ahead:
    """A load ahead of any run: one of the warm-up's setups, loaded by an idle worker and kept (``Engines``)."""

    gone = False

    def __init__(self, config):
        self.config = dataclasses.replace(config, compile=True)


class RunEngine:
    """The engine of one run in a worker: the choice, its reason for the run card, and the switch."""

    def __init__(self, run, engines: Engines, loader: Loader, request: Callable[[dict], None],
                 sharers: Callable[[], int] = lambda: 1):
        """``request(config_dict)``: ask the service to compile this setup into the cache (a process of its own);
        ``sharers()``: how many runs this worker trains now (a load here pauses them all)."""
        from pinncore.engine import to_eager

        self.run, self.engines, self.loader, self.request, self.sharers = run, engines, loader, request, sharers
        self.allowed = run.compile_allowed
        self.config = dataclasses.replace(run.trainer.config, compile=True)  # its setup, allowed to compile
        if run.trainer.config.compile:
            run.trainer = to_eager(run.trainer)
        self.engine, self.reason, self.detail = "eager", "eager" if self.allowed else "eager (engine setting)", ""
        self.switch_step: int | None = None
        self.waiting: str | None = None  # "compile" (the service compiles it) or "load" (the loader builds it)
        self.gone = False
        self._twin: Any = None
        self._handover = threading.Lock()  # the twin passes between the loader thread and the training loop
        self._chunks: list[tuple[int, float]] = []  # (steps, seconds) of the eager chunks timed
        self.decided = not self.allowed
        from pinncore.optim import compiled_steps_left

        left = compiled_steps_left(run.trainer.config, run.trainer.steps_done)
        twin = engines.take(self.config) if self.allowed and left > 0 else None
        if twin is not None:  # a setup trained here before: compiled from its first step
            self._twin, self.decided = twin, True
            self.reason, self.detail = "compiled: ready in memory", "kept from an earlier run or the warm-up"

    @property
    def eager_s(self) -> float | None:
        """Seconds per eager step: the median over the chunks timed (a chunk with an evaluation or a snapshot, the
        first one above all, is slower than the steps that make up a run)."""
        from pinncore.engine import median_rate

        return median_rate(self._chunks)

    def timed(self, steps: int, seconds: float) -> None:
        """A chunk of ``steps`` trained in ``seconds`` (on the eager step): decide once enough are timed."""
        if self.engine != "eager" or steps <= 0 or getattr(self.run.trainer, "lbfgs", None) is not None:
            return  # (L-BFGS's iterations are no measure of the Adam step a compile would speed up)
        self._chunks = (self._chunks + [(steps, seconds)])[-20:]
        if not self.decided and sum(n for n, _ in self._chunks) >= MEASURE:
            self.decide()

    def decide(self) -> None:
        from pinncore.engine import Profile, plan
        from pinncore.optim import compiled_steps_left, optimiser_of

        self.decided = True
        t = self.run.trainer
        profile = Profile()
        profile.record(self.config, eager_s=self.eager_s)
        costs = profile.costs(self.config)
        left = compiled_steps_left(t.config, t.steps_done)
        choice = plan(self.config, left, costs, self.engines.has(self.config),
                      sharers=self.sharers(), eager_s=self.eager_s, min_eager_s=LOAD_MIN_S)
        self.reason, self.detail = choice.reason, choice.detail
        if t.done:
            return
        if choice.engine == "eager" and self.loader.loading_ahead(self.config) and left > 0 \
                and optimiser_of(self.config).compiles:  # it costs this run nothing more: wait for it
            self.reason = "compiled: loaded ahead"
            self.detail = "this worker was loading the warm-up's compiled steps when the run came"
        elif choice.engine == "eager":
            return
        if self.engines.has(self.config) or costs.warm or self.loader.loading_ahead(self.config):
            self.waiting, self.engine = "load", "eager, loading the compiled step…"
            self.loader.submit(self)
        else:
            self.waiting, self.engine = "compile", "eager, compiling…"
            self.request(dataclasses.asdict(self.config))

    def compiled(self, ok: bool) -> None:
        """The service's word that this setup's compile ended (``ok``: it is in the cache now)."""
        if self.waiting != "compile" or self.gone:
            return
        if not ok:
            self.waiting, self.engine = None, "eager"
            self.reason, self.detail = "eager: compilation is unavailable here", "the compile failed; see the log"
            return
        self.waiting, self.engine = "load", "eager, loading the compiled step…"
        self.loader.submit(self)

    def offer(self, twin) -> None:
        """The loader's result: the twin (or "failed"); back to the worker's engines if the run has left."""
        with self._handover:
            if not self.gone:
                self._twin = twin
                return
        if twin != "failed":
            self.engines.give(twin)

    def maybe_switch(self) -> None:
        """In the training loop, between chunks: a twin that arrived takes over if it is faster."""
        from pinncore.engine import adopt

        with self._handover:
            twin, self._twin = self._twin, None
        if twin is None:
            return
        self.waiting = None
        if twin == "failed":
            self.engine = "eager"
            self.reason, self.detail = "eager: compilation is unavailable here", "the compile failed; see the log"
            return
        probe = getattr(twin, "probe_s", None)
        if probe is not None and self.eager_s is not None and not probe < 0.95 * self.eager_s:
            self.engines.give(twin)
            self.engine, self.reason = "eager", "eager: the compiled step is slower here"
            self.detail = f"{probe * 1e3:.2f} against {self.eager_s * 1e3:.2f} ms per step, measured"
            return
        t = self.run.trainer
        self.run.trainer = adopt(t, twin)
        self.engine, self.switch_step = "compiled", t.steps_done
        if self.reason == "compiled: loaded ahead":
            self.reason = f"compiled from step {t.steps_done:,}: loaded ahead"
        elif not self.reason.startswith("compiled"):
            self.reason = f"compiled from step {t.steps_done:,}"

    def release(self, keep: bool = True) -> None:
        """The run leaves this worker: its compiled trainer (or a twin it did not switch to) waits for the next run
        of the same setup, unless not ``keep``."""
        with self._handover:
            self.gone = True
            twin, self._twin = self._twin, None
        if not keep:
            return
        for trainer in (self.run.trainer if self.engine == "compiled" else None, twin):
            if trainer is not None and trainer != "failed":
                self.engines.give(trainer)

    def info(self) -> dict:
        return {"engine": self.engine, "engine_reason": self.reason, "engine_detail": self.detail,
                "switch_step": self.switch_step}
