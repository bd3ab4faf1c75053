"""Guard rails on the Train and Generate pages (AppTest): the settings check before training with its
fix, refused out-of-range numbers with the valid range, and the hint after a loss jump."""

from __future__ import annotations

import pytest
from apptest_helpers import errors, open_page, session
from streamlit.testing.v1 import AppTest

from kirchhoff_core.presets import preset_for

MOONS_LR = preset_for("moons").train.lr


def warnings(at: AppTest) -> str:
    return " | ".join(w.value for w in at.warning)


@pytest.fixture
def at() -> AppTest:
    return open_page("app_pages/train.py", timeout=90)


def test_the_default_set_up_has_no_warning(at):
    assert not at.warning and not at.error


def test_read_out_time_1000_is_explained_and_fixed_by_one_click(at):
    at.number_input(key="train_T").set_value(1000.0).run()
    assert not at.exception
    text = warnings(at)
    assert "Read-out time T = 1000 is" in text and "training stalls" in text
    fix = at.button(key="train_guard_0_read_out_time")
    assert fix.label.startswith("Use T = ")
    suggested = float(fix.label.removeprefix("Use T = "))
    assert 0.3 < suggested < 5
    fix.click().run()
    assert session(at).circuit.t_end == pytest.approx(suggested)
    assert at.number_input(key="train_T").value == pytest.approx(suggested)
    assert "Read-out time" not in warnings(at)


@pytest.mark.parametrize("bad, shown", [(-5.0, "-5"), (99_999_999.0, "99,999,999")])
def test_an_out_of_range_learning_rate_is_refused_with_the_range(at, bad, shown):
    at.number_input(key="train_lr").set_value(bad).run()
    assert not at.exception
    assert f"Learning rate: {shown} is outside the valid range 1e-05 to 10; kept {MOONS_LR:g}." in errors(at)
    assert session(at).config.lr == MOONS_LR
    assert at.number_input(key="train_lr").value == MOONS_LR  # the box shows the kept value again


def test_too_many_samples_are_refused_with_the_range(at):
    before = session(at).config.n_samples
    at.number_input(key="train_n").set_value(99_999_999).run()
    assert f"Samples: 99,999,999 is outside the valid range 10 to 100,000; kept {before}." in errors(at)
    assert session(at).config.n_samples == before


def test_a_diverging_learning_rate_is_warned_about_before_training(at):
    at.number_input(key="train_lr").set_value(5.0).run()
    assert session(at).config.lr == 5.0  # allowed, but explained
    assert "A learning rate of 5 with adam" in warnings(at)
    at.button(key="train_guard_0_lr").click().run()
    assert session(at).config.lr == 0.01 and "learning rate of" not in warnings(at)


def test_a_loss_jump_after_a_learning_rate_change_gets_a_hint(at):
    for _ in range(3):
        at.button(key="train_step").click().run()
    at.number_input(key="train_lr").set_value(10.0).run()
    for _ in range(3):
        at.button(key="train_step").click().run()
    assert not at.exception
    history = session(at).trainer.history
    assert max(r.train_loss for r in history[3:]) >= 1.5 * history[2].train_loss, "lr 10 did not wreck the run"
    assert f"after the learning rate changed from {MOONS_LR:g} to 10 at epoch 4" in warnings(at)
    at.button(key="train_loss_hint_0_lr").click().run()
    assert session(at).config.lr == MOONS_LR and session(at).trainer.config.lr == MOONS_LR


def test_generate_refuses_an_out_of_range_learning_rate_and_warns_of_a_diverging_one():
    at = open_page("app_pages/generate.py", timeout=120)
    lr = session(at).generate.settings.lr
    at.number_input(key="gen_lr").set_value(-5.0).run()
    assert f"Learning rate: -5 is outside the valid range 1e-05 to 1; kept {lr:g}." in errors(at)
    assert session(at).generate.settings.lr == lr
    at.number_input(key="gen_lr").set_value(0.9).run()
    assert "A learning rate of 0.9 with adam" in warnings(at)
    at.button(key="gen_guard_0_lr").click().run()
    assert session(at).generate.settings.lr == 0.01 and not at.warning
