"""Uploaded circuit files -> a ``Circuit``, or an exception whose message the page shows.

Only ``kirchhoff_core.io`` parses: JSON with the standard library, GraphML with networkx, weights
with safetensors. Nothing is ever unpickled (io refuses pickles and PyTorch files by their bytes,
whatever the file is called), and circuits too big for a browser session are refused before they
are built.
"""

from __future__ import annotations

from kirchhoff_core import io
from kirchhoff_core.circuit import Circuit
from kirchhoff_core.io import CircuitFileError

MAX_UPLOAD_DEVICES = 200_000
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".bin", ".npy", ".npz")


def load_upload(files: list[tuple[str, bytes]]) -> Circuit:
    """One circuit from uploaded (name, bytes): a .json (optionally with its .safetensors weights) or a
    .graphml file. Raises ``CircuitFileError`` / ``CircuitError`` with a message for the user."""
    if not files:
        raise CircuitFileError("no file uploaded")
    for name, data in files:
        if len(data) > MAX_UPLOAD_BYTES:
            raise CircuitFileError(f"{name}: {len(data) / 1e6:.0f} MB is too big for the playground "
                                   f"(limit {MAX_UPLOAD_BYTES / 1e6:.0f} MB)")
        if name.lower().endswith(_PICKLE_SUFFIXES):
            raise CircuitFileError(f"{name}: pickled / PyTorch files are never loaded, for safety; "
                                   "upload a circuit .json (+ .safetensors) or .graphml file")
    weights = [(n, d) for n, d in files if n.lower().endswith(".safetensors")]
    circuits = [(n, d) for n, d in files if not n.lower().endswith(".safetensors")]
    if len(circuits) != 1:
        raise CircuitFileError(f"upload exactly one circuit file (.json or .graphml), got {len(circuits)}"
                               + (" (plus its .safetensors weights, if any)" if weights else ""))
    if len(weights) > 1:
        raise CircuitFileError(f"upload at most one .safetensors weights file, got {len(weights)}")
    name, data = circuits[0]
    if _looks_like_graphml(name, data):
        if weights:
            raise CircuitFileError("a GraphML file carries its own parameters; upload it without a .safetensors file")
        edges = data.count(b"<edge ")
        _check_size(name, edges)
        circuit = io.from_graphml(data)
    else:
        doc = io.parse_json(data)  # refuses pickles, non-UTF-8 and malformed JSON with a clear message
        _check_size(name, _count_devices(doc))
        circuit = io.loads_circuit(data, weights[0][1] if weights else None)
    _check_size(name, circuit.num_devices)
    return circuit


def _looks_like_graphml(name: str, data: bytes) -> bool:
    lower = name.lower()
    if lower.endswith((".graphml", ".xml")):
        return True
    if lower.endswith(".json"):
        return False
    return data.lstrip()[:1] == b"<"


def _count_devices(doc: object) -> int:
    if not isinstance(doc, dict) or not isinstance(doc.get("slices"), list):
        return 0  # not a circuit: io reports what is wrong
    return sum(len(s["devices"]) for s in doc["slices"]
               if isinstance(s, dict) and isinstance(s.get("devices"), list))


def _check_size(name: str, devices: int) -> None:
    if devices > MAX_UPLOAD_DEVICES:
        raise CircuitFileError(f"{name}: {devices:,} devices is more than the playground loads "
                               f"({MAX_UPLOAD_DEVICES:,}); use the command line (`kirchhoff`) for circuits "
                               "this big")
