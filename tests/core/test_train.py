"""Training reaches the issue's targets on the default set-ups, and the Trainer is steppable."""

import pytest
import torch

from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.solvers import SolverConfig, SolverError
from kirchhoff_core.train import TrainConfig, Trainer


def _trainer(name, n_samples, seed=0, **train_overrides):
    data = make_dataset(name, n_samples=n_samples, seed=seed)
    preset = preset_for(name, data.n_outputs)
    model = KirchhoffNet(build_circuit(preset, seed=seed), preset.solver)
    cfg = TrainConfig(**{**preset.train.to_dict(), "seed": seed, **train_overrides})
    return Trainer(model, data, cfg), preset


def _train_until(trainer, epochs, target):
    best = 0.0
    for rec in trainer.run(epochs, callback=lambda r: r.test_metric >= target):
        best = max(best, rec.test_metric)
    return best


def test_moons_reaches_97_percent():
    trainer, preset = _trainer("moons", 500)
    assert len(trainer.x_train) + len(trainer.x_test) == 500
    assert _train_until(trainer, preset.epochs, 0.97) >= 0.97


def test_digits_reaches_90_percent():
    trainer, preset = _trainer("digits", 1797)
    assert trainer.x_train.shape[1] == 64
    assert _train_until(trainer, preset.epochs, 0.90) >= 0.90


def test_sine_regression_reaches_r2_095():
    trainer, preset = _trainer("sine", 500)
    assert trainer.history == [] and trainer.task == "regression"
    assert _train_until(trainer, preset.epochs, 0.95) >= 0.95
    assert trainer.history[-1].metric == "r2"


def test_step_records_and_reproducibility():
    a, _ = _trainer("moons", 200, seed=3)
    b, _ = _trainer("moons", 200, seed=3)
    ra, rb = a.run(2), b.run(2)
    assert [r.train_loss for r in ra] == [r.train_loss for r in rb]
    rec = ra[-1]
    assert rec.epoch == 2 and a.epoch == 2
    assert rec.nfe_forward > 0 and rec.nfe_backward == 0 and rec.wall_time > 0
    c, _ = _trainer("moons", 200, seed=4)
    assert c.run(1)[0].train_loss != ra[0].train_loss


def test_adjoint_training_counts_backward_work():
    trainer, _ = _trainer("moons", 100, batch_size=0)
    trainer.model.solver = SolverConfig(rtol=1e-3, atol=1e-3, adjoint=True)
    rec = trainer.step()
    assert rec.nfe_backward > 0


def test_set_lr_keeps_progress_and_reset_restores():
    trainer, _ = _trainer("moons", 200)
    initial = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.run(2)
    trainer.set_lr(0.001)
    assert trainer.epoch == 2 and trainer.optimizer.param_groups[0]["lr"] == 0.001
    trained = [p.detach().clone() for p in trainer.model.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(initial, trained))
    trainer.step()
    assert trainer.epoch == 3 and trainer.history[-1].lr == 0.001
    trainer.reset()
    assert trainer.epoch == 0
    assert all(torch.equal(a, b) for a, b in zip(initial, trainer.model.parameters()))


def test_mismatched_circuit_and_dataset_is_a_clear_error():
    data = make_dataset("digits", n_samples=100)
    model = KirchhoffNet(build_circuit(preset_for("moons")))
    with pytest.raises(ValueError, match="64 feature"):
        Trainer(model, data)


def test_exploding_training_raises_solver_error():
    """Negative conductances make voltages grow without bound: a clear SolverError, no hang."""
    data = make_dataset("moons", n_samples=100)
    model = KirchhoffNet(build_circuit(preset_for("moons"), kind="Conductance"),
                         SolverConfig(method="euler", step_size=0.05))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(-200.0)
    trainer = Trainer(model, data, TrainConfig(batch_size=0))
    with pytest.raises(SolverError, match="blew up"):
        trainer.step()


@pytest.mark.parametrize("bad", [{"lr": 0}, {"lr": float("nan")}, {"optimizer": "lbfgs"}, {"batch_size": -1}])
def test_train_config_validation(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        TrainConfig(**bad)
