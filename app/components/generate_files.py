"""Generate page files: the pretrained circuits shipped in assets/generative/ and the download."""

from __future__ import annotations

from dataclasses import asdict, replace

from kirchhoff_core import io as kio
from kirchhoff_core.circuit import Circuit
from kirchhoff_core.generative import load_pretrained
from kirchhoff_core.generative.presets import flow_repeats
from kirchhoff_core.io import TrainingRecord
from kirchhoff_core.live_views import export
from live import LiveRun
from settings import GenerateSettings

# Learning rate after loading a pretrained circuit. A fresh Adam's first steps move every parameter by
# about the rate; at 5e-4 one step took the shipped circles flow from 0.89 to 1.06 nats, at 1e-4 it holds.
FINE_TUNE_LR = 1e-4


def read_pretrained(name: str) -> tuple[Circuit, TrainingRecord]:
    """The shipped circuit for target ``name`` and its training record; ValueError says why not."""
    try:
        circuit, training, _ = load_pretrained(name)
    except FileNotFoundError:
        raise ValueError(f"No pretrained circuit ships for {name} yet (there is no assets/generative/{name}.json). "
                         "Press Play to train one here.") from None
    except ValueError as e:
        raise ValueError(f"The pretrained circuit for {name} could not be used ({e}).") from None
    return circuit, training


def settings_for(circuit: Circuit, s: GenerateSettings) -> GenerateSettings:
    """The settings that describe a loaded pretrained circuit, with a fine-tuning learning rate."""
    kinds = sorted({k for sl in circuit.slices for k in sl.kind.tolist()})
    return replace(s, num_slices=len(circuit.slices), duration=float(circuit.durations[0]),
                   kind=kinds[0] if len(kinds) == 1 else s.kind, repeats=flow_repeats(circuit) or s.repeats,
                   lr=min(s.lr, FINE_TUNE_LR), pretrained=True)


def describe(training: TrainingRecord) -> str:
    """' (2 steps, held-out NLL 3.210 on 2,000 samples)' from a training record, '' when it says nothing."""
    nll, eval_size = training.result.get("nll"), (training.config or {}).get("eval_size")
    on = f" on {eval_size:,} samples" if isinstance(eval_size, int) else ""
    what = [f"{training.steps:,} steps" if training.steps else None,
            f"held-out NLL {nll:.3f}{on}" if isinstance(nll, (int, float)) else None]
    detail = ", ".join(w for w in what if w)
    return f" ({detail})" if detail else ""


def model_json(run: LiveRun, circuit: Circuit, s: GenerateSettings, evals: list[tuple[int, float]]) -> str:
    """The trained circuit plus the run's training record (what "Load pretrained" reads back), with the
    held-out metric the page showed last (the circuit as built when nothing trains)."""
    fields = dict(task=s.task, target=s.name, extra={"settings": asdict(s)})
    if not run.active:
        return kio.dumps_circuit(circuit, training=kio.TrainingRecord(**fields))
    if evals:
        fields["result"] = {"nll" if s.task == "generate" else "kl": evals[-1][1], "step": evals[-1][0]}
    circuit, record = run.call(export, fields)
    return kio.dumps_circuit(circuit, training=record)
