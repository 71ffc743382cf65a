"""The teaching views (issue 12): invalid sidebar values refuse Start, URL warnings are short, complete and
dismissable, log axes always carry three labelled ticks, one colour per method, and the Overview's sentence."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import figures, overview
from dashboard.settings import parse_query

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("PINN_RUNS_DIR", str(tmp_path / "runs"))
    return AppTest.from_file(APP, default_timeout=60)


@pytest.mark.parametrize("widget,value,field", [("w_depth", -3, "depth"), ("w_width", 100_000, "width"),
                                                ("w_p_a2", 1e9, "a2"), ("w_beta", 1.5, "beta")])
def test_start_with_an_invalid_sidebar_value_is_refused_naming_the_field(app, widget, value, field):
    app.run()
    app.session_state[widget] = value
    app.button(key="btn_start").click().run()
    assert not app.exception
    assert len(app.error) == 1 and app.error[0].value.startswith(f"Cannot start: {field}: ")
    assert app.session_state["runs"] == {}


def test_a_very_long_url_value_is_quoted_short_once(app):
    app.query_params["width"] = "9" * 5000
    app.run()
    assert not app.exception
    assert len(app.warning) == 1 and len(app.warning[0].value) < 250


@pytest.mark.parametrize("query,needle", [({"weights": "zz=3"}, "no term 'zz'"),
                                          ({"p_C": "8"}, "has no parameter 'C'"),
                                          ({"device": "cuda"}, "CUDA is not available")])
def test_bad_url_values_are_named_on_load_not_on_start(app, query, needle):
    import torch

    if "device" in query and torch.cuda.is_available():
        pytest.skip("CUDA exists here")
    for k, v in query.items():
        app.query_params[k] = v
    app.run()
    assert not app.exception
    assert [w.value for w in app.warning if needle in w.value], [w.value for w in app.warning]
    app.button(key="btn_dismiss_url").click().run()
    assert not app.warning  # dismissed, and not shown again


@pytest.mark.parametrize("values,least", [([1.0, 1.0, 1.0], 3), ([1.0, 72.0], 3), ([3e-3, 1.4], 3),
                                          ([1e-6, 1e6], 3), ([0.97, 1.03], 3)])
def test_every_log_axis_gets_three_labelled_ticks(values, least):
    ticks = figures.log_ticks(values)
    assert len(ticks["tickvals"]) >= least and len(ticks["ticktext"]) == len(ticks["tickvals"])
    lo, hi = min(values), max(values)
    assert all(lo / 2.0001 <= t <= hi * 2.0001 for t in ticks["tickvals"])
    assert figures.log_ticks([0.0, -1.0, float("nan")]) == {}


def test_one_colour_per_method_in_every_builder():
    class V:  # the fields the colour helpers read
        def __init__(self, name, label):
            self.name, self.label = name, label

    views = [V("M4", "M4"), V("M1", "M1"), V("M1 (2)", "M1")]
    colors = figures.run_colors(views)
    assert colors["M1"] == figures.METHOD_COLORS["M1"] and colors["M4"] == figures.METHOD_COLORS["M4"]
    assert colors["M1 (2)"] not in figures.METHOD_COLORS.values()


class Snap:
    def __init__(self, step, res, bc, lam=1.0):
        self.step, self.terms, self.lambdas = step, ("res", "bc"), {"res": 1.0, "bc": lam}
        self.mean_abs = np.array([[res, res], [bc, bc]])


class Eval:
    def __init__(self, step, err):
        self.step, self.rel_l2 = step, err


class Run:
    def __init__(self, name, grads=(), evals=()):
        self.name, self.label, self.grads, self.evals = name, name, list(grads), list(evals)


def test_the_overview_sentence_states_the_numbers_at_the_common_step():
    m1 = Run("M1", [Snap(0, 3.2, 0.1), Snap(100, 32.0, 1.0)], [Eval(100, 1.3)])
    m2 = Run("M2", [Snap(0, 3.2, 0.1), Snap(100, 2.0, 1.6, lam=71.0)], [Eval(100, 0.5)])
    m4 = Run("M4", [Snap(100, 1.0, 1.0)], [Eval(100, 0.037)])
    assert overview.common_step([m1, m2], "grads") == 100
    text = overview.story(m1, m2, m4, 100, 100)
    assert "M1's residual gradients are 32× the bc term's" in text
    assert "M2's λ_bc = 71 has balanced them" in text
    assert "M4's error 3.70e-02 is 35.1× below M1's 1.30e+00" in text
    assert overview.distinct([m1, None, m1, m2]) == [m1, m2]


def test_every_url_warning_names_its_parameter_and_stays_short():
    _, ignored = parse_query({"width": "x" * 5000, "zz": "y" * 900, "depth": "-3"})
    assert len(ignored) == 3 and all(len(m) < 250 for m in ignored)
    assert ignored[0].startswith("Ignored URL parameter 'width=") and "'zz=" in ignored[1] and "'depth=-3'" in ignored[2]


class Hess:
    def __init__(self, step, res, bc, total, lr=1e-3):
        self.step, self.lr = step, lr
        self.eigenvalues, self.total, self.stability = {"res": res, "bc": bc}, total, lr * total


def test_the_stiffness_table_gives_the_imbalance_and_the_measured_effect_of_the_modified_mlp():
    class V:
        def __init__(self, name, hess):
            self.name, self.hess = name, hess

    rows = overview.stiffness_rows([V("M1", [Hess(0, 1e3, 1.0, 1e3), Hess(500, 1.2e6, 40.0, 1.2e6)]),
                                    V("M3", [Hess(500, 4e5, 100.0, 4e5)]), V("M2", [])])
    assert [r["run"] for r in rows] == ["M1", "M3"]
    assert rows[0]["stiffness imbalance"] == pytest.approx(3e4) and rows[0]["lr·σ_max"] == pytest.approx(1200)
    words = overview.stiffness_words(rows)
    assert "lowers it 3×" in words and "4e+05 against 1.2e+06" in words and "4e+03 against 3e+04" in words


def test_runs_opened_by_a_bare_link_are_named_by_what_differs_and_set_the_sidebar(app, tmp_path):
    from pinncore import RunConfig
    from pinncore.run import Run

    for seed in (0, 1):
        run = Run.create(RunConfig.from_method("M1", problem="poisson1d", params={"C": 8.0}, seed=seed, depth=2,
                                               width=8, batch=16, steps=4, eval_every=2),
                         tmp_path / "runs" / "sweep" / f"s{seed}")
        run.advance(4)
        run.close()
    app.query_params["open"] = "sweep/s0,sweep/s1"
    app.run()
    assert not app.exception
    assert list(app.session_state["runs"]) == ["M1 · s0", "M1 · s1"]
    s = app.session_state
    assert (s["w_problem"], s["w_p_C"], s["w_depth"], s["w_width"], s["w_mode"]) == ("poisson1d", 8.0, 2, 8, "single")


def test_reference_line_labels_sit_at_their_own_height_on_log_axes():
    import math

    import plotly.graph_objects as go

    fig = figures.reference_line(go.Figure(go.Scatter(x=[0, 1], y=[1e2, 1e3])).update_yaxes(type="log"), 2.0, "2")
    (note,) = fig.layout.annotations
    assert note.text == "2" and note.yref == "y" and note.y == pytest.approx(math.log10(2.0))
    ratio = figures.sigma_ratio_figure([0, 100, 200], [3.0, 40.0, 900.0], "ratio")
    assert ratio.layout.annotations[0].y == pytest.approx(1.0)  # 10x at 10^1, not stretching the axis to 10^10
    assert max(ratio.layout.yaxis.tickvals) <= 1000 and len(ratio.layout.yaxis.tickvals) >= 3


def test_fields_that_are_never_negative_get_a_sequential_scale():
    fig = figures.solution_figure("cavity", {"Re": 100.0}, n=20)
    assert fig.data[0].colorscale[0][1] != figures.solution_figure("helmholtz", {}, n=20).data[0].colorscale[0][1]


def test_the_snapshot_slider_says_why_it_is_greyed_out_and_moves_once_following_is_off(app, tmp_path):
    from pinncore import RunConfig
    from pinncore.run import Run

    run = Run.create(RunConfig.from_method("M1", depth=2, width=8, batch=16, steps=6, grad_every=2, eval_every=2),
                     tmp_path / "runs" / "r")
    run.advance(6)
    run.close()
    app.query_params["open"] = "r"
    app.run()
    app.session_state["w_view"] = "Gradient histograms"
    app.run()
    slider = app.select_slider(key="w_hist_step")
    assert slider.disabled and "follow latest" in slider.help
    assert any("switch off *follow latest*" in c.value for c in app.caption)
    app.toggle(key="w_hist_follow").set_value(False).run()
    slider = app.select_slider(key="w_hist_step")
    assert not slider.disabled and not any("switch off *follow latest*" in c.value for c in app.caption)
    slider.set_value(2).run()
    assert not app.exception and app.select_slider(key="w_hist_step").value == 2


def test_no_legend_sits_on_the_x_axis_title_and_every_title_has_room(tmp_path):
    """Defect 5: legends under the plot covered the x-axis title ("step", "log10 |gradient|") and a title was cut
    off. Every chart of the pages: its legend beside the plot, above it, or inside its upper part; a titled chart
    keeps a top margin for its title."""
    from dashboard import overview
    from pinncore import RunConfig
    from test_dashboard_units import trained_view

    small = dict(depth=2, width=8, batch=16, eval_points=12, eval_every=5, grad_every=5, hessian_every=5)
    views = [trained_view(RunConfig.from_method(m, steps=12, **small), tmp_path / m, m) for m in ("M1", "M2")]
    snap = views[1].grads[-1]
    spectra = {v.name: {"full": False, "values": {"res": [3.0, 2.0], "bc": [1.0, 0.5]}} for v in views}
    charts = [figures.loss_figure(views), figures.lambda_figure(views), figures.error_figure(views),
              figures.sigma_figure(views), figures.stability_figure(views), figures.histogram_figure(snap, "t"),
              figures.spectrum_figure(spectra), figures.sigma_ratio_figure([0, 5], [3.0, 30.0], "ratio"),
              overview.layer_histogram(views[1], snap, 0, (-8.0, 0.0)), overview.lambda_lines(views),
              overview.error_lines(views)]
    for fig in charts:
        legend, title = fig.layout.legend, fig.layout.title.text
        beside = legend.x is not None and legend.x >= 1.0
        above = legend.y is not None and legend.y >= 1.0 and legend.yanchor == "bottom"
        inside_top = legend.y is not None and legend.y >= 0.5 and legend.yanchor == "top"
        assert beside or above or inside_top, (title, legend)
        if title:
            assert fig.layout.margin.t is not None and fig.layout.margin.t >= 30, title


def test_the_page_says_what_start_trains_in_each_mode(app):
    """Defect 8: the page said "M1-M4 side by side" in single-run mode too."""
    app.run()
    assert "M1–M4 side by side" in app.info[0].value
    app.session_state["w_mode"] = "single"
    app.run()
    assert "M1–M4" not in app.info[0].value and "the run set in the sidebar" in app.info[0].value


def test_quick_is_the_default_run_length_and_paper_is_one_click(app):
    app.run()
    assert app.session_state["w_steps"] == 3_000 and any("3,000 steps" in c.value for c in app.caption)
    app.button(key="btn_paper").click().run()
    assert app.session_state["w_steps"] == 40_000 and any("40,000 steps" in c.value for c in app.caption)
    app.button(key="btn_quick").click().run()
    assert app.session_state["w_steps"] == 3_000 and not app.exception
