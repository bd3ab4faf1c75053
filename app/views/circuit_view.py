"""Circuit drawings: pure functions from a ``Circuit`` to plotly figures (no Streamlit, no state).

Parallel devices between the same (src, dst) pair are drawn as one edge whose width grows with the
count and whose colour is the sign of the mean first parameter; the count most edges share is said
once in the title, and only edges with another count are labelled ``×n``. A small triangle two
thirds along each edge points from src to dst (the direction of positive current) and carries the
pair as ``customdata`` ([src, dst]), so a page can open the device a click lands on; when both
directions exist the two edges are drawn side by side. Ground (node 0) is a black square with a
ground symbol under it, at the bottom of the picture. Circuits too big to read as a drawing get a
summary figure instead (devices per kind, node degrees).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kirchhoff_core.circuit import Circuit, node_role

MAX_DRAWN_PAIRS = 6000
"""Above this many distinct (src, dst) pairs in a slice the view shows a summary instead."""
MAX_DRAWN_NODES = 1500
LAYOUTS = ("auto", "spring", "circular", "kamada_kawai", "shell")

ROLE_STYLE = {  # role -> (legend label, colour)
    "input": ("input node", "#2ca02c"),
    "output": ("read-out node", "#ff7f0e"),
    "input+output": ("input + read-out", "#9467bd"),
    "hidden": ("hidden node", "#7f7f7f"),
}
SIGN_STYLE = {1: ("mean p0 > 0", "#1f77b4"), -1: ("mean p0 < 0", "#d62728"), 0: ("mean p0 = 0", "#b0b0b0")}


# --- aggregation ---------------------------------------------------------------------------------

@dataclass
class PairTable:
    """Devices of one slice grouped by (src, dst): one row per distinct pair."""

    src: np.ndarray
    dst: np.ndarray
    count: np.ndarray
    mean_p0: np.ndarray
    kinds: list[str]  # "ShiftTanh2" or "ShiftTanh2 ×3, Conductance ×1"

    def __len__(self) -> int:
        return len(self.src)


def device_pairs(circuit: Circuit, slice_index: int) -> PairTable:
    s = circuit.slices[slice_index]
    if s.num_devices == 0:
        empty = np.zeros(0, dtype=np.int64)
        return PairTable(empty, empty, empty, np.zeros(0), [])
    base = int(max(s.src.max(), s.dst.max())) + 1
    code = s.src * base + s.dst
    uniq, inverse, count = np.unique(code, return_inverse=True, return_counts=True)
    mean_p0 = np.bincount(inverse, weights=s.params[:, 0], minlength=len(uniq)) / count
    kinds: list[str] = []
    kind_list = s.kind.tolist()
    if len(set(kind_list)) == 1:
        kinds = [kind_list[0] + (f" ×{n}" if n > 1 else "") for n in count.tolist()]
    else:
        per: list[dict[str, int]] = [dict() for _ in range(len(uniq))]
        for g, k in zip(inverse.tolist(), kind_list):
            per[g][k] = per[g].get(k, 0) + 1
        kinds = [", ".join(f"{k} ×{n}" if n > 1 else k for k, n in d.items()) for d in per]
    return PairTable(uniq // base, uniq % base, count, mean_p0, kinds)


def common_count(pairs: PairTable) -> int:
    """The number of parallel devices most node pairs have (the one the drawing does not label)."""
    if not len(pairs):
        return 1
    values, counts = np.unique(pairs.count, return_counts=True)
    return int(values[np.argmax(counts)])


def is_drawable(circuit: Circuit, slice_index: int) -> bool:
    return (circuit.width(slice_index) <= MAX_DRAWN_NODES
            and len(device_pairs(circuit, slice_index)) <= MAX_DRAWN_PAIRS)


# --- layout --------------------------------------------------------------------------------------

def _grid_positions(nodes: list[int], cols: int, x0: float = 0.0) -> dict[int, tuple[float, float]]:
    return {n: (x0 + (i % cols), -(i // cols)) for i, n in enumerate(nodes)}


def _meta_layout(circuit: Circuit, width: int) -> dict[int, tuple[float, float]] | None:
    """A layout that shows the generator's structure, when the circuit still has that structure."""
    gen = circuit.meta.get("generator")
    p = circuit.meta.get("params") or {}
    nodes = list(range(1, width + 1))
    try:
        if gen in ("ring", "fully_connected", "small_world"):
            return {n: (math.sin(2 * math.pi * i / width), math.cos(2 * math.pi * i / width))
                    for i, n in enumerate(nodes)}
        if gen == "chain":
            return {n: (float(i), 0.3 * math.sin(i)) for i, n in enumerate(nodes)}
        if gen == "grid" and int(p["rows"]) * int(p["cols"]) == width:
            return _grid_positions(nodes, int(p["cols"]))
        if gen == "layered" and sum(int(x) for x in p["layer_sizes"]) == width:
            pos, n = {}, 1
            for layer, size in enumerate(int(x) for x in p["layer_sizes"]):
                for j in range(size):
                    pos[n] = (2.0 * layer, (size - 1) / 2 - j)
                    n += 1
            return pos
        if gen in ("neighbour", "mixed"):
            c, w, h = int(p["channels"]), int(p["width"]), int(p["height"])
            proj = int(p.get("projection", 0)) if gen == "mixed" else 0
            if c * w * h + proj != width:
                return None
            pos = {}
            for n in range(1, c * w * h + 1):
                ch, rest = divmod(n - 1, w * h)
                x, y = divmod(rest, h)
                pos[n] = (ch * (w + 1) + x, -y)
            span = c * (w + 1) - 1
            for j in range(proj):
                pos[c * w * h + 1 + j] = (span * (j + 0.5) / max(proj, 1), 2.0)
            return pos
    except (KeyError, TypeError, ValueError):
        return None
    return None


