"""Dashboard pieces without Streamlit: figure builders and the URL/settings schema (the runs themselves:
tests/test_live.py)."""
import numpy as np
import plotly.graph_objects as go
import pytest
from runviews import trained_view

from dashboard import figures
from dashboard.settings import BY_KEY, build_configs, defaults, parse_query, parse_weights, to_query
from pinncore import ConfigError, RunConfig

SMALL = dict(depth=2, width=8, batch=16, eval_points=12, eval_every=5, grad_every=5)


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    return [trained_view(RunConfig.from_method(m, steps=12, **SMALL), tmp_path_factory.mktemp("runs") / m, m)
            for m in ("M1", "M2")]


# -- figures ------------------------------------------------------------------------------------------------
def test_loss_and_lambda_figures_overlay_every_run_and_term(views):
    fig = figures.loss_figure(views)
    assert isinstance(fig, go.Figure) and fig.layout.yaxis.type == "log"
    # grouped by run (the group's title), one entry per term: a legend that reads at a glance
    assert {(t.legendgroup, t.name) for t in fig.data} == {("M1", "L_res"), ("M1", "L_bc"), ("M2", "L_res"),
                                                           ("M2", "L_bc")}
    assert {t.legendgrouptitle.text for t in fig.data} == {"M1", "M2"}
    assert len(fig.data[0].x) == 12
    lam = figures.lambda_figure(views)
    assert {(t.legendgroup, t.name) for t in lam.data} == {("M1", "λ_bc"), ("M2", "λ_bc")}
    m2 = next(t for t in lam.data if t.legendgroup == "M2")
    assert m2.y[0] != 1.0


def test_histogram_figure_has_a_panel_per_layer_and_a_trace_per_term(views):
    snap = views[1].grads[-1]
    fig = figures.histogram_figure(snap)
    assert len(fig.data) == len(snap.layers) * len(snap.terms)
    assert [a.text for a in fig.layout.annotations] == list(snap.layers)
    assert np.isclose(sum(fig.data[0].y), 1.0)  # densities


def test_field_figure_shows_reference_prediction_and_error(views):
    fig = figures.field_figure(views[0])
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 3 and np.asarray(heat[0].z).shape == (12, 12)
    ref, pred = np.asarray(heat[0].z), np.asarray(heat[1].z)
    assert np.allclose(np.asarray(heat[2].z), np.abs(pred - ref))
    assert "relative L2 error" in fig.layout.title.text


def test_field_figure_in_1d_draws_curves(tmp_path):
    fig = figures.field_figure(trained_view(RunConfig(problem="poisson1d", steps=2, **SMALL), tmp_path / "p", "p"))
    assert [t.name for t in fig.data] == ["reference", "prediction", "|error|"]


def test_error_figure_and_compare_table(views):
    assert [len(t.x) for t in figures.error_figure(views).data] == [4, 4]  # steps 0, 5, 10, 12
    table = figures.compare_table(views)
    assert list(table["method"]) == ["M1", "M2"]
    m1, m2 = table["rel. L2 error"]
    assert table["× better than M1"][0] == 1.0
    assert table["× better than M1"][1] == pytest.approx(m1 / m2, rel=0.01)


def test_repeated_methods_get_distinct_colours_and_names(views):
    from dataclasses import replace
    twin = replace(views[0], name="M1 (2)")
    fig = figures.loss_figure([views[0], twin])
    colors = {t.legendgroup: t.line.color for t in fig.data}
    assert set(colors) == {"M1", "M1 (2)"} and colors["M1"] != colors["M1 (2)"]


def test_decimate_keeps_ends_and_bounds_the_count():
    idx = figures.decimate(40_000, 1500)
    assert idx[0] == 0 and idx[-1] == 39_999 and len(idx) <= 1501 and np.all(np.diff(idx) > 0)
    assert list(figures.decimate(5, 1500)) == [0, 1, 2, 3, 4]


# -- settings and the URL -----------------------------------------------------------------------------------
def test_url_round_trip_reproduces_the_setup():
    values = defaults() | {"problem": "klein-gordon", "p_alpha": -2.0, "depth": 5, "lr": 5e-4,
                           "weights": "ic=2, bc=3", "mode": "single", "weighting": "grad-norm", "every": 100}
    parsed, ignored = parse_query(to_query(values))
    assert ignored == []
    assert build_configs(parsed) == build_configs(values)
    cfg = build_configs(parsed)[0]
    assert (cfg.problem, cfg.params["alpha"], cfg.depth, cfg.weights, cfg.update_every) == (
        "klein-gordon", -2.0, 5, {"ic": 2.0, "bc": 3.0}, 100)


def test_malformed_link_falls_back_to_defaults_and_names_each_ignored_parameter():
    values, ignored = parse_query({"width": "abc", "depth": "99", "problem": "wave", "zzz": "1",
                                   "lr": "nan", "weights": "bc=-1", "seed": "7"})
    assert values["seed"] == 7
    for key in ("width", "depth", "problem", "lr", "weights"):
        assert values[key] == BY_KEY[key].default
    assert len(ignored) == 6
    for key, msg in zip(("width", "depth", "problem", "zzz", "lr", "weights"), ignored):
        assert f"'{key}=" in msg, msg


def test_compare_mode_builds_m1_to_m4_with_the_same_seed_and_problem():
    configs = build_configs(defaults() | {"seed": 11, "p_a2": 2.0})
    assert [c.label() for c in configs] == ["M1", "M2", "M3", "M4"]
    assert {(c.seed, c.params["a2"]) for c in configs} == {(11, 2.0)}


