"""Build page: the network view (``kirchhoff_core.netview``, pyvis / vis-network) for circuits too big to
draw readably — zoomable, force-directed, nodes coloured by role or by their voltage at a chosen time
for a chosen input (``trajectories.slice_voltages``, from the model's ``trajectory``)."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

import state
from kirchhoff_core.circuit import Circuit
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.netview import MAX_EDGES, network_view
from kirchhoff_core.solvers import SolverConfig, SolverError
from kirchhoff_core.trajectories import slice_voltages
from state import NetworkView, Session, bound
from views import circuit_view

K = "build_net_"
SOLVER = SolverConfig(rtol=1e-6, atol=1e-6, max_nfe=20_000, timeout_s=20.0)  # float64, one input: cheap and accurate
GROUND_UP_TO = 100  # nodes: beyond this, ground (wired to every node) pulls the layout into a star
HEIGHT = 600


def _input(session: Session, view: NetworkView, circuit: Circuit) -> np.ndarray | None:
    """The input whose voltages colour the nodes: a test sample when the dataset fits, else typed."""
    data = session.data  # the dataset as another page last made it; else the set-up's (drawn points: none)
    if data is None and session.config.dataset != state.CUSTOM:
        try:
            data = state.dataset_for(session.config)
        except ValueError:
            data = None
    n = len(circuit.inputs)
    if data is not None and data.n_features == n:
        i = bound(st.number_input, "Test sample", 0, len(data.x_test) - 1, key=K + "sample",
                  value=min(view.sample, len(data.x_test) - 1), on_set=lambda v: setattr(view, "sample", int(v)),
                  help=f"a test point of the session's dataset ({data.name})")
        return data.x_test[int(i)]
    text = bound(st.text_input, f"Input voltages ({n} input nodes, comma-separated)", key=K + "typed",
                 value=view.typed or ("0.5" if n > 8 else ", ".join(["0.5"] * n)),
                 on_set=lambda v: setattr(view, "typed", v),
                 help="one voltage per input node, or a single value for every input")
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        values = []
    if not values:
        st.error("Input voltages: write numbers separated by commas, e.g. 0.5, -1.")
        return None
    return np.full(n, values[0]) if len(values) == 1 else np.array(values)


def network_section(session: Session, circuit: Circuit, slice_index: int) -> None:
    view, drawable = session.build.network, circuit_view.is_drawable(circuit, slice_index)
    width = circuit.width(slice_index)
    show = bound(st.toggle, "Show the network view", key=K + "show",
                 value=not drawable if view.show is None else view.show,
                 on_set=lambda v: setattr(view, "show", bool(v)),
                 help="a zoomable, force-directed graph of this slice (pyvis / vis-network): made for circuits of "
                      "hundreds of nodes, where the drawing above stops being readable")
    if not show:
        st.caption("A zoomable, force-directed view of the slice, made for big circuits (hundreds of nodes): scroll to "
                   "zoom, drag to pan, hover a node or an edge for its numbers.")
        return
    c = st.columns([1.2, 1, 1, 1.3])
    colour = bound(c[0].radio, "Colour nodes by", ["role", "voltage"], key=K + "colour", value=view.colour,
                   on_set=lambda v: setattr(view, "colour", v), horizontal=True)
    ground = bound(c[1].checkbox, "Draw ground (node 0)", key=K + "ground",
                   value=width <= GROUND_UP_TO if view.ground is None else view.ground,
                   on_set=lambda v: setattr(view, "ground", bool(v)),
                   help="in circuits where every node has a device to ground it pulls the layout into a star")
    edges = bound(c[2].number_input, "Node pairs drawn", 1, 100_000, key=K + "edges", value=view.max_edges,
                  on_set=lambda v: setattr(view, "max_edges", int(v)),
                  help=f"the busiest pairs (most parallel devices) first; default {MAX_EDGES:,}")
    x, t = None, None
    circuit_now, epochs = state.current_circuit(session)
    if colour == "voltage":
        t0, t1 = sum(circuit.durations[:slice_index]), sum(circuit.durations[: slice_index + 1])
        with c[3]:
            t = bound(st.slider, f"Time t (slice {slice_index}: {t0:g} to {t1:g})", float(t0), float(t1),
                      key=K + "t", value=min(max(view.t if view.t is not None else t1, t0), t1),
                      on_set=lambda v: setattr(view, "t", float(v)), step=(t1 - t0) / 50 or None)
            if slice_index > 0 and t <= t0:
                t = t0 + (t1 - t0) / 50  # a later slice starts just after the earlier one ends
        x = _input(session, view, circuit)
        if x is None:
            return
    key = (circuit_now.fingerprint(), slice_index, colour, ground, int(edges), None if x is None else tuple(x), t)
    try:
        made = view.memo.get(key, lambda: _make(circuit_now, slice_index, colour, ground, int(edges), x, t))
    except (ValueError, SolverError) as e:
        st.error(f"The network view could not be made: {e}")
        return
    shown = (f"{made.shown_pairs:,} busiest of {made.pairs:,} node pairs" if made.shown_pairs < made.pairs
             else f"all {made.pairs:,} node pairs")
    what = ("roles: green inputs, orange read-outs, blue hidden nodes, dark grey ground" if colour == "role" else
            f"voltage at t = {t:.3g} (orange negative, white 0 V, blue positive; parameters "
            + (f"as trained on the Train page, epoch {epochs})" if epochs else "as they are now)"))
    st.caption(f"Slice {slice_index}: {made.nodes:,} nodes, {shown}; edge width grows with the parallel devices. "
               f"Colours: {what}. Scroll to zoom, drag to pan, hover for numbers; the layout settles, then stays.")
    st.iframe(made.html, height=HEIGHT + 20)


def _make(circuit: Circuit, slice_index: int, colour: str, ground: bool, edges: int, x, t):
    voltages = None
    if colour == "voltage":
        model = KirchhoffNet(circuit, SOLVER, dtype=torch.float64)
        voltages = slice_voltages(model, x, t, slice_index)
    return network_view(circuit, slice_index, voltages, include_ground=ground, max_edges=edges, height_px=HEIGHT)
