"""Verify in SPICE: run the session's circuit unchanged in ngspice and compare with the torch model."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import streamlit as st

from kirchhoff_core import spice
from kirchhoff_core.solvers import SolverError
from state import dataset_for, ensure_circuit, get_session
from views import spice_view

session = get_session()
st.header("Verify in SPICE")
st.caption("Each node becomes a capacitor with its starting voltage as initial condition, each device a "
           "behavioural current source with its I-V law; ngspice runs the transient (one run per time slice, "
           "chained) and we overlay it on the torch solution.")

if shutil.which("ngspice") is None:
    st.info("ngspice is not installed on this machine, so the check cannot run here. Install it with "
            "`sudo apt-get install ngspice` (Debian/Ubuntu) or `brew install ngspice` (macOS), then reload. "
            "You can still download the netlist below and run it elsewhere.")

message = ensure_circuit(session)
if message:
    st.warning(message)
trained = session.trainer is not None
circuit = session.trainer.model.to_circuit() if trained else session.circuit
st.write(f"Circuit: **{circuit.name or 'custom'}** — {circuit.num_nodes} nodes, {circuit.num_devices} devices, "
         f"{len(circuit.slices)} slice(s); {'trained parameters from the Train page' if trained else 'untrained'}.")

try:
    data = session.data or dataset_for(session.config)
except ValueError as e:
    data = None
    st.warning(f"No dataset for picking samples ({e}); type the input voltages instead.")
usable = data is not None and data.n_features == len(circuit.inputs)

left, right = st.columns([1, 2])
with left:
    how = st.radio("Input", ["test-set sample", "type voltages"] if usable else ["type voltages"], key="spice_how")
    if how == "test-set sample":
        idx = st.number_input("test sample index", 0, len(data.x_test) - 1, 0, key="spice_idx")
        x = data.x_test[int(idx)]
        st.write("input voltages: " + ", ".join(f"{v:.3f}" for v in x))
    else:
        text = st.text_input("input voltages (comma-separated)", ", ".join(["0.5"] * len(circuit.inputs)),
                             key="spice_inputs")
        try:
            x = np.array([float(t) for t in text.split(",") if t.strip()])
        except ValueError:
            x = None
            st.error("Input voltages must be numbers separated by commas.")
    run = st.button("Run ngspice", type="primary", key="spice_run", disabled=x is None)

if run and x is not None:
    try:
        with st.spinner("ngspice is running…"):
            st.session_state["spice_result"] = spice.compare(circuit, x, spice.SpiceOptions(timeout_s=30))
    except (spice.SpiceError, SolverError, ValueError) as e:
        st.session_state.pop("spice_result", None)
        st.error(str(e))

result = st.session_state.get("spice_result")
with right:
    if result is not None and result.torch.shape[1] == circuit.max_width:
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
        st.info("Pick a sample and press **Run ngspice**.")

st.subheader("Class agreement on the test set")
if usable and data.task == "classification":
    n = st.slider("samples to check", 5, min(200, len(data.x_test)), min(20, len(data.x_test)), key="spice_n")
    if st.button("Check predicted classes", key="spice_check"):
        try:
            with st.spinner(f"{n} ngspice runs…"):
                agreement, s_cls, t_cls = spice.class_agreement(circuit, data.x_test[:n],
                                                                replace(spice.QUICK, timeout_s=30))
            st.session_state["spice_agreement"] = (agreement, s_cls, t_cls)
        except (spice.SpiceError, SolverError, ValueError) as e:
            st.error(str(e))
    found = st.session_state.get("spice_agreement")
    if found is not None:
        st.metric("same predicted class", f"{100 * found[0]:.1f} %")
        st.plotly_chart(spice_view.agreement_figure(found[1], found[2]), key="spice_agree_fig")
else:
    st.caption("Available for classification datasets whose inputs match the circuit.")
