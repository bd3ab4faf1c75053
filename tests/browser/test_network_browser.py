"""Browser: the Build page's network view (pyvis / vis-network in an ``st.iframe``) on the paper's
834-node MNIST circuit, where the plotly drawing gives up: vis-network draws every node once its
physics has settled."""

from __future__ import annotations

import json
import urllib.parse

from playwright.sync_api import Page, expect

from page_helpers import shot, wait_settled
from kirchhoff_core.generators import generate

MNIST = {"channels": 1, "width": 28, "height": 28, "k": 4, "projection": 50}


def network_frame(page: Page):
    """The network view's frame, once vis-network has stabilised and frozen the layout."""
    view = page.locator("[data-testid='stIFrame']")
    expect(view).to_have_count(1, timeout=180_000)
    frame = view.element_handle().content_frame()
    frame.wait_for_function("window.kirchhoffSettled === true", timeout=180_000)
    return frame


def drawn(frame) -> tuple[int, int]:
    """(nodes in vis-network's data set, nodes its drawing holds)."""
    return tuple(frame.evaluate("[network.body.data.nodes.length, network.body.nodeIndices.length]"))


def test_the_mnist_circuit_in_the_network_view(page: Page, app_url):
    circuit = generate("mixed", **MNIST)
    assert circuit.num_nodes == 834 and len(circuit.slices) == 1
    page.set_viewport_size({"width": 1400, "height": 1800})
    page.goto(f"{app_url}/?" + urllib.parse.urlencode({"gen": "mixed", "gp": json.dumps(MNIST)}))
    expect(page.get_by_role("heading", name="Build a circuit")).to_be_visible(timeout=180_000)
    expect(page.get_by_text("too many to draw", exact=False).first).to_be_visible(timeout=180_000)
    frame = network_frame(page)  # shown without asking: the drawing gave up
    assert drawn(frame) == (834, 834)  # every node (ground left out by default on a circuit this size)
    expect(page.get_by_text("Slice 0: 834 nodes, 4,000 busiest of")).to_be_visible()
    page.locator("[data-testid='stIFrame']").scroll_into_view_if_needed()
    shot(page, "build_10_network_view_mnist")

    page.get_by_text("Draw ground (node 0)").click()
    wait_settled(page, timeout_s=180)
    frame = network_frame(page)
    assert drawn(frame) == (835, 835)  # + ground
    assert frame.evaluate("network.body.data.nodes.get(0).color") == "#444444"
