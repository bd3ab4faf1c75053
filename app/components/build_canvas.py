"""Build page canvas: draw nodes and devices with the mouse (streamlit-flow); each change becomes a core
edit through ``views.flow_canvas.apply_canvas``, refused with a message when the core refuses it."""

from __future__ import annotations

import time

import streamlit as st
from streamlit_flow import streamlit_flow
from streamlit_flow.layouts import ManualLayout

from components.build_common import ERRORS, commit, positions
from kirchhoff_core.circuit import Circuit
from kirchhoff_core.devices import KINDS, display_name
from state import Session
from views import flow_canvas

K = "build_"


def canvas_section(session: Session, circuit: Circuit, slice_index: int) -> None:
    b = session.build
    if not flow_canvas.canvas_fits(circuit, slice_index):
        st.info(f"The canvas is for small circuits (up to {flow_canvas.MAX_CANVAS_NODES} nodes and "
                f"{flow_canvas.MAX_CANVAS_PAIRS} node pairs per slice); use the device table and the node "
                "buttons for this one.")
        return
    c1, c2 = st.columns([1, 2])
    new_kind = c1.selectbox("Kind of new devices", list(KINDS), key=K + "new_kind", format_func=display_name)
    c2.caption("**Add a device** (src → dst): drag from the small dark dot under a node onto the dot on top of "
               "another node; letting go within about 20 px of it is enough, and zooming in (＋ or the mouse wheel) "
               "makes the dots bigger. Right-click the background to create a node, a node or an edge to delete it "
               "(deleting an edge removes all its parallel devices). Changes apply at once; ground (0) stays.")
    key_fp = f"{slice_index}:{circuit.fingerprint(slice_index)}"
    if b.flow_fp != key_fp or b.flow_state is None:
        stamp = max(int(time.time() * 1000), int(b.flow_seen or 0) + 1)
        b.flow_state = flow_canvas.build_state(circuit, slice_index, b.flow_pos,
                                               positions(circuit, b.layout, b.layout_seed), stamp)
        b.flow_fp = key_fp
    if b.flow_error:
        st.error(b.flow_error)
        b.flow_error = None
    state = b.flow_state
    returned = streamlit_flow(K + "flow", state, height=460, fit_view=True, show_controls=True,
                              allow_new_edges=True, enable_pane_menu=True, enable_node_menu=True,
                              enable_edge_menu=True, hide_watermark=True, layout=ManualLayout(), min_zoom=0.2)
    if returned is state or returned.timestamp == b.flow_seen:
        return
    b.flow_seen = returned.timestamp
    moved = {n.id: (n.position["x"], n.position["y"]) for n in returned.nodes}
    try:
        edit = flow_canvas.apply_canvas(circuit, slice_index, [n.id for n in returned.nodes],
                                        [(e.source, e.target) for e in returned.edges], new_kind,
                                        seed=session.config.seed + circuit.num_devices)
    except ERRORS as e:
        b.flow_error = f"Canvas change not applied: {e}. The previous circuit is unchanged."
        b.flow_fp = None  # redraw the canvas from the circuit
        st.rerun()
    if edit.changed:
        b.flow_pos = {flow_canvas.node_id(edit.id_map[i]): xy for i, xy in moved.items() if i in edit.id_map}
        commit(session, edit.circuit, f"Canvas: {edit.summary}.")
    b.flow_pos = moved  # only moved: remember where the nodes are
    for node in state.nodes:
        if node.id in moved:
            node.position = {"x": moved[node.id][0], "y": moved[node.id][1]}
