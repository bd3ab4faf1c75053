"""What the browser tests do with a page: screenshots, waiting for Streamlit to settle, counting runs
and component values. A module of its own (not ``conftest``) so that test folders run together do
not import one another's ``conftest`` by name."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Frame, Page

ARTIFACTS = Path(__file__).parent / "artifacts"


def shot(page: Page, name: str) -> Path:
    """Full-page screenshot under tests/browser/artifacts/ (git-ignored) for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_idle(page: Page, timeout_s: float = 60) -> None:
    """Wait until Streamlit has finished its current run (the 'running' indicator is gone)."""
    page.wait_for_selector("[data-testid='stApp']")
    deadline = time.time() + timeout_s
    time.sleep(0.5)
    while time.time() < deadline:
        if page.locator("[data-testid='stStatusWidget']").count() == 0:
            return
        time.sleep(0.25)


COUNT_RUNS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  window.__runs = 0;
  new MutationObserver(() => {
    if (app.getAttribute("data-test-script-state") === "running") window.__runs += 1;
  }).observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
}"""
"""Evaluated in a page: counts the script runs Streamlit starts from then on (``window.__runs``), to
show an animation plays in the browser without a rerun."""

_WATCH_COMPONENTS = """window.__stComponentValues = [];
window.addEventListener("message", (e) => {
  if (e.data && e.data.type === "streamlit:setComponentValue") window.__stComponentValues.push(Date.now());
});"""


def watch_components(page: Page) -> None:
    """Count the values that custom components (iframes) send to Streamlit; call before goto."""
    page.add_init_script(_WATCH_COMPONENTS)


def component_values(page: Page) -> int:
    """How many component values were sent since the page loaded (needs ``watch_components``)."""
    return page.evaluate("(window.__stComponentValues || []).length")


def wait_component_value(page: Page, after: int, timeout_s: float = 60) -> None:
    """Wait until a component has sent a value beyond the first ``after`` ones."""
    page.wait_for_function("n => (window.__stComponentValues || []).length > n", arg=after,
                           timeout=timeout_s * 1000)


def wait_settled(page: Page, quiet_s: float = 1.0, timeout_s: float = 60) -> None:
    """Wait until the script has stayed finished, and no component has sent a value, for ``quiet_s``
    seconds. Reads the run state that Streamlit writes on the app root (``data-test-script-state``;
    ``wait_idle``'s status widget never appears in this Streamlit version). Components send values
    after they render (the Build page's canvas sends its state back after every run that gives it a
    new state, which runs the script again); with ``watch_components`` those count as activity."""
    app = page.locator("[data-testid='stApp']")
    app.wait_for()
    deadline = time.time() + timeout_s
    quiet_since, seen = None, -1
    while time.time() < deadline:
        sent = component_values(page)
        if sent != seen or app.get_attribute("data-test-script-state") in ("initial", "running", "rerunRequested"):
            quiet_since, seen = None, sent
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since >= quiet_s:
            return
        time.sleep(0.05)
    raise AssertionError(f"the app kept running for more than {timeout_s:g} s")


def live_chart(page: Page, title_part: str, timeout_s: float = 120) -> Frame:
    """The live chart frame (``components.live_chart``) whose chart has a title or subplot title
    containing ``title_part``, once it shows (the frame draws its figure after it has loaded)."""
    deadline = time.time() + timeout_s
    while True:
        for element in page.locator("iframe[src*='/component/'][src*='live_chart']").element_handles():
            try:
                frame = element.content_frame()
                titles = frame.locator(".gtitle, .annotation-text").all_text_contents() if frame else []
            except Exception:  # the frame is being replaced
                continue
            if any(title_part in t for t in titles):
                return frame
        if time.time() > deadline:
            frames = page.locator("iframe[src*='live_chart']").count()
            shot(page, "live_chart_missing")
            raise AssertionError(f"no live chart titled {title_part!r} within {timeout_s} s ({frames} live chart frames)")
        time.sleep(0.3)