def _force_layout(nodes: list[int], edges: list[tuple[int, int]], seed: int, iterations: int = 50,
                  start: dict | None = None) -> dict[int, tuple[float, float]]:
    """Fruchterman-Reingold with dense numpy repulsion (float32): about a second for 1,500 nodes.
    ``start`` (e.g. a spectral layout) gives the global shape; the forces then spread the nodes."""
    n = len(nodes)
    index = {v: i for i, v in enumerate(nodes)}
    e = np.array([(index[u], index[v]) for u, v in edges], dtype=np.int64).reshape(-1, 2)
    rng = np.random.default_rng(seed)
    if start is None:
        pos = rng.random((n, 2)).astype(np.float32)
        temperature = 0.1
    else:
        pos = np.array([start[v] for v in nodes], dtype=np.float32)
        pos -= pos.min(0)
        pos /= max(float(pos.max()), 1e-9)
        pos += rng.normal(0, 1e-3, pos.shape).astype(np.float32)  # split coincident nodes
        temperature = 0.03
    k2 = np.float32(1.0 / n)  # (optimal distance k = 1/sqrt(n))^2
    cooling = temperature / (iterations + 1)
    for _ in range(iterations):
        dx = pos[:, 0:1] - pos[:, 0]
        dy = pos[:, 1:2] - pos[:, 1]
        w = dx * dx
        w += dy * dy
        np.maximum(w, 1e-4, out=w)
        np.divide(k2, w, out=w)
        disp = np.stack([(dx * w).sum(1), (dy * w).sum(1)], axis=1)
        d = pos[e[:, 0]] - pos[e[:, 1]]
        pull = d * (np.linalg.norm(d, axis=1, keepdims=True) / np.sqrt(k2))
        np.subtract.at(disp, e[:, 0], pull)
        np.add.at(disp, e[:, 1], pull)
        step = np.maximum(np.linalg.norm(disp, axis=1, keepdims=True), 1e-4)
        pos += disp / step * np.minimum(step, temperature)
        temperature -= cooling
    return {v: (float(pos[i, 0]), float(pos[i, 1])) for i, v in enumerate(nodes)}


