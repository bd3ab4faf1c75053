"""Sweep page: quick hyperparameter exploration, many training runs compared by one objective.

A teaching preset is one click; or choose hyperparameters from the catalogue
(``kirchhoff_core.sweeps.hyperparameters``), their ranges or values, the search and early stopping,
and press Start. The sweep runs in a background process (``SweepProcess``: Ray, or one trial after
another) writing a folder under the sweeps root; the page polls that folder and draws the table,
the curves, the parallel-coordinates and scatter plots and the best trial, and any trial opens in
Train. The link names the sweep shown (``?sweep=NAME``), so a reload or a shared link reopens it.
"""

from __future__ import annotations

import streamlit as st

import state
from components import sweep_form, sweep_results
from components.common import page_header, share_link

session = state.get_session()
page = session.sweep

page_header(session, "sweep", "Sweep", "Train many circuits at once and compare them: which learning rate, read-out "
            "time T or number of nodes does this data need? Each trial trains the Train page's set-up with a few "
            "settings changed; the sweep runs in the background, so you can leave the page and come back.",
            page.messages)

sweep_form.presets(page)
with st.expander("Define your own sweep", expanded=not page.link.name, icon=":material/tune:"):
    spec = sweep_form.define(page)
    sweep_form.start_bar(page, spec)
with st.expander("Open a saved sweep", icon=":material/folder_open:"):
    sweep_form.saved(page)

st.divider()
sweep_results.results(session)

query = state.publish(session, "sweep")
st.divider()
share_link(query, "sweep", "the sweep shown (its folder name under the sweeps root) and the session's set-up")
