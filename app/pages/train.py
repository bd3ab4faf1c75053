"""Train page (placeholder)."""

import streamlit as st

st.header("Train")
