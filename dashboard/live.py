"""The page's side of the run service: the one service of this server process, who this browser is, and
commands applied to a set of runs with one line per refusal."""
from __future__ import annotations

import atexit
import binascii
import hashlib
import os
import uuid

import streamlit as st

from pinnlab.live import Refused, RunService, Viewer

XSRF_COOKIE = "_streamlit_xsrf"


def _is_active(session_id: str) -> bool:
    from streamlit import runtime

    return runtime.exists() and runtime.get_instance().is_active_session(session_id)


def _warm_configs():
    """The default compare's setups, warmed at start (PINN_WARM=0: not): compiled into the disk cache by the
    service's idle compiler process, so that a later long run of these setups (any steps, seed, lr, cadences)
    loads its compiled step in seconds. Nothing of it takes a core from a run: the compiler runs at the idle
    priority and is stopped outright while any run trains."""
    from dashboard.settings import build_configs, defaults

    return [] if os.environ.get("PINN_WARM") == "0" else build_configs(defaults())


@st.cache_resource(show_spinner=False)
def run_service() -> RunService:
    """One run service per server process (Streamlit's resource cache), shut down with the server: every live
    run is stopped and saved."""
    from streamlit import runtime

    served = runtime.exists()
    service = RunService(is_active=_is_active if served else None, warm=_warm_configs() if served else ())
    atexit.register(service.shutdown)
    return service


def browser_identity() -> str | None:
    """A stable, private id of this browser: a hash of the token in Streamlit's XSRF cookie (the cookie is the
    browser's own; a link cannot carry it). None where there is no such cookie (AppTest, XSRF protection off)."""
    raw = st.context.cookies.get(XSRF_COOKIE)
    if not isinstance(raw, str) or not raw:
        return None
    parts = raw.split("|")
    try:  # tornado's version-2 format: 2|mask|masked token|timestamp; the token is stable, the mask is not
        token = bytes(a ^ b for a, b in zip(binascii.a2b_hex(parts[1]), binascii.a2b_hex(parts[2]))) \
            if len(parts) == 4 and parts[0] == "2" else raw.encode()
    except (binascii.Error, ValueError):
        token = raw.encode()
    return hashlib.sha256(b"pinn-dashboard-owner:" + token).hexdigest()[:20]


def viewer() -> Viewer:
    state = st.session_state
    if "viewer" not in state:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        session = ctx.session_id if ctx is not None else uuid.uuid4().hex
        state.viewer = Viewer(browser_identity() or f"session-{session}", session)
    return state.viewer


def command_runs(service: RunService, run_ids: list[str], action: str, who: Viewer, n: int = 0,
                 quiet: bool = False) -> list[str]:
    """Apply a command to each run; returns one line per run that refused (nothing shown, if quiet)."""
    if not run_ids and not quiet:
        return [f"Nothing to {action}: no run is shown. Press Start first."]
    errors = []
    for rid in run_ids:
        try:
            service.command(rid, action, who, n)
        except Refused as exc:
            errors.append(str(exc))
    return [] if quiet else errors
