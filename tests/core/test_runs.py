"""The run history behind the Train page's Compare view: real trainer records in, bounded history,
the learning rate read from the records, and the settings that differ between runs."""

from __future__ import annotations

import math

import pytest

from kirchhoff_core import KirchhoffNet, TrainConfig, Trainer, generate, make_dataset
from kirchhoff_core.runs import RunHistory, differences, make_run


@pytest.fixture(scope="module")
def trainer() -> Trainer:
    data = make_dataset("moons", n_samples=80, seed=0)
    circuit = generate("fully_connected", num_nodes=4, n_inputs=2, n_outputs=2, seed=0)
    return Trainer(KirchhoffNet(circuit), data, TrainConfig(lr=0.01, batch_size=40))


def test_a_run_keeps_its_records_and_reads_a_mid_run_learning_rate_change(trainer):
    trainer.reset()
    trainer.step()
    trainer.set_lr(0.05)
    trainer.step()
    run = make_run(1, {"lr": 0.01, "batch size": 40}, trainer.history)
    assert run.steps == 2 and run.metric == "accuracy" and run.column("step") == [1, 2]
    assert run.last("test_metric") == trainer.history[-1].test_metric
    assert run.lr_text() == "0.01 → 0.05" and run.summary()["lr"] == "0.01 → 0.05"
    assert set(run.records[0]) == {"step", "train_loss", "test_loss", "train_metric", "test_metric", "lr", "wall_time",
                                   "nfe_forward"}


def test_history_is_bounded_numbers_runs_and_skips_empty_ones(trainer):
    trainer.reset()
    trainer.step()
    history = RunHistory(limit=3)
    assert history.add({"x": 0}, []) is None and history.count == 0  # a run without a step is not kept
    for i in range(5):
        history.add({"x": i}, trainer.history)
    assert [r.number for r in history.runs] == [3, 4, 5] and [r.settings["x"] for r in history.runs] == [2, 3, 4]
    preview = history.preview({"x": 9}, trainer.history)
    assert preview.number == 6 and preview.current and preview.label == "run 6 (current)"
    assert history.preview({"x": 9}, []) is None
    history.clear()
    assert history.runs == [] and history.count == 5
    with pytest.raises(ValueError, match="limit"):
        RunHistory(limit=0)


def test_differences_name_only_what_changed():
    a = make_run(1, {"dataset": "moons", "batch size": 32, "noise": None, "lr": 0.01},
                 [{"step": 1, "train_loss": 0.5, "lr": 0.01}])
    b = make_run(2, {"dataset": "moons", "batch size": 64, "noise": None, "lr": 0.01},
                 [{"step": 1, "train_loss": 0.4, "lr": 0.02}])
    c = make_run(3, {"dataset": "moons", "batch size": 64, "noise": None, "seed": 1, "lr": 0.01},
                 [{"step": 1, "train_loss": math.inf, "lr": 0.01}])
    assert differences([a, b]) == {"batch size": [32, 64], "lr": [0.01, 0.02]}
    assert differences([b, c]) == {"seed": [None, 1], "lr": [0.02, 0.01]}
    assert differences([a]) == {}
    assert math.isnan(c.records[0]["train_loss"])  # non-finite losses are kept as NaN (plots leave a gap)
