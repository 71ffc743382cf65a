"""Training speed through the dashboard vs headless, measured in one invocation.

    python benchmarks/dashboard_overhead.py [--steps 4000] [--repeats 3]

Both sides train the same M2 Helmholtz run (the dashboard's default setup in single-run mode, 3x50, seed 0):
- headless: ``pinn train --config ...`` through ``pinncli.main.main`` in this process (no start-up counted);
- dashboard: the real page (``dashboard/app.py``) under Streamlit's AppTest. Start is clicked, and the whole
  page, live panel and Plotly figures included, is re-run once a second until the run finishes, while the
  run trains in its RunHandle worker thread.
Rate = steps / wall-clock seconds from start to finish. The two alternate, ``--repeats`` times each; medians
are reported. Requirement: the dashboard keeps at least 80 % of the headless rate.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.settings import build_configs, defaults  # noqa: E402
from pinncli.main import main as pinn  # noqa: E402


def setup(steps: int) -> dict:
    return defaults() | {"mode": "single", "model": "mlp", "weighting": "annealing", "steps": steps}


def headless(steps: int, tmp: Path) -> float:
    cfg = tmp / "m2.json"
    cfg.write_text(build_configs(setup(steps))[0].to_json())
    out = tmp / f"cli-{time.time_ns()}"
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        t0 = time.perf_counter()
        code = pinn(["train", "--config", str(cfg), "--out", str(out)])  # progress bar and summary muted
        elapsed = time.perf_counter() - t0
    assert code == 0 and json.loads((out / "summary.json").read_text())["steps_done"] == steps
    return steps / elapsed


def dashboard(steps: int, tmp: Path) -> tuple[float, int]:
    from streamlit.testing.v1 import AppTest

    os.environ["PINN_RUNS_DIR"] = str(tmp / "dash")
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    at.run()
    for key, value in setup(steps).items():
        at.session_state[f"w_{key}"] = value
    t0 = time.perf_counter()
    at.button(key="btn_start").click().run()
    handle = next(iter(at.session_state["handles"].values()))
    redraws, last = 0, time.perf_counter()
    while handle.active:  # notice the end within 20 ms; redraw the whole page every second, as the page does
        time.sleep(0.02)
        if time.perf_counter() - last >= 1.0:
            at.run()
            redraws, last = redraws + 1, time.perf_counter()
    elapsed = time.perf_counter() - t0
    handle.join(30)
    assert handle.view().steps_done == steps and not at.exception, handle.status
    return steps / elapsed, redraws


def main() -> int:
    p = argparse.ArgumentParser(description="dashboard vs headless training speed")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(1)
    cli, dash, redraws = [], [], []
    with tempfile.TemporaryDirectory() as d:
        for i in range(a.repeats):
            cli.append(headless(a.steps, Path(d)))
            rate, n = dashboard(a.steps, Path(d))
            dash.append(rate)
            redraws.append(n)
            print(f"repeat {i + 1}: headless {cli[-1]:.1f} steps/s, dashboard {rate:.1f} steps/s "
                  f"({n} full-page redraws)", file=sys.stderr, flush=True)
    c, s = statistics.median(cli), statistics.median(dash)
    print(json.dumps({"steps": a.steps, "repeats": a.repeats, "headless_steps_per_s": round(c, 1),
                      "dashboard_steps_per_s": round(s, 1), "ratio": round(s / c, 3),
                      "redraws_per_run": statistics.median(redraws), "required_ratio": 0.8,
                      "ok": s / c >= 0.8}))
    return 0 if s / c >= 0.8 else 1


if __name__ == "__main__":
    sys.exit(main())
