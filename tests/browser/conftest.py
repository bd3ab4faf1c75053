"""A real `streamlit run` on localhost and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def sweeps_root(tmp_path_factory) -> Path:
    """The app's sweeps root for the browser tests (not the repository's sweeps/)."""
    return tmp_path_factory.mktemp("sweeps")


@pytest.fixture(scope="session")
def app_url(sweeps_root):
    """Start the app once for the browser tests; stop it afterwards."""
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "streamlit_app.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "KIRCHHOFF_SWEEPS_ROOT": str(sweeps_root)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start within 90 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing; `make test` installs it with apt-get")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser) -> Page:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = ctx.new_page()
    p.set_default_timeout(60_000)
    yield p
    ctx.close()


def shot(page: Page, name: str) -> Path:
    """Full-page screenshot under tests/browser/artifacts/ (git-ignored) for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test leaves a screenshot of the page as it was: artifacts/FAIL_<test>.png."""
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and page is not None:
        try:
            shot(page, f"FAIL_{item.name}")
        except Exception:  # the page may be gone; the failure itself is what matters
            pass


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
