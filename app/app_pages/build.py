"""Build page: generate, draw, edit, inspect, import and export a circuit.

Every change goes through ``kirchhoff_core`` (``generators.generate``, ``editing.*``, ``io.*``), which
returns a new validated circuit or raises with a message; the page assigns the new circuit only on
success (``_commit``), so a rejected edit shows ``st.error`` and the previous circuit stays.
Widgets whose contents mirror the circuit (device table, roles, durations) are keyed by the
circuit's fingerprint, so they reset exactly when the circuit changes.
"""

from __future__ import annotations

import math
import pathlib
import re
import time
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from streamlit_flow import streamlit_flow
from streamlit_flow.layouts import ManualLayout

from kirchhoff_core import analysis, editing, io
from kirchhoff_core.circuit import Circuit, CircuitError
from kirchhoff_core.devices import KINDS, display_name
from kirchhoff_core.generators import COMMON_PARAMS, GENERATORS, ParamSpec, generate
from state import ensure_circuit, get_session, set_circuit
from uploads import load_upload
from views import circuit_view, flow_canvas, iv_view

EXAMPLES_DIR = pathlib.Path(__file__).resolve().parents[2] / "assets" / "examples"
TABLE_PAGE = 1000  # device-table rows per page
LAZY_JSON, LAZY_GRAPHML = 20_000, 1_000  # devices; above these the download is built only when clicked
ERRORS = (CircuitError, ValueError, TypeError)  # what the core raises for bad input
K = "build_"  # prefix of this page's st.session_state keys
ss = st.session_state
session = get_session()


# --- helpers -------------------------------------------------------------------------------------

def _commit(circuit: Circuit, message: str, fresh: bool = False) -> None:
    """Make ``circuit`` the session's circuit and rerun so every section shows it. ``fresh``: a new
    circuit (generated, loaded), not an edit, so the canvas forgets its node positions."""
    set_circuit(session, circuit)
    if fresh:
        ss.pop(K + "flow_pos", None)
    ss[K + "flash"] = message
    st.rerun()


@st.cache_data(max_entries=32, show_spinner="Laying out the circuit…")
def _positions(token: str, layout: str, seed: int, _circuit: Circuit) -> dict[int, tuple[float, float]]:
    return circuit_view.node_positions(_circuit, layout, seed)


def _describe(c: Circuit) -> str:
    return f"**{c.name or 'circuit'}**: {c.num_nodes} nodes, {c.num_devices:,} devices, {len(c.slices)} slice(s)"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:60] or "circuit"


# --- header, stats, slice choice -----------------------------------------------------------------

startup_error = ensure_circuit(session)
hidden = set(session.config.hide)
st.header("Build a circuit")
st.caption("Nodes carry a capacitor to ground (node 0); each device drives a current from its src node to its "
           "dst node. Generate a topology, draw or edit it, inspect any device's I-V law, and export it.")
if startup_error:
    st.warning(startup_error)
if flash := ss.pop(K + "flash", None):
    st.success(flash)

circuit: Circuit = session.circuit
n_slices = len(circuit.slices)
if K + "slice_next" in ss:
    ss[K + "slice"] = ss.pop(K + "slice_next")
if ss.get(K + "slice", 0) >= n_slices:
    ss[K + "slice"] = n_slices - 1

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
        slice_index = st.selectbox(
            "Slice", list(range(n_slices)), key=K + "slice",
            format_func=lambda i: f"{i}: t ∈ [{sum(circuit.durations[:i]):g}, {sum(circuit.durations[:i + 1]):g}]",
            help="the slice that the drawing, canvas, device table and I-V inspector show")
    else:
        slice_index = 0
        st.caption("one time slice")

fingerprint = circuit_view.circuit_fingerprint(circuit)
topology = circuit_view.circuit_fingerprint(circuit, params=False)


# --- circuit view --------------------------------------------------------------------------------

