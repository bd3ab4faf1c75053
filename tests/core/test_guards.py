"""Guard rails: a sentence before training when a setting will not work, a hint when the loss jumps."""

from __future__ import annotations

import pytest

from kirchhoff_core import editing, guards
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.generators import generate
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.train import EpochRecord, TrainConfig

DATA = make_dataset("moons", n_samples=200, seed=0)
PRESET = preset_for("moons")


def _circuit(t_end: float):
    c = build_circuit(PRESET)
    return editing.set_durations(c, [t_end])


def test_the_moons_preset_passes():
    assert guards.check_setup(_circuit(1.0), DATA, PRESET.train, PRESET.solver) == []


@pytest.mark.parametrize("t_end, word", [(1000.0, "run away or settle"), (0.005, "hardly started")])
def test_read_out_time_far_from_the_time_scale(t_end, word):
    advice = guards.check_setup(_circuit(t_end), DATA, PRESET.train, PRESET.solver)
    assert [a.setting for a in advice] == ["read_out_time"]
    assert word in advice[0].message and f"T = {t_end:g}" in advice[0].message
    assert 0.3 < advice[0].suggestion < 5  # about 3 / rate for this circuit (rate ~2.4)


def test_diverging_learning_rates():
    assert guards.check_learning_rate(TrainConfig(lr=0.05)) is None
    a = guards.check_learning_rate(TrainConfig(lr=2.0))
    assert a.setting == "lr" and a.suggestion == 0.01 and "learning rate of 2 with adam" in a.message
    assert guards.check_learning_rate(TrainConfig(lr=2.0, optimizer="sgd")) is None


def test_memory_budget():
    big = generate("mixed", channels=1, width=28, height=28, k=4, projection=50, num_slices=2)
    a = guards.check_memory(big, 512, SolverConfig())
    assert a.level == "error" and a.setting == "batch_size" and "GiB" in a.message
    assert 30 * 1024**3 < guards.training_memory_bytes(big, 512, SolverConfig()) < 40 * 1024**3
    assert guards.check_memory(big, 512, SolverConfig(adjoint=True), budget_bytes=4 * 1024**3) is None
    assert guards.check_memory(build_circuit(PRESET), 32, SolverConfig()) is None


def _rec(step, loss, lr):
    return EpochRecord(step, loss, loss, 0.5, 0.5, "accuracy", 10, 10, 0, 10, 0.1, lr)


def test_loss_jump_after_a_learning_rate_change():
    calm = [_rec(1, 0.6, 0.01), _rec(2, 0.5, 0.01), _rec(3, 0.45, 0.05), _rec(4, 0.4, 0.05)]
    assert guards.loss_jump(calm) is None
    jump = calm[:2] + [_rec(3, 0.9, 2.0), _rec(4, 3.0, 2.0)]
    a = guards.loss_jump(jump)
    assert a.setting == "lr" and a.suggestion == 0.01 and "from 0.5 to 3" in a.message and "step 3" in a.message
    assert guards.loss_jump(jump + [_rec(i, 3.0, 2.0) for i in range(5, 10)]) is None  # old news
    assert guards.loss_jump([_rec(1, 0.9, 0.01), _rec(2, 3.0, 0.01)]) is None  # no change to blame
    assert "infinite" in guards.loss_jump(calm[:2] + [_rec(3, float("inf"), 2.0)]).message


@pytest.mark.parametrize("value, fragment", [(-5.0, "-5 is outside the valid range 1e-05 to 10"),
                                             (99_999_999.0, "99,999,999 is outside the valid range 1e-05 to 10"),
                                             (None, "enter a number from 1e-05 to 10"),
                                             (float("nan"), "enter a number from 1e-05 to 10")])
def test_out_of_range_says_the_valid_range(value, fragment):
    assert guards.out_of_range("Learning rate", value, 1e-5, 10.0) == f"Learning rate: {fragment}"


def test_in_range_is_accepted():
    assert guards.out_of_range("Learning rate", 1e-5, 1e-5, 10.0) is None
    assert guards.out_of_range("Learning rate", 10.0, 1e-5, 10.0) is None
