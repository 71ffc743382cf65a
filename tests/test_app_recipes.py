"""The compare as a list of recipes (issue 32), driven by AppTest: add, remove, edit, the URL round trip, a
malformed recipe in a link refused in one line, a preset, and a compare of new recipes started, trained and drawn
in the NTK, Alignment and Causal views."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import settings
from pinnlab.recipes import Recipe, format_recipes, parse_recipes
from pinncore import ConfigError

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


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


def rows(at) -> list[tuple[str, str, bool]]:
    n = len(parse_recipes(at.session_state["w_recipes"]))
    return [(at.session_state[f"w_rec{i}_model"], at.session_state[f"w_rec{i}_weighting"],
             at.session_state[f"w_rec{i}_causal"]) for i in range(n)]


def test_recipes_are_added_removed_and_edited_and_ride_in_the_url(app):
    app.run()
    assert not app.exception
    assert app.session_state["w_recipes"] == "M1,M2,M3,M4" and app.query_params["recipes"] == "M1,M2,M3,M4"
    assert app.button(key="btn_rec_add").disabled  # four already
    app.button(key="btn_rec_remove2").click().run()
    assert app.session_state["w_recipes"] == "M1,M2,M4"
    app.button(key="btn_rec_add").click().run()
    assert app.session_state["w_recipes"] == "M1,M2,M4,mlp+ntk"
    app.selectbox(key="w_rec1_weighting").set_value("grad-norm").run()
    app.toggle(key="w_rec0_causal").set_value(True).run()
    assert not app.exception
    assert app.session_state["w_recipes"] == "mlp+fixed+causal,mlp+grad-norm,M4,mlp+ntk"
    assert app.query_params["recipes"] == "mlp+fixed+causal,mlp+grad-norm,M4,mlp+ntk"
    for i in range(3):
        app.button(key=f"btn_rec_remove{0}").click().run()
    assert app.session_state["w_recipes"] == "mlp+ntk" and app.button(key="btn_rec_remove0").disabled


def test_a_link_with_recipes_opens_them_and_a_malformed_one_is_refused_in_one_line(app):
    app.query_params["recipes"] = "M1,mlp+ntk+causal"
    app.query_params["problem"] = "klein-gordon"
    app.run()
    assert not app.exception and not app.warning
    assert rows(app) == [("mlp", "fixed", False), ("mlp", "ntk", True)]
    configs = settings.build_configs({**settings.defaults(), **settings.parse_query(dict(app.query_params))[0]})
    assert [c.label() for c in configs] == ["M1", "mlp+ntk + causal"] and configs[1].problem == "klein-gordon"
    bad = AppTest.from_file(APP, default_timeout=60)
    bad.query_params["recipes"] = "M1,mlp+softadapt"
    bad.run()
    assert not bad.exception
    (msg,) = [w.value for w in bad.warning]
    assert "\n" not in msg and msg.startswith("Ignored URL parameter 'recipes=M1,mlp+softadapt': recipe 2 ")
    assert "unknown weighting 'softadapt'" in msg and bad.session_state["w_recipes"] == "M1,M2,M3,M4"


@pytest.mark.parametrize("text, reason", [("M1,M2,M3,M4,M1", "at most 4"), ("", "empty"), ("mlp", "recipe 1 'mlp'"),
                                          ("M1,mlp+ntk+turbo", "unknown part 'turbo'"),
                                          ("transformer+fixed", "unknown model 'transformer'")])
def test_malformed_recipe_lists_name_the_recipe_and_what_is_wrong(text, reason):
    with pytest.raises(ConfigError, match="recipes") as exc:
        parse_recipes(text)
    assert reason in str(exc.value) and "\n" not in str(exc.value)


def test_recipes_round_trip_through_their_link_form():
    recipes = [Recipe("mlp", "fixed"), Recipe("modified-mlp", "ntk", True), Recipe("mlp", "annealing")]
    assert format_recipes(recipes) == "M1,modified-mlp+ntk+causal,M2"
    assert parse_recipes(format_recipes(recipes)) == recipes
    assert parse_recipes("mlp+ntk+causal=off") == [Recipe("mlp", "ntk")]


def test_a_preset_sets_up_its_story(app):
    app.run()
    app.selectbox(key="w_preset_pick").set_value("causality").run()
    assert not app.exception
    s = app.session_state
    assert s["w_problem"] == "custom" and "u_t + b*u_x" in s["w_spec"]
    assert s["w_recipes"] == "M1,mlp+fixed+causal" and s["w_mode"] == "compare"
    assert [c.label() for c in settings.build_configs({k: s[f"w_{k}"] for k in settings.defaults()})] == \
        ["M1", "M1 + causal"]


def test_a_compare_of_new_recipes_trains_and_draws_its_views(app):
    app.query_params.update(problem="klein-gordon", recipes="mlp+ntk,mlp+annealing+causal", depth="1", width="8",
                            batch="32", steps="40", grad_every="20", eval_every="20", hess_every="0", engine="eager",
                            causal_chunks="8", causal_every="10", ntk_eig="8")
    app.run()
    app.button(key="btn_start").click().run()
    assert not app.exception and not app.error
    from dashboard.live import run_service

    service, ids = run_service(), list(app.session_state["runs"].values())
    import time

    deadline = time.time() + 180
    while time.time() < deadline and any(service.view(r).status not in ("finished",) for r in ids):
        time.sleep(0.3)
    views = [service.view(r) for r in ids]
    assert [v.label for v in views] == ["mlp+ntk", "M2 + causal"]
    ntk, causal = views
    assert ntk.kernels and ntk.spectra and ntk.aligns and not ntk.causal
    assert causal.causal and causal.causal[0].weights[0] == 1.0 and causal.aligns
    for view in ("Overview", "NTK", "Alignment", "Causal", "Compare & export"):
        app.session_state["w_view"] = view
        app.run()
        assert not app.exception, (view, app.exception)
        if view == "Overview":  # the sentence speaks of these recipes: the causal weights' reach in t
            story = next(m.value for m in app.markdown if "blue-background" in m.value)
            assert "M2 + causal's causal weights are ≥ 0.5 up to t =" in story


def test_a_compare_with_an_adam_lbfgs_recipe_shows_its_phase_the_switch_and_the_loss_against_the_error(app):
    """M1 against M1 with Adam then L-BFGS from step 20 (issue 33): the card says the phase, the Stiffness view
    tabulates sigma_max before and after the switch and says which Hessian it is, Loss & λ has the loss against
    the error with Rathore et al.'s sentence."""
    app.query_params.update(problem="poisson1d", recipes="M1,mlp+fixed+optimizer=adam+lbfgs", depth="1", width="8",
                            batch="32", steps="40", lbfgs_after="20", lbfgs_batch="64", dtype="float64",
                            grad_every="20", eval_every="5", hess_every="10", engine="eager")
    app.run()
    assert app.session_state["w_recipes"] == "M1,mlp+fixed+optimizer=adam+lbfgs"
    app.button(key="btn_start").click().run()
    assert not app.exception and not app.error
    from dashboard.live import run_service
    from pinncore.trainer import ended

    service, ids = run_service(), list(app.session_state["runs"].values())
    import time

    deadline = time.time() + 180
    while time.time() < deadline and not all(ended(service.view(r).status) for r in ids):
        time.sleep(0.3)
    plain, mixed = [service.view(r) for r in ids]
    assert (plain.label, mixed.label) == ("M1", "M1 · adam+lbfgs") and ended(mixed.status)
    assert mixed.steps[-1].step >= 20 and 20 in [h.step for h in mixed.hess]
    app.session_state["w_view"] = "Stiffness"
    app.run()
    assert not app.exception
    cards = next(m.value for m in app.markdown if "pinn-card" in m.value)
    assert "L-BFGS from step 20" in cards and cards.count("L-BFGS from step") == 1
    table = next(d.value for d in app.dataframe if "σ_max before" in d.value.columns)
    assert list(table["term"]) == ["res", "bc"] and set(table["before at step"]) == {20}
    assert set(table["run"]) == {app.session_state["w_shown"][1]}
    assert any("raw Hessian of the loss at the parameters reached" in c.value for c in app.caption)
    app.session_state["w_view"] = "Loss & λ"
    app.run()
    assert not app.exception
    assert any("Good solutions need near-zero loss" in m.value for m in app.markdown)
    for view in ("Overview", "Error fields", "Compare & export"):
        app.session_state["w_view"] = view
        app.run()
        assert not app.exception, (view, app.exception)
