"""Circuit files and graph interop: every round trip must be exact.

Circuits are built here from explicit device records (mixed kinds, parallel devices, slices of
different widths, per-node capacitances, resize="tile"), and expectations are computed from those
records, never read back from the code under test.
"""

from __future__ import annotations

import hashlib
import json
import math
import pathlib
from collections import Counter

import networkx as nx
import numpy as np
import pytest
import torch
from safetensors.numpy import load as st_load
from safetensors.numpy import load_file as st_load_file

from kirchhoff_core import io
from kirchhoff_core.circuit import Circuit, Slice
from kirchhoff_core.devices import KINDS, MAX_PARAMS
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig

ALL_KINDS = sorted(KINDS)


# --- circuits built from explicit records --------------------------------------------------------

def random_records(rng, width, n_dev, scale, offset=0):
    """n_dev devices cycling through every kind, plus two parallel copies of the first device."""
    recs = []
    for j in range(n_dev):
        k = ALL_KINDS[(j + offset) % len(ALL_KINDS)]
        s, d = (int(x) for x in rng.choice(width + 1, size=2, replace=False))
        recs.append({"src": s, "dst": d, "kind": k,
                     "params": (rng.normal(size=KINDS[k].n_params) * scale).tolist()})
    first = recs[0]
    for _ in range(2):  # parallel devices: same src, dst and kind, own parameters
        recs.append({**first, "params": (rng.normal(size=KINDS[first["kind"]].n_params) * scale).tolist()})
    return recs


def mixed_circuit(seed=0, scale=0.5, resize="tile"):
    """3 slices of widths 4 (circuit default), 6 (grow) and 3 (shrink); per-node capacitances."""
    rng = np.random.default_rng(seed)
    spec = [(0.4, None, 4, 11), (0.3, 6, 6, 9), (0.5, 3, 3, 8)]  # duration, num_nodes, width, devices
    records = [random_records(rng, width, n, scale, offset=i) for i, (_, _, width, n) in enumerate(spec)]
    slices = [Slice.from_devices(dur, recs, nn) for (dur, nn, _, _), recs in zip(spec, records)]
    caps = (0.5 + rng.random(6)).tolist()
    c = Circuit(num_nodes=4, slices=slices, inputs=[1, 3], outputs=[3, 2], capacitance=caps, resize=resize,
                name="mixed ✓ test", meta={"generator": "hand", "params": {"a": [1, 2], "b": None, "c": "x"},
                                           "note": "ünïcode", "nested": [{"x": 1.5}]})
    return c.validate(), records


def odd_values_circuit():
    """Parameters that stress float round trips: subnormals, extremes, -0.0, 1/3 ..."""
    vals = [5e-324, 1.7976931348623157e308, -0.0, 1 / 3, 0.1, -2.5e-300, math.pi, 1e16 + 2, -1e-7]
    recs = [{"src": 1, "dst": 2, "kind": "ShiftTanh2", "params": vals[0:3]},
            {"src": 2, "dst": 0, "kind": "ShiftTanh2", "params": vals[3:6]},
            {"src": 0, "dst": 1, "kind": "ShiftTanh2", "params": vals[6:9]},
            {"src": 2, "dst": 1, "kind": "Conductance", "params": [2.0 ** -1074 * 3]},
            {"src": 2, "dst": 1, "kind": "TanhResistor", "params": [123456789.123456789, -9.87654321e-5]}]
    return Circuit(2, [Slice.from_devices(1.25, recs)], [1], [2], capacitance=3.0, name="odd").validate()


