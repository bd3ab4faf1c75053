"""The circuit: one data model that flows through the whole project.

Nodes 1..N each have a capacitor to ground (node 0, always 0 V). Devices are stored column-wise per
time slice (``src``, ``dst``, ``kind``, ``params``) so that circuits with hundreds of thousands of
devices stay cheap to build, validate and hand to the model. Parallel devices (same src and dst)
are simply repeated rows.

Depth is time slices: slice l runs for ``duration`` and may have its own devices and its own width
(``num_nodes``). When the width changes, the state is zero-padded (``resize="pad"``) or tiled
(``resize="tile"``) to grow, and truncated to shrink. A node index names the same capacitor in
every slice, so a per-node capacitance list covers the widest slice.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Sequence

import networkx as nx
import numpy as np

from .devices import KINDS, MAX_PARAMS, get_kind
from .limits import INT64_MAX, INT64_MIN, MAX_DEVICES, MAX_NODES, MAX_SLICES, show

RESIZE_MODES = ("pad", "tile")


class CircuitError(ValueError):
    """A circuit that cannot be simulated; the message names the offending field and value."""


@dataclass
class Slice:
    """Devices active during one time slice. ``params`` is (E, MAX_PARAMS); unused columns are 0."""

    duration: float
    src: np.ndarray
    dst: np.ndarray
    kind: np.ndarray
    params: np.ndarray
    num_nodes: int | None = None  # None: the circuit's num_nodes

    def __post_init__(self) -> None:
        self.src = np.asarray(self.src, dtype=np.int64).reshape(-1)
        self.dst = np.asarray(self.dst, dtype=np.int64).reshape(-1)
        self.kind = np.asarray(self.kind, dtype=object).reshape(-1)
        params = np.asarray(self.params, dtype=np.float64)
        if params.size == 0:
            params = params.reshape(len(self.src), MAX_PARAMS) if len(self.src) == 0 else params
        self.params = params

    @property
    def num_devices(self) -> int:
        return len(self.src)

    @classmethod
    def from_devices(cls, duration: float, devices: Iterable[dict], num_nodes: int | None = None,
                     where: str = "slice") -> "Slice":
        """Build from ``{src, dst, kind, params}`` records, checking each parameter count."""
        duration = _as_duration(duration, f"{where}.duration")
        src, dst, kind, rows = [], [], [], []
        for i, d in enumerate(devices):
            if i >= MAX_DEVICES:
                raise CircuitError(f"{where}.devices: more than {MAX_DEVICES:,} devices, the limit of a circuit")
            if not isinstance(d, dict):
                raise CircuitError(f"{where}.devices[{i}]: expected an object with src, dst, kind, params")
            missing = [k for k in ("src", "dst", "kind") if k not in d]
            if missing:
                raise CircuitError(f"{where}.devices[{i}]: missing field(s) {missing}")
            kind_name = d["kind"]
            if not isinstance(kind_name, str) or kind_name not in KINDS:
                raise CircuitError(f"{where}.devices[{i}].kind: unknown device kind {show(kind_name)}; "
                                   f"choose one of {sorted(KINDS)}")
            n = KINDS[kind_name].n_params
            p = d.get("params")
            if p is not None and not isinstance(p, (list, tuple, np.ndarray)):
                raise CircuitError(f"{where}.devices[{i}].params: must be a list of {n} number(s), got {show(p)}")
            p = [0.0] * n if p is None else list(p)
            if len(p) != n:
                raise CircuitError(f"{where}.devices[{i}].params: {kind_name} takes {n} parameter(s), "
                                   f"got {len(p)}")
            src.append(_as_int(d["src"], f"{where}.devices[{i}].src"))
            dst.append(_as_int(d["dst"], f"{where}.devices[{i}].dst"))
            kind.append(kind_name)
            rows.append(_as_floats(p, f"{where}.devices[{i}].params") + [0.0] * (MAX_PARAMS - n))
        params = np.array(rows, dtype=np.float64).reshape(len(rows), MAX_PARAMS)
        return cls(duration, np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64),
                   np.array(kind, dtype=object), params, num_nodes)

    def devices(self) -> list[dict]:
        """The devices as ``{src, dst, kind, params}`` records (params trimmed to the family's count)."""
        out = []
        for s, d, k, p in zip(self.src.tolist(), self.dst.tolist(), self.kind.tolist(), self.params.tolist()):
            out.append({"src": s, "dst": d, "kind": k, "params": p[: KINDS[k].n_params]})
        return out

    def copy(self) -> "Slice":
        return replace(self, src=self.src.copy(), dst=self.dst.copy(), kind=self.kind.copy(),
                       params=self.params.copy())


@dataclass
class Circuit:
    """A KirchhoffNet circuit: nodes, capacitors, devices per slice, input and read-out nodes."""

    num_nodes: int
    slices: list[Slice]
    inputs: list[int]
    outputs: list[int]
    capacitance: float | list[float] = 1.0
    resize: str = "pad"
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    # --- derived views ---------------------------------------------------------------------------
    def width(self, i: int) -> int:
        """Number of non-ground nodes in slice i."""
        n = self.slices[i].num_nodes
        return self.num_nodes if n is None else n

    @property
    def max_width(self) -> int:
        return max(self.width(i) for i in range(len(self.slices)))

    @property
    def num_devices(self) -> int:
        return sum(s.num_devices for s in self.slices)

    @property
    def num_parameters(self) -> int:
        return int(sum(sum(KINDS[k].n_params for k in s.kind.tolist()) for s in self.slices))

    @property
    def durations(self) -> list[float]:
        return [s.duration for s in self.slices]

    @property
    def t_end(self) -> float:
        return float(sum(self.durations))

    def capacitances(self, width: int) -> np.ndarray:
        """Capacitance of nodes 1..width as an array."""
        c = np.asarray(self.capacitance, dtype=np.float64)
        return np.full(width, float(c)) if c.ndim == 0 else c[:width].copy()

    def stats(self) -> dict[str, int | float]:
        return {"nodes": self.num_nodes, "devices": self.num_devices,
                "parameters": self.num_parameters, "slices": len(self.slices), "T": self.t_end}

    def copy(self) -> "Circuit":
        cap = list(self.capacitance) if isinstance(self.capacitance, (list, tuple, np.ndarray)) else self.capacitance
        return replace(self, slices=[s.copy() for s in self.slices], inputs=list(self.inputs),
                       outputs=list(self.outputs), capacitance=cap, meta=dict(self.meta))

    def fingerprint(self, slice_index: int | None = None, params: bool = True) -> str:
        """A short hash: equal circuits give equal text, any change to structure, roles, timing,
        capacitance or (with ``params``) parameters gives another. ``slice_index`` hashes one slice
        plus the circuit-wide fields. Caches and editors key on it, since a trained circuit is a new
        object with every snapshot while an edit may keep the object's identity."""
        h = hashlib.blake2b(digest_size=10)
        cap = np.asarray(self.capacitance, dtype=np.float64)
        h.update(repr((int(self.num_nodes), list(self.inputs), list(self.outputs), self.resize, self.name,
                       cap.tolist(), self.durations, [s.num_nodes for s in self.slices],
                       self.meta.get("generator"), self.meta.get("params"))).encode())
        for s in self.slices if slice_index is None else [self.slices[slice_index]]:
            for arr in (s.src, s.dst, *([s.params] if params else [])):
                h.update(np.ascontiguousarray(arr).tobytes())
            h.update("\0".join(s.kind.tolist()).encode())
        return h.hexdigest()

    def node_pairs(self, slice_index: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Undirected node pairs (a < b; a = 0 is ground) joined by devices, with their device counts,
        over one slice or all slices: what a drawing wires, whatever the direction or multiplicity."""
        slices = self.slices if slice_index is None else [self.slices[slice_index]]
        src = np.concatenate([s.src for s in slices]).astype(np.int64)
        dst = np.concatenate([s.dst for s in slices]).astype(np.int64)
        base = int(max(src.max(initial=0), dst.max(initial=0))) + 1
        codes, counts = np.unique(np.minimum(src, dst) * base + np.maximum(src, dst), return_counts=True)
        return codes // base, codes % base, counts

    # --- validation ------------------------------------------------------------------------------
    def validate(self) -> "Circuit":
        """Raise CircuitError naming the first problem; return self so calls can chain."""
        _check_width(self.num_nodes, "num_nodes")
        if not self.slices:
            raise CircuitError("slices: a circuit needs at least one time slice")
        if len(self.slices) > MAX_SLICES:
            raise CircuitError(f"slices: {len(self.slices):,} time slices; the limit is {MAX_SLICES:,}")
        if self.resize not in RESIZE_MODES:
            raise CircuitError(f"resize: must be one of {RESIZE_MODES}, got {self.resize!r}")
        for i, s in enumerate(self.slices):
            self._validate_slice(i, s)
        if self.num_devices == 0:
            raise CircuitError("the circuit is empty: no slice has any device, so nothing would move")
        if self.num_devices > MAX_DEVICES:
            raise CircuitError(f"the circuit has {self.num_devices:,} devices; the limit is {MAX_DEVICES:,}")
        if not math.isfinite(self.t_end):
            raise CircuitError("slices: the durations add up to more than the largest float (T is infinite); "
                               "use shorter slices")
        try:
            c = np.asarray(self.capacitance, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise CircuitError(f"capacitance: must be a positive number or a list of them, got "
                               f"{show(self.capacitance)}") from None
        if c.ndim == 0:
            if not (math.isfinite(float(c)) and float(c) > 0):
                raise CircuitError(f"capacitance: must be a positive finite number, got {float(c)!r}")
        else:
            if c.ndim != 1 or len(c) != self.max_width:
                raise CircuitError(f"capacitance: a per-node list needs {self.max_width} values "
                                   f"(one per node of the widest slice), got shape {c.shape}")
            bad = np.flatnonzero(~(np.isfinite(c) & (c > 0)))
            if len(bad):
                raise CircuitError(f"capacitance[{bad[0]}] (node {bad[0] + 1}): must be positive and "
                                   f"finite, got {c[bad[0]]!r}")
        self._validate_nodes("inputs", self.inputs, self.width(0), "first")
        self._validate_nodes("outputs", self.outputs, self.width(len(self.slices) - 1), "last")
        return self

    def _validate_slice(self, i: int, s: Slice) -> None:
        where = f"slices[{i}]"
        if isinstance(s.duration, bool) or not (isinstance(s.duration, (int, float, np.floating))
                                                and math.isfinite(s.duration) and s.duration > 0):
            raise CircuitError(f"{where}.duration: must be a positive finite time, got {show(s.duration)}")
        width = _check_width(self.width(i), f"{where}.num_nodes")
        E = s.num_devices
        if not (len(s.dst) == len(s.kind) == E and s.params.shape == (E, MAX_PARAMS)):
            raise CircuitError(f"{where}: src, dst, kind and params must describe the same {E} devices")
        for name, col in (("src", s.src), ("dst", s.dst)):
            bad = np.flatnonzero((col < 0) | (col > width))
            if len(bad):
                j = bad[0]
                raise CircuitError(f"{where}.devices[{j}].{name}: node {col[j]} does not exist "
                                   f"(nodes are 0 = ground .. {width})")
        loops = np.flatnonzero(s.src == s.dst)
        if len(loops):
            j = loops[0]
            raise CircuitError(f"{where}.devices[{j}]: self-loop at node {s.src[j]}; "
                               "a device needs two distinct nodes")
        for j, k in enumerate(s.kind.tolist()):
            if k not in KINDS:
                raise CircuitError(f"{where}.devices[{j}].kind: unknown device kind {k!r}; "
                                   f"choose one of {sorted(KINDS)}")
        bad = np.argwhere(~np.isfinite(s.params))
        if len(bad):
            j, c = bad[0]
            raise CircuitError(f"{where}.devices[{j}].params[{c}]: must be finite, got {s.params[j, c]!r}")

    @staticmethod
    def _validate_nodes(name: str, nodes: Sequence[int], width: int, which: str) -> None:
        if len(nodes) == 0:
            raise CircuitError(f"{name}: choose at least one node")
        for n in nodes:
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
                raise CircuitError(f"{name}: node {show(n)} is not a node number")
        if len(set(nodes)) != len(nodes):
            raise CircuitError(f"{name}: nodes must be distinct, got {list(nodes)}")
        for n in nodes:
            if not isinstance(n, (int, np.integer)) or not 1 <= n <= width:
                raise CircuitError(f"{name}: node {show(n)} does not exist in the {which} slice "
                                   f"(nodes 1..{width}; ground 0 cannot be {name[:-1]})")

    # --- networkx interop ------------------------------------------------------------------------
    def to_networkx(self) -> nx.MultiDiGraph:
        """All slices in one MultiDiGraph; each edge carries ``slice``, ``kind`` and ``params``.

        Node attributes: ``role`` (ground / input / output / input+output / hidden) and
        ``capacitance``. Graph attributes hold the rest, so ``from_networkx`` is exact.
        """
        g = nx.MultiDiGraph(num_nodes=self.num_nodes, inputs=list(self.inputs), outputs=list(self.outputs),
                            capacitance=self.capacitance, resize=self.resize, name=self.name,
                            durations=self.durations, slice_num_nodes=[s.num_nodes for s in self.slices],
                            meta=dict(self.meta))
        caps = self.capacitances(self.max_width)
        g.add_node(0, role="ground", capacitance=0.0)
        for n in range(1, self.max_width + 1):
            g.add_node(n, role=node_role(n, self.inputs, self.outputs), capacitance=float(caps[n - 1]))
        for i, s in enumerate(self.slices):
            for j, d in enumerate(s.devices()):
                g.add_edge(d["src"], d["dst"], key=(i, j), slice=i, kind=d["kind"], params=d["params"])
        return g

    @classmethod
    def from_networkx(cls, g: nx.MultiDiGraph, **overrides: Any) -> "Circuit":
        """Inverse of ``to_networkx``; also accepts a plain graph whose edges have ``kind`` (and
        optionally ``params``, ``slice``) — missing circuit attributes come from ``overrides``."""
        attrs = {**g.graph, **overrides}
        n_nodes = int(attrs.get("num_nodes", max((int(n) for n in g.nodes), default=0)))
        durations = list(attrs.get("durations") or [1.0])
        if len(durations) > MAX_SLICES:
            raise CircuitError(f"durations: {len(durations):,} time slices; the limit is {MAX_SLICES:,}")
        slice_widths = list(attrs.get("slice_num_nodes") or [None] * len(durations))
        per_slice: list[list[tuple]] = [[] for _ in durations]
        for u, v, key, data in g.edges(keys=True, data=True):
            i = int(data.get("slice", 0))
            if not 0 <= i < len(durations):
                raise CircuitError(f"edge {u}->{v}: slice {i} does not exist ({len(durations)} slice(s))")
            order = key[1] if isinstance(key, tuple) else len(per_slice[i])
            per_slice[i].append((order, {"src": int(u), "dst": int(v), "kind": data.get("kind", "ShiftTanh2"),
                                         "params": data.get("params")}))
        slices = [Slice.from_devices(d, [rec for _, rec in sorted(devs, key=lambda t: t[0])], w,
                                     where=f"slices[{i}]")
                  for i, (d, w, devs) in enumerate(zip(durations, slice_widths, per_slice))]
        return cls(num_nodes=n_nodes, slices=slices, inputs=list(attrs.get("inputs") or [1]),
                   outputs=list(attrs.get("outputs") or [n_nodes]), capacitance=attrs.get("capacitance", 1.0),
                   resize=attrs.get("resize", "pad"), name=attrs.get("name", ""), meta=dict(attrs.get("meta") or {}))


def node_role(n: int, inputs: Sequence[int], outputs: Sequence[int]) -> str:
    if n == 0:
        return "ground"
    roles = [r for r, nodes in (("input", inputs), ("output", outputs)) if n in nodes]
    return "+".join(roles) or "hidden"


def _check_width(n: Any, where: str) -> int:
    """A node count: an integer (not a boolean) in 1..MAX_NODES."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise CircuitError(f"{where}: need at least one non-ground node, got {show(n)}")
    if n > MAX_NODES:
        raise CircuitError(f"{where}: {show(int(n))} nodes; the limit is {MAX_NODES:,}")
    return int(n)


def _as_duration(x: Any, where: str) -> float:
    """A duration as a float (its range is checked by ``Circuit.validate``)."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise CircuitError(f"{where}: must be a positive finite time, got {show(x)}")
    try:
        return float(x)
    except OverflowError:
        raise CircuitError(f"{where}: must be a positive finite time, got an integer too large for a float") from None


def _as_int(x: Any, where: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) and not (isinstance(x, float) and x.is_integer()):
        raise CircuitError(f"{where}: node index must be an integer, got {show(x)}")
    if not INT64_MIN <= x <= INT64_MAX:
        raise CircuitError(f"{where}: node index {show(int(x))} does not fit in 64 bits (no such node)")
    return int(x)


def _as_floats(xs: Sequence[Any], where: str) -> list[float]:
    out = []
    for c, x in enumerate(xs):
        if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
            raise CircuitError(f"{where}[{c}]: must be a number, got {show(x)}")
        try:
            out.append(float(x))
        except OverflowError:
            raise CircuitError(f"{where}[{c}]: must be finite, got an integer too large for a float") from None
    return out


def make_slice(duration: float, edges: Iterable[tuple[int, int]], kind: str | Sequence[str] = "ShiftTanh2",
               params: np.ndarray | None = None, num_nodes: int | None = None) -> Slice:
    """A slice from an edge list; one kind for all devices or one per device. Params default to 0
    (use ``generators.init_params`` for a trained-from-scratch start)."""
    e = np.asarray(list(edges), dtype=np.int64).reshape(-1, 2)
    kinds = np.array([kind] * len(e) if isinstance(kind, str) else list(kind), dtype=object)
    for k in set(kinds.tolist()):
        get_kind(k)
    p = np.zeros((len(e), MAX_PARAMS)) if params is None else np.asarray(params, dtype=np.float64)
    return Slice(float(duration), e[:, 0], e[:, 1], kinds, p, num_nodes)
