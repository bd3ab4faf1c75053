"""KirchhoffNet Playground — entry point: page navigation and the shared sidebar."""

import importlib.machinery
import os

# Streamlit runs this script as a fresh fake ``__main__`` module without an import spec, and a worker
# process (classroom.py) starts by importing its parent's ``__main__``: it would run the whole app
# again. A spec named "__main__" tells multiprocessing there is nothing to import.
__spec__ = importlib.machinery.ModuleSpec("__main__", None, origin=__file__)

import streamlit as st
import torch

import classroom
from state import get_session

from kirchhoff_core.solvers import SolverConfig, work_budget

# Playground circuits are small, so every solve is a chain of tiny matrix products: extra intra-op
# threads only fight each other and other sessions' training. On a busy 2-core machine one thread
# trained the moons preset at ~0.35 s per epoch and two threads at 2-11 s. KIRCHHOFF_TORCH_THREADS
# overrides (it applies to the whole server process).
_THREADS = int(os.environ.get("KIRCHHOFF_TORCH_THREADS", "1"))
if torch.get_num_threads() != _THREADS:
    torch.set_num_threads(_THREADS)

st.set_page_config(page_title="KirchhoffNet Playground", page_icon=":material/bolt:", layout="wide")

session = get_session()
if session.message:
    st.warning(session.message)
    session.message = None

pages = [
    st.Page("app_pages/build.py", title="Build", icon=":material/cable:", default=True),
    st.Page("app_pages/train.py", title="Train", icon=":material/monitoring:"),
    st.Page("app_pages/sweep.py", title="Sweep", icon=":material/stacked_line_chart:", url_path="sweep"),
    st.Page("app_pages/trajectories.py", title="Trajectories", icon=":material/timeline:", url_path="trajectories"),
    st.Page("app_pages/chip.py", title="Chip", icon=":material/developer_board:", url_path="chip"),
    st.Page("app_pages/generate.py", title="Generate", icon=":material/scatter_plot:", url_path="generate"),
    st.Page("app_pages/spice.py", title="Verify in SPICE", icon=":material/memory:", url_path="spice"),
    st.Page("app_pages/learn.py", title="Learn", icon=":material/menu_book:"),
]
current = st.navigation(pages)
status = classroom.status()
if status:
    st.sidebar.caption(status, help="This server's training workers: each browser session trains in its own "
                       "process, at most this many at once; the others wait in line and take turns.")
# Every solve of one run of the page (a page action) shares one work budget: many fast solves cannot
# add up to a frozen page any more than one slow solve can (SolverConfig.max_total_nfe / max_total_s).
with work_budget(SolverConfig(), "this page action"):
    current.run()
