"""Bad input of every kind gives a clear, typed error that names the problem.

Files are refused without being executed (nothing is ever unpickled), and circuits that blow up
stop with SolverError under a bounded amount of work.
"""

from __future__ import annotations

import hashlib
import io as pyio
import json
import pathlib
import pickle

import numpy as np
import pytest
import torch
from safetensors.numpy import save as st_save

from kirchhoff_core import io
from kirchhoff_core.circuit import Circuit, CircuitError, Slice, make_slice
from kirchhoff_core.io import CircuitFileError
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig, SolverError


def good_doc() -> dict:
    return {"format": "kirchhoffnet-circuit", "schema_version": 1, "name": "ok", "num_nodes": 3,
            "capacitance": 1.0, "inputs": [1, 2], "outputs": [3], "resize": "pad",
            "slices": [{"duration": 1.0, "devices": [
                {"src": 1, "dst": 3, "kind": "ShiftTanh2", "params": [0.5, -0.2, 0.1]},
                {"src": 2, "dst": 3, "kind": "Conductance", "params": [0.3]},
                {"src": 3, "dst": 0, "kind": "TanhResistor", "params": [1.0, 1.0]}]}],
            "meta": {}}


def load_doc(doc) -> Circuit:
    return io.loads_circuit(json.dumps(doc).encode())


def small(slices=None, **kw) -> Circuit:
    args = dict(num_nodes=3, inputs=[1, 2], outputs=[3])
    args.update(kw)
    if slices is None:
        slices = [make_slice(1.0, [(1, 3), (2, 3), (3, 0)], "Conductance", np.tile([0.5, 0, 0], (3, 1)))]
    return Circuit(slices=slices, **args)


def test_good_doc_loads():
    """The baseline the cases below break one field at a time."""
    c = load_doc(good_doc())
    assert c.num_devices == 3 and c.inputs == [1, 2]


# --- structure ----------------------------------------------------------------------------------

@pytest.mark.parametrize("src, dst, node", [(4, 1, 4), (1, 9, 9), (-1, 2, -1)])
def test_out_of_range_node(src, dst, node):
    c = small([make_slice(1.0, [(1, 2), (src, dst)], "Conductance")])
    with pytest.raises(CircuitError, match=rf"devices\[1\]\.(src|dst): node {node} does not exist"):
        c.validate()
    doc = good_doc()
    doc["slices"][0]["devices"][1].update(src=src, dst=dst)
    with pytest.raises(CircuitError, match=f"node {node} does not exist"):
        load_doc(doc)


def test_node_beyond_a_narrower_slice():
    c = small([make_slice(1.0, [(1, 3)], "Conductance", [[1, 0, 0]]),
               make_slice(1.0, [(1, 3)], "Conductance", [[1, 0, 0]], num_nodes=2)], outputs=[1])
    pattern = r"slices\[1\]\.devices\[0\]\.dst: node 3 does not exist .*0 = ground \.\. 2"
    with pytest.raises(CircuitError, match=pattern):
        c.validate()


def test_self_loop():
    with pytest.raises(CircuitError, match="self-loop at node 2"):
        small([make_slice(1.0, [(1, 3), (2, 2)], "Conductance")]).validate()
    doc = good_doc()
    doc["slices"][0]["devices"][0].update(src=3, dst=3)
    with pytest.raises(CircuitError, match=r"devices\[0\]: self-loop at node 3"):
        load_doc(doc)


def test_unknown_device_kind():
    with pytest.raises(CircuitError, match="unknown device kind 'Diode'"):
        Slice.from_devices(1.0, [{"src": 1, "dst": 2, "kind": "Diode", "params": [1.0]}])
    with pytest.raises(ValueError, match="unknown device kind 'Diode'"):
        make_slice(1.0, [(1, 2)], "Diode")
    s = make_slice(1.0, [(1, 2)], "Conductance")
    s.kind[0] = "Diode"
    with pytest.raises(CircuitError, match="unknown device kind 'Diode'"):
        small([s]).validate()
    doc = good_doc()
    doc["slices"][0]["devices"][2]["kind"] = "shifttanh2"  # case matters
    with pytest.raises(CircuitError, match=r"devices\[2\]\.kind: unknown device kind 'shifttanh2'"):
        load_doc(doc)


