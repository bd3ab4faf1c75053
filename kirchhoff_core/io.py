"""Circuit files: structure and parameters in JSON, big parameter sets in a sibling .safetensors.

Nothing here ever unpickles: JSON is parsed with the standard library and weights with safetensors,
so an uploaded file can at worst be rejected, never executed. The format is documented in
docs/file-format.md; ``SCHEMA_VERSION`` changes when it does. A trained circuit carries how it was
trained in its ``training`` section, one schema for every writer and reader: ``TrainingRecord``.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import io as _stdio
import json
import math
import pathlib
import re
import struct
from dataclasses import asdict, dataclass, field
from typing import Any

import networkx as nx
import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from .atomic import atomic_write, remove_stale_temps
from .circuit import Circuit, CircuitError, Slice
from .devices import KINDS, MAX_PARAMS, zero_unused
from .limits import (MAX_DEVICES, MAX_FILE_BYTES, MAX_JSON_DEPTH, MAX_SLICES, MAX_WEIGHTS_BYTES, json_depth_exceeds,
                     show)

FORMAT = "kirchhoffnet-circuit"
SCHEMA_VERSION = 1
INLINE_LIMIT = 20_000  # devices; above this ``weights="auto"`` writes a .safetensors file
WEIGHT_DTYPES = {"F64": 8, "F32": 4, "F16": 2}  # safetensors dtypes a weights file may hold
_SHA256 = re.compile(r"[0-9a-f]{64}")


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
        raise CircuitFileError(f"format: expected {FORMAT!r}, got {show(doc.get('format'))}")
    version = doc.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise CircuitFileError(f"schema_version: this version reads {SCHEMA_VERSION}, the file has {show(version)}")
    for key in ("num_nodes", "inputs", "outputs", "slices"):
        if key not in doc:
            raise CircuitFileError(f"{key}: missing (a circuit file needs num_nodes, inputs, outputs, slices)")
    if not isinstance(doc["slices"], list):
        raise CircuitFileError("slices: must be a list of {duration, devices}")
    _check_declared_sizes(doc["slices"])
    slices = []
    for i, rec in enumerate(doc["slices"]):
        where = f"slices[{i}]"
        if not isinstance(rec, dict) or "devices" not in rec or not isinstance(rec["devices"], list):
            raise CircuitFileError(f"{where}: must be an object with duration and a devices list")
        duration = rec.get("duration", 1.0)
        if isinstance(duration, bool) or not isinstance(duration, (int, float)):
            raise CircuitFileError(f"{where}.duration: must be a number, got {show(duration)}")
        s = Slice.from_devices(duration, rec["devices"], rec.get("num_nodes"), where=where)
        if weights is not None:
            s.params = _slice_weights(weights, i, s)
        slices.append(s)
    for key in ("inputs", "outputs"):
        if not isinstance(doc[key], list):
            raise CircuitFileError(f"{key}: must be a list of node numbers, got {show(doc[key])}")
    cap = doc.get("capacitance", 1.0)
    if isinstance(cap, bool) or not isinstance(cap, (int, float, list)) or isinstance(cap, list) and any(
            isinstance(c, bool) or not isinstance(c, (int, float)) for c in cap):
        raise CircuitFileError(f"capacitance: must be a number or a list of numbers, got {show(cap)}")
    if isinstance(cap, int) or isinstance(cap, list) and any(isinstance(c, int) for c in cap):
        try:  # an integer past the float range would overflow in numpy, not fail validation
            cap = float(cap) if isinstance(cap, int) else [float(c) for c in cap]
        except OverflowError:
            raise CircuitFileError("capacitance: must be finite, got an integer too large for a float") from None
    if not isinstance(doc.get("meta") or {}, dict):
        raise CircuitFileError(f"meta: must be an object, got {show(doc['meta'])}")
    if json_depth_exceeds(doc.get("meta")):
        raise CircuitFileError(f"meta: nested deeper than {MAX_JSON_DEPTH} levels")
    name = "" if doc.get("name") is None else doc["name"]
    if not isinstance(name, (str, int, float)) or isinstance(name, bool):
        raise CircuitFileError(f"name: must be a string, got {show(name)}")
    circuit = Circuit(num_nodes=doc["num_nodes"], slices=slices, inputs=list(doc["inputs"]),
                      outputs=list(doc["outputs"]), capacitance=cap, resize=doc.get("resize", "pad"),
                      name=str(name), meta=dict(doc.get("meta") or {}))
    return circuit.validate()


def _check_declared_sizes(slices: list) -> None:
    """Slice and device counts against the limits before any array is built."""
    if len(slices) > MAX_SLICES:
        raise CircuitFileError(f"slices: {len(slices):,} time slices; the limit is {MAX_SLICES:,}")
    devices = sum(len(s["devices"]) for s in slices if isinstance(s, dict) and isinstance(s.get("devices"), list))
    if devices > MAX_DEVICES:
        raise CircuitFileError(f"slices: {devices:,} devices; the limit is {MAX_DEVICES:,}")


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
    """Parse safetensors bytes; truncated, oversized or foreign data gives CircuitFileError. The
    header's declared tensors are checked against the limits before anything is allocated."""
    data = bytes(data)
    if len(data) > MAX_WEIGHTS_BYTES:
        raise CircuitFileError(f"weights: {_size(len(data))}; the limit is {_size(MAX_WEIGHTS_BYTES)}")
    # Parse first: a valid file's 8-byte header length can start with 0x80 (e.g. 384 = 0x180), so the
    # pickle sniff is only used to explain a failure. safetensors itself never unpickles.
    try:
        _check_safetensors_header(data)
        return st_load(data)
    except Exception as e:  # safetensors raises its own error types for corrupt headers / sizes
        _refuse_pickle(data, "weights")
        raise CircuitFileError(f"weights: not a valid .safetensors file ({e})") from None


