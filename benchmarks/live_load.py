"""Many browsers on one server: N browser contexts press Start at once (the default compare, 4 runs each).

    python benchmarks/live_load.py [--contexts 8] [--steps 2000]

Measures, on one server with its default limits: exception boxes; the longest gap between two redraws of each
page while its runs are queued or training (the "redrawn HH:MM:SS" line of the live panel); that the queue drains
and every run ends finished and loadable from disk; the largest total RSS of the server and its worker processes;
and the summed training rate, total steps / (first Start -> last finish), against the same four runs trained one
after another headless with ``pinn train --compile`` in this invocation (steps / that wall time).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_compare import CARDS, CHROMIUM, ROOT, rss_bytes, serve, tree, wait_idle  # noqa: E402

REDRAWN = """() => { const m = document.body.innerText.match(/redrawn (\\d\\d):(\\d\\d):(\\d\\d)/);
  return m ? (+m[1]) * 3600 + (+m[2]) * 60 + (+m[3]) : null; }"""


def headless(steps: int, tmp: Path) -> float:
    """Steps per second of M1-M4 trained one after another with `pinn train --compile`, whole commands."""
    t0 = time.time()
    for m in ("M1", "M2", "M3", "M4"):
        subprocess.run([sys.executable, "-m", "pinncli.main", "train", "--problem", "helmholtz", "--method", m,
                        "--steps", str(steps), "--compile", "--out", str(tmp / f"headless-{m}")], cwd=ROOT,
                       check=True, capture_output=True)
    return 4 * steps / (time.time() - t0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--contexts", type=int, default=8)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--timeout", type=float, default=3600.0)
    a = p.parse_args()
    from playwright.sync_api import sync_playwright

    from pinncore.run import Run

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        reference = headless(a.steps, tmp)
        proc, url = serve(ROOT, tmp / "runs")
        peak, stop = [0], threading.Event()

        def sample_rss():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_bytes(tree(proc.pid)))
                time.sleep(0.5)

        threading.Thread(target=sample_rss, daemon=True).start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
                pages = [browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
                         for _ in range(a.contexts)]
                for page in pages:
                    page.goto(f"{url}/?steps={a.steps}")
                    page.locator(".st-key-btn_start button").first.wait_for(state="visible", timeout=120_000)
                page.wait_for_timeout(2000)
                t0 = time.time()
                for page in pages:
                    page.locator(".st-key-btn_start button").first.click(no_wait_after=True)
                result = follow(pages, a.timeout)
                result["wall_s"] = round(time.time() - t0, 1)
                result["exceptions"] = sum(pg.locator("[data-testid='stException']").count() for pg in pages)
                browser.close()
        finally:
            stop.set()
            proc.terminate()
            proc.wait(60)
        runs = sorted((tmp / "runs" / "dashboard").iterdir())
        finished = sum(Run.view(r).trainer.status == "finished" for r in runs)
    rate = 4 * a.contexts * a.steps / result["wall_s"]
    print(json.dumps({**result, "runs": len(runs), "finished_and_loadable": finished,
                      "peak_rss_gib": round(peak[0] / 2**30, 2), "dashboard_steps_per_s": round(rate, 1),
                      "headless_sequential_steps_per_s": round(reference, 1),
                      "ratio": round(rate / reference, 3)}, indent=1))
    return 0


def follow(pages, timeout: float) -> dict:
    """Sample every page until all runs finished: the longest gap between redraws while not all finished."""
    t0, last, gaps = time.time(), {}, {i: 0.0 for i in range(len(pages))}
    while time.time() - t0 < timeout:
        done = True
        for i, page in enumerate(pages):
            stamp = page.evaluate(REDRAWN)
            cards = page.evaluate(CARDS)
            finished = len(cards) >= 4 and all("finished" in label for label, _ in cards)
            done &= finished
            now = time.time()
            if stamp is not None and last.get(i, (None,))[0] != stamp:
                last[i] = (stamp, now)
            elif i in last and not finished:
                gaps[i] = max(gaps[i], now - last[i][1])
        if done:
            break
        time.sleep(0.25)
    else:
        for i, page in enumerate(pages):  # what the pages show when it gave up
            print(f"page {i}: {page.evaluate(CARDS)}", file=sys.stderr)
    return {"longest_redraw_gap_s": round(max(gaps.values()), 1), "per_page_gap_s": gaps}


if __name__ == "__main__":
    sys.exit(main())
