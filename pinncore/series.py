"""The run's diagnostic series on disk: one Parquet table per kind of row-record, one row per record, written
atomically with the metrics (``Run.save``) and read back like them.

    kernel.parquet     KernelTraces      step, points, trace_<term>
    alignment.parquet  AlignmentRecord   step, score, layer_<weight matrix>
    causal.parquet     CausalRecord      step, eps, t_<i>, loss_<i>, w_<i>

A damaged table is a ConfigError naming the file (one line), like every run file; a run written before these
existed has none of them, and reads as having no such records.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable

import pandas as pd

from .errors import ConfigError, first_line
from .records import AlignmentRecord, CausalRecord, KernelTraces

SERIES = {"kernel": KernelTraces, "alignment": AlignmentRecord, "causal": CausalRecord}
FILES = {kind: f"{kind}.parquet" for kind in SERIES}


def kind_of(record) -> str | None:
    """The series a record belongs to, None for any other record."""
    return next((k for k, cls in SERIES.items() if type(record) is cls), None)


def series_frame(records: Iterable) -> pd.DataFrame:
    return pd.DataFrame([r.row() for r in records])


def series_bytes(records: list) -> bytes:
    buf = io.BytesIO()
    series_frame(records).to_parquet(buf, index=False)
    return buf.getvalue()


def read_series(f: Path, kind: str, before: int | None = None) -> list:
    """The records of one table (those with step < ``before``, if given); [] when there is no file."""
    if not f.exists() and not f.is_symlink():
        return []
    if not f.is_file():
        raise ConfigError(str(f), "is a directory, not a file")
    try:
        df = pd.read_parquet(f)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... on a damaged file
        raise ConfigError(str(f), f"unreadable Parquet ({first_line(exc, 80)})") from None
    if df.empty:
        return []
    if "step" not in df.columns:
        raise ConfigError(str(f), "has no column 'step'")
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            raise ConfigError(str(f), f"column '{col}' must hold numbers, not {df[col].dtype}")
    if df["step"].isna().any() or not (df["step"] == df["step"].round()).all() or (df["step"] < 0).any():
        raise ConfigError(str(f), "column 'step' must hold whole numbers >= 0")
    if before is not None:
        df = df[df["step"] < before]
    try:
        return [SERIES[kind].from_row(row) for row in df.to_dict("records")]
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(str(f), f"incomplete rows ({first_line(exc, 60)})") from None
