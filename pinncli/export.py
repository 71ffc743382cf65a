"""``pinn export RUN [RUN ...] --html FILE / --tensorboard DIR``: a comparison as one standalone HTML page, and
the runs as TensorBoard event files (pinnlab.export). Reads the runs only; bad input is one line, exit 2."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from pinncore import ConfigError


def add_export_parser(sub) -> None:
    x = sub.add_parser("export", help="export runs: one standalone HTML page, or TensorBoard event files",
                       description="Write the comparison of the given runs as one self-contained HTML file (Plotly "
                                   "embedded, no network needed to view it) and/or as TensorBoard event files, one "
                                   "TensorBoard run per run (scalars, the stored gradient histograms, the fields "
                                   "as images). The runs are only read: finished, unfinished or being trained.")
    x.add_argument("runs", nargs="+", metavar="RUN", help="run directories")
    x.add_argument("--html", metavar="FILE", help="the standalone HTML page to write")
    x.add_argument("--tensorboard", metavar="DIR", help="TensorBoard log directory (one subdirectory per run)")


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def export_command(a: argparse.Namespace) -> int:
    if not a.html and not a.tensorboard:
        raise ConfigError("export", "give --html FILE and/or --tensorboard DIR")
    from pinnlab.export import write_html, write_tensorboard

    if a.html:
        t = time.perf_counter()
        path = write_html(a.runs, a.html)
        print(f"wrote {path} ({_size(path) / 1e6:.2f} MB, {time.perf_counter() - t:.1f} s)")
    if a.tensorboard:
        t = time.perf_counter()
        dirs = write_tensorboard(a.runs, a.tensorboard)
        total = sum(_size(d) for d in dirs)
        print(f"wrote {len(dirs)} TensorBoard run(s) to {a.tensorboard} ({total / 1e6:.2f} MB, "
              f"{time.perf_counter() - t:.1f} s): {', '.join(d.name for d in dirs)}")
        print(f"view with: tensorboard --logdir {a.tensorboard}")
    return 0