def node_positions(circuit: Circuit, layout: str = "auto", seed: int = 0,
                   slice_index: int | None = None) -> dict[int, tuple[float, float]]:
    """Positions of nodes 0..max width: seeded networkx layouts of the non-ground graph (all slices
    together), ground centred underneath. ``auto`` follows the generator's structure when it can."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout: choose one of {LAYOUTS}, got {layout!r}")
    width = circuit.max_width if slice_index is None else circuit.width(slice_index)
    nodes = list(range(1, width + 1))
    pos = _meta_layout(circuit, width) if layout == "auto" else None
    if pos is None:
        g = nx.Graph()
        g.add_nodes_from(nodes)
        slices = circuit.slices if slice_index is None else [circuit.slices[slice_index]]
        for s in slices:
            keep = (s.src != 0) & (s.dst != 0) & (s.src <= width) & (s.dst <= width)
            g.add_edges_from(set(zip(s.src[keep].tolist(), s.dst[keep].tolist())))
        if layout == "circular" or (layout == "auto" and width <= 3):
            raw = nx.circular_layout(g)
        elif layout == "shell":
            raw = nx.shell_layout(g)
        elif layout == "kamada_kawai" or (layout == "auto" and width <= 60 and nx.is_connected(g)):
            raw = nx.kamada_kawai_layout(g)
        elif width <= 150:
            raw = nx.spring_layout(g, seed=seed, iterations=100)
        else:  # networkx's sparse spring layout takes tens of seconds here
            raw = _force_layout(nodes, list(g.edges()), seed, start=nx.spectral_layout(g))
        pos = {n: (float(x), float(y)) for n, (x, y) in raw.items()}
    xy = np.array([pos[n] for n in nodes], dtype=float).reshape(-1, 2)
    lo, hi = xy.min(0), xy.max(0)
    span = float(max((hi - lo).max(), 1e-9))
    xy = (xy - lo) / span  # fit in the unit box, keep the aspect ratio
    out = {n: (float(x), float(y)) for n, (x, y) in zip(nodes, xy)}
    ymin = float(xy[:, 1].min()) if len(xy) else 0.0
    out[0] = (float(xy[:, 0].mean()) if len(xy) else 0.0, ymin - 0.3)
    return out


# --- figures -------------------------------------------------------------------------------------

def _sign(x: float) -> int:
    return 0 if abs(x) < 1e-12 else (1 if x > 0 else -1)


def circuit_figure(circuit: Circuit, slice_index: int = 0, positions: dict[int, tuple[float, float]] | None = None,
                   layout: str = "auto", seed: int = 0, height: int = 560) -> go.Figure:
    """The circuit's graph for one slice (or ``summary_figure`` when it is too big to draw)."""
    if not is_drawable(circuit, slice_index):
        return summary_figure(circuit, slice_index)
    width = circuit.width(slice_index)
    pos = positions if positions is not None else node_positions(circuit, layout, seed)
    pairs = device_pairs(circuit, slice_index)
    n_nodes = width + 1
    node_size = 26 if n_nodes <= 30 else 18 if n_nodes <= 100 else 10 if n_nodes <= 400 else 6
    fig = go.Figure()
    common = common_count(pairs)
    _add_edges(fig, pos, pairs, many=len(pairs) > 250, faint_ground=width > 40, common=common)
    _add_ground(fig, pos[0], node_size)
    _add_nodes(fig, circuit, pos, width, node_size)
    total = circuit.slices[slice_index].num_devices
    title = f"slice {slice_index}: {width} nodes + ground, {total:,} devices in {len(pairs):,} node pairs"
    if len(pairs) and total > len(pairs):
        title += (f" — every edge is {common} parallel devices" if (pairs.count == common).all() else
                  f" — {common} parallel devices per edge unless labelled ×n")
    fig.update_layout(
        title=dict(text=title, font=dict(size=13), x=0, xanchor="left"), height=height,
        margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white", hovermode="closest",
        legend=dict(orientation="h", yanchor="top", y=0, xanchor="left", x=0, font=dict(size=11)),
        xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x", scaleratio=1),
    )
    return fig


