"""Build page: generate, draw, edit, inspect, import and export a circuit.

Every change goes through ``kirchhoff_core`` (``generators.generate``, ``editing.*``, ``io.*``), which
returns a new validated circuit or raises with a message; the sections commit the new circuit only
on success (``build_common.commit``), so a rejected edit shows ``st.error`` and the previous circuit
stays. The page's own state is ``session.build``; a classroom link can hide the generator, editor
and io groups.
"""

from __future__ import annotations

import streamlit as st

import state
from components import build_canvas, build_edit, build_generate, build_io, build_network, build_view
from components.common import ensure_circuit, page_header
from state import bound

K = "build_"
session = state.get_session()
b = session.build
hidden = state.hidden(session)

page_header(session, "build", "Build a circuit",
            "Nodes carry a capacitor to ground (node 0); each device drives a current from its src node to its "
            "dst node. Generate a topology, draw or edit it, inspect any device's I-V law, and export it.")
ensure_circuit(session)
circuit = session.circuit
start, go_on = st.columns([4, 1], vertical_alignment="center")
start.markdown("**Start here.** Below is your circuit. Click a triangle in the drawing to see that device's "
               "current law, generate another topology or load an example on the right, draw or edit it under "
               "**Edit** — then train it.")
go_on.page_link("app_pages/train.py", label="Next: train it", icon=":material/arrow_forward:")
if b.flash and b.flash_for is circuit:
    st.success(b.flash, icon=":material/check_circle:")
n_slices = len(circuit.slices)
b.slice = min(b.slice, n_slices - 1)
cols = st.columns(6)
for col, (label, value, help_text) in zip(cols, [
        ("Nodes", circuit.num_nodes, "non-ground nodes, each with a capacitor to ground (node 0)"),
        ("Devices", f"{circuit.num_devices:,}", "two-terminal devices in all slices (parallel ones counted)"),
        ("Parameters", f"{circuit.num_parameters:,}", "learnable device parameters in all slices"),
        ("Slices", n_slices, "time slices (layers), each with its own devices"),
        ("T", f"{circuit.t_end:g}", "read-out time: the sum of the slice durations")]):
    col.metric(label, value, help=help_text)
with cols[5]:
    if n_slices > 1:
        bound(st.selectbox, "Slice", list(range(n_slices)), key=K + "slice", value=b.slice,
              on_set=lambda v: setattr(b, "slice", int(v)),
              format_func=lambda i: f"{i}: t ∈ [{sum(circuit.durations[:i]):g}, {sum(circuit.durations[:i + 1]):g}]",
              help="the slice that the drawing, canvas, device table and I-V inspector show")
    else:
        st.caption("one time slice")
slice_index = b.slice

side_tabs = [(label, fn) for label, fn, group in [
    ("Generate", lambda: build_generate.generate_section(session), "generator"),
    ("Time slices", lambda: build_edit.slices_section(session, circuit, slice_index), "editor"),
    ("Import / export", lambda: build_io.io_section(session, circuit), "io")] if group not in hidden]
if side_tabs:
    left, right = st.columns([3, 2], gap="medium")
    with left:
        build_view.circuit_section(session, circuit, slice_index)
    with right:
        for tab, (_, fn) in zip(st.tabs([label for label, _ in side_tabs], key=K + "side_tab", on_change="rerun"),
                                side_tabs):
            with tab:
                fn()
else:
    build_view.circuit_section(session, circuit, slice_index)

st.subheader("Network view")
build_network.network_section(session, circuit, slice_index)

if "editor" not in hidden:
    st.subheader("Edit")
    edit_tabs = st.tabs(["Canvas", "Device table", "Nodes and roles"], key=K + "edit_tab", on_change="rerun")
    for tab, fn in zip(edit_tabs, [lambda: build_canvas.canvas_section(session, circuit, slice_index),
                                   lambda: build_edit.table_section(session, circuit, slice_index),
                                   lambda: build_edit.nodes_section(session, circuit)]):
        with tab:
            fn()

st.subheader("Device I-V inspector")
build_view.inspector_section(session, circuit, slice_index)
state.publish(session, "build")
