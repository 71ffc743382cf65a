"""The "Your own PDE" editor: an example picker, the spec's text, the reference or data files it reads (uploaded,
size-capped), its parameters as widgets (sidebar), and what Check shows (main page): the parsed equations as LaTeX,
the terms and where they sample, the domain with its named boundary pieces and the points one step draws, the
learned coefficients, the solution field, or the first error with its line."""
from __future__ import annotations

import streamlit as st

from dashboard import custom_pde, figures, preview
from pinncore import ConfigError


def sidebar() -> None:
    """Drawn in the sidebar when the problem is "Your own PDE": writes state.w_spec and state.w_spec_params."""
    state = st.session_state
    if not state.get("w_spec"):
        state.w_spec = custom_pde.default_spec()
    found = custom_pde.examples()
    c1, c2 = st.columns([3, 2])
    pick = c1.selectbox("Example", list(found), key="w_spec_example", label_visibility="collapsed")
    if c2.button("Load", key="btn_spec_load", help="replace the text below by this example"):
        state.w_spec, state.w_spec_params, state.spec_checked = found[pick], "", None
        for k in [k for k in state if str(k).startswith("w_sp_")]:
            del state[k]
    st.text_area("Problem spec (TOML or JSON)", key="w_spec", height=260,
                 help="inputs and their box, outputs, parameters, terms with where they sample and their residuals "
                      "(u_xx, psi_xyy, exact_tt ... up to third order); a [domain] with holes, periodic inputs, "
                      "[unknowns], data terms; see the examples and docs/pde/geometry-and-data.md")
    _files()
    if st.button("Check", key="btn_spec_check", icon=":material/fact_check:"):
        state.spec_checked = _check(state.w_spec, state.w_spec_params)
    try:
        cls = custom_pde.problem_class(state.w_spec, state.get("spec_files"))
        values = custom_pde.spec_params(cls, state.w_spec_params)
    except ConfigError:
        return  # Check (and Start) say what is wrong
    for p in cls.params:
        key = f"w_sp_{p.name}"
        if key not in state:
            state[key] = float(values[p.name])
        st.number_input(p.name, key=key, help=f"{p.help + ' · ' if p.help else ''}allowed {p.low:g} to {p.high:g}",
                        format="%g")
    state.w_spec_params = custom_pde.format_params({p.name: float(state[f"w_sp_{p.name}"]) for p in cls.params})


def _files() -> None:
    """The reference or data files the spec reads: upload (size-capped), what is there, and the note that a link
    carries the spec but not its files."""
    from pinncore.data import MAX_BYTES
    from dashboard import uploads

    state = st.session_state
    state.setdefault("spec_files", {})
    got = st.file_uploader("Reference or data files", type=list(uploads.SUFFIXES), accept_multiple_files=True,
                           key="w_spec_upload", max_upload_size=MAX_BYTES >> 20,
                           help="a spec names them without a folder: data = { file = \"obs.csv\", ... }, "
                                "reference = \"solution.txt\"; CSV, NPZ (no pickle) or a solver's text export")
    for f in got or []:
        try:
            state.spec_files[f.name] = str(uploads.store(f.getvalue(), f.name))
        except ConfigError as exc:
            st.error(str(exc), icon=":material/error:")
    lacking = uploads.missing(state.w_spec, state.spec_files)
    if lacking:
        st.warning(f"This spec reads {', '.join(sorted(set(lacking.values())))}: upload it. A link carries the spec "
                   "but not its files.", icon=":material/upload_file:")
    elif state.spec_files and uploads.missing(state.w_spec, {}):
        st.caption("A link to this setup carries the spec but not its uploaded files: whoever opens it uploads "
                   "them again.")


def _check(text: str, params_text: str) -> dict:
    from pinncore.problems.spec import check

    files = st.session_state.get("spec_files")
    try:
        params = custom_pde.spec_params(custom_pde.problem_class(text, files), params_text) if text.strip() else {}
        text = custom_pde.resolved(text, files)
    except ConfigError as exc:
        return {"ok": False, "error": {"message": str(exc), "line": getattr(exc, "line", None)}}
    return check(text, **params) | {"params": params, "text": text}


def main_panel() -> None:
    """What the last Check found (main page, above the runs)."""
    result = st.session_state.get("spec_checked")
    if not result:
        return
    if not result["ok"]:
        err = result["error"]
        where = f" (line {err['line']})" if err.get("line") else ""
        st.error(f"The spec does not check{where}: {err['message']}", icon=":material/error:")
        return
    with st.expander(f"Your own PDE: {result['info']['title']} — checked", expanded=True):
        _equations(result["info"])
        _pictures(result)


def _equations(info: dict) -> None:
    c1, c2 = st.columns(2)
    with c1:
        domain = ", ".join(f"{n} ∈ [{a:g}, {b:g}]" for n, (a, b) in info["inputs"].items())
        st.markdown(f"**Inputs** {domain} · **outputs** {', '.join(info['outputs'])} · **parameters** "
                    + (", ".join(f"{k} = {v:g}" for k, v in info["values"].items()) or "none"))
        for d in info["definitions"]:
            st.latex(f"{d['name']} = {d['latex']}")
        for s in info["solution"]:
            st.latex(f"{s['output']}_{{\\mathrm{{exact}}}} = {s['latex']}")
        st.latex(f"\\text{{evaluated: }} {info['quantity']['latex']}")
        for line in preview.notes(info):
            st.markdown(line)
    with c2:
        for t in info["terms"]:
            for part in t["parts"]:
                where = ", ".join(part["on"])
                for res in part["latex"]:
                    st.latex(f"\\text{{{t['name']} on {where}: }}\\; {res} = 0")


def _pictures(result: dict) -> None:
    from pinncore import problem_from_spec
    from pinncore.problems.spec import sample_points

    text = result.get("text", st.session_state.w_spec)  # with its files resolved
    try:
        problem = problem_from_spec(text, **result["params"])
        points = sample_points(problem, batch=128)
    except ConfigError as exc:
        st.error(str(exc))
        return
    c1, c2 = st.columns(2)
    c1.plotly_chart(preview.points_figure(problem, points), key="fig_spec_points")
    try:
        c2.plotly_chart(figures.solution_figure(problem).update_layout(height=320), key="fig_spec_solution")
    except (ConfigError, ValueError) as exc:  # no closed form and no reference
        c2.info(f"No solution field to show: {exc}")
