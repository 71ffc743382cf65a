"""The run service's processes: its workers and compilers, every message they send, and every death.

``Supervisor`` is the part of ``RunService`` that talks to processes: it waits on all their pipes and sentinels at
once (``pool.gather``), applies the workers' records and endings to the runs, forwards compile requests and
results, and handles a worker's death: its runs stop at their last checkpoint with the reason on their cards
(Resume continues from there), their lockstep partners go on, and a new worker takes its place, so new runs never
go to a dead one.
"""
from __future__ import annotations

from .pool import gather


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Supervisor:
    """Mixed into ``RunService``: the attributes it reads (``runs``, ``_lock``, ``_workers``, ``_compilers``,
    ``_held``, ``_closed``, ``n_workers``) and the methods it calls (``_release``, ``_admit``) are the service's."""

    def _warm_up(self, configs: list[dict]) -> None:
        """The warm-up's setups compiled into the disk cache by the idle compiler process (nothing to do for a setup
        the cache already holds), so that a later long run of one loads its compiled step in seconds; the workers
        hear of each one in the cache (a "compiled" message, as when its compile ends) and load it ahead once idle."""
        from pinncore import RunConfig
        from pinncore.engine import Profile

        profile = Profile()
        for config in configs:
            if not profile.costs(RunConfig.from_dict(config)).warm:
                self._compilers.submit(config, "warm")
            else:
                self._broadcast(("compiled", None, config, True, True))

    def _broadcast(self, message: tuple) -> None:
        for i in range(self.n_workers):
            self._workers.send(i, message)

    # -- sessions -------------------------------------------------------------------------------------------
    def _pump(self) -> None:
        """Every message of every worker and compiler process, and every death of one, as they happen."""
        while not self._closed:
            try:
                events = gather([self._workers, self._compilers.pool], 0.5)
            except (OSError, ValueError):  # a pipe closed under the wait (a restart): look again
                continue
            # the warm-up compiles only while no run trains (a run's own compile goes on regardless)
            self._compilers.hold_warm(any(r.live for r in list(self.runs.values())))
            for event, pool, index, payload in events:
                if event == "died":
                    if pool is self._workers:
                        self._worker_died(index, payload)
                    else:
                        self._compilers.died(index)
                else:
                    self._message(*payload)

    def _message(self, kind: str, run_id, *rest) -> None:
        if kind in ("compile", "compiled", "loaded"):
            self._engine_message(kind, run_id, list(rest))
            return
        with self._lock:
            run = self.runs.get(run_id)
            if run is None:
                return
            if kind == "records":
                run.add(*rest)
            elif kind == "refused":  # could not be created or opened (in use elsewhere, unwritable...)
                run.message = rest[0]
                self._release(run)
                run.status = run.previous if run.exists and run.previous else f"error: {rest[0]}"
                self._admit()
            elif kind == "ended":
                (info,) = rest
                run.add([], info)
                self._release(run)
                if info["status"].startswith("error"):
                    run.message = info["status"]
                self._admit()

    def _worker_died(self, index: int, exitcode: int | None) -> None:
        """A worker process died (a signal, the out-of-memory killer, an escaped error): its runs stop at their
        last checkpoint (the kernel released their locks with the process), their lockstep partners go on
        without them, and a new worker takes the dead one's place."""
        how = (f"was killed by signal {-exitcode} ({_signal_name(-exitcode)})" if exitcode and exitcode < 0
               else f"exited with code {exitcode}")
        with self._lock:
            self._workers.forget(index)
            self._held[index] = set()
            for run in [r for r in self.runs.values() if r.worker == index]:
                saved = run.truncate_to_disk()
                self._release(run)
                run.status = "stopped"
                run.message = (f"{run.name}: its worker process {how}; its training was saved at step {saved:,}: "
                               f"Resume continues from there")
            if not self._closed:
                self._workers.start(index)
                self._admit()

    def _engine_message(self, kind: str, run_id, rest: list) -> None:
        """A worker asks for a setup's compile; a compiler reports one; a worker keeps a compiled step."""
        if kind == "compile":  # run_id: the run that waits for it
            (config,) = rest
            ok = self._compilers.submit(config, "run")
            if ok is not None:  # compiled (or failed) before: tell the workers at once
                self._broadcast(("compiled", None, config, ok, False))
        elif kind == "compiled":
            config, ok, warm = rest
            self._compilers.finished(config, ok, warm)
            self._broadcast(("compiled", None, config, ok, warm))
        else:  # loaded: run_id is the worker's index
            (key,) = rest
            self._held[run_id].add(key)

