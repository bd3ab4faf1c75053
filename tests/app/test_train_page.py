"""The Train page driven through AppTest: buttons, live ticks, URL state, errors, isolation.

AppTest cannot fire ``st.fragment(run_every=...)`` timers, but the live fragment also runs as part
of every full script run and trains while ``session.playing`` is set, so a "tick" here is one
``at.run()`` with Play on: the same code path the timer takes.
"""

from __future__ import annotations

import pytest
from apptest_helpers import errors, metric, open_page, session
from streamlit.testing.v1 import AppTest

from state import Config

from kirchhoff_core import io as kio
from kirchhoff_core.generators import generate
from kirchhoff_core.presets import preset_for


def open_train(query: dict[str, str] | None = None) -> AppTest:
    return open_page("app_pages/train.py", query, timeout=90)


@pytest.fixture
def at() -> AppTest:
    return open_train()


def test_page_renders_with_the_default_moons_setup(at):
    s = session(at)
    assert s.config == Config()
    assert s.data.name == "moons" and s.trainer is not None and s.trainer.epoch == 0
    assert s.circuit.num_nodes == 8 and s.circuit.outputs == [7, 8]
    assert metric(at, "Epoch") == "0"
    assert not at.error
    labels = [b.label for b in at.button]
    assert {"Play", "Step", "Reset"} <= set(labels)
    assert at.radio(key="train_dataset").value == "moons"
    assert at.number_input(key="train_lr").value == pytest.approx(preset_for("moons").train.lr)
    assert at.selectbox(key="train_method").value == "dopri5"


def test_bound_widgets_default_to_the_session_value():
    """A browser that never got the run setting a widget's state shows the widget's default: it must be
    the session's value (it was 0 for the number boxes, and the tolerance slider's minimum)."""
    at = open_train({"lr": "0.05", "bs": "16", "tol": "0.01"})
    assert at.number_input(key="train_T").proto.default == pytest.approx(1.0)  # the circuit's T
    assert at.number_input(key="train_lr").proto.default == pytest.approx(0.05)
    assert at.number_input(key="train_bs").proto.default == 16
    tol = at.select_slider(key="train_tol")
    assert [float(tol.options[int(i)]) for i in tol.proto.default] == [tol.value] and tol.value == pytest.approx(0.01)
    assert not at.error and not at.exception
    # a radio's default is an index (it was 0, moons, and a link's circles turned back into moons)
    at = open_train({"ds": "circles", "seed": "3"})
    dataset = at.radio(key="train_dataset")
    assert dataset.value == "circles" and dataset.options[dataset.proto.default] == "circles"
    # a multiselect's default is the list itself
    nodes = at.multiselect(key="train_outputs")
    assert [nodes.options[int(i)] for i in nodes.proto.default] == [str(n) for n in session(at).circuit.outputs]


def test_step_moves_the_epoch_counter_and_the_loss(at):
    at.button(key="train_step").click().run()
    assert not at.exception and not at.error
    s = session(at)
    assert s.trainer.epoch == 1
    assert metric(at, "Epoch") == "1"
    first = float(metric(at, "Train loss"))
    assert first == pytest.approx(s.trainer.history[-1].train_loss, abs=1e-4)
    at.button(key="train_step").click().run()
    assert metric(at, "Epoch") == "2"
    assert float(metric(at, "Train loss")) != first
    assert s.trainer.history[-1].train_loss < s.trainer.history[0].train_loss + 0.5
    # the solver-health panel reports this run's work
    assert int(metric(at, "NFE/step forward")) > 0


def test_play_ticks_train_until_paused(at):
    at.button(key="train_play").click().run()
    s = session(at)
    assert s.playing and not at.exception
    after_first_tick = s.trainer.epoch
    assert after_first_tick >= 1
    assert at.button(key="train_play").label == "Pause"
    assert at.button(key="train_step").disabled
    at.run()  # the next tick (what the timer would trigger)
    assert s.trainer.epoch > after_first_tick
    at.button(key="train_play").click().run()  # pause
    paused_at = s.trainer.epoch
    assert not s.playing
    at.run()
    assert s.trainer.epoch == paused_at


def test_changing_the_learning_rate_mid_run_keeps_the_epoch(at):
    at.button(key="train_step").click().run()
    at.button(key="train_step").click().run()
    s = session(at)
    trainer = s.trainer
    at.number_input(key="train_lr").set_value(0.05).run()
    assert not at.exception
    assert s.trainer is trainer and trainer.epoch == 2
    assert s.config.lr == 0.05 and trainer.config.lr == 0.05
    assert all(g["lr"] == 0.05 for g in trainer.optimizer.param_groups)
    assert not any("restarted" in i.value for i in at.info)
    at.button(key="train_step").click().run()
    assert trainer.epoch == 3 and trainer.history[-1].lr == 0.05
    assert dict(at.query_params)["lr"] == "0.05"


