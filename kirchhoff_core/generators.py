"""Topology generators: every function returns a validated, initialised ``Circuit``.

Edge arrays are built with vectorised numpy so that the paper's MNIST-size mixed circuit (834
nodes, 230,068 devices per slice) builds in a fraction of a second. A multi-slice circuit repeats
the same topology in every slice; ``init_circuit`` draws each slice's parameters independently.
``circuit.meta`` records the generator and every argument so the circuit can be regenerated with
``generate(meta["generator"], **meta["params"])``.

Device order inside a slice is part of each generator's contract (documented per function), so
parameter files stay meaningful across versions. ``GENERATORS`` describes every generator's own
parameters for the app and CLI; ``COMMON_PARAMS`` describes the keyword arguments all share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypedDict, Unpack

import networkx as nx
import numpy as np

from .circuit import Circuit, CircuitError, make_slice
from .devices import KINDS
from .initialisation import init_circuit

MAX_DEVICES = 8_000_000
"""Largest circuit (all slices together) a generator will build; larger requests fail at once. The
paper's SVHN/CIFAR circuit (3 slices x 2,054,018 devices) fits."""
MAX_NODES = 100_000
"""Largest node index ``custom`` accepts: per-node arrays are allocated up to the largest index."""

ParamType = type | str  # int, float, bool, str, "int_pair" or "int_list"


@dataclass(frozen=True)
class ParamSpec:
    """One generator argument, enough for a UI widget or a CLI flag. Bounds apply per element."""

    name: str
    type: ParamType
    default: Any
    min: float | None = None
    max: float | None = None
    help: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class GeneratorSpec:
    """A generator and its own parameters (the common ones are in ``COMMON_PARAMS``)."""

    name: str
    function: Callable[..., Circuit]
    description: str
    params: tuple[ParamSpec, ...]


class CommonKwargs(TypedDict, total=False):
    """Keyword arguments every generator accepts; defaults live in ``COMMON_PARAMS``."""

    kind: str
    num_slices: int
    duration: float
    inputs: list[int] | None
    outputs: list[int] | None
    n_inputs: int
    n_outputs: int
    capacitance: float
    seed: int
    gain: float


COMMON_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("kind", str, "ShiftTanh2", help="device I-V family of every device",
              choices=tuple(KINDS)),
    ParamSpec("num_slices", int, 1, 1, 50, "time slices (layers); same topology, own parameters"),
    ParamSpec("duration", float, 1.0, 1e-3, 1e3, "duration of each slice"),
    ParamSpec("inputs", "int_list", None, 1, 100_000, "input nodes (default: nodes 1..n_inputs)"),
    ParamSpec("outputs", "int_list", None, 1, 100_000, "read-out nodes (default: the last n_outputs)"),
    ParamSpec("n_inputs", int, 2, 1, 100_000, "number of default input nodes"),
    ParamSpec("n_outputs", int, 2, 1, 100_000, "number of default read-out nodes"),
    ParamSpec("capacitance", float, 1.0, 1e-6, 1e6, "capacitance of every node to ground"),
    ParamSpec("seed", int, 0, 0, 2**32 - 1, "seed of the parameters (and of random topologies)"),
    ParamSpec("gain", float, 1.0, 0.0, 100.0, "scale of the degree-normalised initialisation"),
)
_COMMON_DEFAULTS = {p.name: p.default for p in COMMON_PARAMS}


# --- shared helpers ------------------------------------------------------------------------------

