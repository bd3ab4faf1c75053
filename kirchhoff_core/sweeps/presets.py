"""Teaching sweeps: small grids that each show one lesson, with the text saying what to notice.

Each is data (a space and settings) so the page offers it as one button and the command line as
``kirchhoff sweep --preset NAME``. Every preset runs its whole grid (no early stopping, so every
curve is complete) and finishes in under two minutes on 2 cores, Ray's start-up included
(measured in benchmarks/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .space import SearchSpace, SweepError
from .spec import SweepSpec


@dataclass(frozen=True)
class SweepPreset:
    name: str
    title: str
    lesson: str  # what to notice, shown beside the results
    space: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)

    def spec(self, seed: int = 0, **changes: Any) -> SweepSpec:
        """The preset's sweep (``changes`` override its settings, e.g. epochs)."""
        base = {"search": "grid", "early_stopping": "none", "dataset": "moons", "epochs": 12, "samples": 300,
                "chips": 0, **self.settings, "seed": seed, **changes}
        return SweepSpec(space=SearchSpace.from_json(self.space, base.get("task", "supervised")), **base)


PRESETS: dict[str, SweepPreset] = {p.name: p for p in [
    SweepPreset(
        "lr-too-small-too-large", "Learning rate: too small, about right, too large",
        "At 1e-4 the curves hardly move: each step changes the device parameters too little to matter in 12 "
        "epochs. Around 1e-2 the loss falls steadily and the accuracy climbs. At 0.3 and 1 the steps overshoot: "
        "the loss jumps about and the accuracy falls back or never settles. The best learning rate is the largest "
        "one that still gives a smooth curve.",
        {"lr": [1e-4, 1e-3, 1e-2, 0.3, 1.0]}),
    SweepPreset(
        "readout-time-too-short", "Read-out time T: too short to compute",
        "The input is the initial voltages and the answer is read at time T. With T = 0.05 the node voltages have "
        "barely left their starting values, so the read-out nodes still hold (almost) the inputs and the circuit "
        "can only draw a nearly straight boundary. Longer read-out times let the currents reshape the voltages "
        "and the accuracy rises; past a point more time buys little and costs solver work (NFE).",
        {"T": [0.05, 0.2, 1.0, 3.0]}),
    SweepPreset(
        "too-few-nodes", "Too few nodes for the data",
        "Circles needs a closed boundary. With 2 nodes the inputs are also the read-outs and nothing else can "
        "help; 3 or 4 nodes give the circuit hidden voltages to combine, and with 8 it bends the boundary round "
        "the inner ring. Compare the parameter column: accuracy is bought with devices.",
        {"num_nodes": [2, 3, 4, 8]}, {"dataset": "circles"}),
    SweepPreset(
        "tanh-vs-relu", "tanh versus ReLU devices",
        "Same circuit, same data, only the devices' I-V law differs. The tanh transconductors saturate, so "
        "currents stay bounded and training is smooth; the ReLU devices are one-sided and unbounded, which "
        "changes how fast the voltages move (see the NFE column) and what boundary the circuit can draw.",
        {"kind": ["ShiftTanh2", "ShiftTanh1", "ShiftRelu1", "ShiftRelu2"]}),
]}


def preset_spec(name: str, seed: int = 0, **changes: Any) -> SweepSpec:
    """The sweep of teaching preset ``name``."""
    if name not in PRESETS:
        raise SweepError(f"--preset: unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name].spec(seed, **changes)
