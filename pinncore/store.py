"""A run on disk. Every file is written atomically (temp file in the same directory, then ``os.replace``), so
a run killed at any moment stays loadable: each file is either the old version or the new one.

    run_dir/
      config.json          RunConfig
      summary.json         status, steps done, final error and lambdas, wall time, steps/s
      metrics.parquet      one row per step: step, lr, wall, loss_<term>, lambda_<term>, unknown_<name>
      checkpoint.pt        model, optimizer, weighting and sampling-RNG state, the unknowns' raw parameters
                           (torch.save of plain dicts)
      reference.npz        evaluation grid and exact / reference field
      kernel.parquet, alignment.parquet, causal.parquet   diagnostic series (``pinncore.series``), if recorded
      snapshots/eval_<step>.npz, grad_<step>.npz, hess_<step>.npz, ntk_<step>.npz (kernel spectra)
      .lock                the PID of the process training the run; ``fcntl.flock``-ed while it does

Every reader turns a damaged file into a ConfigError naming the file and what is wrong with it (one line), never
a traceback: a run directory is input like any other. The training lock of a run is ``pinncore.locks``; finding
and listing the runs under a root is ``pinncore.catalog``.
"""
from __future__ import annotations

import io
import json
import math
import os
import pickle
import re
import tempfile
import warnings
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import torch

from .config import RunConfig
from .errors import ConfigError, first_line  # noqa: F401 (first_line: re-exported)
from .records import EvalSnapshot, GradSnapshot, KernelSpectrum, Record, StepRecord, StiffnessSnapshot
from .series import FILES as SERIES_FILES, read_series, series_bytes

SNAPSHOTS = {"eval": EvalSnapshot, "grad": GradSnapshot, "hess": StiffnessSnapshot, "ntk": KernelSpectrum}


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
        row.update({f"unknown_{n}": v for n, v in r.unknowns.items()})
        rows.append(row)
    return pd.DataFrame(rows)


MAX_JSON_BYTES = 16 * 1024**2
RUN_FILES = ("config.json", "summary.json", "metrics.parquet", "checkpoint.pt", "reference.npz", *SERIES_FILES.values())
CHECKPOINT_KEYS = ("model", "optimizer", "weighting", "generator", "steps_done", "wall", "status")
# the fields of summary.json and the types a reader may rely on (None allowed where the second entry says so)
SUMMARY_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "label": ((str,), False), "problem": ((str,), False), "status": ((str,), False), "steps_done": ((int,), False),
    "steps": ((int,), False), "rel_l2": ((int, float), True), "rel_l2_step": ((int,), True),
    "lambdas": ((dict,), False), "wall_s": ((int, float), False), "steps_per_s": ((int, float), True),
    "unknowns": ((dict,), False),
}


def summary_problem(data) -> str | None:
    """Why a summary.json's content cannot be used (wrong type of a known field), or None when it is fine."""
    if not isinstance(data, dict):
        return f"must be a JSON object, got {type(data).__name__}"
    for name, (types, nullable) in SUMMARY_FIELDS.items():
        if name not in data or (data[name] is None and nullable):
            continue
        v = data[name]
        if isinstance(v, bool) or not isinstance(v, types):
            return f"field '{name}' has the wrong type ({type(v).__name__}: {str(v)[:40]!r})"
        if name in ("steps_done", "steps") and v < 0:
            return f"field '{name}' must be >= 0, got {v}"
    lam = data.get("lambdas", {})
    if not all(isinstance(k, str) and isinstance(x, (int, float)) and not isinstance(x, bool) for k, x in lam.items()):
        return "field 'lambdas' must map term names to numbers"
    known = data.get("unknowns", {})
    if not all(isinstance(k, str) and isinstance(x, (int, float)) and not isinstance(x, bool)
               for k, x in known.items()):
        return "field 'unknowns' must map names to numbers"
    return None


