"""A comparison of runs as one standalone HTML page: Plotly's JavaScript embedded (``include_plotlyjs=True``,
once), no server and no network needed to view it.

The page holds the setup of the runs (problem and its equation, model, weighting, steps, seed, ...), a spec run's
equations typeset from the spec stored in its config.json, the project version and commit that exported it, the
compare table, the share link of the setup (the dashboard's URL query),
losses and lambda against step, relative L2 error against step, sigma_max where recorded, per run the per-layer
gradient histograms with a step slider over the stored snapshots and the fields at the last evaluation.

    write_html(["runs/h-m1", "runs/h-m4"], "compare.html")
    text = comparison_html(["runs/h-m1", "runs/h-m4"])
"""
from __future__ import annotations

import html
import os
import time
from pathlib import Path
from typing import Sequence
from urllib.parse import urlencode

from pinncore import ConfigError, RunConfig
from pinnlab.recipes import MAX_RECIPES, Recipe, format_recipes

from . import figures, figures_since
from .data import RunData, check_target_file, load_runs, write_file_atomically
from .equations import EQUATIONS, equation, spec_sections  # noqa: F401 - EQUATIONS: re-exported

DASHBOARD_URL = "http://localhost:8501/"
CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px auto; max-width: 1400px;
       color: #222; padding: 0 16px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta { color: #555; font-size: 0.9em; } code, .link { font-family: ui-monospace, monospace; font-size: 0.85em; }