def circuit_section() -> None:
    c1, c2 = st.columns([2, 1])
    layout = c1.selectbox("Layout", circuit_view.LAYOUTS, key=K + "layout",
                          help="auto follows the generator's structure (ring, grid, layers, pixels) when it can")
    seed = int(c2.number_input("Layout seed", 0, 10_000, 0, key=K + "layout_seed"))
    if circuit_view.is_drawable(circuit, slice_index):
        pos = _positions(topology, layout, seed, circuit)
        fig = circuit_view.circuit_figure(circuit, slice_index, positions=pos)
    else:
        fig = circuit_view.summary_figure(circuit, slice_index)
    st.markdown(f"**{circuit.name or 'circuit'}**")
    st.plotly_chart(fig, key=K + "figure", config={"displaylogo": False})
    st.caption("Edge width and ×n: parallel devices between the two nodes; colour: sign of their mean p0; "
               "triangles point from src to dst (positive current).")


# --- generate ------------------------------------------------------------------------------------

def _int(x: float | None) -> int | None:
    return None if x is None else int(x)


def _param_widget(p: ParamSpec, value: Any, key: str) -> Any:
    """One form widget for a generator parameter; int_list comes back as text (parsed on submit)."""
    label, help_text = p.name.replace("_", " "), p.help or None
    if p.type is bool:
        return st.checkbox(label, value=bool(value), key=key, help=help_text)
    if p.type is int:
        return st.number_input(label, min_value=_int(p.min), max_value=_int(p.max),
                               value=None if value is None else int(value), step=1, key=key, help=help_text)
    if p.type is float:
        return st.number_input(label, min_value=None if p.min is None else float(p.min),
                               max_value=None if p.max is None else float(p.max), value=float(value),
                               format="%g", step=0.05 if (p.max or 10) <= 1 else 0.1, key=key, help=help_text)
    if p.type == "int_pair":
        a, b = (list(value) + [0, 0])[:2]
        left, right = st.columns(2)
        return [left.number_input(f"{label} (forward)", _int(p.min), _int(p.max), int(a), 1, key=key + "_0",
                                  help=help_text),
                right.number_input(f"{label} (backward)", _int(p.min), _int(p.max), int(b), 1, key=key + "_1")]
    if p.type == "int_list":
        text = "" if value is None else ", ".join(str(int(v)) for v in value)
        return st.text_input(f"{label} (comma-separated)", text, key=key, help=help_text)
    if p.choices:
        return st.selectbox(label, list(p.choices), index=list(p.choices).index(value), key=key, help=help_text)
    if p.name == "edges":
        return st.text_area(label, value or "", key=key, help=help_text, height=80)
    return st.text_input(label, value or "", key=key, help=help_text)


def _parse_int_list(p: ParamSpec, text: str) -> list[int] | None:
    if not text.strip():
        if p.default is None:
            return None
        raise ValueError(f"{p.name}: give at least one whole number, e.g. 2, 4, 2")
    try:
        return [int(x) for x in re.split(r"[,;\s]+", text.strip()) if x]
    except ValueError:
        raise ValueError(f"{p.name}: write whole numbers separated by commas, e.g. 2, 4, 2 (got {text!r})") from None


def _plain_default(p: ParamSpec) -> Any:
    return list(p.default) if isinstance(p.default, tuple) else p.default


def generate_section() -> None:
    cfg = session.config
    names = list(GENERATORS)
    name = st.selectbox("Generator", names, index=names.index(cfg.generator) if cfg.generator in names else 0,
                        key=K + "gen_name", format_func=lambda n: n.replace("_", " "))
    spec = GENERATORS[name]
    st.caption(spec.description)
    base = dict(cfg.generator_params) if name == cfg.generator else {}
    common = {p.name: p for p in COMMON_PARAMS}
    if "inputs" in base and "n_inputs" not in base:
        base["n_inputs"] = len(base["inputs"])
    if "outputs" in base and "n_outputs" not in base:
        base["n_outputs"] = len(base["outputs"])
    raw: dict[str, Any] = {}
    with st.form(K + "gen_form", border=False):
        for p in spec.params:
            raw[p.name] = _param_widget(p, base.get(p.name, p.default), f"{K}gen_{name}_{p.name}")
        c1, c2 = st.columns(2)
        with c1:
            raw["kind"] = st.selectbox("device kind", list(KINDS), index=list(KINDS).index(base.get("kind", "ShiftTanh2")),
                                       format_func=display_name, key=f"{K}gen_{name}_kind",
                                       help=common["kind"].help)
            raw["num_slices"] = _param_widget(common["num_slices"], base.get("num_slices", 1), f"{K}gen_{name}_num_slices")
        with c2:
            raw["seed"] = _param_widget(common["seed"], base.get("seed", 0), f"{K}gen_{name}_seed")
            raw["duration"] = _param_widget(common["duration"], base.get("duration", 1.0), f"{K}gen_{name}_duration")
        with st.expander("Inputs, read-outs, capacitance, initial gain"):
            for pname in ("n_inputs", "n_outputs", "capacitance", "gain"):
                raw[pname] = _param_widget(common[pname], base.get(pname, common[pname].default),
                                           f"{K}gen_{name}_{pname}")
        submitted = st.form_submit_button("Generate", type="primary")
    if not submitted:
        return
    specs = {p.name: p for p in spec.params + COMMON_PARAMS}
    try:
        params = {k: _parse_int_list(specs[k], v) if specs[k].type == "int_list" else v for k, v in raw.items()}
        params = {k: v for k, v in params.items() if v != _plain_default(specs[k])}
        new = generate(name, **params)
    except ERRORS as e:
        st.error(str(e))
        return
    cfg.generator, cfg.generator_params = name, params
    _commit(new, f"Generated {_describe(new)}.", fresh=True)


