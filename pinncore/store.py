"""A run on disk. Every file is written atomically (temp file in the same directory, then ``os.replace``), so
a run killed at any moment stays loadable: each file is either the old version or the new one.

    run_dir/
      config.json          RunConfig
      summary.json         status, steps done, final error and lambdas, wall time, steps/s
      metrics.parquet      one row per step: step, lr, wall, loss_<term>, lambda_<term>
      checkpoint.pt        model, optimizer, weighting and sampling-RNG state (torch.save of plain dicts)
      reference.npz        evaluation grid and exact / reference field
      snapshots/eval_<step>.npz, grad_<step>.npz, hess_<step>.npz
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import torch

from .config import RunConfig
from .errors import ConfigError
from .records import EvalSnapshot, GradSnapshot, Record, StepRecord, StiffnessSnapshot

SNAPSHOTS = {"eval": EvalSnapshot, "grad": GradSnapshot, "hess": StiffnessSnapshot}


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def metrics_frame(records: Iterable[StepRecord]) -> pd.DataFrame:
    rows = []
    for r in records:
        row = {"step": r.step, "lr": r.lr, "wall": r.wall}
        row.update({f"loss_{t}": v for t, v in r.losses.items()})
        row.update({f"lambda_{t}": v for t, v in r.lambdas.items()})
        rows.append(row)
    return pd.DataFrame(rows)


class RunStore:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    # -- writing ----------------------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, config: RunConfig) -> "RunStore":
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ConfigError("out", f"'{path}' already exists and is not an empty directory")
        store = cls(path)
        store.write_json("config.json", config.to_dict())
        return store

    def write_json(self, name: str, data: dict) -> None:
        atomic_write(self.path / name, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())

    def write_records(self, records: Iterable[Record]) -> None:
        """Snapshots go to disk at once (one small file each); step records are written by ``write_metrics``."""
        kinds = {cls: kind for kind, cls in SNAPSHOTS.items()}
        for r in records:
            if type(r) in kinds:
                atomic_write(self.path / "snapshots" / f"{kinds[type(r)]}_{r.step:08d}.npz", _npz_bytes(r.arrays()))

    def write_metrics(self, records: list[StepRecord]) -> None:
        buf = io.BytesIO()
        metrics_frame(records).to_parquet(buf, index=False)
        atomic_write(self.path / "metrics.parquet", buf.getvalue())

    def write_reference(self, grid: np.ndarray, field: np.ndarray) -> None:
        atomic_write(self.path / "reference.npz", _npz_bytes({"grid": grid, "field": field}))

    def write_checkpoint(self, state: dict) -> None:
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write(self.path / "checkpoint.pt", buf.getvalue())

    # -- reading ----------------------------------------------------------------------------------------------
    def read_json(self, name: str) -> dict:
        try:
            return json.loads((self.path / name).read_text())
        except FileNotFoundError:
            raise ConfigError("run", f"'{self.path}' has no {name}: not a run directory") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(name, f"malformed JSON in '{self.path / name}' ({exc.msg})") from None

    def config(self) -> RunConfig:
        return RunConfig.from_dict(self.read_json("config.json"))

    def summary(self) -> dict:
        """The summary, or {} when there is none yet or it cannot be read (listing must not fail on one)."""
        try:
            data = self.read_json("summary.json")
        except ConfigError:
            return {}
        return data if isinstance(data, dict) else {}

    def checkpoint(self) -> dict | None:
        f = self.path / "checkpoint.pt"
        return torch.load(f, map_location="cpu", weights_only=True) if f.exists() else None

    def metrics(self, before: int | None = None) -> list[StepRecord]:
        """Step records from disk (those with step < ``before``, if given)."""
        f = self.path / "metrics.parquet"
        if not f.exists():
            return []
        df = pd.read_parquet(f)
        if df.empty:
            return []
        if before is not None:
            df = df[df["step"] < before]
        losses = [c for c in df.columns if c.startswith("loss_")]
        lambdas = [c for c in df.columns if c.startswith("lambda_")]
        return [StepRecord(int(r["step"]), {c[5:]: float(r[c]) for c in losses},
                           {c[7:]: float(r[c]) for c in lambdas}, float(r["lr"]), float(r["wall"]))
                for r in df.to_dict("records")]

    def snapshots(self, kind: str, upto: int | None = None) -> list:
        """Stored 'eval', 'grad' or 'hess' snapshots in step order (those with step <= ``upto``, if given)."""
        cls = SNAPSHOTS[kind]
        out = []
        for f in sorted((self.path / "snapshots").glob(f"{kind}_*.npz")):
            with np.load(f) as a:
                snap = cls.from_arrays({k: a[k] for k in a.files})
            if upto is None or snap.step <= upto:
                out.append(snap)
        return out

    def reference(self) -> tuple[np.ndarray, np.ndarray] | None:
        f = self.path / "reference.npz"
        if not f.exists():
            return None
        with np.load(f) as a:
            return a["grid"], a["field"]


_HELD: set[str] = set()  # run directories this process holds the lock of
_HELD_LOCK = threading.Lock()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acquire_lock(path: str | os.PathLike) -> None:
    """Claim a run directory for training (a ``.lock`` file holding our PID), so that two processes, or two
    dashboard sessions of one process, never write the same run. A lock whose process is gone is stale and
    taken over. Raises ConfigError naming the holder."""
    path = Path(path)
    key, lock = str(path.resolve()), path / ".lock"
    with _HELD_LOCK:
        if key in _HELD:
            raise ConfigError("run", f"'{path}' is already open for training in this process")
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    pid = int(lock.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and pid != os.getpid() and _pid_alive(pid):
                    raise ConfigError("run", f"'{path}' is being trained by process {pid}") from None
                lock.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            _HELD.add(key)
            return
        raise ConfigError("run", f"could not lock '{path}'")


def release_lock(path: str | os.PathLike) -> None:
    path = Path(path)
    with _HELD_LOCK:
        if str(path.resolve()) in _HELD:
            _HELD.discard(str(path.resolve()))
            (path / ".lock").unlink(missing_ok=True)


def list_runs(root: str | os.PathLike) -> list[tuple[Path, dict]]:
    """Run directories under ``root`` (recursively), newest first, with their summaries."""
    root = Path(root)
    runs = [(p.parent, RunStore(p.parent).summary()) for p in root.rglob("config.json")] if root.exists() else []
    return sorted(runs, key=lambda r: r[0].stat().st_mtime, reverse=True)
