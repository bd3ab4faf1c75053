"""Trajectories page: watch the circuit think.

Pick one input (click it in the dataset, type its coordinates or give a test-set index) and watch
its transient: every node's voltage, the device currents in the circuit drawing, and the read-out's
softmax over time. For the whole test set: the point cloud flowing through two nodes' voltage
plane, and the accuracy (and decision regions) if the circuit were read out earlier or later.
The model is the Train page's (or the session's circuit, untrained); the followed input travels in
the share link (``traj.i`` or ``traj.x``).
"""

from __future__ import annotations

import streamlit as st

import state
from components import trajectories_all, trajectories_one
from components.common import dataset, ensure_circuit, example_button, page_header
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.train import check_compatible
from live import ERRORS

session = state.get_session()
page, config = session.trajectories, session.config

page_header(session, "trajectories", "Trajectories",
            "Watch the circuit think: the input charges the input nodes at t = 0, Kirchhoff's current law moves every "
            "node, and the read-out nodes' voltages at T are the answer. Everything below plays in your browser — "
            "press Play on a chart or drag its time slider.", page.messages)
ensure_circuit(session)

try:  # the Train page's circuit as trained so far, else the session's circuit, untrained
    circuit, trained = state.current_circuit(session)
    model = page.memo.get(("model", circuit.fingerprint(), repr(config.solver_config())),
                          lambda: KirchhoffNet(circuit, config.solver_config()))
except ERRORS as e:
    st.error(f"The session's circuit cannot be simulated: {e}")
    example_button(session, page.messages, "traj_load_example")
    st.stop()

data = dataset(session, page.messages)
if data is None:
    st.info("The session uses your own points; draw at least 10 of them on the Train page to see the "
            "dataset views here. Typed inputs work without them.")
mismatch = None
if data is not None:
    try:
        check_compatible(model, data)
    except ValueError as e:
        mismatch, data = str(e), None

status = st.columns([3, 1.2], vertical_alignment="center")
history = session.train.run.history
if mismatch:
    status[0].error(f"The circuit does not match the dataset {config.dataset!r}: {mismatch}. Typed inputs still "
                    "work; the dataset views need a circuit whose input and read-out nodes fit the data (fix it on "
                    "the Train page) — or load the trained example.")
elif trained and history:
    last = history[min(trained, len(history)) - 1]
    what = f"{last.test_metric:.1%} test accuracy" if last.metric == "accuracy" else f"test R² {last.test_metric:.3f}"
    status[0].success(f"The circuit as trained on the Train page: {trained} epoch(s), {what}.")
else:
    status[0].info(f"Showing **{model.circuit.name or 'the session circuit'}** with its current parameters: the Train "
                   "page has not trained it in this session. Train it there, or load the trained example.")
with status[1]:
    example_button(session, page.messages, "traj_load_example", width="stretch",
                   help="A trained copy of the default 8-node moons circuit (assets/examples/moons_trained.json); "
                        "replaces the session's circuit and switches the dataset to moons")

trajectories_one.restore(page, len(model.inputs), data.x_test if data is not None else None)
trajectories_one.pick(page, model, data)
mkey = (model.to_circuit().fingerprint(), repr(model.solver))
trajectories_one.watch(page, model, mkey, data)
trajectories_all.test_set(page, model, mkey, data)
state.publish(session, "trajectories")
