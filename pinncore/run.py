"""A trainer bound to a run directory: the one driver used by the CLI and the dashboard.

``Run.create`` validates everything (building the trainer) before it writes a byte, and removes what it wrote
if it fails; ``advance`` trains and persists metrics, checkpoint and summary every ``checkpoint_every`` steps,
at least every ``checkpoint_seconds`` of wall time, and when the run ends; ``Run.open`` restores a run so that
it continues the identical trajectory, after checking every file of it (a damaged or incomplete run is refused
with one line naming the file, before anything is written); ``Run.view`` opens a run for reading only.
"""
from __future__ import annotations

import dataclasses
import math
import os
import shutil
import time
from pathlib import Path

from .config import RunConfig
from .errors import ConfigError
from .records import EvalSnapshot, Record, StepRecord
from .locks import acquire_lock, release_lock
from .series import SERIES, kind_of
from .store import SNAPSHOTS, RunStore, first_line
from .trainer import Trainer

CHECKPOINT_SECONDS = 30.0  # default: a crash loses at most this much training, whatever the step rate


class Run:
    def __init__(self, trainer: Trainer, store: RunStore, metrics: list[StepRecord] | None = None,
                 last_eval: EvalSnapshot | None = None, checkpoint_seconds: float | None = CHECKPOINT_SECONDS):
        self.trainer = trainer
        self.store = store
        self.metrics: list[StepRecord] = metrics or []
        self.last_eval = last_eval
        self.locked = False
        self.readonly = False  # Run.view: never writes, even if someone sets ``locked``
        # Run.open: the stored snapshots that belong to the restored state, by kind ("eval", "grad", "hess", "ntk")
        self.snapshots: dict[str, list] = {kind: [] for kind in SNAPSHOTS}
        # the diagnostic series (kernel traces, alignment, causal weights), kept and rewritten like the metrics
        self.series: dict[str, list] = {kind: [] for kind in SERIES}
        if checkpoint_seconds is not None and (isinstance(checkpoint_seconds, bool) or not isinstance(
                checkpoint_seconds, (int, float)) or not checkpoint_seconds > 0 or math.isinf(checkpoint_seconds)):
            raise ConfigError("checkpoint_seconds", f"must be a finite number > 0 or None, got {checkpoint_seconds!r}")
        self.checkpoint_seconds = checkpoint_seconds
        self._saved_at = trainer.steps_done
        self._saved_time = time.monotonic()
        # the run's config allows the compiled step (it may train eager for now: pinncore.engine decides)
        self.compile_allowed = trainer.config.compile

    @property
    def path(self) -> Path:
        return self.store.path

    @classmethod
    def create(cls, config: RunConfig, out: str | os.PathLike,
               checkpoint_seconds: float | None = CHECKPOINT_SECONDS, engine: str | None = None) -> "Run":
        """A new run directory, locked for training by this process until ``close``. On any failure nothing is
        left behind: the directory (and the parents this call made) is removed, an empty one given is emptied.
        ``engine="eager"``: train it on the eager step for now whatever its config says (the dashboard starts a
        compiled run eager and switches once the step is compiled); the stored config keeps ``compile``."""
        if engine not in (None, "eager"):
            raise ConfigError("engine", f"must be None or 'eager', got {engine!r}")
        # raises ConfigError on bad input, before anything is written
        trainer = Trainer(dataclasses.replace(config, compile=False) if engine == "eager" else config)
        out = Path(out)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise ConfigError("out", f"'{out}' already exists and is not an empty directory")
        made = [p for p in (out, *out.parents) if not p.exists()]  # the directories this call makes, deepest first
        store = RunStore(out)
        try:
            store = RunStore.create(out, dataclasses.replace(trainer.config, compile=config.compile))
            acquire_lock(store.path)
            store.write_reference(trainer.grid, trainer.reference_field)
            run = cls(trainer, store, checkpoint_seconds=checkpoint_seconds)
            run.compile_allowed = config.compile
            run.locked = True
            run.save()
        except BaseException:
            release_lock(store.path)
            if made:
                shutil.rmtree(out, ignore_errors=True)
                for parent in made[1:]:  # parents too, unless another run appeared in them meanwhile
                    try:
                        parent.rmdir()
                    except OSError:
                        break
            else:  # it was an empty directory: empty it again
                for child in out.iterdir():
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            raise
        return run

    @classmethod
    def open(cls, path: str | os.PathLike, lock: bool = True, steps: int | None = None, restart: bool = False,
             checkpoint_seconds: float | None = CHECKPOINT_SECONDS, engine: str | None = None) -> "Run":
        """Restore a run from its checkpoint. ``lock``: claim it for training (ConfigError if another process
        or session trains it); without the lock it may be read and evaluated, not trained, and nothing is
        written. ``steps``: a new total number of steps (written to config.json only once the lock is held and
        the run checked). A run whose checkpoint.pt or metrics.parquet is missing is refused, saying which,
        unless ``restart``: then it trains again from step 0 (its metrics and snapshots are dropped).
        Every file is checked first: ConfigError (one line, naming the file) for a damaged one. ``engine="eager"``:
        as for ``create``."""
        if engine not in (None, "eager"):
            raise ConfigError("engine", f"must be None or 'eager', got {engine!r}")
        if restart and not lock:
            raise ConfigError("restart", "a restart trains the run: it needs the lock")
        store = RunStore(path)
        stored = store.config()
        config = stored
        if steps is not None:
            try:
                config = dataclasses.replace(stored, steps=steps).validated()
            except TypeError as exc:
                raise ConfigError("steps", first_line(exc)) from None
        trainer = Trainer(dataclasses.replace(config, compile=False) if engine == "eager" else config)
        if lock:
            acquire_lock(store.path)
        try:
            if lock:
                store.check_writable()
            if restart:
                metrics, snaps, series = [], {kind: [] for kind in SNAPSHOTS}, {kind: [] for kind in SERIES}
            else:
                metrics, snaps, series = cls._restore(store, trainer, lock, steps)
            run = cls(trainer, store, metrics, snaps["eval"][-1] if snaps["eval"] else None,
                      checkpoint_seconds=checkpoint_seconds)
            run.compile_allowed = config.compile
            run.snapshots, run.series = snaps, series
            if lock:  # checked: from here on it writes
                run.locked = True
                store.remove_stale_temp()
                if config != stored:
                    store.write_json("config.json", config.to_dict())
                if restart:
                    for name in ("metrics.parquet", "checkpoint.pt", "summary.json",
                                 *(f"{kind}.parquet" for kind in SERIES)):
                        (store.path / name).unlink(missing_ok=True)
                    shutil.rmtree(store.path / "snapshots", ignore_errors=True)
                    store.write_reference(trainer.grid, trainer.reference_field)
                    run.save()
        except BaseException:
            if lock:
                release_lock(store.path)
            raise
        run.locked = lock
        return run

    @classmethod
    def view(cls, path: str | os.PathLike) -> "Run":
        """Open a run for viewing only: checked like ``open``, never locked, never written (``advance`` and
        ``save`` raise), whoever else trains it."""
        run = cls.open(path, lock=False)
        run.readonly = True
        return run

    @classmethod
    def _restore(cls, store: RunStore, trainer: Trainer, resume: bool,
                 steps: int | None) -> tuple[list[StepRecord], dict[str, list], dict[str, list]]:
        """Load checkpoint, metrics and snapshots into ``trainer`` after checking that they are complete and
        consistent with each other and with config.json; the metrics, the snapshots up to ``visible_upto`` (by
        kind) and the diagnostic series before the checkpoint's step (by kind)."""
        ck = store.path / "checkpoint.pt"
        hint = " (pinn resume --restart trains it again from step 0, dropping its history)" if resume else ""
        state = store.checkpoint()
        if state is None:
            raise ConfigError(str(ck), f"is missing: the run's trained state is gone{hint}")
        try:
            trainer.load_state_dict(state)
        except Exception as exc:  # shapes, keys or types that do not fit this configuration
            raise ConfigError(str(ck), f"does not match config.json ({first_line(exc, 90)})") from None
        n = trainer.steps_done
        if steps is not None and steps < n:
            raise ConfigError("steps", f"must be >= the {n} steps the run has done, got {steps}")
        if n > trainer.config.steps:
            raise ConfigError(str(ck), f"has {n} steps, more than the {trainer.config.steps} of config.json")
        mf = store.path / "metrics.parquet"
        if n and not mf.exists():
            raise ConfigError(str(mf), f"is missing: the loss history of the {n} steps done is gone{hint}")
        metrics = store.metrics(before=n)
        if [m.step for m in metrics] != list(range(n)):
            raise ConfigError(str(mf), f"holds {len(metrics)} rows for steps 0..{n - 1}: history incomplete{hint}")
        terms = set(trainer.term_names)
        if metrics and (set(metrics[0].losses) != terms or set(metrics[0].lambdas) != terms):
            raise ConfigError(str(mf), f"columns do not match the terms {', '.join(trainer.term_names)}")
        upto = cls.visible_upto(trainer)
        every = {kind: store.snapshots(kind) for kind in SNAPSHOTS}  # any damaged one is refused
        snaps = {kind: [x for x in found if x.step <= upto] for kind, found in every.items()}
        for snap in every["eval"]:
            if snap.prediction.shape != trainer.grid_shape:
                raise ConfigError(str(store.path / "snapshots" / f"eval_{snap.step:08d}.npz"),
                                  f"prediction {snap.prediction.shape} does not match the grid {trainer.grid_shape}")
        store.reference()
        return metrics, snaps, {kind: store.series(kind, before=n) for kind in SERIES}

    @staticmethod
    def visible_upto(trainer: Trainer) -> int:
        """Last snapshot step that belongs to the restored state: a resumed run re-emits the snapshots at
        steps_done, so those are left to it, except for a finished run's final evaluation."""
        return trainer.steps_done if trainer.done else trainer.steps_done - 1

    def claim(self) -> None:
        """Take the training lock of a run opened without it (``open(lock=False)``), e.g. when a dashboard
        session that was looking at a run starts training it. ConfigError if another process or session trains
        it, or if it has changed on disk since it was read (reopen it then); removes stale temp files."""
        if self.readonly:
            raise RuntimeError(f"run '{self.path}' was opened for viewing only")
        if self.locked:
            return
        acquire_lock(self.path)
        try:
            self.store.check_writable()
            done = self.store.summary().get("steps_done")
            if isinstance(done, int) and done != self.trainer.steps_done:
                raise ConfigError("run", f"'{self.path}' was trained on since it was opened (step {done}, not "
                                         f"{self.trainer.steps_done}): reopen it")
            self.store.remove_stale_temp()
        except BaseException:
            release_lock(self.path)
            raise
        self.locked = True

    def close(self) -> None:
        """Release the training lock (the run stays on disk)."""
        if self.locked:
            release_lock(self.store.path)
            self.locked = False

    def discard(self) -> None:
        """Delete the run directory of a run this process created and holds that has not trained a step (a
        ``pinn train`` whose first step failed, e.g. out of memory): nothing is left behind."""
        if self.readonly or not self.locked:
            raise RuntimeError(f"run '{self.path}' is not held by this process: not discarding it")
        if self.trainer.steps_done:
            raise RuntimeError(f"run '{self.path}' has trained {self.trainer.steps_done} steps: not discarding it")
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def _writable(self) -> None:
        if self.readonly or not self.locked:
            raise RuntimeError(f"run '{self.path}' was opened without its lock: it can be read, not trained")

    def advance(self, n: int) -> list[Record]:
        self._writable()
        records = self.trainer.step(n)
        for r in records:
            if isinstance(r, StepRecord):
                self.metrics.append(r)
            elif isinstance(r, EvalSnapshot) and math.isfinite(r.rel_l2):
                self.last_eval = r
            elif kind_of(r):
                self.series[kind_of(r)].append(r)
        t = self.trainer
        if t.status.startswith("diverged") and (self.last_eval is None or self.last_eval.step != t.steps_done):
            snap = t.evaluate()  # the parameters are the last good ones: the failing update was not applied
            records.append(snap)
            if math.isfinite(snap.rel_l2):
                self.last_eval = snap
        self.store.write_records(records)
        every = t.config.checkpoint_every
        crossed = every and t.steps_done // every > self._saved_at // every
        late = (self.checkpoint_seconds is not None and t.steps_done != self._saved_at
                and time.monotonic() - self._saved_time >= self.checkpoint_seconds)
        if t.done or crossed or late:
            self.save()
        return records

    def save(self) -> None:
        """Metrics first, then the checkpoint, then the summary (``open`` drops metrics past the checkpoint)."""
        self._writable()
        self.store.write_metrics(self.metrics)
        for kind, records in self.series.items():
            if records or (self.store.path / f"{kind}.parquet").exists():
                self.store.write_series(kind, records)
        self.store.write_checkpoint(self.trainer.state_dict())
        self.store.write_json("summary.json", self.summary())
        self._saved_at = self.trainer.steps_done
        self._saved_time = time.monotonic()

    def summary(self) -> dict:
        """``rel_l2`` is the last evaluation with a finite error and ``rel_l2_step`` its step (for a diverged
        run: the last good parameters, evaluated where it stopped)."""
        t = self.trainer
        return {
            "label": t.config.label(), "problem": t.config.problem, "status": t.status,
            "steps_done": t.steps_done, "steps": t.config.steps,
            "rel_l2": self.last_eval.rel_l2 if self.last_eval else None,
            "rel_l2_step": self.last_eval.step if self.last_eval else None,
            "lambdas": dict(t.weighting.lambdas), "wall_s": round(t.wall, 3),
            "steps_per_s": round(t.steps_done / t.wall, 2) if t.wall > 0 else None,
            **({"unknowns": t.unknown_values()} if t.problem.unknowns else {}),
        }
