"""Renew the documentation's screenshots from the current code, with one command:

    python docs/tools/screenshots.py [--out docs/images] [--only overview lessons ...]

Trains a tiny sweep (for the Sweeps page), starts ``pinn dashboard`` on a free localhost port with a temporary
runs root (PINN_RUNS_DIR), drives it in headless Chromium (Debian's /usr/bin/chromium, through Playwright) at a
1280x720 viewport, and writes one PNG per shot into ``--out`` (palette PNGs, to keep the repository small). The
shots: the default compare (M1-M4 on Helmholtz, 3,000 steps) finished, each of its views, the sidebar's settings,
*Open a saved run*, *Your own PDE* checked, the Lessons page after lesson 1, the Sweeps page, and the exported
comparison page. It takes about five minutes on two cores; run it with ``nice -n 19`` on a shared machine.
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the checkout's packages, as the server it starts uses them
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 720}
VIEWS = {"loss": "Loss & λ", "histograms": "Gradient histograms", "fields": "Error fields",
         "stiffness": "Stiffness", "compare": "Compare & export"}
FINISHED = """() => Array.from(document.querySelectorAll('.pinn-card'))
  .filter(c => /finished/.test(c.innerText) && /step 3,000/.test(c.innerText)).length"""
SHOTS = ("overview", *VIEWS, "settings", "saved-runs", "own-pde", "lessons", "sweeps", "export-page")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinn(*args: str, env: dict) -> None:
    """``pinn ARGS`` in this interpreter's environment; a failure stops the script with its output."""
    subprocess.run([sys.executable, "-m", "pinncli", *args], cwd=ROOT, env=env, check=True)


def serve(runs: Path, log: Path, env: dict) -> tuple[subprocess.Popen, str]:
    """``pinn dashboard`` on a free port of 127.0.0.1, its output in ``log``; returns once it answers."""
    port = free_port()
    out = open(log, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "pinncli", "dashboard", "--port", str(port), "--runs", str(runs)],
                            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the dashboard did not come up: " + log.read_text())


