"""Browser: more sessions than training workers. The server of the browser tests has the default pool
(one worker per CPU core; the tests need at least one more session than that): the extra session
waits in line with a visible message, every session trains in turn, and closed tabs give their slots
back (their workers pause when nobody watches)."""

from __future__ import annotations

import os
import re
import time

from playwright.sync_api import expect

from page_helpers import shot

QUEUE = re.compile(r"training workers? (are|is) busy; you are \w+ in line")


def _epoch(page) -> int:
    text = page.evaluate("""() => {
      const m = [...document.querySelectorAll("[data-testid='stMetric']")].find(e => e.innerText.startsWith("Epoch"));
      return m ? m.querySelector("[data-testid='stMetricValue']").innerText : "0";
    }""")
    return int(text) if text.isdigit() else 0


def test_an_extra_session_waits_in_line_and_all_train_in_turn(browser, app_url):
    n = (os.cpu_count() or 1) + 1
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(n)]
    pages = [c.new_page() for c in contexts]
    try:
        for p in pages:
            p.set_default_timeout(120_000)
            p.goto(f"{app_url}/train")
        for p in pages:
            p.get_by_role("button", name="Play").wait_for()
        for p in pages:
            p.get_by_role("button", name="Play").first.click()
        waiting, deadline = None, time.time() + 90
        while waiting is None and time.time() < deadline:
            waiting = next((p for p in pages if p.get_by_text(QUEUE).count()), None)
            time.sleep(0.25)
        assert waiting is not None, "no session said it waits for a training worker"
        shot(waiting, "classroom_waiting")
        deadline = time.time() + 180
        while time.time() < deadline and min(_epoch(p) for p in pages) < 2:
            time.sleep(1)
        assert min(_epoch(p) for p in pages) >= 2, "every session trains in turn"
    finally:
        for c in contexts:
            c.close()
    # the closed tabs' workers pause when nobody watches (15 s), so a new session finds free slots
    fresh = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    try:
        status = re.compile(r"Training workers: 0 of \d+ busy · 0 waiting")
        deadline = time.time() + 90
        while time.time() < deadline:
            fresh.goto(f"{app_url}/train")
            fresh.get_by_role("button", name="Play").wait_for(timeout=120_000)
            if fresh.get_by_text(status).count():
                break
            time.sleep(5)
        expect(fresh.get_by_text(status)).to_be_visible()
    finally:
        fresh.context.close()