@pytest.mark.parametrize("kind, params, n", [("Conductance", [1.0, 2.0, 3.0], 1), ("ShiftTanh2", [1.0], 3),
                                             ("TanhResistor", [], 2)])
def test_wrong_parameter_count(kind, params, n):
    with pytest.raises(CircuitError, match=rf"{kind} takes {n} parameter\(s\), got {len(params)}"):
        Slice.from_devices(1.0, [{"src": 1, "dst": 2, "kind": kind, "params": params}])
    doc = good_doc()
    doc["slices"][0]["devices"][1].update(kind=kind, params=params)
    with pytest.raises(CircuitError, match=rf"slices\[0\]\.devices\[1\]\.params: {kind} takes {n}"):
        load_doc(doc)


def test_params_array_of_wrong_shape():
    s = make_slice(1.0, [(1, 3), (2, 3)], "Conductance")
    s.params = np.zeros((2, 2))
    with pytest.raises(CircuitError, match="same 2 devices"):
        small([s]).validate()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_parameters(bad):
    s = make_slice(1.0, [(1, 3), (2, 3)], "ShiftTanh2")
    s.params[1, 2] = bad
    with pytest.raises(CircuitError, match=r"devices\[1\]\.params\[2\]: must be finite"):
        small([s]).validate()
    with pytest.raises(CircuitError, match="must be finite"):
        Circuit(3, [Slice.from_devices(1.0, [{"src": 1, "dst": 3, "kind": "Conductance", "params": [bad]}])],
                [1], [3]).validate()


def test_non_finite_parameters_in_json_text():
    text = json.dumps(good_doc()).replace("[0.3]", "[NaN]").encode()
    with pytest.raises(CircuitFileError, match="NaN is not a valid number"):
        io.loads_circuit(text)
    text = json.dumps(good_doc()).replace("[0.3]", "[-Infinity]").encode()
    with pytest.raises(CircuitFileError, match="-Infinity is not a valid number"):
        io.loads_circuit(text)
    text = json.dumps(good_doc()).replace("[0.3]", "[1e400]").encode()  # overflows to inf when parsed
    with pytest.raises(CircuitError, match=r"devices\[1\]\.params\[0\]: must be finite"):
        io.loads_circuit(text)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_model_inputs(bad):
    m = KirchhoffNet(small(), dtype=torch.float64)
    with pytest.raises(ValueError, match="inputs: contain NaN or infinity"):
        m(torch.tensor([[0.5, 0.5], [0.1, bad]], dtype=torch.float64))


def test_wrong_number_of_model_inputs():
    m = KirchhoffNet(small(), dtype=torch.float64)
    with pytest.raises(ValueError, match=r"expected 2 value\(s\) per sample .* got 3"):
        m(torch.zeros(1, 3, dtype=torch.float64))


def test_empty_circuit():
    with pytest.raises(CircuitError, match="empty"):
        small([make_slice(1.0, [], "Conductance"), make_slice(1.0, [], "Conductance")]).validate()
    with pytest.raises(CircuitError, match="at least one time slice"):
        small([]).validate()
    doc = good_doc()
    doc["slices"][0]["devices"] = []
    with pytest.raises(CircuitError, match="empty"):
        load_doc(doc)
    with pytest.raises(CircuitError, match="empty"):
        KirchhoffNet(small([make_slice(1.0, [], "Conductance")]))


@pytest.mark.parametrize("field, nodes, pattern", [
    ("inputs", [4], "inputs: node 4 does not exist in the first slice"),
    ("inputs", [0], "inputs: node 0 does not exist.*ground 0 cannot be input"),
    ("outputs", [7], "outputs: node 7 does not exist in the last slice"),
    ("outputs", [], "outputs: choose at least one node"),
    ("inputs", [1, 1], r"inputs: nodes must be distinct, got \[1, 1\]"),
    ("outputs", [3, 2, 3], "outputs: nodes must be distinct"),
    ("inputs", [1.0], "inputs: node 1.0 is not a node number"),
    ("inputs", [True], "inputs: node True is not a node number"),
])
def test_bad_input_output_nodes(field, nodes, pattern):
    with pytest.raises(CircuitError, match=pattern):
        small(**{field: nodes}).validate()
    doc = good_doc()
    doc[field] = nodes
    with pytest.raises(CircuitError, match=pattern):
        load_doc(doc)