def assert_same_circuit(a: Circuit, b: Circuit) -> None:
    assert type(a.num_nodes) is int or isinstance(a.num_nodes, np.integer)
    assert a.num_nodes == b.num_nodes
    assert a.name == b.name
    assert list(a.inputs) == list(b.inputs) and list(a.outputs) == list(b.outputs)
    assert a.resize == b.resize
    assert a.meta == b.meta
    if np.ndim(a.capacitance) == 0:
        assert np.ndim(b.capacitance) == 0 and float(a.capacitance) == float(b.capacitance)
    else:
        assert np.ndim(b.capacitance) == 1
        assert np.array_equal(np.asarray(a.capacitance, dtype=float), np.asarray(b.capacitance, dtype=float))
    assert len(a.slices) == len(b.slices)
    for sa, sb in zip(a.slices, b.slices):
        assert sa.duration == sb.duration
        assert sa.num_nodes == sb.num_nodes
        assert sb.src.dtype == np.int64 and sb.dst.dtype == np.int64
        assert np.array_equal(sa.src, sb.src) and np.array_equal(sa.dst, sb.dst)
        assert sa.kind.tolist() == sb.kind.tolist()
        assert sb.params.dtype == np.float64 and sa.params.shape == sb.params.shape == (sa.num_devices, MAX_PARAMS)
        assert np.array_equal(sa.params, sb.params)
        assert sa.params.tobytes() == sb.params.tobytes()  # bit-exact, signs of zero included


def test_builder_is_what_the_records_say():
    """Guard the fixture itself: widths, kinds and params match the records."""
    c, records = mixed_circuit()
    assert [c.width(i) for i in range(3)] == [4, 6, 3] and c.max_width == 6
    assert c.num_devices == sum(len(r) for r in records) == 11 + 9 + 8 + 6
    for s, recs in zip(c.slices, records):
        for j, r in enumerate(recs):
            n = KINDS[r["kind"]].n_params
            assert s.params[j, :n].tolist() == r["params"]
            assert not s.params[j, n:].any()
    assert set(k for recs in records for k in (r["kind"] for r in recs)) == set(KINDS)


# --- JSON ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [mixed_circuit, odd_values_circuit], ids=["mixed", "odd_values"])
def test_inline_json_roundtrip_is_exact(tmp_path, make):
    c = make()[0] if make is mixed_circuit else make()
    files = io.save_circuit(c, tmp_path / "c.json", weights="inline")
    assert files == [tmp_path / "c.json"]
    assert not list(tmp_path.glob("*.safetensors"))
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["format"] == "kirchhoffnet-circuit" and doc["schema_version"] == 1
    assert "weights" not in doc
    assert all("params" in d for s in doc["slices"] for d in s["devices"])
    assert_same_circuit(c, io.load_circuit(tmp_path / "c.json"))


def test_json_document_fields():
    c, records = mixed_circuit()
    doc = json.loads(io.dumps_circuit(c))
    assert doc["num_nodes"] == 4 and doc["inputs"] == [1, 3] and doc["outputs"] == [3, 2]
    assert doc["resize"] == "tile" and doc["name"] == "mixed ✓ test"
    assert doc["capacitance"] == c.capacitance
    assert [s.get("num_nodes") for s in doc["slices"]] == [None, 6, 3]
    assert "num_nodes" not in doc["slices"][0]  # None is left out, not written as null
    assert [s["duration"] for s in doc["slices"]] == [0.4, 0.3, 0.5]
    for s, recs in zip(doc["slices"], records):
        assert s["devices"] == recs  # params trimmed to each family's count


def test_safetensors_roundtrip_is_exact(tmp_path):
    c, records = mixed_circuit(seed=3)
    files = io.save_circuit(c, tmp_path / "net.json", weights="safetensors")
    wpath = files[1]
    doc = json.loads((tmp_path / "net.json").read_text())
    blob = wpath.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    assert files == [tmp_path / "net.json", tmp_path / f"net.{digest[:16]}.safetensors"]  # content-addressed
    assert doc["weights"] == {"file": wpath.name, "sha256": digest}
    assert all("params" not in d for s in doc["slices"] for d in s["devices"])
    tensors = st_load_file(str(wpath))
    assert sorted(tensors) == [f"slices.{i}.params" for i in range(3)]
    for i, s in enumerate(c.slices):
        assert tensors[f"slices.{i}.params"].shape == (s.num_devices, 3)
        assert np.array_equal(tensors[f"slices.{i}.params"], s.params)
    loaded, extra = io.load_checkpoint(tmp_path / "net.json")
    assert extra == {}
    assert_same_circuit(c, loaded)
    # the same from bytes, as an upload would arrive
    assert_same_circuit(c, io.loads_circuit((tmp_path / "net.json").read_bytes(), weights=blob))