def test_a_structural_change_rebuilds_the_trainer_and_says_so(at):
    at.button(key="train_step").click().run()
    old = session(at).trainer
    at.number_input(key="train_bs").set_value(64).run()
    s = session(at)
    assert s.trainer is not old and s.trainer.epoch == 0 and s.trainer.config.batch_size == 64
    assert any("restarted from epoch 0" in i.value for i in at.info)


def test_reset_goes_back_to_epoch_zero(at):
    at.button(key="train_step").click().run()
    at.button(key="train_reset").click().run()
    assert session(at).trainer.epoch == 0 and metric(at, "Epoch") == "0"


def _exploding_circuit_json() -> bytes:
    c = generate("fully_connected", num_nodes=8, inputs=[1, 2], outputs=[7, 8], kind="Conductance")
    c.slices[0].params[:, 0] = -200.0  # negative conductances: every voltage grows like e^(200 t)
    return kio.dumps_circuit(c).encode()


def test_a_circuit_that_blows_up_pauses_training_with_a_message():
    at = open_train({"solver": "euler"})
    at.file_uploader(key="train_model_upload").upload("boom.json", _exploding_circuit_json(), "application/json")
    at.run()
    assert not at.exception, at.exception
    s = session(at)
    assert s.circuit.slices[0].kind[0] == "Conductance" and s.config.method == "euler"
    assert "Loaded boom.json" in " ".join(i.value for i in at.info)
    at.button(key="train_play").click().run()
    assert not at.exception
    assert "blew up" in errors(at) and "Training paused" in errors(at)
    assert not s.playing
    assert at.button(key="train_play").label == "Play"  # the page still renders and works
    assert metric(at, "Epoch") == "0"
    at.button(key="train_step").click().run()
    assert not at.exception and "blew up" in errors(at)
    # switching to a stable device kind brings the page back to a trainable circuit
    at.selectbox(key="train_kind").set_value("ShiftTanh2").run()
    at.selectbox(key="train_method").set_value("dopri5").run()
    at.button(key="train_step").click().run()
    assert not at.exception and not at.error and s.trainer.epoch == 1


def test_a_bad_model_upload_keeps_the_previous_circuit(at):
    before = session(at).circuit
    broken = b'{"format": "kirchhoffnet-circuit"'
    at.file_uploader(key="train_model_upload").upload("bad.json", broken, "application/json")
    at.run()
    assert not at.exception
    assert "bad.json" in errors(at) and "malformed JSON" in errors(at)
    assert session(at).circuit is before


def test_url_params_restore_the_configuration():
    at = open_train({"ds": "circles", "lr": "0.05", "hide": "solver"})
    s = session(at)
    assert s.config.dataset == "circles" and s.config.lr == 0.05 and s.config.hide == ["solver"]
    assert s.data.name == "circles" and s.trainer.config.lr == 0.05
    assert at.radio(key="train_dataset").value == "circles"
    assert at.number_input(key="train_lr").value == pytest.approx(0.05)
    keys = {w.key for w in at.selectbox}
    assert "train_method" not in keys and "train_opt" in keys  # the solver group is hidden
    assert dict(at.query_params) == {"ds": "circles", "lr": "0.05", "hide": "solver"}
    assert any("ds=circles" in c.value and "lr=0.05" in c.value for c in at.code)  # the share link


def test_classroom_mode_hides_every_group():
    at = open_train({"hide": "dataset,hyperparameters,solver,io"})
    keys = {w.key for w in [*at.selectbox, *at.number_input, *at.radio, *at.slider]}
    assert not keys & {"train_dataset", "train_lr", "train_method", "train_n", "train_opt"}
    assert not at.code and not at.get("download_button")
    assert {"train_play", "train_step", "train_reset"} <= {b.key for b in at.button}


def test_malformed_url_params_give_a_message_not_a_crash():
    at = open_train({"lr": "fast"})
    assert session(at).config == Config()
    at = open_train({"ds": "nonsense", "n": "5"})
    assert "unknown name 'nonsense'" in errors(at)
    s = session(at)
    assert s.config.dataset == "moons" and s.trainer is not None
    at = open_train({"n": "5"})  # parses, but make_dataset refuses it
    assert "n_samples" in errors(at) and session(at).config.n_samples == 500


def test_two_sessions_are_independent():
    a, b = open_train(), open_train()
    a.button(key="train_step").click().run()
    a.number_input(key="train_lr").set_value(0.1).run()
    b.run()
    assert session(a).trainer.epoch == 1 and session(b).trainer.epoch == 0
    assert session(a).config.lr == 0.1 and session(b).config.lr == preset_for("moons").train.lr
    assert session(a).trainer.model is not session(b).trainer.model


