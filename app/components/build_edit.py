"""Build page editors: time slices, the device table, nodes and roles. Every change goes through
``kirchhoff_core.editing``, which returns a new validated circuit or raises with a message; editors
that mirror the circuit are keyed by its fingerprint, so they reset exactly when it changes."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from components.build_common import apply
from kirchhoff_core import editing
from kirchhoff_core.circuit import Circuit
from kirchhoff_core.devices import KINDS
from state import Session

K = "build_"
TABLE_PAGE = 1000  # device-table rows per page


def slices_section(session: Session, circuit: Circuit, slice_index: int) -> None:
    n_slices = len(circuit.slices)
    starts = np.cumsum([0.0] + circuit.durations[:-1])
    table = pd.DataFrame({"nodes": [circuit.width(i) for i in range(n_slices)],
                          "devices": [s.num_devices for s in circuit.slices],
                          "starts at": starts, "duration": circuit.durations})
    table.index.name = "slice"
    edited = st.data_editor(table, key=f"{K}durations_{circuit.fingerprint()}", disabled=["nodes", "devices", "starts at"],
                            column_config={"duration": st.column_config.NumberColumn("duration", min_value=0.0,
                                                                                     format="%g")})
    if st.button("Apply durations", key=K + "apply_durations"):
        apply(session, lambda: editing.set_durations(circuit, [float(d) for d in edited["duration"].tolist()]),
              lambda new: f"Durations set: T = {new.t_end:g}.")
    st.markdown("**Add a slice**")
    c1, c2 = st.columns(2)
    how = c1.radio("New slice", ["copy of the last slice", "empty"], key=K + "add_how", horizontal=True)
    duration = c2.number_input("Its duration", 0.001, 1000.0, 1.0, format="%g", key=K + "add_duration")
    if st.button("Add slice", key=K + "add_slice"):
        apply(session, lambda: editing.add_slice(circuit, duration, copy_previous=how.startswith("copy")),
              lambda new: f"Added slice {len(new.slices) - 1}.",
              before_commit=lambda new: setattr(session.build, "slice", len(new.slices) - 1))
    st.markdown(f"**Slice {slice_index}** (choose another with *Slice* above)")
    if st.button(f"Remove slice {slice_index}", key=K + "remove_slice", disabled=n_slices == 1):
        apply(session, lambda: editing.remove_slice(circuit, slice_index), lambda new: f"Removed slice {slice_index}.")
    if st.button("Copy topology from previous slice", key=K + "copy_topology", disabled=slice_index == 0,
                 help="give this slice the devices and parameters of the slice before it"):
        apply(session, lambda: editing.copy_previous_topology(circuit, slice_index),
              lambda new: f"Slice {slice_index} now has the devices of slice {slice_index - 1}.")


# --- device table ------------------------------------------------------------------------------------

def _device_frame(circuit: Circuit, i: int, start: int, stop: int) -> pd.DataFrame:
    s = circuit.slices[i]
    kinds = s.kind[start:stop].tolist()
    used = np.array([KINDS[k].n_params for k in kinds], dtype=np.int64).reshape(-1, 1)
    params = np.where(np.arange(s.params.shape[1]) < used, s.params[start:stop], np.nan)
    return pd.DataFrame({"src": s.src[start:stop], "dst": s.dst[start:stop], "kind": kinds,
                         **{f"p{c}": params[:, c] for c in range(params.shape[1])}},
                        index=pd.Index(np.arange(start, stop), name="device"))  # not a RangeIndex: shown


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _frame_to_records(df: pd.DataFrame) -> list[dict]:
    """Table rows -> device records for ``editing.set_devices`` (the core validates them)."""
    records = []
    pcols = [c for c in df.columns if re.fullmatch(r"p\d", str(c))]
    for row in df.to_dict("records"):
        kind = row["kind"] if isinstance(row["kind"], str) else None
        n = KINDS[kind].n_params if kind in KINDS else 0
        params = [0.0 if _missing(row[c]) else float(row[c]) for c in pcols[:n]]
        node = {k: None if _missing(row[k]) else (int(row[k]) if float(row[k]).is_integer() else float(row[k]))
                for k in ("src", "dst")}
        records.append({**node, "kind": kind, "params": params})
    return records


def table_section(session: Session, circuit: Circuit, slice_index: int) -> None:
    b = session.build
    s = circuit.slices[slice_index]
    E = s.num_devices
    start = 0
    if E > TABLE_PAGE:
        start = st.selectbox("Devices", list(range(0, E, TABLE_PAGE)), key=f"{K}table_page_{slice_index}",
                             format_func=lambda a: f"{a}–{min(a + TABLE_PAGE, E) - 1} of {E:,}")
    stop = min(start + TABLE_PAGE, E)
    st.caption(f"Slice {slice_index}: one row per device (current flows src → dst; 0 is ground). Add or delete "
               "rows, change kinds and parameters, then **Apply**. Parameters a kind does not use are ignored; "
               "empty ones count as 0. Formulas: see the I-V inspector below.")
    b.table_key = f"{K}table_{slice_index}_{start}_{circuit.fingerprint()}_{b.table_nonce}"
    number = {"min_value": 0, "step": 1, "required": True, "format": "%d"}
    edited = st.data_editor(
        _device_frame(circuit, slice_index, start, stop), key=b.table_key, num_rows="dynamic", height=320,
        column_config={"_index": st.column_config.NumberColumn("device", disabled=True,
                                                               help="device number in the slice (new rows: none yet)"),
                       "src": st.column_config.NumberColumn("src", help="node the current leaves", **number),
                       "dst": st.column_config.NumberColumn("dst", help="node the current enters", **number),
                       "kind": st.column_config.SelectboxColumn("kind", options=list(KINDS), required=True,
                                                                default="ShiftTanh2", width="medium"),
                       **{f"p{c}": st.column_config.NumberColumn(f"p{c}", format="%.4f") for c in range(3)}})
    c1, c2, _ = st.columns([1, 1, 2])
    if c1.button("Apply table", type="primary", key=K + "table_apply"):
        before = s.devices()[:start] if start else []
        after = s.devices()[stop:] if stop < E else []
        apply(session, lambda: editing.set_devices(circuit, slice_index, before + _frame_to_records(edited) + after),
              lambda new: f"Slice {slice_index} now has {new.slices[slice_index].num_devices:,} devices.",
              refused="Table not applied: {}. The previous circuit is unchanged.")
    if c2.button("Discard edits", key=K + "table_discard"):
        b.table_nonce += 1
        st.rerun()


# --- nodes and roles ---------------------------------------------------------------------------------

def nodes_section(session: Session, circuit: Circuit) -> None:
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Nodes**")
        if st.button("Add node", key=K + "add_node", help="a new node with its capacitor, no devices yet"):
            apply(session, lambda: editing.add_node(circuit), lambda new: f"Added node {new.num_nodes}.")
        node = int(st.number_input("Node to remove", 1, circuit.num_nodes, circuit.num_nodes,
                                   key=f"{K}rm_node_{circuit.fingerprint(params=False)}"))
        if st.button(f"Remove node {node}", key=K + "remove_node",
                     help="removes its devices in every slice; higher nodes are renumbered"):
            apply(session, lambda: editing.remove_node(circuit, int(node)), lambda new: f"Removed node {node}.",
                  refused=f"Node {node} not removed: {{}}")
    with c2:
        st.markdown("**Inputs and read-outs**")
        first, last = circuit.width(0), circuit.width(len(circuit.slices) - 1)
        fingerprint = circuit.fingerprint()
        inputs = st.multiselect("Input nodes (their voltages at t = 0 are the input)", list(range(1, first + 1)),
                                default=[n for n in circuit.inputs if n <= first], key=f"{K}inputs_{fingerprint}")
        outputs = st.multiselect("Read-out nodes (their voltages at T are the output)", list(range(1, last + 1)),
                                 default=[n for n in circuit.outputs if n <= last], key=f"{K}outputs_{fingerprint}")
        if st.button("Apply roles", key=K + "apply_roles"):
            apply(session, lambda: editing.set_roles(circuit, inputs, outputs),
                  lambda new: f"Inputs {new.inputs}, read-outs {new.outputs}.")
