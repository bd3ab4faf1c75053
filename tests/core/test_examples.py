"""The shipped examples: every file loads, and each trained one still reaches the test metric its
``training`` section records, on the data the record names (a regenerated dataset or a changed
model would show here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kirchhoff_core.datasets import DATASETS, make_dataset
from kirchhoff_core.io import load_circuit, load_trained
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.train import TrainConfig, Trainer

EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"
TRAINED = sorted(EXAMPLES.glob("*_trained.json"))
SUPERVISED = sorted(set(DATASETS) - {"sine2d"})  # every dataset the Train page offers a trained example for


def test_every_dataset_has_a_trained_example():
    assert sorted(p.stem.removesuffix("_trained") for p in TRAINED) == SUPERVISED


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_example_loads(path):
    circuit = load_circuit(path)
    circuit.validate()
    assert circuit.meta.get("description")


@pytest.mark.parametrize("path", TRAINED, ids=lambda p: p.stem)
def test_trained_example_reaches_its_recorded_metric(path):
    circuit, record = load_trained(path)
    assert record is not None and record.task == "supervised"
    assert record.dataset["name"] == path.stem.removesuffix("_trained")
    data = make_dataset(**record.dataset)
    assert (len(circuit.inputs), len(circuit.outputs)) == (data.n_features, data.n_outputs)
    assert record.steps == len(record.history) > 0
    recorded = record.result["test_metric"]
    assert recorded == record.history[-1]["test_metric"]
    model = KirchhoffNet(circuit, SolverConfig(**record.solver))
    x_test, y_test = data.tensors(model.dtype)[2:]
    _, metric = Trainer(model, data, TrainConfig(**record.config)).evaluate(x_test, y_test)
    assert metric == pytest.approx(recorded, abs=0.01)
    assert metric >= (0.9 if record.result["metric"] == "accuracy" else 0.95)  # trained, not a placeholder

