"""Many browsers on one server: N browser contexts press Start at once (the default compare, 4 runs each).

    python benchmarks/live_load.py [--contexts 8] [--steps 2000]

Measures, on one warm server (``--cold``: not yet warm) with its default limits: exception boxes; how long after
the click each page first shows its runs, and then the longest gap between two redraws of each page while its runs
are queued or training (the live panel's redraw time, read in the page); that the queue drains
and every run ends finished and loadable from disk; the same gaps as the server made them (the page's cards note
each redraw in a log, ``PINN_REDRAW_LOG``), how late the page showed them, and how many it never showed; the largest total RSS of the server and its worker processes;
and the summed training rate, total steps / (first Start -> last finish), against the same four runs trained one
after another headless with ``pinn train --compile`` in this invocation (steps / that wall time).

To place a long gap, it also reports what each page did inside its longest one: the seconds its main thread spent
in long tasks (the Long Tasks API), the messages its websocket received and the longest silence between them, and
the same gaps read from the DOM by a MutationObserver (every redraw time any element held, not a 100 ms poll); and,
per page, how many of the server's redraws reached its websocket (their time travels as text in the message) and
how many of those its DOM never held.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_compare import CARDS, CHROMIUM, ROOT, rss_bytes, serve, tree, wait_idle  # noqa: E402

# in the page itself: the wall-clock time (ms) of every change of the live panel's hidden redraw time (the
# "redrawn HH:MM:SS" caption to the millisecond), read every 100 ms by a timer of the page, so the gaps do not
# depend on how fast this script gets round all the pages
WATCH_REDRAWS = """() => { window.__redraws = []; let last = null;
  setInterval(() => { const el = document.querySelector('.pinn-redrawn');
    if (el && el.textContent !== last) { last = el.textContent; window.__redraws.push([Date.now(), last]); } }, 100); }"""
REDRAWS = "() => window.__redraws || []"  # [when the page showed it (ms), the server's time of that redraw (s)]
# and the page's long tasks (over 50 ms of its main thread, the Long Tasks API): [start (ms, wall clock), duration (ms)]
WATCH_TASKS = """() => { window.__tasks = [];
  new PerformanceObserver(list => { for (const e of list.getEntries())
    window.__tasks.push([performance.timeOrigin + e.startTime, e.duration]); }).observe({type: 'longtask'}); }"""
TASKS = "() => window.__tasks || []"
# and when each message of the page's websocket arrived (wall clock, ms), installed before the app opens its socket
WATCH_SOCKET = """(() => { window.__frames = []; window.__arrived = []; const Native = window.WebSocket;
  window.WebSocket = function (...args) { const ws = new Native(...args);
    ws.addEventListener('message', e => { window.__frames.push(Date.now());
      if (e.data instanceof ArrayBuffer) {  // a redraw of the cards: its time travels as text inside the message
        const m = new TextDecoder('latin1').decode(e.data).match(/pinn-redrawn' style='display:none'>([0-9.]+)</);
        if (m) window.__arrived.push([Date.now(), m[1]]); } }); return ws; };
  window.WebSocket.prototype = Native.prototype; Object.assign(window.WebSocket, Native); })();"""
FRAMES = "() => window.__frames || []"
ARRIVED = "() => window.__arrived || []"  # [when a cards redraw reached the page (ms), its time (s)]
# and every redraw time the DOM holds, the moment it appears (a MutationObserver: no 100 ms polling, every element)
WATCH_DOM = """() => { window.__dom = []; const seen = new Set();
  new MutationObserver(() => { for (const el of document.querySelectorAll('.pinn-redrawn')) {
    const t = el.textContent; if (!seen.has(t)) { seen.add(t); window.__dom.push([Date.now(), t]); } } })
    .observe(document.body, {subtree: true, childList: true, characterData: true}); }"""
DOM = "() => window.__dom || []"


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
    p.add_argument("--cold", action="store_true", help="press Start while the server still compiles the default "
                   "setups (default: wait until it is idle, a warm server)")
    a = p.parse_args()
    from playwright.sync_api import sync_playwright

    from pinncore.run import Run

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        reference = headless(a.steps, tmp)
        os.environ["PINN_REDRAW_LOG"] = str(tmp / "redraws.log")  # the server's side of every page's redraws
        proc, url = serve(ROOT, tmp / "runs", tmp / "server.log")
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
                contexts = [browser.new_context(viewport={"width": 1280, "height": 720}) for _ in range(a.contexts)]
                for context in contexts:
                    context.add_init_script(WATCH_SOCKET)
                pages = [context.new_page() for context in contexts]
                for page in pages:
                    page.goto(f"{url}/?steps={a.steps}")
                    page.locator(".st-key-btn_start button").first.wait_for(state="visible", timeout=120_000)
                warm = 0.0 if a.cold else wait_idle(proc.pid)  # the first page compiled the default setups
                for page in pages:
                    page.evaluate(WATCH_REDRAWS)
                    page.evaluate(WATCH_TASKS)
                    page.evaluate(WATCH_DOM)
                t0 = time.time()
                for page in pages:
                    page.locator(".st-key-btn_start button").first.click(no_wait_after=True)
                result = follow(pages, t0, a.timeout, tmp / "redraws.log")
                result["wall_s"] = round(time.time() - t0, 1)
                result["waited_for_warm_server_s"] = round(warm, 1)
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


def follow(pages, t_click: float, timeout: float, log: Path) -> dict:
    """Read every page's cards until all its runs finished; then, per page (``page_report``), the longest gap
    between two redraws from the click on Start to the moment its runs were seen finished (the panel stops
    redrawing then), and the same from the server's side (``log``)."""
    t0, finished_at, training_at = time.time(), {}, {}
    while time.time() - t0 < timeout and len(finished_at) < len(pages):
        for i, page in enumerate(pages):
            if i not in finished_at:
                cards = page.evaluate(CARDS)
                if i not in training_at and any("running" in label for label, _ in cards):
                    training_at[i] = round(time.time() - t_click, 1)
                if len(cards) >= 4 and all("finished" in label for label, _ in cards):
                    finished_at[i] = time.time()
        time.sleep(0.25)
    if len(finished_at) < len(pages):
        for i, page in enumerate(pages):  # what the pages show when it gave up
            print(f"page {i}: {page.evaluate(CARDS)}", file=sys.stderr)
    # the server's redraws, by the stamp the page shows for each (the same text: seconds to the millisecond)
    made = collections.defaultdict(list)  # session -> its redraws' stamps
    for line in log.read_text().splitlines() if log.exists() else []:
        session, _, stamp = line.rpartition(" ")
        made[session].append(stamp)
    session_of = {stamp: s for s, stamps in made.items() for stamp in stamps}
    reports = [page_report(page, t_click, finished_at.get(i, time.time()), made, session_of)
               for i, page in enumerate(pages)]

    def per_page(key: str) -> dict:
        return {i: r[key] for i, r in enumerate(reports) if key in r}

    return {"longest_redraw_gap_s": max(r["gap"] for r in reports), "per_page_gap_s": per_page("gap"),
            # when (s after Start) each page's longest gap began, how many of its gaps exceeded 2 s, and when it
            # was first seen training (the queue let its runs in)
            "longest_gap_at_s": per_page("when"), "gaps_over_2s": per_page("over"), "training_from_s": training_at,
            "first_redraw_after_start_s": per_page("first"), "pages_finished": len(finished_at),
            # the server's side: the longest gap between two redraws it made for the page (from the first the
            # page showed), how late the page showed one at worst, and how many it never showed
            "server_redraw_gap_s": per_page("server"), "page_lag_s": per_page("late"),
            "redraws_never_shown": per_page("unseen"),
            # the browser's side: seconds of long tasks (> 50 ms) inside each page's longest gap and the longest of
            # them, and the page's longest task from Start to its runs' end
            "longest_gap_busy_s": per_page("busy"), "longest_task_s": per_page("longest_task"),
            # and the page's websocket in its longest gap: (messages received, longest silence in s)
            "longest_gap_socket": per_page("socket"),
            # the same gaps from the DOM itself (a MutationObserver, every .pinn-redrawn element, stale ones too)
            "dom_redraw_gap_s": per_page("dom_gap"),
            # the server's redraws of the page: (reached its socket, made, reached but never in its DOM, latest arrival s)
            "redraws_reached": per_page("reached"), "longest_gap_redraws": per_page("inside_gap")}


def page_report(page, t_click: float, end: float, made: dict, session_of: dict) -> dict:
    """One page's redraws from the click to ``end``, as the page showed them (WATCH_REDRAWS) and as the server made
    them (``made``: session -> stamps, ``session_of``: stamp -> session); and, inside the page's longest gap, its
    main thread, socket and DOM."""
    seen = [(t / 1e3, stamp) for t, stamp in page.evaluate(REDRAWS) if t_click < t / 1e3 < end]
    stamps = [t_click] + [t for t, _ in seen]
    # the session whose redraws this page showed: most of its stamps' (two sessions redrawn in the same
    # millisecond share a stamp, so the first match alone may name another page's session)
    votes = collections.Counter(session_of[stamp] for _, stamp in seen if stamp in session_of)
    session = votes.most_common(1)[0][0] if votes else None
    ours = [float(m) for m in made.get(session, []) if seen and float(seen[0][1]) <= float(m) < end]
    pairs = list(zip(stamps[1:], stamps[2:]))
    longest = max(pairs, key=lambda p: p[1] - p[0]) if pairs else None  # the longest gap's two ends
    tasks = [(t / 1e3, d / 1e3) for t, d in page.evaluate(TASKS) if t_click < t / 1e3 < end]
    dom = page.evaluate(DOM)
    shown = [t_click] + [t / 1e3 for t, _ in dom if t_click < t / 1e3 < end]
    # the server's redraws that reached this page's socket, and of those the ones its DOM never held
    arrived = {stamp: t / 1e3 for t, stamp in page.evaluate(ARRIVED)}
    held = {stamp for _, stamp in dom}
    mine = [f"{m:.3f}" for m in ours]
    report = {
        "gap": round(max((b - a for a, b in pairs), default=0.0), 2),
        "when": round(longest[0] - t_click, 1) if longest else None,
        "over": sum(b - a > 2.0 for a, b in pairs),
        "first": round(stamps[1] - t_click, 2) if len(stamps) > 1 else None,
        "server": round(max((b - a for a, b in zip(ours, ours[1:])), default=0.0), 2),
        "late": round(max((t - float(stamp) for t, stamp in seen), default=0.0), 2),
        "unseen": len({f"{t:.3f}" for t in ours} - {stamp for _, stamp in seen}),
        "longest_task": round(max((d for _, d in tasks), default=0.0), 2),
        "dom_gap": round(max((y - x for x, y in zip(shown[1:], shown[2:])), default=0.0), 2),
        "reached": (sum(m in arrived for m in mine), len(mine), sum(m in arrived and m not in held for m in mine),
                    round(max((arrived[m] - float(m) for m in mine if m in arrived), default=0.0), 2))}
    if longest:
        a, b = longest
        # the page's main thread in its longest gap: the long tasks that overlap it (busy seconds, longest task)
        inside = [max(0.0, min(b, t + d) - max(a, t)) for t, d in tasks]
        report["busy"] = (round(sum(inside), 2),
                          round(max((d for (t, d), x in zip(tasks, inside) if x), default=0.0), 2))
        # the socket in that gap: messages received, and the longest silence between them (or the gap's ends)
        frames = [a] + [t / 1e3 for t in page.evaluate(FRAMES) if a < t / 1e3 < b] + [b]
        report["socket"] = (len(frames) - 2, round(max(y - x for x, y in zip(frames, frames[1:])), 2))
        # the server's redraws between the two stamps the page showed at the gap's ends, and whether each reached
        # the page
        pos = stamps.index(a)
        lo, hi = float(seen[pos - 1][1]), float(seen[pos][1])
        report["inside_gap"] = [(m, m in arrived) for m in mine if lo < float(m) < hi]
    return report


if __name__ == "__main__":
    sys.exit(main())
