"""Generators: counts from the paper's formulas, device order against brute-force loops, and the
registry's argument checks. Expectations are computed here, never read back from the generators."""

from __future__ import annotations

import inspect
import itertools
from collections import Counter

import networkx as nx
import numpy as np
import pytest
import torch

from kirchhoff_core import generators as G
from kirchhoff_core.circuit import CircuitError


def devices(circuit, i=0):
    s = circuit.slices[i]
    return list(zip(s.src.tolist(), s.dst.tolist()))


def ground_devices(circuit):
    return [(s, d) for s, d in devices(circuit) if s == 0 or d == 0]


# --- the paper's topologies ------------------------------------------------------------------

@pytest.mark.parametrize("n, repeats, with_ground", [(2, (25, 25), True), (2, (10, 10), True), (3, (1, 2), True),
                                                     (5, (2, 0), False), (1, (3, 1), True)])
def test_fully_connected_counts(n, repeats, with_ground):
    c = G.fully_connected(n, repeats=repeats, include_ground=with_ground, n_inputs=1, n_outputs=1)
    m = n + 1 if with_ground else n
    assert c.num_nodes == n
    assert c.num_devices == m * (m - 1) * sum(repeats)
    counts = Counter(devices(c))
    nodes = range(0 if with_ground else 1, n + 1)
    for i, j in itertools.permutations(nodes, 2):
        assert counts[(i, j)] == sum(repeats)  # r0 from pair (i, j) plus r1 from pair (j, i)


def test_fully_connected_paper_size_and_order():
    c = G.fully_connected(2, repeats=(25, 25))
    assert c.num_devices == 300
    expected = []
    for i in range(3):
        for j in range(3):
            if i != j:
                expected += [(i, j)] * 25 + [(j, i)] * 25
    assert devices(c) == expected


def brute_neighbour(C, W, H, k, repeat):
    """Windows straight from torch.unfold on an image of node indices."""
    image = torch.arange(1, C * W * H + 1, dtype=torch.float64).reshape(1, C, W, H)
    windows = torch.nn.functional.unfold(image, k).long()[0].T.tolist()  # (positions, C*k*k)
    out = []
    for w in windows:
        for a in w:
            for b in w:
                if a != b:
                    out += [(a, b)] * repeat
    return out


@pytest.mark.parametrize("C, W, H, k, repeat", [(1, 4, 4, 2, 1), (2, 5, 3, 2, 2), (1, 3, 3, 3, 1),
                                                (3, 4, 5, 1, 1), (1, 6, 4, 3, 3)])
def test_neighbour_matches_unfold(C, W, H, k, repeat):
    c = G.neighbour(C, W, H, k, repeat=repeat)
    K = C * k * k
    assert c.num_nodes == C * W * H
    assert c.num_devices == (W - k + 1) * (H - k + 1) * K * (K - 1) * repeat
    assert devices(c) == brute_neighbour(C, W, H, k, repeat)


def test_neighbour_overlapping_windows_give_parallel_devices():
    # 1x3x3, k=2: pixels 1 (0,0) and 5 (1,1) share one window, 2 (0,1) and 5 (1,1) share two
    counts = Counter(devices(G.neighbour(1, 3, 3, 2)))
    assert counts[(1, 5)] == 1 and counts[(2, 5)] == 2 and counts[(5, 5)] == 0
    assert counts[(5, 2)] == 2 and counts[(1, 9)] == 0


def test_neighbour_window_too_big():
    with pytest.raises(CircuitError, match="k"):
        G.neighbour(1, 3, 3, 4)


@pytest.mark.timeout(60)  # a hang guard, not a speed check (benchmarks/ time things)
def test_mixed_mnist_size():
    c = G.mixed(1, 28, 28, 4, 50, repeats=(1, 1), n_inputs=784, n_outputs=10)
    assert c.num_nodes == 834
    assert c.num_devices == 230_068
    assert c.outputs == list(range(825, 835))  # projection nodes
    assert c.inputs == list(range(1, 785))


@pytest.mark.parametrize("C, W, H, k, F, repeats, nr", [(1, 4, 4, 2, 3, (1, 1), 1), (2, 3, 4, 2, 2, (2, 1), 2),
                                                        (1, 3, 3, 3, 0, (0, 1), 1)])
