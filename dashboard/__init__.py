"""The Streamlit app over pinncore and pinnlab (``pinn dashboard``)."""
from pathlib import Path

# the pages' browser-tab icon, served by this server: a Material icon as page_icon makes the browser fetch it
# from fonts.gstatic.com, which a classroom server without internet cannot reach
ICON = str(Path(__file__).with_name("icon.png"))
