"""Browser: the Build page as a user drives it — read the stats, generate a circuit from the form,
draw on the canvas (a new node, a new device dragged between two nodes) and change a device's kind
in the device table.

The canvas is ``streamlit-flow-component`` (React Flow in an iframe); the device table is
``st.data_editor`` (glide-data-grid, drawn on a <canvas>; its cells are mirrored in an accessible
table whose ``td`` ids are ``glide-cell-{column}-{row}``, used here to read and to find the
selected cell). Expected numbers come from ``kirchhoff_core``, not from the page.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse

import numpy as np
from playwright.sync_api import Page, expect

from page_helpers import component_values, shot, wait_component_value, wait_settled, watch_components
from kirchhoff_core import io
from kirchhoff_core.devices import KINDS
from kirchhoff_core.generators import generate
from kirchhoff_core.presets import preset_for

VIEWPORT = {"width": 1400, "height": 2400}  # tall: canvas and table on screen, screenshots show them
FLOW = "iframe[title='streamlit_flow.streamlit_flow']"
KIND_COLUMN = 4  # data-editor columns: 0 row marker, 1 device, 2 src, 3 dst, 4 kind, 5-7 p0-p2


# --- helpers -------------------------------------------------------------------------------------

def metric(page: Page, label: str):
    """The value of the st.metric whose label is exactly ``label``."""
    return (page.locator("[data-testid='stMetric']")
            .filter(has=page.locator("[data-testid='stMetricLabel']", has_text=re.compile(rf"^\s*{label}\s*$")))
            .locator("[data-testid='stMetricValue']"))


def expect_stats(page: Page, **values) -> None:
    for label, value in values.items():
        expect(metric(page, label)).to_have_text(str(value), timeout=30_000)


def stats_of(circuit) -> dict:
    return {"Nodes": circuit.num_nodes, "Devices": f"{circuit.num_devices:,}",
            "Parameters": f"{circuit.num_parameters:,}", "Slices": len(circuit.slices), "T": f"{circuit.t_end:g}"}


def open_build(page: Page, url: str) -> None:
    """Open the page and wait until it has settled: the first run imports torch, and the canvas
    sends its state back once mounted (one more run)."""
    page.set_viewport_size(VIEWPORT)
    watch_components(page)
    page.goto(url)
    expect(page.get_by_role("heading", name="Build a circuit")).to_be_visible(timeout=90_000)
    expect(metric(page, "Nodes")).to_be_visible(timeout=90_000)
    page.frame_locator(FLOW).locator(".react-flow__node").first.wait_for(timeout=60_000)
    wait_component_value(page, 0)
    wait_settled(page)


def choose(page: Page, label: str, option: str | re.Pattern) -> None:
    """Pick ``option`` in the st.selectbox labelled ``label``."""
    page.get_by_label(label, exact=True).click()
    if isinstance(option, str):
        page.get_by_role("option", name=option, exact=True).click()
    else:
        page.get_by_role("option", name=option).click()


def centre(box: dict) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def device_table(page: Page):
    panel = page.get_by_role("tabpanel").filter(has=page.get_by_role("button", name="Apply table"))
    return panel, panel.locator("[data-testid='stDataFrame']")


def select_cell(page: Page, grid, column: int, row: int) -> None:
    """Give a data-editor cell the keyboard focus: click the row, then walk with the arrow keys,
    reading the selected cell from the accessible mirror table."""
    box = grid.bounding_box()
    header, row_height = 36, 35
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + header + row_height * (row + 0.5))
    selected = grid.locator("td[aria-selected='true']")
    expect(selected).to_have_count(1)
    cell_id = selected.get_attribute("id")  # glide-cell-{column}-{row}
    assert cell_id.endswith(f"-{row}"), cell_id
    current = int(cell_id.split("-")[2])
    for _ in range(abs(column - current)):
        page.keyboard.press("ArrowRight" if column > current else "ArrowLeft")
    expect(grid.locator(f"#glide-cell-{column}-{row}")).to_have_attribute("aria-selected", "true")


# --- tests ---------------------------------------------------------------------------------------

def test_generate_from_the_form(page, app_url):
    """Default circuit's stats, then a ring with other parameters from the generator form."""
    open_build(page, f"{app_url}/")  # Build is the default page
    expect_stats(page, **stats_of(generate("fully_connected", **preset_for("moons").params)))
    shot(page, "build_1_default")

    choose(page, "Generator", "ring")
    wait_settled(page)
    form = page.locator("[data-testid='stForm']")
    number = lambda label: form.get_by_role("spinbutton", name=label, exact=True)  # noqa: E731
    expect(number("num nodes")).to_have_value("6")  # the form shows the ring's own default
    number("num nodes").fill("5")
    choose(page, "device kind", re.compile(r"^TanhResistor"))
    number("num slices").fill("2")
    number("duration").fill("1.5")
    number("duration").press("Tab")
    sent = component_values(page)
    form.get_by_role("button", name="Generate").click()

    expected = generate("ring", num_nodes=5, kind="TanhResistor", num_slices=2, duration=1.5)
    expect_stats(page, **stats_of(expected))
    assert stats_of(expected)["Parameters"] == "80"  # 2 slices x 20 devices x 2 TanhResistor params
    wait_component_value(page, sent)  # the canvas got the new circuit and answered
    wait_settled(page)
    expect(page.frame_locator(FLOW).locator(".react-flow__node")).to_have_count(5 + 1)
    # the name in bold: in the circuit's summary and in the "Generated …" confirmation that stays on screen
    expect(page.locator("strong", has_text=re.compile("^" + re.escape(expected.name) + "$")).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Generated " + re.escape(expected.name)))).to_be_visible()
    expect(page.get_by_label("Slice", exact=True)).to_be_visible()  # more than one slice: the slice picker shows
    shot(page, "build_2_generated_ring")


def test_draw_on_the_canvas_and_edit_the_table(page, app_url):
    """Two nodes, one device each way (a share link), then: a node created on the canvas, a device
    dragged from it to node 1, and that device's kind changed to Conductance in the table."""
    gp = {"num_nodes": 2, "ground_links": False}
    open_build(page, f"{app_url}/?" + urllib.parse.urlencode({"gen": "chain", "gp": json.dumps(gp)}))
    start = generate("chain", **gp)
    expect_stats(page, **stats_of(start))  # 2 nodes, devices 1->2 and 2->1, 3 ShiftTanh2 params each
    flow = page.frame_locator(FLOW)
    expect(flow.locator(".react-flow__node")).to_have_count(start.num_nodes + 1)  # + ground
    expect(flow.locator(".react-flow__edge")).to_have_count(2)
    shot(page, "build_3_small_start")

    # a new node: right-click the empty pane -> "Create New Node" -> the component's dialog
    flow.locator(".react-flow__pane").click(button="right", position={"x": 60, "y": 60})
    flow.get_by_role("button", name="Create New Node").click()
    flow.get_by_placeholder("nodeContent").fill("new")
    flow.get_by_role("button", name="Create Node", exact=True).click()
    expect_stats(page, Nodes=3, Devices=2, Parameters=6)
    new_node = flow.locator(".react-flow__node[data-id='n3']")  # redrawn as circuit node 3
    expect(new_node).to_have_text("3")
    wait_settled(page)
    shot(page, "build_4_node_added")

    # a new device 3 -> 1: drag from node 3's lower (source) handle to node 1's upper (target) handle
    x0, y0 = centre(flow.locator("[data-id='n3-null-source']").bounding_box())
    x1, y1 = centre(flow.locator("[data-id='n1-null-target']").bounding_box())
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=10)
    page.mouse.move(x1, y1, steps=10)
    page.mouse.up()
    new_kind = "ShiftTanh2"  # the canvas's "Kind of new devices" default
    params = 2 * 3 + KINDS[new_kind].n_params
    expect_stats(page, Nodes=3, Devices=3, Parameters=params)
    expect(flow.get_by_test_id("rf__edge-e3-1")).to_have_count(1)
    expect(flow.locator(".react-flow__edge")).to_have_count(3)
    expect(page.get_by_text("slice 0: 3 nodes + ground, 3 devices in 3 node pairs")).to_be_visible()  # the drawing
    wait_settled(page)
    shot(page, "build_5_device_drawn")

    # the device table: the drawn device is the last row; make it a Conductance (1 parameter)
    page.get_by_role("tab", name="Device table").click()
    panel, grid = device_table(page)
    expect(grid).to_be_visible()
    wait_settled(page)
    row = 2
    expect(grid.locator(f"#glide-cell-2-{row}")).to_have_text("3")  # src
    expect(grid.locator(f"#glide-cell-3-{row}")).to_have_text("1")  # dst
    expect(grid.locator(f"#glide-cell-{KIND_COLUMN}-{row}")).to_have_text(new_kind)
    select_cell(page, grid, KIND_COLUMN, row)
    page.keyboard.press("Enter")  # opens the kind dropdown (react-select, in the page's #portal)
    dropdown = page.locator("#portal").get_by_role("option")
    expect(dropdown).to_have_count(len(KINDS))
    page.keyboard.type("Conductance")
    expect(dropdown).to_have_count(1)
    page.keyboard.press("Enter")
    expect(dropdown).to_have_count(0)
    expect(grid.locator(f"#glide-cell-{KIND_COLUMN}-{row}")).to_have_text("Conductance")
    wait_settled(page)  # the edit is sent to the script (one run) before Apply is pressed
    shot(page, "build_6_kind_edited")

    sent = component_values(page)
    panel.get_by_role("button", name="Apply table").click()
    params = 2 * 3 + KINDS["Conductance"].n_params
    expect_stats(page, Nodes=3, Devices=3, Parameters=params)
    _, grid = device_table(page)  # a new editor (keyed by the circuit's fingerprint)
    expect(grid.locator(f"#glide-cell-{KIND_COLUMN}-{row}")).to_have_text("Conductance")
    expect(grid.locator(f"#glide-cell-{KIND_COLUMN}-0")).to_have_text("ShiftTanh2")
    expect(grid.locator(f"#glide-cell-{KIND_COLUMN + 2}-{row}")).to_have_text("")  # p1: unused by Conductance
    wait_component_value(page, sent)  # the canvas got the new circuit and answered
    wait_settled(page)
    shot(page, "build_7_table_applied")


