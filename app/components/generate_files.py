"""Generate page files: the pretrained circuits shipped in assets/generative/ and the download."""

from __future__ import annotations

import os
import pathlib
from dataclasses import asdict, replace

from kirchhoff_core import io as kio
from kirchhoff_core.circuit import Circuit
from kirchhoff_core.generative import CircuitFlow
from kirchhoff_core.generative.presets import flow_repeats
from settings import GenerateSettings

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Learning rate after loading a pretrained circuit. A fresh Adam's first steps move every parameter by
# about the rate; at 5e-4 one step took the shipped circles flow from 0.89 to 1.06 nats, at 1e-4 it holds.
FINE_TUNE_LR = 1e-4


def asset_dir() -> pathlib.Path:
    """Where pretrained circuits live (KIRCHHOFF_GENERATIVE_ASSETS overrides, e.g. for tests)."""
    return pathlib.Path(os.environ.get("KIRCHHOFF_GENERATIVE_ASSETS", ROOT / "assets" / "generative"))


def _section(d: dict, key: str) -> dict:
    """d[key] when it is a dict, else {}: a hand-edited file's extras may hold anything."""
    v = d.get(key)
    return v if isinstance(v, dict) else {}


def read_pretrained(name: str) -> tuple[Circuit, dict]:
    """The shipped circuit for target ``name`` and its training section; ValueError says why not."""
    path = asset_dir() / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"No pretrained circuit ships for {name} yet (there is no assets/generative/{name}.json). "
                         "Press Play to train one here.")
    try:
        circuit, extra = kio.load_checkpoint(path)
        CircuitFlow(circuit, dim=2)  # every slice must have the 2 data nodes
    except ValueError as e:
        raise ValueError(f"The pretrained circuit for {name} could not be used ({path.name}: {e}).") from None
    training = _section(extra, "training")
    made_for = training.get("target")
    if made_for is not None and str(made_for) != name:
        raise ValueError(f"{path.name} was trained for {made_for!r}, not {name!r}; not loaded.")
    return circuit, training


def settings_for(circuit: Circuit, s: GenerateSettings) -> GenerateSettings:
    """The settings that describe a loaded pretrained circuit, with a fine-tuning learning rate."""
    kinds = sorted({k for sl in circuit.slices for k in sl.kind.tolist()})
    return replace(s, num_slices=len(circuit.slices), duration=float(circuit.durations[0]),
                   kind=kinds[0] if len(kinds) == 1 else s.kind, repeats=flow_repeats(circuit) or s.repeats,
                   lr=min(s.lr, FINE_TUNE_LR), pretrained=True)


def describe(training: dict) -> str:
    """' (2 steps, held-out NLL 3.210 on 2,000 samples)' from a training section, '' when it says nothing."""
    result, config = _section(training, "result"), _section(training, "config")
    on = f" on {config['eval_size']:,} samples" if isinstance(config.get("eval_size"), int) else ""
    what = [f"{result['steps']:,} steps" if isinstance(result.get("steps"), int) else None,
            f"held-out NLL {result['nll']:.3f}{on}" if isinstance(result.get("nll"), (int, float)) else None]
    detail = ", ".join(w for w in what if w)
    return f" ({detail})" if detail else ""


def model_json(trainer, circuit: Circuit, s: GenerateSettings) -> str:
    """The trained circuit plus the run's settings and history, in the format of the pretrained assets."""
    circuit = trainer.flow.to_circuit() if trainer is not None else circuit
    training = {"task": s.task, "target": s.name, "settings": asdict(s),
                "steps": trainer.steps_done if trainer else 0,
                "history": [r.to_dict() for r in trainer.history] if trainer else []}
    return kio.dumps_circuit(circuit, extra={"training": training})
