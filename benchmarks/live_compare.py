"""The dashboard's default compare, timed in a real browser: from the click on Start to the last run finished.

    python benchmarks/live_compare.py [--steps 10000] [--repeats 3] [--repo DIR] [--samples-out FILE]
    python benchmarks/live_compare.py --steps 3000 --start-after 11     # Start while the workers load ahead
    python benchmarks/live_compare.py --steps 3000 --start-after 11 --query engine=eager   # its eager reference

Starts ``streamlit run dashboard/app.py`` of the checkout ``--repo`` (default: this one; pass an older checkout
to measure the same thing before a change) on a free localhost port, opens it in headless Chromium (Debian's,
/usr/bin/chromium), and warms the server up with one short compare (200 steps: worker processes started,
compiled steps in the on-disk cache), then leaves it alone for ``--settle`` seconds and until it is idle (its
workers, idle, load the warm-up's compiled steps ahead: a server that has been up for a minute). Then it loads
the page with the default setup and ``steps`` steps per run (M1-M4 on Helmholtz, compare mode), clicks Start
and reads the four run cards (status and "step N") twice a second until every run says finished; ``--repeats`` times, each in a fresh page. It prints, per repeat and as the
median, the wall time and the time to the first drawn loss points, and the largest difference between the step
counts of the runs still training at any sample. A sample is one redraw of the cards: the browser applies a
redraw element by element, so a read that finds cards of two redraws (their hidden time stamps differ, or
Streamlit marks some stale) is not taken.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CARDS = """() => {  // the run cards: this version's (.pinn-card), earlier ones' (st-key-card_i) or, before
  // them, Streamlit metrics; none while a redraw is half applied (stale elements), so a sample never mixes two redraws
  const cards = Array.from(document.querySelectorAll(".pinn-card, [class*='st-key-card_']"));
  const metrics = Array.from(document.querySelectorAll("[data-testid='stMetric']"));
  const shown = cards.length ? cards : metrics;
  if (shown.some(c => c.closest("[data-stale='true']"))) return [];
  // the cards of one redraw share a hidden time stamp: cards of two redraws (one half applied) are not a sample
  const stamps = new Set(cards.map(c => (c.querySelector('.pinn-stamp') || {}).textContent));
  if (stamps.size > 1) return [];
  return shown.map(c => c.innerText).map(t => { const m = t.match(/step ([\\d,]+)/);
    return [t.replace(/\\n/g, ' '), m ? m[0] : '']; }); }"""
ACTIVE = ("queued", "starting", "running")  # a card's status while its run is not over
HAS_POINTS = """() => { const gd = document.querySelector('.st-key-fig_ov_lambda .js-plotly-plot, .st-key-fig_loss .js-plotly-plot');
  return !!gd && Array.from(gd.querySelectorAll('.scatterlayer .js-line'))
    .some(p => (p.getAttribute('d') || '').split(/[MLHV]/).length > 2); }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(repo: Path, runs: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """The dashboard on a free localhost port, its output (and its workers') in ``log``."""
    port = free_port()
    env = dict(os.environ, PINN_RUNS_DIR=str(runs))
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port",
                                 str(port), "--server.headless", "true", "--server.address", "127.0.0.1"],
                                cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("streamlit did not come up")


def _stats() -> dict[int, list[str]]:
    out = {}
    for f in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = f.read_text()
        except OSError:
            continue
        out[int(f.parent.name)] = text[text.rindex(")") + 2:].split()  # fields after the command name
    return out


def tree(pid: int) -> list[int]:
    """The process and all its descendants (Linux /proc)."""
    stats, found = _stats(), [pid]
    for p in found:
        found += [q for q, f in stats.items() if int(f[1]) == p and q not in found]
    return found


def cpu_seconds(pids: list[int]) -> float:
    stats, tick = _stats(), os.sysconf("SC_CLK_TCK")
    return sum((int(stats[p][11]) + int(stats[p][12])) / tick for p in pids if p in stats)


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for p in pids:
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            pass
    return total


def wait_idle(pid: int, below: float = 0.15, limit: float = 600.0) -> float:
    """Seconds until the server and its workers (compiling the default setups at start) use less than
    ``below`` of one core over 3 s: what "a warm server" means here."""
    t0 = time.time()
    while time.time() - t0 < limit:
        before = cpu_seconds(tree(pid))
        time.sleep(3.0)
        if (cpu_seconds(tree(pid)) - before) / 3.0 < below:
            break
    return time.time() - t0


def cards(page) -> list[tuple[str, str, int]]:
    """(name, status text, steps) of each run card, read twice 150 ms apart until both reads agree: Streamlit
    replaces a redraw's elements one by one, and a read in between mixes two redraws (cards a second apart)."""
    read = page.evaluate(CARDS)
    for _ in range(10):
        page.wait_for_timeout(150)
        again = page.evaluate(CARDS)
        if again == read:
            break
        read = again
    out = []
    for label, value in read:
        m = re.search(r"step ([\d,]+)", value)
        if m:
            name = label.split("·")[0].split()[-1]
            out.append((name, label, int(m.group(1).replace(",", ""))))
    return out


