"""The Streamlit page, driven by AppTest: renders, starts, pauses, steps, refuses bad input, reads the URL."""
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


def service():
    from dashboard.live import run_service

    return run_service()  # the page's own: one per process, as on the server


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("PINN_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=60)
    yield at
    runs = at.session_state["runs"] if "runs" in at.session_state else {}
    for rid in runs.values():
        try:
            service().command(rid, "stop", at.session_state["viewer"])
        except Exception:  # noqa: BLE001 -- finished already
            pass


def view(at, name):
    return service().view(at.session_state["runs"][name])


def steps(at) -> dict[str, int]:
    return {name: view(at, name).steps_done for name in at.session_state["runs"]}


def idle(at) -> bool:
    return all(view(at, n).status not in ("queued", "starting", "running") for n in at.session_state["runs"])


def rerun_until(at, pred, timeout=180.0):  # generous: the first test to use the service waits for its workers
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.3)
        at.run()
        if pred():
            return True
    return False


def small(at, **extra):
    """A quick setup through the widgets, as a user would type it."""
    values = {"w_depth": 2, "w_width": 16, "w_batch": 32, "w_eval_every": 20, "w_grad_every": 20,
              "w_hess_every": 20, "w_engine": "eager"} | extra  # compiling: tests/test_live.py
    for key, value in values.items():
        at.session_state[key] = value


def test_default_page_renders_without_exceptions(app):
    app.run()
    assert not app.exception and not app.error
    assert [b.key for b in app.button][:3] == ["btn_start", "btn_pause", "btn_resume"]
    assert app.session_state["w_mode"] == "compare" and app.session_state["w_problem"] == "helmholtz"
    assert "No runs yet" in app.info[0].value


def test_start_produces_records_for_m1_to_m4(app):
    app.run()
    small(app)
    app.button(key="btn_start").click().run()
    assert not app.exception and not app.error
    assert list(app.session_state["runs"]) == ["M1", "M2", "M3", "M4"]
    assert rerun_until(app, lambda: min(steps(app).values()) >= 5)
    assert not app.exception
    assert any("**step " in m.value for m in app.markdown)  # the run cards
    assert rerun_until(app, lambda: view(app, "M2").grads and view(app, "M2").steps[-1].lambdas["bc"] != 1.0)
    h = view(app, "M2")
    assert h.steps and h.evals and h.grads and h.steps[-1].lambdas["bc"] != 1.0
    assert Path(h.path, "config.json").exists()


def test_pause_really_stops_the_step_counter(app):
    app.run()
    small(app, w_mode="single")
    app.button(key="btn_start").click().run()
    assert rerun_until(app, lambda: min(steps(app).values()) >= 10)
    app.button(key="btn_pause").click().run()
    assert rerun_until(app, lambda: view(app, "M1").status == "paused")
    time.sleep(0.3)
    frozen = steps(app)
    time.sleep(1.0)
    app.run()
    assert steps(app) == frozen and view(app, "M1").status == "paused"
    app.button(key="btn_resume").click().run()
    assert rerun_until(app, lambda: min(steps(app).values()) > min(frozen.values()))


def test_step_buttons_create_paused_runs_and_advance_exactly(app):
    app.run()
    small(app, w_mode="single")
    app.button(key="btn_step10").click().run()
    assert rerun_until(app, lambda: list(steps(app).values()) == [10])
    time.sleep(0.5)
    assert list(steps(app).values()) == [10]
    app.button(key="btn_step1").click().run()
    assert rerun_until(app, lambda: list(steps(app).values()) == [11])


@pytest.mark.parametrize("widget,value,field", [("w_weights", "bc=abc", "weights"),
                                                ("w_weights", "ic=2", "weights"),
                                                ("w_device", "cuda", "device")])
def test_invalid_input_shows_the_error_and_starts_nothing(app, widget, value, field):
    import torch
    if field == "device" and torch.cuda.is_available():
        pytest.skip("CUDA exists here")
    app.run()
    app.session_state[widget] = value
    app.button(key="btn_start").click().run()
    assert not app.exception
    assert len(app.error) == 1 and field in app.error[0].value
    assert app.session_state["runs"] == {}


def test_url_sets_the_setup_and_a_malformed_link_says_what_it_ignored(app):
    app.query_params["problem"] = "poisson1d"
    app.query_params["p_C"] = "8"
    app.query_params["width"] = "abc"
    app.run()
    assert not app.exception
    assert app.session_state["w_problem"] == "poisson1d" and app.session_state["w_p_C"] == 8.0
    assert app.session_state["w_width"] == 50
    assert len(app.warning) == 1 and "'width=abc'" in app.warning[0].value


@pytest.mark.parametrize("problem", ["helmholtz", "klein-gordon", "cavity", "poisson1d"])
def test_every_view_renders_for_every_problem(app, problem):
    app.run()
    small(app, w_mode="single", w_steps=40, w_problem=problem)
    app.button(key="btn_start").click().run()
    assert rerun_until(app, lambda: view(app, "M1").status == "finished", 120)
    for shown in ("Gradient histograms", "Error fields", "Stiffness", "Compare & export", "Loss & λ"):
        app.session_state["w_view"] = shown
        app.run()
        assert not app.exception, shown


def trained(path, config):
    from pinncore.run import Run

    run = Run.create(config, path)
    run.advance(config.steps)
    run.close()


