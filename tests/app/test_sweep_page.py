"""The Sweep page driven through AppTest: defining a space with widgets, bad input, a tiny real sweep
in a background process (serial runner: no Ray start-up) filling the table, Stop, reopening a
finished sweep from the link, and "Open in Train".

AppTest cannot fire the results fragment's timer, but the fragment also runs in every full script
run, so polling here is ``at.run()`` in a loop (bounded; nothing asserts on time). Every sweep
folder lives under the test's own sweeps root (``session.sweep.root``).
"""

from __future__ import annotations

import json
import time

import pytest
from apptest_helpers import chart, errors, open_page, session
from streamlit.testing.v1 import AppTest

from kirchhoff_core.sweeps import PRESETS, SearchSpace, SweepSpec, load_sweep, load_trial, run_serial

PAGE = "app_pages/sweep.py"
pytestmark = pytest.mark.timeout(400)


OPENED: list[AppTest] = []


@pytest.fixture(autouse=True)
def stop_started_sweeps():
    """Whatever a test leaves running is stopped (Ctrl-C, then its process group) when it ends."""
    yield
    while OPENED:
        job = session(OPENED.pop()).sweep.job
        if job is not None:
            job.stop(timeout_s=10)


def open_sweep(root, query=None, **settings) -> AppTest:
    def setup(s):
        s.sweep.root = str(root)
        for k, v in settings.items():
            setattr(s.sweep.settings, k, v)

    at = open_page(PAGE, query, setup=setup)
    OPENED.append(at)
    return at