def compare(page, url: str, steps: int, timeout: float, settle: int = 1500, query: str = "") -> dict:
    """Load the page with ``steps`` (and ``query``), wait ``settle`` ms once Start shows, click it and follow
    the cards to the end."""
    page.goto(f"{url}/?steps={steps}" + (f"&{query}" if query else ""))
    start = page.locator(".st-key-btn_start button").first
    start.wait_for(state="visible", timeout=120_000)
    if settle:
        page.wait_for_timeout(settle)
    t0 = time.time()
    start.click()
    first, worst, samples, began, engines = None, 0, [], False, {}
    while time.time() - t0 < timeout:
        now = cards(page)
        engines.update({name: label for name, label, _ in now if "running" in label})  # says its engine, and why
        running = [n for _, label, n in now if "running" in label]
        if len(running) > 1:
            worst = max(worst, max(running) - min(running))
        samples.append([round(time.time() - t0, 2), [(name, n) for name, _, n in now]])
        # a page opened by the same browser shows its earlier runs until Start's redraw replaces them: those
        # finished cards are not this compare's end
        began = began or any(s in label for _, label, _ in now for s in ACTIVE)
        if began and first is None and page.evaluate(HAS_POINTS):  # this compare's points, not earlier runs'
            first = time.time() - t0
        if began and len(now) >= 4 and not any(s in label for _, label, _ in now for s in ACTIVE):
            failed = [label for _, label, _ in now if "finished" not in label]  # an error, a divergence...
            return {"wall_s": None if failed else round(time.time() - t0, 1), "first_points_s": first,
                    "max_step_difference": worst, "samples": samples, "failed": failed,
                    "final": [(name, n) for name, _, n in now], "engines": engines}
        page.wait_for_timeout(500)
    return {"wall_s": None, "first_points_s": first, "max_step_difference": worst, "samples": samples,
            "final": [(name, n) for name, _, n in cards(page)]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=3, help="compares after the warm-up (the median is quoted)")
    p.add_argument("--repo", type=Path, default=ROOT, help="the checkout whose dashboard is measured")
    p.add_argument("--timeout", type=float, default=1800.0, help="give up after this many seconds")
    p.add_argument("--start-after", type=float, default=None,
                   help="instead: Start each compare this many seconds after the previous one ended, busy or not "
                        "(11: while the idle workers load the warm-up's compiled steps ahead)")
    p.add_argument("--query", default="", help="more URL parameters for the measured compares (engine=eager)")
    p.add_argument("--settle", type=float, default=15.0,
                   help="seconds the server is left alone after each compare before it counts as idle (a worker "
                        "loads the warm-up's compiled steps ahead once it has had no run for 10 s)")
    p.add_argument("--samples-out", type=Path, help="write every sample of the step counters here (JSON)")
    p.add_argument("--server-log", type=Path, help="keep the server's output here (default: a temporary file, "
                   "whose last lines are printed if a run fails)")
    a = p.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        log = a.server_log or Path(tmp) / "server.log"
        proc, url = serve(a.repo.resolve(), Path(tmp) / "runs", log)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1280, "height": 720})
                warm = compare(page, url, 200, a.timeout)
                if a.start_after is None:
                    time.sleep(a.settle)
                    print(f"warm-up compare (200 steps): {warm['wall_s']} s; server idle after "
                          f"{a.settle + wait_idle(proc.pid):.0f} s more")
                else:
                    print(f"warm-up compare (200 steps): {warm['wall_s']} s", flush=True)
                results = []
                for i in range(a.repeats):
                    page = browser.new_page(viewport={"width": 1280, "height": 720})
                    if a.start_after is not None:  # the page's load and its 1.5 s settle come on top
                        time.sleep(max(0.0, a.start_after - 1.5))
                    results.append(compare(page, url, a.steps, a.timeout, query=a.query))
                    page.close()
                    r = results[-1]
                    print(f"repeat {i + 1}: Start -> last run finished {r['wall_s']} s, first loss points after "
                          f"{r['first_points_s'] and round(r['first_points_s'], 1)} s, largest step difference "
                          f"{r['max_step_difference']} ({len(r['samples'])} samples), final {r['final']}", flush=True)
                    for name, label in sorted(r.get("engines", {}).items()):
                        print(f"  {name}, last seen running: {label}")
                    if r.get("failed"):
                        print("  not finished: " + "; ".join(r["failed"]) + "\n  server output, last lines:\n"
                              + "\n".join(log.read_text(errors="replace").splitlines()[-40:]), flush=True)
                    if a.start_after is None:
                        time.sleep(a.settle)
                        wait_idle(proc.pid)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(30)
    done = [r for r in results if r["wall_s"] is not None]
    print(f"{a.repo.resolve()}: Helmholtz compare M1-M4, {a.steps} steps each, warm server, {a.repeats} repeats")
    if done:
        print(f"  median Start -> last run finished: {statistics.median(r['wall_s'] for r in done)} s; median first "
              f"loss points after {statistics.median(r['first_points_s'] or 0 for r in done):.1f} s; largest step "
              f"difference at any sample of any repeat: {max(r['max_step_difference'] for r in results)}")
    if a.samples_out:
        a.samples_out.write_text(json.dumps(results, indent=1))
    return 0 if len(done) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
