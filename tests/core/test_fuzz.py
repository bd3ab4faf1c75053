"""Property-based fuzzing (hypothesis) of everything that reads user input (issue 15).

Targets: the circuit loaders (``io.loads_circuit``, ``io.load_circuit``, ``io.from_graphml``), the
command line (``cli.main`` with random argv for every subcommand) and the app's upload handler
(``app/uploads.py load_upload``). Inputs: random JSON documents, mutations of valid circuit documents
(numbers at the edges of float64 and int64, NaN / Infinity tokens, booleans for numbers, deep nesting,
huge declared sizes, deleted and duplicated fields), mutated GraphML and safetensors bytes, random
bytes, and argv built from every subcommand's flags with valid and hostile values.

The property, for every case: it ends in success or in the documented error -- ``CircuitError``
(``CircuitFileError`` is one) from the loaders and the upload handler, exit status 0 or 2 with
exactly one ``error:`` line and no traceback from the command line -- within a time limit (a
SIGALRM guard turns a hang into a failure). A circuit that loads is also simulated under a small
work budget, where the only accepted failure is ``SolverError``.

Reproducible: ``derandomize=True`` (the examples depend only on the test), no example database.
The number of cases run is printed in the run's summary ("fuzz suite: N cases", tests/core/conftest.py)
and recorded in docs/file-format.md.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import hashlib
import json
import pathlib
import pickle
import re
import signal
import sys
from datetime import timedelta

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kirchhoff_core import io
from kirchhoff_core.circuit import Circuit, CircuitError, Slice
from kirchhoff_core.cli import main
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig, SolverError

APP_DIR = pathlib.Path(__file__).resolve().parents[2] / "app"
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))
from uploads import load_upload  # noqa: E402  (the app's own module, as tests/app/conftest.py does)

CASES: collections.Counter = collections.Counter()  # cases run per target
OUTCOMES: collections.Counter = collections.Counter()  # how they ended (success or the documented error)
HARD_LIMIT_S = 120  # per case: a hang, not a slow machine (the deadlines below are far shorter)


def fuzz(max_examples: int, deadline_s: float):
    """The suite's hypothesis settings: fixed example count and deadline, reproducible, no database."""
    return settings(max_examples=max_examples, deadline=timedelta(seconds=deadline_s), derandomize=True,
                    database=None, print_blob=False, suppress_health_check=list(HealthCheck))


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so no ``except Exception`` in the code under test hides it."""


@contextlib.contextmanager
def hard_limit(seconds: float = HARD_LIMIT_S):
    def ring(signum, frame):
        raise Hang(f"still running after {seconds} s")
    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/core/conftest.py


# --- values ---------------------------------------------------------------------------------------

EDGE_FLOATS = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, 0.5, -1.0, 1.0, 1e300, -1e300,
               1e308, -1e308, 1.7976931348623157e308, -1.7976931348623157e308]
EDGE_INTS = [0, 1, -1, 2, 3, 2 ** 31 - 1, 2 ** 31, 2 ** 53 + 1, 2 ** 63 - 1, 2 ** 63, -2 ** 63, -2 ** 63 - 1,
             2 ** 64, 10 ** 9, 10 ** 30, 10 ** 400]
RAW_TOKENS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 5000, "[" * 5000 + "]" * 5000,
              "[" * 200_000 + "]" * 200_000, "{\"a\":" * 3000 + "1" + "}" * 3000, "[" * 70 + "]" * 70]
KEYS = ["format", "schema_version", "name", "num_nodes", "capacitance", "inputs", "outputs", "resize", "slices",
        "meta", "weights", "duration", "devices", "src", "dst", "kind", "params", "file", "sha256", "training"]


class Raw:
    """A JSON token written verbatim (NaN, 1e400, a 5000-digit integer, deep nesting ...)."""

    def __init__(self, text: str):
        self.text = text


def encode(value) -> bytes:
    """JSON text of ``value`` with every Raw token spliced in verbatim."""
    raws: list[str] = []

    def default(o):
        if isinstance(o, Raw):
            raws.append(o.text)
            return f"\x00RAW{len(raws) - 1}\x00"
        raise TypeError(type(o))

    text = json.dumps(value, default=default, allow_nan=True)
    text = re.sub(r'"\\u0000RAW(\d+)\\u0000"', lambda m: raws[int(m.group(1))], text)
    return text.encode()


scalars = st.one_of(
    st.none(), st.booleans(), st.sampled_from(EDGE_INTS), st.integers(-2 ** 70, 2 ** 70),
    st.sampled_from(EDGE_FLOATS), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["", "NaN", "1e400", "ShiftTanh2", "Conductance", "pad", "tile",
                                           "kirchhoffnet-circuit", "x" * 5000]),
    st.sampled_from(RAW_TOKENS).map(Raw))
json_values = st.recursive(
    scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6),
                                                                        kids, max_size=4), max_leaves=16)


def base_docs() -> list[dict]:
    recs = [{"src": 1, "dst": 3, "kind": "ShiftTanh2", "params": [0.5, -0.2, 0.1]},
            {"src": 2, "dst": 3, "kind": "Conductance", "params": [0.3]},
            {"src": 3, "dst": 0, "kind": "TanhResistor", "params": [1.0, 1.0]},
            {"src": 3, "dst": 1, "kind": "ShiftRelu1", "params": [0.1, 0.7]}]
    one = Circuit(3, [Slice.from_devices(1.0, recs)], [1, 2], [3]).validate()
    two = Circuit(3, [Slice.from_devices(0.5, recs), Slice.from_devices(0.5, recs[:2] + [
        {"src": 4, "dst": 2, "kind": "ShiftLeakyRelu2", "params": [0.2, 0.1, 0.0]}], num_nodes=4)],
        [1, 2], [2], capacitance=[1.0, 0.5, 2.0, 1.0], resize="tile").validate()
    return [json.loads(io.dumps_circuit(c, extra={"training": {"history": [{"epoch": 1}]}})) for c in (one, two)]


BASES = base_docs()
WEIGHTED_DOC = json.loads(json.dumps(BASES[0]))
WEIGHTS_BLOB = io.weights_to_bytes(io.circuit_from_dict(BASES[0]))
for _s in WEIGHTED_DOC["slices"]:
    for _d in _s["devices"]:
        del _d["params"]
WEIGHTED_DOC["weights"] = {"file": "c.safetensors", "sha256": hashlib.sha256(WEIGHTS_BLOB).hexdigest()}


def paths(value, prefix=()):
    """Every place in a document: () is the root, then keys and indices."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, prefix + (i,))