def test_safetensors_with_empty_slice_and_odd_values(tmp_path):
    c = odd_values_circuit()
    c.slices.append(Slice.from_devices(0.5, [], num_nodes=2))  # a slice without devices is allowed
    c.validate()
    wpath = io.save_circuit(c, tmp_path / "o.json", weights="safetensors")[1]
    assert st_load_file(str(wpath))["slices.1.params"].shape == (0, 3)
    assert_same_circuit(c, io.load_circuit(tmp_path / "o.json"))
    io.save_circuit(c, tmp_path / "i.json", weights="inline")
    assert_same_circuit(c, io.load_circuit(tmp_path / "i.json"))


def test_safetensors_header_starting_like_a_pickle_still_loads(tmp_path):
    """Regression: a valid file whose 8-byte header length starts with 0x80 (e.g. 384 = 0x180)
    was refused as a pickle. 5 slices x 100 devices gives such a header."""
    rng = np.random.default_rng(1)
    recs = [{"src": s, "dst": d, "kind": "ShiftTanh2", "params": rng.normal(size=3).tolist()}
            for s, d in [(1, 2), (2, 3), (3, 0), (0, 1)] * 25]
    c = Circuit(3, [Slice.from_devices(0.2, recs) for _ in range(5)], [1], [3]).validate()
    blob = io.save_circuit(c, tmp_path / "c.json", weights="safetensors")[1].read_bytes()
    assert blob[:1] == b"\x80"  # the case under test (header length is little-endian in bytes 0..7)
    assert int.from_bytes(blob[:8], "little") % 256 == 0x80
    assert_same_circuit(c, io.load_circuit(tmp_path / "c.json"))
    assert set(io.weights_from_bytes(blob)) == {f"slices.{i}.params" for i in range(5)}


def test_auto_switches_to_safetensors_above_the_inline_limit(tmp_path, monkeypatch):
    c, _ = mixed_circuit()
    files = io.save_circuit(c, tmp_path / "small.json")  # 34 devices: inline
    assert files == [tmp_path / "small.json"]
    monkeypatch.setattr(io, "INLINE_LIMIT", c.num_devices - 1)
    files = io.save_circuit(c, tmp_path / "big.json")
    assert files[0] == tmp_path / "big.json" and files[1].name.startswith("big.") and files[1].suffix == ".safetensors"
    assert_same_circuit(c, io.load_circuit(tmp_path / "big.json"))


def test_save_rejects_unknown_weights_mode(tmp_path):
    c, _ = mixed_circuit()
    with pytest.raises(ValueError, match="weights"):
        io.save_circuit(c, tmp_path / "c.json", weights="pickle")
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize("weights", ["inline", "safetensors"])
def test_checkpoint_extra_roundtrip(tmp_path, weights):
    c, _ = mixed_circuit(seed=5)
    training = {"dataset": {"name": "moons", "n_samples": 200, "noise": None},
                "history": [{"epoch": 1, "train_loss": 0.6931471805599453}, {"epoch": 2, "train_loss": 1e-300}],
                "solver": {"method": "dopri5", "rtol": 1e-4}}
    io.save_circuit(c, tmp_path / "ck.json", weights=weights, extra={"training": training, "notes": "ok"})
    loaded, extra = io.load_checkpoint(tmp_path / "ck.json")
    assert extra == {"training": training, "notes": "ok"}
    assert_same_circuit(c, loaded)
    assert_same_circuit(c, io.load_circuit(tmp_path / "ck.json"))


