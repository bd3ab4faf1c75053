"""Circuit files: structure and parameters in JSON, big parameter sets in a sibling .safetensors.

Nothing here ever unpickles: JSON is parsed with the standard library and weights with safetensors,
so an uploaded file can at worst be rejected, never executed. The format is documented in
docs/file-format.md; ``SCHEMA_VERSION`` changes when it does. A trained circuit carries how it was
trained in its ``training`` section, one schema for every writer and reader: ``TrainingRecord``.
"""

from __future__ import annotations

import hashlib
import io as _stdio
import json
import math
import pathlib
from dataclasses import asdict, dataclass, field
from typing import Any

import networkx as nx
import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from .circuit import Circuit, CircuitError, Slice
from .devices import KINDS, MAX_PARAMS, zero_unused

FORMAT = "kirchhoffnet-circuit"
SCHEMA_VERSION = 1
INLINE_LIMIT = 20_000  # devices; above this ``weights="auto"`` writes a .safetensors file
MAX_FILE_BYTES = 200 * 1024 * 1024


class CircuitFileError(CircuitError):
    """A file that is not a valid circuit (bad JSON, wrong schema, corrupt or unsafe weights)."""


# --- the training section ------------------------------------------------------------------------

TRAINING_TASKS = ("supervised", "generate", "density")
TRAINING_VERSION = 1


