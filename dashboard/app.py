"""PINN gradient pathologies, live: ``streamlit run dashboard/app.py`` (or ``pinn dashboard``).

The entry point: the pages and their names in the navigation. The live lab (``lab.py``) is the default page, at
the root URL, where links with a setup and ``?open=`` land; the Lessons and the Sweeps keep their paths.
"""
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent

# no icons on the pages: a page's icon is also its browser-tab icon, and for a Material icon the browser fetches
# it from fonts.gstatic.com (a classroom server may have no internet); the pages set a local one (dashboard.ICON)
st.navigation([
    st.Page(HERE / "lab.py", title="Live lab", default=True),
    st.Page(HERE / "subpages" / "lessons_page.py", title="Lessons", url_path="Lessons"),
    st.Page(HERE / "subpages" / "sweeps_page.py", title="Sweeps", url_path="Sweeps"),
]).run()