def save(image, path: Path) -> None:
    """Screenshot bytes -> a palette PNG (a third of the size; the charts use few colours)."""
    from io import BytesIO

    from PIL import Image

    Image.open(BytesIO(image)).convert("RGB").quantize(colors=256, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({path.stat().st_size // 1024} KiB)")


def settle(page, ms: int = 1500) -> None:
    """Let Streamlit finish a redraw: no stale elements, no spinner, then a moment for Plotly to draw; the mouse
    rests in an empty corner, so that no tooltip or hover shows."""
    page.mouse.move(2, 2)
    page.wait_for_function("() => !document.querySelector(\"[data-stale='true'], [data-testid='stSpinner']\")",
                           timeout=60_000)
    page.wait_for_timeout(ms)


def tall_shot(page, path: Path, most: int = 2400) -> None:
    """The whole page at 1280 px wide: Streamlit scrolls its main area inside the window, so the window is made
    as tall as that area's content (at most ``most`` px) for the shot, and set back after it."""
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                           " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], min(int(height), most))})
    settle(page, 1500)
    save(page.screenshot(), path)
    page.set_viewport_size(VIEWPORT)
    settle(page, 500)


def finished_compare(page, url: str, timeout_s: float) -> None:
    """Open the live lab, press Start (the default: M1-M4 on Helmholtz, 3,000 steps) and wait for four finished runs."""
    page.goto(url)
    start = page.locator(".st-key-btn_start button").first
    start.wait_for(state="visible", timeout=60_000)
    page.wait_for_timeout(1000)
    start.click()
    deadline = time.time() + timeout_s
    t0 = time.time()
    while page.evaluate(FINISHED) < 4:
        if time.time() > deadline:
            raise SystemExit("the compare did not finish in time")
        page.wait_for_timeout(2000)
    print(f"the compare finished {time.time() - t0:.0f} s after Start")
    settle(page, 3000)


def lab_shots(page, url: str, out: Path, only: set[str], timeout_s: float) -> None:
    """The compare's views, the sidebar's settings and the saved runs, one PNG each."""
    finished_compare(page, url, timeout_s)
    if "overview" in only:
        save(page.screenshot(), out / "overview.png")
    for name, label in VIEWS.items():
        if name in only:
            page.locator(".st-key-w_view").get_by_text(label, exact=True).click()
            settle(page, 2500)
            tall_shot(page, out / f"{name}.png")
    sidebar = page.locator("[data-testid='stSidebar']")
    if "settings" in only:
        for label in ("Model and weighting", "Optimiser and sampling", "Diagnostics and device"):
            sidebar.get_by_text(label, exact=True).click()
            settle(page, 500)
        page.set_viewport_size({"width": 1280, "height": 2000})
        settle(page, 500)
        save(sidebar.screenshot(), out / "settings.png")
        for label in ("Model and weighting", "Optimiser and sampling", "Diagnostics and device"):
            sidebar.get_by_text(label, exact=True).click()
            settle(page, 500)
        page.set_viewport_size(VIEWPORT)
    if "saved-runs" in only:
        sidebar.get_by_text("Open a saved run", exact=True).click()
        settle(page, 1000)
        page.locator(".st-key-w_saved").first.scroll_into_view_if_needed()
        page.locator(".st-key-w_saved").first.click()  # the list of runs, open
        page.wait_for_timeout(1000)
        save(page.screenshot(), out / "saved-runs.png")


def own_pde_shot(page, url: str, out: Path) -> None:
    """*Your own PDE* with the wave example (examples/problems/wave.toml) checked, opened by a link that carries it."""
    from urllib.parse import quote

    from dashboard.custom_pde import encode

    spec = encode((ROOT / "examples" / "problems" / "wave.toml").read_text())
    page.goto(f"{url}/?problem=custom&spec={quote(spec)}")
    check = page.locator(".st-key-btn_spec_check button").first
    check.wait_for(state="visible", timeout=60_000)
    settle(page, 500)
    check.click()
    page.locator(".st-key-fig_spec_solution .js-plotly-plot").first.wait_for(timeout=120_000)
    settle(page, 2000)
    tall_shot(page, out / "own-pde.png")


def lessons_shot(page, url: str, out: Path, timeout_s: float) -> None:
    """The Lessons page once lesson 1 (the imbalance against C) has trained."""
    page.goto(url + "/Lessons")
    run = page.locator(".st-key-btn_l1 button").first
    run.wait_for(state="visible", timeout=60_000)
    page.wait_for_timeout(1000)
    run.click()
    deadline = time.time() + timeout_s
    while not page.get_by_text(re.compile(r"^finished · \d+ s$")).count():
        if time.time() > deadline:
            raise SystemExit("lesson 1 did not finish in time")
        page.wait_for_timeout(2000)
    settle(page, 2000)
    tall_shot(page, out / "lessons.png")


def sweeps_shot(page, url: str, out: Path) -> None:
    """The Sweeps page with the tiny sweep trained before the server started."""
    page.goto(url + "/Sweeps")
    page.locator(".st-key-sw_heatmap .js-plotly-plot").first.wait_for(timeout=60_000)
    settle(page, 2000)
    tall_shot(page, out / "sweeps.png")


def export_shot(browser, runs: Path, tmp: Path, out: Path, env: dict) -> None:
    """``pinn export`` of the compare's four runs as one page, opened from the file."""
    page_file = tmp / "compare.html"
    pinn("export", *sorted(str(p) for p in (runs / "dashboard").iterdir()), "--html", str(page_file), env=env)
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.goto(page_file.as_uri())
    page.wait_for_timeout(4000)
    save(page.screenshot(), out / "export-page.png")
    page.close()


def tiny_sweep(runs: Path, env: dict) -> None:
    """Eight 1,000-step Helmholtz runs: the one the Sweeps page suggests when there is none."""
    pinn("sweep", "--grid", "problem=helmholtz", "method=M1,M2", "depth=2,3", "width=20,50", "seed=0", "steps=1000",
         "eval_every=500", "grad_every=500", "--out", str(runs / "sweeps" / "quick"), "--quiet", env=env)


def shoot(out: Path, only: set[str], timeout_s: float) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pinn-shots-") as tmp_name:
        tmp = Path(tmp_name)
        runs = tmp / "runs"
        env = dict(os.environ, PINN_RUNS_DIR=str(runs), RAY_USAGE_STATS_ENABLED="0", PINN_WARM="0",
                   PINNCORE_CACHE=os.environ.get("PINNCORE_CACHE", str(tmp / "cache")))
        if "sweeps" in only:
            tiny_sweep(runs, env)
        proc, url = serve(runs, tmp / "server.log", env)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                page = browser.new_page(viewport=VIEWPORT)
                if only & {"overview", *VIEWS, "settings", "saved-runs", "export-page"}:
                    lab_shots(page, url, out, only, timeout_s)
                if "export-page" in only:
                    export_shot(browser, runs, tmp, out, env)
                if "own-pde" in only:
                    own_pde_shot(browser.new_page(viewport=VIEWPORT), url, out)
                if "lessons" in only:
                    lessons_shot(browser.new_page(viewport=VIEWPORT), url, out, timeout_s)
                if "sweeps" in only:
                    sweeps_shot(browser.new_page(viewport=VIEWPORT), url, out)
                browser.close()
        finally:
            os.killpg(proc.pid, 15)  # the server and its workers (a session of their own)
            proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="where the PNGs go (default docs/images)")
    p.add_argument("--only", nargs="+", choices=SHOTS, default=list(SHOTS), metavar="SHOT",
                   help=f"renew only these: {', '.join(SHOTS)}")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for a compare or a lesson to finish")
    a = p.parse_args(argv)
    shoot(a.out.resolve(), set(a.only), a.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
