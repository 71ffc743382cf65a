"""The Lessons page under AppTest (each lesson run at tiny settings), and its Streamlit-free helpers."""
import math
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import lessons
from pinncore import ConfigError, RunConfig

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "dashboard" / "subpages" / "lessons_page.py")
APP = str(ROOT / "dashboard" / "app.py")


@pytest.fixture
def page():
    at = AppTest.from_file(PAGE, default_timeout=60)
    yield at
    for exp in at.session_state["lessons"].values() if "lessons" in at.session_state else ():
        exp.stop()
        exp.join(30)


def run_lesson(at, key: str, timeout: float = 90.0):
    at.button(key=f"btn_{key}").click().run()
    assert not at.exception, at.exception
    deadline = time.time() + timeout
    while at.session_state["lessons"][key].active and time.time() < deadline:
        time.sleep(0.3)
        at.run()
    at.run()
    assert not at.exception, at.exception
    return at.session_state["lessons"][key]


def charts(at) -> list[str]:
    return [c.proto.id for c in at.get("plotly_chart")]


def test_the_page_renders_eight_lessons_each_with_its_button(page):
    page.run()
    assert not page.exception and not page.error
    assert [b.key for b in page.button] == [f"btn_l{i}" for i in range(1, 9)]
    assert [t.label for t in page.tabs] == ["1 · The imbalance", "2 · Stiffness", "3 · The cure", "4 · Spectral bias",
                                           "5 · NTK weights", "6 · Causality", "7 · Conflicting gradients",
                                           "8 · Adam then L-BFGS"]
    assert any("a bound and not a prediction" in m.value for m in page.markdown)


def test_lesson_1_measures_the_ratio_against_c_and_draws_the_histograms(page):
    page.run()
    page.session_state["l1_cs"] = "1, 4"
    page.session_state["l1_steps"] = 100
    page.session_state["l1_seeds"] = 1
    exp = run_lesson(page, "l1")
    assert exp.status == "finished" and len(exp.runs()) == 2
    s = lessons.imbalance_scaling(exp.runs())
    assert list(s.cs) == [1.0, 4.0] and np.isfinite(s.init).all() and np.isfinite(s.after).all()
    caption = next(c.value for c in page.caption if c.value.startswith("Measured"))
    assert "slope" in caption and "C=4 / C=1" in caption and "not a prediction" in caption
    assert len(charts(page)) == 2  # the scaling chart and the histograms of the largest C


def test_lesson_1_refuses_a_bad_list_of_c_with_one_line_naming_the_field(page):
    page.run()
    page.session_state["l1_cs"] = "1, x"
    page.button(key="btn_l1").click().run()
    assert not page.exception
    assert [e.value for e in page.error] == ["Cannot run: C values: '1, x' is not a comma-separated list of numbers"]
    assert "l1" not in page.session_state["lessons"]


def test_lesson_2_tracks_sigma_max_of_both_problems_and_ends_with_their_spectra(page):
    page.run()
    for key, value in {"l2_steps": 100, "l2_every": 50, "l2_depth": 2, "l2_width": 12}.items():
        page.session_state[key] = value
    exp = run_lesson(page, "l2")
    assert exp.status == "finished"
    mild, stiff = exp.runs()
    assert [h.step for h in mild.hess] == [0, 50] and stiff.config.params["a2"] == 4.0
    assert set(exp.extras) == {mild.name, stiff.name} and all(e["full"] for e in exp.extras.values())
    assert exp.extras[stiff.name]["values"]["res"].size == sum(p.numel() for p in exp.trainers[stiff.name].params)
    assert len(charts(page)) == 4  # sigma_max, losses, the stiff / mild ratio, the spectra


