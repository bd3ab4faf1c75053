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
        "At 1e-4 the loss creeps down but the accuracy sits at chance (50 %) for most of the 12 epochs: each "
        "step moves the device parameters too little. 1e-3 and 1e-2 learn: the loss falls smoothly and the "
        "accuracy climbs to 85-90 %. At 0.3 the curve is ragged and falls back near the end as steps "
        "overshoot. At 3 the first steps throw the parameters so far that the loss jumps to over ten times its "
        "starting value and the accuracy never leaves chance; the solver also works about four times as hard "
        "(NFE column), because the circuit has become stiff. Pick the largest learning rate that still gives a "
        "smooth curve.",
        {"lr": [1e-4, 1e-3, 1e-2, 0.3, 3.0]}),
    SweepPreset(
        "readout-time-too-short", "Read-out time T: too short, about right, too long",
        "The input is the initial voltages and the answer is read at time T. On circles, T = 0.05 leaves the "
        "voltages almost where they started, so the read-out nodes still hold nearly the inputs and the accuracy "
        "stays near chance. T = 0.2 learns slowly; T = 1 gives the currents time to reshape the voltages and "
        "reaches the high 90s. At T = 3 the accuracy falls back to chance: the voltages have settled towards the "
        "circuit's resting state, which depends little on where they started, and the solver works about twice "
        "as hard (NFE column).",
        {"T": [0.05, 0.2, 1.0, 3.0]}, {"dataset": "circles"}),
    SweepPreset(
        "too-few-nodes", "Too few nodes for the data",
        "Circles needs a closed boundary. With 2 nodes the inputs are also the read-outs and with 3 there is one "
        "hidden voltage: both stay at chance, the loss stuck near ln 2 = 0.69. With 4 nodes the circuit starts to "
        "separate the rings late in training; with 8 it bends the boundary round the inner ring and reaches the "
        "high 90s. Compare the params column: the accuracy is bought with devices.",
        {"num_nodes": [2, 3, 4, 8]}, {"dataset": "circles"}),
    SweepPreset(
        "tanh-vs-relu", "tanh versus ReLU devices",
        "Same circuit, same data, same seed; only the devices' I-V law differs. The tanh transconductors "
        "(ShiftTanh1/2) saturate: their current stops growing past a point, and here they plateau near 87-90 % "
        "with the training loss stuck around 0.25. The ReLU ones (ShiftRelu1/2) keep growing with their input "
        "and fit the two moons exactly (100 %, training loss 0.01-0.03), for a little more solver work (NFE "
        "column). "
        "Unbounded currents have a price: the ShiftRelu2 circuit read out at T = 50 instead of 1 blows up.",
        {"kind": ["ShiftTanh2", "ShiftTanh1", "ShiftRelu1", "ShiftRelu2"]}),
]}


def preset_spec(name: str, seed: int = 0, **changes: Any) -> SweepSpec:
    """The sweep of teaching preset ``name``."""
    if name not in PRESETS:
        raise SweepError(f"--preset: unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name].spec(seed, **changes)


def preset_of(spec: SweepSpec) -> SweepPreset | None:
    """The teaching preset ``spec`` is (at its own seed), or None: how a reopened sweep finds its lesson."""
    doc = spec.to_json()
    for preset in PRESETS.values():
        try:
            if preset.spec(spec.seed, epochs=spec.epochs, samples=spec.samples).to_json() == doc:
                return preset
        except SweepError:
            continue
    return None
