"""Runs as the exports read them: everything of a run directory in one ``RunData``, read-only, through
``pinncore.store.RunStore``; unique labels for a set of runs; and writing the exports atomically.

Any run directory loads: finished, unfinished (its metrics end at the last checkpoint, its snapshots may go
further), stopped, diverged (non-finite values are kept), read-only or being trained by another process. What is
not a run, or is corrupt, is a ConfigError naming the directory and the file.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from pinncore import ConfigError, RunConfig
from pinncore.records import (AlignmentRecord, CausalRecord, EvalSnapshot, GradSnapshot, HessianSnapshot,
                              KernelSpectrum, KernelTraces)
from pinncore.store import RunStore, metrics_frame

# what a corrupt file raises when numpy, pandas / pyarrow or the record classes read it
_READ_ERRORS = (OSError, ValueError, KeyError, IndexError, TypeError, EOFError, zipfile.BadZipFile)


@dataclass
class RunData:
    path: Path
    config: RunConfig
    summary: dict
    metrics: pd.DataFrame           # one row per step: step, lr, wall, loss_<term>, lambda_<term>, unknown_<name>
    grads: list[GradSnapshot]
    evals: list[EvalSnapshot]
    hess: list[HessianSnapshot]
    reference: tuple[np.ndarray, np.ndarray] | None  # (grid points (N, dim), field shaped like a prediction)
    label: str = ""                 # unique within an export (set by ``load_runs``)
    terms: tuple[str, ...] = field(default=())
    kernels: list[KernelTraces] = field(default_factory=list)      # Tr K_ii per term (pinncore.kernels)
    spectra: list[KernelSpectrum] = field(default_factory=list)    # NTK eigenvalues at gradient snapshots
    aligns: list[AlignmentRecord] = field(default_factory=list)    # the terms' gradient alignment
    causal: list[CausalRecord] = field(default_factory=list)       # causal weights per time chunk

    @property
    def status(self) -> str:
        return str(self.summary.get("status", "unknown"))

    @property
    def steps_done(self) -> int:
        if "steps_done" in self.summary:
            return int(self.summary["steps_done"])
        return int(self.metrics["step"].max()) + 1 if len(self.metrics) else 0

    @property
    def final_error(self) -> tuple[float, int] | None:
        """(relative L2 error, its step) of the last stored evaluation."""
        return (self.evals[-1].rel_l2, self.evals[-1].step) if self.evals else None

    @property
    def final_lambdas(self) -> dict[str, float]:
        lam = self.summary.get("lambdas")
        if isinstance(lam, dict) and lam:
            return {str(k): float(v) for k, v in lam.items()}
        if len(self.metrics):
            last = self.metrics.iloc[-1]
            return {c[7:]: float(last[c]) for c in self.metrics.columns if c.startswith("lambda_")}
        return {}

    @property
    def final_unknowns(self) -> dict[str, float]:
        """The unknown coefficients' last values (an inverse problem's), from the summary or the metrics."""
        known = self.summary.get("unknowns")
        if isinstance(known, dict) and known:
            return {str(k): float(v) for k, v in known.items()}
        if len(self.metrics):
            last = self.metrics.iloc[-1]
            return {c[8:]: float(last[c]) for c in self.metrics.columns if c.startswith("unknown_")}
        return {}

    def problem(self):
        return self.config.make_problem()  # a spec problem too


def _corrupt(path: Path, what: str, exc: BaseException) -> ConfigError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ConfigError("run", f"'{path}': corrupt {what} ({type(exc).__name__}: {reason})")


def _read(path: Path, what: str, read):
    try:
        return read()
    except ConfigError:
        raise
    except _READ_ERRORS as exc:
        raise _corrupt(path, what, exc) from None


def load_run(path: str | os.PathLike) -> RunData:
    """Everything stored in one run directory; ConfigError (one line naming it) when it is not a run or corrupt."""
    path = Path(path)
    if not path.is_dir():
        raise ConfigError("run", f"'{path}' is not a directory")
    if not (path / "config.json").is_file():
        raise ConfigError("run", f"'{path}' is not a run directory (no config.json)")
    store = RunStore(path)
    config = store.config()  # the store's ConfigErrors name the file already; raw errors are wrapped here
    summary = _read(path, "summary.json", getattr(store, "summary_checked", store.summary))
    metrics = metrics_frame(_read(path, "metrics.parquet", store.metrics))
    snaps = {kind: _read(path, f"snapshots/{kind}_*.npz", lambda: store.snapshots(kind))
             for kind in ("grad", "eval", "hess", "ntk")}
    series = {kind: _read(path, f"{kind}.parquet", lambda: store.series(kind))
              for kind in ("kernel", "alignment", "causal")}
    reference = _read(path, "reference.npz", store.reference)
    terms = tuple(c[5:] for c in metrics.columns if c.startswith("loss_"))
    if not terms and snaps["grad"]:
        terms = snaps["grad"][0].terms
    return RunData(path, config, summary, metrics, snaps["grad"], snaps["eval"], snaps["hess"], reference,
                   label=config.label(), terms=terms, kernels=series["kernel"], spectra=snaps["ntk"],
                   aligns=series["alignment"], causal=series["causal"])


def load_runs(paths: Sequence[str | os.PathLike]) -> list[RunData]:
    """Every run, with labels made unique (the method's label, then the directory name where two share one)."""
    if not paths:
        raise ConfigError("runs", "no run directory given")
    runs = [load_run(p) for p in paths]
    seen: set[Path] = set()
    for r in runs:
        key = r.path.resolve()
        if key in seen:
            raise ConfigError("runs", f"'{r.path}' is given twice")
        seen.add(key)
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.label] = counts.get(r.label, 0) + 1
    for r in runs:
        if counts[r.label] > 1:
            r.label = f"{r.label} · {r.path.name}"
    taken: set[str] = set()
    for r in runs:  # directories of the same name under different parents
        base, i = r.label, 2
        while r.label in taken:
            r.label, i = f"{base} ({i})", i + 1
        taken.add(r.label)
    return runs


