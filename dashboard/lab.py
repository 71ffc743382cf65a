"""The live lab, the dashboard's main page (``app.py`` is the entry point and the navigation).

The page only configures, commands and draws. Runs belong to the server's run service (``pinnlab.live``: worker
processes, one per core), not to this browser session: the session keeps the ids of the runs it shows, so a
reload or a shared link shows the same live runs. While anything shown trains or waits, one fragment redraws the
run cards every second and, with them, the charts, whose figures renew every two (``dashboard.views``).
"""
from __future__ import annotations

import os
import re
import sys
import time
import uuid
from pathlib import Path

import streamlit as st

if __package__ in (None, ""):  # `streamlit run dashboard/app.py` runs this file as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import ICON, editor, recipe_editor  # noqa: E402
from dashboard.custom_pde import CUSTOM  # noqa: E402
from dashboard.live import command_runs, run_service, viewer  # noqa: E402
from dashboard.settings import (BY_KEY, SETTINGS, build_configs, distinct_names, from_configs,  # noqa: E402
                                parse_query, to_query)
from dashboard.views import ACTIVE, CARDS_EVERY, render_live, start_trains  # noqa: E402
from pinncore import PROBLEMS, ConfigError  # noqa: E402
from pinncore.catalog import list_runs  # noqa: E402
from pinncore.optim import FLOAT32_WARNING  # noqa: E402

RUNS_ROOT = Path(os.environ.get("PINN_RUNS_DIR", "runs"))
MAX_URL_OPEN = 12  # runs a link may open; more are ignored, with one message
NOTE_HOLD = 15.0  # s: a refusal stays on the page at least this long, also across the whole-page redraws that
                  # a run's progress (or a reconnect) causes, so that a message is not gone before it is read
# a projector-sized page: less padding above and between blocks, so the Overview fits 1280x720
COMPACT = """<style>
[data-testid="stHeader"] {height: 0; min-height: 0; background: transparent;}
.block-container {padding-top: 1.5rem !important; padding-bottom: 0.5rem !important;}
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] {gap: 0.45rem;}
[data-testid="stMainBlockContainer"] h3 {padding-top: 0; padding-bottom: 0.35rem; line-height: 1.3;}
</style>"""

st.set_page_config(page_title="PINN gradient pathologies", page_icon=ICON, layout="wide")
state = st.session_state
service = run_service()


# -- session state (initialised once per browser session, from the URL) -------------------------------------
def unique(name: str) -> str:
    n, out = 2, name
    while out in state.runs:
        out, n = f"{name} ({n})", n + 1
    return out


def tell(lines: list[str], keep: bool = False) -> None:
    """Say these one-line refusals under the buttons. A command's answer replaces what the last one said (unless
    ``keep``: +1 with nothing shown creates the runs, then steps them), and it stays ``NOTE_HOLD`` seconds."""
    now = time.monotonic()
    state.errors = {**(state.errors if keep else {}), **{m: now for m in lines}}


def open_run(path: Path, name: str | None = None, run=None) -> str:
    """A run directory (live on this server, or from disk) added to this session's shown runs; its name.
    ``run``: the service's run of that directory when the caller has it already (not read twice)."""
    run = run or service.open(path)
    mine = [n for n, rid in state.runs.items() if rid == run.id]
    name = mine[0] if mine else unique(name or run.name)
    state.runs[name] = run.id
    state.w_shown = [*dict.fromkeys([*state.w_shown, name])]
    return name


def open_from_url(text: str) -> list[str]:
    """The runs listed in ?open=a,b (paths under the runs root); one message per entry that was ignored."""
    from pinncore.catalog import resolve_run

    entries = [r.strip() for r in text.split(",") if r.strip()]
    ignored, opened = [], []
    for rel in entries[:MAX_URL_OPEN]:
        shown_rel = rel if len(rel) <= 80 else rel[:77] + "..."
        try:
            run = service.open(resolve_run(RUNS_ROOT, rel))
            opened.append(run)
        except (ConfigError, OSError, RuntimeError, ValueError) as exc:
            why = str(getattr(exc, "reason", None) or exc).splitlines()[0][:200]
            ignored.append(f"Ignored URL parameter 'open={shown_rel}': {why}")
    live = [r.name for r in opened]
    names = distinct_names([r.config for r in opened])
    for run, name, own in zip(opened, names, live):  # a live run keeps its owner's name, else what differs
        open_run(run.path, own if run.live else name, run)
    state.opened_configs = [r.config for r in opened]
    if len(entries) > MAX_URL_OPEN:
        ignored.append(f"Ignored {len(entries) - MAX_URL_OPEN} more 'open' entries: a link opens at most "
                       f"{MAX_URL_OPEN} runs.")
    return ignored


