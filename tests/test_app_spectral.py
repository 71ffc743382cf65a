"""The spectral-bias section of the Error fields view, driven by AppTest on saved runs (dashboard.spectral_view),
and its numbers from known fields (dashboard.spectral)."""
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import spectral
from pinncore import EvalSnapshot, RunConfig

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
MULTISCALE = (Path(__file__).resolve().parent.parent / "examples" / "problems" / "poisson1d-multiscale.toml").read_text()


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("PINN_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=60)
    yield at
    from dashboard.live import run_service

    for rid in (at.session_state["runs"] if "runs" in at.session_state else {}).values():
        try:
            run_service().command(rid, "stop", at.session_state["viewer"])
        except Exception:  # noqa: BLE001 -- finished already
            pass


def trained(path, config):
    from pinncore.run import Run

    run = Run.create(config, path)
    run.advance(config.steps)
    run.close()


def test_error_fields_show_the_spectra_of_1d_runs_and_their_error_per_frequency(app, tmp_path):
    common = dict(problem="poisson1d-multiscale", spec=MULTISCALE, steps=20, depth=1, width=16, batch=16,
                  eval_every=5, grad_every=0, eval_points=200)
    trained(tmp_path / "runs" / "sb" / "plain", RunConfig(**common))
    trained(tmp_path / "runs" / "sb" / "ff", RunConfig(embedding="fourier", fourier_sigma=10.0, **common))
    app.query_params["open"] = "sb/plain,sb/ff"
    app.run()
    assert list(app.session_state["runs"]) == ["M1", "M1+fourier"]
    app.session_state["w_view"] = "Error fields"
    app.run()
    assert not app.exception
    assert any(m.value.startswith("**Spectral bias**") for m in app.markdown)
    caption = next(c.value for c in app.caption if c.value.startswith("Error at the solution's frequencies"))
    # both runs, at their last snapshot, at the solution's two frequencies (1 and 25 periods per unit x)
    assert "M1 (step 20): " in caption and "M1+fourier (step 20): " in caption
    assert caption.count(" at 1,") == 2 and caption.count(" at 25") == 2
    assert not [r for r in app.radio if r.key == "w_spec_axis"]  # 1D: no slice to choose


def test_a_2d_run_gets_a_slice_along_either_input(app, tmp_path):
    trained(tmp_path / "runs" / "h", RunConfig(steps=4, depth=1, width=8, batch=8, eval_every=2, grad_every=0,
                                               eval_points=40))
    app.query_params["open"] = "h"
    app.run()
    app.session_state["w_view"] = "Error fields"
    app.run()
    assert not app.exception
    slider = next(s for s in app.select_slider if s.key.startswith("w_spec_at_helmholtz_0"))
    assert abs(math.sin(4 * math.pi * float(slider.value))) > 0.97  # the busiest line: |sin(4 pi y)| near 1
    app.radio(key="w_spec_axis").set_value("y").run()
    assert not app.exception
    assert any(s.key.startswith("w_spec_at_helmholtz_1") for s in app.select_slider)
    caption = next(c.value for c in app.caption if c.value.startswith("Error at the solution's frequencies"))
    assert "periods per unit y" in caption and " at 2" in caption  # sin(4 pi y): 2 periods per unit


def test_the_spectrum_of_a_sum_of_sines_shows_each_amplitude_at_its_frequency():
    x = np.linspace(0, 1, 400)
    amp = spectral.amplitude(np.sin(2 * math.pi * x) + 0.1 * np.sin(50 * math.pi * x))
    assert amp[1] == pytest.approx(1.0, rel=0.02) and amp[25] == pytest.approx(0.1, rel=0.02)
    assert amp[10] < 1e-3  # between the peaks, nothing leaks
    config = RunConfig(problem="poisson1d-multiscale", spec=MULTISCALE, eval_points=400)
    ref = np.sin(2 * math.pi * x) + 0.1 * np.sin(50 * math.pi * x)
    evals = [EvalSnapshot(0, 1.0, np.zeros(400, np.float32)),  # learnt nothing: error = -reference
             EvalSnapshot(9, 0.1, (np.sin(2 * math.pi * x)).astype(np.float32))]  # the large wave only
    s = spectral.spectra(SimpleNamespace(config=config, evals=evals, reference=ref))
    assert s.peaks() == [1, 25] and list(s.freq[s.peaks()]) == [1.0, 25.0]
    ratio = s.error[:, s.peaks()] / s.reference[s.peaks()]
    assert ratio[0] == pytest.approx([1, 1], rel=1e-3)
    assert ratio[1, 0] < 1e-3 and ratio[1, 1] == pytest.approx(1, rel=1e-3)
    figure = spectral.band_figure([("M1", s)])
    assert [t.name for t in figure.data] == ["M1 · 1", "M1 · 25"]
    assert len(spectral.spectrum_figure(s, "M1").data) == 2


def test_the_sidebar_offers_the_embeddings_and_factorisation_and_start_trains_them(app):
    app.run()
    app.session_state["w_mode"] = "single"
    app.run()
    assert not [w for w in app.number_input if w.key == "w_ff_sigma"]  # no Fourier: no Fourier settings
    app.selectbox(key="w_embedding").set_value("fourier").run()
    app.selectbox(key="w_rwf").set_value("on").run()
    assert not app.exception
    keys = {w.key for w in app.number_input}
    assert {"w_ff_sigma", "w_ff_features", "w_rwf_mu", "w_rwf_sigma"} <= keys
    assert app.selectbox(key="w_embedding").options == ["none", "fourier", "periodic", "periodic+fourier"]
    for key, value in {"w_depth": 1, "w_width": 8, "w_batch": 8, "w_steps": 3, "w_engine": "eager"}.items():
        app.session_state[key] = value
    app.button(key="btn_start").click().run()
    assert not app.exception and not app.error
    assert list(app.session_state["runs"]) == ["M1+fourier+rwf"]
    app.selectbox(key="w_embedding").set_value("periodic").run()
    app.button(key="btn_start").click().run()
    assert [e.value for e in app.error] == ["Cannot start: embedding: 'periodic' needs a problem that declares "
                                            "periodic inputs; helmholtz declares none"]
