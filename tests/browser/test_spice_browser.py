"""Browser: run one ngspice check on the Verify-in-SPICE page."""

from page_helpers import shot, wait_idle


def test_spice_check_in_the_browser(page, app_url):
    page.goto(f"{app_url}/spice")
    wait_idle(page)
    page.get_by_role("button", name="Run ngspice").click()
    page.get_by_text("max |Δv| over all nodes").wait_for(timeout=120_000)
    wait_idle(page)
    value = page.locator("[data-testid='stMetricValue']").first.inner_text()
    assert float(value.split()[0]) <= 1e-3
    shot(page, "spice")