def test_output_missing_from_a_narrower_last_slice():
    c = small([make_slice(1.0, [(1, 3)], "Conductance", [[1, 0, 0]]),
               make_slice(1.0, [(1, 2)], "Conductance", [[1, 0, 0]], num_nodes=2)], outputs=[3])
    with pytest.raises(CircuitError, match=r"outputs: node 3 does not exist in the last slice \(nodes 1..2"):
        c.validate()


@pytest.mark.parametrize("cap, pattern", [
    (0.0, "capacitance: must be a positive finite number, got 0.0"),
    (-1.0, "capacitance: must be a positive finite number, got -1.0"),
    (float("inf"), "capacitance: must be a positive finite number"),
    ([1.0, 2.0, 0.0], r"capacitance\[2\] \(node 3\): must be positive"),
    ([1.0, -2.0, 1.0], r"capacitance\[1\] \(node 2\)"),
    ([1.0, 1.0], r"per-node list needs 3 values"),
])
def test_bad_capacitance(cap, pattern):
    with pytest.raises(CircuitError, match=pattern):
        small(capacitance=cap).validate()


@pytest.mark.parametrize("duration", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_duration(duration):
    s = make_slice(1.0, [(1, 3)], "Conductance", [[1, 0, 0]])
    s.duration = duration
    with pytest.raises(CircuitError, match=r"slices\[0\]\.duration: must be a positive finite time"):
        small([s]).validate()
    if np.isfinite(duration):
        doc = good_doc()
        doc["slices"][0]["duration"] = duration
        with pytest.raises(CircuitError, match="duration: must be a positive finite time"):
            load_doc(doc)


def test_bad_resize_and_num_nodes():
    with pytest.raises(CircuitError, match="resize: must be one of"):
        small(resize="stretch").validate()
    with pytest.raises(CircuitError, match="num_nodes: need at least one non-ground node"):
        small(num_nodes=0).validate()


# --- files: JSON --------------------------------------------------------------------------------

@pytest.mark.parametrize("data, pattern", [
    (b'{"num_nodes": 2,', "malformed JSON at line 1"),
    (b'{"num_nodes": 2}\n}', "malformed JSON at line 2"),
    (b"", "malformed JSON"),
    (b"[1, 2, 3]", "JSON top level must be an object"),
    (b'"circuit"', "JSON top level must be an object"),
])
def test_malformed_json(data, pattern):
    with pytest.raises(CircuitFileError, match=pattern):
        io.loads_circuit(data)


@pytest.mark.parametrize("mutate, pattern", [
    (lambda d: d.pop("slices"), "slices: missing"),
    (lambda d: d.pop("inputs"), "inputs: missing"),
    (lambda d: d.update(slices={"duration": 1}), "slices: must be a list"),
    (lambda d: d["slices"].append("x"), r"slices\[1\]: must be an object"),
    (lambda d: d["slices"][0].update(duration="1"), r"slices\[0\]\.duration: must be a number"),
    (lambda d: d["slices"][0]["devices"].append(7), r"devices\[3\]: expected an object"),
    (lambda d: d["slices"][0]["devices"][0].pop("dst"), r"devices\[0\]: missing field\(s\) \['dst'\]"),
    (lambda d: d["slices"][0]["devices"][0].update(src="1"), r"devices\[0\]\.src: node index must be an integer"),
    (lambda d: d["slices"][0]["devices"][0].update(params=[1, "a", 2]), r"params\[1\]: must be a number"),
    # these four crashed with TypeError / AttributeError before (see report)
    (lambda d: d["slices"][0]["devices"][1].update(params=5), r"devices\[1\]\.params: must be a list"),
    (lambda d: d["slices"][0]["devices"][1].update(kind=["Conductance"]), "unknown device kind"),
    (lambda d: d.update(inputs=[[1]]), r"inputs: node \[1\] is not a node number"),
    (lambda d: d.update(weights="w.safetensors"), "weights: must be an object"),
    (lambda d: d.update(capacitance=["a", 1, 1]), "capacitance: must be a number or a list of numbers"),
    (lambda d: d.update(meta="abc"), "meta: must be an object"),
    (lambda d: d.update(inputs="1"), "inputs: must be a list"),
])
def test_malformed_document_structure(mutate, pattern):
    doc = good_doc()
    mutate(doc)
    with pytest.raises(CircuitError, match=pattern):
        load_doc(doc)


def test_schema_version_and_format_mismatch():
    doc = good_doc()
    doc["schema_version"] = 2
    with pytest.raises(CircuitFileError, match="schema_version: this version reads 1, the file has 2"):
        load_doc(doc)
    doc = good_doc()
    doc["format"] = "something-else"
    with pytest.raises(CircuitFileError, match="format: expected 'kirchhoffnet-circuit'"):
        load_doc(doc)


def test_non_utf8_bytes():
    data = json.dumps(good_doc()).encode().replace(b'"ok"', b'"caf\xe9"')  # latin-1 e-acute
    assert b"caf\xe9" in data
    with pytest.raises(CircuitFileError, match="not UTF-8"):
        io.loads_circuit(data)
    with pytest.raises(CircuitFileError, match="not UTF-8"):
        io.loads_circuit(b"\xff\xfe{\x00}\x00")


def test_size_limit(monkeypatch):
    monkeypatch.setattr(io, "MAX_FILE_BYTES", 100)
    with pytest.raises(CircuitFileError, match="the limit is"):
        io.loads_circuit(json.dumps(good_doc()).encode())


def test_missing_file(tmp_path):
    with pytest.raises(CircuitFileError, match="no such file"):
        io.load_circuit(tmp_path / "nope.json")
    with pytest.raises(CircuitFileError, match="no such file"):
        io.load_circuit(tmp_path)  # a folder is not a circuit file


# --- files: pickles are refused, never unpickled -------------------------------------------------

class _Tripwire:
    """Unpickling this would create a file: proof that nothing was unpickled if it does not exist."""

    def __init__(self, path: pathlib.Path):
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (self.path,))


