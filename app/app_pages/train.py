"""Train page: a TensorFlow-Playground-style live trainer for the session's circuit.

The session (``state``) derives the circuit, the dataset and the trainer from the set-up; the
components draw the controls (``train_controls``), the data column (``train_data``), the live charts
(``train_live``), the Compare view of the session's runs (``train_compare``) and the share / save box
(``train_io``); the play controller (``live``) plays the session's trainer one epoch at a time.
"""

from __future__ import annotations

import streamlit as st

import state
from components import train_compare, train_controls, train_data, train_io, train_live
from components.common import example_picker, page_header
from live import Player, live_fragment, play_bar

from kirchhoff_core import accelerator

MAX_EPOCHS = 2000  # playing pauses here so a forgotten tab does not train forever

session = state.get_session()
config, messages = session.config, session.train.messages
problem = state.ensure_circuit(session)
if problem:
    messages.error(problem)
state.ensure_data(session, messages)
state.ensure_trainer(session, messages)
hidden = state.hidden(session)

page_header(session, "train", "Train", "Pick a dataset, press Play and watch the circuit learn: the read-out voltages "
            "at time T are the network's outputs, and training tunes every device's parameters.", messages)

player = Player("train", "epoch", MAX_EPOCHS, budget_s=0.8, lr=lambda: config.lr, messages=messages,
                step_help="Train one epoch", reset_help="Back to the circuit's initial parameters (epoch 0)")
c = session.circuit
play_bar(player, session.train.run,
         "Training is not available until the circuit matches the data (see below)." if not session.train.run.active else
         f"{c.name or 'circuit'} · {c.num_nodes} nodes · {c.num_devices} devices · {c.num_parameters} parameters · "
         f"T = {c.t_end:g}")
gpu = accelerator.resolve_device("auto")
if gpu.type == "cuda":  # TrainConfig's device "auto" picks the server's GPU
    st.caption(f"Training on the server's {accelerator.describe(gpu)}.")

if "hyperparameters" not in hidden:
    train_controls.hyperparameters(session)
if "solver" not in hidden:
    train_controls.solver(session)
if not {"hyperparameters", "solver"} <= hidden:
    st.caption("Changing anything except the learning rate rebuilds the trainer and restarts training at epoch 0.")
train_controls.setup_check(session)
if session.train.mismatch:
    train_controls.mismatch_fixes(session)

col_data, col_live = st.columns([1.0, 3.2], gap="medium")
with col_data:
    train_data.data_column(session, hidden)
    if "io" not in hidden:
        example_picker(session, messages, "train_load_example", width="stretch")
with col_live:
    live_fragment(player, session.train.run, lambda snap: train_live.draw(session, snap))

if config.dataset == state.CUSTOM and "dataset" not in hidden:
    with st.expander("Draw your own points", expanded=True):
        train_data.draw_points(session)

train_compare.compare_view(session)

query = state.publish(session, "train")
if "io" not in hidden:
    with col_live:
        train_io.share_and_save(session, query)
