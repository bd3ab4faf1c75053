"""A zoomable network view of big circuits (pyvis / vis-network), where a drawing stops being readable.

Hundreds of nodes (a Barabási–Albert graph, the paper's 834-node MNIST circuit) make the playground's
plotly drawing a hairball. Here every node pair becomes one edge (its width grows with the number of
parallel devices), the layout is force-directed (vis-network's Barnes-Hut physics in the browser,
started from networkx's spectral layout so it settles in a moment and the same circuit always looks
the same, then frozen so the page stays idle), and the page is a self-contained HTML file:
vis-network is inlined, nothing is fetched from the network. Nodes are
coloured by role (input, read-out, hidden, ground) or by their voltage at a chosen time.

Only numbers from the circuit reach the HTML (no names or other text a file could carry), so the
view can be embedded safely.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import networkx as nx
import numpy as np

from .circuit import Circuit, node_role

ROLE_COLOURS = {"input": "#2ca02c", "output": "#ff7f0e", "hidden": "#8fb3dc", "ground": "#444444"}
MAX_EDGES = 4000  # node pairs drawn; the busiest pairs are kept beyond this
_CDN = re.compile(r"\s*<(?:link|script)\b[^>]*https?://cdn[^>]*>(?:\s*</script>)?", re.IGNORECASE)


@dataclass(frozen=True)
class NetworkView:
    """The HTML page and what it shows: nodes, node pairs in the slice, pairs drawn."""

    html: str
    nodes: int
    pairs: int
    shown_pairs: int


def _voltage_colour(v: float, scale: float) -> str:
    """Orange for negative, blue for positive (the playground's convention), white at 0 V."""
    a = float(np.clip(v / scale, -1.0, 1.0)) if scale > 0 else 0.0
    target = (230, 120, 20) if a < 0 else (30, 100, 200)
    r, g, b = (round(255 + abs(a) * (c - 255)) for c in target)
    return f"#{r:02x}{g:02x}{b:02x}"


def network_view(circuit: Circuit, slice_index: int = 0, voltages: np.ndarray | None = None,
                 include_ground: bool = True, max_edges: int = MAX_EDGES, height_px: int = 600,
                 seed: int = 0) -> NetworkView:
    """The slice ``slice_index`` as a zoomable HTML network view.

    ``voltages``: one value per node of the slice (e.g. ``model.trajectory(x, [t])[0, 0]``) to colour
    the nodes by voltage instead of role. ``include_ground``: draw node 0 and the devices to it (in
    circuits where every node has a ground device it pulls the layout into a star).
    """
    from pyvis.network import Network  # only the views need it

    if not 0 <= slice_index < len(circuit.slices):
        raise ValueError(f"slice_index: the circuit has slices 0..{len(circuit.slices) - 1}, got {slice_index}")
    if not 1 <= max_edges <= 100_000:
        raise ValueError(f"max_edges: must be in [1, 100000], got {max_edges}")
    s, width = circuit.slices[slice_index], circuit.width(slice_index)
    if voltages is not None:
        voltages = np.asarray(voltages, dtype=float).reshape(-1)
        if len(voltages) < width or not np.all(np.isfinite(voltages[:width])):
            raise ValueError(f"voltages: need {width} finite values (one per node of slice {slice_index})")
    src, dst = s.src, s.dst
    keep = (src != 0) & (dst != 0) if not include_ground else np.ones(len(src), bool)
    lo, hi = np.minimum(src[keep], dst[keep]), np.maximum(src[keep], dst[keep])
    pairs, counts = np.unique(np.stack([lo, hi], 1), axis=0, return_counts=True) if keep.any() else \
        (np.zeros((0, 2), int), np.zeros(0, int))
    order = np.argsort(-counts, kind="stable")[:max_edges]
    shown, shown_counts = pairs[order], counts[order]

    g = nx.Graph()
    nodes = ([0] if include_ground else []) + list(range(1, width + 1))
    g.add_nodes_from(nodes)
    g.add_weighted_edges_from((int(a), int(b), float(c)) for (a, b), c in zip(shown, shown_counts))
    pos = nx.spectral_layout(g) if len(nodes) > 2 else nx.circular_layout(g)
    span = 40.0 * np.sqrt(len(nodes))

    net = Network(height=f"{int(height_px)}px", width="100%", cdn_resources="in_line")
    scale = float(np.abs(voltages[:width]).max()) if voltages is not None else 0.0
    for n in nodes:
        role = "ground" if n == 0 else node_role(n, circuit.inputs, circuit.outputs)
        if voltages is not None and n > 0:
            colour, title = _voltage_colour(voltages[n - 1], scale), f"node {n} ({role}): {voltages[n - 1]:+.4g} V"
        else:
            colour, title = ROLE_COLOURS[role], f"node {n} ({role})" if n else "ground (node 0, 0 V)"
        x, y = pos[n]
        net.add_node(n, label=str(n), title=title, color=colour, x=float(x * span), y=float(y * span),
                     size=16 if n == 0 or role != "hidden" else 9,
                     borderWidth=3 if role in ("input", "output") else 1)
    for (a, b), c in zip(shown.tolist(), shown_counts.tolist()):
        net.add_edge(a, b, value=c, title=f"{a}–{b}: {c} device{'s' if c > 1 else ''}", color="#9aa4b1")
    net.set_options(json.dumps({
        "physics": {"enabled": True, "solver": "barnesHut", "barnesHut": {"gravitationalConstant": -3000,
                                                                          "springLength": 60},
                    "stabilization": {"enabled": True, "iterations": 150, "fit": True}},
        "layout": {"randomSeed": int(seed)},
        "interaction": {"hover": True, "tooltipDelay": 80, "hideEdgesOnDrag": len(shown) > 1000},
        "edges": {"smooth": False, "scaling": {"min": 1, "max": 6}},
        "nodes": {"font": {"size": 10}},
    }))
    html = _CDN.sub("", net.generate_html()).replace(
        "return network;", "network.once('stabilizationIterationsDone', function () {"
                           " network.setOptions({physics: false}); window.kirchhoffSettled = true; });\n"
                           "                  return network;", 1)
    return NetworkView(html, len(nodes), len(pairs), len(shown))
