"""The Generate page driven through AppTest: defaults, Step / Reset, live ticks, density matching,
pretrained circuits (present, missing, broken), a set-up that blows up, and the flow animation.

AppTest cannot fire the ``st.fragment(run_every=...)`` timer, but the live fragment also runs in
every full script run and trains while playing, so one ``at.run()`` with Play on is one tick.
"""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest
import torch
from apptest_helpers import chart, errors, metric, open_page, session
from apptest_helpers import plotly_array as arr
from streamlit.testing.v1 import AppTest

from kirchhoff_core import io as kio
from kirchhoff_core.generative import CircuitFlow, GenerativeConfig, GenerativeTrainer, flow_preset
from kirchhoff_core.solvers import SolverConfig

def open_generate(monkeypatch, assets: pathlib.Path) -> AppTest:
    monkeypatch.setenv("KIRCHHOFF_GENERATIVE_ASSETS", str(assets))
    return open_page("app_pages/generate.py")


@pytest.fixture
def at(monkeypatch, tmp_path) -> AppTest:
    return open_generate(monkeypatch, tmp_path / "no-assets-here")


def page(at: AppTest):
    return session(at).generate


def params(trainer: GenerativeTrainer) -> np.ndarray:
    return torch.cat([p.detach().flatten() for p in trainer.flow.parameters()]).numpy().copy()


def test_renders_with_the_moons_preset(at):
    p = page(at)
    s = p.settings
    preset = flow_preset("moons")
    assert (s.task, s.target, s.kind, s.num_slices, s.duration) == ("generate", "moons", preset.kind,
                                                                  preset.num_slices, preset.duration)
    assert p.circuit.num_devices == 2 * 300  # the paper's [25, 25]: 300 devices per slice
    assert not at.error
    assert {"Play", "Step", "Reset", "Load pretrained"} <= {b.label for b in at.button}
    assert metric(at, "Step") == "0" and metric(at, "Batch NLL") == "—"
    held_out = float(metric(at, "Held-out NLL"))
    assert held_out == pytest.approx(p.trainer.evaluate(), abs=1e-3) and math.isfinite(held_out)
    assert metric(at, "Paper's final NLL") == "1.011"
    overview = chart(at, "target density")
    heat = [t for t in overview["data"] if t["type"] == "heatmap"]
    assert len(heat) == 2 and all(t["coloraxis"] == "coloraxis" for t in heat)  # one shared colour scale
    assert at.radio(key="gen_task").value == "generate" and at.radio(key="gen_target").value == "moons"


def test_step_changes_the_nll_and_reset_returns_to_step_0(at):
    p = page(at)
    trainer = p.trainer
    initial = params(trainer)
    held0 = metric(at, "Held-out NLL")
    at.button(key="gen_step").click().run()
    assert not at.exception and not at.error, errors(at)
    assert trainer.steps_done == 1 and metric(at, "Step") == "1"
    first = float(metric(at, "Batch NLL"))
    assert first == pytest.approx(trainer.history[-1].train_loss, abs=1e-4)
    assert metric(at, "Held-out NLL") != held0  # Step refreshes the held-out NLL too
    assert int(metric(at, "NFE/step")) > 0
    assert chart(at, "model density at step 1")
    at.button(key="gen_step").click().run()
    assert metric(at, "Step") == "2" and float(metric(at, "Batch NLL")) != first
    assert not np.allclose(params(trainer), initial)

    # the learning rate and the tolerance apply without a restart
    at.number_input(key="gen_lr").set_value(0.002).run()
    at.select_slider(key="gen_tol").set_value(1e-2).run()
    assert p.trainer is trainer and trainer.steps_done == 2
    assert trainer.config.lr == 0.002 and trainer.flow.solver.rtol == 1e-2
    assert not any("restarted" in i.value for i in at.info)

    at.button(key="gen_reset").click().run()
    assert not at.exception
    assert trainer.steps_done == 0 and metric(at, "Step") == "0" and metric(at, "Batch NLL") == "—"
    assert metric(at, "Held-out NLL") == held0
    np.testing.assert_array_equal(params(trainer), initial)

    # a structural change rebuilds the trainer and says so
    at.button(key="gen_step").click().run()
    at.selectbox(key="gen_repeats").set_value("[10, 10]").run()
    assert p.trainer is not trainer and p.circuit.num_devices == 2 * 120
    assert any("restarted from step 0 (it was at step 1)" in i.value for i in at.info)


