"""Verify in SPICE: run the session's circuit unchanged in ngspice and compare with the torch model.

Results are kept with the fingerprint of the circuit they were computed for, so a changed or further
trained circuit never shows an old comparison; the chosen input travels in the share link."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import streamlit as st

import state
from components.common import dataset, ensure_circuit, example_picker, model_source, page_header
from kirchhoff_core import spice
from kirchhoff_core.solvers import SolverError
from state import bound
from views import spice_view

ERRORS = (spice.SpiceError, SolverError, ValueError)

session = state.get_session()
page, choice = session.spice, session.spice.settings
page_header(session, "spice", "Verify in SPICE",
            "Each node becomes a capacitor with its starting voltage as initial condition, each device a behavioural "
            "current source with its I-V law; ngspice runs the transient (one run per time slice, chained) and we "
            "overlay it on the torch solution.", page.messages)
if shutil.which("ngspice") is None:
    st.info("ngspice is not installed on this machine, so the check cannot run here. Install it with "
            "`sudo apt-get install ngspice` (Debian/Ubuntu) or `brew install ngspice` (macOS), then reload. "
            "You can still download the netlist below and run it elsewhere.")

ensure_circuit(session)
circuit, _ = state.current_circuit(session)
fp = circuit.fingerprint()
source, trained = model_source(session)
st.write(f"Circuit: **{circuit.name or 'custom'}** — {circuit.num_nodes} nodes, {circuit.num_devices} devices, "
         f"{len(circuit.slices)} slice(s); parameters {source}.")
if not trained:
    with st.columns([1, 2])[0]:
        example_picker(session, page.messages, "spice_load_example")

data = dataset(session, page.messages)
if data is None:
    st.warning(f"No dataset for picking samples ({session.points_problem}); type the input voltages instead.")
usable = data is not None and data.n_features == len(circuit.inputs)

left, right = st.columns([1, 2])
with left:
    ways = ["test-set sample", "type voltages"] if usable else ["type voltages"]
    how = bound(st.radio, "Input", ways, key="spice_how", value=ways[-1] if choice.typed or not usable else ways[0],
                on_set=lambda v: setattr(choice, "typed", v == "type voltages"))
    if how == "test-set sample":
        idx = bound(st.number_input, "test sample index", 0, len(data.x_test) - 1, key="spice_idx",
                    value=min(choice.sample, len(data.x_test) - 1), on_set=lambda v: setattr(choice, "sample", int(v)))
        x = data.x_test[int(idx)]
        st.write("input voltages: " + ", ".join(f"{v:.3f}" for v in x))
    else:
        text = bound(st.text_input, "input voltages (comma-separated)", key="spice_inputs",
                     value=choice.voltages or ", ".join(["0.5"] * len(circuit.inputs)),
                     on_set=lambda v: setattr(choice, "voltages", v))
        try:
            x = np.array([float(t) for t in text.split(",") if t.strip()])
        except ValueError:
            x = None
            st.error("Input voltages must be numbers separated by commas.")
    run = st.button("Run ngspice", type="primary", key="spice_run", disabled=x is None)

if run and x is not None:
    try:
        with st.spinner("ngspice is running…"):
            page.result = (fp, spice.compare(circuit, x, spice.SpiceOptions(timeout_s=30)))
    except ERRORS as e:
        page.result = None
        st.error(str(e))

with right:
    if page.result is not None and page.result[0] == fp:
        result = page.result[1]
        st.plotly_chart(spice_view.overlay_figure(result, circuit.outputs,
                                                  [0.0] + np.cumsum(circuit.durations).tolist()),
                        key="spice_overlay")
        c1, c2 = st.columns(2)
        c1.metric("max |Δv| over all nodes", f"{result.max_abs:.2e} V")
        c2.metric("read-out difference", f"{result.readout_diff:.2e} V")
        st.dataframe(spice_view.error_table(result, circuit.outputs), hide_index=True)
        st.download_button("Download netlist(s)", "\n".join(result.netlists), file_name="kirchhoffnet.cir",
                           key="spice_download")
    else:
        st.info("Pick a sample and press **Run ngspice**." if page.result is None else
                "The circuit has changed since the last run (an edit, or more training): press **Run ngspice** again.")

st.subheader("Class agreement on the test set")
if usable and data.task == "classification":
    most = min(200, len(data.x_test))
    n = bound(st.slider, "samples to check", 5, most, key="spice_n", value=min(max(choice.checks, 5), most),
              on_set=lambda v: setattr(choice, "checks", int(v)))
    if st.button("Check predicted classes", key="spice_check"):
        try:
            with st.spinner(f"{n} ngspice runs…"):
                page.agreement = (fp, spice.class_agreement(circuit, data.x_test[:n],
                                                            replace(spice.QUICK, timeout_s=30)))
        except ERRORS as e:
            st.error(str(e))
    if page.agreement is not None and page.agreement[0] == fp:
        agreement, s_cls, t_cls = page.agreement[1]
        st.metric("same predicted class", f"{100 * agreement:.1f} %")
        st.plotly_chart(spice_view.agreement_figure(s_cls, t_cls), key="spice_agree_fig")
else:
    st.caption("Available for classification datasets whose inputs match the circuit.")
state.publish(session, "spice")