# --- time slices ---------------------------------------------------------------------------------

def slices_section() -> None:
    starts = np.cumsum([0.0] + circuit.durations[:-1])
    table = pd.DataFrame({"nodes": [circuit.width(i) for i in range(n_slices)],
                          "devices": [s.num_devices for s in circuit.slices],
                          "starts at": starts, "duration": circuit.durations})
    table.index.name = "slice"
    edited = st.data_editor(table, key=f"{K}durations_{fingerprint}", disabled=["nodes", "devices", "starts at"],
                            column_config={"duration": st.column_config.NumberColumn("duration", min_value=0.0,
                                                                                     format="%g")})
    if st.button("Apply durations", key=K + "apply_durations"):
        try:
            new = editing.set_durations(circuit, [float(d) for d in edited["duration"].tolist()])
        except ERRORS as e:
            st.error(str(e))
        else:
            _commit(new, f"Durations set: T = {new.t_end:g}.")
    st.markdown("**Add a slice**")
    c1, c2 = st.columns(2)
    how = c1.radio("New slice", ["copy of the last slice", "empty"], key=K + "add_how", horizontal=True)
    duration = c2.number_input("Its duration", 0.001, 1000.0, 1.0, format="%g", key=K + "add_duration")
    if st.button("Add slice", key=K + "add_slice"):
        try:
            new = editing.add_slice(circuit, duration, copy_previous=how.startswith("copy"))
        except ERRORS as e:
            st.error(str(e))
        else:
            ss[K + "slice_next"] = len(new.slices) - 1
            _commit(new, f"Added slice {len(new.slices) - 1}.")
    st.markdown(f"**Slice {slice_index}** (choose another with *Slice* above)")
    if st.button(f"Remove slice {slice_index}", key=K + "remove_slice", disabled=n_slices == 1):
        try:
            new = editing.remove_slice(circuit, slice_index)
        except ERRORS as e:
            st.error(str(e))
        else:
            _commit(new, f"Removed slice {slice_index}.")
    if st.button("Copy topology from previous slice", key=K + "copy_topology", disabled=slice_index == 0,
                 help="give this slice the devices and parameters of the slice before it"):
        try:
            new = editing.copy_previous_topology(circuit, slice_index)
        except ERRORS as e:
            st.error(str(e))
        else:
            _commit(new, f"Slice {slice_index} now has the devices of slice {slice_index - 1}.")


# --- import / export / examples ------------------------------------------------------------------

def _examples() -> dict[str, pathlib.Path]:
    return {p.stem.replace("_", " "): p for p in sorted(EXAMPLES_DIR.glob("*.json"))}