@dataclass
class TrainingRecord:
    """The ``training`` section of a saved circuit: what it was trained on, with which settings, how
    far it got. Written by the CLI, the app pages and the benchmarks alike (``Trainer`` and
    ``GenerativeTrainer`` make theirs with ``training_record()``); read with ``from_dict``, which
    also accepts the sections written before this schema existed.

    ``steps`` counts epochs for "supervised" and optimiser steps for "generate" / "density";
    ``history`` holds the per-step records (``EpochRecord`` / ``GenerativeRecord`` as dicts, or a
    writer's log rows); ``result`` the final metrics (e.g. ``{"nll": 2.86}``); ``extra`` anything a
    writer keeps besides (a page's own settings, the CLI's trace choice, ...).
    """

    task: str = "supervised"
    dataset: dict | None = None  # supervised: {name, n_samples, noise, test_fraction, seed}
    target: str | None = None  # generate: a 2-D data set; density: a potential (U1..U4)
    config: dict | None = None  # the trainer's config: TrainConfig or GenerativeConfig, as a dict
    solver: dict | None = None  # SolverConfig as a dict
    steps: int = 0
    history: list[dict] = field(default_factory=list)
    result: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TRAINING_TASKS:
            raise CircuitFileError(f"training.task: choose one of {list(TRAINING_TASKS)}, got {self.task!r}")
        for name, kind, what in (("dataset", dict, "an object"), ("target", str, "a name"),
                                 ("config", dict, "an object"), ("solver", dict, "an object")):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), kind):
                raise CircuitFileError(f"training.{name}: must be {what} or null, got {getattr(self, name)!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0:
            raise CircuitFileError(f"training.steps: must be a non-negative integer, got {self.steps!r}")
        if not isinstance(self.history, list) or not all(isinstance(h, dict) for h in self.history):
            raise CircuitFileError("training.history: must be a list of objects (one per recorded step)")
        for name in ("result", "extra"):
            if not isinstance(getattr(self, name), dict):
                raise CircuitFileError(f"training.{name}: must be an object, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        return {"version": TRAINING_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, doc: Any) -> "TrainingRecord":
        """The record of a ``training`` section, of this schema or of an older writer's shape."""
        if not isinstance(doc, dict):
            raise CircuitFileError(f"training: must be an object, got {doc!r}")
        doc = dict(doc)
        version = doc.pop("version", None)
        if version is None:
            doc = _upgrade_training(doc)
        elif version != TRAINING_VERSION:
            raise CircuitFileError(f"training.version: this version reads {TRAINING_VERSION}, the file has {version!r}")
        names = set(cls.__dataclass_fields__)
        unknown = {k: v for k, v in doc.items() if k not in names}
        fields = {k: v for k, v in doc.items() if k in names}
        if unknown:
            fields["extra"] = {**(fields.get("extra") or {}), **unknown}
        return cls(**fields)

    @classmethod
    def of(cls, trainer: Any, **fields: Any) -> "TrainingRecord":
        """The record of a live trainer (see ``live.LiveTrainer``), or of no trainer yet: ``fields``
        fill in or override what the trainer knows."""
        return trainer.training_record(**fields) if trainer is not None else cls(**fields)


def _upgrade_training(doc: dict) -> dict:
    """A section written before ``TrainingRecord``, in its fields (unknown keys end up in extra).

    The shapes: ``kirchhoff train`` {dataset, train, solver, history}; ``kirchhoff train --task
    generate|density`` {task, target, config, solver, trace, history}; the Train page {config (its
    settings), epoch, history}; the Generate page {task, target, settings, steps, history};
    ``benchmarks/generative_repro.py`` (and assets/generative/) {task, target, seed, config, solver,
    result, log}.
    """
    out, extra = {}, {}
    if "epoch" in doc:  # the Train page: its own settings were under "config"
        out["steps"] = doc.pop("epoch")
        extra["settings"] = doc.pop("config", None)
    for old, new in (("train", "config"), ("log", "history")):
        if old in doc:
            out[new] = doc.pop(old)
    if "settings" in doc:
        extra["settings"] = doc.pop("settings")
    out.update(doc)
    result, history = out.get("result"), out.get("history")
    if "steps" not in out:
        if isinstance(result, dict) and "steps" in result:
            out["steps"] = result["steps"]
        elif isinstance(history, list) and history and isinstance(history[-1], dict):
            last = history[-1]
            out["steps"] = last.get("step", last.get("epoch", 0))
    out.setdefault("task", "supervised" if out.get("target") is None else "generate")
    if extra:
        out["extra"] = {**extra, **(out.get("extra") or {})}
    return out


# --- dict <-> Circuit ----------------------------------------------------------------------------

def circuit_to_dict(circuit: Circuit, include_params: bool = True, extra: dict | None = None) -> dict:
    """The JSON-ready document; ``include_params=False`` leaves parameters to a weights file."""
    cap = circuit.capacitance
    doc: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "name": circuit.name,
        "num_nodes": int(circuit.num_nodes),
        "capacitance": [float(c) for c in cap] if isinstance(cap, (list, tuple, np.ndarray)) else float(cap),
        "inputs": [int(n) for n in circuit.inputs],
        "outputs": [int(n) for n in circuit.outputs],
        "resize": circuit.resize,
        "slices": [],
        "meta": circuit.meta,
    }
    for s in circuit.slices:
        rec: dict[str, Any] = {"duration": float(s.duration)}
        if s.num_nodes is not None:
            rec["num_nodes"] = int(s.num_nodes)
        devs = s.devices()
        if not include_params:
            for d in devs:
                del d["params"]
        rec["devices"] = devs
        doc["slices"].append(rec)
    doc.update(_json_safe(extra or {}))
    return doc


def circuit_from_dict(doc: Any, weights: dict[str, np.ndarray] | None = None) -> Circuit:
    """Parse and validate a circuit document (and its weights, when stored apart)."""
    if not isinstance(doc, dict):
        raise CircuitFileError("not a circuit file: the JSON top level must be an object")
    if doc.get("format", FORMAT) != FORMAT:
        raise CircuitFileError(f"format: expected {FORMAT!r}, got {doc.get('format')!r}")
    version = doc.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise CircuitFileError(f"schema_version: this version reads {SCHEMA_VERSION}, the file has {version!r}")
    for key in ("num_nodes", "inputs", "outputs", "slices"):
        if key not in doc:
            raise CircuitFileError(f"{key}: missing (a circuit file needs num_nodes, inputs, outputs, slices)")
    if not isinstance(doc["slices"], list):
        raise CircuitFileError("slices: must be a list of {duration, devices}")
    slices = []
    for i, rec in enumerate(doc["slices"]):
        where = f"slices[{i}]"
        if not isinstance(rec, dict) or "devices" not in rec or not isinstance(rec["devices"], list):
            raise CircuitFileError(f"{where}: must be an object with duration and a devices list")
        duration = rec.get("duration", 1.0)
        if isinstance(duration, bool) or not isinstance(duration, (int, float)):
            raise CircuitFileError(f"{where}.duration: must be a number, got {duration!r}")
        s = Slice.from_devices(duration, rec["devices"], rec.get("num_nodes"), where=where)
        if weights is not None:
            s.params = _slice_weights(weights, i, s)
        slices.append(s)
    for key in ("inputs", "outputs"):
        if not isinstance(doc[key], list):
            raise CircuitFileError(f"{key}: must be a list of node numbers, got {doc[key]!r}")
    cap = doc.get("capacitance", 1.0)
    if isinstance(cap, bool) or not isinstance(cap, (int, float, list)) or isinstance(cap, list) and any(
            isinstance(c, bool) or not isinstance(c, (int, float)) for c in cap):
        raise CircuitFileError(f"capacitance: must be a number or a list of numbers, got {cap!r}")
    if not isinstance(doc.get("meta") or {}, dict):
        raise CircuitFileError(f"meta: must be an object, got {doc['meta']!r}")
    circuit = Circuit(num_nodes=doc["num_nodes"], slices=slices, inputs=list(doc["inputs"]),
                      outputs=list(doc["outputs"]), capacitance=cap, resize=doc.get("resize", "pad"),
                      name=str(doc.get("name", "")), meta=dict(doc.get("meta") or {}))
    return circuit.validate()


def _slice_weights(weights: dict[str, np.ndarray], i: int, s: Slice) -> np.ndarray:
    key = f"slices.{i}.params"
    if key not in weights:
        raise CircuitFileError(f"weights: tensor {key!r} is missing")
    w = weights[key]
    if w.shape != (s.num_devices, MAX_PARAMS):
        raise CircuitFileError(f"weights: {key} has shape {tuple(w.shape)}, the JSON describes "
                               f"{s.num_devices} devices (expected ({s.num_devices}, {MAX_PARAMS}))")
    w = w.astype(np.float64)
    zero_unused(w, s.kind)  # unused columns must stay zero
    return w


# --- bytes and files -----------------------------------------------------------------------------

def weights_to_bytes(circuit: Circuit) -> bytes:
    return st_save({f"slices.{i}.params": np.ascontiguousarray(s.params) for i, s in enumerate(circuit.slices)})


def weights_from_bytes(data: bytes) -> dict[str, np.ndarray]:
    """Parse safetensors bytes; truncated or foreign data gives CircuitFileError."""
    # Parse first: a valid file's 8-byte header length can start with 0x80 (e.g. 384 = 0x180), so the
    # pickle sniff is only used to explain a failure. safetensors itself never unpickles.
    try:
        return st_load(bytes(data))
    except Exception as e:  # safetensors raises its own error types for corrupt headers / sizes
        _refuse_pickle(data, "weights")
        raise CircuitFileError(f"weights: not a valid .safetensors file ({e})") from None


def parse_json(data: bytes | str, what: str = "circuit") -> Any:
    """JSON text to objects, refusing pickles and non-standard numbers with a clear message."""
    if isinstance(data, bytes):
        _refuse_pickle(data, what)
        if len(data) > MAX_FILE_BYTES:
            raise CircuitFileError(f"{what}: file is {len(data) / 1e6:.0f} MB; the limit is "
                                   f"{MAX_FILE_BYTES / 1e6:.0f} MB")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CircuitFileError(f"{what}: not a JSON text file (it is not UTF-8)") from None

    def no_constants(name: str) -> float:
        raise CircuitFileError(f"{what}: {name} is not a valid number in a circuit file")

    try:
        return json.loads(data, parse_constant=no_constants)
    except json.JSONDecodeError as e:
        raise CircuitFileError(f"{what}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None


def _refuse_pickle(data: bytes, what: str) -> None:
    if data[:1] == b"\x80" or data[:2] == b"PK":
        raise CircuitFileError(f"{what}: this looks like a pickle or PyTorch .pth/.pt file. For safety the "
                               "playground never unpickles; save circuits as JSON (+ .safetensors)")


def loads_circuit(data: bytes | str, weights: bytes | None = None) -> Circuit:
    """A circuit from JSON bytes (e.g. an upload), with optional safetensors bytes."""
    return _from_doc(parse_json(data), weights)


def _from_doc(doc: Any, weights: bytes | None) -> Circuit:
    if isinstance(doc, dict) and "weights" in doc and not isinstance(doc["weights"], dict):
        raise CircuitFileError(f"weights: must be an object {{file, sha256}}, got {doc['weights']!r}")
    if isinstance(doc, dict) and doc.get("weights") and weights is None:
        raise CircuitFileError(f"weights: this circuit keeps its parameters in {doc['weights'].get('file')!r}; "
                               "provide that .safetensors file too")
    w = weights_from_bytes(weights) if weights is not None else None
    if w is not None and isinstance(doc, dict) and isinstance(doc.get("weights"), dict):
        expected = doc["weights"].get("sha256")
        if expected and expected != hashlib.sha256(weights).hexdigest():
            raise CircuitFileError("weights: the .safetensors file does not match this circuit (sha256 differs)")
    return circuit_from_dict(doc, w)


def _json_safe(value):
    """Non-finite floats (a metric that was not measured, say) as null: JSON has no NaN, and the
    reader rejects NaN/Infinity, so writing them would make a file this module cannot read back."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _with_training(extra: dict | None, training: TrainingRecord | None) -> dict:
    return {**(extra or {}), **({"training": training.to_dict()} if training is not None else {})}


def dumps_circuit(circuit: Circuit, extra: dict | None = None, training: TrainingRecord | None = None) -> str:
    """Compact single-file JSON with parameters inline (what the app offers for download)."""
    return json.dumps(circuit_to_dict(circuit, extra=_with_training(extra, training)), separators=(",", ":"))


def save_circuit(circuit: Circuit, path: str | pathlib.Path, weights: str = "auto",
                 extra: dict | None = None, training: TrainingRecord | None = None) -> list[pathlib.Path]:
    """Write ``path`` (JSON) and, for big circuits or ``weights="safetensors"``, ``path`` with a
    .safetensors suffix. Returns the files written. ``training`` becomes the ``training`` section,
    ``extra`` adds other top-level keys."""
    path = pathlib.Path(path)
    if weights not in ("auto", "inline", "safetensors"):
        raise ValueError(f"weights: choose 'auto', 'inline' or 'safetensors', got {weights!r}")
    circuit.validate()
    apart = weights == "safetensors" or (weights == "auto" and circuit.num_devices > INLINE_LIMIT)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = [path]
    doc_extra = _with_training(extra, training)
    if apart:
        blob = weights_to_bytes(circuit)
        wpath = path.with_suffix(".safetensors")
        wpath.write_bytes(blob)
        doc_extra["weights"] = {"file": wpath.name, "sha256": hashlib.sha256(blob).hexdigest()}
        written.append(wpath)
    doc = circuit_to_dict(circuit, include_params=not apart, extra=doc_extra)
    path.write_text(json.dumps(doc, indent=None if circuit.num_devices > 200 else 1))
    return written


def load_circuit(path: str | pathlib.Path) -> Circuit:
    """Read a circuit file (and its sibling weights file when the JSON names one)."""
    return load_checkpoint(path)[0]


def load_checkpoint(path: str | pathlib.Path) -> tuple[Circuit, dict]:
    """A circuit plus the extra top-level keys saved with it (e.g. ``training``)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise CircuitFileError(f"{path}: no such file")
    data = path.read_bytes()
    doc = parse_json(data)
    weights = None
    if isinstance(doc, dict) and isinstance(doc.get("weights"), dict):
        wname = pathlib.Path(str(doc["weights"].get("file", ""))).name  # never leave the folder
        wpath = path.parent / wname
        if not wname or not wpath.is_file():
            raise CircuitFileError(f"weights: {wpath} not found next to {path.name}")
        weights = wpath.read_bytes()
    circuit = _from_doc(doc, weights)
    known = {"format", "schema_version", "name", "num_nodes", "capacitance", "inputs", "outputs", "resize",
             "slices", "meta", "weights"}
    return circuit, {k: v for k, v in doc.items() if k not in known}


def load_trained(path: str | pathlib.Path) -> tuple[Circuit, TrainingRecord | None]:
    """A circuit file and its ``training`` section (None when it has none)."""
    circuit, extra = load_checkpoint(path)
    return circuit, (TrainingRecord.from_dict(extra["training"]) if "training" in extra else None)


# --- GraphML ---------------------------------------------------------------------------------------

_GRAPH_JSON_KEYS = ("inputs", "outputs", "capacitance", "durations", "slice_num_nodes", "meta")


def to_graphml(circuit: Circuit) -> str:
    """GraphML text for graph tools (Gephi, yEd, networkx). GraphML has no list attributes, so device
    parameters become ``p0``..``p2`` and list-valued graph attributes are JSON strings."""
    g = circuit.to_networkx()
    for key in _GRAPH_JSON_KEYS:
        g.graph[key] = json.dumps(g.graph[key])
    g.graph["num_nodes"] = int(g.graph["num_nodes"])
    flat = nx.MultiDiGraph(**g.graph)
    flat.add_nodes_from(g.nodes(data=True))
    for u, v, (i, j), d in g.edges(keys=True, data=True):
        p = list(d["params"]) + [0.0] * (MAX_PARAMS - len(d["params"]))
        flat.add_edge(u, v, key=f"{i}:{j}", slice=i, device=j, kind=d["kind"],
                      **{f"p{c}": float(x) for c, x in enumerate(p)})
    buf = _stdio.BytesIO()
    nx.write_graphml(flat, buf)
    return buf.getvalue().decode("utf-8")


def from_graphml(data: str | bytes) -> Circuit:
    """A circuit from GraphML written by ``to_graphml`` (or any graph whose edges carry ``kind``)."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    _refuse_pickle(raw, "graphml")
    try:
        g = nx.read_graphml(_stdio.BytesIO(raw), node_type=int, force_multigraph=True)
        attrs = {k: (json.loads(v) if k in _GRAPH_JSON_KEYS and isinstance(v, str) else v)
                 for k, v in g.graph.items()}
    except Exception as e:  # lxml / ElementTree / json errors on malformed input
        raise CircuitFileError(f"graphml: cannot read the file ({e})") from None
    nice = nx.MultiDiGraph(**attrs)
    nice.add_nodes_from(g.nodes)
    for u, v, d in g.edges(data=True):
        kind = d.get("kind", "ShiftTanh2")
        if kind not in KINDS:
            raise CircuitFileError(f"graphml: edge {u}->{v} has unknown device kind {kind!r}")
        params = [float(d.get(f"p{c}", 0.0)) for c in range(KINDS[kind].n_params)]
        nice.add_edge(u, v, key=(int(d.get("slice", 0)), int(d.get("device", nice.number_of_edges()))),
                      slice=int(d.get("slice", 0)), kind=kind, params=params)
    return Circuit.from_networkx(nice).validate()