def test_play_ticks_train_until_paused(at):
    p = page(at)
    at.button(key="gen_play").click().run()
    assert p.playing and not at.exception, errors(at)
    after_first = p.trainer.steps_done
    assert after_first >= 1
    assert at.button(key="gen_play").label == "Pause" and at.button(key="gen_step").disabled
    at.run()  # the next tick
    assert p.trainer.steps_done > after_first
    at.button(key="gen_play").click().run()  # pause
    paused_at = p.trainer.steps_done
    at.run()
    assert not p.playing and p.trainer.steps_done == paused_at
    assert not at.error, errors(at)


def test_density_matching_with_u1(at):
    at.radio(key="gen_task").set_value("density").run()
    assert not at.exception and not at.error, errors(at)
    p = page(at)
    s = p.settings
    preset = flow_preset("U1")
    assert s.task == "density" and s.name == "U1" and at.radio(key="gen_potential").value == "U1"
    assert (s.kind, s.num_slices) == (preset.kind, preset.num_slices)  # the paper's potential circuit
    assert p.trainer.metric == "kl"
    assert metric(at, "log Z") == f"{p.trainer.log_z:.3f}"
    assert chart(at, "target exp(−U1) / Z")
    at.button(key="gen_step").click().run()
    assert not at.error, errors(at)
    kl = float(metric(at, "Batch KL"))
    assert math.isfinite(kl) and kl == pytest.approx(p.trainer.history[-1].train_loss, abs=1e-4)


def test_load_pretrained_without_an_asset_or_with_a_broken_one(monkeypatch, tmp_path):
    at = open_generate(monkeypatch, tmp_path)
    circuit = page(at).circuit
    at.button(key="gen_pretrained").click().run()
    assert not at.exception
    assert "No pretrained circuit ships for moons yet" in errors(at)
    assert page(at).circuit is circuit  # nothing changed
    (tmp_path / "moons.json").write_text("{not json")
    at.button(key="gen_pretrained").click().run()
    assert "The pretrained circuit for moons could not be used (moons.json" in errors(at)
    # a valid circuit that cannot be a 2-D flow (8 nodes)
    kio.save_circuit(flow_preset("moons").circuit(num_nodes=8), tmp_path / "moons.json")
    at.button(key="gen_pretrained").click().run()
    assert "could not be used" in errors(at) and "2 node" in errors(at)
    # trained for another target
    kio.save_circuit(flow_preset("moons").circuit(), tmp_path / "moons.json", extra={"training": {"target": "circles"}})
    at.button(key="gen_pretrained").click().run()
    assert "trained for 'circles', not 'moons'" in errors(at)
    assert page(at).circuit is circuit and not at.exception


def test_load_pretrained_asset(monkeypatch, tmp_path):
    # a small circuit, trained for two steps: the page must start from exactly these parameters
    flow = CircuitFlow(flow_preset("moons").circuit(seed=4, repeats=[5, 5], num_slices=3, duration=0.4),
                       SolverConfig(rtol=1e-3, atol=1e-3))
    GenerativeTrainer(flow, GenerativeConfig(target="moons", batch_size=64, eval_size=10, eval_every=0)).run(2)
    trained = flow.to_circuit()
    kio.save_circuit(trained, tmp_path / "moons.json",
                     extra={"training": {"target": "moons", "result": {"steps": 2, "nll": 3.21},
                                         "config": {"eval_size": 2000}}})
    at = open_generate(monkeypatch, tmp_path)
    at.button(key="gen_step").click().run()
    at.button(key="gen_pretrained").click().run()
    assert not at.exception and not at.error, errors(at)
    assert any("Loaded the pretrained circuit for moons (2 steps, held-out NLL 3.210 on 2,000 samples)" in i.value for i in at.info)
    p = page(at)
    s = p.settings
    assert (s.repeats, s.num_slices, s.duration, s.lr) == ((5, 5), 3, 0.4, 1e-4)  # lr: fine-tuning
    assert p.trainer.config.lr == 1e-4
    assert at.selectbox(key="gen_repeats").value == "[5, 5]" and at.number_input(key="gen_slices").value == 3
    loaded = np.concatenate([sl.params.ravel() for sl in p.trainer.flow.to_circuit().slices])
    np.testing.assert_allclose(loaded, np.concatenate([sl.params.ravel() for sl in trained.slices]), atol=1e-6)
    assert metric(at, "Step") == "0"
    assert not any("restarted" in i.value for i in at.info)
    # a pretrained circuit animates at once, and Reset returns to it after training
    assert len(chart(at, "t = 0.00 of 1.20")["frames"]) == 16
    at.button(key="gen_step").click().run()
    at.button(key="gen_reset").click().run()
    again = np.concatenate([sl.params.ravel() for sl in p.trainer.flow.to_circuit().slices])
    np.testing.assert_allclose(again, loaded, atol=0)