def test_click_a_device_in_the_drawing_opens_its_iv_inspector(page, app_url):
    """Hover the drawing's direction triangles until one names a pair (its hover text), click it: a
    dialog opens on the first device of that pair (as the core numbers devices) with its I-V law."""
    open_build(page, f"{app_url}/")
    circuit = generate("fully_connected", **preset_for("moons").params)
    drawing = page.locator("[data-testid='stPlotlyChart']").filter(has_text="slice 0:")
    expect(drawing).to_contain_text("every edge is 2 parallel devices")  # said once, not 72 labels
    expect(drawing.locator(".textpoint", has_text="×")).to_have_count(0)
    points = drawing.locator(".scatterlayer .points path.point")
    pair = None
    for i in range(points.count()):
        at = centre(points.nth(i).bounding_box())
        page.mouse.move(*at)
        time.sleep(0.3)  # plotly throttles hover events: let the label catch up with the mouse
        first_line = drawing.locator(".hoverlayer .hovertext tspan.line").first  # "3 → 2"
        if first_line.count() and (m := re.fullmatch(r"\s*(\d+) → (\d+)\s*", first_line.text_content() or "")):
            pair = int(m[1]), int(m[2])
            if 0 not in pair:  # a device between two non-ground nodes
                break
    assert pair is not None and 0 not in pair, "no direction triangle answered the hover"
    s = circuit.slices[0]
    device = int(np.flatnonzero((s.src == pair[0]) & (s.dst == pair[1]))[0])
    page.mouse.move(at[0] + 1, at[1])  # as a hand does: come to rest on the triangle, then click
    time.sleep(0.3)
    expect(drawing.locator(".hoverlayer .hovertext tspan.line").first).to_have_text(f"{pair[0]} → {pair[1]}")
    page.mouse.click(at[0] + 1, at[1])  # plotly's drag layer takes the click and reports the hovered point
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible(timeout=30_000)
    expect(dialog).to_contain_text(f"Device {device} of slice 0: {pair[0]} → {pair[1]}")
    expect(dialog.locator("[data-testid='stPlotlyChart']").filter(has_text=f"I(Δv) of device {device}")).to_be_visible()
    wait_settled(page)
    shot(page, "build_8_device_clicked")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    # the inspector at the bottom of the page follows the click too
    expect(page.get_by_text(f"Device {device} of slice 0: {pair[0]} → {pair[1]}")).to_be_visible()


def test_a_second_upload_replaces_the_first(page, app_url):
    """Upload one circuit, then another into the same box: each replaces the circuit (the box
    empties after each upload, so the second is not refused as 'got 2')."""
    open_build(page, f"{app_url}/")
    page.get_by_role("tab", name="Import / export").click()
    for name, circuit in (("ring.json", generate("ring", num_nodes=5, seed=1)),
                          ("chain.json", generate("chain", num_nodes=4, seed=2))):
        box = page.locator("[data-testid='stFileUploader']")
        box.locator("input[type='file']").set_input_files(
            {"name": name, "mimeType": "application/json", "buffer": io.dumps_circuit(circuit).encode()})
        expect(page.get_by_text(f"from {name}")).to_be_visible(timeout=30_000)
        expect_stats(page, **stats_of(circuit))
        wait_settled(page)
        expect(page.locator("[data-testid='stFileUploaderFile']")).to_have_count(0)  # an empty box again
        expect(page.locator("[data-testid='stAlertContentError']")).to_have_count(0)
    shot(page, "build_9_second_upload")
