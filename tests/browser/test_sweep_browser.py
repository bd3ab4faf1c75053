"""Browser: a teaching preset run from the Sweep page, watched live until its parallel-coordinates plot
appears and the sweep finishes, then its best trial opened in Train.

The preset runs for real (Ray in its own background process, four trials of twelve epochs); every
wait is bounded. Whatever sweep the test leaves running is ended by its process group id.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time

from playwright.sync_api import expect

from page_helpers import shot

PRESET = "tanh-vs-relu"  # the best trial has ReLU devices, so the Train page visibly shows the trial's circuit
TALL = {"width": 1400, "height": 2600}  # tall enough that a screenshot shows the whole page


def _end_left_over(root) -> None:
    """End the drivers of sweeps still running under ``root`` (they run in their own process groups)."""
    for status in root.glob("*/status.json"):
        doc = json.loads(status.read_text())
        pid = doc.get("pid")
        if doc.get("state") == "running" and isinstance(pid, int):
            for sig in (signal.SIGINT, signal.SIGKILL):
                try:
                    os.killpg(pid, sig)
                except (ProcessLookupError, PermissionError):
                    break
                time.sleep(5)


def test_a_lesson_runs_live_and_its_best_trial_opens_in_train(page, app_url, sweeps_root):
    page.set_viewport_size(TALL)
    try:
        page.goto(f"{app_url}/sweep")
        button = page.locator(f".st-key-sweep_preset_{PRESET} button")
        button.wait_for(timeout=120_000)
        shot(page, "sweep_before")
        button.click()
        # the lesson text says what to notice; the table fills while the trials run
        expect(page.get_by_text("what to notice", exact=False)).to_be_visible(timeout=60_000)
        page.wait_for_url(re.compile(rf"sweep=lesson-{PRESET}"), timeout=30_000)
        parallel = page.locator("[data-testid='stPlotlyChart'] .parcoords")
        parallel.first.wait_for(timeout=300_000)  # the first trial's result
        shot(page, "sweep_running")
        expect(page.get_by_text(re.compile(r"4 of 4 trial\(s\) done · finished"))).to_be_visible(timeout=300_000)
        expect(page.get_by_text("The best trial's decision boundary", exact=False)).to_be_visible(timeout=60_000)
        page.locator("[data-testid='stPlotlyChart']").last.wait_for()
        time.sleep(2)  # let the plots finish drawing before the picture
        shot(page, "sweep_finished")
        best = page.get_by_text(re.compile(r"The best trial's decision boundary — trial \d+")).inner_text()
        index = re.search(r"trial (\d+)", best).group(1)
        kind = re.search(r"kind=(\w+)", best).group(1)
        assert kind.startswith("ShiftRelu"), best  # what the lesson teaches: ReLU devices fit moons best

        page.get_by_role("button", name="Open in Train").click()
        page.wait_for_url(re.compile(r"/train"), timeout=60_000)
        expect(page.get_by_text(f"Opened trial {index} of the sweep lesson-{PRESET}")).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Play").wait_for(timeout=60_000)
        expect(page.get_by_role("combobox", name="Device kind")).to_have_value(re.compile(kind), timeout=30_000)
        time.sleep(2)
        shot(page, "sweep_open_in_train")
        assert "n=300" in page.url  # the trial's data set (the preset's 300 samples) travels in the link
    finally:
        _end_left_over(sweeps_root)
