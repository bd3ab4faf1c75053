"""kirchhoff_core.malloc: the trainers ask glibc to keep freed memory for the next step. Its effect
(page faults per step) is measured in benchmarks/train_step.py, not asserted here: glibc's trimming
depends on the whole process's heap history."""

import platform

import pytest

from kirchhoff_core import malloc
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.generators import generate
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.train import TrainConfig, Trainer


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_takes_the_thresholds():
    assert malloc.keep_freed_memory() is True


def test_training_sets_them(monkeypatch):
    calls = []
    monkeypatch.setattr("kirchhoff_core.train.keep_freed_memory", lambda: calls.append(1) or True)
    c = generate("fully_connected", num_nodes=3, inputs=[1, 2], outputs=[1, 2])
    Trainer(KirchhoffNet(c), make_dataset("moons", 40, seed=0), TrainConfig(batch_size=20)).step()
    assert calls == [1]
