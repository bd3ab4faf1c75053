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
from components.common import dataset, ensure_circuit, example_picker, model_source, page_header
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.train import check_compatible
from live import ERRORS
from views.format import metric_label, metric_text

session = state.get_session()
page, config = session.trajectories, session.config

page_header(session, "trajectories", "Trajectories",
            "Watch the circuit think: the input charges the input nodes at t = 0, Kirchhoff's current law moves every "
            "node, and the read-out nodes' voltages at T are the answer. Everything below plays in your browser — "
            "press Play on a chart or drag its time slider.", page.messages)
ensure_circuit(session)

try:  # the Train page's circuit as trained so far, else the session's circuit, untrained
    circuit, _ = state.current_circuit(session)
    model = page.memo.get(("model", circuit.fingerprint(), repr(config.solver_config())),
                          lambda: KirchhoffNet(circuit, config.solver_config()))
except ERRORS as e:
    st.error(f"The session's circuit cannot be simulated: {e}")
    example_picker(session, page.messages, "traj_load_example")
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
source, trained = model_source(session)
name = model.circuit.name or "the session circuit"
if mismatch:
    status[0].error(f"The circuit does not match the dataset {config.dataset!r}: {mismatch}. Typed inputs still "
                    "work; the dataset views need a circuit whose input and read-out nodes fit the data (fix it on "
                    "the Train page) — or load a trained example.")
elif trained:
    history = session.train.run.history
    last = history[-1] if history else None
    now = f"; {metric_text(last.test_metric, last.metric)} test {metric_label(last.metric)} now" if last else ""
    status[0].success(f"Showing **{name}**: {source}{now}.")
else:
    status[0].info(f"Showing **{name}** {source}.")
with status[1]:
    example_picker(session, page.messages, "traj_load_example", width="stretch")

trajectories_one.restore(page, len(model.inputs), data.x_test if data is not None else None)
trajectories_one.pick(page, model, data)
mkey = (model.to_circuit().fingerprint(), repr(model.solver))
trajectories_one.watch(page, model, mkey, data)
trajectories_all.test_set(page, model, mkey, data)
state.publish(session, "trajectories")