def poll(at: AppTest, until, timeout_s: float = 240) -> None:
    """Rerun the page (what the fragment's timer does) until ``until(session)`` holds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if until(session(at)):
            return
        time.sleep(1.0)
    raise AssertionError(f"the sweep did not get there in {timeout_s:g} s; errors: {errors(at)}")


def table(at: AppTest):
    frames = [d.value for d in at.dataframe]
    assert frames, "no table of trials"
    return frames[0]


def test_the_form_writes_the_space_and_the_command(tmp_path):
    at = open_sweep(tmp_path)
    assert not at.error and not at.exception
    assert "--space lr=0.001:0.1:log:4 --space num_nodes=4,6,8" in at.code[0].value
    at.multiselect(key="sweep_names").set_value(["lr", "T", "kind"]).run()
    at.radio(key="sweep_dim_lr_mode").set_value("values").run()
    at.text_input(key="sweep_dim_lr_text").set_value("0.01, 0.03").run()
    at.text_input(key="sweep_dim_T_text").set_value("0.5,2").run()
    at.multiselect(key="sweep_dim_kind_chosen").set_value(["ShiftRelu1"]).run()
    at.selectbox(key="sweep_search").set_value("grid").run()
    assert not at.error
    command = at.code[0].value
    assert "--space lr=0.01,0.03 --space T=0.5,2 --space kind=ShiftRelu1 --search grid --epochs" in command
    assert "--trials" not in command and at.number_input(key="sweep_trials").disabled
    assert "4 trial(s)" in " ".join(c.value for c in at.caption)
    at.selectbox(key="sweep_task").set_value("generate").run()  # names the flows do not take are dropped
    s = session(at).sweep.settings
    assert s.dataset == "8gaussians" and s.names == ["lr", "T", "kind"]
    assert "--task generate --dataset 8gaussians" in at.code[0].value


@pytest.mark.parametrize("change, message", [
    (lambda at: at.number_input(key="sweep_dim_lr_low").set_value(0.5), "is inverted"),
    (lambda at: at.number_input(key="sweep_dim_lr_high").set_value(0.001), "is empty"),
    (lambda at: at.number_input(key="sweep_trials").set_value(10_000), "at most 1,000"),
    (lambda at: at.multiselect(key="sweep_names").set_value([]), "choose at least one hyperparameter"),
    (lambda at: at.text_input(key="sweep_dim_num_nodes_text").set_value("4, many"), "cannot read 'many'"),
    (lambda at: at.text_input(key="sweep_name").set_value("../elsewhere"), "sweep name"),
])
def test_bad_input_is_an_error_and_start_is_off(tmp_path, change, message):
    at = open_sweep(tmp_path)
    change(at).run()
    assert not at.exception and message in errors(at)
    assert at.button(key="sweep_start").disabled


def test_an_unknown_hyperparameter_is_named(tmp_path):
    at = open_sweep(tmp_path, names=["lr", "bogus"])
    assert "unknown hyperparameter(s) bogus" in errors(at) and not at.exception


@pytest.mark.parametrize("settings, message", [
    ({"names": ["num_nodes"], "dims": {}, "search": "grid"}, "num_nodes=1"),  # the generator refuses 1 node
    ({"address": "127.0.0.1:1"}, "cannot reach a Ray cluster at 127.0.0.1:1"),
    ({"address": "no-port-here"}, "expected HOST:PORT"),
])
def test_what_only_start_can_tell_is_an_error_too(tmp_path, settings, message):
    at = open_sweep(tmp_path, **settings)
    if "names" in settings:
        at.text_input(key="sweep_dim_num_nodes_text").set_value("1, 4").run()
    at.button(key="sweep_start").click().run()
    assert not at.exception and message in errors(at)
    assert session(at).sweep.job is None and not any(tmp_path.iterdir())  # nothing started, nothing written


def test_a_tiny_sweep_fills_the_table_and_its_best_trial_opens_in_train(tmp_path):
    at = open_sweep(tmp_path, serial=True, epochs=2, trials=2, samples=100, name="tiny")
    at.button(key="sweep_start").click().run()
    assert not at.error and not at.exception
    s = session(at)
    assert s.sweep.job is not None and s.sweep.link.name == "tiny" and at.query_params["sweep"] == "tiny"
    poll(at, lambda s: not s.sweep.job.alive)
    at.run()
    frame = table(at)
    assert list(frame["state"]) == ["finished", "finished"] and list(frame["epochs"]) == [2, 2]
    assert {"lr", "num_nodes", "time_s"} <= set(frame.columns)
    assert [m.value for m in at.metric if m.label == "finished"] == ["2"]
    assert "Stop" not in [b.label for b in at.button]
    curves = chart(at, "Learning curves")
    assert len([t for t in curves["data"] if t.get("mode") == "lines+markers"]) == 2  # one curve per trial
    parallel = chart(at, "Parallel coordinates")["data"][0]
    assert parallel["type"] == "parcoords" and [d["label"] for d in parallel["dimensions"]][-1] == "test accuracy"
    assert chart(at, "best trial")  # the best trial's decision boundary
    sweep = load_sweep(tmp_path / "tiny")
    best = sweep.best()
    assert at.selectbox(key="sweep_pick").value == best.index
    at.button(key="sweep_open_trial").click().run()
    assert not at.exception
    trial, config = load_trial(tmp_path / "tiny", best.index), session(at).config
    assert config.lr == pytest.approx(best.params["lr"]) and config.n_samples == 100 and config.dataset == "moons"
    assert session(at).circuit.num_nodes == best.params["num_nodes"]
    assert session(at).circuit.fingerprint() == trial.circuit.fingerprint()
    assert any(f"Opened trial {best.index} of the sweep tiny" in i.value for i in at.info)  # the Train page says so
    assert at.number_input(key="train_lr").value == pytest.approx(best.params["lr"])


def test_stop_keeps_the_done_trials_and_start_resumes(tmp_path):
    at = open_sweep(tmp_path, serial=True, epochs=5, samples=300, name="stopped", names=["num_nodes"], dims={},
                    search="grid")  # six trials of a second or more each: Stop lands while some are left
    at.text_input(key="sweep_dim_num_nodes_text").set_value("3, 4, 5, 6, 7, 8").run()
    at.button(key="sweep_start").click().run()
    poll(at, lambda s: any(t.done for t in load_sweep(tmp_path / "stopped").trials))
    at.button(key="sweep_stop").click().run()
    poll(at, lambda s: not s.sweep.job.alive, timeout_s=60)
    at.run()
    assert "Stopped. Every trial done so far is kept" in " ".join(i.value for i in at.info)
    kept = [t.index for t in load_sweep(tmp_path / "stopped").trials if t.done]
    assert 1 <= len(kept) < 6 and load_sweep(tmp_path / "stopped").state == "interrupted"
    at.button(key="sweep_start").click().run()  # the same folder: only the rest runs
    poll(at, lambda s: not s.sweep.job.alive)
    after = load_sweep(tmp_path / "stopped")
    assert after.state == "finished" and all(t.state == "finished" for t in after.trials)


def test_a_finished_sweep_reopens_from_its_link_with_its_lesson(tmp_path, monkeypatch):
    spec = PRESETS["too-few-nodes"].spec(epochs=1, samples=100)
    run_serial(spec, tmp_path / "lesson-small")
    other = SweepSpec(space=SearchSpace.parse(["lr=0.01,0.02"]), search="grid", epochs=1, samples=60,
                      early_stopping="none", chips=0)
    run_serial(other, tmp_path / "plain")
    monkeypatch.setenv("KIRCHHOFF_SWEEPS_ROOT", str(tmp_path))  # what a server is started with
    at = open_page(PAGE, {"sweep": "lesson-small"})  # a new session reads the link
    assert not at.error and not at.exception
    assert "what to notice" in " ".join(i.value for i in at.info)
    assert len(table(at)) == 4 and chart(at, "Parallel coordinates")
    assert set(at.selectbox(key="sweep_saved").options) == {"lesson-small", "plain"}
    at.selectbox(key="sweep_saved").set_value("plain").run()
    at.button(key="sweep_open").click().run()
    assert session(at).sweep.link.name == "plain" and len(table(at)) == 2
    assert "what to notice" not in " ".join(i.value for i in at.info)
    assert at.query_params["sweep"] == "plain"


def test_a_link_to_a_missing_or_malformed_sweep_is_a_message(tmp_path, monkeypatch):
    monkeypatch.setenv("KIRCHHOFF_SWEEPS_ROOT", str(tmp_path))
    at = open_page(PAGE, {"sweep": "gone"})
    assert "There is no sweep named 'gone'" in errors(at) and not at.exception
    at = open_page(PAGE, {"sweep": "../../etc"})
    assert "could not be used" in " ".join(w.value for w in at.warning) and not at.exception
    assert session(at).sweep.link.name == ""


def test_a_lesson_that_ran_before_is_shown_without_running_again(tmp_path):
    spec = PRESETS["tanh-vs-relu"].spec()
    (tmp_path / "lesson-tanh-vs-relu").mkdir()
    (tmp_path / "lesson-tanh-vs-relu" / "sweep.json").write_text(json.dumps(spec.to_json()))
    (tmp_path / "lesson-tanh-vs-relu" / "status.json").write_text(json.dumps({"state": "finished"}))
    at = open_sweep(tmp_path)
    at.button(key="sweep_preset_tanh-vs-relu").click().run()
    s = session(at)
    assert s.sweep.job is None and s.sweep.link.name == "lesson-tanh-vs-relu"
    assert s.sweep.settings.names == ["kind"] and "what to notice" in " ".join(i.value for i in at.info)