def test_lesson_3_trains_m1_m2_m4_and_tabulates_them(page):
    page.run()
    page.session_state["l3_steps"] = 100
    exp = run_lesson(page, "l3")
    assert exp.status == "finished"
    assert [r.name for r in exp.runs()] == ["M1", "M2", "M4"]
    table = page.dataframe[0].value
    assert list(table["method"]) == ["M1", "M2", "M4"] and table["λ_bc"].iloc[1] != 1.0
    page.radio(key="l3_run").set_value("M4").run()
    assert not page.exception and len(charts(page)) == 3


def test_lesson_4_trains_an_mlp_and_a_fourier_network_and_measures_each_frequency(page):
    page.run()
    page.session_state["l4_steps"] = 150
    page.session_state["l4_width"] = 16
    exp = run_lesson(page, "l4")
    assert exp.status == "finished"
    plain, fourier = exp.runs()
    assert (plain.name, fourier.name) == ("MLP", "MLP + Fourier σ=10")
    assert fourier.config.embedding == "fourier" and plain.config.embedding == "none"
    assert [e.step for e in plain.evals] == list(range(0, 151, 10))
    table = page.dataframe[0].value
    assert list(table["run"]) == ["MLP", "MLP + Fourier σ=10"]
    assert {"error at 1 (now)", "error at 25 (now)"} <= set(table.columns)
    # the paper's point, already at 150 steps: the Fourier network has the fast wave, the plain MLP has not
    assert table["error at 25 (now)"].iloc[0] > 0.9 and table["error at 25 (now)"].iloc[1] < 0.5
    page.radio(key="l4_run").set_value("MLP + Fourier σ=10").run()
    assert not page.exception and len(charts(page)) == 3  # per-frequency errors, the spectra, the fields


def test_lesson_4_setups_refuse_a_b_outside_the_specs_range_naming_it():
    with pytest.raises(ConfigError) as exc:
        lessons.spectral_configs(200.0, 10.0, 100, 2, 8)
    assert exc.value.field == "problem parameter 'B'" and "[2, 100]" in str(exc.value)


