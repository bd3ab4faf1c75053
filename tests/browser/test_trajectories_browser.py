"""Browser: the Trajectories page's animations play in the browser, without a Streamlit rerun."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from page_helpers import COUNT_RUNS, shot, wait_settled
from kirchhoff_core.io import load_trained

EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"


def chart(page: Page, text: str):
    """The plotly chart whose drawing contains ``text`` (a subplot title, an axis title)."""
    return page.locator("[data-testid='stPlotlyChart']").filter(has_text=text).first


def slider_value(plot) -> str:
    return plot.locator(".slider-group > .slider-label").first.text_content().strip()  # "t = 0.25"


def slider_time(plot) -> float:
    return float(re.search(r"t = ([-\d.e+]+)", slider_value(plot)).group(1))


def play_until_advanced(page: Page, plot, timeout_s: float = 30) -> float:
    """Press the chart's Play button and wait until its slider shows a later time."""
    plot.scroll_into_view_if_needed()
    before = slider_time(plot)
    plot.locator(".updatemenu-button").filter(has_text="Play").first.click()
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if slider_time(plot) > before:
            return slider_time(plot)
        time.sleep(0.1)
    raise AssertionError(f"the slider stayed at {slider_value(plot)!r} after Play")


def test_play_the_trajectory_animation(page, app_url):
    page.set_viewport_size({"width": 1400, "height": 2700})  # the whole page in one screenshot
    page.goto(f"{app_url}/trajectories")
    page.get_by_role("heading", name="Trajectories").wait_for(timeout=120_000)
    wait_settled(page, timeout_s=120)
    watch = chart(page, "node voltages v(t)")
    watch.wait_for()
    shot(page, "trajectories_1_untrained")

    page.get_by_role("button", name="Load the trained example").click()
    page.get_by_text("Loaded the example").wait_for(timeout=60_000)
    wait_settled(page, timeout_s=120)
    watch = chart(page, "node voltages v(t)")
    assert slider_value(watch) == "t = 0"
    page.evaluate(COUNT_RUNS)

    t1 = play_until_advanced(page, watch)
    time.sleep(1.0)
    watch.locator(".updatemenu-button").filter(has_text="Pause").first.click()
    paused = slider_time(watch)
    assert paused >= t1 > 0
    time.sleep(0.8)
    assert slider_time(watch) == paused, "Pause stops the animation"
    shot(page, "trajectories_2_watch_paused")

    sweep = chart(page, "against the read-out time")
    play_until_advanced(page, sweep)
    deadline = time.time() + 60
    drawn_midway = False
    while time.time() < deadline and slider_time(sweep) < 1.0:
        drawn_midway = drawn_midway or sweep.locator(".hm image").count() >= 1
        time.sleep(0.1)
    assert slider_time(sweep) == 1.0, "the read-out sweep plays to T"
    assert drawn_midway, "the decision regions are drawn while the sweep plays, not only at its ends"
    time.sleep(0.5)
    # The animated heatmap is still drawn (and the test points over it) after frames have replaced it.
    assert sweep.locator(".hm image").count() >= 1
    assert sweep.locator(".scatterlayer .point").count() >= 50

    flow = chart(page, "decision line")
    play_until_advanced(page, flow)
    time.sleep(1.0)  # the cloud on its way, for the picture
    shot(page, "trajectories_3_flow_and_sweep")
    assert flow.locator(".scatterlayer .point").count() >= 50
    assert page.evaluate("window.__runs") == 0, "the animations must not rerun the script"


def test_a_link_puts_the_trained_spirals_circuit_in_front_of_a_class(page, app_url):
    """One link (`?example=spirals`) in a fresh browser: the trained circuit on the data it was trained
    on, its test accuracy in the read-out sweep as recorded in the file, and the status line naming it."""
    record = load_trained(EXAMPLES / "spirals_trained.json")[1]
    page.set_viewport_size({"width": 1400, "height": 2700})
    page.goto(f"{app_url}/trajectories?example=spirals")
    page.get_by_role("heading", name="Trajectories").wait_for(timeout=120_000)
    wait_settled(page, timeout_s=120)
    status = page.locator("[data-testid='stAlertContentSuccess']").filter(has_text="the trained spirals example")
    expect(status).to_be_visible(timeout=60_000)
    expect(status).to_contain_text(f"{record.result['test_metric']:.1%} test accuracy after {record.steps} epochs")
    label = page.locator("[data-testid='stMetricLabel']", has_text="Test accuracy at T = 1")
    value = page.locator("[data-testid='stMetric']").filter(has=label).locator("[data-testid='stMetricValue']")
    expect(value).to_be_visible(timeout=60_000)
    accuracy = float(value.text_content().rstrip("%")) / 100
    assert abs(accuracy - record.result["test_metric"]) <= 0.01 and accuracy >= 0.95
    assert "ds=spirals" in page.url and "example=spirals_trained" in page.url  # the address reproduces it
    shot(page, "trajectories_4_spirals_link")