def _add_edges(fig: go.Figure, pos: dict[int, tuple[float, float]], pairs: PairTable, many: bool,
               faint_ground: bool, common: int = 1) -> None:
    """Edges grouped into a few traces by (sign, width); pairs whose count is not ``common`` get a
    ×n label. With ``faint_ground`` (big circuits) the devices to and from ground, which would fan
    over everything, are thin grey lines instead."""
    present = set(zip(pairs.src.tolist(), pairs.dst.tolist()))
    groups: dict[tuple[int, int], list[int]] = {}
    widths = np.minimum(1.5 + 1.6 * np.log2(np.maximum(pairs.count, 1)), 9.0)
    signs = [_sign(m) for m in pairs.mean_p0.tolist()]
    grounded = (pairs.src == 0) | (pairs.dst == 0)
    if faint_ground and grounded.any():
        xs, ys = [], []
        for u, v in zip(pairs.src[grounded].tolist(), pairs.dst[grounded].tolist()):
            if v == 0 or (v, u) not in present:  # one line per grounded node pair
                xs += [pos[u][0], pos[v][0], None]
                ys += [pos[u][1], pos[v][1], None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(width=0.6, color="#999999"), opacity=0.25,
                                 hoverinfo="skip", name="devices to / from ground"))
    for j in range(len(pairs)):
        if not (faint_ground and grounded[j]):
            groups.setdefault((signs[j], int(round(widths[j]))), []).append(j)
    arrows: dict[int, dict[str, list]] = {}
    labels = {"x": [], "y": [], "text": []}
    shown: set[int] = set()
    offset = 0.018
    for (sign, w), rows in sorted(groups.items(), key=lambda t: (-t[0][0], t[0][1])):
        xs: list[float | None] = []
        ys: list[float | None] = []
        a = arrows.setdefault(sign, {"x": [], "y": [], "angle": [], "text": [], "pair": []})
        for j in rows:
            u, v = int(pairs.src[j]), int(pairs.dst[j])
            (x0, y0), (x1, y1) = pos[u], pos[v]
            dx, dy = x1 - x0, y1 - y0
            length = math.hypot(dx, dy) or 1e-9
            if (v, u) in present:  # both directions: draw them side by side
                ox, oy = -dy / length * offset, dx / length * offset
                x0, y0, x1, y1 = x0 + ox, y0 + oy, x1 + ox, y1 + oy
            xs += [x0, x1, None]
            ys += [y0, y1, None]
            a["x"].append(x0 + 0.62 * dx)
            a["y"].append(y0 + 0.62 * dy)
            a["angle"].append(math.degrees(math.atan2(dx, dy)))
            a["text"].append(f"{u} → {v}<br>{int(pairs.count[j])} device(s): {pairs.kinds[j]}"
                             f"<br>mean p0 = {pairs.mean_p0[j]:.3g}<br>click: its I-V law")
            a["pair"].append([u, v])
            if pairs.count[j] != common and not many:
                labels["x"].append(x0 + 0.45 * dx)
                labels["y"].append(y0 + 0.45 * dy)
                labels["text"].append(f"×{int(pairs.count[j])}")
        name, colour = SIGN_STYLE[sign]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(width=w, color=colour), opacity=0.55,
                                 hoverinfo="skip", name=f"devices, {name}", legendgroup=f"sign{sign}",
                                 showlegend=sign not in shown))
        shown.add(sign)
    for sign, a in arrows.items():
        fig.add_trace(go.Scatter(
            x=a["x"], y=a["y"], mode="markers", hovertext=a["text"], hoverinfo="text", customdata=a["pair"],
            marker=dict(symbol="triangle-up", size=11 if not many else 7, angle=a["angle"],
                        color=SIGN_STYLE[sign][1], line=dict(width=0)),
            name="direction (src → dst)", legendgroup=f"sign{sign}", showlegend=False))
    if labels["x"]:
        fig.add_trace(go.Scatter(x=labels["x"], y=labels["y"], mode="text", text=labels["text"],
                                 textfont=dict(size=10, color="#333"), hoverinfo="skip", showlegend=False))