def _pickles(tmp_path: pathlib.Path) -> list[tuple[str, bytes, pathlib.Path]]:
    out = []
    for proto in (0, 2, pickle.HIGHEST_PROTOCOL):
        trip = tmp_path / f"tripwire-{proto}"
        out.append((f"pickle-{proto}", pickle.dumps({"num_nodes": 2, "x": _Tripwire(trip)}, protocol=proto), trip))
    trip = tmp_path / "tripwire-torch"
    buf = pyio.BytesIO()
    torch.save({"state": torch.zeros(2), "x": _Tripwire(trip)}, buf)
    out.append(("torch.save", buf.getvalue(), trip))
    return out


def test_pickle_upload_refused_without_unpickling(tmp_path):
    for name, data, trip in _pickles(tmp_path):
        with pytest.raises(CircuitFileError) as e:
            io.loads_circuit(data)
        if name != "pickle-0":  # protocol 0 is text; it is simply not JSON
            assert "pickle" in str(e.value) and "never unpickles" in str(e.value), name
        assert not trip.exists(), f"{name} was unpickled"


def test_pickle_file_on_disk_refused(tmp_path):
    for name, data, trip in _pickles(tmp_path):
        path = tmp_path / f"{name}.pt"
        path.write_bytes(data)
        with pytest.raises(CircuitFileError):
            io.load_circuit(path)
        assert not trip.exists(), f"{name} was unpickled"


def test_pickle_as_weights_refused(tmp_path):
    c = load_doc(good_doc())
    wpath = io.save_circuit(c, tmp_path / "c.json", weights="safetensors")[1]
    for name, data, trip in _pickles(tmp_path):
        with pytest.raises(CircuitFileError, match="weights"):
            io.loads_circuit((tmp_path / "c.json").read_bytes(), weights=data)
        wpath.write_bytes(data)
        with pytest.raises(CircuitFileError, match="weights"):
            io.load_circuit(tmp_path / "c.json")
        assert not trip.exists(), f"{name} was unpickled"
    with pytest.raises(CircuitFileError, match="pickle"):
        io.weights_from_bytes(pickle.dumps({"a": 1}, protocol=4))


