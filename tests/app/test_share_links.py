"""Share links of the Generate and Chip pages: a set-up made with the widgets goes into the address
bar, a fresh browser session opening that link gets the same set-up (settings, circuit, results), and
``hide=`` removes the page's control groups. Also: a part of a link that cannot be used is reported
and only that part falls back to its defaults."""

from __future__ import annotations

import numpy as np
import pytest
from apptest_helpers import errors, metric, open_page, session

from settings import ChipSettings, Config, GenerateSettings, examples, own_from_query, page_to_query

from kirchhoff_core import io as kio
from kirchhoff_core.generative import flow_preset

GENERATE, CHIP = "app_pages/generate.py", "app_pages/chip.py"
GEN_KEYS = {"gen_task", "gen_target", "gen_pretrained", "gen_preset", "gen_repeats", "gen_slices", "gen_duration",
            "gen_kind", "gen_lr", "gen_bs", "gen_tol", "gen_seed"}
CHIP_KEYS = {"chip_cap", "chip_cur", "chip_rails", "chip_mismatch", "chip_cap_mismatch", "chip_noise", "chip_dac_bits",
             "chip_adc_bits", "chip_jitter", "chip_in_off", "chip_k", "chip_mc", "chip_sweep"}


def keys(at) -> set[str]:
    widgets = [*at.button, *at.number_input, *at.selectbox, *at.select_slider, *at.slider, *at.radio, *at.toggle]
    return {w.key for w in widgets if w.key}


def params(circuit) -> np.ndarray:
    return np.concatenate([s.params.ravel() for s in circuit.slices])


@pytest.fixture
def no_assets(monkeypatch, tmp_path):
    monkeypatch.setenv("KIRCHHOFF_GENERATIVE_ASSETS", str(tmp_path / "none"))


def test_a_generate_setup_travels_in_the_link(no_assets):
    at = open_page(GENERATE)
    at.radio(key="gen_target").set_value("circles").run()
    at.selectbox(key="gen_repeats").set_value("[10, 10]").run()
    at.number_input(key="gen_slices").set_value(3).run()
    at.number_input(key="gen_lr").set_value(0.002).run()
    at.select_slider(key="gen_tol").set_value(1e-2).run()
    at.number_input(key="gen_seed").set_value(4).run()
    assert not at.exception and not at.error, errors(at)
    made = session(at).generate
    query = dict(at.query_params)
    # only what differs from the paper's set-up for circles, under the page's own prefix
    assert query == {"g.target": "circles", "g.repeats": "10,10", "g.slices": "3", "g.lr": "0.002", "g.tol": "0.01",
                     "g.seed": "4"}
    other = open_page(GENERATE, query)  # a fresh browser session opening the link
    got = session(other).generate
    assert got.settings == made.settings and session(other).config == Config()  # Train's set-up untouched
    np.testing.assert_array_equal(params(got.circuit), params(made.circuit))  # same seed: the same circuit
    assert got.circuit.num_devices == 3 * 120
    assert other.radio(key="gen_target").value == "circles" and other.number_input(key="gen_lr").value == 0.002
    assert other.selectbox(key="gen_repeats").value == "[10, 10]" and other.select_slider(key="gen_tol").value == 1e-2
    assert metric(other, "Held-out NLL") == metric(at, "Held-out NLL")
    assert any("g.target=circles" in c.value for c in other.code)  # the page shows its link


def test_a_density_setup_and_a_pretrained_start_travel_in_the_link(monkeypatch, tmp_path):
    at = open_page(GENERATE, {"g.task": "density", "g.potential": "U2", "g.bs": "64"})
    s = session(at).generate.settings
    assert (s.task, s.potential, s.batch_size, s.num_slices) == ("density", "U2", 64, flow_preset("U2").num_slices)
    assert at.radio(key="gen_potential").value == "U2" and not at.error
    # a pretrained circuit: the link says so, and a new session starts from the very same parameters
    monkeypatch.setenv("KIRCHHOFF_GENERATIVE_ASSETS", str(tmp_path))
    shipped = flow_preset("moons").circuit(seed=7, repeats=[5, 5], num_slices=3, duration=0.4)
    kio.save_circuit(shipped, tmp_path / "moons.json", extra={"training": {"target": "moons"}})
    at = open_page(GENERATE)
    at.button(key="gen_pretrained").click().run()
    query = dict(at.query_params)
    assert query["g.pretrained"] == "True" and query["g.repeats"] == "5,5" and query["g.slices"] == "3"
    other = open_page(GENERATE, query)
    g = session(other).generate
    assert g.settings == session(at).generate.settings and not other.error, errors(other)
    np.testing.assert_allclose(params(g.trainer.flow.to_circuit()), params(shipped), atol=1e-6)
    assert "pretrained (moons.json)" in " ".join(c.value for c in other.caption)


def test_hide_removes_the_generate_groups(no_assets):
    at = open_page(GENERATE, {"hide": "target,circuit,hyperparameters,solver,io"})
    assert not keys(at) & GEN_KEYS
    assert {"gen_play", "gen_step", "gen_reset", "gen_animate"} <= keys(at)
    assert not at.code and not at.get("download_button")
    assert any("fixed by the link" in c.value for c in at.caption)
    at.button(key="gen_step").click().run()
    assert metric(at, "Step") == "1" and not at.error
    at = open_page(GENERATE, {"hide": "solver"})  # one group only
    assert "gen_tol" not in keys(at) and {"gen_lr", "gen_repeats", "gen_task"} <= keys(at)
    assert dict(at.query_params) == {"hide": "solver"}