def test_mixed_matches_loops(C, W, H, k, F, repeats, nr):
    c = G.mixed(C, W, H, k, F, repeats=repeats, neighbour_repeat=nr)
    r0, r1 = repeats
    P = C * W * H
    expected = brute_neighbour(C, W, H, k, nr)
    for p in range(1, P + 1):
        expected += [(p, 0)] * r0 + [(0, p)] * r1
    for q in range(P + 1, P + F + 1):
        for i in range(P + 1):
            expected += [(i, q)] * r0 + [(q, i)] * r1
    K = C * k * k
    assert c.num_nodes == P + F
    assert c.num_devices == (W - k + 1) * (H - k + 1) * K * (K - 1) * nr + P * (r0 + r1) + F * (P + 1) * (r0 + r1)
    assert devices(c) == expected


# --- classic graphs --------------------------------------------------------------------------

def expected_ground(n, on):
    return 2 * n if on else 0


@pytest.mark.parametrize("n", [2, 5, 17])
@pytest.mark.parametrize("repeats, ground", [((1, 1), True), ((2, 3), False), ((1, 0), True)])
def test_chain_and_ring_counts(n, repeats, ground):
    c = G.chain(n, repeats=repeats, ground_links=ground)
    assert c.num_devices == (n - 1) * sum(repeats) + expected_ground(n, ground)
    if n >= 3:
        c = G.ring(n, repeats=repeats, ground_links=ground)
        assert c.num_devices == n * sum(repeats) + expected_ground(n, ground)
        assert Counter(devices(c))[(n, 1)] + Counter(devices(c))[(1, n)] == sum(repeats)


def test_chain_order():
    c = G.chain(3, repeats=(2, 1))
    assert devices(c) == [(1, 2), (1, 2), (2, 1), (2, 3), (2, 3), (3, 2), (1, 0), (0, 1), (2, 0), (0, 2),
                          (3, 0), (0, 3)]


def test_ring_too_small():
    with pytest.raises(CircuitError, match="ring"):
        G.ring(2)


@pytest.mark.parametrize("rows, cols", [(1, 4), (3, 3), (4, 7)])
def test_grid(rows, cols):
    c = G.grid(rows, cols, repeats=(1, 2))
    assert c.num_nodes == rows * cols
    assert c.num_devices == (rows * (cols - 1) + cols * (rows - 1)) * 3 + 2 * rows * cols
    links = {frozenset(e) for e in devices(c) if 0 not in e}
    node = lambda r, q: 1 + r * cols + q  # noqa: E731
    want = {frozenset((node(r, q), node(r, q + 1))) for r in range(rows) for q in range(cols - 1)}
    want |= {frozenset((node(r, q), node(r + 1, q))) for r in range(rows - 1) for q in range(cols)}
    assert links == want


@pytest.mark.parametrize("sizes", [(2, 4, 2), (3,), (1, 5, 5, 1), (784, 10)])
def test_layered(sizes):
    c = G.layered(sizes, repeats=(1, 0), ground_links=False) if len(sizes) > 1 else G.layered(sizes)
    assert c.num_nodes == sum(sizes)
    links = sum(a * b for a, b in zip(sizes, sizes[1:]))
    assert c.num_devices == (links if len(sizes) > 1 else 2 * sum(sizes))
    assert c.inputs == list(range(1, sizes[0] + 1))
    assert c.outputs == list(range(sum(sizes) - sizes[-1] + 1, sum(sizes) + 1))
    if len(sizes) > 1:  # feed-forward: every device goes from layer l to layer l+1
        layer = np.repeat(np.arange(len(sizes)), sizes)
        assert all(layer[d - 1] == layer[s - 1] + 1 for s, d in devices(c))


@pytest.mark.parametrize("n, p, directed", [(10, 0.3, False), (30, 0.1, True), (8, 1.0, False), (8, 0.0, False)])
def test_random_graph(n, p, directed):
    c = G.random_graph(n, p, directed=directed, seed=3)
    edges = nx.gnp_random_graph(n, p, seed=3, directed=directed).number_of_edges()
    assert c.num_devices == 2 * edges + 2 * n
    if p == 1.0:
        assert edges == n * (n - 1) // 2
    other = G.random_graph(n, p, directed=directed, seed=3)
    assert devices(other) == devices(c)


