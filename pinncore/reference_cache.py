"""A small on-disk cache of named float64 arrays for the computed reference solutions (Burgers, Allen-Cahn).

One ``.npz`` file per key, in ``$PINNCORE_CACHE`` or ``~/.cache/pinncore`` (the cavity reference's folder). The
file stores its key next to the arrays; a file whose key, names or values do not check out (missing, truncated,
written by another version, non-finite) is ignored and the arrays are recomputed. Writes are atomic (a temporary
file, then ``os.replace``); a folder that cannot be written only costs the recomputation next time.
"""
from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["cache_folder", "cached_arrays"]


def cache_folder(cache_dir: str | os.PathLike | None = None) -> Path:
    if cache_dir is None:
        cache_dir = os.environ.get("PINNCORE_CACHE") or Path.home() / ".cache" / "pinncore"
    return Path(cache_dir)


def _read(path: Path, key: str, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as d:
            if str(d["__key__"]) != key:
                return None
            arrays = {k: np.array(d[k], dtype=np.float64) for k in names}
    except Exception:  # missing, truncated or corrupt file, or another layout: recompute
        return None
    return arrays if all(np.all(np.isfinite(a)) for a in arrays.values()) else None


def _write(path: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(delete=False, dir=path.parent, suffix=".tmp") as f:
            tmp = f.name
            np.savez(f, __key__=np.array(key), **arrays)
        os.replace(tmp, path)
    except OSError as exc:
        warnings.warn(f"could not write reference cache {path}: {exc}", RuntimeWarning, stacklevel=3)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def cached_arrays(stem: str, key: dict, names: tuple[str, ...], compute: Callable[[], dict[str, np.ndarray]],
                  cache_dir: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The arrays ``names`` for ``key`` from ``<folder>/<stem>.npz``, or ``compute()`` written there first.

    ``key`` (a JSON-able dict: the solver's parameters and version) is stored in the file and must match."""
    text = json.dumps(key, sort_keys=True)
    path = cache_folder(cache_dir) / f"{stem}.npz"
    arrays = _read(path, text, names)
    if arrays is not None:
        return arrays
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in compute().items()}
    if set(arrays) != set(names):
        raise RuntimeError(f"cached_arrays({stem!r}): computed {sorted(arrays)}, expected {sorted(names)}")
    _write(path, text, arrays)
    return arrays