# --- files: safetensors weights ------------------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    c = load_doc(good_doc())
    return tuple(io.save_circuit(c, tmp_path / "c.json", weights="safetensors"))


def _rewrite_weights(json_path, weights_path, tensors):
    """Replace the weights and fix the JSON's sha256 so that only the content is wrong."""
    blob = st_save(tensors)
    weights_path.write_bytes(blob)
    doc = json.loads(json_path.read_text())
    doc["weights"]["sha256"] = hashlib.sha256(blob).hexdigest()
    json_path.write_text(json.dumps(doc))


def test_truncated_safetensors(saved):
    jpath, wpath = saved
    blob = wpath.read_bytes()
    half = blob[: len(blob) // 2]
    # The checksum is verified before the bytes are parsed: a truncated file is caught by it.
    with pytest.raises(CircuitFileError, match="sha256 differs"):
        io.loads_circuit(jpath.read_bytes(), weights=half)
    wpath.write_bytes(half)
    with pytest.raises(CircuitFileError, match="sha256 differs"):
        io.load_circuit(jpath)
    with pytest.raises(CircuitFileError, match="weights: not a valid .safetensors file"):
        io.weights_from_bytes(half)
    with pytest.raises(CircuitFileError, match="not a valid .safetensors file"):
        io.weights_from_bytes(b"")


def test_weights_sha256_mismatch(saved):
    jpath, wpath = saved
    other = np.full((3, 3), 0.5)
    wpath.write_bytes(st_save({"slices.0.params": other}))
    with pytest.raises(CircuitFileError, match="sha256 differs"):
        io.load_circuit(jpath)


@pytest.mark.parametrize("tensors, pattern", [
    ({"slices.0.params": np.zeros((4, 3))}, r"slices.0.params has shape \(4, 3\).* 3 devices \(expected \(3, 3\)\)"),
    ({"slices.0.params": np.zeros((3, 2))}, r"has shape \(3, 2\)"),
    ({"slices.0.params": np.zeros(9)}, r"has shape \(9,\)"),
    ({"slices.1.params": np.zeros((3, 3))}, "tensor 'slices.0.params' is missing"),
    ({"slices.0.params": np.array([[0.1, 0.2, np.nan], [1, 0, 0], [1, 1, 0]])}, "must be finite"),
])
def test_weights_with_wrong_content(saved, tensors, pattern):
    jpath, wpath = saved
    _rewrite_weights(jpath, wpath, tensors)
    with pytest.raises(CircuitError, match=pattern):
        io.load_circuit(jpath)


def test_missing_sibling_weights_file(saved):
    jpath, wpath = saved
    with pytest.raises(CircuitFileError, match="provide that .safetensors file"):
        io.loads_circuit(jpath.read_bytes())
    wpath.unlink()
    with pytest.raises(CircuitFileError, match=r"weights: .*c\.[0-9a-f]{16}\.safetensors not found next to c\.json"):
        io.load_circuit(jpath)


def test_weights_file_name_cannot_leave_the_folder(saved, tmp_path):
    jpath, wpath = saved
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "c.json").write_text(jpath.read_text().replace(f'"file": "{wpath.name}"', f'"file": "../{wpath.name}"'))
    assert f"../{wpath.name}" in (sub / "c.json").read_text()
    with pytest.raises(CircuitFileError, match="not found"):
        io.load_circuit(sub / "c.json")


# --- solver: blow-ups and runaway work ----------------------------------------------------------

EDGES = [(1, 2), (2, 3), (3, 1), (1, 0), (2, 0), (3, 0)]


def conductance_circuit(g: float) -> Circuit:
    return small([make_slice(1.0, EDGES, "Conductance", np.tile([g, 0, 0], (len(EDGES), 1)))])


def test_negative_conductance_blow_up_stops():
    m = KirchhoffNet(conductance_circuit(-1e6), SolverConfig(max_nfe=2000), dtype=torch.float64)
    with pytest.raises(SolverError) as e:
        m(torch.tensor([[0.5, -1.0]], dtype=torch.float64))
    msg = str(e.value)
    assert "max_nfe=2000" in msg or "blew up" in msg, msg
    assert m.stats.nfe <= 2001 + 10


