"""A trainer bound to a run directory: the one driver used by the CLI and the dashboard.

``Run.create`` validates everything (building the trainer) before it writes a byte; ``advance`` trains and
persists metrics, checkpoint and summary every ``checkpoint_every`` steps and when the run ends; ``Run.open``
restores a run so that it continues the identical trajectory.
"""
from __future__ import annotations

import os
from pathlib import Path

from .config import RunConfig
from .records import EvalSnapshot, Record, StepRecord
from .store import RunStore, acquire_lock, release_lock
from .trainer import Trainer


class Run:
    def __init__(self, trainer: Trainer, store: RunStore, metrics: list[StepRecord] | None = None,
                 last_eval: EvalSnapshot | None = None):
        self.trainer = trainer
        self.store = store
        self.metrics: list[StepRecord] = metrics or []
        self.last_eval = last_eval
        self.locked = False
        self._saved_at = trainer.steps_done

    @property
    def path(self) -> Path:
        return self.store.path

    @classmethod
    def create(cls, config: RunConfig, out: str | os.PathLike) -> "Run":
        """A new run directory, locked for training by this process until ``close``."""
        trainer = Trainer(config)  # raises ConfigError on bad input, before anything is written
        store = RunStore.create(out, trainer.config)
        acquire_lock(store.path)
        store.write_reference(trainer.grid, trainer.reference_field)
        run = cls(trainer, store)
        run.locked = True
        run.save()
        return run

    @classmethod
    def open(cls, path: str | os.PathLike, lock: bool = True) -> "Run":
        """Restore a run from its checkpoint. ``lock``: claim it for training (ConfigError if another process
        or session trains it); without the lock it may be read and evaluated, not trained."""
        store = RunStore(path)
        trainer = Trainer(store.config())
        if lock:
            acquire_lock(store.path)
        try:
            state = store.checkpoint()
            if state is not None:
                trainer.load_state_dict(state)
            evals = store.snapshots("eval", upto=cls.visible_upto(trainer))
            run = cls(trainer, store, store.metrics(before=trainer.steps_done), evals[-1] if evals else None)
        except BaseException:
            if lock:
                release_lock(store.path)
            raise
        run.locked = lock
        return run

    @staticmethod
    def visible_upto(trainer: Trainer) -> int:
        """Last snapshot step that belongs to the restored state: a resumed run re-emits the snapshots at
        steps_done, so those are left to it, except for a finished run's final evaluation."""
        return trainer.steps_done if trainer.done else trainer.steps_done - 1

    def close(self) -> None:
        """Release the training lock (the run stays on disk)."""
        if self.locked:
            release_lock(self.store.path)
            self.locked = False

    def advance(self, n: int) -> list[Record]:
        if not self.locked:
            raise RuntimeError(f"run '{self.path}' was opened without its lock: it can be read, not trained")
        records = self.trainer.step(n)
        for r in records:
            if isinstance(r, StepRecord):
                self.metrics.append(r)
            elif isinstance(r, EvalSnapshot):
                self.last_eval = r
        self.store.write_records(records)
        every = self.trainer.config.checkpoint_every
        crossed = every and self.trainer.steps_done // every > self._saved_at // every
        if self.trainer.done or crossed:
            self.save()
        return records

    def save(self) -> None:
        """Metrics first, then the checkpoint, then the summary (``open`` drops metrics past the checkpoint)."""
        self.store.write_metrics(self.metrics)
        self.store.write_checkpoint(self.trainer.state_dict())
        self.store.write_json("summary.json", self.summary())
        self._saved_at = self.trainer.steps_done

    def summary(self) -> dict:
        t = self.trainer
        return {
            "label": t.config.label(), "problem": t.config.problem, "status": t.status,
            "steps_done": t.steps_done, "steps": t.config.steps,
            "rel_l2": self.last_eval.rel_l2 if self.last_eval else None,
            "rel_l2_step": self.last_eval.step if self.last_eval else None,
            "lambdas": dict(t.weighting.lambdas), "wall_s": round(t.wall, 3),
            "steps_per_s": round(t.steps_done / t.wall, 2) if t.wall > 0 else None,
        }
