"""Monte Carlo accuracy of a trained moons circuit on simulated chips, with and without
noise-aware training.

Run: .venv/bin/python benchmarks/chip_robustness.py [--chips 100] [--epochs 20]
Prints a markdown table: accuracy over K chip instances (mean ± std, p5, worst) at device mismatch
sigma = 1, 5, 10 % and at ADC resolutions of 4, 6, 8 bits, for a circuit trained normally and one
trained with parameter mismatch injected (TrainConfig.mismatch).

Flags change the circuit and the settings, e.g. where mismatch does hurt:
  --mismatch 0.2,0.3,0.5 --adc-bits none --train-mismatch 0.3
  --num-nodes 4 --kind ShiftRelu1   (no hidden nodes: inputs 1, 2 and read-outs 3, 4 only)
"""

from __future__ import annotations

import argparse
import time

import torch

from kirchhoff_core.chip import ChipConfig, monte_carlo
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.train import TrainConfig, Trainer


def train(data, mismatch: float, epochs: int, seed: int, overrides: dict):
    preset = preset_for("moons")
    model = KirchhoffNet(build_circuit(preset, seed=seed, **overrides), preset.solver)
    cfg = TrainConfig(**{**preset.train.to_dict(), "mismatch": mismatch, "seed": seed})
    Trainer(model, data, cfg).run(epochs)
    return model.to_circuit()


def floats(text: str) -> list[float]:
    return [] if text.strip().lower() == "none" else [float(t) for t in text.split(",") if t.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chips", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--train-mismatch", type=float, default=0.1, help="sigma used by noise-aware training")
    ap.add_argument("--adc-range", type=float, default=4.0, help="ADC full-scale range (+- volts)")
    ap.add_argument("--mismatch", default="0.01,0.05,0.1", help="device mismatch sigmas to test ('none': skip)")
    ap.add_argument("--adc-bits", default="4,6,8", help="ADC resolutions to test ('none': skip)")
    ap.add_argument("--num-nodes", type=int, default=None, help="circuit size (default: the preset's 8)")
    ap.add_argument("--kind", default=None, help="device kind (default: the preset's ShiftTanh2)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (tiny circuits: 1 is fastest)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    overrides = {k: v for k, v in (("num_nodes", args.num_nodes), ("kind", args.kind)) if v is not None}
    data = make_dataset("moons", 500, noise=0.1, seed=args.seed)
    start = time.perf_counter()
    circuits = {"standard": train(data, 0.0, args.epochs, args.seed, overrides),
                f"noise-aware (sigma {args.train_mismatch:g})": train(data, args.train_mismatch, args.epochs,
                                                                      args.seed, overrides)}
    circuit = next(iter(circuits.values()))
    kind = args.kind or "ShiftTanh2"
    print(f"moons, 500 points (100 test), {circuit.num_nodes}-node fully connected {kind} circuit "
          f"({circuit.num_devices} devices), {args.epochs} epochs; {args.chips} chips per cell; training took "
          f"{time.perf_counter() - start:.0f} s\n")
    settings = [(f"mismatch {s:.0%}", ChipConfig(device_mismatch=s)) for s in floats(args.mismatch)]
    settings += [(f"ADC {int(b)} bits (+-{args.adc_range:g} V)", ChipConfig(adc_bits=int(b), adc_range=args.adc_range))
                 for b in floats(args.adc_bits)]
    print("| setting | training | ideal | mean ± std | p5 | p50 | worst |")
    print("|---|---|---|---|---|---|---|")
    for label, cfg in settings:
        for name, circuit in circuits.items():
            s = monte_carlo(circuit, data, cfg, chips=args.chips, seed=args.seed).summary()
            print(f"| {label} | {name} | {s['ideal']:.3f} | {s['mean']:.3f} ± {s['std']:.3f} | {s['p5']:.3f} | "
                  f"{s['p50']:.3f} | {s['worst']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
