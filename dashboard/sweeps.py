"""Pure helpers of the Sweeps page: a sweep's results table -> heatmap cells, Plotly figure, links to the main
page (no ``st.*`` here, so they are tested without Streamlit)."""
from __future__ import annotations

import math
import os
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pinncore.status import completed

# columns that are not a setting one could hold fixed (results, identity, the heatmap's own axes)
NOT_SETTINGS = {"run", "status", "steps_done", "rel_l2", "wall_s", "steps_per_s", "seed", "depth", "width",
                "method", "model", "weighting", "annealing_variant", "causal", "path"}  # in the method's label
AGGREGATES = {"mean": "mean", "median": "median", "best": "min", "worst": "max"}


def settings(df: pd.DataFrame) -> list[str]:
    """The other config columns that take more than one value in this sweep (each gets a picker)."""
    return [col for col in df.columns if col not in NOT_SETTINGS and not col.startswith(("lambda_", "unknown_"))
            and df[col].dropna().nunique() > 1]


def options(df: pd.DataFrame, col: str) -> list:
    return sorted(df[col].dropna().unique().tolist(), key=lambda v: (str(type(v)), v))


def select(df: pd.DataFrame, fixed: dict) -> pd.DataFrame:
    for col, value in fixed.items():
        df = df[df[col] == value]
    return df


def cells(df: pd.DataFrame, agg: str = "mean") -> pd.DataFrame:
    """One row per (method, depth, width): the aggregated relative L2 error over the finished runs (seeds), the
    number of runs, and every run of the cell (finished or not), in seed order."""
    if df.empty or not {"method", "depth", "width"} <= set(df.columns):
        return pd.DataFrame(columns=["method", "depth", "width", "value", "finished", "runs", "seeds"])
    rows = []
    for (method, depth, width), g in df.groupby(["method", "depth", "width"], sort=False):
        g = g.sort_values("seed") if "seed" in g else g
        done = g[g.status.map(completed) & g.rel_l2.notna()]
        value = float(getattr(done.rel_l2, AGGREGATES[agg])()) if len(done) else math.nan
        rows.append({"method": method, "depth": int(depth), "width": int(width), "value": value,
                     "finished": len(done), "runs": list(g.run), "seeds": list(g.get("seed", []))})
    return pd.DataFrame(rows)


def heatmap(c: pd.DataFrame, agg: str = "mean") -> go.Figure:
    """Error by depth (rows) x width (columns), one panel per method, one shared log colour scale: the paper's
    Table 2 as a picture."""
    methods = list(dict.fromkeys(c.method))
    depths = sorted(set(c.depth))
    widths = sorted(set(c.width))
    logs = np.log10(c.value[c.value > 0]) if (c.value > 0).any() else pd.Series([-3.0, 0.0])
    lo, hi = float(logs.min()), float(logs.max())
    if hi - lo < 0.5:
        lo, hi = lo - 0.25, hi + 0.25
    fig = make_subplots(rows=1, cols=max(len(methods), 1), subplot_titles=methods, shared_yaxes=True,
                        horizontal_spacing=0.04)
    for i, m in enumerate(methods, start=1):
        sub = c[c.method == m].set_index(["depth", "width"])
        z = [[math.log10(sub.value[(d, w)]) if (d, w) in sub.index and sub.value[(d, w)] > 0 else None
              for w in widths] for d in depths]
        text = [[(f"{sub.value[(d, w)]:.2e}" if (d, w) in sub.index and sub.value[(d, w)] == sub.value[(d, w)]
                  else "") for w in widths] for d in depths]
        n = [[(f"{sub.finished[(d, w)]}/{len(sub.runs[(d, w)])}" if (d, w) in sub.index else "")
              for w in widths] for d in depths]
        fig.add_trace(go.Heatmap(
            z=z, x=[str(w) for w in widths], y=[str(d) for d in depths], text=text, customdata=n,
            texttemplate="%{text}", zmin=lo, zmax=hi, colorscale="Viridis", showscale=i == len(methods),
            colorbar=dict(title=f"log10 {agg} rel. L2"), name=m,
            hovertemplate=f"{m}<br>depth %{{y}} x width %{{x}}<br>{agg} rel. L2 %{{text}}<br>"
                          "finished runs %{customdata}<extra></extra>"), row=1, col=i)
        fig.update_xaxes(title_text="width", type="category", row=1, col=i)
    fig.update_yaxes(type="category", autorange="reversed")  # depth grows downwards, as in the paper's tables
    fig.update_yaxes(title_text="depth", row=1, col=1)
    fig.update_layout(height=260 + 40 * len(depths), margin=dict(l=10, r=10, t=40, b=10))
    return fig


def relative_to_root(path: Path, root: Path) -> str | None:
    """A run's path as the main page's ``?open=`` wants it: relative to the runs root (None when outside)."""
    try:
        return Path(os.path.abspath(path)).relative_to(Path(os.path.abspath(root))).as_posix()
    except ValueError:
        return None


def open_url(paths: list[str]) -> str:
    """Link to the main page showing these runs (paths under the runs root; '+' and friends percent-encoded)."""
    return "./?open=" + quote(",".join(paths), safe="/,")