def test_the_main_page_keeps_its_setup_across_a_visit_to_the_lessons(tmp_path, monkeypatch):
    monkeypatch.setenv("PINN_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.session_state["w_width"] = 20
    at.run()
    at.switch_page("subpages/lessons_page.py").run()
    assert not at.exception and at.title[0].value.startswith("Lessons")
    at.switch_page("lab.py").run()
    assert not at.exception and at.session_state["w_width"] == 20


# -- helpers without Streamlit ------------------------------------------------------------------------------------
def test_parse_values_sorts_and_names_the_field_on_bad_input():
    assert lessons.parse_values("8, 1;2, 4, 2", "C values", 0.5, 32) == [1.0, 2.0, 4.0, 8.0]
    for text, msg in (("4", "between 2 and 8"), ("1, 64", "64 is outside"), ("1, nan", "nan is outside")):
        with pytest.raises(ConfigError, match=f"^C values: .*{msg}"):
            lessons.parse_values(text, "C values", 0.5, 32)


def test_fit_slope_recovers_a_power_law_and_needs_two_points():
    cs = np.array([1.0, 2.0, 4.0, 8.0])
    assert lessons.fit_slope(cs, 3 * cs**2.5) == pytest.approx(2.5)
    assert lessons.fit_slope(cs, [5.0, math.nan, math.nan, math.nan]) is None


def test_an_experiment_can_be_stopped_and_keeps_its_records():
    cfg = RunConfig(steps=100_000, depth=1, width=8, batch=16, eval_points=10, eval_every=0, grad_every=0)
    exp = lessons.Experiment({"a": cfg}, chunk=10).start()
    deadline = time.time() + 30
    while not exp.runs()[0].steps and time.time() < deadline:
        time.sleep(0.02)
    exp.stop()
    exp.join(30)
    assert exp.status == "stopped" and 0 < exp.runs()[0].steps_done < 100_000


def test_an_experiment_whose_page_is_gone_stops(monkeypatch):
    monkeypatch.setattr(lessons, "ALIVE_GRACE", 0.0)
    cfg = RunConfig(steps=100_000, depth=1, width=8, batch=16, eval_points=10, eval_every=0, grad_every=0)
    exp = lessons.Experiment({"a": cfg}, chunk=10, alive=lambda: False).start()
    exp.join(30)
    assert exp.status == "stopped"


# -- the figure builders the lessons and the Stiffness panel use -------------------------------------------------
def test_sigma_and_stability_figures_show_weighted_terms_and_the_bounds():
    from dashboard import figures
    cfg = RunConfig.from_method("M2", steps=21, depth=1, width=8, batch=16, eval_points=10, eval_every=0,
                                grad_every=0, hessian_every=10)
    exp = lessons.Experiment({"M2": cfg}, chunk=50).start()
    exp.join(60)
    run = exp.runs()[0]
    fig = figures.sigma_figure([run])
    assert [t.name for t in fig.data] == ["M2 · σ_max(∇²(λ_res·L_res))", "M2 · σ_max(∇²(λ_bc·L_bc))",
                                          "M2 · σ_max(∇²L), L = Σ λ_t L_t", "2 / lr (GD stability bound)"]
    assert list(fig.data[1].y) == [abs(h.eigenvalues["bc"]) for h in run.hess] and list(fig.data[0].x) == [0, 10, 20]
    stab = figures.stability_figure([run])
    assert list(stab.data[0].y) == [h.lr * h.sigma_max for h in run.hess] and stab.layout.shapes[0].y0 == 2


def test_the_scaling_figure_draws_the_c4_bound_through_the_first_point():
    from dashboard import figures
    s = lessons.Scaling(cs=np.array([1.0, 2.0, 4.0]), init=np.array([5.0, 20.0, 80.0]),
                        init_range=np.array([[4.0, 15, 60], [6.0, 25, 90]]), after=np.full(3, np.nan),
                        after_range=np.full((2, 3), np.nan), slope_init=2.0, slope_after=None)
    fig = figures.imbalance_scaling_figure(s)
    assert [t.name for t in fig.data] == ["at initialisation (fitted slope 2.00)", "∝ C⁴: the paper's upper bound"]
    bound = fig.data[1]
    assert bound.y[0] == pytest.approx(5.0) and bound.y[-1] == pytest.approx(5.0 * 4.0**4)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"


def test_lesson_5_measures_the_kernel_traces_and_the_weights_ntk_sets(page):
    page.run()
    page.session_state["l5_steps"] = 60
    page.session_state["l5_width"] = 12
    exp = run_lesson(page, "l5")
    assert exp.status == "finished"
    plain, ntk = exp.runs()
    assert plain.kernels and ntk.kernels and ntk.steps[-1].lambdas["bc"] > 1  # the residual's trace is larger
    total = sum(ntk.kernels[-1].traces.values())
    assert ntk.steps[-1].lambdas["bc"] == pytest.approx(total / ntk.kernels[-1].traces["bc"], rel=1e-6)
    caption = next(c.value for c in page.caption if c.value.startswith("Measured"))
    assert "kernel trace is" in caption and "NTK weights set λ_bc" in caption
    assert len(charts(page)) == 2  # the traces and the errors


def test_lesson_6_trains_plain_and_causal_and_shows_the_error_against_t(page):
    page.run()
    page.session_state["l6_steps"] = 60
    exp = run_lesson(page, "l6")
    assert exp.status == "finished"
    plain, causal = exp.runs()
    assert not plain.causal and causal.causal and causal.causal[0].weights[0] == 1.0
    table = page.dataframe[0].value
    assert list(table["run"]) == ["plain (M1)", "causal weights"] and "error at t = 0.5" in table.columns
    assert any(c.value.startswith("Measured: plain") and "patented" in c.value for c in page.caption)


def test_lesson_7_measures_the_alignment_of_m1_and_m2(page):
    page.run()
    page.session_state["l7_steps"] = 60
    page.session_state["l7_every"] = 10
    exp = run_lesson(page, "l7")
    assert exp.status == "finished"
    for r in exp.runs():
        assert [a.step for a in r.aligns][:3] == [0, 10, 20] and all(-1 <= a.score <= 1 for a in r.aligns)
    assert any(c.value.startswith("Measured: M1: A = ") for c in page.caption)



def test_lesson_8_trains_adam_and_adam_then_lbfgs_and_says_only_what_they_measured(page):
    from dashboard import lessons_since, optim_figures

    page.run()
    for key, value in {"l8_steps": 100, "l8_switch": 50, "l8_width": 12}.items():
        page.session_state[key] = value
    exp = run_lesson(page, "l8")
    assert exp.status == "finished"
    adam, mixed = exp.runs()
    assert (adam.config.optimizer, mixed.config.optimizer) == ("adam", "adam+lbfgs")
    assert adam.config.dtype == mixed.config.dtype == "float64" and mixed.config.lbfgs_after == 50
    assert [s.losses for s in adam.steps[:50]] == [s.losses for s in mixed.steps[:50]]  # the same Adam steps to 50
    assert 50 in [h.step for h in mixed.hess]  # the stiffness at the switch
    table = page.dataframe[0].value
    assert list(table["run"]) == ["Adam", "Adam → L-BFGS"]
    caption = next(c.value for c in page.caption if c.value.startswith("Measured:"))
    a, b = lessons_since.lbfgs_rows(exp.runs())
    assert f"Adam alone is at loss {a['loss']:.2g}, error {a['rel. L2 error']:.2g}" in caption
    assert f"at loss {b['loss']:.2g}, error {b['rel. L2 error']:.2g}" in caption
    ratio = a["rel. L2 error"] / b["rel. L2 error"]
    assert ("× lower" if ratio >= 1 else "× higher") in caption
    assert optim_figures.sigma_words(optim_figures.sigma_rows([mixed])).split(": ", 1)[1] in caption
    assert "near-zero loss" in caption
    assert len(charts(page)) == 3  # the errors with the switch, the loss against the error, sigma_max
    specs = [c.proto.spec for c in page.get("plotly_chart")]
    assert "L-BFGS from here" in specs[0] and "L-BFGS from here" in specs[2]


def test_lesson_8_reads_the_l_bfgs_run_s_error_within_adam_alone_s_seconds():
    from types import SimpleNamespace

    from dashboard import lessons_since
    from pinncore import EvalSnapshot, StepRecord

    def run(status, walls, errors):  # one step record per step (wall: seconds after it), an evaluation every 2
        steps = [StepRecord(k, {"res": 1.0}, {"res": 1.0}, 1e-3, w) for k, w in enumerate(walls)]
        evals = [EvalSnapshot(2 * i, e, None) for i, e in enumerate(errors)]
        return SimpleNamespace(status=status, steps=steps, evals=evals)

    adam = run("finished", [1.0, 2.0, 3.0, 4.0], [1.0, 0.9, 0.8])
    mixed = run("finished", [1.0, 2.0, 3.5, 5.0], [1.0, 0.1, 0.01])
    # steps 0-1 took 2.0 s (<= 4.0): the evaluation at step 2 is within; step 4's needed 5.0 s
    assert lessons_since.equal_time(adam, mixed) == (2, 2.0, 0.1)
    assert lessons_since.equal_time(run("running", [1.0], [1.0]), mixed) is None


def test_lesson_8_refuses_a_switch_at_or_past_the_last_step_naming_the_setting(page):
    page.run()
    page.session_state["l8_steps"] = 100
    page.session_state["l8_switch"] = 100
    page.button(key="btn_l8").click().run()
    assert not page.exception
    assert [e.value for e in page.error] == ["Cannot run: L-BFGS from step: must be below the steps (100), got 100"]
    assert "l8" not in page.session_state["lessons"]
