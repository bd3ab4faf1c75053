"""Monte Carlo accuracy of a trained moons circuit on simulated chips, with and without
noise-aware training.

Run: .venv/bin/python benchmarks/chip_robustness.py [--chips 100] [--epochs 20]
Prints a markdown table: accuracy over K chip instances (mean ± std, p5, worst) at device mismatch
sigma = 1, 5, 10 % and at ADC resolutions of 4, 6, 8 bits, for a circuit trained normally and one
trained with parameter mismatch injected (TrainConfig.mismatch).
"""

from __future__ import annotations

import argparse
import time

from kirchhoff_core.chip import ChipConfig, monte_carlo
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.train import TrainConfig, Trainer


def train(data, mismatch: float, epochs: int, seed: int):
    preset = preset_for("moons")
    model = KirchhoffNet(build_circuit(preset, seed=seed), preset.solver)
    cfg = TrainConfig(**{**preset.train.to_dict(), "mismatch": mismatch, "seed": seed})
    Trainer(model, data, cfg).run(epochs)
    return model.to_circuit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chips", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--train-mismatch", type=float, default=0.1, help="sigma used by noise-aware training")
    ap.add_argument("--adc-range", type=float, default=4.0, help="ADC full-scale range (+- volts)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    data = make_dataset("moons", 500, noise=0.1, seed=args.seed)
    start = time.perf_counter()
    circuits = {"standard": train(data, 0.0, args.epochs, args.seed),
                f"noise-aware (sigma {args.train_mismatch:g})": train(data, args.train_mismatch, args.epochs, args.seed)}
    print(f"moons, 500 points (100 test), preset 8-node circuit, {args.epochs} epochs; "
          f"{args.chips} chips per cell; training took {time.perf_counter() - start:.0f} s\n")
    settings = [(f"mismatch {s:.0%}", ChipConfig(device_mismatch=s)) for s in (0.01, 0.05, 0.10)]
    settings += [(f"ADC {b} bits (+-{args.adc_range:g} V)", ChipConfig(adc_bits=b, adc_range=args.adc_range))
                 for b in (4, 6, 8)]
    print("| setting | training | ideal | mean ± std | p5 | p50 | worst |")
    print("|---|---|---|---|---|---|---|")
    for label, cfg in settings:
        for name, circuit in circuits.items():
            s = monte_carlo(circuit, data, cfg, chips=args.chips, seed=args.seed).summary()
            print(f"| {label} | {name} | {s['ideal']:.3f} | {s['mean']:.3f} ± {s['std']:.3f} | {s['p5']:.3f} | "
                  f"{s['p50']:.3f} | {s['worst']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
