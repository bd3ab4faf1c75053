"""The Chip page driven through AppTest: defaults, the trained example, sliders, Monte Carlo,
robustness curves, bad settings and the energy panel. Expected numbers come from
``kirchhoff_core.chip`` with the page's settings, not from the page."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from apptest_helpers import after_one_epoch, chart, metric, open_page, session
from apptest_helpers import plotly_array as array
from streamlit.testing.v1 import AppTest

from kirchhoff_core.chip import ChipConfig, ChipInstance, adc_codes, chip_metric, monte_carlo
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.io import load_circuit, load_trained
from kirchhoff_core.solvers import SolverConfig

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "assets" / "examples" / "moons_trained.json"
SOLVER = SolverConfig(rtol=1e-6, atol=1e-6)  # the page's chip solver tolerance
SDE_STEPS = 200


def open_chip() -> AppTest:
    return open_page("app_pages/chip.py")


def with_example(at: AppTest) -> AppTest:
    at.button(key="chip_load_example").click().run()
    assert not at.exception, at.exception
    return at


def readout_table(at: AppTest):
    assert len(at.dataframe) == 1  # the read-out table is the page's only dataframe
    return at.dataframe[0].value


def example_and_data():
    return load_circuit(EXAMPLE), make_dataset("moons", 500, seed=0)


@pytest.fixture(scope="module")
def example():
    return example_and_data()


def test_renders_with_defaults_and_offers_the_trained_example():
    at = open_chip()
    assert not at.error
    s = session(at)
    assert s.circuit.num_nodes == 8 and s.trainer is None
    assert metric(at, "Chip accuracy") == metric(at, "Ideal accuracy")  # everything off: the chip is ideal
    assert "near chance" in " ".join(i.value for i in at.info)  # the default circuit is untrained
    assert any(b.key == "chip_load_example" for b in at.button)
    spec = chart(at, "Die")
    assert len(spec["frames"]) > 10 and spec["layout"]["sliders"][0]["steps"]  # animated over time
    scope = chart(at, "Oscilloscope")
    assert scope["layout"]["xaxis"]["title"]["text"] == "time (ns)"
    assert not at.get("plotly_chart")[2:]  # no Monte Carlo until the button is pressed


def test_trained_example_read_out_matches_the_core(example):
    at = with_example(open_chip())
    circuit, data = example
    s = session(at)
    assert s.circuit.name == "moons trained" and s.config.dataset == "moons"
    ideal = chip_metric(ChipInstance(circuit, ChipConfig(), 0, SOLVER), data)
    assert metric(at, "Ideal accuracy") == f"{ideal:.1%}" and ideal >= 0.95
    table = readout_table(at)
    want = ChipInstance(circuit, ChipConfig(sde_steps=SDE_STEPS), 0, SOLVER).transient(data.x_test[0], 60)
    np.testing.assert_allclose(table["read-out (V)"], want.readout, atol=1e-9)
    np.testing.assert_allclose(table["ideal v(T) (V)"], want.ideal_readout, atol=1e-9)


def test_moving_a_non_ideality_slider_changes_the_read_out(example):
    at = with_example(open_chip())
    circuit, data = example
    before = readout_table(at)["read-out (V)"].to_numpy()
    at.slider(key="chip_mismatch").set_value(20.0).run()
    assert not at.exception and not at.error
    after = readout_table(at)["read-out (V)"].to_numpy()
    assert np.abs(after - before).max() > 1e-3
    cfg = ChipConfig(device_mismatch=0.2, sde_steps=SDE_STEPS)
    want = ChipInstance(circuit, cfg, 0, SOLVER).transient(data.x_test[0], 60)
    np.testing.assert_allclose(after, want.readout, atol=1e-9)
    acc = chip_metric(ChipInstance(circuit, cfg, 0, SOLVER), data)
    assert metric(at, "Chip accuracy") == f"{acc:.1%}"
    # the ADC: integer codes appear in the table and as levels on the scope
    at.select_slider(key="chip_adc_bits").set_value(3).run()
    table = readout_table(at)
    cfg = ChipConfig(device_mismatch=0.2, adc_bits=3, sde_steps=SDE_STEPS)
    inst = ChipInstance(circuit, cfg, 0, SOLVER)
    want = inst.transient(data.x_test[0], 60)
    assert list(table["ADC code"]) == [str(c) for c in want.codes]
    assert list(want.codes) == list(adc_codes(want.sampled, 3, 2.0))
    levels = [s for s in chart(at, "Oscilloscope")["layout"]["shapes"] if s["y0"] == s["y1"]]
    assert 1 <= len(levels) <= 8


def test_monte_carlo_button_draws_the_histogram(example):
    at = with_example(open_chip())
    circuit, data = example
    at.slider(key="chip_mismatch").set_value(30.0).run()
    at.slider(key="chip_k").set_value(6).run()
    at.button(key="chip_mc").click().run()
    assert not at.exception and not at.error
    spec = chart(at, "of 6 chips")
    assert array(spec["data"][0]["y"]).sum() == 6  # bars: chips per accuracy value
    want = monte_carlo(circuit, data, ChipConfig(device_mismatch=0.3, sde_steps=SDE_STEPS), chips=6, seed=0,
                       solver=SOLVER)
    assert metric(at, "Worst chip") == f"{want.values.min():.1%}"
    assert metric(at, "Mean") == f"{want.values.mean():.1%}"
    assert metric(at, "Ideal") == f"{want.ideal:.1%}"
    ideal_lines = [s for s in spec["layout"]["shapes"] if s["x0"] == s["x1"] and s["x0"] == pytest.approx(want.ideal)]
    assert ideal_lines, "the ideal accuracy is drawn as a vertical line"
    # a changed setting keeps the old histogram but says it is stale
    at.slider(key="chip_mismatch").set_value(10.0).run()
    assert "From earlier settings" in " ".join(c.value for c in at.caption)


def test_robustness_curves(example):
    at = with_example(open_chip())
    at.slider(key="chip_k").set_value(2).run()
    at.button(key="chip_sweep").click().run()
    assert not at.exception and not at.error
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    robust = next(s for s in specs if any("vs device mismatch" in (a.get("text") or "")
                                          for a in s["layout"].get("annotations", [])))
    means = [t for t in robust["data"] if t.get("name") == "mean"]
    assert len(means) == 2 and len(array(means[0]["y"])) == 7 and len(array(means[1]["y"])) == 7
    recorded = load_trained(EXAMPLE)[1].result["test_metric"]
    assert array(means[0]["y"])[0] == pytest.approx(recorded)  # sigma 0: every chip equals the ideal circuit


def test_bad_setting_shows_an_error_not_an_exception():
    at = open_chip()
    at.number_input(key="chip_cap").set_value(0.0).run()
    assert not at.exception
    assert any("cap_fF" in e.value for e in at.error)
    assert at.button(key="chip_mc").disabled and at.button(key="chip_sweep").disabled
    at.number_input(key="chip_cap").set_value(10.0).run()
    assert not at.error


def test_circuit_that_does_not_fit_the_data():
    at = open_chip()
    session(at).config.dataset = "blobs"  # 3 classes; the moons circuit has 2 read-outs
    session(at).data = None
    at.run()
    assert not at.exception
    assert any("does not fit the data" in e.value for e in at.error)
    assert at.selectbox(key="chip_load_example_choice_blobs").value == "blobs"  # the picker offers the session's data
    at.button(key="chip_load_example").click().run()
    assert not at.exception and not at.error
    assert session(at).config.dataset == "blobs" and session(at).circuit.name == "blobs trained"
    recorded = load_trained(EXAMPLE.with_name("blobs_trained.json"))[1].result["test_metric"]
    assert metric(at, "Ideal accuracy") == f"{recorded:.1%}"
    assert "the trained blobs example" in " ".join(m.value for m in at.markdown)


def test_energy_panel_spells_out_units(example):
    at = with_example(open_chip())
    assert metric(at, "Latency") == "1 ns"
    for label in ("Energy per inference", "Dissipated in devices", "Charging the inputs"):
        value = metric(at, label)
        assert value.split()[-1] in ("aJ", "fJ", "pJ", "nJ"), value
    assert metric(at, "This CPU, same forward pass").split()[-1] in ("µs", "ms", "s")
    assert metric(at, "CPU time ÷ chip latency").endswith("×")
    captions = " ".join(c.value for c in at.caption)
    assert "joules" in captions and "1 ns = 10⁻⁹ s" in captions
    # a 3x larger capacitor: 3x the latency and 3x the charging energy (the same transient, slower)
    charge = metric(at, "Charging the inputs")
    at.number_input(key="chip_cap").set_value(30.0).run()
    assert metric(at, "Latency") == "3 ns"
    c0, c1 = float(charge.split()[0]), float(metric(at, "Charging the inputs").split()[0])
    assert c1 == pytest.approx(3 * c0, rel=0.01)


def test_uses_the_train_pages_model_when_there_is_one():
    at = after_one_epoch("app_pages/chip.py")
    assert "trained on the Train page (epoch 1)" in " ".join(m.value for m in at.markdown)
