"""Regenerate the example circuits in assets/examples/ (run: .venv/bin/python scripts/make_examples.py).

Two kinds of example:

* built circuits (``EXAMPLES``), made with the core's generators, so each is exactly what the app's
  Generate form would make;
* trained circuits (``TRAINED``), one per dataset (``<dataset>_trained.json``): the dataset's default
  set-up from ``kirchhoff_core.presets`` trained exactly as ``kirchhoff train --dataset NAME`` with the
  flags listed (seed 0, one torch thread, so a rerun gives the same parameters). Each file's
  ``training`` section (``io.TrainingRecord``) holds the dataset, the trainer and solver settings, the
  per-epoch history and the final test metric, which ``tests/core/test_examples.py`` re-measures.

``meta["description"]`` is the line the app shows under the example picker.
``python scripts/make_examples.py spirals xor`` remakes only those trained examples.
"""

from __future__ import annotations

import pathlib
import sys
from dataclasses import dataclass, field
from typing import Any

import torch

from kirchhoff_core import io
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.generators import generate
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.train import TrainConfig, Trainer

OUT = pathlib.Path(__file__).resolve().parents[1] / "assets" / "examples"

EXAMPLES = {
    "tanh_triangle": (
        generate("custom", edges="1-2, 2-3, 3-1", repeats=(1, 1), ground_links=True, kind="ShiftTanh2",
                 inputs=[1], outputs=[3], seed=0),
        "Three nodes in a triangle, tanh transconductors both ways and to ground: the smallest "
        "circuit worth watching (input node 1, read-out node 3)."),
    "moons_preset": (
        build_circuit(preset_for("moons")),
        "The default set-up for the two-moons data: 8 fully connected nodes plus ground, one tanh "
        "device each way per pair (inputs 1, 2; read-outs 7, 8)."),
    "ring": (
        generate("ring", num_nodes=8, kind="ShiftTanh1", n_inputs=2, n_outputs=2, seed=1),
        "A ring of 8 nodes, each linked to its neighbours and to ground: signals have to travel "
        "around to reach the read-outs."),
    "layered_two_slices": (
        generate("layered", layer_sizes=[2, 4, 2], num_slices=2, duration=0.5, kind="ShiftRelu1", seed=2),
        "Feed-forward layers 2-4-2 with ReLU transconductors and two time slices of 0.5 each: depth "
        "from time, each slice with its own parameters."),
}


@dataclass(frozen=True)
class Recipe:
    """``kirchhoff train --dataset NAME --epochs EPOCHS [--samples N] [--lr LR] [--topo K=V ...]``."""

    epochs: int
    samples: int = 500
    lr: float | None = None  # None: the preset's
    topo: dict[str, Any] = field(default_factory=dict)  # generator arguments over the preset's
    note: str = ""  # why the recipe differs from the default, for the description

    def flags(self, dataset: str) -> str:
        extra = [f"--samples {self.samples}"] if self.samples != 500 else []
        extra += [f"--topo {k}={v}" for k, v in self.topo.items()]
        extra += [f"--lr {self.lr:g}"] if self.lr is not None else []
        return " ".join([f"kirchhoff train --dataset {dataset} --epochs {self.epochs}", *extra])


TRAINED = {  # epochs measured with `kirchhoff train` on the default data (seed 0)
    "moons": Recipe(30),
    "circles": Recipe(30),
    "xor": Recipe(60),
    "spirals": Recipe(60),
    "checkerboard": Recipe(100, samples=2000, lr=0.01, topo={"gain": 2.0},
                           note="Checkerboard needs more data and a larger initial gain: the default set-up, "
                                "bigger circuits and two slices all stalled at 50 %."),
    "blobs": Recipe(30, note="The three blobs overlap, so the noise caps the accuracy."),
    "sine": Recipe(40),
    "digits": Recipe(30),
}


def train_example(dataset: str, recipe: Recipe) -> tuple[Any, io.TrainingRecord]:
    """The trained circuit and its training record, as ``kirchhoff train`` makes them."""
    data = make_dataset(dataset, n_samples=recipe.samples, seed=0)
    preset = preset_for(dataset, data.n_outputs)
    circuit = generate(preset.generator, **{**preset.params, "seed": 0, **recipe.topo})
    config = TrainConfig(lr=preset.train.lr if recipe.lr is None else recipe.lr, batch_size=preset.train.batch_size,
                         seed=0)
    trainer = Trainer(KirchhoffNet(circuit, preset.solver), data, config)
    for record in trainer.run(recipe.epochs):
        print(f"  {dataset} epoch {record.epoch}: loss {record.train_loss:.4f}, test {record.test_metric:.4f}",
              file=sys.stderr, flush=True)
    spec = {"name": dataset, "n_samples": recipe.samples, "noise": None, "test_fraction": 0.2, "seed": 0}
    return trainer.model.to_circuit(), trainer.training_record(dataset=spec, extra={"command": recipe.flags(dataset)})


def describe(dataset: str, circuit: Any, record: io.TrainingRecord, recipe: Recipe) -> str:
    metric = record.result["test_metric"]
    score = f"test R² {metric:.2f}" if record.history[-1]["metric"] == "r2" else f"{metric:.0%} test accuracy"
    data = "the default" if recipe.samples == 500 else f"{recipe.samples:,} samples of the"
    return (f"The {dataset} circuit ({circuit.num_nodes} nodes, {circuit.num_devices} devices; inputs "
            f"{', '.join(map(str, circuit.inputs))}, read-outs {', '.join(map(str, circuit.outputs))}) after "
            f"{record.steps} epochs of `{recipe.flags(dataset)}` (seed 0): {score} on {data} {dataset} data."
            + (f" {recipe.note}" if recipe.note else ""))


def main(only: list[str]) -> None:
    torch.set_num_threads(1)  # the same parameters on every machine with this torch
    OUT.mkdir(parents=True, exist_ok=True)
    if not only:
        for stem, (circuit, description) in EXAMPLES.items():
            circuit.meta["description"] = description
            circuit.name = stem.replace("_", " ")
            for path in io.save_circuit(circuit, OUT / f"{stem}.json", weights="inline"):
                print(path)
    unknown = sorted(set(only) - set(TRAINED))
    if unknown:
        raise SystemExit(f"error: no trained example for {unknown}; choose from {list(TRAINED)}")
    for dataset, recipe in TRAINED.items():
        if only and dataset not in only:
            continue
        circuit, record = train_example(dataset, recipe)
        circuit.name = f"{dataset} trained"
        circuit.meta["description"] = describe(dataset, circuit, record, recipe)
        for path in io.save_circuit(circuit, OUT / f"{dataset}_trained.json", weights="inline", training=record):
            print(path, record.result)


if __name__ == "__main__":
    main(sys.argv[1:])