if "runs" not in state:
    query = st.query_params.to_dict()
    values, ignored = parse_query({k: v for k, v in query.items() if k != "open"})
    for key, value in values.items():
        state[f"w_{key}"] = value
    state.runs = {}             # run name -> run id (its directory) in the run service
    state.errors = {}           # one-line refusals and failures -> when they were said (see tell)
    state.stamp = uuid.uuid4().hex[:6]
    state.w_shown = []
    state.url_ignored = ignored + open_from_url(query.get("open", ""))
    if state.get("opened_configs") and set(query) == {"open"}:  # a bare link to runs (e.g. from Sweeps):
        for key, value in from_configs(state.opened_configs).items():  # its setup in the sidebar (a compare of
            state[f"w_{key}"] = value  # their recipes where they differ in those only), so that Start trains it again
for s in SETTINGS:  # keep values of widgets not drawn this run (other problems' parameters, ...)
    state[f"w_{s.key}"] = state[f"w_{s.key}"]
me = viewer()
service.touch(me)


# -- sidebar: the configuration ----------------------------------------------------------------------------
def widget(key: str, container=st, **extra):
    s = BY_KEY[key]
    k, common = f"w_{key}", dict(label=s.label, help=s.help or None)
    if s.kind is str and s.choices:
        fmt = (lambda v: PROBLEMS[v].title if v in PROBLEMS else "Your own PDE") if key == "problem" else str
        return container.selectbox(options=s.choices, key=k, format_func=fmt, **common, **extra)
    if s.kind is str:
        return container.text_input(key=k, **common, **extra)
    step = 1 if s.kind is int else s.step
    fmt = "%.2e" if key == "lr" else ("%g" if s.kind is float else None)
    # no min/max on the widget: it would silently clamp what was typed; Start checks the range and says so
    help_range = f"{common['help'] + ' · ' if common['help'] else ''}allowed {s.lo:g} to {s.hi:g}"
    return container.number_input(step=step, format=fmt, key=k, **{**common, "help": help_range}, **extra)


def pair(left: str, right: str) -> None:
    """Two settings side by side."""
    c1, c2 = st.columns(2)
    widget(left, c1)
    widget(right, c2)


def folded(label: str, body, key: str, expanded: bool = False) -> None:
    """An expander that draws ``body`` only while it is open (opening or closing it redraws the page): a closed
    one costs the server and the browser nothing on each whole-page redraw, and on a server shared by a class
    those are many. Its widgets keep their values while it is closed (the SETTINGS loop above)."""
    box = st.expander(label, expanded=expanded, key=key, on_change="rerun")
    if box.open:
        with box:
            body()



MODEL_NAMES = {"mlp": "MLP", "modified-mlp": "Modified MLP", "modified-mlp-released": "Modified MLP (released code)"}


def model_settings() -> None:
    if state.w_mode == "single":
        st.selectbox("Model", BY_KEY["model"].choices, key="w_model", format_func=lambda m: MODEL_NAMES.get(m, m))
        widget("weighting")
        widget("causal")
    else:
        st.caption("M1 = MLP + fixed, M2 = MLP + annealing, M3 = modified MLP + fixed, "
                   "M4 = modified MLP + annealing; the runs are set under *Runs to compare*, and the embedding "
                   "and weight factorisation below apply to all of them.")
    pair("depth", "width")
    widget("activation")
    widget("embedding")
    if "fourier" in state.w_embedding.split("+"):
        pair("ff_sigma", "ff_features")
        widget("ff_B")
    widget("rwf")
    if state.w_rwf == "on":
        pair("rwf_mu", "rwf_sigma")
    widget("variant")
    pair("beta", "every")
    widget("weights")


def since_settings() -> None:
    """NTK weights and kernel diagnostics, causal weights: the fields every run of the setup shares."""
    pair("ntk_points", "ntk_beta")
    widget("ntk_eig")
    pair("causal_chunks", "causal_eps")
    pair("causal_schedule", "causal_every")
    st.caption("Causal weights are patented by the University of Pennsylvania for commercial use.")


