"""AppTest for the Verify-in-SPICE page (with the real ngspice)."""

from apptest_helpers import open_page


def _open():
    return open_page("app_pages/spice.py")


def test_page_runs_a_check_and_shows_the_comparison():
    at = _open()
    assert not at.exception
    assert at.header[0].value == "Verify in SPICE"
    at.button(key="spice_run").click().run()
    assert not at.exception and not at.error
    labels = {m.label: m.value for m in at.metric}
    assert float(labels["max |Δv| over all nodes"].split()[0]) <= 1e-3
    at.slider(key="spice_n").set_value(5).run()
    at.button(key="spice_check").click().run()
    assert not at.exception
    assert any(m.label == "same predicted class" for m in at.metric)


def test_typed_inputs_errors_are_messages():
    at = _open()
    at.radio(key="spice_how").set_value("type voltages").run()
    at.text_input(key="spice_inputs").set_value("abc").run()
    assert at.error and "numbers" in at.error[0].value
    at.text_input(key="spice_inputs").set_value("0.1, 0.2, 0.3").run()
    at.button(key="spice_run").click().run()
    assert at.error and "inputs" in at.error[0].value and not at.exception


def test_missing_ngspice_is_explained(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    at = _open()
    assert any("ngspice is not installed" in i.value for i in at.info)
    at.button(key="spice_run").click().run()
    assert at.error and "apt-get install ngspice" in at.error[0].value
    assert not at.exception
