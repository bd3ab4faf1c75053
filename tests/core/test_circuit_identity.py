"""Circuit.fingerprint (the one identity every cache and editor keys on), Circuit.node_pairs (what a
drawing wires) and generative.presets.flow_repeats (the Generate page's devices-per-pair read-back)."""

from __future__ import annotations

import numpy as np

from kirchhoff_core import editing
from kirchhoff_core.generative.presets import flow_preset, flow_repeats
from kirchhoff_core.generators import generate


def test_fingerprint_follows_every_change_and_only_changes():
    c = generate("fully_connected", num_nodes=4, seed=0)
    assert c.fingerprint() == c.copy().fingerprint() == generate("fully_connected", num_nodes=4, seed=0).fingerprint()
    changed = [
        generate("fully_connected", num_nodes=4, seed=1),  # parameters
        editing.set_roles(c, [1], [4]),
        editing.set_durations(c, [2.0]),
        editing.add_node(c),
    ]
    prints = {c.fingerprint()} | {x.fingerprint() for x in changed}
    assert len(prints) == 1 + len(changed)
    # a change made in place (as a trained model hands out new parameters) changes it too ...
    d = c.copy()
    d.slices[0].params[0, 0] += 1e-6
    assert d.fingerprint() != c.fingerprint()
    # ... but not the topology (params=False)
    assert d.fingerprint(params=False) == c.fingerprint(params=False)


def test_fingerprint_of_one_slice():
    c = generate("ring", num_nodes=5, num_slices=2, seed=0)
    d = c.copy()
    d.slices[1].params[:, 0] *= 2
    assert d.fingerprint(0) == c.fingerprint(0) and d.fingerprint(1) != c.fingerprint(1)


def test_node_pairs_counts_devices_per_undirected_pair():
    c = generate("chain", num_nodes=3)  # 1-2 and 2-3 both ways, each node to and from ground
    a, b, n = c.node_pairs()
    assert list(zip(a.tolist(), b.tolist(), n.tolist())) == [(0, 1, 2), (0, 2, 2), (0, 3, 2), (1, 2, 2), (2, 3, 2)]
    two = generate("chain", num_nodes=3, num_slices=2)
    assert two.node_pairs()[2].tolist() == [4] * 5 and two.node_pairs(1)[2].tolist() == [2] * 5


def test_flow_repeats_reads_back_the_paper_circuits():
    assert flow_repeats(flow_preset("moons").circuit()) == (25, 25)
    assert flow_repeats(flow_preset("2spirals").circuit()) == (10, 10)
    assert flow_repeats(flow_preset("moons").circuit(repeats=[7, 7])) == (7, 7)
    assert flow_repeats(flow_preset("moons").circuit(repeats=[2, 1])) is None  # not symmetric
    assert flow_repeats(generate("fully_connected", num_nodes=4)) is None  # not a 2-D flow
    assert np.isfinite(flow_preset("moons").circuit().t_end)