def _add_ground(fig: go.Figure, xy: tuple[float, float], size: int) -> None:
    x, y = xy
    s = 0.035
    gx = [x, x, None, x - s, x + s, None, x - 0.65 * s, x + 0.65 * s, None, x - 0.3 * s, x + 0.3 * s]
    gy = [y - 0.02, y - 0.06, None, y - 0.06, y - 0.06, None, y - 0.08, y - 0.08, None, y - 0.1, y - 0.1]
    fig.add_trace(go.Scatter(x=gx, y=gy, mode="lines", line=dict(color="black", width=2),
                             hoverinfo="skip", showlegend=False, legendgroup="ground"))
    fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers+text", text=["0"], textposition="middle center",
                             textfont=dict(color="white", size=max(size // 2, 8)),
                             marker=dict(symbol="square", size=size, color="black"),
                             hovertext=["node 0: ground (0 V)"], hoverinfo="text",
                             name="ground (node 0)", legendgroup="ground"))


def _add_nodes(fig: go.Figure, circuit: Circuit, pos: dict[int, tuple[float, float]], width: int,
               size: int) -> None:
    by_role: dict[str, list[int]] = {}
    for n in range(1, width + 1):
        by_role.setdefault(node_role(n, circuit.inputs, circuit.outputs), []).append(n)
    labelled = width <= 120
    for role in ("hidden", "input", "output", "input+output"):
        nodes = by_role.get(role)
        if not nodes:
            continue
        name, colour = ROLE_STYLE[role]
        fig.add_trace(go.Scatter(
            x=[pos[n][0] for n in nodes], y=[pos[n][1] for n in nodes],
            mode="markers+text" if labelled else "markers", text=[str(n) for n in nodes],
            textposition="middle center", textfont=dict(color="white", size=max(size // 2, 8)),
            marker=dict(size=size, color=colour, line=dict(color="white", width=1)),
            hovertext=[f"node {n}: {role}" for n in nodes], hoverinfo="text", name=name))


def summary_figure(circuit: Circuit, slice_index: int = 0) -> go.Figure:
    """For circuits too big to draw: devices per kind and the distribution of node degrees."""
    s = circuit.slices[slice_index]
    kinds, counts = np.unique(s.kind.astype(str), return_counts=True) if s.num_devices else ([], [])
    width = circuit.width(slice_index)
    degree = (np.bincount(s.src, minlength=width + 1) + np.bincount(s.dst, minlength=width + 1))[1:]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("devices per kind", "devices per node (degree)"))
    fig.add_trace(go.Bar(x=list(kinds), y=list(counts), marker_color="#1f77b4", showlegend=False), 1, 1)
    fig.add_trace(go.Histogram(x=degree, nbinsx=40, marker_color="#7f7f7f", showlegend=False), 1, 2)
    pairs = len(device_pairs(circuit, slice_index))
    fig.update_layout(
        title=dict(text=(f"slice {slice_index}: {width:,} nodes, {s.num_devices:,} devices in {pairs:,} node "
                         "pairs — too many to draw, summary shown"),
                   font=dict(size=13)),
        height=420, margin=dict(l=10, r=10, t=70, b=10))
    fig.update_xaxes(title_text="devices at the node", row=1, col=2)
    fig.update_yaxes(title_text="nodes", row=1, col=2)
    return fig