def test_huge_relu_gains_blow_up_stops():
    edges = [(1, 2), (2, 3), (3, 1), (0, 1), (0, 2), (0, 3)]
    c = small([make_slice(1.0, edges, "ShiftRelu2", np.tile([1e4, 1e4, 1.0], (6, 1)))])
    m = KirchhoffNet(c, SolverConfig(max_nfe=2000), dtype=torch.float64)
    with pytest.raises(SolverError) as e:
        m(torch.tensor([[0.5, -1.0]], dtype=torch.float64))
    msg = str(e.value)
    assert "max_nfe=2000" in msg or "blew up" in msg, msg
    assert "slice 0" in msg


def test_adaptive_solver_hits_max_nfe():
    """A stable but very stiff circuit: dopri5 needs ~1e6 steps, the cap stops it."""
    m = KirchhoffNet(conductance_circuit(1e6), SolverConfig(max_nfe=500), dtype=torch.float64)
    with pytest.raises(SolverError, match=r"work cap hit in slice 0: more than max_nfe=500 evaluations"):
        m(torch.tensor([[0.5, -1.0]], dtype=torch.float64))
    assert m.stats.nfe == 501


def test_adaptive_max_nfe_in_later_slice_and_trajectory():
    c = conductance_circuit(0.5)
    c.slices.append(make_slice(1.0, EDGES, "Conductance", np.tile([1e6, 0, 0], (len(EDGES), 1))))
    m = KirchhoffNet(c, SolverConfig(max_nfe=300), dtype=torch.float64)
    with pytest.raises(SolverError, match="slice 1: more than max_nfe=300"):
        m.trajectory(torch.tensor([[0.5, -1.0]], dtype=torch.float64), [0.0, 1.5, 2.0])


@pytest.mark.filterwarnings("ignore:Solver .* does not support callbacks")
@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_fixed_step_non_finite(method):
    """Fixed steps of 0.01 on a node that grows like exp(1e6 t): inf long before the 100 steps end."""
    m = KirchhoffNet(conductance_circuit(-1e6), SolverConfig(method=method, step_size=0.01), dtype=torch.float64)
    with pytest.raises(SolverError) as e:
        m(torch.tensor([[0.5, -1.0]], dtype=torch.float64))
    msg = str(e.value)
    assert "blew up" in msg and "non-finite" in msg and "node" in msg, msg
    assert "max_nfe" not in msg


def test_stable_circuit_is_not_an_error():
    """The guard does not fire on an ordinary circuit (so the errors above mean something)."""
    m = KirchhoffNet(conductance_circuit(0.5), SolverConfig(max_nfe=2000), dtype=torch.float64)
    y = m(torch.tensor([[0.5, -1.0]], dtype=torch.float64))
    assert torch.isfinite(y).all()
    m = KirchhoffNet(conductance_circuit(0.5), SolverConfig(method="rk4"), dtype=torch.float64)
    assert torch.isfinite(m(torch.tensor([[0.5, -1.0]], dtype=torch.float64))).all()


# --- solver settings ----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, pattern", [
    ({"method": "rk45"}, "method: unknown solver 'rk45'"),
    ({"method": "DOPRI5"}, "method: unknown solver"),
    ({"rtol": 0.0}, r"rtol: must be in \(0, 1\), got 0.0"),
    ({"rtol": -1e-3}, "rtol: must be in"),
    ({"rtol": float("nan")}, "rtol: must be in"),
    ({"atol": 1.0}, r"atol: must be in \(0, 1\), got 1.0"),
    ({"atol": "1e-3"}, "atol: must be in"),
    ({"step_size": 0.0}, "step_size: must be a positive time"),
    ({"step_size": -0.1}, "step_size: must be a positive time"),
    ({"max_nfe": 5}, "max_nfe: must be an integer >= 10, got 5"),
    ({"max_nfe": 100.0}, "max_nfe: must be an integer"),
    ({"timeout_s": 0}, "timeout_s: must be positive"),
])
def test_solver_config_validation(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        SolverConfig(**kwargs)
