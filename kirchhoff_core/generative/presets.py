"""The paper's generative circuits per target, the default training run for each, and the trained
circuits that ship with the playground (``load_pretrained``)."""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass
from typing import NamedTuple

from ..circuit import Circuit
from ..densities import POTENTIALS, TARGETS, potential_name, target_name
from ..generators import generate
from ..io import TrainingRecord, load_trained
from .flow import CircuitFlow
from .trainer import GenerativeConfig

PRETRAINED_ENV = "KIRCHHOFF_GENERATIVE_ASSETS"
PRETRAINED_DIR = pathlib.Path(__file__).resolve().parents[2] / "assets" / "generative"


@dataclass(frozen=True)
class FlowPreset:
    """The reference's circuit and schedule for one target, and our default training run.

    ``reference_steps`` counts optimiser steps (epochs x batches per epoch); ``steps`` is ours, a
    quarter of it. ``reference_nll`` is the final training NLL of the released run (nats), measured
    on the fixed set of ``reference_points`` samples it trained on, so it can sit below the target's
    entropy (the lowest NLL on fresh samples): a finite set can be fitted better than the density.
    """

    target: str
    task: str
    kind: str
    repeats: tuple[int, int]
    num_slices: int
    duration: float
    reference_tol: float
    reference_lr: float
    reference_steps: int | None
    reference_nll: float | None
    source: str
    lr: float = 5e-3
    batch_size: int = 512
    steps: int = 2500
    reference_points: int | None = None  # the size of the released run's fixed training set

    def circuit(self, seed: int = 0, **overrides) -> Circuit:
        """The preset's fully connected circuit (2 data nodes + ground), seeded."""
        args = dict(num_nodes=2, repeats=list(self.repeats), kind=self.kind, num_slices=self.num_slices,
                    duration=self.duration, n_inputs=2, n_outputs=2, seed=seed)
        args.update(overrides)
        return generate("fully_connected", **args)

    def config(self, **overrides) -> "GenerativeConfig":
        """Our default training configuration for this target."""
        args = dict(task=self.task, target=self.target, lr=self.lr, batch_size=self.batch_size,
                    anneal_steps=self.steps)
        args.update(overrides)
        return GenerativeConfig(**args)