@pytest.mark.parametrize("n, k, p", [(10, 4, 0.1), (20, 3, 0.5), (12, 2, 0.0)])
def test_small_world(n, k, p):
    c = G.small_world(n, k, p, repeats=(2, 1), ground_links=False)
    assert c.num_devices == n * (k // 2) * 3
    assert ground_devices(c) == []


@pytest.mark.parametrize("n, m", [(10, 2), (50, 3), (5, 1)])
def test_scale_free(n, m):
    c = G.scale_free(n, m)
    assert c.num_devices == (n - m) * m * 2 + 2 * n
    linked = {x for e in devices(c) if 0 not in e for x in e}
    assert linked == set(range(1, n + 1))  # networkx node 0 became node 1, not ground


@pytest.mark.parametrize("make", [lambda g: G.chain(6, ground_links=g), lambda g: G.grid(2, 3, ground_links=g),
                                  lambda g: G.scale_free(8, 2, ground_links=g),
                                  lambda g: G.custom([(1, 2), (2, 3)], ground_links=g)])
def test_ground_links_on_off(make):
    on, off = make(True), make(False)
    n = on.num_nodes
    nodes = range(1, n + 1)
    assert Counter(ground_devices(on)) == Counter([(i, 0) for i in nodes] + [(0, i) for i in nodes])
    assert ground_devices(off) == []
    assert on.num_devices == off.num_devices + 2 * n


# --- custom ----------------------------------------------------------------------------------

def test_custom_is_the_list():
    c = G.custom([(1, 2), (2, 3), (3, 1), (1, 2), (0, 3)])
    assert c.num_nodes == 3
    assert devices(c) == [(1, 2), (2, 3), (3, 1), (1, 2), (0, 3)]
    assert devices(G.custom("1-2, 2>3; 3 1\n1->2")) == [(1, 2), (2, 3), (3, 1), (1, 2)]
    assert G.custom([(1, 2)], num_nodes=5).num_nodes == 5
    assert devices(G.custom([(1, 2)], repeats=(2, 1))) == [(1, 2), (1, 2), (2, 1)]


@pytest.mark.parametrize("edges, kwargs", [([(1, 2), (2, 2)], {}), ([(1, 2), (2, 7)], {"num_nodes": 4}),
                                           ([(1, -1)], {"num_nodes": 2}), ([], {}), ("1-2, x", {}),
                                           ([(1, 2.5)], {}), ([(1, 10**9)], {})])
def test_custom_bad_edges(edges, kwargs):
    with pytest.raises(CircuitError):
        G.custom(edges, **kwargs)


# --- common arguments ------------------------------------------------------------------------

def test_same_seed_same_params_different_seed_different():
    a = G.mixed(1, 5, 5, 2, 3, num_slices=2, seed=7)
    b = G.mixed(1, 5, 5, 2, 3, num_slices=2, seed=7)
    d = G.mixed(1, 5, 5, 2, 3, num_slices=2, seed=8)
    for i in range(2):
        np.testing.assert_array_equal(a.slices[i].params, b.slices[i].params)
        assert not np.array_equal(a.slices[i].params, d.slices[i].params)
    assert devices(a, 0) == devices(a, 1)  # same topology ...
    assert not np.array_equal(a.slices[0].params, a.slices[1].params)  # ... own parameters
    assert np.abs(a.slices[0].params[:, :3]).sum() > 0


def test_common_arguments_applied():
    c = G.chain(6, kind="ShiftRelu1", num_slices=3, duration=0.5, capacitance=2.0, gain=0.0)
    assert len(c.slices) == 3 and c.durations == [0.5] * 3
    assert set(c.slices[0].kind.tolist()) == {"ShiftRelu1"}
    assert c.capacitance == 2.0
    assert np.all(c.slices[0].params[:, 1] == 0)  # gain 0: scale parameters are zero
    with pytest.raises(ValueError, match="kind"):
        G.chain(3, kind="Nope")
    with pytest.raises(TypeError, match="colour"):
        G.chain(3, colour="red")


def test_inputs_outputs_defaults():
    c = G.ring(10, n_inputs=3, n_outputs=4)
    assert c.inputs == [1, 2, 3] and c.outputs == [7, 8, 9, 10]
    c = G.chain(2)
    assert c.inputs == [1, 2] and c.outputs == [1, 2]  # small circuits may overlap
    c = G.chain(5, inputs=[5], outputs=[1, 3])
    assert c.inputs == [5] and c.outputs == [1, 3]
    with pytest.raises(CircuitError, match="n_inputs"):
        G.chain(1)
    with pytest.raises(CircuitError, match="inputs"):
        G.chain(4, inputs=[9])


def test_meta_regenerates():
    c = G.generate("small_world", num_nodes=12, k_neighbours=4, p=0.3, seed=5, num_slices=2)
    assert c.meta["generator"] == "small_world"
    assert c.meta["params"]["num_nodes"] == 12 and c.meta["params"]["seed"] == 5
    again = G.generate(c.meta["generator"], **c.meta["params"])
    assert devices(again) == devices(c)
    np.testing.assert_array_equal(again.slices[1].params, c.slices[1].params)
    assert c.name


# --- registry --------------------------------------------------------------------------------

EXPECTED_GENERATORS = {"fully_connected", "neighbour", "mixed", "chain", "ring", "grid", "layered",
                       "random_graph", "small_world", "scale_free", "custom"}


def test_registry_matches_signatures():
    assert set(G.GENERATORS) == EXPECTED_GENERATORS
    common = {p.name for p in G.COMMON_PARAMS}
    assert common == {"kind", "num_slices", "duration", "inputs", "outputs", "n_inputs", "n_outputs",
                      "capacitance", "seed", "gain"}
    for name, spec in G.GENERATORS.items():
        assert spec.name == name and spec.description.endswith(".")
        sig = inspect.signature(spec.function)
        own = [p for p in sig.parameters.values() if p.kind != p.VAR_KEYWORD]
        assert [p.name for p in own] == [p.name for p in spec.params]
        for p, ps in zip(own, spec.params):
            if p.default is not p.empty:
                assert p.default == ps.default, (name, p.name)
            assert ps.type in (int, float, bool, str, "int_pair", "int_list")


@pytest.mark.parametrize("name", sorted(EXPECTED_GENERATORS))
def test_every_default_circuit_validates(name):
    c = G.generate(name)
    assert c.validate() is c
    assert c.num_devices > 0 and c.meta["generator"] == name
    c = G.generate(name, num_slices=2, kind="TanhResistor", seed=1)
    assert c.validate() is c and len(c.slices) == 2


@pytest.mark.parametrize("name, kwargs, words", [
    ("nope", {}, ["nope", "chain", "mixed"]),
    ("chain", {"colour": 1}, ["colour", "num_nodes", "repeats"]),
    ("chain", {"num_nodes": 0}, ["num_nodes", "0"]),
    ("chain", {"num_nodes": 5000}, ["num_nodes", "5000"]),
    ("fully_connected", {"repeats": (1, 101)}, ["repeats", "101"]),
    ("fully_connected", {"repeats": (1, 2, 3)}, ["repeats"]),
    ("random_graph", {"p": 1.5}, ["p", "1.5"]),
    ("layered", {"layer_sizes": [2, 0]}, ["layer_sizes", "0"]),
    ("chain", {"num_nodes": 2.5}, ["num_nodes", "2.5"]),
    ("chain", {"ground_links": "yes"}, ["ground_links"]),
    ("chain", {"kind": "Transistor"}, ["kind", "Transistor"]),
    ("chain", {"gain": -1.0}, ["gain", "-1.0"]),
])
def test_generate_argument_errors(name, kwargs, words):
    with pytest.raises(ValueError) as err:
        G.generate(name, **kwargs)
    for w in words:
        assert w in str(err.value)


@pytest.mark.parametrize("name, kwargs", [
    ("fully_connected", {"num_nodes": 2000, "repeats": (100, 100)}),
    ("neighbour", {"channels": 16, "width": 256, "height": 256, "k": 16}),
    ("mixed", {"channels": 1, "width": 28, "height": 28, "k": 4, "projection": 50, "num_slices": 40}),
    ("layered", {"layer_sizes": [500, 500, 500, 500], "repeats": (100, 100)}),
    ("random_graph", {"num_nodes": 2000, "p": 1.0, "repeats": (100, 100)}),
])
@pytest.mark.timeout(30)  # refused from the counts alone: building any of these would take far longer
def test_max_devices_guard_refuses_before_building(name, kwargs):
    with pytest.raises(CircuitError, match=r"\d{1,3}(,\d{3})+ devices"):
        G.generate(name, **kwargs)
