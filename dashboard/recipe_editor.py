"""The sidebar's compare: a list of up to four recipes (one row each: model, weighting, causal weights; add and
remove), and the named presets that each set up one story. The list lives in ``w_recipes`` (the URL's
``recipes``); the rows' widgets are drawn from it on every run and write it back when changed."""
from __future__ import annotations

import streamlit as st

from dashboard.presets import PRESETS, apply_preset
from pinnlab.recipes import CHOICES, MAX_RECIPES, Recipe, format_recipes, parse_recipes

MODELS = ("mlp", "modified-mlp")  # what the sidebar offers (a link may name any registered model)
MODEL_NAMES = {"mlp": "MLP", "modified-mlp": "modified MLP"}


def current() -> list[Recipe]:
    try:
        return parse_recipes(st.session_state.w_recipes)
    except Exception:  # noqa: BLE001 -- the setting is checked when it is set; never fail the sidebar
        return [Recipe.of_method(m) for m in ("M1", "M2", "M3", "M4")]


def _rows_changed(n: int) -> None:
    state = st.session_state
    rows = [Recipe(state[f"w_rec{i}_model"], state[f"w_rec{i}_weighting"], bool(state[f"w_rec{i}_causal"]),
                   state[f"w_rec{i}_optimizer"]) for i in range(n)]
    state.w_recipes = format_recipes(rows)


def _remove(i: int) -> None:
    rows = current()
    if len(rows) > 1:
        del rows[i]
        st.session_state.w_recipes = format_recipes(rows)


def _add() -> None:
    rows = current()
    if len(rows) < MAX_RECIPES:
        rows.append(Recipe("mlp", "ntk") if Recipe("mlp", "ntk") not in rows else rows[-1])
        st.session_state.w_recipes = format_recipes(rows)


def editor() -> None:
    """The recipe rows, with their labels (M1-M4 where a row is one of the paper's)."""
    state, rows = st.session_state, current()
    st.caption("Each run of the compare is a recipe (model, weighting, optimiser, causal weights); everything else "
               "(problem, network size, steps, seed) is shared. M1–M4 are the paper's, with Adam. Causal weights "
               "reweight the residual along t (a problem with a time input).")
    for i, r in enumerate(rows):
        models = MODELS if r.model in MODELS else (*MODELS, r.model)
        state[f"w_rec{i}_model"], state[f"w_rec{i}_weighting"] = r.model, r.weighting
        state[f"w_rec{i}_causal"], state[f"w_rec{i}_optimizer"] = r.causal, r.optimizer
        st.markdown(f"**Run {i + 1}** · {r.label()}")
        c1, c2 = st.columns(2)
        c1.selectbox(f"Run {i + 1}: model", models, key=f"w_rec{i}_model", on_change=_rows_changed,
                     args=(len(rows),), format_func=lambda m: MODEL_NAMES.get(m, m), label_visibility="collapsed")
        c2.selectbox(f"Run {i + 1}: weighting", CHOICES["weighting"](), key=f"w_rec{i}_weighting",
                     on_change=_rows_changed, args=(len(rows),), label_visibility="collapsed")
        c1, c2, c3 = st.columns([3, 3, 1], vertical_alignment="center")
        c1.selectbox(f"Run {i + 1}: optimiser", CHOICES["optimizer"](), key=f"w_rec{i}_optimizer",
                     on_change=_rows_changed, args=(len(rows),), label_visibility="collapsed")
        c2.toggle("causal", key=f"w_rec{i}_causal", on_change=_rows_changed, args=(len(rows),),
                  help="causal weights along t (a problem with a time input)")
        c3.button(":material/close:", key=f"btn_rec_remove{i}", on_click=_remove, args=(i,),
                  disabled=len(rows) == 1, help=f"remove run {i + 1} ({r.label()})")
    st.button("Add a run", icon=":material/add:", key="btn_rec_add", on_click=_add, disabled=len(rows) >= MAX_RECIPES,
              help=f"at most {MAX_RECIPES} runs in one compare")


def preset_picker() -> None:
    """A named preset sets the whole setup of one story (problem, recipes, network, steps)."""
    st.selectbox("Preset", ["", *PRESETS], key="w_preset_pick", on_change=_picked,
                 format_func=lambda k: PRESETS[k].title if k else "choose a story…",
                 help="each sets up one comparison that tells one story; the settings below stay editable")
    key = st.session_state.get("w_preset_pick")
    if key:
        st.caption(PRESETS[key].story)


def _picked() -> None:
    key = st.session_state.get("w_preset_pick")
    if key:
        apply_preset(st.session_state, key)
