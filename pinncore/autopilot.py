"""The engine choice for a process that trains one run (``pinn train`` / ``pinn resume``, a sweep task).

A run whose config allows compilation starts on the eager step, measures it over its first ``MEASURE`` steps,
and asks ``engine.plan`` whether compiling pays for the steps it has left (with this machine's measured costs).
If it does, the compiled step is built right there (nothing else trains in this process), timed on throwaway
steps, and takes over the run's exact state only if it is measured faster; otherwise the run stays eager to its
end. Eager and compiled steps agree to float round-off, so the trajectory is eager up to the switch step and
compiled after it. The live run service makes the same choice per run (``pinnlab.live.worker``), with the
compiling done away from the runs it trains.
"""
from __future__ import annotations

import dataclasses
import time

from .engine import Profile, adopt, compile_twin, faster, median_rate, plan, to_eager
from .optim import compiled_steps_left

MEASURE = 60  # eager steps timed before deciding, in chunks of ``CHUNK`` (the median chunk counts: the first
CHUNK = 20    # one, with its evaluation and snapshots at step 0, is slower than the steps that make up a run)


class Autopilot:
    def __init__(self, run, profile: Profile | None = None, say=None):
        """``run``: a ``pinncore.run.Run`` (its trainer may be compiled or not; a compiled one is made eager
        until the decision); ``say``: called with a one-line message when the engine changes or is decided."""
        self.run, self.profile, self.say = run, profile or Profile(), say or (lambda line: None)
        t = run.trainer
        self.allowed = run.compile_allowed
        if t.config.compile and not t.done:
            run.trainer = to_eager(t)
        self.engine = "eager"
        self.reason = "eager" if self.allowed else "eager: the run's engine setting"
        self.decided = not self.allowed or t.done
        if self.allowed and not t.done and compiled_steps_left(t.config, t.steps_done) == 0:
            self.decided, self.reason = True, "eager: L-BFGS trains on the eager step"  # (resumed in L-BFGS)
        self.switch_step: int | None = None
        self._chunks: list[tuple[int, float]] = []  # (steps, seconds) of the eager chunks timed

    def advance(self, n: int):
        """``run.advance(n)`` (in timed chunks until the engine is decided), then the decision."""
        if self.decided:
            return self.run.advance(n)
        records = []
        while n > 0 and not self.decided and not self.run.trainer.done:
            t = self.run.trainer
            before, t0 = t.steps_done, time.perf_counter()
            records += self.run.advance(min(n, CHUNK))
            done = t.steps_done - before
            n -= max(done, 1)
            if t.lbfgs is None:  # L-BFGS's iterations are no measure of the Adam step a compile would speed up
                self._chunks.append((done, time.perf_counter() - t0))
            if sum(k for k, _ in self._chunks) >= MEASURE and not t.done:
                self._decide(median_rate(self._chunks))
        if n > 0 and not self.run.trainer.done:
            records += self.run.advance(n)
        return records

    def _decide(self, eager_s: float) -> None:
        self.decided = True
        t = self.run.trainer
        config = dataclasses.replace(t.config, compile=True)  # the run's setup, allowed to compile
        self.profile.record(config, eager_s=eager_s)
        choice = plan(config, compiled_steps_left(config, t.steps_done), self.profile.costs(config), eager_s=eager_s)
        self.reason = choice.reason
        if choice.engine == "eager":
            self.say(f"{choice.reason} ({choice.detail})")
            return
        self.say(f"{choice.reason} ({choice.detail}) …")
        twin = compile_twin(t.config, self.profile)
        if twin is None:
            self.reason = "eager: compilation is unavailable here"
        elif not faster(twin, eager_s):
            self.reason = (f"eager: the compiled step is slower here ({twin.compiled_s * 1e3:.2f} against "
                           f"{eager_s * 1e3:.2f} ms, measured)")
        else:
            self.run.trainer = adopt(t, twin.trainer)
            self.engine, self.switch_step = "compiled", t.steps_done
            self.reason = (f"compiled from step {t.steps_done:,} ({'cold' if twin.cold else 'warm'} compile "
                           f"{twin.compile_s:.1f} s; {eager_s * 1e3:.2f} -> {twin.compiled_s * 1e3:.2f} ms per step)")
        self.say(self.reason)
