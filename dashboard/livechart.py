"""Charts that a redraw updates in place: ``live_chart(container, fig, key)`` for the live panel's charts.

``st.plotly_chart`` hashes the figure into its element's id, so every redraw that changes a figure makes the
browser unmount that chart and build it anew (measured in ``views.py``'s docstring), and the user's zoom resets
with it, every ``CHARTS_EVERY`` seconds while a run trains. ``live_chart`` mounts an ``st.components.v2``
component under a fixed key instead: its element stays, and each redraw hands the new figure to
``Plotly.react``, which changes what changed and keeps the zoom and the legend's toggles (``uirevision``).

plotly.js is the plotly package's own bundle (the version that wrote the figure's JSON), served by Streamlit's
static file serving (``server.enableStaticServing``, set in ``.streamlit/config.toml`` and by ``pinn
dashboard``) from ``dashboard/static/``, where it is copied on the first use in a server process. Where the copy
cannot be made (a read-only install), ``live_chart`` falls back to ``st.plotly_chart``.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import plotly.io as pio
import streamlit as st

STATIC = Path(__file__).resolve().parent / "static"  # served at ./app/static/
BUNDLE = "plotly.min.js"

# the chart arrives as one JSON string, {"revision": ..., "figure": ...}; the latest wins while plotly.js loads
JS = """
export default function (component) {
  const { data, parentElement } = component;
  let el = parentElement.querySelector(".pinn-live-chart");
  if (!el) {
    el = document.createElement("div");
    el.className = "pinn-live-chart";
    el.style.width = "100%";
    parentElement.appendChild(el);
  }
  if (el.pinnDrawn === data) return;  // a redraw that brings the same figure: nothing to do
  el.pinnFigure = data;
  const ready = window.Plotly ? Promise.resolve() : (window.pinnPlotly ||= new Promise((ok, bad) => {
    const s = document.createElement("script");
    s.src = "./app/static/BUNDLE_NAME";
    s.onload = ok;
    s.onerror = bad;
    document.head.appendChild(s);
  }));
  ready.then(() => {
    if (el.pinnFigure !== data) return;
    const {revision, figure: fig} = JSON.parse(data);
    fig.layout.uirevision = revision;
    fig.layout.font = Object.assign({family: getComputedStyle(document.body).fontFamily}, fig.layout.font || {});
    window.Plotly.react(el, fig.data, fig.layout, {responsive: true, displaylogo: false});
    el.pinnDrawn = data;
  }, () => { el.textContent = "The chart library did not load (./app/static/BUNDLE_NAME)."; });
}
""".replace("BUNDLE_NAME", BUNDLE)


def _bundle_served() -> bool:
    """plotly's bundle is in the static folder (copied now if it is missing or differs); False if it cannot be."""
    source = Path(pio.__file__).resolve().parent.parent / "package_data" / BUNDLE
    target = STATIC / BUNDLE
    try:
        if target.exists() and target.stat().st_size == source.stat().st_size:
            return True
        STATIC.mkdir(exist_ok=True)
        partial = target.with_name(f".{BUNDLE}.{os.getpid()}")
        shutil.copyfile(source, partial)
        os.replace(partial, target)  # a server never serves half a file
        return True
    except OSError:
        return False


@st.cache_resource(show_spinner=False)
def _component():
    """The registered component (once per server process), or None where plotly.js cannot be served."""
    if not _bundle_served():
        return None
    return st.components.v2.component("pinn_live_chart", js=JS, isolate_styles=False)


_JSON: dict[int, tuple[object, str]] = {}  # id(figure) -> (the figure, kept alive so its id stays its own; its JSON)
_JSON_LOCK = threading.Lock()  # every session's script thread writes it


def _json(fig) -> str:
    """The figure's JSON, written once per figure object: the panel redraws every second, and a figure built once
    per snapshot (``views._snapshot_figure``, shared by the server's sessions) comes back unchanged in most redraws."""
    with _JSON_LOCK:
        hit = _JSON.get(id(fig))
    if hit is not None and hit[0] is fig:
        return hit[1]
    text = pio.to_json(fig, validate=False)
    with _JSON_LOCK:
        while len(_JSON) >= 64:
            _JSON.pop(next(iter(_JSON)))
        _JSON[id(fig)] = (fig, text)
    return text


def live_chart(container, fig, key: str, revision: str | None = None) -> None:
    """``fig`` in ``container`` (``st`` or a column) under ``key``; redraws update it in place. ``revision``: the
    zoom and legend state survive redraws while it stays the same (default: always)."""
    component = _component()
    if component is None:
        container.plotly_chart(fig, key=key)
        return
    data = f'{{"revision": {json.dumps(revision or key)}, "figure": {_json(fig)}}}'
    if container is st:
        component(data=data, key=key)
        return
    with container:  # a column
        component(data=data, key=key)