def test_a_saved_run_reopens_with_its_records(app, tmp_path):
    from pinncore import RunConfig
    trained(tmp_path / "runs" / "cli-run", RunConfig(steps=8, depth=2, width=8, batch=16, eval_every=4, grad_every=4))
    app.run()
    assert not [b for b in app.button if b.key == "btn_open"]  # closed: the runs root is not even listed
    app.session_state["x_saved"] = True  # the user opens "Open a saved run"
    app.run()
    app.button(key="btn_open").click().run()
    app.button(key="btn_open").click().run()  # twice: still one handle for the directory
    assert not app.exception
    assert list(app.session_state["runs"]) == ["M1"]  # named by method, unique within the session
    v = view(app, "M1")
    assert v.status == "finished" and v.steps_done == 8 and [e.step for e in v.evals] == [0, 4, 8]
    assert app.query_params["open"] in ("cli-run", ["cli-run"])  # the link reopens the runs shown


def test_a_link_reopens_saved_runs_and_names_what_it_ignored(app, tmp_path):
    from pinncore import RunConfig
    for name, method in (("a", "M1"), ("b", "M2")):
        trained(tmp_path / "runs" / "shared" / name,
                RunConfig.from_method(method, steps=4, depth=2, width=8, batch=16, eval_every=2))
    app.query_params["open"] = "shared/a,shared/b,shared/nope,../etc"
    app.run()
    assert not app.exception
    assert list(app.session_state["runs"]) == ["M1", "M2"]
    warnings = [w.value for w in app.warning]
    assert len(warnings) == 2 and warnings[0].startswith("Ignored URL parameter 'open=shared/nope': ")
    assert warnings[1].startswith("Ignored URL parameter 'open=../etc': ")


def test_two_sessions_never_see_each_others_runs(app, tmp_path):
    other = AppTest.from_file(APP, default_timeout=60)  # a second browser tab is a second session
    app.run()
    other.run()
    small(app, w_mode="single", w_steps=20)
    app.button(key="btn_start").click().run()
    assert list(app.session_state["runs"]) == ["M1"]
    other.run()
    assert other.session_state["runs"] == {} and "No runs yet" in other.info[0].value


@pytest.fixture
def limited(monkeypatch):
    """The page's run service with a server-wide limit of 2 training runs (a fresh one, shut down after)."""
    from dashboard.live import run_service

    run_service().shutdown()
    run_service.clear()
    monkeypatch.setenv("PINN_MAX_RUNS", "2")
    yield
    run_service().shutdown()
    run_service.clear()


def test_a_third_start_past_the_limit_is_queued_and_trains_when_a_slot_frees(app, limited):
    app.run()
    # the first two could never finish within the test on their own: the slot frees only when one is stopped
    small(app, w_mode="single", w_steps=200_000, w_engine="eager")
    for _ in range(2):
        app.button(key="btn_start").click().run()
    app.session_state["w_steps"] = 40
    app.button(key="btn_start").click().run()
    assert list(app.session_state["runs"]) == ["M1", "M1 (2)", "M1 (3)"]
    app.session_state["w_shown"] = list(app.session_state["runs"])
    app.run()
    assert view(app, "M1 (3)").status == "queued" and view(app, "M1 (3)").queue_position == 1
    assert any("queued, 1st in line" in m.value for m in app.markdown)
    app.session_state["w_shown"] = ["M1 (3)"]  # a page showing only the queued run: words, no empty charts
    app.run()
    assert any(c.value.startswith("Queued, 1st in line") for c in app.caption)
    assert not [e for e in app.main if "fig_" in str(getattr(e, "proto", ""))]
    app.session_state["w_shown"] = ["M1"]
    app.run()
    app.button(key="btn_stop").click().run()
    assert rerun_until(app, lambda: view(app, "M1 (3)").status == "finished", 180)
    # the other run kept its slot all along (on a loaded machine its worker may still be starting it)
    assert rerun_until(app, lambda: view(app, "M1 (2)").status == "running", 180)
    assert not app.exception


def test_the_cards_note_each_redraw_when_a_redraw_log_is_asked_for(app, tmp_path, monkeypatch):
    """benchmarks/live_load.py compares when the server redrew each page with when the page showed it."""
    log = tmp_path / "redraws.log"
    monkeypatch.setenv("PINN_REDRAW_LOG", str(log))
    app.run()
    small(app, w_steps=200_000)
    app.button(key="btn_start").click().run()
    assert rerun_until(app, lambda: min(steps(app).values()) >= 1)
    app.run()
    lines = [line.rpartition(" ")[::2] for line in log.read_text().splitlines()]  # "<session id> <time>"
    assert len(lines) >= 2 and len({session for session, _ in lines}) == 1
    times = [float(t) for _, t in lines]
    assert times == sorted(times) and times[-1] <= time.time()


def test_a_refusal_stays_through_redraws_until_the_next_command_or_its_time(app):
    app.run()
    app.button(key="btn_pause").click().run()
    said = "Nothing to pause: no run is shown. Press Start first."
    assert [e.value for e in app.error] == [said]
    app.run()  # a whole-page redraw that no click caused (a run's progress, a reconnect): still there
    assert [e.value for e in app.error] == [said]
    app.button(key="btn_stop").click().run()  # the next command's answer replaces it
    assert [e.value for e in app.error] == ["Nothing to stop: no run is shown. Press Start first."]
    app.session_state["errors"] = {m: t - 60 for m, t in app.session_state["errors"].items()}  # a minute later
    app.run()
    assert not app.error