def _check_safetensors_header(data: bytes) -> None:
    """The safetensors header (8-byte length, then JSON) declares every tensor's dtype, shape and byte
    range: refuse what does not fit the file or the limits before the library allocates it."""
    if len(data) < 8:
        raise ValueError("shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"the header claims {n:,} bytes but the file has {len(data) - 8:,} after it")
    header = json.loads(data[8: 8 + n])
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    elements = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or info.get("dtype") not in WEIGHT_DTYPES:
            raise ValueError(f"tensor {show(name)}: dtype must be one of {sorted(WEIGHT_DTYPES)}")
        shape, offsets = info.get("shape"), info.get("data_offsets")
        if not (isinstance(shape, list) and len(shape) <= 2 and isinstance(offsets, list) and len(offsets) == 2
                and all(type(x) is int and 0 <= x <= MAX_WEIGHTS_BYTES for x in shape + offsets)):
            raise ValueError(f"tensor {show(name)}: shape or data_offsets out of range")
        count = math.prod(shape)
        elements += count
        if count * WEIGHT_DTYPES[info["dtype"]] != offsets[1] - offsets[0] or offsets[1] > len(data) - 8 - n:
            raise ValueError(f"tensor {show(name)}: its declared size does not match its bytes")
    if elements > MAX_DEVICES * MAX_PARAMS:
        raise ValueError(f"{elements:,} values declared; the limit is {MAX_DEVICES * MAX_PARAMS:,}")


def _size(n: int) -> str:
    return f"{n / 2 ** 20:,.0f} MiB" if n >= 2 ** 20 else f"{n:,} bytes"


def parse_json(data: bytes | str, what: str = "circuit") -> Any:
    """JSON text to objects, refusing pickles, oversized or too deeply nested documents and
    non-standard numbers with a clear message (always a CircuitFileError)."""
    if isinstance(data, bytes):
        _refuse_pickle(data, what)
        if len(data) > MAX_FILE_BYTES:
            raise CircuitFileError(f"{what}: file is {_size(len(data))}; the limit is {_size(MAX_FILE_BYTES)}")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CircuitFileError(f"{what}: not a JSON text file (it is not UTF-8)") from None
    elif len(data) > MAX_FILE_BYTES:
        raise CircuitFileError(f"{what}: text of {len(data):,} characters; the limit is {_size(MAX_FILE_BYTES)}")

    def no_constants(name: str) -> float:
        raise CircuitFileError(f"{what}: {name} is not a valid number in a circuit file")

    try:
        return json.loads(data, parse_constant=no_constants)
    except json.JSONDecodeError as e:
        raise CircuitFileError(f"{what}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise CircuitFileError(f"{what}: lists or objects nested too deeply (the limit is "
                               f"{MAX_JSON_DEPTH} levels)") from None
    except ValueError as e:  # e.g. an integer literal longer than Python converts (4300 digits)
        if isinstance(e, CircuitFileError):
            raise
        raise CircuitFileError(f"{what}: unreadable number ({e})") from None


def _refuse_pickle(data: bytes, what: str) -> None:
    if data[:1] == b"\x80" or data[:2] == b"PK":
        raise CircuitFileError(f"{what}: this looks like a pickle or PyTorch .pth/.pt file. For safety the "
                               "playground never unpickles; save circuits as JSON (+ .safetensors)")


def loads_circuit(data: bytes | str, weights: bytes | None = None) -> Circuit:
    """A circuit from JSON bytes (e.g. an upload), with optional safetensors bytes."""
    return _from_doc(parse_json(data), weights)


def _from_doc(doc: Any, weights: bytes | None) -> Circuit:
    ref = _weights_reference(doc)
    if ref is None:
        if weights is not None:
            raise CircuitFileError("weights: this circuit keeps its parameters inline; load it without a "
                                   ".safetensors file")
        return circuit_from_dict(doc)
    if weights is None:
        raise CircuitFileError(f"weights: this circuit keeps its parameters in {ref['file']!r}; "
                               "provide that .safetensors file too")
    if ref["sha256"] != hashlib.sha256(weights).hexdigest():
        _refuse_pickle(weights, "weights")
        raise CircuitFileError("weights: the .safetensors file does not match this circuit (sha256 differs)")
    return circuit_from_dict(doc, weights_from_bytes(weights))


def _weights_reference(doc: Any) -> dict | None:
    """The document's ``weights`` object ({file, sha256}), checked; None for an inline circuit."""
    if not isinstance(doc, dict) or "weights" not in doc:
        return None
    ref = doc["weights"]
    if not isinstance(ref, dict):
        raise CircuitFileError(f"weights: must be an object {{file, sha256}}, got {show(ref)}")
    if not isinstance(ref.get("file"), str) or not ref["file"].strip():
        raise CircuitFileError(f"weights.file: must name the .safetensors file, got {show(ref.get('file'))}")
    if not isinstance(ref.get("sha256"), str) or not _SHA256.fullmatch(ref["sha256"]):
        raise CircuitFileError("weights.sha256: missing or not a SHA-256 hex digest; a weights file that "
                               "cannot be verified is refused")
    return ref


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


def weights_file_name(path: pathlib.Path, blob: bytes) -> str:
    """``STEM.<first 16 hex of its sha256>.safetensors``: every version of the weights gets its own
    name, so a new pair can be written beside the old one and switched to by replacing the JSON."""
    return f"{path.stem}.{hashlib.sha256(blob).hexdigest()[:16]}.safetensors"


def save_circuit(circuit: Circuit, path: str | pathlib.Path, weights: str = "auto",
                 extra: dict | None = None, training: TrainingRecord | None = None) -> list[pathlib.Path]:
    """Write ``path`` (JSON) and, for big circuits or ``weights="safetensors"``, a sibling
    ``STEM.<hash>.safetensors``. Returns the files written. ``training`` becomes the ``training``
    section, ``extra`` adds other top-level keys.

    Atomic and durable: the weights are written first under their content-addressed name, then the
    JSON replaces the old one in one rename (both flushed to disk), and only then are the weights
    the old JSON named removed. A crash at any moment leaves the complete old pair or the complete
    new one, and a reader (``load_checkpoint``) never sees a half-written file."""
    path = pathlib.Path(path)
    if weights not in ("auto", "inline", "safetensors"):
        raise ValueError(f"weights: choose 'auto', 'inline' or 'safetensors', got {weights!r}")
    circuit.validate()
    apart = weights == "safetensors" or (weights == "auto" and circuit.num_devices > INLINE_LIMIT)
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = _previous_weights(path) if path.is_file() else None
    written = [path]
    doc_extra = _with_training(extra, training)
    if apart:
        blob = weights_to_bytes(circuit)
        wpath = path.with_name(weights_file_name(path, blob))
        atomic_write(wpath, blob)
        doc_extra["weights"] = {"file": wpath.name, "sha256": hashlib.sha256(blob).hexdigest()}
        written.append(wpath)
    doc = circuit_to_dict(circuit, include_params=not apart, extra=doc_extra)
    atomic_write(path, json.dumps(doc, indent=None if circuit.num_devices > 200 else 1))
    _remove_old_weights(path, written[1:], previous)
    return written


def _previous_weights(path: pathlib.Path) -> pathlib.Path | None:
    """The weights file the JSON at ``path`` names now (None if none, or if it cannot be read)."""
    try:
        ref = _weights_reference(parse_json(_read_limited(path, MAX_FILE_BYTES, "circuit")))
    except (CircuitFileError, OSError):
        return None
    return None if ref is None else path.parent / pathlib.Path(ref["file"]).name


def _remove_old_weights(path: pathlib.Path, keep: list[pathlib.Path], previous: pathlib.Path | None) -> None:
    """After the switch: delete this JSON's earlier content-addressed weights (the one the old JSON
    named, and any a killed save left behind) and stale temporary files. A reader that read the old
    JSON just before the switch retries with the new one (see ``load_checkpoint``)."""
    pattern = re.compile(re.escape(path.stem) + r"\.[0-9a-f]{16}\.safetensors")
    old = [p for p in path.parent.glob(f"{glob.escape(path.stem)}.*.safetensors") if pattern.fullmatch(p.name)]
    if previous is not None and previous.name == f"{path.stem}.safetensors":
        old.append(previous)  # the fixed name earlier versions of this module wrote
    for p in old:
        if p not in keep:
            with contextlib.suppress(OSError):
                p.unlink()
    for target in [path, *keep]:
        remove_stale_temps(target)


def load_circuit(path: str | pathlib.Path) -> Circuit:
    """Read a circuit file (and its sibling weights file when the JSON names one)."""
    return load_checkpoint(path)[0]


def _read_limited(path: pathlib.Path, limit: int, what: str) -> bytes:
    """A file's bytes, its size checked against ``limit`` before anything is read."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                raise CircuitFileError(f"{what}: {path.name} is {_size(size)}; the limit is {_size(limit)}")
            data = f.read(limit + 1)
    except IsADirectoryError:
        raise CircuitFileError(f"{path}: is a folder, not a circuit file") from None
    except FileNotFoundError:
        raise CircuitFileError(f"{path}: no such file") from None
    if len(data) > limit:  # grew while being read
        raise CircuitFileError(f"{what}: {path.name} is larger than the limit of {_size(limit)}")
    return data


def load_checkpoint(path: str | pathlib.Path) -> tuple[Circuit, dict]:
    """A circuit plus the extra top-level keys saved with it (e.g. ``training``).

    Sizes are checked before reading (``limits.MAX_FILE_BYTES``, ``MAX_WEIGHTS_BYTES``). If the
    weights the JSON names are missing or do not match while a save is switching the pair, the JSON
    is read again, so a concurrent reader gets the complete old pair or the complete new one."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise CircuitFileError(f"{path}: no such file")
    for attempt in range(5):
        data = _read_limited(path, MAX_FILE_BYTES, "circuit")
        doc = parse_json(data)
        try:
            return _from_doc(doc, _read_weights(path, doc)), _extras(doc)
        except CircuitFileError:
            if attempt < 4 and _changed(path, data):
                continue  # a save switched the pair meanwhile: read the new one
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _read_weights(path: pathlib.Path, doc: Any) -> bytes | None:
    """The bytes of the weights file the document names (None for an inline circuit)."""
    ref = _weights_reference(doc)
    if ref is None:
        return None
    wname = pathlib.Path(ref["file"]).name  # never leave the folder
    wpath = path.parent / wname
    if not wname or not wpath.is_file():
        raise CircuitFileError(f"weights: {wpath} not found next to {path.name}")
    return _read_limited(wpath, MAX_WEIGHTS_BYTES, "weights")


def _changed(path: pathlib.Path, data: bytes) -> bool:
    try:
        return _read_limited(path, MAX_FILE_BYTES, "circuit") != data
    except CircuitFileError:
        return True


def _extras(doc: dict) -> dict:
    known = {"format", "schema_version", "name", "num_nodes", "capacitance", "inputs", "outputs", "resize",
             "slices", "meta", "weights"}
    extra = {k: v for k, v in doc.items() if k not in known}
    if json_depth_exceeds(extra):
        raise CircuitFileError(f"extra sections (e.g. training): nested deeper than {MAX_JSON_DEPTH} levels")
    return extra


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
    """A circuit from GraphML written by ``to_graphml`` (or any graph whose edges carry ``kind``).
    Anything unreadable raises CircuitFileError / CircuitError."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    _refuse_pickle(raw, "graphml")
    if len(raw) > MAX_FILE_BYTES:
        raise CircuitFileError(f"graphml: file is {_size(len(raw))}; the limit is {_size(MAX_FILE_BYTES)}")
    if b"<!ENTITY" in raw or b"<!DOCTYPE" in raw:
        raise CircuitFileError("graphml: DOCTYPE and ENTITY declarations are not accepted")
    try:
        g = nx.read_graphml(_stdio.BytesIO(raw), node_type=int, force_multigraph=True)
        attrs = {k: (json.loads(v) if k in _GRAPH_JSON_KEYS and isinstance(v, str) else v)
                 for k, v in g.graph.items()}
    except Exception as e:  # lxml / ElementTree / json errors on malformed input
        raise CircuitFileError(f"graphml: cannot read the file ({show(str(e))})") from None
    if g.number_of_edges() > MAX_DEVICES:
        raise CircuitFileError(f"graphml: {g.number_of_edges():,} edges; the limit is {MAX_DEVICES:,} devices")
    if json_depth_exceeds(attrs):
        raise CircuitFileError(f"graphml: graph attributes nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        nice = nx.MultiDiGraph(**attrs)
        nice.add_nodes_from(g.nodes)
        for u, v, d in g.edges(data=True):
            kind = d.get("kind", "ShiftTanh2")
            if kind not in KINDS:
                raise CircuitFileError(f"graphml: edge {u}->{v} has unknown device kind {show(kind)}")
            params = [float(d.get(f"p{c}", 0.0)) for c in range(KINDS[kind].n_params)]
            nice.add_edge(u, v, key=(int(d.get("slice", 0)), int(d.get("device", nice.number_of_edges()))),
                          slice=int(d.get("slice", 0)), kind=kind, params=params)
        return Circuit.from_networkx(nice).validate()
    except CircuitError:
        raise
    except (TypeError, ValueError, OverflowError, KeyError, AttributeError) as e:
        raise CircuitFileError(f"graphml: the graph does not describe a circuit ({show(str(e))})") from None
