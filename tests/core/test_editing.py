"""User edits return new validated circuits and leave the original untouched; GraphML round-trips."""

import numpy as np
import pytest

from kirchhoff_core import editing
from kirchhoff_core.circuit import CircuitError
from kirchhoff_core.generators import generate
from kirchhoff_core.io import CircuitFileError, from_graphml, to_graphml


@pytest.fixture
def circuit():
    return generate("ring", num_nodes=4, num_slices=2, kind="ShiftTanh1", seed=3)


def _snapshot(c):
    return [(s.src.copy(), s.dst.copy(), s.kind.copy(), s.params.copy(), s.duration) for s in c.slices]


def _same(a, b):
    return all(np.array_equal(x, y) for sa, sb in zip(a, b) for x, y in zip(sa, sb))


def test_set_devices_replaces_one_slice_and_keeps_original(circuit):
    before = _snapshot(circuit)
    new = editing.set_devices(circuit, 1, [{"src": 1, "dst": 2, "kind": "Conductance", "params": [0.5]},
                                           {"src": 0, "dst": 3, "kind": "ShiftTanh2", "params": [1, 2, 3]}])
    assert new.slices[1].num_devices == 2 and new.slices[0].num_devices == circuit.slices[0].num_devices
    assert new.slices[1].kind.tolist() == ["Conductance", "ShiftTanh2"]
    assert new.slices[1].params[0].tolist() == [0.5, 0.0, 0.0]
    assert _same(before, _snapshot(circuit))


@pytest.mark.parametrize("bad, match", [
    ({"src": 2, "dst": 2, "kind": "Conductance", "params": [1.0]}, "self-loop"),
    ({"src": 1, "dst": 9, "kind": "Conductance", "params": [1.0]}, "does not exist"),
    ({"src": 1, "dst": 2, "kind": "Transistor", "params": [1.0]}, "unknown device kind"),
    ({"src": 1, "dst": 2, "kind": "Conductance", "params": [1.0, 2.0]}, "takes 1 parameter"),
])
def test_bad_device_edit_raises_and_keeps_original(circuit, bad, match):
    before = _snapshot(circuit)
    with pytest.raises(CircuitError, match=match):
        editing.set_devices(circuit, 0, [bad])
    assert _same(before, _snapshot(circuit))


def test_slices_add_copy_remove_and_durations(circuit):
    c = editing.add_slice(circuit, duration=0.5, copy_previous=True)
    assert len(c.slices) == 3 and c.slices[2].duration == 0.5
    assert np.array_equal(c.slices[2].params, circuit.slices[1].params)
    e = editing.add_slice(circuit, copy_previous=False)
    assert e.slices[2].num_devices == 0
    e = editing.copy_previous_topology(e, 2)
    assert np.array_equal(e.slices[2].src, circuit.slices[1].src) and e.slices[2].duration == 1.0
    c = editing.set_durations(c, [0.1, 0.2, 0.3])
    assert c.durations == [0.1, 0.2, 0.3] and c.t_end == pytest.approx(0.6)
    c = editing.remove_slice(c, 0)
    assert c.durations == [0.2, 0.3]
    with pytest.raises(CircuitError, match="positive"):
        editing.set_durations(c, [0.1, -1.0])
    one = editing.remove_slice(c, 0)
    with pytest.raises(CircuitError, match="at least one"):
        editing.remove_slice(one, 0)
    with pytest.raises(CircuitError, match="no previous"):
        editing.copy_previous_topology(one, 0)


def test_add_and_remove_node_renumbers(circuit):
    c = editing.add_node(circuit)
    assert c.num_nodes == 5 and circuit.num_nodes == 4
    c = editing.set_devices(c, 0, c.slices[0].devices() + [{"src": 5, "dst": 1, "kind": "ShiftTanh1",
                                                            "params": [0.1, 0.2]}])
    c = editing.set_roles(c, inputs=[1, 5], outputs=[3, 4])
    r = editing.remove_node(c, 2)
    assert r.num_nodes == 4
    assert r.inputs == [1, 4] and r.outputs == [2, 3]
    for s in r.slices:
        assert s.src.max() <= 4 and s.dst.max() <= 4
    # every device that touched node 2 is gone, the others kept with shifted numbers
    s0 = c.slices[0]
    kept = ~((s0.src == 2) | (s0.dst == 2))
    assert r.slices[0].num_devices == int(kept.sum())
    assert np.array_equal(r.slices[0].src, np.where(s0.src[kept] > 2, s0.src[kept] - 1, s0.src[kept]))
    with pytest.raises(CircuitError, match="does not exist"):
        editing.remove_node(r, 9)


def test_set_roles_validates(circuit):
    with pytest.raises(CircuitError, match="outputs"):
        editing.set_roles(circuit, [1], [7])


def test_graphml_round_trip_is_exact():
    c = generate("fully_connected", num_nodes=3, repeats=(2, 1), num_slices=2, kind="ShiftRelu1", seed=5)
    c = editing.set_devices(c, 1, c.slices[1].devices()[:5] + [{"src": 0, "dst": 2, "kind": "TanhResistor",
                                                                 "params": [0.3, -1.5]}])
    text = to_graphml(c)
    assert text.lstrip().startswith("<?xml")
    back = from_graphml(text)
    assert back.num_nodes == c.num_nodes and back.inputs == c.inputs and back.outputs == c.outputs
    assert back.durations == c.durations and back.capacitance == c.capacitance
    for a, b in zip(c.slices, back.slices):
        assert np.array_equal(a.src, b.src) and np.array_equal(a.dst, b.dst)
        assert a.kind.tolist() == b.kind.tolist() and np.array_equal(a.params, b.params)


@pytest.mark.parametrize("data", [b"<graphml><oops", b"\x80\x04K\x01.", "not xml at all"])
def test_bad_graphml_is_a_clear_error(data):
    with pytest.raises(CircuitFileError):
        from_graphml(data)
