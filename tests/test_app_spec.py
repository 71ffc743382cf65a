"""'Your own PDE' in the page: the editor checks a spec (LaTeX of its equations, or the error with its line),
its parameters become widgets, a link carries the spec (compressed, size-limited), and Start trains it."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import custom_pde
from dashboard.settings import build_configs, defaults, parse_query, to_query
from pinncore import ConfigError

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
WAVE = custom_pde.examples()["wave"]


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("PINN_RUNS_DIR", str(tmp_path / "runs"))
    return AppTest.from_file(APP, default_timeout=60)


def test_check_shows_the_parsed_equations_and_the_parameters_become_widgets(app):
    app.run()
    app.session_state["w_problem"] = "custom"
    app.run()
    app.button(key="btn_spec_check").click().run()
    assert not app.exception and not app.error
    assert len(app.latex) >= 4  # the residuals of res, ic (two), bc, the solution and the quantity
    assert "w_sp_c" in [n.key for n in app.number_input]


def test_a_broken_spec_says_what_and_where(app):
    app.run()
    app.session_state["w_problem"] = "custom"
    app.session_state["w_spec"] = WAVE.replace('residual = "u_tt - c^2*u_xx"', 'residual = "u_tt - __import__(1)"')
    app.run()
    app.button(key="btn_spec_check").click().run()
    assert not app.exception
    assert len(app.error) == 1 and "line" in app.error[0].value
    app.button(key="btn_start").click().run()
    assert [e.value for e in app.error][-1].startswith("Cannot start: ") and app.session_state["runs"] == {}


def test_a_link_carries_the_spec_and_its_parameters():
    values = defaults() | {"problem": "custom", "spec": WAVE, "spec_params": "c=1.5"}
    query = to_query(values)
    assert len(query["spec"]) < len(WAVE)
    back, ignored = parse_query(query)
    assert ignored == [] and back["spec"] == WAVE and back["spec_params"] == "c=1.5"
    assert build_configs(back)[0].params == {"c": 1.5} and build_configs(back)[0].spec == WAVE


@pytest.mark.parametrize("token,needle", [("x" * 20_000, "at most"), ("!!!", "not a spec"),
                                          (custom_pde.encode("a" * 200_000), "inflates past")])
def test_a_hostile_spec_in_a_link_is_refused_in_one_line(token, needle):
    with pytest.raises(ConfigError, match=needle):
        custom_pde.decode(token)
    _, ignored = parse_query({"problem": "custom", "spec": token})
    assert len(ignored) == 1 and needle in ignored[0] and len(ignored[0]) < 300


def test_the_page_opens_a_spec_link_and_trains_it(app):
    for k, v in to_query(defaults() | {"problem": "custom", "spec": WAVE, "mode": "single", "depth": 2,
                                       "width": 16, "batch": 32, "steps": 30, "engine": "eager",
                                       "eval_every": 10, "grad_every": 10, "hess_every": 0}).items():
        app.query_params[k] = v
    app.run()
    assert not app.exception and not app.warning and app.session_state["w_spec"] == WAVE
    app.button(key="btn_start").click().run()
    assert list(app.session_state["runs"]) == ["M1"]
    deadline = time.time() + 120
    while time.time() < deadline and not any("finished" in m.value for m in app.markdown):
        time.sleep(0.5)
        app.run()
    assert any("finished" in m.value for m in app.markdown) and not app.exception