def test_a_dataset_the_circuit_does_not_fit_offers_fixes(at):
    at.radio(key="train_dataset").set_value("blobs").run()
    assert not at.exception
    s = session(at)
    assert s.trainer is None and "3 classes" in errors(at)
    assert at.button(key="train_play").disabled
    at.button(key="train_fix_roles").click().run()
    assert s.circuit.outputs == [6, 7, 8] and s.trainer is not None and not at.error
    at.radio(key="train_dataset").set_value("sine").run()
    assert s.trainer is None and "1 feature" in errors(at)
    at.button(key="train_fix_preset").click().run()
    assert s.trainer is not None and s.circuit.inputs == [1] and s.config.lr == 0.05
    at.button(key="train_step").click().run()
    assert not at.exception and not at.error and metric(at, "Epoch") == "1"
    assert metric(at, "Test R²") != "—"


def test_uploaded_points_become_the_dataset(at):
    rows = ["x1,x2,label"] + [f"{i / 10},{(i % 5) / 5},{i % 2}" for i in range(40)]
    at.file_uploader(key="train_csv").upload("pts.csv", "\n".join(rows).encode(), "text/csv")
    at.run()
    assert not at.exception and not at.error
    s = session(at)
    assert s.config.dataset == "custom" and len(s.custom_points) == 40
    assert s.data.name == "custom" and s.trainer is not None
    at.button(key="train_step").click().run()
    assert s.trainer.epoch == 1


def test_a_bad_csv_shows_the_core_message(at):
    at.file_uploader(key="train_csv").upload("bad.csv", b"a,b\n1,2\n", "text/csv")
    at.run()
    assert not at.exception
    assert "missing column(s) x1, x2, label" in errors(at)
    assert session(at).config.dataset == "moons"


def test_points_entered_by_hand(at):
    at.radio(key="train_dataset").set_value("custom").run()
    s = session(at)
    assert s.trainer is None and not at.exception
    assert any("need between 10" in w.value for w in at.warning)
    for i in range(12):
        at.number_input(key="train_px").set_value(i / 6 - 1)
        at.number_input(key="train_py").set_value((i % 3) / 3)
        at.number_input(key="train_pl").set_value(i % 2)
        at.button(key="FormSubmitter:train_add_point-Add point").click().run()
    assert len(s.custom_points) == 12 and s.trainer is not None and not at.exception
    at.button(key="train_clear_points").click().run()
    assert s.custom_points == [] and s.trainer is None


def test_a_downloaded_model_with_its_training_record_loads_back(at):
    from kirchhoff_core.generators import generate as gen
    c = gen("fully_connected", num_nodes=5, inputs=[1, 2], outputs=[4, 5], kind="ShiftTanh1")
    doc = kio.dumps_circuit(c, extra={"training": {"epoch": 3, "history": [], "config": {"lr": 0.02}}})
    at.file_uploader(key="train_model_upload").upload("mine.json", doc.encode(), "application/json")
    at.run()
    assert not at.exception and not at.error
    s = session(at)
    assert s.circuit.num_nodes == 5 and s.trainer is not None and s.trainer.model.circuit.num_nodes == 5
    assert at.selectbox(key="train_kind").value == "ShiftTanh1"
    assert at.download_button(key="train_download").label == "Download model (JSON)"


def test_circuit_changes_travel_through_the_link(at):
    at.radio(key="train_dataset").set_value("blobs").run()
    at.button(key="train_fix_roles").click().run()
    at.number_input(key="train_T").set_value(2.0).run()
    at.selectbox(key="train_kind").set_value("ShiftTanh1").run()
    assert not at.exception and not at.error
    s = session(at)
    assert s.circuit.t_end == 2.0 and s.circuit.outputs == [6, 7, 8] and s.trainer.model.t_end == 2.0
    assert set(s.circuit.slices[0].kind.tolist()) == {"ShiftTanh1"}
    query = dict(at.query_params)
    assert query["ds"] == "blobs" and "gp" in query
    other = open_train(query)  # a fresh browser session opening the shared link
    o = session(other)
    assert o.circuit.t_end == 2.0 and o.circuit.outputs == [6, 7, 8] and o.trainer is not None
    assert set(o.circuit.slices[0].kind.tolist()) == {"ShiftTanh1"}
    assert o.config == s.config


def test_node_maps_share_one_scale_or_each_have_their_own(at):
    def shown():
        assert at.get("image"), "no node maps drawn"
        return session(at).train.figures.last("nodes")

    shared = shown()
    assert shared.shared and "7 · out 0" in shared.titles and len(set(shared.limits)) == 1
    at.toggle(key="train_node_scale").set_value(True).run()
    assert not at.exception and not at.error
    own = shown()
    assert not own.shared and len(set(own.limits)) > 1 and max(own.limits) == shared.limits[0]
    assert all(f"±{lim:.2g} V" in title for lim, title in zip(own.limits, own.titles))
    assert any("scaled to its own largest" in c.value for c in at.caption)
