"""PINN gradient pathologies, live: ``streamlit run dashboard/app.py`` (or ``pinn dashboard``).

The entry point: the pages and their names in the navigation. The live lab (``lab.py``) is the default page, at
the root URL, where links with a setup and ``?open=`` land; the Lessons and the Sweeps keep their paths.
"""
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent

st.navigation([
    st.Page(HERE / "lab.py", title="Live lab", icon=":material/ssid_chart:", default=True),
    st.Page(HERE / "subpages" / "lessons_page.py", title="Lessons", icon=":material/school:", url_path="Lessons"),
    st.Page(HERE / "subpages" / "sweeps_page.py", title="Sweeps", icon=":material/grid_on:", url_path="Sweeps"),
]).run()