def test_loads_circuit_from_bytes_and_str():
    c, _ = mixed_circuit(seed=7)
    text = io.dumps_circuit(c, extra={"training": {"epochs": 3}})
    assert "\n" not in text  # compact
    assert_same_circuit(c, io.loads_circuit(text.encode("utf-8")))
    assert_same_circuit(c, io.loads_circuit(text))


def test_scalar_capacitance_and_pad_roundtrip(tmp_path):
    c, _ = mixed_circuit(seed=2, resize="pad")
    c.capacitance = 2.5
    io.save_circuit(c, tmp_path / "c.json", weights="safetensors")
    loaded = io.load_circuit(tmp_path / "c.json")
    assert loaded.capacitance == 2.5 and loaded.resize == "pad"
    assert_same_circuit(c, loaded)


# --- networkx ------------------------------------------------------------------------------------

def test_networkx_roundtrip_is_exact():
    c, _ = mixed_circuit(seed=11)
    g = c.to_networkx()
    assert isinstance(g, nx.MultiDiGraph)
    assert_same_circuit(c, Circuit.from_networkx(g))


def test_networkx_attributes():
    c, records = mixed_circuit(seed=4)
    g = c.to_networkx()
    # nodes: ground plus every node of the widest slice
    assert sorted(g.nodes) == list(range(0, 7))
    assert g.nodes[0]["role"] == "ground" and g.nodes[0]["capacitance"] == 0.0
    expected_roles = {1: "input", 2: "output", 3: "input+output", 4: "hidden", 5: "hidden", 6: "hidden"}
    for n, role in expected_roles.items():
        assert g.nodes[n]["role"] == role
        assert g.nodes[n]["capacitance"] == c.capacitance[n - 1]
    # edges: one per device, parallel devices kept, with slice, kind and trimmed params
    assert g.number_of_edges() == sum(len(r) for r in records)
    got = sorted((u, v, d["slice"], d["kind"], tuple(d["params"])) for u, v, d in g.edges(data=True))
    want = sorted((r["src"], r["dst"], i, r["kind"], tuple(r["params"])) for i, recs in enumerate(records)
                  for r in recs)
    assert got == want
    first = records[0][0]
    assert g.number_of_edges(first["src"], first["dst"]) >= 3  # the device and its two parallel copies
    pair_counts = Counter((r["src"], r["dst"]) for recs in records for r in recs)
    for (u, v), n in pair_counts.items():
        assert g.number_of_edges(u, v) == n
    assert g.graph["resize"] == "tile" and g.graph["durations"] == [0.4, 0.3, 0.5]


def test_from_networkx_plain_graph_with_overrides():
    g = nx.MultiDiGraph()
    g.add_edge(1, 2, kind="Conductance", params=[0.25])
    g.add_edge(1, 2, kind="Conductance", params=[0.75])  # parallel
    g.add_edge(2, 0, kind="TanhResistor", params=[1.0, 2.0])
    c = Circuit.from_networkx(g, num_nodes=2, inputs=[1], outputs=[2]).validate()
    assert c.num_devices == 3 and len(c.slices) == 1
    assert c.slices[0].src.tolist() == [1, 1, 2] and c.slices[0].dst.tolist() == [2, 2, 0]
    assert c.slices[0].params.tolist() == [[0.25, 0, 0], [0.75, 0, 0], [1.0, 2.0, 0]]


# --- models built from loaded circuits -----------------------------------------------------------