# -- writing ----------------------------------------------------------------------------------------------------
def check_target_file(path: Path, field_name: str) -> None:
    """Fail early, before any work, when ``path`` cannot become a file: a directory, or an unwritable parent."""
    if path.is_dir():
        raise ConfigError(field_name, f"'{path}' is a directory, not a file")
    parent = _existing_parent(path.parent)
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(field_name, f"cannot write '{path}': '{parent}' is not a writable directory")


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def write_file_atomically(path: Path, data: bytes, field_name: str) -> None:
    """A temporary file beside ``path``, readable by all (0644: an export is for sharing), then a rename."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), 0o644)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:  # Ctrl-C included: no temporary file is left behind
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ConfigError(field_name, f"cannot write '{path}' ({exc.strerror or exc})") from None
        raise


def publish_dirs(staging: Path, names: Iterable[str], logdir: Path, field_name: str) -> None:
    """Move ``staging/<name>`` to ``logdir/<name>`` for every name: all of them or, on failure, none."""
    done: list[Path] = []
    try:
        for name in names:
            target = logdir / name
            os.rename(staging / name, target)
            done.append(target)
    except OSError as exc:
        for target in done:
            shutil.rmtree(target, ignore_errors=True)
        raise ConfigError(field_name, f"cannot write '{logdir}' ({exc.strerror or exc})") from None


def staging_dir(logdir: Path, field_name: str) -> Path:
    """A fresh hidden directory inside ``logdir`` (created if needed) to write into before publishing."""
    try:
        logdir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=logdir, prefix=".export-"))
    except OSError as exc:
        raise ConfigError(field_name, f"cannot write '{logdir}' ({exc.strerror or exc})") from None
