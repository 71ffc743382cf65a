"""A lesson of the Lessons page at its defaults, timed as a user meets it: the page open in Streamlit's AppTest, one
lesson at a time, *Run* pressed, the page redrawn every half second until the experiment ends. Prints, per
repeat, the experiment's own time (its worker thread, start to end) and the page's (click to the last redraw), the
lesson's measured sentence and its table; the numbers of docs/dashboard/lessons.md.

    nice -n 19 python benchmarks/lesson_time.py l8 [--repeats 2] [--json out.json]
    python benchmarks/lesson_time.py l4 l8      # several lessons, one after the other
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PAGE = str(ROOT / "dashboard" / "subpages" / "lessons_page.py")


def time_lesson(key: str) -> dict:
    """Run one lesson at its defaults; its seconds, status, measured sentence and table."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(PAGE, default_timeout=300)
    at.run()
    t0 = time.perf_counter()
    at.button(key=f"btn_{key}").click().run()
    exp = at.session_state["lessons"][key]
    while exp.active:
        time.sleep(0.5)
        at.run()
    at.run()
    page = time.perf_counter() - t0
    said = [c.value for c in at.caption if c.value.startswith("Measured")]
    return {"lesson": key, "status": exp.status, "experiment_s": round(exp.elapsed, 2), "page_s": round(page, 2),
            "exception": [str(e.value) for e in at.exception], "measured": said,
            "tables": [d.value.to_dict(orient="records") for d in at.dataframe]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lessons", nargs="+", help="lesson keys: l1 ... l8")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)
    os.environ.setdefault("PINN_WARM", "0")
    from pinncore.engine import cpu_model

    out = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_model(), "cores": os.cpu_count(),
           "python": platform.python_version(), "load_before": os.getloadavg(), "runs": []}
    for _ in range(args.repeats):
        for key in args.lessons:
            got = time_lesson(key)
            out["runs"].append(got)
            print(f"{key}: {got['status']}, experiment {got['experiment_s']:.1f} s, page {got['page_s']:.1f} s, "
                  f"load {os.getloadavg()[0]:.1f}")
            for line in got["measured"]:
                print("  " + line)
            for table in got["tables"]:
                for row in table:
                    print("  ", row)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