def test_an_exploding_setup_gives_a_message_not_a_traceback(at):
    # linear conductances (some negative) over T = 32 x 5: the voltages grow like e^T
    at.selectbox(key="gen_kind").set_value("Conductance")
    at.number_input(key="gen_duration").set_value(5.0)
    at.number_input(key="gen_slices").set_value(32).run()  # one run, three callbacks
    assert page(at).settings.kind == "Conductance" and page(at).circuit.t_end == 160
    assert not at.exception
    assert "Could not evaluate the held-out NLL" in errors(at) or "not finite" in errors(at), errors(at)
    at.button(key="gen_step").click().run()
    assert not at.exception
    assert "Training paused at step 0" in errors(at), errors(at)
    assert not page(at).playing
    # the paper's circuit button recovers
    at.button(key="gen_preset").click().run()
    assert not at.exception and not at.error, errors(at)
    assert page(at).settings.kind == "ShiftTanh2" and page(at).trainer is not None


def test_the_flow_animation_has_frames_fixed_axes_and_redraws(at):
    at.button(key="gen_animate").click().run()
    assert not at.exception and not at.error, errors(at)
    fig = chart(at, "t = 0.00 of 1.00 · slice 1")
    frames = fig["frames"]
    assert len(frames) == 16
    assert frames[-1]["layout"]["title"]["text"].startswith("t = 1.00 of 1.00 · slice 2")
    kinds = [t["type"] for t in frames[0]["data"]]
    assert kinds == ["heatmap", "scattergl", "scattergl"]  # density, arrows, samples (WebGL: see the view)
    assert len(arr(frames[0]["data"][2]["x"])) == 500
    # the samples move, the density morphs
    assert not np.allclose(arr(frames[0]["data"][2]["x"]), arr(frames[-1]["data"][2]["x"]))
    z0, z1 = (arr(f["data"][0]["z"]) for f in (frames[0], frames[-1]))
    assert z0.shape == (32, 32)
    assert np.abs(z0 - z1).max() > 1e-3
    play = fig["layout"]["updatemenus"][0]["buttons"][0]
    assert play["label"] == "Play" and play["args"][1]["frame"]["redraw"] is True
    assert fig["layout"]["xaxis"]["range"] == [-2.5, 2.5] and fig["layout"]["yaxis"]["range"] == [-2.5, 2.5]
    assert len(fig["layout"]["sliders"][0]["steps"]) == 16
    # the animation button is disabled until the model changes
    assert at.button(key="gen_animate").disabled
    at.button(key="gen_step").click().run()
    assert not at.button(key="gen_animate").disabled
    assert "Update the animation (step 1)" == at.button(key="gen_animate").label


def test_two_spirals_explains_why_the_paper_is_below_the_entropy(monkeypatch, tmp_path):
    monkeypatch.setenv("KIRCHHOFF_GENERATIVE_ASSETS", str(tmp_path / "no-assets-here"))
    at = open_page("app_pages/generate.py", {"g.target": "2spirals", "g.bs": "64"})
    at.button(key="gen_step").click().run()
    assert not at.exception and not errors(at)
    assert any("one fixed set of 512 points" in c.value and "below the entropy" in c.value for c in at.caption)
    spec = chart(at, "paper 2.636")
    paper = next(a for a in spec["layout"]["annotations"] if a["text"].startswith("paper"))
    assert "512 fixed training points" in paper["hovertext"]
