"""PINN gradient pathologies, live: ``streamlit run dashboard/app.py``.

The page only configures, commands and draws. Training happens in ``RunHandle`` worker threads (no ``st.*``
there); a fragment redraws the charts from the handles' records every second while anything trains.
"""
from __future__ import annotations

import os
import re
import sys
import time
import uuid
from pathlib import Path

import streamlit as st
import torch

if __package__ in (None, ""):  # `streamlit run dashboard/app.py` runs this file as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.handles import RunHandle  # noqa: E402
from dashboard.settings import BY_KEY, SETTINGS, build_configs, parse_query, to_query  # noqa: E402
from dashboard.views import render_live  # noqa: E402
from pinncore import PROBLEMS, ConfigError  # noqa: E402
from pinncore.store import list_runs  # noqa: E402

torch.set_num_threads(1)  # several runs share 2 cores: one intra-op thread each, never oversubscribed
RUNS_ROOT = Path(os.environ.get("PINN_RUNS_DIR", "runs"))

st.set_page_config(page_title="PINN gradient pathologies", page_icon=":material/ssid_chart:", layout="wide")
state = st.session_state


def session_alive():
    """A check the worker threads can call: is this browser session still open? (no st.* calls inside)"""
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not runtime.exists():
        return None  # bare mode (AppTest, benchmarks): nothing to watch
    session_id, rt = ctx.session_id, runtime.get_instance()
    return lambda: rt.is_active_session(session_id)


# -- session state (initialised once per browser session, from the URL) -------------------------------------
def unique(name: str) -> str:
    n, out = 2, name
    while out in state.handles:
        out, n = f"{name} ({n})", n + 1
    return out


def open_run(path: Path) -> RunHandle:
    """A saved run as a handle of this session (one handle per run directory), added to the shown runs."""
    mine = [h for h in state.handles.values() if h.run.path.resolve() == path.resolve()]
    handle = mine[0] if mine else RunHandle.open(path)
    if not mine:
        handle.name = unique(handle.label)
    handle.alive = session_alive()
    state.handles[handle.name] = handle
    state.w_shown = [*dict.fromkeys([*state.w_shown, handle.name])]
    return handle


def open_from_url(text: str) -> list[str]:
    """The runs listed in ?open=a,b (paths under the runs root); one message per entry that was ignored."""
    ignored = []
    for rel in filter(None, (r.strip() for r in text.split(","))):
        path = RUNS_ROOT / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute() or not (path / "config.json").is_file():
            ignored.append(f"Ignored URL parameter 'open={rel}': no run '{rel}' under {RUNS_ROOT}/.")
            continue
        try:
            open_run(path)
        except (ConfigError, OSError, RuntimeError) as exc:
            ignored.append(f"Ignored URL parameter 'open={rel}': {exc}")
    return ignored


if "handles" not in state:
    query = st.query_params.to_dict()
    values, ignored = parse_query({k: v for k, v in query.items() if k != "open"})
    for key, value in values.items():
        state[f"w_{key}"] = value
    state.handles = {}          # run name -> RunHandle, this session's runs only
    state.errors = []
    state.session = uuid.uuid4().hex[:6]
    state.w_shown = []
    state.url_ignored = ignored + open_from_url(query.get("open", ""))
for s in SETTINGS:  # keep values of widgets not drawn this run (other problems' parameters, ...)
    state[f"w_{s.key}"] = state[f"w_{s.key}"]


# -- sidebar: the configuration ----------------------------------------------------------------------------
def widget(key: str, container=st, **extra):
    s = BY_KEY[key]
    k, common = f"w_{key}", dict(label=s.label, help=s.help or None)
    if s.kind is str and s.choices:
        fmt = (lambda v: PROBLEMS[v].title) if key == "problem" else str
        return container.selectbox(options=s.choices, key=k, format_func=fmt, **common, **extra)
    if s.kind is str:
        return container.text_input(key=k, **common, **extra)
    step = 1 if s.kind is int else s.step
    fmt = "%.2e" if key == "lr" else ("%g" if s.kind is float else None)
    return container.number_input(min_value=s.kind(s.lo), max_value=s.kind(s.hi), step=step, format=fmt,
                                  key=k, **common, **extra)


with st.sidebar:
    st.header("Setup")
    st.radio("Runs", options=("compare", "single"), key="w_mode", horizontal=True,
             format_func=lambda m: "Compare M1–M4" if m == "compare" else "Single run", help=BY_KEY["mode"].help)
    widget("problem")
    for p in PROBLEMS[state.w_problem].params:
        widget(f"p_{p.name}")
    with st.expander("Model and weighting", expanded=state.w_mode == "single"):
        if state.w_mode == "single":
            st.selectbox("Model", ("mlp", "modified-mlp"), key="w_model",
                         format_func=lambda m: {"mlp": "MLP", "modified-mlp": "Modified MLP"}[m])
            widget("weighting")
        else:
            st.caption("M1 = MLP + fixed, M2 = MLP + annealing, M3 = modified MLP + fixed, "
                       "M4 = modified MLP + annealing.")
        c1, c2 = st.columns(2)
        widget("depth", c1)
        widget("width", c2)
        widget("activation")
        widget("variant")
        c1, c2 = st.columns(2)
        widget("beta", c1)
        widget("every", c2)
        widget("weights")
    with st.expander("Optimiser and sampling"):
        widget("lr")
        c1, c2 = st.columns(2)
        widget("decay", c1)
        widget("decay_steps", c2)
        c1, c2 = st.columns(2)
        widget("batch", c1)
        widget("seed", c2)
        widget("steps")
    with st.expander("Diagnostics and device"):
        c1, c2 = st.columns(2)
        widget("grad_every", c1)
        widget("eval_every", c2)
        c1, c2 = st.columns(2)
        widget("hess_every", c1)
        widget("hess_k", c2)
        widget("device")
    with st.expander("Open a saved run"):
        saved = {str(path): summary for path, summary in list_runs(RUNS_ROOT)}  # newest first
        if saved:
            choice = st.selectbox(
                "Run directory", list(saved), key="w_saved",
                format_func=lambda p: f"{Path(p).name} · {saved[p].get('label', '?')} · "
                                      f"{saved[p].get('status', '?')} · {saved[p].get('steps_done', 0)} steps")
            if st.button("Open", key="btn_open") and choice in saved:
                path = Path(choice)
                try:
                    open_run(path)
                except (ConfigError, OSError, RuntimeError) as exc:
                    state.errors = [f"could not open {path}: {exc}"]
        else:
            st.caption(f"No runs under `{RUNS_ROOT}/` yet.")

