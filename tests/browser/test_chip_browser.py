"""Browser: the Chip page — load the trained example, move a non-ideality slider and watch the
oscilloscope's read-out follow, play the die animation, run a small Monte Carlo and the robustness
curves.

Expected read-outs come from ``kirchhoff_core.chip`` with the same settings, not from the page.
"""

from __future__ import annotations

import pathlib
import re
import time

from playwright.sync_api import Page, expect

from page_helpers import shot, wait_settled
from kirchhoff_core.chip import ChipConfig, ChipInstance
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.io import load_circuit, load_trained

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "assets" / "examples" / "moons_trained.json"
VIEWPORT = {"width": 1400, "height": 2400}  # tall: the full-page shot shows every section


def metric(page: Page, label: str):
    """The value of the st.metric whose label is exactly ``label``."""
    name = page.locator("[data-testid='stMetricLabel']", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    return page.locator("[data-testid='stMetric']").filter(has=name).locator("[data-testid='stMetricValue']")


def scope_labels(page: Page) -> list[str]:
    """The read-out annotations on the oscilloscope ('code 27 → -0.286 V' or '-7.130 V')."""
    chart = page.locator("[data-testid='stPlotlyChart']").filter(has_text="Oscilloscope")
    texts = chart.locator(".annotation-text").all_text_contents()
    return sorted(t for t in texts if t.endswith(" V") and not t.startswith("sample"))


def wait_labels(page: Page, want: list[str], timeout_s: float = 30) -> list[str]:
    """The scope's read-out labels once they equal ``want`` (plotly repaints after the run ends), or
    whatever they are at the time-out."""
    deadline = time.time() + timeout_s
    got = scope_labels(page)
    while got != want and time.time() < deadline:
        time.sleep(0.25)
        got = scope_labels(page)
    return got


def expected_labels(mismatch: float) -> list[str]:
    circuit = load_circuit(EXAMPLE)
    data = make_dataset("moons", 500, seed=0)
    cfg = ChipConfig(device_mismatch=mismatch, sde_steps=200)
    inf = ChipInstance(circuit, cfg, 0).transient(data.x_test[0], 60)
    return sorted(f"{v:+.3f} V" for v in inf.readout)


def test_chip_slider_moves_the_readout(page: Page, app_url):
    page.set_viewport_size(VIEWPORT)
    page.goto(f"{app_url}/chip")
    expect(page.get_by_role("heading", name="Chip")).to_be_visible(timeout=90_000)
    expect(metric(page, "Chip accuracy")).to_be_visible(timeout=90_000)
    wait_settled(page)
    page.get_by_role("button", name="Load the trained example").click()
    expect(page.get_by_text("Loaded the trained example")).to_be_visible(timeout=60_000)
    wait_settled(page)
    expect(metric(page, "Ideal accuracy")).to_have_text(f"{load_trained(EXAMPLE)[1].result['test_metric']:.1%}")
    assert wait_labels(page, expected_labels(0.0)) == expected_labels(0.0)
    shot(page, "chip_ideal")

    # Device mismatch: click the slider's track a fifth of the way along (one change, one rerun).
    slider = page.locator("[data-testid='stSlider']").filter(has_text="Device mismatch")
    box = slider.get_by_role("slider").bounding_box()
    page.mouse.click(box["x"] + 0.2 * box["width"], box["y"] + box["height"] / 2)
    wait_settled(page, quiet_s=1.5)
    value = float(slider.get_by_role("slider").input_value())
    assert 10 <= value <= 30, value
    want = expected_labels(value / 100)
    assert want != expected_labels(0.0)
    got = wait_labels(page, want)
    assert got == want, (got, want)
    shot(page, "chip_mismatch_20")

    # The die animation plays in the browser without a rerun: the time slider moves off T.
    die = page.locator("[data-testid='stPlotlyChart']").filter(has_text="Die: pads")
    current = die.locator("text.slider-label").filter(has_text="t =")  # the time slider's current value
    end_label = current.text_content()
    die.get_by_text("▶ Play").click()
    page.wait_for_timeout(600)
    assert current.text_content() != end_label
    shot(page, "chip_die_playing")
    page.wait_for_timeout(6000)  # 60 frames x 80 ms: the animation ends at T again
    expect(current).to_have_text(end_label, timeout=10_000)

    # A small Monte Carlo: the histogram of 20 chips appears.
    page.get_by_role("button", name="Run Monte Carlo").click()
    expect(page.locator("[data-testid='stPlotlyChart']").filter(has_text="of 20 chips")).to_be_visible(
        timeout=120_000)
    wait_settled(page)
    mean = metric(page, "Mean").inner_text()
    assert mean.endswith("%") and 0 <= float(mean.rstrip("%")) <= 100
    page.get_by_role("button", name="Robustness curves").click()
    expect(page.locator("[data-testid='stPlotlyChart']").filter(has_text="vs device mismatch")).to_be_visible(
        timeout=120_000)
    wait_settled(page)
    shot(page, "chip_monte_carlo")