def optimiser_settings() -> None:
    if state.w_mode == "single":
        widget("optimizer")
    pair("lbfgs_after", "lbfgs_batch")
    pair("lbfgs_history", "soap_every")
    widget("dtype")
    lbfgs = state.w_optimizer == "adam+lbfgs" if state.w_mode == "single" else any(
        r.optimizer == "adam+lbfgs" for r in recipe_editor.current())
    if lbfgs and state.w_dtype == "float32":
        st.caption(f":material/warning: {FLOAT32_WARNING}.")
    widget("lr")
    pair("decay", "decay_steps")
    pair("batch", "seed")
    widget("steps")


def diagnostics_settings() -> None:
    pair("grad_every", "eval_every")
    pair("hess_every", "hess_k")
    widget("device")
    widget("engine")


def saved_runs() -> None:
    """The runs under the runs root, newest first (read only while this expander is open: every run's summary)."""
    saved = {str(path): summary for path, summary in list_runs(RUNS_ROOT)}
    if not saved:
        st.caption(f"No runs under `{RUNS_ROOT}/` yet.")
        return
    choice = st.selectbox(
        "Run directory", list(saved), key="w_saved",
        format_func=lambda p: f"{Path(p).name} · {saved[p].get('label', '?')} · "
                              f"{saved[p].get('status', '?')} · {saved[p].get('steps_done', 0)} steps")
    if st.button("Open", key="btn_open") and choice in saved:
        path = Path(choice)
        try:
            open_run(path)
        except (ConfigError, OSError, RuntimeError, ValueError) as exc:
            tell([f"Could not open {path}: {str(exc).splitlines()[0][:200]}"])


with st.sidebar:
    st.subheader("Setup")
    st.radio("Runs", options=("compare", "single"), key="w_mode", horizontal=True,
             format_func=lambda m: "Compare recipes" if m == "compare" else "Single run", help=BY_KEY["mode"].help)
    if state.w_mode == "compare":
        recipe_editor.preset_picker()
    widget("problem")
    if state.w_problem == CUSTOM:
        editor.sidebar()
    else:
        for p in PROBLEMS[state.w_problem].params:
            widget(f"p_{p.name}")
    st.caption(f"Run length: {state.w_steps:,} steps")
    q, pp = st.columns(2)
    q.button("Quick (3,000)", key="btn_quick", on_click=lambda: state.update(w_steps=3_000),
             help="a class can wait for it: about a minute here for M1-M4", use_container_width=True)
    pp.button("Paper (40,000)", key="btn_paper", on_click=lambda: state.update(w_steps=40_000),
              help="the paper's protocol", use_container_width=True)
    # the settings below draw their widgets only while their expander is open (``folded``); the model's has a
    # key per mode, so that it starts open in single mode and closed in compare mode, as before
    if state.w_mode == "compare":
        folded("Runs to compare", recipe_editor.editor, key="x_recipes", expanded=True)
    folded("Model and weighting", model_settings, key=f"x_model_{state.w_mode}", expanded=state.w_mode == "single")
    folded("NTK and causal weights", since_settings, key="x_since")
    folded("Optimiser and sampling", optimiser_settings, key="x_optimiser")
    folded("Diagnostics and device", diagnostics_settings, key="x_diagnostics")
    folded("Open a saved run", saved_runs, key="x_saved")

values = {s.key: state[f"w_{s.key}"] for s in SETTINGS}
values["files"] = dict(state.get("spec_files", {}))  # your own PDE's uploaded files, by name (not in links)