def _p(target, task, kind, repeats, slices, duration, tol, ref_lr, ref_steps, nll, source, steps=None, **kw):
    return FlowPreset(target, task, kind, tuple(repeats), slices, duration, tol, ref_lr, ref_steps, nll, source,
                      steps=steps or (ref_steps // 4 if ref_steps else 2500), **kw)


_RES = "src/results/{}/config.yaml + metric.yaml"
FLOW_PRESETS: dict[str, FlowPreset] = {p.target: p for p in [
    # 4096 fixed points -> 8 batches of 512 per epoch; 5000 epochs at lr 1e-3, t_end [0, 0.5, 1.0].
    _p("moons", "generate", "ShiftTanh2", (25, 25), 2, 0.5, 1e-4, 1e-3, 40_000, 1.011,
       "src/configs/config_twomoon.yaml + src/results/twomoon/metric.yaml", reference_points=4096),
    # 4096 points, 8 batches per epoch, 20000 epochs at lr 1e-4, t_end 0..2 in 0.5 steps.
    _p("circles", "generate", "ShiftTanh2", (25, 25), 4, 0.5, 1e-4, 1e-4, 160_000, 0.825, _RES.format("circle"),
       reference_points=4096),
    # one fixed set of 512 points = one batch per epoch; 10000 epochs.
    _p("8gaussians", "generate", "ShiftTanh2", (25, 25), 4, 0.5, 1e-4, 1e-4, 10_000, 2.856,
       _RES.format("8gaussians"), lr=3e-3, reference_points=512),
    # 510 fixed points (5 x 102), one batch per epoch; 20000 epochs.
    _p("pinwheel", "generate", "ShiftTanh2", (25, 25), 4, 0.5, 1e-4, 1e-4, 20_000, 2.334, _RES.format("pinwheel"),
       reference_points=510),
    # 512 fixed points, one batch per epoch; 20000 epochs; 8 slices of 0.2, repeats [10, 10].
    _p("2spirals", "generate", "ShiftTanh2", (10, 10), 8, 0.2, 1e-4, 1e-4, 20_000, 2.636, _RES.format("2spirals"),
       reference_points=512),
    # 4096 points, 8 batches per epoch, 10000 epochs.
    _p("swissroll", "generate", "ShiftTanh2", (25, 25), 4, 0.5, 1e-4, 1e-4, 80_000, 2.662, _RES.format("swissroll"),
       reference_points=4096),
    # not in the reference: 8gaussians' circuit.
    _p("checkerboard", "generate", "ShiftTanh2", (25, 25), 4, 0.5, 1e-4, 1e-4, None, None,
       "not in the reference (8gaussians' circuit)"),
    # potential1: ShiftTanh1 [10, 10], 16 slices of 0.1, tol 1e-3, lr 1e-4, 20000 steps of 512 noise samples.
    _p("U1", "density", "ShiftTanh1", (10, 10), 16, 0.1, 1e-3, 1e-4, 20_000, None, _RES.format("potential1")),
    # potential2: 8 slices of 0.2, lr 1e-3, 5000 steps.
    _p("U2", "density", "ShiftTanh1", (10, 10), 8, 0.2, 1e-3, 1e-3, 5_000, None, _RES.format("potential2")),
    _p("U3", "density", "ShiftTanh1", (10, 10), 8, 0.2, 1e-3, 1e-3, None, None, "not in the reference (U2's circuit)"),
    _p("U4", "density", "ShiftTanh1", (10, 10), 8, 0.2, 1e-3, 1e-3, None, None, "not in the reference (U2's circuit)"),
]}
"""Per target (data set or potential): the reference circuit and our default run."""


def flow_preset(name: str) -> FlowPreset:
    """The preset for a data target ('8gaussians', 'twomoon', ...) or a potential ('U1', ...)."""
    try:
        key = target_name(name)
    except ValueError:
        try:
            key = potential_name(name)
        except ValueError:
            raise ValueError(f"unknown target {name!r}; choose a data set {sorted(TARGETS)} "
                             f"or a potential {sorted(POTENTIALS)}") from None
    return FLOW_PRESETS[key]


def flow_repeats(circuit: Circuit) -> tuple[int, int] | None:
    """[r, r] of a symmetric fully connected 2-node + ground flow circuit (its first slice has
    6 (r0 + r1) devices: r0 one way and r1 the other between each of the three node pairs), else None.
    What the Generate page's "devices per pair" shows for a loaded circuit."""
    if circuit.num_nodes != 2 or circuit.width(0) != 2:
        return None
    r, rest = divmod(circuit.slices[0].num_devices, 12)
    return (r, r) if r > 0 and rest == 0 else None


def pretrained_dir() -> pathlib.Path:
    """Where the pretrained circuits live: $KIRCHHOFF_GENERATIVE_ASSETS, else assets/generative/."""
    return pathlib.Path(os.environ.get(PRETRAINED_ENV) or PRETRAINED_DIR)


class Pretrained(NamedTuple):
    """A shipped trained circuit, how it was trained, and the file it came from."""

    circuit: Circuit
    training: TrainingRecord
    path: pathlib.Path


def load_pretrained(name: str, folder: str | pathlib.Path | None = None) -> Pretrained:
    """The circuit trained for a target (``<folder>/<target>.json``, by default ``pretrained_dir()``).

    Raises FileNotFoundError when none ships for it, ValueError (naming the file) when the file
    cannot be read, is not a 2-D flow, or was trained for another target.
    """
    preset = flow_preset(name)
    path = pathlib.Path(folder or pretrained_dir()) / f"{preset.target}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no pretrained circuit for {preset.target}: {path} does not exist")
    try:
        circuit, training = load_trained(path)
        CircuitFlow(circuit, dim=2)  # every slice must carry the 2 data nodes
    except ValueError as e:
        raise ValueError(f"{path.name}: {e}") from None
    training = training or TrainingRecord(task=preset.task, target=preset.target)
    if training.target is not None and training.target != preset.target:
        raise ValueError(f"{path.name}: trained for {training.target!r}, not {preset.target!r}")
    return Pretrained(circuit, training, path)