@pytest.mark.parametrize("text", ["bc", "bc=abc", "bc=0", "=3", "bc=inf"])
def test_bad_weight_text_names_the_field(text):
    with pytest.raises(ConfigError, match="weights"):
        parse_weights(text)


def test_unknown_term_in_weights_names_the_field():
    with pytest.raises(ConfigError, match="weights"):
        build_configs(defaults() | {"weights": "ic=3"})  # Helmholtz has no ic term


def test_stiffness_figure_plots_each_term_and_the_stability_bound(tmp_path):
    fig = figures.sigma_figure([trained_view(RunConfig(steps=6, **(SMALL | {"hessian_every": 3})), tmp_path / "s",
                                             "s")])
    assert [t.name for t in fig.data] == ["s · σ_max(∇²(λ_res·L_res))", "s · σ_max(∇²(λ_bc·L_bc))",
                                          "s · σ_max(∇²L), L = Σ λ_t L_t", "2 / lr (GD stability bound)"]
    assert list(fig.data[0].x) == [0, 3] and fig.layout.yaxis.type == "log"


@pytest.mark.parametrize("problem,params", [("helmholtz", {"a2": 2.0}), ("poisson1d", {"C": 8.0})])
def test_solution_figure_shows_the_exact_field(problem, params):
    fig = figures.solution_figure(problem, params, n=20)
    if problem == "helmholtz":
        z = np.asarray(fig.data[0].z)
        x, y = np.meshgrid(np.linspace(-1, 1, 20), np.linspace(-1, 1, 20))
        assert np.allclose(z, np.sin(np.pi * x) * np.sin(2 * np.pi * y))
    else:
        assert np.allclose(fig.data[0].y, np.sin(8 * np.linspace(0, 1, 20)))


def test_the_overview_draws_every_chart_up_to_one_shown_step(views):
    """Between the Overview's renewals its charts end at one step (so they stay the same and the browser skips
    them); the snapshots shown are the latest common ones at or before it."""
    from dashboard import overview

    lam = overview.lambda_lines(views, upto=6)
    assert all(max(t.x) == 6 for t in lam.data)
    err = overview.error_lines(views, upto=6)
    assert all(max(t.x) == 5 for t in err.data)  # evaluations every 5 steps: 0, 5
    assert overview.common_step(views, "grads", upto=6) == 5 and overview.common_step(views, "grads") == 11
    assert overview.lambda_lines(views, upto=6).to_json() == lam.to_json()  # the same data, the same chart
    assert all(max(t.x) == 11 for t in overview.lambda_lines(views).data)


def test_live_chart_serves_plotly_s_own_bundle_and_falls_back_where_it_cannot(tmp_path, monkeypatch):
    """livechart copies the plotly package's plotly.min.js into the static folder (whole, or not at all), keeps a
    copy of the right size, and reports False where the folder cannot be written (live_chart then falls back to
    st.plotly_chart)."""
    import filecmp

    import plotly.io as pio

    from dashboard import livechart

    source = livechart.Path(pio.__file__).resolve().parent.parent / "package_data" / livechart.BUNDLE
    monkeypatch.setattr(livechart, "STATIC", tmp_path / "static")
    assert livechart._bundle_served()
    assert filecmp.cmp(source, tmp_path / "static" / livechart.BUNDLE, shallow=False)
    assert [p.name for p in (tmp_path / "static").iterdir()] == [livechart.BUNDLE]  # no partial copy left
    (tmp_path / "static" / livechart.BUNDLE).write_text("truncated")
    assert livechart._bundle_served() and filecmp.cmp(source, tmp_path / "static" / livechart.BUNDLE, shallow=False)
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(livechart, "STATIC", tmp_path / "file" / "static")  # under a file: cannot be created
    assert not livechart._bundle_served()


def test_the_embedding_and_factorisation_settings_round_trip_through_a_link_and_build_their_runs():
    values = defaults() | {"mode": "single", "embedding": "fourier", "ff_sigma": 10.0, "ff_features": 8,
                           "ff_B": "trained", "rwf": "on", "rwf_mu": 0.5, "rwf_sigma": 0.2}
    parsed, ignored = parse_query(to_query(values))
    assert ignored == [] and {k: parsed[k] for k in values} == values
    (config,) = build_configs(parsed)
    assert (config.embedding, config.fourier_sigma, config.fourier_features, config.fourier_trained) == \
        ("fourier", 10.0, 8, True)
    assert (config.rwf, config.rwf_mu, config.rwf_sigma) == (True, 0.5, 0.2) and config.label() == "M1+fourier+rwf"
    assert BY_KEY["embedding"].choices == ("none", "fourier", "periodic", "periodic+fourier")
    assert set(BY_KEY["model"].choices) == {"mlp", "modified-mlp", "modified-mlp-released"}


def test_a_link_asking_for_the_periodic_embedding_on_a_problem_without_periodic_inputs_says_so():
    parsed, ignored = parse_query({"embedding": "periodic", "ff_sigma": "-3"})
    assert parsed["embedding"] == "none" and parsed["ff_sigma"] == 1.0
    assert ignored == ["Ignored URL parameter 'ff_sigma=-3': -3 is outside [0.01, 100]; using the default (1).",
                       "Ignored URL parameter 'embedding=periodic': Helmholtz 2D declares no periodic input; "
                       "using none."]
