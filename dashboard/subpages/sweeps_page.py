"""Sweeps: the runs of a ``pinn sweep`` / ``pinn reproduce`` as a table and as heatmaps of the error by depth x
width for each method (the paper's Table 2 as a picture); any cell opens its runs in the main view."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import streamlit as st

if __package__ in (None, ""):  # `streamlit run dashboard/app.py` runs this file as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dashboard import ICON, sweeps as sw  # noqa: E402
from pinncore import ConfigError  # noqa: E402
from pinnlab.sweep import list_sweeps, results_frame  # noqa: E402

st.set_page_config(page_title="Sweeps · PINN gradient pathologies", page_icon=ICON, layout="wide")
state = st.session_state
for key in [k for k in state if str(k).startswith("w_")]:
    state[key] = state[key]  # keep the main page's setup while this page is shown
RUNS_ROOT = Path(os.environ.get("PINN_RUNS_DIR", "runs"))

st.title("Sweeps")
st.caption("Grids of runs trained by `pinn sweep` or `pinn reproduce` under the runs directory "
           f"(`{RUNS_ROOT}/`, set by `PINN_RUNS_DIR`). Pick one to see its results and the error by depth x width "
           "for each method; open any cell's runs in the main view.")

found = list_sweeps(RUNS_ROOT)
if not found:
    st.info(f"No sweeps under `{RUNS_ROOT}/` yet. A small one to start with: 8 runs of 1,000 steps, 47 s on "
            "this project's 2-core machine, Ray's start included:\n\n"
            f"`pinn sweep --grid problem=helmholtz method=M1,M2 depth=2,3 width=20,50 seed=0 steps=1000 "
            f"--out {RUNS_ROOT}/sweeps/quick`\n\n"
            "The paper's Table 2 as a picture, `method=M1,M2,M3,M4 depth=3,5,7 width=20,50,100 seed=0,1 "
            "steps=10000`, is 72 runs of 10,000 steps: roughly half an hour on 2 cores (720,000 steps at a few "
            "hundred steps/s per core). ", icon=":material/grid_off:")
    st.stop()

metas = {str(path): meta for path, meta in found}


def keep_valid(key: str, opts: list) -> None:
    """A picker's remembered value that another sweep does not offer falls back to the first option."""
    if key in state and state[key] not in opts:
        del state[key]


def describe(p: str) -> str:
    meta = metas[p]
    rel = sw.relative_to_root(Path(p), RUNS_ROOT) or p
    status = "complete" if meta.get("complete") else "incomplete"
    return f"{rel} · {meta.get('kind', 'sweep')} · {len(meta['runs'])} runs · {status} · {meta.get('updated', '?')}"


keep_valid("sw_sweep", list(metas))
choice = st.selectbox("Sweep", list(metas), format_func=describe, key="sw_sweep")
sweep_dir, meta = Path(choice), metas[choice]
try:
    df = results_frame(sweep_dir, meta)
except (ConfigError, OSError, ValueError) as exc:
    st.error(f"Cannot read the sweep {sweep_dir}: {exc}")
    st.stop()
if not meta.get("complete"):
    st.warning("This sweep is not complete: runs that did not finish are left out of the heatmaps. Run its "
               "command again to continue it: `" + " ".join(meta.get("command") or ["pinn", "sweep", "..."]) + "`",
               icon=":material/hourglass_top:")
df["path"] = [sw.relative_to_root(sweep_dir / r, RUNS_ROOT) for r in df.run]

# -- pickers: every other setting this sweep varies is held at one value ------------------------------------------
shown = df
pickers = sw.settings(df)
cols = st.columns(max(len(pickers) + 1, 2))
agg = cols[0].selectbox("Over seeds", list(sw.AGGREGATES), key="sw_agg",
                        help="how the runs of a cell (its seeds) are summarised")
for col, container in zip(pickers, cols[1:]):
    opts = sw.options(shown, col)
    if len(opts) > 1:
        keep_valid(f"sw_fix_{col}", opts)
        value = container.selectbox(col, opts, key=f"sw_fix_{col}")
        shown = shown[shown[col] == value]

cells = sw.cells(shown, agg)
st.subheader("Relative L2 error by depth x width")
if cells.empty:
    st.info("No runs for this selection.")
else:
    event = st.plotly_chart(sw.heatmap(cells, agg), key="sw_heatmap", on_select="rerun", selection_mode="points")
    labels = {f"{r.method} · depth {r.depth} · width {r.width}": i for i, r in enumerate(cells.itertuples())}
    points = list(event.selection.points) if event and "selection" in event else []
    if points and points != state.get("sw_last_click"):  # a click on a heatmap cell selects that cell
        state.sw_last_click = points
        p = points[0]
        methods = list(dict.fromkeys(cells.method))
        hit = [label for label, i in labels.items()
               if 0 <= p.get("curve_number", -1) < len(methods) and cells.method.iloc[i] == methods[p["curve_number"]]
               and str(cells.depth.iloc[i]) == str(p.get("y")) and str(cells.width.iloc[i]) == str(p.get("x"))]
        if hit:
            state.sw_cell = hit[0]
    c1, c2 = st.columns([3, 2])
    keep_valid("sw_cell", list(labels))
    cell_label = c1.selectbox("Cell", list(labels), key="sw_cell", help="or click a cell of the heatmap")
    cell = cells.iloc[labels[cell_label]]
    paths = [p for p in shown.set_index("run").loc[cell.runs, "path"] if p]
    if paths:
        c2.link_button(f"Open its {len(paths)} run{'s' if len(paths) > 1 else ''} in the main view",
                       sw.open_url(paths), icon=":material/open_in_new:")
    else:
        c2.caption(f"This sweep is outside `{RUNS_ROOT}/`: its runs cannot be opened by link.")
    c1.caption(f"{cell.finished} of {len(cell.runs)} runs finished; seeds {', '.join(map(str, cell.seeds))}; "
               f"{agg} relative L2 error {cell.value:.3e}" if cell.value == cell.value else
               f"{cell.finished} of {len(cell.runs)} runs finished.")

# -- the table ----------------------------------------------------------------------------------------------------
st.subheader("Every run")
table = shown.copy()
table.insert(0, "open", [sw.open_url([p]) if p else None for p in table.path])
lead = ["open", "method", "depth", "width", "seed", "status", "rel_l2"]
rest = [c for c in table.columns if c not in lead and c != "path"]
st.dataframe(table[lead + rest], hide_index=True, key="sw_table",
             column_config={"open": st.column_config.LinkColumn("open", display_text="open",
                                                                 help="open this run in the main view"),
                            "rel_l2": st.column_config.NumberColumn("rel. L2", format="%.3e")})
c1, c2 = st.columns(2)
c1.download_button("Download the table (CSV)", shown.drop(columns="path").to_csv(index=False).encode(),
                   file_name=f"{sweep_dir.name}-results.csv", mime="text/csv", key="sw_csv")
c2.caption(f"Written by the sweep: `{sweep_dir / 'results.csv'}` and `results.parquet` (every run, every "
           f"column). {meta.get('elapsed_s', 0):.0f} s of sweep time.")