def _parent(doc, path):
    for step in path[:-1]:
        doc = doc[step]
    return doc


@st.composite
def mutated(draw, base=None, numbers_only: bool = False):
    """A valid circuit document with one to four mutations: a number replaced by one at the edges of
    float64 / int64 (or a boolean), any value replaced by a hostile one, a field deleted, a key added,
    or an element duplicated (many times: huge declared sizes)."""
    doc = copy.deepcopy(draw(st.sampled_from(BASES)) if base is None else base)
    for _ in range(draw(st.integers(1, 4))):
        every = list(paths(doc))[1:]
        op = "number" if numbers_only else \
            draw(st.sampled_from(["number", "number", "replace", "replace", "delete", "add", "duplicate"]))
        numeric = [p for p in every if isinstance(_parent(doc, p)[p[-1]], (int, float))]
        path = draw(st.sampled_from(numeric if op == "number" and numeric else every))
        parent, key = _parent(doc, path), path[-1]
        if op == "number":
            parent[key] = draw(st.sampled_from(EDGE_FLOATS + EDGE_INTS + [True, False]) |
                               st.floats(-1e6, 1e6) | st.integers(-5, 10))
        elif op == "replace":
            parent[key] = draw(json_values)
        elif op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS))] = draw(json_values)
        elif op == "duplicate" and isinstance(parent, list):
            parent.extend([parent[key]] * draw(st.sampled_from([1, 10, 10_001])))
    return doc


documents = st.one_of(mutated(), mutated(WEIGHTED_DOC), json_values,
                      st.builds(dict, num_nodes=st.sampled_from(EDGE_INTS + [True, 1e300]), inputs=st.just([1]),
                                outputs=st.just([1]), slices=st.just([{"devices": [{"src": 1, "dst": 0,
                                                                                   "kind": "Conductance"}]}])))