def _common(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Fill in the common defaults; reject names no generator knows."""
    unknown = sorted(set(kwargs) - set(_COMMON_DEFAULTS))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {unknown}; common ones are {sorted(_COMMON_DEFAULTS)}")
    c = {**_COMMON_DEFAULTS, **kwargs}
    if not isinstance(c["num_slices"], (int, np.integer)) or c["num_slices"] < 1:
        raise CircuitError(f"num_slices: need at least one time slice, got {c['num_slices']!r}")
    return c


def _repeats(repeats: Sequence[int]) -> tuple[int, int]:
    r = [int(x) for x in repeats]
    if len(r) != 2 or min(r) < 0:
        raise ValueError(f"repeats: need two non-negative counts (forward, backward), got {repeats!r}")
    return r[0], r[1]


def _guard(per_slice: int, c: dict[str, Any], gen: str) -> None:
    """Refuse huge requests before any array is allocated, so a UI never hangs."""
    total = int(per_slice) * int(c["num_slices"])
    if total > MAX_DEVICES:
        raise CircuitError(f"{gen}: {total:,} devices ({per_slice:,} per slice x {c['num_slices']} slice(s)) "
                           f"exceeds the limit of {MAX_DEVICES:,}; use fewer nodes, repeats or slices")


def _bidirectional(pairs: np.ndarray, repeats: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """For each pair (u, v) in order: r0 devices u->v, then r1 devices v->u."""
    r0, r1 = repeats
    u, v = pairs[:, :1], pairs[:, 1:]
    src = np.concatenate([np.repeat(u, r0, 1), np.repeat(v, r1, 1)], axis=1).ravel()
    dst = np.concatenate([np.repeat(v, r0, 1), np.repeat(u, r1, 1)], axis=1).ravel()
    return src, dst


def _ordered_pairs(nodes: np.ndarray) -> np.ndarray:
    """All (nodes[i], nodes[j]) with i != j, row-major in (i, j)."""
    i, j = np.nonzero(~np.eye(len(nodes), dtype=bool))
    return np.stack([nodes[i], nodes[j]], axis=1)


def _label(gen: str, own: dict[str, Any]) -> str:
    shown = [f"{k}={v}" for k, v in own.items() if len(repr(v)) <= 24]
    return f"{gen}({', '.join(shown)})"


def _plain(v: Any) -> Any:
    """Tuples and numpy values as JSON-friendly lists and scalars, for ``meta``."""
    if isinstance(v, (tuple, list, np.ndarray)):
        return [_plain(x) for x in v]
    return v.item() if isinstance(v, np.generic) else v


def _finish(gen: str, own: dict[str, Any], num_nodes: int, src: np.ndarray, dst: np.ndarray,
            c: dict[str, Any], default_inputs: list[int] | None = None,
            default_outputs: list[int] | None = None) -> Circuit:
    """Assemble, validate and initialise; the one place the common arguments are applied."""
    n = int(num_nodes)
    chosen = {}
    for role, default in (("inputs", default_inputs), ("outputs", default_outputs)):
        count = c["n_" + role]
        if c[role] is not None:
            chosen[role] = c[role]
        elif default is not None:
            chosen[role] = default
        elif not 1 <= count <= n:
            raise CircuitError(f"n_{role}: {count} node(s) requested but the circuit has {n} node(s)")
        else:
            chosen[role] = list(range(1, count + 1)) if role == "inputs" else list(range(n - count + 1, n + 1))
    edges = np.stack([src, dst], axis=1)
    first = make_slice(c["duration"], edges, c["kind"])
    slices = [first] + [first.copy() for _ in range(int(c["num_slices"]) - 1)]
    circuit = Circuit(num_nodes=n, slices=slices, inputs=list(chosen["inputs"]),
                      outputs=list(chosen["outputs"]), capacitance=float(c["capacitance"]),
                      name=_label(gen, own),
                      meta={"generator": gen, "params": {k: _plain(v) for k, v in {**own, **c}.items()}})
    circuit.validate()  # before init: init assumes node indices are in range
    return init_circuit(circuit, gain=c["gain"], seed=c["seed"])


def _graph_circuit(gen: str, own: dict[str, Any], num_nodes: int, pairs: np.ndarray,
                   repeats: tuple[int, int], ground_links: bool, c: dict[str, Any],
                   **defaults: list[int]) -> Circuit:
    """Pairs -> devices (r0 forward, r1 backward), then one device n->0 and one 0->n per node."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    _guard(len(pairs) * sum(repeats) + 2 * num_nodes * bool(ground_links), c, gen)
    src, dst = _bidirectional(pairs, repeats)
    if ground_links:
        nodes = np.arange(1, num_nodes + 1)
        gs, gd = _bidirectional(np.stack([nodes, np.zeros_like(nodes)], axis=1), (1, 1))
        src, dst = np.concatenate([src, gs]), np.concatenate([dst, gd])
    return _finish(gen, own, num_nodes, src, dst, c, **defaults)


def _nx_pairs(g: nx.Graph) -> np.ndarray:
    """networkx edges (0-based nodes) as 1-based pairs, so no graph node is ground."""
    return np.asarray(list(g.edges()), dtype=np.int64).reshape(-1, 2) + 1


# --- the paper's topologies ----------------------------------------------------------------------

def fully_connected(num_nodes: int, repeats: Sequence[int] = (1, 1), include_ground: bool = True,
                    **common: Unpack[CommonKwargs]) -> Circuit:
    """Every ordered node pair linked, as in the paper's 2-D generation circuits.

    Node set (ascending): 0 (if ``include_ground``), 1..N; M = its size. Order: for i, for j != i:
    r0 devices i->j then r1 devices j->i, so E = M(M-1)(r0+r1) per slice (each unordered pair is
    visited twice, as in the reference). ``num_nodes=2, repeats=(25, 25)`` is the paper's 300.
    """
    c, r = _common(common), _repeats(repeats)
    nodes = np.arange(0 if include_ground else 1, num_nodes + 1)
    m = len(nodes)
    _guard(m * (m - 1) * sum(r), c, "fully_connected")
    src, dst = _bidirectional(_ordered_pairs(nodes), r)
    own = {"num_nodes": num_nodes, "repeats": r, "include_ground": include_ground}
    return _finish("fully_connected", own, num_nodes, src, dst, c)


def _neighbour_count(channels: int, width: int, height: int, k: int, repeat: int) -> int:
    size = channels * k * k
    return (width - k + 1) * (height - k + 1) * size * (size - 1) * repeat


def _neighbour_edges(channels: int, width: int, height: int, k: int,
                     repeat: int) -> tuple[np.ndarray, np.ndarray]:
    """Window nodes in torch ``unfold`` order, then every ordered pair within each window."""
    wh = width * height
    x0, y0 = np.meshgrid(np.arange(width - k + 1), np.arange(height - k + 1), indexing="ij")
    base = 1 + x0.ravel() * height + y0.ravel()
    ch, dx, dy = np.meshgrid(np.arange(channels), np.arange(k), np.arange(k), indexing="ij")
    offset = (ch * wh + dx * height + dy).ravel()
    window = base[:, None] + offset[None, :]  # (positions, C*k*k)
    i, j = np.nonzero(~np.eye(len(offset), dtype=bool))
    return np.repeat(window[:, i].ravel(), repeat), np.repeat(window[:, j].ravel(), repeat)


def _check_image(channels: int, width: int, height: int, k: int) -> None:
    if min(channels, width, height, k) < 1:
        raise ValueError(f"channels, width, height and k must be at least 1, got "
                         f"{(channels, width, height, k)}")
    if k > min(width, height):
        raise CircuitError(f"k: a {k}x{k} window does not fit in a {width}x{height} image")


def neighbour(channels: int, width: int, height: int, k: int, repeat: int = 1,
              **common: Unpack[CommonKwargs]) -> Circuit:
    """Convolution-like wiring: pixels that share a k x k window are linked.

    Pixel (c, x, y) is node 1 + c*W*H + x*H + y. Windows follow torch ``unfold`` over a C x W x H
    image (stride 1, no padding): positions x-major then y; a window's C*k*k pixels ordered c, dx,
    dy. For each window, each ordered pair (a, b), a != b, row-major: ``repeat`` devices a->b.
    Overlapping windows give parallel devices. E = (W-k+1)(H-k+1) Ck^2 (Ck^2-1) repeat; N = C*W*H.
    """
    c = _common(common)
    _check_image(channels, width, height, k)
    _guard(_neighbour_count(channels, width, height, k, repeat), c, "neighbour")
    src, dst = _neighbour_edges(channels, width, height, k, repeat)
    own = {"channels": channels, "width": width, "height": height, "k": k, "repeat": repeat}
    return _finish("neighbour", own, channels * width * height, src, dst, c)


def mixed(channels: int, width: int, height: int, k: int, projection: int,
          repeats: Sequence[int] = (1, 1), neighbour_repeat: int = 1,
          **common: Unpack[CommonKwargs]) -> Circuit:
    """The paper's MNIST circuit: neighbour wiring + ground links + F global projection nodes.

    Device order: ``neighbour(..., repeat=neighbour_repeat)``; then for each pixel p: r0 devices
    p->0, r1 devices 0->p; then projection nodes q = P+1..P+F (P = C*W*H pixels), for each q and
    each i in 0..P: r0 devices i->q, r1 devices q->i. Projection nodes are not linked to each other.
    Default outputs are the last nodes, i.e. projection nodes. 1x28x28, k=4, F=50 gives 834 nodes
    and 230,068 devices per slice.
    """
    c, r = _common(common), _repeats(repeats)
    _check_image(channels, width, height, k)
    pixels = channels * width * height
    count = (_neighbour_count(channels, width, height, k, neighbour_repeat)
             + pixels * sum(r) + projection * (pixels + 1) * sum(r))
    _guard(count, c, "mixed")
    ns, nd = _neighbour_edges(channels, width, height, k, neighbour_repeat)
    p = np.arange(1, pixels + 1)
    gs, gd = _bidirectional(np.stack([p, np.zeros_like(p)], axis=1), r)
    q, i = np.meshgrid(np.arange(pixels + 1, pixels + projection + 1), np.arange(pixels + 1), indexing="ij")
    ps, pd = _bidirectional(np.stack([i.ravel(), q.ravel()], axis=1), r)
    own = {"channels": channels, "width": width, "height": height, "k": k, "projection": projection,
           "repeats": r, "neighbour_repeat": neighbour_repeat}
    return _finish("mixed", own, pixels + projection, np.concatenate([ns, gs, ps]),
                   np.concatenate([nd, gd, pd]), c)


# --- classic graphs ------------------------------------------------------------------------------
# Each graph edge u-v (in the order listed) becomes r0 devices u->v then r1 devices v->u; with
# ground_links, one device n->0 and one 0->n follow for every node n = 1..N. Without ground links
# every device current leaves one capacitor and enters another, so KCL conserves the total charge:
# the mean node voltage could never change.

def chain(num_nodes: int, repeats: Sequence[int] = (1, 1), ground_links: bool = True,
          **common: Unpack[CommonKwargs]) -> Circuit:
    """A path 1-2-...-N: the simplest circuit where a signal has to travel. Edges (i, i+1)."""
    c, r = _common(common), _repeats(repeats)
    pairs = _nx_pairs(nx.path_graph(num_nodes))
    own = {"num_nodes": num_nodes, "repeats": r, "ground_links": ground_links}
    return _graph_circuit("chain", own, num_nodes, pairs, r, ground_links, c)


def ring(num_nodes: int, repeats: Sequence[int] = (1, 1), ground_links: bool = True,
         **common: Unpack[CommonKwargs]) -> Circuit:
    """A cycle 1-2-...-N-1 (``nx.cycle_graph`` order): a chain without ends. Needs N >= 3, as
    smaller cycles would be a self-loop or a doubled chain link."""
    c, r = _common(common), _repeats(repeats)
    if num_nodes < 3:
        raise CircuitError(f"num_nodes: a ring needs at least 3 nodes, got {num_nodes}")
    pairs = _nx_pairs(nx.cycle_graph(num_nodes))
    own = {"num_nodes": num_nodes, "repeats": r, "ground_links": ground_links}
    return _graph_circuit("ring", own, num_nodes, pairs, r, ground_links, c)


def grid(rows: int, cols: int, repeats: Sequence[int] = (1, 1), ground_links: bool = True,
         **common: Unpack[CommonKwargs]) -> Circuit:
    """A 2-D lattice (``nx.grid_2d_graph`` edge order); node (r, c) is 1 + r*cols + c."""
    c, r = _common(common), _repeats(repeats)
    cells = np.asarray(list(nx.grid_2d_graph(rows, cols).edges()), dtype=np.int64).reshape(-1, 2, 2)
    pairs = 1 + cells[..., 0] * cols + cells[..., 1]
    own = {"rows": rows, "cols": cols, "repeats": r, "ground_links": ground_links}
    return _graph_circuit("grid", own, rows * cols, pairs, r, ground_links, c)


def layered(layer_sizes: Sequence[int] = (2, 4, 2), repeats: Sequence[int] = (1, 1),
            ground_links: bool = True, **common: Unpack[CommonKwargs]) -> Circuit:
    """Feed-forward layers numbered consecutively from 1; every node of layer l is linked to every
    node of layer l+1 (for l, for u in l, for v in l+1). Inputs default to the first layer and
    outputs to the last, so ``n_inputs`` / ``n_outputs`` are not used."""
    c, r = _common(common), _repeats(repeats)
    sizes = [int(s) for s in layer_sizes]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"layer_sizes: need at least one layer of at least one node, got {layer_sizes!r}")
    starts = np.cumsum([1] + sizes)
    layers = [np.arange(starts[i], starts[i + 1]) for i in range(len(sizes))]
    _guard(sum(a * b for a, b in zip(sizes, sizes[1:])) * sum(r) + 2 * sum(sizes) * ground_links, c, "layered")
    blocks = [np.stack([a.repeat(len(b)), np.tile(b, len(a))], axis=1) for a, b in zip(layers, layers[1:])]
    pairs = np.concatenate(blocks) if blocks else np.zeros((0, 2), dtype=np.int64)
    own = {"layer_sizes": sizes, "repeats": r, "ground_links": ground_links}
    return _graph_circuit("layered", own, sum(sizes), pairs, r, ground_links, c,
                          default_inputs=layers[0].tolist(), default_outputs=layers[-1].tolist())


