"""The drawing canvas (``streamlit-flow-component``) as plain data: circuit -> canvas state, and canvas
nodes/edges -> a new circuit through ``kirchhoff_core.editing``. No Streamlit calls, so the
conversion is unit-tested without a browser.

Canvas ids: node k is ``"n{k}"`` (ground is ``"n0"``); the devices of one slice from src to dst are
one canvas edge ``"e{src}-{dst}"``. Nodes the user creates on the canvas arrive with the component's
own ids (``st-flow-node_…``) and become the next node numbers; a new edge becomes one device of the
chosen kind with freshly initialised parameters; a deleted edge removes every device of that pair in
the slice; a deleted node is removed with ``editing.remove_node`` (its devices in every slice go,
higher nodes are renumbered).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
from streamlit_flow.state import StreamlitFlowState

from kirchhoff_core import editing
from kirchhoff_core.circuit import Circuit, CircuitError, Slice, node_role
from kirchhoff_core.devices import KINDS
from kirchhoff_core.initialisation import init_slice_params

from .circuit_view import ROLE_STYLE, SIGN_STYLE, common_count, device_pairs

MAX_CANVAS_NODES = 60
MAX_CANVAS_PAIRS = 400
SCALE = 420.0  # canvas pixels per unit of the circuit view's layout
_NODE_ID = re.compile(r"n(\d+)")


def canvas_fits(circuit: Circuit, slice_index: int) -> bool:
    return (circuit.width(slice_index) <= MAX_CANVAS_NODES
            and len(device_pairs(circuit, slice_index)) <= MAX_CANVAS_PAIRS)


def node_id(n: int) -> str:
    return f"n{n}"


def build_state(circuit: Circuit, slice_index: int, positions: dict[str, tuple[float, float]],
                layout: dict[int, tuple[float, float]], timestamp: int) -> StreamlitFlowState:
    """Canvas state for one slice. ``positions``: remembered canvas positions by node id (kept when
    the user dragged nodes); other nodes are placed from ``layout`` (the circuit view's unit box)."""
    width = circuit.width(slice_index)
    nodes = []
    for n in range(width + 1):
        nid = node_id(n)
        if nid in positions:
            xy = positions[nid]
        else:
            x, y = layout.get(n, (0.5, 0.5))
            xy = (x * SCALE, (1.0 - y) * SCALE)  # flow y grows downwards
        role = node_role(n, circuit.inputs, circuit.outputs)
        colour = "#222222" if n == 0 else ROLE_STYLE[role][1]
        label = "0 ground" if n == 0 else (f"{n}" if role == "hidden" else f"{n} · {role}")
        style = {"background": colour, "color": "white", "borderRadius": "6px" if n == 0 else "16px",
                 "border": "2px solid #333" if n == 0 else "1px solid white", "fontSize": "12px",
                 "padding": "4px 8px", "width": "auto", "minWidth": "40px", "textAlign": "center"}
        nodes.append(StreamlitFlowNode(nid, xy, {"content": label}, "default", "bottom", "top",
                                       draggable=True, selectable=True, connectable=True,
                                       deletable=n != 0, style=style))
    pairs = device_pairs(circuit, slice_index)
    common = common_count(pairs)  # said once in the page's caption; only other counts are labelled
    edges = []
    for j in range(len(pairs)):
        u, v, count = int(pairs.src[j]), int(pairs.dst[j]), int(pairs.count[j])
        sign = 0 if abs(pairs.mean_p0[j]) < 1e-12 else (1 if pairs.mean_p0[j] > 0 else -1)
        colour = SIGN_STYLE[sign][1]
        edges.append(StreamlitFlowEdge(
            f"e{u}-{v}", node_id(u), node_id(v), "default", marker_end={"type": "arrowclosed", "color": colour},
            deletable=True, focusable=True, label=f"×{count}" if count != common else "",
            label_show_bg=count != common, style={"stroke": colour, "strokeWidth": min(1 + count ** 0.5, 6)}))
    return StreamlitFlowState(nodes, edges, timestamp=timestamp)


@dataclass
class CanvasEdit:
    circuit: Circuit
    changed: bool
    id_map: dict[str, int] = field(default_factory=dict)  # canvas id -> node number in ``circuit``
    summary: str = ""


def apply_canvas(circuit: Circuit, slice_index: int, node_ids: list[str], edges: list[tuple[str, str]],
                 new_kind: str = "ShiftTanh2", seed: int = 0) -> CanvasEdit:
    """Turn the canvas's nodes and (source id, target id) edges into a new circuit.

    Raises ``CircuitError`` (with the core's message) when the result is not a valid circuit; the
    given circuit is never changed.
    """
    if new_kind not in KINDS:
        raise CircuitError(f"kind: unknown device kind {new_kind!r}; choose one of {sorted(KINDS)}")
    width = circuit.width(slice_index)
    present: list[int] = []
    created: list[str] = []
    for nid in node_ids:
        m = _NODE_ID.fullmatch(nid)
        if m and int(m[1]) <= width:
            present.append(int(m[1]))
        else:
            created.append(nid)
    if 0 not in present:
        raise CircuitError("node 0 is ground and cannot be deleted")
    removed = sorted(set(range(1, width + 1)) - set(present))
    uniform = all(s.num_nodes in (None, circuit.num_nodes) for s in circuit.slices)
    if (created or removed) and not uniform:
        raise CircuitError("this circuit's slices have different widths; add or remove nodes with the "
                           "device table instead of the canvas")
    id_map = {node_id(n): n for n in present}
    for k, nid in enumerate(created):
        id_map[nid] = width + 1 + k

    wanted: list[tuple[int, int]] = []
    for source, target in edges:
        if source in id_map and target in id_map:
            pair = (id_map[source], id_map[target])
            if pair not in wanted:
                wanted.append(pair)
    s = circuit.slices[slice_index]
    existing = set(zip(s.src.tolist(), s.dst.tolist()))
    added = [p for p in wanted if p not in existing]
    dropped = existing - set(wanted)

    c = circuit
    for _ in created:
        c = editing.add_node(c)
    if added or dropped:
        records = [d for d in c.slices[slice_index].devices() if (d["src"], d["dst"]) not in dropped]
        new = [{"src": u, "dst": v, "kind": new_kind, "params": [0.0] * KINDS[new_kind].n_params} for u, v in added]
        records = _with_fresh_params(records, new, c.width(slice_index), seed)
        c = editing.set_devices(c, slice_index, records)
    for n in sorted(removed, reverse=True):
        c = editing.remove_node(c, n)
    shift = np.asarray(removed, dtype=np.int64)
    final_map = {nid: n - int(np.sum(shift < n)) for nid, n in id_map.items() if n not in removed}
    parts = []
    if created:
        parts.append(f"added {len(created)} node(s)")
    if removed:
        parts.append(f"removed node(s) {removed}")
    if added:
        parts.append(f"added {len(added)} {new_kind} device(s)")
    if dropped:
        parts.append(f"removed the devices of {len(dropped)} node pair(s)")
    return CanvasEdit(c, bool(parts), final_map, "; ".join(parts))


def _with_fresh_params(records: list[dict], new: list[dict], width: int, seed: int) -> list[dict]:
    """Append ``new`` devices with parameters from the core's initialisation (degree-normalised over
    the slice they join), so a drawn device does something from the start."""
    if not new:
        return records
    all_records = records + new
    probe = Slice.from_devices(1.0, all_records, None, where="canvas")
    if int(max(probe.src.max(), probe.dst.max())) > width:
        return all_records  # let set_devices report the out-of-range node with its own message
    params = init_slice_params(probe, width, rng=np.random.default_rng(seed))
    for j, rec in enumerate(new, start=len(records)):
        rec["params"] = params[j, : KINDS[rec["kind"]].n_params].tolist()
    return all_records
