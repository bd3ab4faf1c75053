"""Build page (placeholder)."""

import streamlit as st

st.header("Build")
