"""Browser: the Train page's guard rails as a student meets them — T = 1000 explained before training
with a button that applies the fix, and a negative learning rate refused with the valid range."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from page_helpers import shot, wait_settled


def _box(page, label: str):
    """The number box on screen (while a run replaces the page's elements, the old one lingers hidden)."""
    return page.locator(f"input[aria-label='{label}']:visible").first


def _type(page, label: str, value: str) -> None:
    box = _box(page, label)
    box.fill(value)
    box.press("Enter")


def test_read_out_time_1000_gets_a_warning_and_a_fix(page, app_url):
    page.goto(f"{app_url}/train")
    page.get_by_role("button", name="Play").wait_for(timeout=120_000)
    wait_settled(page, timeout_s=120)
    _type(page, "Read-out time T", "1000")
    warning = page.get_by_text(re.compile(r"Read-out time T = 1000 is \d+ times this circuit's time scale"))
    expect(warning).to_be_visible(timeout=60_000)
    fix = page.get_by_role("button", name=re.compile(r"Use T = "))
    expect(fix).to_be_visible()
    shot(page, "guard_T_1000")
    suggested = fix.inner_text().split("=")[1].strip()
    fix.click()
    expect(warning).to_have_count(0, timeout=60_000)
    expect(_box(page, "Read-out time T")).to_have_value(suggested, timeout=30_000)


def test_a_negative_learning_rate_is_refused_with_the_valid_range(page, app_url):
    page.goto(f"{app_url}/train")
    page.get_by_role("button", name="Play").wait_for(timeout=120_000)
    wait_settled(page, timeout_s=120)
    before = _box(page, "Learning rate").input_value()
    _type(page, "Learning rate", "-5")
    message = page.get_by_text(re.compile(r"Learning rate: -5 is outside the valid range 1e-05 to 10; kept "))
    expect(message).to_be_visible(timeout=60_000)
    wait_settled(page, timeout_s=60)
    expect(_box(page, "Learning rate")).to_have_value(before, timeout=30_000)
    shot(page, "guard_negative_lr")
