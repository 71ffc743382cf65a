"""Numbers to text for the report: number and time formats, error statistics over seeds, the ratio to the paper
and its flag, the acceptance verdict, the hand-written notes file, and the line that names the machine."""
from __future__ import annotations

import math
import platform
import re
from pathlib import Path
from typing import Any

import pandas as pd

from ..paper import BOUNDS
from ..provenance import host_info

FLAG_RATIO = 2.0  # a mean error further than this factor from the paper's is flagged and explained


def fmt(x: Any, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}e}"


def fmt_time(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def stats(errors: pd.Series) -> dict[str, Any]:
    e = errors.dropna()
    return {"n": len(e), "mean": float(e.mean()) if len(e) else None,
            "std": float(e.std(ddof=1)) if len(e) > 1 else None,
            "min": float(e.min()) if len(e) else None, "max": float(e.max()) if len(e) else None}


def verdict(problem: str, method: str, mean: float | None) -> str:
    bound = BOUNDS.get((problem, method))
    if bound is None:
        return ""
    op, value = bound
    if mean is None:
        return f"{op} {value:.0e}: no result"
    ok = mean >= value if op == ">=" else mean <= value
    return f"{op} {value:.0e}: {'met' if ok else '**not met**'}"


def ratio(ours: float | None, paper: float | None) -> float | None:
    return ours / paper if ours is not None and paper else None


def flagged(r: float | None) -> bool:
    return r is not None and (r > FLAG_RATIO or r < 1 / FLAG_RATIO)


def read_notes(path: Path | None) -> list[tuple[str, str]]:
    """(heading, body) for each '## heading' section of the notes file."""
    if path is None or not path.is_file():
        return []
    sections: list[tuple[str, str]] = []
    for block in re.split(r"(?m)^## ", path.read_text(encoding="utf-8"))[1:]:
        heading, _, body = block.partition("\n")
        sections.append((heading.strip(), body.strip()))
    return sections


def note_key(text: str) -> str:
    return " ".join(text.lower().replace("(", " ").replace(")", " ").split())


def machine(meta: dict) -> str:
    import torch

    hosts = {repr(h) for h in (meta.get("hosts") or {}).values() if h}
    h = meta.get("driver") or host_info()
    line = (f"{h.get('cpu')}, {h.get('cores')} cores, torch {h.get('torch', torch.__version__)}, "
            f"Python {h.get('python', platform.python_version())}, {h.get('platform', platform.platform())}")
    if len(hosts) > 1:
        line += f" ({len(hosts)} different hosts trained the runs: see sweep.json)"
    return line