values = {s.key: state[f"w_{s.key}"] for s in SETTINGS}


# -- commands ------------------------------------------------------------------------------------------------
def launch(start: bool) -> list[RunHandle]:
    """Create this setup's runs (M1-M4 or one); st.error and nothing started on invalid input."""
    try:
        configs = build_configs(values)
        if values["device"].startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError("device", "'cuda' requested but CUDA is not available on this machine")
    except ConfigError as exc:
        state.errors = [f"Cannot start: {exc}"]
        return []
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{state.session}"
    alive = session_alive()
    created = []
    for cfg in configs:
        name = unique(cfg.label())
        slug = re.sub(r"[^A-Za-z0-9+.-]+", "-", name).strip("-")
        try:
            handle = RunHandle.create(cfg, RUNS_ROOT / "dashboard" / f"{stamp}-{cfg.problem}-{slug}", name)
        except (ConfigError, OSError, RuntimeError) as exc:  # e.g. an unwritable PINN_RUNS_DIR
            state.errors = [f"Cannot start {name}: {exc}"]
            break
        handle.alive = alive
        state.handles[name] = handle
        created.append(handle)
    state.w_shown = [h.name for h in created]
    if start:
        for h in created:
            h.start()
        deadline = time.time() + 1.0  # so that this very redraw has points to show
        while time.time() < deadline and not all(h.view().steps for h in created):
            time.sleep(0.02)
    return created


def shown() -> list[RunHandle]:
    return [state.handles[n] for n in state.w_shown if n in state.handles]


st.title("PINN gradient pathologies, live")
st.caption("Why plain physics-informed networks fail on stiff problems, and how learning-rate annealing and the "
           "modified MLP cure it: Wang, Teng & Perdikaris, *SIAM J. Sci. Comput.* 43 (2021). "
           "Press **Start** to train M1–M4 side by side.")
for msg in state.url_ignored:
    st.warning(msg, icon=":material/link_off:")

cols = st.columns([1.2, 1, 1, 0.8, 0.8, 0.8, 1, 1])
if cols[0].button("Start", icon=":material/play_arrow:", type="primary", key="btn_start", help="create and train this setup's runs"):
    launch(start=True)
if cols[1].button("Pause", icon=":material/pause:", key="btn_pause"):
    for h in shown():
        h.pause()
def command(handles: list[RunHandle], action) -> None:
    """Apply a command to each run; a run now trained by another session or process says so."""
    for h in handles:
        try:
            action(h)
        except ConfigError as exc:
            state.errors = [*state.errors, f"{h.name}: {exc.reason}"]


if cols[2].button("Resume", icon=":material/resume:", key="btn_resume"):
    command(shown(), RunHandle.resume)
for col, n in zip(cols[3:6], (1, 10, 100)):
    if col.button(f"+{n}", key=f"btn_step{n}", help=f"advance the shown (paused) runs by {n} step(s)"):
        command(shown() or launch(start=False), lambda h: h.step(n))
if cols[6].button("Stop", icon=":material/stop:", key="btn_stop", help="end the shown runs; they stay on disk"):
    for h in shown():
        h.stop()
if cols[7].button("Reset", icon=":material/restart_alt:", key="btn_reset", help="stop every run and clear this page (runs stay on disk)"):
    for h in state.handles.values():
        h.stop()
    state.handles, state.w_shown = {}, []

for msg in state.errors:  # shown once: the next interaction clears them
    st.error(msg)
state.errors = []

if state.handles:
    st.multiselect("Runs shown (the buttons act on these)", list(state.handles), key="w_shown")

def shown_paths() -> str:
    """The shown runs as paths under the runs root, for ?open=..."""
    root, out = RUNS_ROOT.resolve(), []
    for h in shown():
        try:
            out.append(h.run.path.resolve().relative_to(root).as_posix())
        except ValueError:
            pass  # outside the runs root: not shareable by link
    return ",".join(out)


# the URL always reproduces this setup, and the runs shown
opened = shown_paths()
st.query_params.from_dict({**to_query(values), **({"open": opened} if opened else {})})

active = any(h.active for h in shown())
st.fragment(render_live, run_every=1.0 if active else None)(active)

with st.expander("What am I looking at?"):
    st.markdown(open(Path(__file__).with_name("explainer.md"), encoding="utf-8").read())