def _pickled_code(f: Path) -> str | None:
    """For a plain pickle (not torch's zip format) that the weights-only loader refused: the callable it would
    import (GLOBAL / STACK_GLOBAL opcodes), read with pickletools, never unpickled. None if there is none."""
    import pickletools

    try:
        strings: list[str] = []
        for op, arg, _ in pickletools.genops(f.read_bytes()[: 1 << 20]):
            if op.name == "GLOBAL":
                return str(arg).replace(" ", ".")
            if op.name == "STACK_GLOBAL" and len(strings) >= 2:
                return f"{strings[-2]}.{strings[-1]}"
            if isinstance(arg, str):
                strings.append(arg)
    except Exception:  # not a pickle at all
        return None
    return None


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

    def write_series(self, kind: str, records: list) -> None:
        atomic_write(self.path / SERIES_FILES[kind], series_bytes(records))

    def series(self, kind: str, before: int | None = None) -> list:
        """A diagnostic series (``pinncore.series``): its records, those with step < ``before`` if given."""
        return read_series(self.path / SERIES_FILES[kind], kind, before)

    def write_reference(self, grid: np.ndarray, field: np.ndarray) -> None:
        atomic_write(self.path / "reference.npz", _npz_bytes({"grid": grid, "field": field}))

    def write_checkpoint(self, state: dict) -> None:
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write(self.path / "checkpoint.pt", buf.getvalue())

    def check_writable(self) -> None:
        """Raise ConfigError unless every file the run writes can be replaced (before anything is written): a
        directory named like one of them, a snapshots/ that is a file, or a read-only run directory."""
        for name in RUN_FILES:
            f = self.path / name
            if f.is_symlink() or (f.exists() and not f.is_file()):
                raise ConfigError(str(f), "is not a regular file (a directory or a link): cannot replace it")
        snaps = self.path / "snapshots"
        if snaps.exists() and (snaps.is_symlink() or not snaps.is_dir()):
            raise ConfigError(str(snaps), "is not a directory")
        for d in (self.path, snaps):
            if d.is_dir() and not os.access(d, os.W_OK | os.X_OK):
                raise ConfigError(str(d), "is not writable")

    def remove_stale_temp(self) -> list[Path]:
        """Delete the ``.<file>.*.tmp`` files of atomic writes that were killed before their rename. Call it only
        while holding the run's lock: another writer's temp file is not stale."""
        gone = []
        for d in (self.path, self.path / "snapshots"):
            if not d.is_dir():
                continue
            for f in d.glob(".*.tmp"):
                if f.is_file() and not f.is_symlink():
                    f.unlink(missing_ok=True)
                    gone.append(f)
        return gone

    # -- reading ----------------------------------------------------------------------------------------------
    def _regular(self, name: str) -> Path | None:
        """The path of ``name`` in the run, None if there is none, ConfigError if it is not a regular file."""
        f = self.path / name
        if not f.exists():
            return None
        if not f.is_file():
            raise ConfigError(str(f), "is a directory, not a file")
        return f

    def read_json(self, name: str) -> dict:
        f = self.path / name
        try:
            if f.is_dir():
                raise ConfigError(str(f), "is a directory, not a file")
            if f.stat().st_size > MAX_JSON_BYTES:
                raise ConfigError(str(f), f"is larger than {MAX_JSON_BYTES >> 20} MiB: not a run file")
            data = json.loads(f.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            raise ConfigError("run", f"'{self.path}' has no {name}: not a run directory") from None
        except UnicodeDecodeError:
            raise ConfigError(str(f), "is not UTF-8 text (binary data): not a JSON file") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(str(f), f"malformed JSON ({exc.msg} at line {exc.lineno})") from None
        except RecursionError:
            raise ConfigError(str(f), "malformed JSON (nested too deeply)") from None
        except OSError as exc:
            raise ConfigError(str(f), f"cannot read it ({exc.strerror or first_line(exc)})") from None
        if not isinstance(data, dict):
            raise ConfigError(str(f), f"must hold a JSON object, got {type(data).__name__}")
        return data

    def config(self) -> RunConfig:
        data = self.read_json("config.json")
        try:
            return RunConfig.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(str(self.path / "config.json"), str(exc)) from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(str(self.path / "config.json"), first_line(exc)) from None

    def summary(self) -> dict:
        """The summary, or {} when there is none yet or it cannot be used (listing must not fail on one);
        ``summary_checked`` says why."""
        try:
            return self.summary_checked()
        except ConfigError:
            return {}

    def summary_checked(self) -> dict:
        """The summary ({} when there is none yet); ConfigError naming summary.json if it is damaged."""
        if not (self.path / "summary.json").exists() and not (self.path / "summary.json").is_symlink():
            return {}
        data = self.read_json("summary.json")
        problem = summary_problem(data)
        if problem:
            raise ConfigError(str(self.path / "summary.json"), problem)
        return data

    def checkpoint(self) -> dict | None:
        """The checkpoint's state dict, None if there is none. Loaded with ``weights_only=True``: a pickle that
        would run code is refused, never executed. ConfigError naming checkpoint.pt for anything unusable."""
        f = self._regular("checkpoint.pt")
        if f is None:
            return None
        with warnings.catch_warnings():  # torch warns, on several lines, about unusual pickle protocols
            warnings.simplefilter("ignore")
            try:
                state = torch.load(f, map_location="cpu", weights_only=True)
            except pickle.UnpicklingError as exc:
                m = re.search(r"GLOBAL ([\w.]+)", str(exc))
                code = m.group(1) if m else _pickled_code(f)
                if code:
                    raise ConfigError(str(f), f"refused to load: contains code ({code})") from None
                raise ConfigError(str(f), "not a checkpoint (unreadable pickle)") from None
            except EOFError:
                raise ConfigError(str(f), "empty or truncated: not a checkpoint") from None
            except Exception as exc:  # torch's loader raises RuntimeError, ValueError, ... on damaged files
                raise ConfigError(str(f), f"truncated or not a checkpoint ({first_line(exc, 80)})") from None
        if not isinstance(state, dict):
            raise ConfigError(str(f), f"must hold a dict of states, got {type(state).__name__}")
        for key in CHECKPOINT_KEYS:
            if key not in state:
                raise ConfigError(str(f), f"has no '{key}': not a checkpoint of this program")
        if not (isinstance(state["steps_done"], int) and not isinstance(state["steps_done"], bool)
                and state["steps_done"] >= 0):
            raise ConfigError(str(f), f"'steps_done' must be an integer >= 0, got {state['steps_done']!r}")
        if not isinstance(state["wall"], (int, float)) or not math.isfinite(state["wall"]) or state["wall"] < 0:
            raise ConfigError(str(f), f"'wall' must be a finite number >= 0, got {state['wall']!r}")
        if not isinstance(state["status"], str):
            raise ConfigError(str(f), f"'status' must be a string, got {state['status']!r}")
        for key in ("model", "optimizer", "weighting"):
            if not isinstance(state[key], dict):
                raise ConfigError(str(f), f"'{key}' must be a dict, got {type(state[key]).__name__}")
        if not isinstance(state["generator"], torch.Tensor) or state["generator"].dtype != torch.uint8:
            raise ConfigError(str(f), "'generator' must be a byte tensor (the sampling RNG state)")
        return state

    def metrics(self, before: int | None = None) -> list[StepRecord]:
        """Step records from disk (those with step < ``before``, if given). ConfigError naming metrics.parquet if
        it cannot be read, lacks a column or holds something other than numbers."""
        f = self._regular("metrics.parquet")
        if f is None:
            return []
        try:
            df = pd.read_parquet(f)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... on a damaged file
            raise ConfigError(str(f), f"unreadable Parquet ({first_line(exc, 80)})") from None
        if df.empty:
            return []
        for col in ("step", "lr", "wall"):
            if col not in df.columns:
                raise ConfigError(str(f), f"has no column '{col}'")
        losses = [c for c in df.columns if c.startswith("loss_")]
        lambdas = [c for c in df.columns if c.startswith("lambda_")]
        unknowns = [c for c in df.columns if c.startswith("unknown_")]
        if not losses:
            raise ConfigError(str(f), "has no loss_<term> column")
        for col in ("step", "lr", "wall", *losses, *lambdas, *unknowns):
            if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
                raise ConfigError(str(f), f"column '{col}' must hold numbers, not {df[col].dtype}")
        if df["step"].isna().any() or not (df["step"] == df["step"].round()).all():
            raise ConfigError(str(f), "column 'step' must hold whole numbers")
        if before is not None:
            df = df[df["step"] < before]
        return [StepRecord(int(r["step"]), {c[5:]: float(r[c]) for c in losses},
                           {c[7:]: float(r[c]) for c in lambdas}, float(r["lr"]), float(r["wall"]),
                           {c[8:]: float(r[c]) for c in unknowns})
                for r in df.to_dict("records")]

    def snapshots(self, kind: str, upto: int | None = None) -> list:
        """Stored 'eval', 'grad', 'hess' or 'ntk' snapshots in step order (those with step <= ``upto``, if given).
        ConfigError naming the file for one that is truncated, lacks a key or is inconsistent."""
        cls = SNAPSHOTS[kind]
        out = []
        snaps = self.path / "snapshots"
        if snaps.exists() and not snaps.is_dir():
            raise ConfigError(str(snaps), "is not a directory")
        for f in sorted(snaps.glob(f"{kind}_*.npz")):
            snap = self._snapshot(f, cls)
            if upto is None or snap.step <= upto:
                out.append(snap)
        return out

    @staticmethod
    def _snapshot(f: Path, cls):
        if not f.is_file():
            raise ConfigError(str(f), "is a directory, not a file")
        try:
            with np.load(f, allow_pickle=False) as a:
                snap = cls.from_arrays({k: a[k] for k in a.files})
        except KeyError as exc:
            raise ConfigError(str(f), f"incomplete snapshot: no {exc}") from None
        except Exception as exc:  # BadZipFile, EOFError, ValueError (object arrays refused), zlib.error, ...
            raise ConfigError(str(f), f"unreadable snapshot ({first_line(exc, 80)})") from None
        problem = _snapshot_problem(snap)
        if problem:
            raise ConfigError(str(f), problem)
        return snap

    def reference(self) -> tuple[np.ndarray, np.ndarray] | None:
        f = self._regular("reference.npz")
        if f is None:
            return None
        try:
            with np.load(f, allow_pickle=False) as a:
                grid, field = a["grid"], a["field"]
        except KeyError as exc:
            raise ConfigError(str(f), f"incomplete: no {exc}") from None
        except Exception as exc:
            raise ConfigError(str(f), f"unreadable ({first_line(exc, 80)})") from None
        if grid.ndim != 2 or field.size != grid.shape[0] or not np.issubdtype(field.dtype, np.number):
            raise ConfigError(str(f), f"grid {grid.shape} and field {field.shape} do not match")
        return grid, field


def _snapshot_problem(snap) -> str | None:
    """What is inconsistent in a loaded snapshot (shapes the viewers rely on), or None."""
    def numeric(a) -> bool:
        return isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.number)

    if snap.step < 0:
        return f"negative step {snap.step}"
    if isinstance(snap, EvalSnapshot):
        if not numeric(snap.prediction) or snap.prediction.ndim not in (1, 2):
            return "prediction must be a 1D or 2D array of numbers"
    elif isinstance(snap, GradSnapshot):
        shape = (len(snap.terms), len(snap.layers))
        if not all(numeric(a) for a in (snap.edges, snap.counts, snap.max_abs, snap.mean_abs, snap.l2)):
            return "histogram arrays must hold numbers"
        if snap.counts.shape != (*shape, len(snap.edges) - 1) or any(
                a.shape != shape for a in (snap.max_abs, snap.mean_abs, snap.l2)):
            return f"array shapes do not match {shape[0]} terms x {shape[1]} layers"
    elif isinstance(snap, KernelSpectrum):
        if not all(numeric(np.asarray(a)) and np.asarray(a).ndim == 1 for a in (snap.total, *snap.terms.values())):
            return "eigenvalues must be 1D arrays of numbers"
    return None
