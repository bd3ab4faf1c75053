"""The Trajectories page driven through AppTest: input picking, messages, mismatches, the CSV download."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import streamlit.testing.v1.app_test as app_test_module
import torch
from apptest_helpers import APP_DIR, errors, metrics, open_page, session
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from state import Config, dataset_for

from kirchhoff_core import trajectories as tj
from kirchhoff_core.generators import generate
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for

PAGE = "app_pages/trajectories.py"


def chosen(at: AppTest) -> np.ndarray:
    return session(at).trajectories.x


def test_the_page_is_in_the_navigation_and_renders_with_defaults():
    at = AppTest.from_file(str(APP_DIR / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/trajectories.py").run()
    assert not at.exception and not at.error
    assert at.header[0].value == "Trajectories"
    s = session(at)
    assert s.config == Config() and s.circuit.num_nodes == 8
    data = s.data or dataset_for(s.config)
    np.testing.assert_array_equal(chosen(at), data.x_test[0])
    m = metrics(at)
    assert {"Predicted class", "Confidence at T", "Decided at t =", "True class"} <= set(m)
    assert m["True class"] == str(int(data.y_test[0]))
    assert "Test accuracy at T = 1" in m
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # picker, watch, flow, sweep
    assert any("as built: not trained" in i.value for i in at.info)


def test_a_test_set_index_picks_that_input_and_its_prediction():
    at = open_page(PAGE)
    s = session(at)
    data = dataset_for(s.config)
    at.number_input(key="traj_index").set_value(7).run()
    assert not at.exception and not at.error
    np.testing.assert_array_equal(chosen(at), data.x_test[7])
    assert at.number_input(key="traj_x1").value == pytest.approx(data.x_test[7, 0])
    assert at.number_input(key="traj_x2").value == pytest.approx(data.x_test[7, 1])
    assert metrics(at)["True class"] == str(int(data.y_test[7]))
    assert any("test point #7" in md.value for md in at.markdown)
    # The predicted class is what the model says at T for this input.
    model = KirchhoffNet(s.circuit, s.config.solver_config())
    with torch.no_grad():
        out = model(torch.tensor(data.x_test[7:8], dtype=torch.float32))[0]
    assert metrics(at)["Predicted class"] == str(int(out.argmax()))


def test_typed_coordinates_are_used_and_bad_ones_get_a_message():
    at = open_page(PAGE)
    at.number_input(key="traj_x1").set_value(0.25).run()
    at.number_input(key="traj_x2").set_value(-1.5).run()
    assert not at.exception and not at.error
    np.testing.assert_allclose(chosen(at), [0.25, -1.5])
    assert session(at).trajectories.x_from == "typed coordinates"
    assert "True class" not in metrics(at)  # not a test point any more
    at.number_input(key="traj_x1").set_value(5000.0).run()
    assert not at.exception
    assert "x1: 5000 V is outside" in errors(at) and "previous input is kept" in errors(at)
    np.testing.assert_allclose(chosen(at), [0.25, -1.5])
    assert at.number_input(key="traj_x1").value == pytest.approx(0.25)  # the field shows what is used


def test_a_mismatched_circuit_is_explained_and_the_example_fixes_it():
    def three_inputs(s):
        s.circuit = generate("fully_connected", num_nodes=6, n_inputs=3, n_outputs=2, seed=0)

    at = open_page(PAGE, setup=three_inputs)
    assert "does not match the dataset 'moons'" in errors(at) and "3 input node(s)" in errors(at)
    assert any("need a dataset that matches" in i.value for i in at.info)
    assert len(chosen(at)) == 3  # typed inputs still work: a trajectory of the circuit as it is
    assert "Predicted class" in metrics(at)
    at.button(key="traj_load_example").click().run()
    assert not at.exception and not at.error
    s = session(at)
    assert s.circuit.name == "moons trained" and s.config.dataset == "moons"
    accuracy = float(metrics(at)["Test accuracy at T = 1"].rstrip("%")) / 100
    assert accuracy >= 0.95
    assert any("Loaded the example" in i.value for i in at.info)


def test_a_circuit_that_blows_up_gives_a_message_not_a_traceback():
    def exploding(s):
        c = generate("fully_connected", num_nodes=4, n_inputs=2, n_outputs=2, kind="Conductance", seed=0)
        c.slices[0].params[:, 0] = -60.0  # negative resistors everywhere: exponential growth
        s.circuit = c

    at = open_page(PAGE, setup=exploding)
    assert not at.exception
    assert "Could not simulate this input" in errors(at)
    assert "Could not simulate the test set" in errors(at) or "Could not evaluate" in errors(at)


def test_other_datasets_degrade_gracefully():
    def sine(s):
        s.config.dataset = "sine"
        s.circuit = build_circuit(preset_for("sine"))

    at = open_page(PAGE, setup=sine)
    assert not at.exception and not at.error
    assert "Test R² at T = 1" in metrics(at) and "Read-out at T" in metrics(at)
    assert any("flow view is for 2-D inputs" in c.value for c in at.caption)
    assert any("needs 2-D inputs" in c.value for c in at.caption)

    def digits(s):
        s.config.dataset = "digits"
        s.circuit = build_circuit(preset_for("digits"))

    at = open_page(PAGE, setup=digits)
    assert not at.exception and not at.error
    assert any("no plane to click in" in c.value for c in at.caption)
    assert "Predicted class" in metrics(at)
    at.number_input(key="traj_index").set_value(3).run()
    assert not at.exception and len(chosen(at)) == 64


@pytest.fixture
def media(monkeypatch) -> list[MemoryMediaFileStorage]:
    """The real in-memory media store AppTest gives each run, recorded so a download can be read."""
    stores: list[MemoryMediaFileStorage] = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            stores.append(self)

    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Recording)
    return stores


def downloaded(at: AppTest, media: list[MemoryMediaFileStorage], key: str) -> str:
    button = next(b for b in at.get("download_button") if b.proto.id.endswith(key))
    file_id = button.proto.url.rsplit("/", 1)[-1].split(".")[0]
    return media[-1].get_file(file_id).content.decode()


def test_the_csv_download_holds_the_trajectory(media):
    at = open_page(PAGE)
    at.number_input(key="traj_index").set_value(3).run()
    s = session(at)
    data = dataset_for(s.config)
    frame = pd.read_csv(io.StringIO(downloaded(at, media, "traj_csv")))
    assert list(frame.columns) == ["t", "slice"] + [f"v{n}" for n in range(1, 9)]
    assert len(frame) == 101 and frame["t"].iloc[0] == 0.0 and frame["t"].iloc[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(frame[["v1", "v2"]].iloc[0], data.x_test[3], atol=1e-6)
    model = KirchhoffNet(s.circuit, s.config.solver_config())
    expected = tj.compute_trajectory(model, data.x_test[3], 100).voltages
    np.testing.assert_allclose(frame[[f"v{n}" for n in range(1, 9)]].to_numpy(), expected, atol=1e-6)
    with torch.no_grad():
        out = model(torch.tensor(data.x_test[3:4], dtype=torch.float32))[0].numpy()
    np.testing.assert_allclose(frame[["v7", "v8"]].iloc[-1], out, atol=1e-6)  # the read-out at T

    at.toggle(key="traj_csv_currents").set_value(True).run()
    full = pd.read_csv(io.StringIO(downloaded(at, media, "traj_csv")))
    devices = s.circuit.slices[0]
    assert full.shape == (101, 10 + devices.num_devices)
    col = f"i_s0_d5_{devices.src[5]}to{devices.dst[5]}"
    v = np.concatenate([[0.0], full[[f"v{n}" for n in range(1, 9)]].iloc[50].to_numpy()])
    p = devices.params[5]
    assert full[col].iloc[50] == pytest.approx(np.tanh(p[0] * v[devices.src[5]] + p[1] * v[devices.dst[5]] + p[2]),
                                               abs=1e-5)  # ShiftTanh2 from the row's own voltages
