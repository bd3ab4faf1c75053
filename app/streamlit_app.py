"""KirchhoffNet Playground — entry point: page navigation and the shared sidebar."""

import streamlit as st

from state import get_session

st.set_page_config(page_title="KirchhoffNet Playground", page_icon="⚡", layout="wide")

session = get_session()
if session.message:
    st.warning(session.message)
    session.message = None

pages = [
    st.Page("pages/build.py", title="Build", icon="🔌", default=True),
    st.Page("pages/train.py", title="Train", icon="📈"),
    st.Page("pages/spice.py", title="Verify in SPICE", icon="🔬", url_path="spice"),
    st.Page("pages/learn.py", title="Learn", icon="📖"),
]
st.navigation(pages).run()