def io_section() -> None:
    st.markdown("**Export**")
    stem = _slug(circuit.name)
    c = circuit  # big files are built only when their button is clicked, not on every rerun
    json_data: Any = (lambda: io.dumps_circuit(c)) if c.num_devices > LAZY_JSON else io.dumps_circuit(c)
    graphml_data: Any = (lambda: io.to_graphml(c)) if c.num_devices > LAZY_GRAPHML else io.to_graphml(c)
    c1, c2 = st.columns(2)
    c1.download_button("Circuit JSON", json_data, f"{stem}.json", "application/json", key=K + "dl_json",
                       on_click="ignore", icon=":material/download:")
    c2.download_button("GraphML", graphml_data, f"{stem}.graphml", "application/xml", key=K + "dl_graphml",
                       on_click="ignore", icon=":material/download:",
                       help="for graph tools (Gephi, yEd, networkx); parameters become p0..p2 edge attributes")
    st.markdown("**Import**")
    files = st.file_uploader("Circuit .json (with its .safetensors weights, if any) or .graphml",
                             type=["json", "graphml", "xml", "safetensors"], accept_multiple_files=True,
                             key=K + "upload", help="pickled files are never opened")
    if files:
        ids = tuple(f.file_id for f in files)
        if ss.get(K + "upload_done") != ids:
            ss[K + "upload_done"] = ids
            try:
                new = load_upload([(f.name, f.getvalue()) for f in files])
            except ERRORS as e:
                ss[K + "upload_error"] = (ids, str(e))
            else:
                ss.pop(K + "upload_error", None)
                _commit(new, f"Loaded {_describe(new)} from {', '.join(f.name for f in files)}.", fresh=True)
        failed = ss.get(K + "upload_error")
        if failed and failed[0] == ids:
            st.error(f"Not loaded — {failed[1]}. The previous circuit is unchanged.")
    examples = _examples()
    if examples:
        st.markdown("**Examples**")
        c1, c2 = st.columns([3, 1])
        choice = c1.selectbox("Example circuit", list(examples), key=K + "example", label_visibility="collapsed")
        if c2.button("Load", key=K + "load_example"):
            try:
                new = io.load_circuit(examples[choice])
            except ERRORS as e:
                st.error(str(e))
            else:
                _commit(new, f"Loaded example {_describe(new)}.", fresh=True)
        path = examples.get(choice)
        if path is not None:
            try:
                description = io.load_checkpoint(path)[0].meta.get("description")
            except ERRORS:
                description = None
            if description:
                st.caption(description)


# --- canvas --------------------------------------------------------------------------------------

def canvas_section() -> None:
    if not flow_canvas.canvas_fits(circuit, slice_index):
        st.info(f"The canvas is for small circuits (up to {flow_canvas.MAX_CANVAS_NODES} nodes and "
                f"{flow_canvas.MAX_CANVAS_PAIRS} node pairs per slice); use the device table and the node "
                "buttons for this one.")
        return
    c1, c2 = st.columns([1, 2])
    new_kind = c1.selectbox("Kind of new devices", list(KINDS), key=K + "new_kind", format_func=display_name)
    c2.caption("Drag from a node's lower handle to another node's upper handle to add a device (src → dst). "
               "Right-click the background to create a node, a node or an edge to delete it (deleting an edge "
               "removes all its parallel devices). Changes apply at once; ground (0) stays.")
    key_fp = f"{slice_index}:{circuit_view.circuit_fingerprint(circuit, slice_index)}"
    if ss.get(K + "flow_fp") != key_fp or K + "flow_state" not in ss:
        layout = _positions(topology, ss.get(K + "layout", "auto"), int(ss.get(K + "layout_seed", 0)), circuit)
        stamp = max(int(time.time() * 1000), int(ss.get(K + "flow_seen") or 0) + 1)
        ss[K + "flow_state"] = flow_canvas.build_state(circuit, slice_index, ss.get(K + "flow_pos", {}), layout, stamp)
        ss[K + "flow_fp"] = key_fp
    if error := ss.pop(K + "flow_error", None):
        st.error(error)
    state = ss[K + "flow_state"]
    returned = streamlit_flow(K + "flow", state, height=460, fit_view=True, show_controls=True,
                              allow_new_edges=True, enable_pane_menu=True, enable_node_menu=True,
                              enable_edge_menu=True, hide_watermark=True, layout=ManualLayout(), min_zoom=0.2)
    if returned is state or returned.timestamp == ss.get(K + "flow_seen"):
        return
    ss[K + "flow_seen"] = returned.timestamp
    positions = {n.id: (n.position["x"], n.position["y"]) for n in returned.nodes}
    try:
        edit = flow_canvas.apply_canvas(circuit, slice_index, [n.id for n in returned.nodes],
                                        [(e.source, e.target) for e in returned.edges], new_kind,
                                        seed=session.config.seed + circuit.num_devices)
    except ERRORS as e:
        ss[K + "flow_error"] = f"Canvas change not applied: {e}. The previous circuit is unchanged."
        ss.pop(K + "flow_fp", None)  # redraw the canvas from the circuit
        st.rerun()
    if edit.changed:
        ss[K + "flow_pos"] = {flow_canvas.node_id(edit.id_map[i]): xy for i, xy in positions.items()
                              if i in edit.id_map}
        _commit(edit.circuit, f"Canvas: {edit.summary}.")
    ss[K + "flow_pos"] = positions  # only moved: remember where the nodes are
    for node in state.nodes:
        if node.id in positions:
            node.position = {"x": positions[node.id][0], "y": positions[node.id][1]}