.link { word-break: break-all; background: #f7f7f7; padding: 6px; display: block; }
.eq-svg { vertical-align: middle; max-width: 100%; height: auto; } pre { font-size: 0.85em; background: #f7f7f7; }
"""
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "png", "scale": 2},
               "showSendToCloud": False, "plotlyServerURL": ""}  # no button that goes online


def provenance() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("pinn-dashboard")
    except PackageNotFoundError:
        ver = "unknown"
    try:
        from pinnlab.provenance import git_commit

        commit = git_commit() or "unknown (not a git checkout)"
    except ImportError:
        commit = "unknown"
    return f"pinn-dashboard {ver}, commit {commit}"


# -- share link ------------------------------------------------------------------------------------------------
def share_query(config: RunConfig, compare: bool, recipes: str = "") -> dict[str, str]:
    """The dashboard's URL query for this setup (dashboard/settings.py's keys); a spec run's link carries the spec
    itself (compressed, as the dashboard's own links do) and its parameter values; ``recipes``: the compare's."""
    q = {"mode": "compare" if compare else "single", "problem": config.problem}
    if config.spec:
        from dashboard.custom_pde import CUSTOM, encode, format_params

        q.update(problem=CUSTOM, spec=encode(config.spec), spec_params=format_params(config.params))
    else:
        q.update({f"p_{k}": f"{v:g}" for k, v in sorted(config.params.items())})
    q.update(model=config.model, weighting=config.weighting, depth=str(config.depth), width=str(config.width),
             activation=config.activation, variant=config.annealing_variant, beta=f"{config.beta:g}",
             every=str(config.update_every or 0),
             weights=", ".join(f"{k}={v:g}" for k, v in sorted(config.weights.items())),
             lr=f"{config.lr:g}", decay=f"{config.decay_rate:g}", decay_steps=str(config.decay_steps),
             batch=str(config.batch), steps=str(config.steps), seed=str(config.seed),
             grad_every=str(config.grad_every), eval_every=str(config.eval_every),
             hess_every=str(config.hessian_every), hess_k=str(config.hessian_k), device=config.device.split(":")[0],
             causal="on" if config.causal else "off", ntk_points=str(config.ntk_points), ntk_beta=f"{config.ntk_beta:g}",
             ntk_eig=str(config.ntk_eig_points), causal_chunks=str(config.causal_chunks),
             causal_eps=f"{config.causal_eps:g}", causal_schedule=config.causal_schedule,
             causal_every=str(config.causal_every), embedding=config.embedding, ff_sigma=f"{config.fourier_sigma:g}",
             ff_features=str(config.fourier_features or 0), ff_B="trained" if config.fourier_trained else "fixed",
             rwf="on" if config.rwf else "off", rwf_mu=f"{config.rwf_mu:g}", rwf_sigma=f"{config.rwf_sigma:g}",
             optimizer=config.optimizer, lbfgs_after=str(config.lbfgs_after), lbfgs_batch=str(config.lbfgs_batch),
             lbfgs_history=str(config.lbfgs_history), soap_every=str(config.soap_every), dtype=config.dtype)
    if recipes:
        q["recipes"] = recipes
    return q


def share_links(runs: Sequence[RunData]) -> list[tuple[str, str]]:
    """(what, URL): one compare link when the runs are recipes of one setup (at most four, differing in their
    recipes only), else one link per distinct setup."""
    recipe_fields = set(Recipe().fields())

    def rest(c: RunConfig) -> dict:
        return {k: v for k, v in c.to_dict().items() if k not in recipe_fields}

    configs = [r.config for r in runs]
    if 1 < len(runs) <= MAX_RECIPES and all(rest(c) == rest(configs[0]) for c in configs):
        recipes = [Recipe.of_config(c) for c in configs]
        what = ", ".join(r.label() for r in recipes) + " of this setup"
        return [(what, DASHBOARD_URL + "?" + urlencode(share_query(configs[0], True, format_recipes(recipes))))]
    out, seen = [], set()
    for r in runs:
        url = DASHBOARD_URL + "?" + urlencode(share_query(r.config, False))
        if url not in seen:
            seen.add(url)
            out.append((r.label, url))
    return out


# -- tables ----------------------------------------------------------------------------------------------------
def _table(header: Sequence[str], rows: Sequence[Sequence[str]], num_from: int = 99) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(
        f"<td{' class=num' if i >= num_from else ''}>{html.escape(str(c))}</td>" for i, c in enumerate(row))
        + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def setup_table(runs: Sequence[RunData]) -> str:
    def weighting(c: RunConfig) -> str:
        w = c.weighting
        if c.weighting == "annealing":
            w += f" ({c.annealing_variant}, β = {c.beta:g}, every {c.update_every or 10})"
        elif c.weighting == "grad-norm":
            w += f" (β = {c.beta:g}, every {c.update_every or 1000})"
        elif c.weighting == "ntk":
            w += f" (Σ Tr K / Tr K_ii on {c.ntk_points} points, β = {c.ntk_beta:g}, every {c.update_every or 100})"
        if c.causal:
            w += (f"; causal weights ({c.causal_chunks} chunks, ε = {c.causal_eps:g}, schedule "
                  f"{c.causal_schedule})")
        return w + (f"; initial λ {', '.join(f'{k}={v:g}' for k, v in c.weights.items())}" if c.weights else "")

    def optimiser(c) -> str:
        lr = f"lr {c.lr:g} × {c.decay_rate:g}^(step/{c.decay_steps}), {c.batch} points per term and edge"
        if c.optimizer == "soap":
            return f"SOAP (eigenbasis refreshed every {c.soap_every} steps), {lr}"
        if c.optimizer == "adam+lbfgs":
            return (f"Adam, {lr}; from step {c.lbfgs_after:,} L-BFGS (strong Wolfe, memory {c.lbfgs_history}) on "
                    f"{c.lbfgs_batch} fixed points per term and edge, λ frozen")
        return f"Adam, {lr}"

    fields = [
        ("problem", lambda r: r.problem().describe()),
        ("equation", lambda r: equation(r.config.problem, r.config.spec)),
        ("model", lambda r: f"{r.config.model}, {r.config.depth}×{r.config.width}, {r.config.activation}"),
        ("weighting", lambda r: weighting(r.config)),
        ("optimiser", lambda r: optimiser(r.config)),
        ("steps", lambda r: f"{r.steps_done:,} of {r.config.steps:,}"), ("seed", lambda r: str(r.config.seed)),
        ("numerics", lambda r: f"{r.config.dtype}, {r.config.device}, derivatives {r.config.derivatives}"
                               + (", compiled" if r.config.compile else "")),
        ("snapshots every", lambda r: f"grad {r.config.grad_every}, eval {r.config.eval_every}, "
                                      f"hessian {r.config.hessian_every or 'never'}"),
        ("status", lambda r: r.status), ("run directory", lambda r: r.path.name),
    ]
    return _table(["", *[r.label for r in runs]], [[name, *[f(r) for r in runs]] for name, f in fields])


def _fmt(v: float | None, spec: str = ".3g") -> str:
    return "–" if v is None else format(v, spec)


def compare_table(runs: Sequence[RunData]) -> str:
    """Error, lambda, speed and the improvement over an M1 run of the same problem, per run."""
    terms = sorted({t for r in runs for t in r.final_lambdas if t != "res"})
    m1 = {}
    for r in runs:
        if r.config.method == "M1" and r.final_error:
            m1.setdefault((r.config.problem, tuple(sorted(r.config.params.items()))), r.final_error[0])
    rows = []
    for r in runs:
        err = r.final_error
        base = m1.get((r.config.problem, tuple(sorted(r.config.params.items()))))
        factor = f"{base / err[0]:.3g}×" if base and err and err[0] > 0 else "–"
        speed = r.summary.get("steps_per_s")
        wall = r.summary.get("wall_s")
        rows.append([r.label, r.config.problem, r.status, f"{r.steps_done:,}",
                     f"{err[0]:.3e} (step {err[1]:,})" if err else "–",
                     *[_fmt(r.final_lambdas.get(t)) for t in terms],
                     _fmt(speed, ".1f"), "–" if wall is None else f"{float(wall):.1f} s", factor])
    names = sorted({n for r in runs for n in r.final_unknowns})
    for row, r in zip(rows, runs):
        row[5 + len(terms):5 + len(terms)] = [unknown_text(r, n) for n in names]
    return _table(["run", "problem", "status", "steps done", "relative L2 error", *[f"λ_{t}" for t in terms],
                   *names, "steps/s", "training time", "M1 error / this error"], rows, num_from=3)


def unknown_text(r: RunData, name: str) -> str:
    """'0.1012 (true 0.1, +1.2 %)', or the value alone where the spec states no true value."""
    value = r.final_unknowns.get(name)
    if value is None:
        return "–"
    truth = figures.true_value(r, name)
    if truth is None:
        return f"{value:.4g}"
    rel = f", {100 * (value - truth) / truth:+.1f} %" if truth else ""
    return f"{value:.4g} (true {truth:g}{rel})"


# -- the page --------------------------------------------------------------------------------------------------
def _plot(fig, first: bool, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=first, config=PLOT_CONFIG, default_width="100%",
                       div_id=div_id)


def page(runs: Sequence[RunData]) -> str:
    title = "PINN runs: " + ", ".join(r.label for r in runs)
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class=meta>Exported {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with "
             f"{html.escape(provenance())}. Standalone page: every chart is interactive (zoom, hover, "
             f"PNG download in its toolbar), no network needed.</p>",
             "<h2>Setup</h2>", setup_table(runs), spec_sections(runs), "<h2>Compare</h2>", compare_table(runs),
             "<h2>Share link of the setup</h2><p class=meta>Opens this setup in the dashboard "
             "(<code>streamlit run dashboard/app.py</code>):</p>"]
    for what, url in share_links(runs):
        parts.append(f"<p>{html.escape(what)}:<a class=link href=\"{html.escape(url)}\">{html.escape(url)}</a></p>")
    charts = [("fig-loss", "Losses and λ", figures.loss_lambda_figure(runs)),
              ("fig-unknowns", "Unknown coefficients", figures.unknowns_figure(runs)),
              ("fig-error", "Error", figures.error_figure(runs)),
              ("fig-stiffness", "Stiffness", figures.stiffness_figure(runs)),
              ("fig-ntk", "Kernel traces", figures_since.kernel_figure(runs)),
              ("fig-alignment", "Gradient alignment", figures_since.alignment_figure(runs))]
    charts += [(f"fig-causal-{i}", f"Causal weights · {r.label}", figures_since.causal_figure(r))
               for i, r in enumerate(runs)]
    charts += [(f"fig-hist-{i}", f"Gradient histograms · {r.label}", figures.histogram_figure(r))
               for i, r in enumerate(runs)]
    charts += [(f"fig-fields-{i}", f"Fields at the last evaluation · {r.label}", figures.fields_figure(r))
               for i, r in enumerate(runs)]
    first = True
    for div_id, heading, fig in charts:
        if fig is None:
            continue
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(_plot(fig, first, div_id))
        first = False
    body = "\n".join(parts)
    return (f"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'><style>{CSS}</style></head>"
            f"<body>\n{body}\n</body></html>\n")


def comparison_html(run_dirs: Sequence[str | os.PathLike]) -> str:
    """The standalone page of these runs (ConfigError, one line naming it, for a directory that is no run)."""
    return page(load_runs(run_dirs))


def download_page(run_dirs: Sequence[str | os.PathLike]) -> bytes:
    """The page for a download button (the dashboard's): the comparison, or where a run cannot be read (damaged
    since it was shown), a small page that says so in one line instead of an exception in the server."""
    try:
        return comparison_html(run_dirs).encode("utf-8")
    except ConfigError as exc:
        return (f"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>PINN runs: not exported</title>"
                f"</head><body><p>This comparison could not be exported: {html.escape(str(exc))}</p></body>"
                f"</html>\n").encode("utf-8")


def write_html(run_dirs: Sequence[str | os.PathLike], path: str | os.PathLike) -> Path:
    """Write the page to ``path`` atomically (a temporary file, then a rename): the old file or the new one."""
    path = Path(path)
    check_target_file(path, "html")
    text = comparison_html(run_dirs)
    write_file_atomically(path, text.encode("utf-8"), "html")
    return path