# -- commands ------------------------------------------------------------------------------------------------
def launch(start: bool) -> list[str]:
    """Create this setup's runs (M1-M4 or one) as one group in the run service; one error line on bad input."""
    tell([])  # a new command: what the last one said is old news
    try:
        configs = build_configs(values)
        if values["device"].startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ConfigError("device", "'cuda' requested but CUDA is not available on this machine")
    except ConfigError as exc:
        tell([f"Cannot start: {exc}"])
        return []
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{state.stamp}"
    names = [unique(c.label()) for c in configs]
    names = [n if names.count(n) == 1 else f"{n} ({i + 1})" for i, n in enumerate(names)]
    paths = [RUNS_ROOT / "dashboard" / f"{stamp}-{c.problem}-{re.sub(r'[^A-Za-z0-9+.-]+', '-', n).strip('-')}"
             for c, n in zip(configs, names)]
    try:
        for p in paths:
            p.parent.mkdir(parents=True, exist_ok=True)
            if p.exists():
                raise ConfigError("out", f"'{p}' exists already")
    except (ConfigError, OSError) as exc:  # e.g. an unwritable PINN_RUNS_DIR
        tell([f"Cannot start: {str(exc).splitlines()[0][:200]}"])
        return []
    runs = service.launch(configs, paths, names, me, start=start)
    for name, run in zip(names, runs):
        state.runs[name] = run.id
    state.w_shown = names
    if start:  # so that this very redraw has points to show (a queued run has none to wait for); once some
        # run has them, the others get half a second more: the next redraws bring theirs
        deadline, some = time.time() + 2.0, False
        while time.time() < deadline:
            views = [service.view(r.id) for r in runs]
            if all(v.steps or v.status == "queued" for v in views):
                break
            if not some and any(v.steps for v in views):
                some, deadline = True, min(deadline, time.time() + 0.5)
            time.sleep(0.02)
    return names


def shown() -> list[str]:
    return [state.runs[n] for n in state.w_shown if n in state.runs]


st.html(COMPACT)
st.markdown("### PINN gradient pathologies, live", help=(
    "Why plain physics-informed networks fail on stiff problems, and how learning-rate annealing and the modified "
    "MLP cure it: Wang, Teng & Perdikaris, SIAM J. Sci. Comput. 43 (2021). "
    + f"Start trains {start_trains()}."))
if state.w_problem == CUSTOM:
    editor.main_panel()
if state.url_ignored:
    with st.container(border=True):
        for msg in state.url_ignored:
            st.warning(msg, icon=":material/link_off:")
        if st.button("Dismiss", key="btn_dismiss_url"):
            state.url_ignored = []
            st.rerun()

cols = st.columns([1.3, 1.2, 1.35, 0.8, 0.8, 0.9, 1.1, 1.1])
if cols[0].button("Start", icon=":material/play_arrow:", type="primary", key="btn_start",
                  help="create and train this setup's runs"):
    launch(start=True)
if cols[1].button("Pause", icon=":material/pause:", key="btn_pause"):
    tell(command_runs(service, shown(), "pause", me))
if cols[2].button("Resume", icon=":material/resume:", key="btn_resume"):
    tell(command_runs(service, shown(), "resume", me))
for col, n in zip(cols[3:6], (1, 10, 100)):
    if col.button(f"+{n}", key=f"btn_step{n}", help=f"advance the shown (paused) runs by {n} step(s)"):
        created = not shown()
        if created:
            launch(start=False)
        tell(command_runs(service, shown(), "step", me, n), keep=created)  # with what creating them said
if cols[6].button("Stop", icon=":material/stop:", key="btn_stop", help="end the shown runs; they stay on disk"):
    tell(command_runs(service, shown(), "stop", me))
if cols[7].button("Reset", icon=":material/restart_alt:", key="btn_reset",
                  help="stop your runs and clear this page (runs stay on disk)"):
    command_runs(service, list(state.runs.values()), "stop", me, quiet=True)
    tell([])
    state.runs, state.w_shown = {}, []

now = time.monotonic()
state.errors = {m: t for m, t in state.errors.items() if now - t < NOTE_HOLD}
for msg in state.errors:
    st.error(msg)

if state.runs:
    st.sidebar.multiselect("Runs shown (the buttons act on these)", list(state.runs), key="w_shown")


def shown_paths() -> str:
    """The shown runs as paths under the runs root, for ?open=..."""
    root, out = RUNS_ROOT.resolve(), []
    for rid in shown():
        try:
            out.append(Path(rid).resolve().relative_to(root).as_posix())
        except ValueError:
            pass  # outside the runs root: not shareable by link
    return ",".join(out)


# the URL always reproduces this setup, and the runs shown
opened = shown_paths()
st.query_params.from_dict({**to_query(values), **({"open": opened} if opened else {})})

active = any(v.status in ACTIVE for rid in shown() if (v := service.view(rid)) is not None)
st.fragment(render_live, run_every=CARDS_EVERY if active else None)(active)

folded("What am I looking at?", lambda: st.markdown(Path(__file__).with_name("explainer.md").read_text(encoding="utf-8")),
       key="x_explainer")
