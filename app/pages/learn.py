"""Learn page (placeholder)."""

import streamlit as st

st.header("Learn")