# --- device table --------------------------------------------------------------------------------

def _device_frame(circuit: Circuit, i: int, start: int, stop: int) -> pd.DataFrame:
    s = circuit.slices[i]
    kinds = s.kind[start:stop].tolist()
    used = np.array([KINDS[k].n_params for k in kinds], dtype=np.int64).reshape(-1, 1)
    params = np.where(np.arange(s.params.shape[1]) < used, s.params[start:stop], np.nan)
    df = pd.DataFrame({"src": s.src[start:stop], "dst": s.dst[start:stop], "kind": kinds,
                       **{f"p{c}": params[:, c] for c in range(params.shape[1])}},
                      index=pd.Index(np.arange(start, stop), name="device"))  # not a RangeIndex: shown
    return df


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


def table_section() -> None:
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
    key = f"{K}table_{slice_index}_{start}_{fingerprint}_{ss.get(K + 'table_nonce', 0)}"
    ss[K + "table_key"] = key  # lets tests (and the browser tests) find the live editor
    number = {"min_value": 0, "step": 1, "required": True, "format": "%d"}
    edited = st.data_editor(
        _device_frame(circuit, slice_index, start, stop), key=key, num_rows="dynamic", height=320,
        column_config={"_index": st.column_config.NumberColumn("device", disabled=True,
                                                               help="device number in the slice (new rows: none yet)"),
                       "src": st.column_config.NumberColumn("src", help="node the current leaves", **number),
                       "dst": st.column_config.NumberColumn("dst", help="node the current enters", **number),
                       "kind": st.column_config.SelectboxColumn("kind", options=list(KINDS), required=True,
                                                                default="ShiftTanh2", width="medium"),
                       **{f"p{c}": st.column_config.NumberColumn(f"p{c}", format="%.4f") for c in range(3)}})
    c1, c2, _ = st.columns([1, 1, 2])
    if c1.button("Apply table", type="primary", key=K + "table_apply"):
        try:
            before = s.devices()[:start] if start else []
            after = s.devices()[stop:] if stop < E else []
            new = editing.set_devices(circuit, slice_index, before + _frame_to_records(edited) + after)
        except ERRORS as e:
            st.error(f"Table not applied: {e}. The previous circuit is unchanged.")
        else:
            _commit(new, f"Slice {slice_index} now has {new.slices[slice_index].num_devices:,} devices.")
    if c2.button("Discard edits", key=K + "table_discard"):
        ss[K + "table_nonce"] = ss.get(K + "table_nonce", 0) + 1
        st.rerun()


# --- nodes and roles -----------------------------------------------------------------------------

def nodes_section() -> None:
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Nodes**")
        if st.button("Add node", key=K + "add_node", help="a new node with its capacitor, no devices yet"):
            try:
                new = editing.add_node(circuit)
            except ERRORS as e:
                st.error(str(e))
            else:
                _commit(new, f"Added node {new.num_nodes}.")
        node = int(st.number_input("Node to remove", 1, circuit.num_nodes, circuit.num_nodes,
                                   key=f"{K}rm_node_{topology}"))
        if st.button(f"Remove node {node}", key=K + "remove_node",
                     help="removes its devices in every slice; higher nodes are renumbered"):
            try:
                new = editing.remove_node(circuit, int(node))
            except ERRORS as e:
                st.error(f"Node {node} not removed: {e}")
            else:
                _commit(new, f"Removed node {node}.")
    with c2:
        st.markdown("**Inputs and read-outs**")
        first, last = circuit.width(0), circuit.width(n_slices - 1)
        inputs = st.multiselect("Input nodes (their voltages at t = 0 are the input)", list(range(1, first + 1)),
                                default=[n for n in circuit.inputs if n <= first], key=f"{K}inputs_{fingerprint}")
        outputs = st.multiselect("Read-out nodes (their voltages at T are the output)", list(range(1, last + 1)),
                                 default=[n for n in circuit.outputs if n <= last], key=f"{K}outputs_{fingerprint}")
        if st.button("Apply roles", key=K + "apply_roles"):
            try:
                new = editing.set_roles(circuit, inputs, outputs)
            except ERRORS as e:
                st.error(str(e))
            else:
                _commit(new, f"Inputs {new.inputs}, read-outs {new.outputs}.")


