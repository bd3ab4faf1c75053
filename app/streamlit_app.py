"""KirchhoffNet Playground — entry point (placeholder until the playground issue lands)."""

import streamlit as st

from kirchhoff_core import __version__

st.set_page_config(page_title="KirchhoffNet Playground", page_icon="⚡", layout="wide")
st.title("KirchhoffNet Playground")
st.write(f"Core library version {__version__}. The interactive pages are on their way; meanwhile "
         "use the `kirchhoff` command line (`kirchhoff --help`).")
