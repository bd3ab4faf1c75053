"""Device selection: "auto" picks CUDA only where torch sees it; trainers move model and data; the
CUDA half runs where a GPU exists and is skipped elsewhere."""

import warnings

import pytest
import torch

from kirchhoff_core import accelerator
from kirchhoff_core.accelerator import check_device, resolve_device
from kirchhoff_core.cli import main
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.generative import CircuitFlow, GenerativeConfig, GenerativeTrainer, flow_preset
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.train import TrainConfig, Trainer

CUDA = torch.cuda.is_available()


def test_auto_follows_what_torch_sees(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu") and resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="torch sees no CUDA GPU on this machine"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto").type == "cuda"
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match=r"'cuda:2' does not exist; this machine has 2 GPU"):
        resolve_device("cuda:2")


@pytest.mark.skipif(CUDA, reason="checks the CPU-only machine's choice")
def test_cpu_only_machine_picks_the_cpu():
    assert resolve_device() == torch.device("cpu")
    assert accelerator.describe(resolve_device()) == "CPU"


@pytest.mark.parametrize("bad", ["gpu", "CUDA", "cuda:", "cuda:x", "", None, 0])
def test_bad_names_are_refused(bad):
    with pytest.raises(ValueError, match="device: choose 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        check_device(bad)
    with pytest.raises(ValueError, match="device"):
        TrainConfig(device=bad)
    with pytest.raises(ValueError, match="device"):
        GenerativeConfig(device=bad)


def test_trainer_on_the_cpu(capsys, tmp_path):
    data = make_dataset("moons", 100, seed=0)
    preset = preset_for("moons")
    trainer = Trainer(KirchhoffNet(build_circuit(preset), preset.solver), data, TrainConfig(device="cpu"))
    assert trainer.device == torch.device("cpu") and trainer.x_train.device.type == "cpu"
    assert main(["train", "--device", "tpu", "--out", str(tmp_path)]) == 2
    assert "error: --device: device: choose 'auto'" in capsys.readouterr().err


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
@pytest.mark.parametrize("grad", ["direct", "checkpoint", "adjoint"])
def test_training_on_the_gpu(grad):
    """One epoch on CUDA in every gradient mode, no device warnings (torchdiffeq's adjoint warns
    when its time tensor is not on the state's device), results moved back cleanly."""
    data = make_dataset("digits", 300, seed=0)
    preset = preset_for("digits")
    solver = SolverConfig(rtol=1e-3, atol=1e-3, grad=grad)
    trainer = Trainer(KirchhoffNet(build_circuit(preset), solver), data, TrainConfig(device="cuda", batch_size=64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = trainer.step()
    assert trainer.device.type == "cuda" and next(trainer.model.parameters()).is_cuda
    assert 0.0 <= rec.test_metric <= 1.0 and (rec.nfe_backward > 0) == (grad != "direct")
    assert trainer.model.to_circuit().num_devices == build_circuit(preset).num_devices


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_gpu_and_cpu_gradients_agree():
    c = build_circuit(preset_for("digits"))
    x = torch.rand(16, 64, dtype=torch.float64)
    grads = []
    for device in ("cpu", "cuda"):
        m = KirchhoffNet(c, SolverConfig(rtol=1e-7, atol=1e-7), dtype=torch.float64).to(device)
        grads.append(torch.autograd.grad(m(x).square().sum(), list(m.parameters())))
    for a, b in zip(*grads):
        assert torch.allclose(a, b.cpu(), rtol=1e-6, atol=1e-9)


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_generative_trainer_on_the_gpu():
    preset = flow_preset("8gaussians")
    flow = CircuitFlow(preset.circuit(), SolverConfig(rtol=1e-3, atol=1e-3))
    trainer = GenerativeTrainer(flow, preset.config(batch_size=64, eval_size=64, device="cuda"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = trainer.step()
    assert flow.device.type == "cuda" and rec.train_loss == rec.train_loss