def random_graph(num_nodes: int, p: float, directed: bool = False, repeats: Sequence[int] = (1, 1),
                 ground_links: bool = True, **common: Unpack[CommonKwargs]) -> Circuit:
    """Erdos-Renyi G(n, p) from ``nx.gnp_random_graph`` seeded with ``seed``. When directed, each
    arc u->v still gets r0 devices u->v and r1 v->u; use repeats=(1, 0) for one device per arc."""
    c, r = _common(common), _repeats(repeats)
    expected = p * num_nodes * (num_nodes - 1) * (1 if directed else 0.5)
    _guard(int(expected * sum(r)), c, "random_graph")
    g = nx.gnp_random_graph(num_nodes, p, seed=c["seed"], directed=directed)
    own = {"num_nodes": num_nodes, "p": p, "directed": directed, "repeats": r, "ground_links": ground_links}
    return _graph_circuit("random_graph", own, num_nodes, _nx_pairs(g), r, ground_links, c)


def small_world(num_nodes: int, k_neighbours: int, p: float, repeats: Sequence[int] = (1, 1),
                ground_links: bool = True, **common: Unpack[CommonKwargs]) -> Circuit:
    """Watts-Strogatz ring lattice (each node to its k nearest) with rewiring probability p
    (``nx.watts_strogatz_graph`` seeded with ``seed``): short paths with local clustering."""
    c, r = _common(common), _repeats(repeats)
    if not 1 <= k_neighbours < num_nodes:
        raise CircuitError(f"k_neighbours: need 1 <= k < num_nodes ({num_nodes}), got {k_neighbours}")
    _guard(num_nodes * (k_neighbours // 2) * sum(r) + 2 * num_nodes * ground_links, c, "small_world")
    g = nx.watts_strogatz_graph(num_nodes, k_neighbours, p, seed=c["seed"])
    own = {"num_nodes": num_nodes, "k_neighbours": k_neighbours, "p": p, "repeats": r,
           "ground_links": ground_links}
    return _graph_circuit("small_world", own, num_nodes, _nx_pairs(g), r, ground_links, c)


def scale_free(num_nodes: int, m: int, repeats: Sequence[int] = (1, 1), ground_links: bool = True,
               **common: Unpack[CommonKwargs]) -> Circuit:
    """Barabasi-Albert preferential attachment (``nx.barabasi_albert_graph`` seeded with ``seed``):
    a few hubs with many devices, most nodes with m; (N-m)*m edges."""
    c, r = _common(common), _repeats(repeats)
    if not 1 <= m < num_nodes:
        raise CircuitError(f"m: need 1 <= m < num_nodes ({num_nodes}), got {m}")
    _guard((num_nodes - m) * m * sum(r) + 2 * num_nodes * ground_links, c, "scale_free")
    g = nx.barabasi_albert_graph(num_nodes, m, seed=c["seed"])
    own = {"num_nodes": num_nodes, "m": m, "repeats": r, "ground_links": ground_links}
    return _graph_circuit("scale_free", own, num_nodes, _nx_pairs(g), r, ground_links, c)


def parse_edges(text: str) -> list[tuple[int, int]]:
    """Read 'src-dst' pairs separated by commas, semicolons or new lines ('1-2, 2>3; 3 1')."""
    pairs = []
    for chunk in filter(None, (s.strip() for s in re.split(r"[,;\n]", text))):
        match = re.fullmatch(r"(\d+)\s*(?:->|-|>|\s)\s*(\d+)", chunk)
        if not match:
            raise CircuitError(f"edges: cannot read {chunk!r} as a src-dst pair such as '1-2'")
        pairs.append((int(match[1]), int(match[2])))
    return pairs


def custom(edges: str | Sequence[Sequence[int]], num_nodes: int | None = None,
           repeats: Sequence[int] = (1, 0), ground_links: bool = False,
           **common: Unpack[CommonKwargs]) -> Circuit:
    """An explicit list of (src, dst) pairs (or text for ``parse_edges``), in the given order.

    By default each pair is exactly one device src->dst and no ground links are added, so the list
    is the circuit; ``repeats``/``ground_links`` work as for the other graphs. ``num_nodes``
    defaults to the largest index; self-loops and out-of-range nodes raise CircuitError.
    """
    c, r = _common(common), _repeats(repeats)
    raw = parse_edges(edges) if isinstance(edges, str) else [tuple(e) for e in edges]
    if not raw:
        raise CircuitError("edges: give at least one src-dst pair")
    arr = np.asarray(raw)
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.all(np.mod(arr, 1) == 0):
        raise CircuitError(f"edges: need integer (src, dst) pairs, got {raw[:3]!r}...")
    pairs = arr.astype(np.int64)
    n = int(pairs.max()) if num_nodes is None else num_nodes
    if n > MAX_NODES:
        raise CircuitError(f"num_nodes: {n:,} nodes exceeds the limit of {MAX_NODES:,}")
    own = {"edges": pairs.tolist(), "num_nodes": num_nodes, "repeats": r, "ground_links": ground_links}
    return _graph_circuit("custom", own, n, pairs, r, ground_links, c)


# --- registry ------------------------------------------------------------------------------------

def _nodes(default: int) -> ParamSpec:
    return ParamSpec("num_nodes", int, default, 1, 2000, "non-ground nodes")


_REPEATS = ParamSpec("repeats", "int_pair", (1, 1), 0, 100, "parallel devices forward, backward")
_GROUND = ParamSpec("ground_links", bool, True, help="one device n->0 and one 0->n per node")


def _image(width: int, k: int) -> tuple[ParamSpec, ...]:
    return (ParamSpec("channels", int, 1, 1, 16, "image channels"),
            ParamSpec("width", int, width, 1, 256, "image width (pixels)"),
            ParamSpec("height", int, width, 1, 256, "image height (pixels)"),
            ParamSpec("k", int, k, 1, 16, "sliding-window size"))


GENERATORS: dict[str, GeneratorSpec] = {s.name: s for s in [
    GeneratorSpec("fully_connected", fully_connected,
                  "Every ordered pair of nodes (optionally with ground) linked by parallel devices.",
                  (_nodes(2), ParamSpec("repeats", "int_pair", (1, 1), 0, 100, "devices i->j, j->i per pair"),
                   ParamSpec("include_ground", bool, True, help="wire ground like any other node"))),
    GeneratorSpec("neighbour", neighbour,
                  "Convolution-like: pixels that share a k x k window are linked.",
                  _image(4, 2) + (ParamSpec("repeat", int, 1, 0, 100, "devices per ordered pair per window"),)),
    GeneratorSpec("mixed", mixed,
                  "Neighbour wiring plus ground links plus global projection nodes (the paper's MNIST).",
                  _image(6, 3) + (ParamSpec("projection", int, 4, 0, 1000, "extra global nodes"),
                                  ParamSpec("repeats", "int_pair", (1, 1), 0, 100,
                                            "devices to / from ground and projection nodes"),
                                  ParamSpec("neighbour_repeat", int, 1, 0, 100,
                                            "devices per ordered pair per window"))),
    GeneratorSpec("chain", chain, "A path of nodes, each linked to the next.", (_nodes(5), _REPEATS, _GROUND)),
    GeneratorSpec("ring", ring, "A cycle of nodes, each linked to the next and the last to the first.",
                  (ParamSpec("num_nodes", int, 6, 3, 2000, "non-ground nodes"), _REPEATS, _GROUND)),
    GeneratorSpec("grid", grid, "A 2-D lattice, each node linked to its four neighbours.",
                  (ParamSpec("rows", int, 3, 1, 100, "lattice rows"),
                   ParamSpec("cols", int, 3, 1, 100, "lattice columns"), _REPEATS, _GROUND)),
    GeneratorSpec("layered", layered, "Feed-forward layers, each node linked to every node of the next layer.",
                  (ParamSpec("layer_sizes", "int_list", (2, 4, 2), 1, 500, "nodes per layer"), _REPEATS, _GROUND)),
    GeneratorSpec("random_graph", random_graph, "Erdos-Renyi: each node pair linked with probability p.",
                  (_nodes(10), ParamSpec("p", float, 0.3, 0.0, 1.0, "link probability"),
                   ParamSpec("directed", bool, False, help="draw arcs u->v and v->u independently"),
                   _REPEATS, _GROUND)),
    GeneratorSpec("small_world", small_world, "Watts-Strogatz: a ring lattice with randomly rewired links.",
                  (_nodes(10), ParamSpec("k_neighbours", int, 4, 1, 100, "lattice neighbours per node"),
                   ParamSpec("p", float, 0.1, 0.0, 1.0, "rewiring probability"), _REPEATS, _GROUND)),
    GeneratorSpec("scale_free", scale_free, "Barabasi-Albert: preferential attachment grows a few hubs.",
                  (_nodes(10), ParamSpec("m", int, 2, 1, 100, "links of each new node"), _REPEATS, _GROUND)),
    GeneratorSpec("custom", custom, "An explicit list of src-dst device pairs.",
                  (ParamSpec("edges", str, "1-2, 2-3, 3-1", help="pairs such as '1-2, 2-3' (0 is ground)"),
                   ParamSpec("num_nodes", int, None, 1, 2000, "non-ground nodes (default: largest index)"),
                   ParamSpec("repeats", "int_pair", (1, 0), 0, 100, "devices src->dst, dst->src per pair"),
                   ParamSpec("ground_links", bool, False, help="one device n->0 and one 0->n per node"))),
]}


_EXPECTED = {int: "an integer", float: "a number", "int_pair": "two integers", "int_list": "a list of integers"}


def _check_value(spec: ParamSpec, value: Any) -> None:
    """Raise ValueError naming the parameter when a value has the wrong type or leaves [min, max]."""
    if value is None and spec.default is None:
        return
    if spec.choices and value not in spec.choices:
        raise ValueError(f"{spec.name}: {value!r} is not one of {list(spec.choices)}")
    if spec.type is bool and not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{spec.name}: must be true or false, got {value!r}")
    if spec.type not in _EXPECTED:
        return
    items = [value] if spec.type in (int, float) else value
    if (not isinstance(items, (list, tuple, np.ndarray)) or len(items) == 0
            or (spec.type == "int_pair" and len(items) != 2)):
        raise ValueError(f"{spec.name}: expected {_EXPECTED[spec.type]}, got {value!r}")
    number = (int, float, np.integer, np.floating) if spec.type is float else (int, np.integer)
    for x in items:
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, number):
            raise ValueError(f"{spec.name}: expected {_EXPECTED[spec.type]}, got {value!r}")
        if (spec.min is not None and x < spec.min) or (spec.max is not None and x > spec.max):
            raise ValueError(f"{spec.name}={value!r} is out of range [{spec.min}, {spec.max}]")


def generate(name: str, **kwargs: Any) -> Circuit:
    """Build a circuit by registry name, checking every argument first (missing own arguments
    take their ``ParamSpec`` default, so ``generate("ring")`` works)."""
    if name not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}; choose one of {sorted(GENERATORS)}")
    spec = GENERATORS[name]
    specs = {p.name: p for p in spec.params + COMMON_PARAMS}
    for key, value in kwargs.items():
        if key not in specs:
            raise ValueError(f"{name}: unknown parameter {key!r}; valid ones are {sorted(specs)}")
        _check_value(specs[key], value)
    return spec.function(**{**{p.name: p.default for p in spec.params}, **kwargs})
