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
from .store import RunStore
from .trainer import Trainer


class Run:
    def __init__(self, trainer: Trainer, store: RunStore, metrics: list[StepRecord] | None = None,
                 last_eval: EvalSnapshot | None = None):
        self.trainer = trainer
        self.store = store
        self.metrics: list[StepRecord] = metrics or []
        self.last_eval = last_eval
        self._saved_at = trainer.steps_done

    @property
    def path(self) -> Path:
        return self.store.path

    @classmethod
    def create(cls, config: RunConfig, out: str | os.PathLike) -> "Run":
        trainer = Trainer(config)  # raises ConfigError on bad input, before anything is written
        store = RunStore.create(out, trainer.config)
        store.write_reference(trainer.grid, trainer.reference_field)
        run = cls(trainer, store)
        run.save()
        return run

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Run":
        store = RunStore(path)
        trainer = Trainer(store.config())
        state = store.checkpoint()
        if state is not None:
            trainer.load_state_dict(state)
        evals = store.snapshots("eval", upto=trainer.steps_done)
        return cls(trainer, store, store.metrics(before=trainer.steps_done), evals[-1] if evals else None)

    def advance(self, n: int) -> list[Record]:
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
