"""The run cards above the charts: one compact card per run (status, step, speed, the engine and why, the current
error), all in one element, redrawn every ``CARDS_EVERY`` seconds while a shown run trains or waits in the queue
(``views.render_live``); and the note on runs another session owns.
"""
from __future__ import annotations

import html
import os
import re

import streamlit as st

CARDS_EVERY = 1.0   # s: the run cards' redraw while runs train
CHARTS_EVERY = 2.0  # s: the charts' redraw while runs train (each changing chart costs the browser ~5 % of a core)

ICONS = {"running": ":material/play_circle:", "paused": ":material/pause_circle:", "queued": ":material/schedule:",
         "starting": ":material/hourglass_top:", "finished": ":material/check_circle:",
         "stopped": ":material/stop_circle:", "stalled": ":material/trending_flat:",
         "diverged": ":material/error:"}
STALLED = re.compile(r"stalled at step (\d+): (.*)")


def icon(status: str) -> str:
    """The card's icon: by the status's first word ("stalled at step k: ..." -> stalled: the loss went flat)."""
    return ICONS.get(status) or ICONS.get(status.split(" ", 1)[0], ":material/error:")


def status_words(status: str) -> tuple[str, str]:
    """(the card's status, a line under it): a stalled run's long status as "stalled: L-BFGS found no lower loss"
    and, under it, where and at which loss, and that the run has ended; any other status as it is."""
    m = STALLED.fullmatch(status)
    if m is None:
        return status, ""
    loss = re.search(r"\(loss ([^)]*)\)", m.group(2))
    return ("stalled: L-BFGS found no lower loss",
            f"its line search found no lower loss at step {int(m.group(1)):,}"
            + (f" (loss {loss.group(1)})" if loss else "") + ": training ended there")


def phase(view) -> str:
    """An adam+lbfgs run's phase, "Adam" or "L-BFGS from step k" (k: the switch), with the switch on hover while
    Adam trains; empty for other optimisers."""
    c = view.config
    if getattr(c, "optimizer", "adam") != "adam+lbfgs":
        return ""
    if c.lbfgs_after >= c.steps:
        return f"<span title='no switch: L-BFGS after {c.lbfgs_after:,} steps, the run trains {c.steps:,}'>Adam</span>"
    if view.steps_done > c.lbfgs_after:
        return f"L-BFGS from step {c.lbfgs_after:,}"
    return f"<span title='L-BFGS from step {c.lbfgs_after:,}'>Adam</span>"


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


CARD_GRID = "display:grid;grid-template-columns:repeat({n},minmax(0,1fr));gap:0.4rem 1rem;margin-bottom:0.5rem"
SMALL = "font-size:0.875rem;color:rgba(49,51,63,0.6)"  # Streamlit's caption


def status_line(views) -> None:
    """One compact card per run: status, step, speed, engine, current error (a reload shows the same).

    All the cards are ONE element (a grid in one markdown block), not columns of containers: this fragment redraws
    every second on every page with a run queued or training, and the browser's work per redraw grows with the
    elements it reconciles. Measured, one server, three pages (two training the default compare, one queued),
    renderer task time per second, two 10 s windows in each of two alternating servers: the queued page
    0.071-0.091 -> 0.043-0.063 of a core, the training pages 0.10-0.22 -> 0.11-0.19."""
    import time

    # every card of one redraw carries its time, hidden: the browser applies a redraw element by element, and a
    # monitor (benchmarks/live_compare.py) must not read the cards of two redraws as one
    now = time.time()
    _note_redraw(now)
    stamp = f"<span class='pinn-stamp' style='display:none'>{now:.3f}</span>"
    cells = []
    for v in views:
        # the error's evaluation step on hover: one line fewer per card keeps the charts inside 1280x720
        err = (f"<span title='evaluated at step {v.evals[-1].step:,}'>error {v.evals[-1].rel_l2:.2e}</span>"
               if v.evals else "no evaluation yet")
        status, why_ended = status_words(v.status)
        status = f"queued, {ordinal(v.queue_position)} in line" if v.queue_position else status
        speed = f" · {v.steps_per_s:.0f} steps/s" if v.steps_per_s and v.status == "running" else ""
        speed += f" · {phase(v)}" if phase(v) else ""
        active = v.status in ("running", "paused", "starting")
        why = active and v.engine_reason and v.engine_reason != v.engine  # which engine and why; numbers on hover
        engine = f" · {v.engine}" if active and v.engine != "-" and not why else ""
        small = f"<br><span style='{SMALL}'>{err}{speed}{engine}</span>"
        if why_ended:
            small += f"<br><span style='{SMALL}'>{html.escape(why_ended)}</span>"
        if v.message:
            small += f"<br><span style='{SMALL}'>{html.escape(v.message)}</span>"
        if why:
            small += (f"<br><span class='pinn-engine' style='{SMALL};font-size:0.8rem;line-height:1.35;display:"
                      f"inline-block' title='{html.escape(v.engine_detail)}'>{html.escape(v.engine_reason)}</span>")
        cells.append(f"<span class='pinn-card'>{icon(v.status)} **{html.escape(v.name)}** · "
                     f"{html.escape(status)} · **step {v.steps_done:,}**{stamp}{small}</span>")
    grid = CARD_GRID.format(n=min(len(views), 6))
    st.markdown(f"<span style='{grid}'>{''.join(cells)}</span>", unsafe_allow_html=True)
    # and, hidden, the same to the millisecond: for a monitor of the page (benchmarks/live_load.py), which whole
    # seconds would not tell from a redraw a second later
    st.caption(f"live · redrawn {time.strftime('%H:%M:%S')}"
               f"<span class='pinn-redrawn' style='display:none'>{now:.3f}</span>", unsafe_allow_html=True,
               help=f"while a shown run trains or waits in the queue, the cards redraw every {CARDS_EVERY:g} s; while "
                    f"one trains, the charts every {CHARTS_EVERY:g} s")


def _note_redraw(now: float) -> None:
    """With ``PINN_REDRAW_LOG`` set (benchmarks/live_load.py sets it), append "<session id> <time>" for each redraw
    of the cards: when the server redrew each page, to tell apart from when the page showed it."""
    path = os.environ.get("PINN_REDRAW_LOG")
    if path:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{ctx.session_id if ctx else '-'} {now:.3f}\n")


def ownership_note(views) -> None:
    """Runs trained by another browser are watched, not controlled; say so in words, once."""
    others = [v.name for v in views if not v.mine and v.status in ("queued", "starting", "running", "paused")]
    if others:
        st.info(f"Watching {'a run' if len(others) == 1 else 'runs'} owned by another session "
                f"({', '.join(others)}): the charts follow its training live, but only its owner can pause or "
                "stop it. **Start** trains your own copy of this setup.", icon=":material/visibility:")