# --- I-V inspector -------------------------------------------------------------------------------

def inspector_section() -> None:
    s = circuit.slices[slice_index]
    E = s.num_devices
    if E == 0:
        st.info(f"Slice {slice_index} has no devices.")
        return
    key = f"{K}iv_device_{slice_index}"
    if ss.get(key, 0) >= E:
        ss[key] = E - 1
    pairs = circuit_view.device_pairs(circuit, slice_index)
    c1, c2, c3 = st.columns([1, 2, 1])
    if len(pairs) <= 500:
        first = {f"{u} → {v}": int(np.flatnonzero((s.src == u) & (s.dst == v))[0])
                 for u, v in zip(pairs.src.tolist(), pairs.dst.tolist())}

        def pick() -> None:
            ss[key] = first[ss[K + "iv_pair"]]

        c2.selectbox("Jump to the first device between", list(first), key=K + "iv_pair", on_change=pick,
                     index=None, placeholder="src → dst")
    j = int(c1.number_input(f"Device (0–{E - 1})", 0, E - 1, key=key))
    vd = c3.slider("v_d for the curve", -2.0, 2.0, 0.0, 0.1, key=K + "iv_vd")
    kind, src, dst = s.kind[j], int(s.src[j]), int(s.dst[j])
    params = s.params[j, : KINDS[kind].n_params].tolist()
    st.markdown(f"Device {j} of slice {slice_index}: **{src} → {dst}**, {display_name(kind)}")
    st.latex(r"I = " + KINDS[kind].formula + r"\qquad " + r",\;".join(f"p_{c} = {p:.4g}" for c, p in enumerate(params)))
    siblings = [int(x) for x in np.flatnonzero((s.src == src) & (s.dst == dst)) if x != j]
    overlay = False
    if siblings:
        overlay = st.checkbox(f"Show the {len(siblings)} other parallel device(s) {src} → {dst} and their sum",
                              key=K + "iv_overlay")
    dv = np.linspace(-3.0, 3.0, 241)
    current = analysis.iv_curve(kind, params, dv, vd=vd)
    others = [analysis.iv_curve(s.kind[k], s.params[k].tolist(), dv, vd=vd) for k in siblings[:100]] if overlay else []
    grid = np.linspace(-2.0, 2.0, 81)
    surface = analysis.iv_surface(kind, params, grid, grid)
    left, right = st.columns(2)
    left.plotly_chart(iv_view.iv_curve_figure(dv, current, f"I(Δv) of device {j}", vd=vd, others=others),
                      key=K + "iv_curve")
    right.plotly_chart(iv_view.iv_surface_figure(grid, grid, surface, f"I(v_s, v_d) of device {j}"),
                       key=K + "iv_surface")


# --- page ----------------------------------------------------------------------------------------

side_tabs = [(label, fn) for label, fn, group in [
    ("Generate", generate_section, "generator"), ("Time slices", slices_section, "editor"),
    ("Import / export", io_section, "io")] if group not in hidden]
if side_tabs:
    left, right = st.columns([3, 2], gap="medium")
    with left:
        circuit_section()
    with right:
        for tab, (_, fn) in zip(st.tabs([label for label, _ in side_tabs], key=K + "side_tab", on_change="rerun"),
                                side_tabs):
            with tab:
                fn()
else:
    circuit_section()

if "editor" not in hidden:
    st.subheader("Edit")
    for tab, fn in zip(st.tabs(["Canvas", "Device table", "Nodes and roles"], key=K + "edit_tab", on_change="rerun"),
                       [canvas_section, table_section, nodes_section]):
        with tab:
            fn()

st.subheader("Device I-V inspector")
inspector_section()
