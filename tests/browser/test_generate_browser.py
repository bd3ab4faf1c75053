"""Browser: the Generate page trains a step, builds the flow animation, and the animation plays in the
browser (its slider and title advance frame by frame) without rerunning the script."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page

from page_helpers import ARTIFACTS, COUNT_RUNS, live_chart, shot, wait_settled


# Records every frame the flow animation draws (its name) and whether the heatmap image is there.
_LOG_FRAMES = """() => {
  window.__frames = [];
  const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g.querySelector('.updatemenu-button'));
  const hm = () => gd.querySelectorAll('.hm image').length;
  gd.on('plotly_animatingframe', (e) => window.__frames.push([e.name, hm()]));
  gd.on('plotly_animated', () => window.__frames.push(['done', hm()]));
}"""


def metric(page: Page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']").filter(has=page.get_by_text(label, exact=True)).first
    return box.locator("[data-testid='stMetricValue']").inner_text()


def slider_time(plot) -> float:
    """The animation slider's current value ('t = 0.25')."""
    text = plot.locator(".slider-group > .slider-label").first.text_content().strip()
    return float(re.search(r"t = ([-\d.e+]+)", text).group(1))


def plot_title(plot) -> str:
    return plot.locator(".gtitle").first.text_content()


def test_step_then_play_the_flow_animation(page: Page, app_url):
    page.set_viewport_size({"width": 1400, "height": 2000})  # the whole page in one screenshot
    page.goto(f"{app_url}/generate")
    page.get_by_role("heading", name="Generate").wait_for(timeout=120_000)
    wait_settled(page, timeout_s=120)
    live_chart(page, "target density")
    assert metric(page, "Step") == "0"
    shot(page, "generate_1_default")

    page.get_by_role("button", name="Step").first.click()
    page.wait_for_function(
        """() => [...document.querySelectorAll("[data-testid='stMetric']")].some(m =>
             m.innerText.startsWith("Step") && m.querySelector("[data-testid='stMetricValue']").innerText === "1")""",
        timeout=60_000)
    wait_settled(page, timeout_s=120)
    assert re.fullmatch(r"\d+\.\d{4}", metric(page, "Batch NLL"))

    page.get_by_role("button", name="Animate the flow").click()
    anim = page.locator("[data-testid='stPlotlyChart']").filter(has=page.locator(".updatemenu-button")).first
    anim.wait_for(timeout=120_000)
    wait_settled(page, timeout_s=120)
    anim.scroll_into_view_if_needed()
    assert slider_time(anim) == 0.0
    assert plot_title(anim).startswith("t = 0.00 of 1.00 · slice 1")
    assert anim.locator(".hm image").count() >= 1, "the density heatmap is drawn"
    assert anim.locator("canvas.gl-canvas-context").count() == 1, "the samples and arrows are drawn (WebGL)"
    page.evaluate(COUNT_RUNS)
    page.evaluate(_LOG_FRAMES)

    anim.locator(".updatemenu-button").filter(has_text="Play").first.click()
    deadline, seen = time.time() + 30, [0.0]
    while time.time() < deadline and seen[-1] < 0.4:
        t = slider_time(anim)
        if t != seen[-1]:
            seen.append(t)
        time.sleep(0.05)
    assert seen[-1] >= 0.4, f"the animation's slider did not advance past {seen}"
    assert seen == sorted(seen), f"frames advance in time order: {seen}"
    # a viewport shot: a full-page one resizes the window, and plotly redraws mid-frame
    page.screenshot(path=str(ARTIFACTS / "generate_2_flow_playing.png"))
    page.wait_for_function("() => window.__frames.some(f => f[0] === 'done')", timeout=60_000)
    frames = page.evaluate("window.__frames")
    assert [f[0] for f in frames] == [str(i) for i in range(16)] + ["done"], frames
    # read as each frame starts, i.e. after the previous frame's redraw: the density stays on screen
    assert all(f[1] == 1 for f in frames), f"the density heatmap is drawn at every frame: {frames}"
    assert slider_time(anim) == 1.0
    title = plot_title(anim)
    assert title.startswith("t = 1.00 of 1.00 · slice 2"), title
    # after frames replaced the traces, the heatmap, the arrows and the samples are all still there
    assert anim.locator(".hm image").count() >= 1
    assert anim.locator("canvas.gl-canvas-context").count() == 1
    assert page.evaluate("window.__runs") == 0, "the animation plays in the browser, without a rerun"
    shot(page, "generate_3_flow_at_T")

    # Density matching: the U1 ring appears as the target next to the (untrained) model.
    page.get_by_text("Match a density", exact=True).click()
    live_chart(page, "target exp(−U1) / Z")
    wait_settled(page, timeout_s=120)
    assert metric(page, "Step") == "0"
    assert re.fullmatch(r"-?\d+\.\d{4}", metric(page, "Held-out KL"))
    shot(page, "generate_4_density_matching_U1")