raw_bytes = st.one_of(st.binary(max_size=300), st.sampled_from(RAW_TOKENS).map(str.encode),
                      st.sampled_from([pickle.dumps({"num_nodes": 3}), b"PK\x03\x04", b"\xef\xbb\xbf{}", b"\xff\xfe"]),
                      mutated().map(encode).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])))


@st.composite
def weights_blobs(draw):
    """Safetensors bytes: the real ones, truncated, bit-flipped, or with a hostile header."""
    blob = bytearray(WEIGHTS_BLOB)
    kind = draw(st.sampled_from(["same", "truncate", "flip", "header", "random"]))
    if kind == "truncate":
        return bytes(blob[: draw(st.integers(0, len(blob)))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            blob[draw(st.integers(0, len(blob) - 1))] ^= 1 << draw(st.integers(0, 7))
        return bytes(blob)
    if kind == "header":
        header = encode(draw(st.dictionaries(st.sampled_from(["slices.0.params", "__metadata__", "x"]), st.one_of(
            json_values, st.fixed_dictionaries({"dtype": st.sampled_from(["F64", "F32", "F16", "I64", "BF16", "U8"]),
                                                "shape": st.lists(st.sampled_from(EDGE_INTS + [4, True]), max_size=3),
                                                "data_offsets": st.lists(st.sampled_from(EDGE_INTS + [96]),
                                                                         max_size=3)})), max_size=2)))
        n = draw(st.sampled_from([len(header), 0, 2 ** 63, 2 ** 64 - 1, len(header) + 1]))
        return n.to_bytes(8, "little") + header + draw(st.binary(max_size=200))
    if kind == "random":
        return draw(st.binary(max_size=200))
    return bytes(blob)


def with_matching_sha(doc, blob: bytes):
    """Point the document's weights reference at ``blob`` so the safetensors parser itself is fuzzed."""
    if isinstance(doc, dict) and isinstance(doc.get("weights"), dict):
        doc["weights"]["sha256"] = hashlib.sha256(blob).hexdigest()
    return doc


def check_loaded(circuit: Circuit, data: st.DataObject) -> str:
    """A circuit that loaded is valid and simulates, or fails with SolverError, under a small budget."""
    circuit.validate()
    dtype = data.draw(st.sampled_from([torch.float32, torch.float64]))
    x = data.draw(st.lists(st.sampled_from([0.0, 1.0, -1.0, 1e-300, 999.0, -1e30]), min_size=len(circuit.inputs),
                           max_size=len(circuit.inputs)))
    if circuit.max_width * circuit.num_devices > 5_000_000:
        return "loaded (too big to simulate here)"
    try:
        model = KirchhoffNet(circuit, SolverConfig(rtol=1e-6, atol=1e-6, max_nfe=2000, max_total_nfe=10_000,
                                                   max_total_s=20), dtype=dtype)
        with torch.no_grad():
            model(torch.tensor([x], dtype=dtype))
    except SolverError:
        return "loaded, SolverError"
    except ValueError as e:  # inputs beyond the float32 range
        assert "inputs: contain NaN or infinity" in str(e), e
        return "loaded, inputs refused"
    return "loaded, simulated"


# --- the circuit loaders ---------------------------------------------------------------------------

def expect_circuit_or_error(target: str, load, data=None) -> None:
    """Run one loader case: a Circuit (checked and, with ``data``, simulated) or CircuitError."""
    try:
        with hard_limit():
            circuit = load()
            outcome = check_loaded(circuit, data) if data is not None else "loaded"
    except CircuitError:  # CircuitFileError included: the documented error type
        outcome = "refused with CircuitError"
    CASES[target] += 1  # counted once it ended well (hypothesis may also abandon a case half-drawn)
    OUTCOMES[outcome] += 1


@fuzz(max_examples=400, deadline_s=30)
@given(doc=documents, data=st.data())
def test_loads_circuit_on_random_and_mutated_documents(doc, data):
    weights = None
    if isinstance(doc, dict) and "weights" in doc:
        weights = data.draw(st.one_of(st.none(), weights_blobs()))
        if weights is not None and data.draw(st.booleans()):
            doc = with_matching_sha(doc, weights)
    expect_circuit_or_error("loads_circuit(json)", lambda: io.loads_circuit(encode(doc), weights), data)


@fuzz(max_examples=200, deadline_s=30)
@given(doc=mutated(numbers_only=True), data=st.data())
def test_edge_numbers_in_valid_documents_load_and_simulate_or_fail_cleanly(doc, data):
    """Only numbers changed (parameters, durations, capacitances, node indices, sizes): more of these
    load, so the solver meets parameters near 1e308, tiny durations, booleans and huge integers."""
    expect_circuit_or_error("loads_circuit(edge numbers)", lambda: io.loads_circuit(encode(doc)), data)


@fuzz(max_examples=150, deadline_s=30)
@given(data_bytes=raw_bytes)
def test_loads_circuit_on_raw_bytes(data_bytes):
    expect_circuit_or_error("loads_circuit(bytes)", lambda: io.loads_circuit(data_bytes))


@fuzz(max_examples=100, deadline_s=30)
@given(doc=st.one_of(mutated(), mutated(WEIGHTED_DOC)), weights=weights_blobs(), fix_sha=st.booleans(),
       name=st.sampled_from(["c.safetensors", "../c.safetensors", "", "nested/c.safetensors", "missing.safetensors"]))
def test_load_circuit_from_files(tmp_path_factory, doc, weights, fix_sha, name):
    folder = tmp_path_factory.mktemp("fuzzfiles", numbered=True)
    (folder / "c.safetensors").write_bytes(weights)
    if isinstance(doc.get("weights"), dict):
        doc["weights"]["file"] = name
        if fix_sha:
            with_matching_sha(doc, weights)
    (folder / "c.json").write_bytes(encode(doc))
    expect_circuit_or_error("load_circuit(file)", lambda: io.load_circuit(folder / "c.json"))


GRAPHML = io.to_graphml(io.circuit_from_dict(BASES[1]))
DATA_VALUE = re.compile(r"(<data key=\"[^\"]+\">)([^<]*)(</data>)")
GRAPHML_HOSTILE = ["nan", "inf", "-inf", "1e400", "", "true", "abc", "99999999999999999999999", "-1", "0", "1e308",
                   "[1, 2]", "[" * 3000 + "]" * 3000, "{\"a\": 1}", "[1e400]", "[true]", "null", "5.5", "-2"]


@st.composite
def graphml_texts(draw):
    text = GRAPHML
    matches = list(DATA_VALUE.finditer(text))
    for _ in range(draw(st.integers(0, 4))):
        m = draw(st.sampled_from(matches))
        value = draw(st.sampled_from(GRAPHML_HOSTILE) | st.text(max_size=10).map(
            lambda s: s.replace("<", "").replace("&", "")))
        text = text.replace(m.group(0), m.group(1) + value + m.group(3), 1)
    lines = text.splitlines()
    for _ in range(draw(st.integers(0, 2))):
        if lines:
            del lines[draw(st.integers(0, len(lines) - 1))]
    if draw(st.integers(0, 9)) == 0:
        lines.insert(1, '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>')
    return "\n".join(lines)


@fuzz(max_examples=150, deadline_s=30)
@given(text=graphml_texts(), data=st.data())
def test_from_graphml_on_mutated_graphs(text, data):
    expect_circuit_or_error("from_graphml", lambda: io.from_graphml(text), data)


# --- the app's upload handler ------------------------------------------------------------------------

NAMES = ["c.json", "c.graphml", "c.xml", "c.safetensors", "model.pkl", "model.pt", "noext", "C.JSON", "w.Safetensors",
         "c.ckpt", "weights.npz"]
upload_bytes = st.one_of(documents.map(encode), raw_bytes, weights_blobs(), graphml_texts().map(str.encode),
                         st.just(encode(WEIGHTED_DOC)), st.just(WEIGHTS_BLOB))


@fuzz(max_examples=200, deadline_s=30)
@given(files=st.lists(st.tuples(st.sampled_from(NAMES) | st.text(max_size=8), upload_bytes), max_size=3))
def test_upload_handler(files):
    expect_circuit_or_error("load_upload", lambda: load_upload(files))


# --- the command line ---------------------------------------------------------------------------------

HOSTILE = ["nan", "-nan", "inf", "-inf", "1e400", "-1e400", "", " ", "-1", "-0", "1e-320", "-1e308",
           "9223372036854775808", "-9223372036854775809", "99999999999999999999999", "true", "abc", "1,,2", ",",
           "0x10", "-0.5,1", "1e308"]
REFUSED_COUNTS = ["0", "-1", "-9223372036854775809", "9223372036854775808", "1e3", "nan", "", "abc", "1.5"]
NUMBERS = ["0.5,-1", "-0.5,1", "1,0", "-1e-3,2", "0,0", "-1e-300,1e-300"]
BAD_NUMBERS = ["1e300,-1e300", "-1e308,1e308", "1", "1,2,3"] + HOSTILE


def flag(valid: list, hostile: list) -> tuple[list, list]:
    """A flag's values: cheap valid ones (so real runs happen) and hostile ones (refused, or at the edges)."""
    return valid, hostile


SOLVER = {"--method": flag(["dopri5", "bosh3", "rk4", "euler"], ["rk45"]),
          "--rtol": flag(["1e-3", "1e-6"], ["0"] + HOSTILE), "--atol": flag(["1e-3"], HOSTILE),
          "--step-size": flag(["0.1"], ["1e-15"] + HOSTILE), "--max-nfe": flag(["2000"], ["9"] + REFUSED_COUNTS),
          "--max-total-nfe": flag(["50000"], ["100"] + REFUSED_COUNTS),
          "--max-total-s": flag(["30"], ["1e-9"] + HOSTILE)}


def command_table(files: dict[str, str]) -> dict[str, tuple[list[str], dict[str, tuple[list, list]]]]:
    """Per subcommand: the fixed cheap arguments, and each flag with the values to draw from."""
    circuits = [files[k] for k in ("one_readout", "hostile", "missing", "folder", "pickle", "weights_nosha")]
    outs = [files["good"], "/dev/null/x.json", files["dir"], files["dir"] + "/blocked/circuit.json"]
    return {
        "generate": ([], {"--num-nodes": flag(["3", "5"], REFUSED_COUNTS),
                          "--repeats": flag(["1,1", "2,0"], ["-1,1", "1", "1,99999999999999999999"]),
                          "--p": flag(["0.5"], ["1.5"] + HOSTILE),
                          "--edges": flag(["1-2, 2-3"], ["1-1", "a-b", "1-99999999999999", "-1-2"]),
                          "--kind": flag(["Conductance"], ["Diode"]), "--num-slices": flag(["1", "2"], REFUSED_COUNTS),
                          "--duration": flag(["0.5"], HOSTILE), "--inputs": flag(["1"], ["-1", "1.5", "99999999999"]),
                          "--capacitance": flag(["1"], HOSTILE), "--seed": flag(["0"], HOSTILE),
                          "--out": flag([files["dir"] + "/out{n}.json", files["dir"] + "/new{n}/c.json"], outs)}),
        "train": (["--epochs", "1", "--samples", "40", "--quiet", "--batch-size", "16", "--eval-size", "50",
                   "--steps", "1", "--log-every", "1", "--out", files["dir"] + "/run"],
                  {"--task": flag(["supervised", "generate", "density"], ["other"]),
                   "--dataset": flag(["moons", "xor", "sine", "8gaussians"], ["nosuch"]),
                   "--potential": flag(["U1", "U3"], ["U9", ""]), "--epochs": flag(["1"], REFUSED_COUNTS),
                   "--steps": flag(["1", "2"], REFUSED_COUNTS),
                   "--samples": flag(["40", "60"], ["9223372036854775807"] + REFUSED_COUNTS),
                   "--lr": flag(["0.01", "0.5"], ["0", "-5"] + HOSTILE),
                   "--batch-size": flag(["0", "8"], ["9223372036854775807"] + HOSTILE),
                   "--weight-decay": flag(["0", "0.1"], HOSTILE), "--noise": flag(["0.1"], HOSTILE),
                   "--test-fraction": flag(["0.2"], ["1", "0"] + HOSTILE),
                   "--seed": flag(["0", "7"], ["4294967296"] + HOSTILE),
                   "--circuit": flag([files["moons"]], circuits),
                   "--topology": flag(["ring", "chain"], ["nosuch"]),
                   "--topo": flag(["num_nodes=4"], ["num_nodes=nan", "nosuch=1", "=", "repeats=-1,2", "inputs=1.5"]),
                   "--kind": flag(["ShiftTanh1"], ["Diode"]), "--optimizer": flag(["adam", "sgd"], ["lbfgs"]),
                   "--eval-size": flag(["50"], REFUSED_COUNTS), "--log-every": flag(["1"], REFUSED_COUNTS),
                   "--checkpoint-every": flag(["0", "1"], ["-2"] + HOSTILE),
                   "--trace": flag(["exact", "hutchinson"], ["x"]),
                   "--out": flag([files["dir"] + "/run{n}", files["dir"] + "/new{n}/run"],
                                 [files["good"], "/dev/null/run", files["dir"] + "/blocked"]), **SOLVER}),
        "simulate": ([], {"--inputs": flag(NUMBERS, BAD_NUMBERS),
                          "--times": flag(["0,0.5,1", "-0,1", "1e-320"], ["0,nan", "2", "-1"] + HOSTILE), **SOLVER}),
        "trajectory": ([], {"--inputs": flag(NUMBERS, BAD_NUMBERS), "--points": flag(["1", "5"], ["1001"] +
                                                                                    REFUSED_COUNTS),
                            "--currents": flag([None], [None]), **SOLVER}),
        "readout-sweep": (["--samples", "40"], {
            "--dataset": flag(["moons", "xor"], ["sine", "nosuch"]),
            "--samples": flag(["40"], ["9223372036854775807"] + REFUSED_COUNTS),
            "--seed": flag(["0"], HOSTILE), "--split": flag(["test", "train"], ["x"]),
            "--times": flag(["2", "5"], ["201"] + REFUSED_COUNTS), **SOLVER}),
        "export-spice": (["-o", files["dir"] + "/x.cir"], {
            "--inputs": flag(NUMBERS, BAD_NUMBERS),
            "--units": flag(["10,10", "1e308,1e-308"], ["nan,10", "-1,5", "10"] + HOSTILE),
            "--timeout": flag(["5"], ["0"] + HOSTILE), "-o": flag([files["dir"] + "/a{n}/b.cir"], outs)}),
        "spice-check": ([], {"--inputs": flag(NUMBERS, BAD_NUMBERS), "--units": flag([], ["10,10"] + HOSTILE),
                             "--timeout": flag(["20"], ["0"] + HOSTILE)}),
        "chip": (["--chips", "2", "--samples", "40"], {
            "--dataset": flag(["moons", "xor"], ["sine", "nosuch"]), "--samples": flag(["40"], REFUSED_COUNTS),
            "--chips": flag(["2", "3"], ["10001"] + REFUSED_COUNTS), "--seed": flag(["0"], HOSTILE),
            "--mismatch": flag(["0.05"], ["2"] + HOSTILE), "--cap-mismatch": flag(["0.1"], ["0.5"] + HOSTILE),
            "--noise-scale": flag(["0", "1"], HOSTILE), "--cap-ff": flag(["10", "1e-3"], HOSTILE),
            "--current-ua": flag(["10", "1e3"], HOSTILE), "--supply": flag(["1"], HOSTILE),
            "--dac-bits": flag(["6"], ["25"] + REFUSED_COUNTS), "--adc-bits": flag(["6"], REFUSED_COUNTS),
            "--adc-range": flag(["2", "1e308"], HOSTILE), "--jitter": flag(["0.01"], HOSTILE),
            "--input-offset": flag(["0.01"], HOSTILE), "--readout-offset": flag(["0.01"], HOSTILE),
            "--sweep": flag(["device_mismatch=0,0.05", "adc_bits=4,6"],
                            ["adc_bits=4,nan", "x=1", "adc_bits=4.5", "device_mismatch=1e400", "noise=1",
                             "jitter=-1"])}),
        "view": (["-o", files["dir"] + "/view.html"], {
            "--inputs": flag(NUMBERS, BAD_NUMBERS), "--time": flag(["0.5", "1", "-0"], ["2", "-1"] + HOSTILE),
            "--slice": flag(["0"], ["1"] + REFUSED_COUNTS), "--no-ground": flag([None], [None]),
            "--max-edges": flag(["3", "4000"], ["100001"] + REFUSED_COUNTS),
            "-o": flag([files["dir"] + "/v{n}/view.html"], outs), **SOLVER}),
        "info": ([], {}),
    }


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("fuzzcli")
    good = io.circuit_from_dict(BASES[0])
    io.save_circuit(good, d / "good.json")
    from kirchhoff_core.generators import generate
    io.save_circuit(generate("fully_connected", num_nodes=4, n_inputs=2, n_outputs=1, seed=0), d / "one_readout.json")
    io.save_circuit(generate("fully_connected", num_nodes=4, n_inputs=2, n_outputs=2, seed=0), d / "moons.json")
    (d / "hostile.json").write_bytes(encode({**BASES[0], "num_nodes": True}))
    (d / "pickle.json").write_bytes(pickle.dumps([1]))
    (d / "folder").mkdir()
    (d / "blocked" / "circuit.json").mkdir(parents=True)
    doc = json.loads(json.dumps(WEIGHTED_DOC))
    del doc["weights"]["sha256"]
    (d / "weights_nosha.json").write_bytes(encode(doc))
    (d / "c.safetensors").write_bytes(WEIGHTS_BLOB)
    return {"dir": str(d), "good": str(d / "good.json"), "one_readout": str(d / "one_readout.json"),
            "moons": str(d / "moons.json"),
            "hostile": str(d / "hostile.json"), "missing": str(d / "missing.json"), "folder": str(d / "folder"),
            "pickle": str(d / "pickle.json"), "weights_nosha": str(d / "weights_nosha.json")}


@st.composite
def argvs(draw, files: dict[str, str], command: str):
    fixed, flags = command_table(files)[command]
    argv = [command]
    if command == "generate":
        argv.append(draw(st.sampled_from(["chain", "ring", "fully_connected", "random_graph", "custom", "layered",
                                          "nosuch"])))
        argv += ["--out", files["dir"] + "/gen.json"]
    elif command not in ("train",):
        usual = files["moons"] if command in ("chip", "readout-sweep") else files["good"]
        argv.append(draw(st.sampled_from([usual] * 4 + [files[k] for k in (
            "good", "one_readout", "hostile", "missing", "folder", "pickle", "weights_nosha")])))
        if command in ("simulate", "trajectory", "export-spice", "spice-check"):
            argv += ["--inputs", "0.5,-1"]
    argv += fixed
    n = draw(st.integers(0, 4)) if flags else 0
    for name in draw(st.lists(st.sampled_from(sorted(flags)), min_size=n, max_size=n)) if n else []:
        valid, hostile = flags[name]
        value = draw(st.sampled_from(hostile if not valid or draw(st.integers(0, 3)) == 0 else valid))
        argv += [name] if value is None else [name, value.replace("{n}", str(draw(st.integers(0, 9))))]
    junk = draw(st.sampled_from([[]] * 12 + [["--nosuch"], ["extra"], ["--inputs"], ["--help"], ["-0.5"]]))
    return argv + junk


def check_cli(argv: list[str], capsys) -> str:
    with hard_limit():
        try:
            code = main(argv)
        except SystemExit as e:  # argparse: usage errors (2) and --help (0)
            code = e.code
    err = capsys.readouterr().err
    assert "Traceback" not in err, (argv, err)
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        lines = [line for line in err.splitlines() if "error:" in line]
        assert len(lines) == 1, (argv, err)
    return "exit 0" if code == 0 else "one error: line, exit 2"


COMMANDS = ["generate", "train", "simulate", "trajectory", "readout-sweep", "export-spice", "spice-check", "chip",
            "view", "info"]


@pytest.mark.parametrize("command", COMMANDS)
@fuzz(max_examples=60, deadline_s=60)
@given(data=st.data())
def test_cli_random_argv(cli_files, capsys, command, data):
    argv = data.draw(argvs(cli_files, command))
    OUTCOMES[f"cli {check_cli(argv, capsys)}"] += 1
    CASES[f"cli {command}"] += 1