@pytest.mark.parametrize("route", ["inline", "safetensors", "networkx"])
def test_model_from_loaded_circuit_is_identical(tmp_path, route):
    c, _ = mixed_circuit(seed=9, scale=0.6)
    if route == "networkx":
        loaded = Circuit.from_networkx(c.to_networkx())
    else:
        io.save_circuit(c, tmp_path / "m.json", weights=route)
        loaded = io.load_circuit(tmp_path / "m.json")
    cfg = SolverConfig(rtol=1e-6, atol=1e-6)
    a = KirchhoffNet(c, cfg, dtype=torch.float64)
    b = KirchhoffNet(loaded, cfg, dtype=torch.float64)
    x = torch.tensor([[0.5, -1.0], [1.5, 0.25], [-0.3, 0.0]], dtype=torch.float64)
    with torch.no_grad():
        ya, yb = a(x), b(x)
        ta, tb = a.trajectory(x, [0.0, 0.2, 0.4, 0.9, 1.2]), b.trajectory(x, [0.0, 0.2, 0.4, 0.9, 1.2])
    assert ya.shape == (3, 2) and torch.isfinite(ya).all()
    assert torch.equal(ya, yb)
    assert torch.equal(torch.nan_to_num(ta, nan=7.0), torch.nan_to_num(tb, nan=7.0))
    assert torch.equal(torch.isnan(ta), torch.isnan(tb))
    # the model does depend on the parameters, so equality above is not vacuous
    loaded.slices[2].params[0, 0] += 0.5
    with torch.no_grad():
        assert not torch.equal(KirchhoffNet(loaded, cfg, dtype=torch.float64)(x), ya)


def test_to_circuit_after_training_step_roundtrips(tmp_path):
    """Parameters changed inside the model survive model -> circuit -> file -> circuit."""
    c, _ = mixed_circuit(seed=6, scale=0.4)
    m = KirchhoffNet(c, SolverConfig(), dtype=torch.float64)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.01)
    trained = m.to_circuit()
    io.save_circuit(trained, tmp_path / "t.json", weights="safetensors")
    loaded = io.load_circuit(tmp_path / "t.json")
    assert_same_circuit(trained, loaded)
    s0 = c.slices[0]
    for k in set(s0.kind.tolist()):
        rows = s0.kind == k
        n = KINDS[k].n_params
        assert np.array_equal(loaded.slices[0].params[rows, :n], s0.params[rows, :n] + 0.01)
        assert not loaded.slices[0].params[rows, n:].any()


def test_weights_bytes_roundtrip_directly():
    c, _ = mixed_circuit(seed=8)
    blob = io.weights_to_bytes(c)
    theirs = st_load(blob)
    mine = io.weights_from_bytes(blob)
    assert sorted(mine) == sorted(theirs) == [f"slices.{i}.params" for i in range(3)]
    for i, s in enumerate(c.slices):
        assert np.array_equal(mine[f"slices.{i}.params"], s.params)


# --- the documentation matches the code ----------------------------------------------------------

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "file-format.md"


def test_documented_example_loads():
    text = DOC.read_text(encoding="utf-8")
    example = text.split("```json", 1)[1].split("```", 1)[0]
    c = io.loads_circuit(example.encode())
    assert (c.num_nodes, c.num_devices, c.inputs, c.outputs) == (3, 3, [1, 2], [3])


def test_documented_device_table_matches_devices():
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [x.strip() for x in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`") and cells[1].isdigit():
            rows[cells[0].strip("`")] = int(cells[1])
    assert rows == {k: v.n_params for k, v in KINDS.items()}


def test_unmeasured_metrics_in_extra_are_saved_as_null(tmp_path):
    """A NaN in the training log (a metric not measured) must not make a file the reader refuses."""
    c, _ = mixed_circuit(seed=3)
    extra = {"log": [{"step": 1, "test_nll": float("nan"), "best": float("inf"), "loss": 0.5}]}
    io.save_circuit(c, tmp_path / "ck.json", extra=extra)
    _, loaded = io.load_checkpoint(tmp_path / "ck.json")
    assert loaded == {"log": [{"step": 1, "test_nll": None, "best": None, "loss": 0.5}]}
