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
    return AppTest.from_file(APP, default_timeout=60)


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
