"""Real problems in the dashboard (issue 34): files a spec reads (uploaded, size-capped, named without a folder; a
link carries the spec but not its files), Check's domain preview and notes, and the learned coefficients beside
lambda with the Overview's "kappa = ... (true 0.1)"."""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import custom_pde, preview, unknowns, uploads
from dashboard.settings import build_configs, defaults, parse_query, to_query
from pinncore import ConfigError, StepRecord
from pinncore.problems.spec import describe, problem_class, sample_points

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
EXAMPLES = custom_pde.examples()
OBS_SPEC = EXAMPLES["heat-inverse"].replace("heat-inverse-observations.csv", "obs.csv")


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("PINN_RUNS_DIR", str(tmp_path / "runs"))
    return AppTest.from_file(APP, default_timeout=60)


def _obs() -> bytes:
    return (uploads.EXAMPLES / "heat-inverse-observations.csv").read_bytes()


def test_uploads_are_capped_named_plainly_and_stored_by_content(monkeypatch):
    path = uploads.store(_obs(), "obs.csv")
    assert path.read_bytes() == _obs() and path.name == "obs.csv" and path.parent.parent == uploads.root()
    assert uploads.store(_obs(), "obs.csv") == path  # the same bytes: the same file
    for name, words in (("../../etc/passwd", "not a plain file name"), ("obs.exe", "a reference or data file is"),
                        ("a/b.csv", "not a plain file name")):
        with pytest.raises(ConfigError, match=words):
            uploads.store(b"x", name)
    monkeypatch.setattr(uploads, "MAX_BYTES", 10)
    with pytest.raises(ConfigError, match="has 11 bytes; at most 10"):
        uploads.store(b"x" * 11, "big.csv")


def test_a_dashboard_spec_reads_uploaded_or_shipped_files_only():
    files = {"obs.csv": str(uploads.store(_obs(), "obs.csv"))}
    assert problem_class(uploads.resolve(OBS_SPEC, files)).name == "heat-inverse"
    assert problem_class(uploads.resolve(EXAMPLES["heat-inverse"], {})).name == "heat-inverse"  # shipped beside it
    assert uploads.missing(OBS_SPEC, {}) == {"terms[3].data.file": "obs.csv"}
    with pytest.raises(ConfigError, match=r"terms\[3\].data.file: 'obs.csv' is not uploaded: upload it .*a link carries"):
        custom_pde.problem_class(OBS_SPEC, {})
    for path in ("/etc/passwd", "../secret.csv"):
        with pytest.raises(ConfigError, match="named without a folder"):
            custom_pde.problem_class(OBS_SPEC.replace("obs.csv", path), {})
    with pytest.raises(ConfigError, match="is not uploaded"):  # a session's name pointing elsewhere is not trusted
        custom_pde.problem_class(OBS_SPEC, {"obs.csv": "/etc/passwd"})


def test_a_link_carries_the_spec_but_not_its_files():
    query = to_query(defaults() | {"problem": "custom", "spec": OBS_SPEC})
    values, said = parse_query(query)
    assert values["spec"] == OBS_SPEC and values["problem"] == "custom"  # kept, not replaced by Helmholtz
    assert said == ["This spec reads obs.csv: its link carries the spec but not the files; upload them in the "
                    "editor."]
    with pytest.raises(ConfigError, match="is not uploaded"):
        build_configs(values)
    values["files"] = {"obs.csv": str(uploads.store(_obs(), "obs.csv"))}
    (config,) = build_configs(values | {"mode": "single"})
    assert str(uploads.root()) in config.spec  # the run reads the stored upload by its path


def test_check_preview_draws_the_pieces_and_notes_the_domain():
    problem = problem_class(EXAMPLES["poisson-holes"])()
    fig = preview.points_figure(problem, sample_points(problem, 64))
    names = {t.name for t in fig.data}
    assert {"piece: outer", "piece: vent", "piece: wall", "res (64)", "bc (128)", "flux (64)"} <= names
    lines = preview.notes(describe(uploads.resolve(EXAMPLES["heat-inverse"], {})))
    assert any(line.startswith("**Unknown** kappa: learned from 0.5") and "true 0.1" in line for line in lines)
    assert any("200 rows of heat-inverse-observations.csv (x, t, obs)" in line for line in lines)
    assert any("**Periodic** in x (period 2), by a penalty term" in line
               for line in preview.notes(describe(EXAMPLES["allen-cahn"])))
    assert preview.notes(describe(EXAMPLES["poisson-holes"]))[0].startswith("**Domain** in x, y: area")


def test_unknown_lines_and_words():
    config = SimpleNamespace(make_problem=lambda: problem_class(uploads.resolve(EXAMPLES["heat-inverse"], {}))())
    steps = [StepRecord(k, {"res": 1.0}, {"res": 1.0}, 1e-3, 0.0, {"kappa": 0.5 - 0.004 * k}) for k in range(100)]
    view = SimpleNamespace(name="M2", label="M2", steps=steps, config=config)
    assert unknowns.words([view]) == "M2: kappa = 0.104 (true 0.1)"
    fig = unknowns.lines([view])
    assert len(fig.data) == 1 and fig.data[0].y[-1] == pytest.approx(0.104)
    assert fig.layout.shapes[0].y0 == 0.1  # the true value, dotted
    assert unknowns.lines([SimpleNamespace(name="M1", label="M1", steps=[StepRecord(0, {}, {}, 0, 0)],
                                           config=config)]) is None


def test_the_inverse_example_checks_trains_and_says_kappa_beside_lambda(app):
    app.run()
    app.session_state["w_problem"] = "custom"
    app.run()
    app.session_state["w_spec"] = EXAMPLES["heat-inverse"]
    app.session_state["w_spec_params"] = ""  # the wave example's c: as the Load button does
    app.run()
    assert not app.warning  # the observations ship beside the example
    app.button(key="btn_spec_check").click().run()
    assert not app.exception and not app.error
    assert any(m.value.startswith("**Unknown** kappa") for m in app.markdown)
    for key, value in {"w_mode": "single", "w_depth": 2, "w_width": 16, "w_batch": 32, "w_steps": 40,
                       "w_eval_every": 20, "w_grad_every": 20, "w_hess_every": 0, "w_engine": "eager"}.items():
        app.session_state[key] = value
    app.run()
    app.button(key="btn_start").click().run()
    deadline = time.time() + 180
    while time.time() < deadline and not any("finished" in m.value for m in app.markdown):
        time.sleep(0.5)
        app.run()
    assert not app.exception
    said = [m.value for m in app.markdown if m.value.startswith("**Learned coefficients**")]
    assert said and "kappa = " in said[0] and "(true 0.1)" in said[0]
