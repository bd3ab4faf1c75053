"""The zoomable network view: every node, the busiest node pairs, no network fetches, safe text."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from kirchhoff_core.generators import generate
from kirchhoff_core.netview import ROLE_COLOURS, network_view


def _nodes(html: str) -> list[dict]:
    return json.loads(re.search(r"nodes = new vis\.DataSet\((\[.*?\])\);", html, re.S).group(1))


def _edges(html: str) -> list[dict]:
    return json.loads(re.search(r"edges = new vis\.DataSet\((\[.*?\])\);", html, re.S).group(1))


def test_roles_pairs_and_a_self_contained_page():
    c = generate("fully_connected", num_nodes=5, repeats=[2, 1], n_inputs=2, n_outputs=2, seed=0)
    c.name = "<script>alert(1)</script>"  # never reaches the page
    v = network_view(c)
    assert (v.nodes, v.pairs, v.shown_pairs) == (6, 15, 15)  # ground + 5 nodes, every unordered pair
    nodes = {n["id"]: n for n in _nodes(v.html)}
    assert nodes[1]["color"] == ROLE_COLOURS["input"] and nodes[5]["color"] == ROLE_COLOURS["output"]
    assert nodes[3]["color"] == ROLE_COLOURS["hidden"] and nodes[0]["color"] == ROLE_COLOURS["ground"]
    assert {e["value"] for e in _edges(v.html)} == {6}  # per ordered pair 2 devices one way, 1 back: 6 a pair
    assert "alert(1)" not in v.html
    assert not re.search(r"<(link|script)[^>]+https?://", v.html)  # vis-network inlined, no CDN
    assert "vis.Network" in v.html


def test_busiest_pairs_kept_and_ground_optional():
    c = generate("mixed", channels=1, width=8, height=8, k=3, projection=4, num_slices=1, seed=0)
    full = network_view(c)
    capped = network_view(c, max_edges=50)
    assert capped.shown_pairs == 50 and capped.pairs == full.pairs > 50
    counts = sorted((e["value"] for e in _edges(full.html)), reverse=True)[:50]
    assert sorted((e["value"] for e in _edges(capped.html)), reverse=True) == counts
    no_ground = network_view(c, include_ground=False)
    assert 0 not in {n["id"] for n in _nodes(no_ground.html)} and no_ground.nodes == c.num_nodes


def test_voltage_colours():
    c = generate("ring", num_nodes=4, n_inputs=1, n_outputs=1, seed=0)
    v = network_view(c, voltages=np.array([-2.0, 0.0, 1.0, 2.0]))
    nodes = {n["id"]: n for n in _nodes(v.html)}
    assert nodes[2]["color"] == "#ffffff"  # 0 V
    assert nodes[4]["color"] == "#1e64c8"  # the largest positive: full blue
    assert nodes[1]["color"] == "#e67814"  # the largest negative: full orange
    assert "+1 V" in nodes[3]["title"]


def test_bad_arguments():
    c = generate("ring", num_nodes=4, seed=0)
    with pytest.raises(ValueError, match="slice_index"):
        network_view(c, slice_index=3)
    with pytest.raises(ValueError, match="voltages"):
        network_view(c, voltages=np.array([1.0, np.nan, 0.0, 0.0]))
    with pytest.raises(ValueError, match="max_edges"):
        network_view(c, max_edges=0)
