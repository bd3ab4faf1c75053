"""Regenerate the example circuits in assets/examples/ (run: .venv/bin/python scripts/make_examples.py).

Each example is built with the core's generators, so it is exactly what the app's Generate form
would make; ``meta["description"]`` is the line the Build page shows under the example picker.
"""

from __future__ import annotations

import pathlib

from kirchhoff_core import io
from kirchhoff_core.generators import generate
from kirchhoff_core.presets import build_circuit, preset_for

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


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for stem, (circuit, description) in EXAMPLES.items():
        circuit.meta["description"] = description
        circuit.name = stem.replace("_", " ")
        for path in io.save_circuit(circuit, OUT / f"{stem}.json", weights="inline"):
            print(path)


if __name__ == "__main__":
    main()