def test_a_chip_setup_travels_in_the_link():
    at = open_page(CHIP)
    at.button(key="chip_load_example").click().run()
    at.slider(key="chip_mismatch").set_value(20.0).run()
    at.select_slider(key="chip_adc_bits").set_value(3).run()
    at.number_input(key="chip_seed").set_value(2).run()
    at.number_input(key="chip_idx").set_value(5).run()
    at.slider(key="chip_k").set_value(6).run()
    at.number_input(key="chip_cap").set_value(30.0).run()
    assert not at.exception and not at.error, errors(at)
    query = dict(at.query_params)
    assert query == {"example": "moons_trained", "chip.cap_fF": "30.0", "chip.device_mismatch": "0.2",
                     "chip.adc_bits": "3", "chip.chip_seed": "2", "chip.sample": "5", "chip.chips": "6"}
    other = open_page(CHIP, query)
    s = session(other)
    assert s.chip.settings == session(at).chip.settings and s.circuit.name == "moons trained"
    assert other.slider(key="chip_mismatch").value == 20.0 and other.select_slider(key="chip_adc_bits").value == 3
    assert other.number_input(key="chip_idx").value == 5 and other.slider(key="chip_k").value == 6
    for label in ("Chip accuracy", "Ideal accuracy", "Chip predicts", "Latency", "Energy per inference"):
        assert metric(other, label) == metric(at, label)
    np.testing.assert_array_equal(other.dataframe[0].value["read-out (V)"], at.dataframe[0].value["read-out (V)"])
    assert any("chip.device_mismatch=0.2" in c.value for c in other.code)
    # the settings survive leaving the page and coming back
    other.switch_page("app_pages/train.py").run()
    other.switch_page(CHIP).run()
    assert other.slider(key="chip_mismatch").value == 20.0 and dict(other.query_params) == query


def test_hide_removes_the_chip_groups():
    query = {"hide": "mapping,nonidealities,montecarlo,io", "example": "moons_trained", "chip.device_mismatch": "0.05"}
    at = open_page(CHIP, query)
    assert not keys(at) & CHIP_KEYS and not at.code
    assert {"chip_seed", "chip_idx"} <= keys(at)  # the chip instance and the test sample stay
    assert any("Fixed by the link" in c.value and "device mismatch 5 %" in c.value for c in at.caption)
    assert "Monte Carlo over chip instances" not in [s.value for s in at.subheader]
    assert session(at).chip.settings.device_mismatch == 0.05 and metric(at, "Latency") == "1 ns"
    at = open_page(CHIP, {"hide": "montecarlo"})
    assert "chip_mc" not in keys(at) and {"chip_cap", "chip_mismatch"} <= keys(at)


def test_a_bad_part_of_a_link_falls_back_alone():
    at = open_page(CHIP, {"ds": "circles", "chip.cap_fF": "0", "g.target": "nowhere"})
    shown = " ".join(w.value for w in at.warning)
    assert "could not be used" in shown and "cap_fF" in shown and "g.target" in shown
    s = session(at)
    assert s.config.dataset == "circles"  # the good part is kept
    assert s.chip.settings == ChipSettings() and s.generate.settings == GenerateSettings().with_preset()


def test_page_links_round_trip_every_setting():
    chip = ChipSettings(cap_fF=12.5, rails=True, supply=0.8, rail_mode="soft", thermal_noise=True, noise_scale=30.0,
                        dac_bits=6, adc_bits=None, jitter=0.015, input_offset=0.01, chips=50)
    assert own_from_query("chip", page_to_query("chip", Config(), chip)) == chip
    gen = GenerateSettings(task="density", potential="U3").with_preset()
    assert own_from_query("generate", page_to_query("generate", Config(dataset="xor"), gen)) == gen
    assert "ds" not in page_to_query("generate", Config(dataset="xor", hide=["io"]), gen)  # its own circuit


TRAJECTORIES = "app_pages/trajectories.py"


def test_a_trained_example_link_brings_its_circuit_and_its_data():
    at = open_page(TRAJECTORIES, {"example": "spirals"})
    assert not at.error, errors(at)
    s = session(at)
    record = kio.load_trained(examples()["spirals_trained"])[1]
    assert s.circuit.name == "spirals trained" and s.config.example == "spirals_trained"
    assert (s.config.dataset, s.config.n_samples, s.config.seed) == ("spirals", 500, 0)
    assert dict(at.query_params) == {"ds": "spirals", "example": "spirals_trained"}  # the page's link reproduces it
    assert any("the trained spirals example" in w.value for w in at.success)
    accuracy = float(metric(at, "Test accuracy at T = 1").rstrip("%")) / 100
    assert accuracy == pytest.approx(record.result["test_metric"], abs=0.01)
    # checkerboard was trained on 2,000 samples: the link brings that size too; a link may still override
    at = open_page(CHIP, {"example": "checkerboard"})
    assert (session(at).config.dataset, session(at).config.n_samples) == ("checkerboard", 2000)
    assert any("the trained checkerboard example" in m.value for m in at.markdown)
    at = open_page(CHIP, {"example": "spirals", "noise": "0.5"})
    assert session(at).config.noise == 0.5 and "now spirals" not in " ".join(m.value for m in at.markdown)
    # the old names still work, and an unknown one is reported
    at = open_page(CHIP, {"example": "moons_trained"})
    assert session(at).circuit.name == "moons trained" and not at.warning
    at = open_page(CHIP, {"example": "nowhere"})
    assert any("no example circuit 'nowhere'" in w.value and "spirals" in w.value for w in at.warning)
