"""Wall time from the first training step to a test-accuracy target, through the Train page's code.

The Train page builds its trainer from the dataset's preset (``kirchhoff_core.presets``: circuit,
solver tolerance, learning rate, batch size) and calls ``Trainer.step()`` once per epoch; so does
this script, on the CPU. The clock starts before the first ``step()`` (the circuit, the data and the
model are built before it, as the page does before "Play") and stops after the epoch whose
held-out test accuracy first reaches the target; each epoch includes the page's evaluation of the
train and test sets. Seeds vary the data set, the initial circuit and the minibatch order.

Run: .venv/bin/python benchmarks/time_to_accuracy.py [--seeds 5] [--threads 2] [--only moons]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.train import TrainConfig, Trainer

TARGETS = {"moons": (500, 0.97), "digits": (1797, 0.90)}  # samples, test accuracy


def time_to_target(name: str, seed: int, max_epochs: int) -> tuple[float, float, int, float]:
    """(wall seconds, CPU seconds of this process, epochs, accuracy reached) for one seed; the
    seconds are inf if the target is missed. CPU time is the steadier figure on a shared machine."""
    n_samples, target = TARGETS[name]
    data = make_dataset(name, n_samples, seed=seed)
    preset = preset_for(name, data.n_outputs)
    model = KirchhoffNet(build_circuit(preset, seed=seed), preset.solver)
    trainer = Trainer(model, data, TrainConfig(**{**preset.train.to_dict(), "seed": seed, "device": "cpu"}))
    start, cpu = time.perf_counter(), time.process_time()
    best = 0.0
    for epoch in range(1, max_epochs + 1):
        rec = trainer.step()
        best = max(best, rec.test_metric)
        if rec.test_metric >= target:
            return time.perf_counter() - start, time.process_time() - cpu, epoch, rec.test_metric
    return float("inf"), float("inf"), max_epochs, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    ap.add_argument("--only", default="", help="run only the sets whose name contains this text")
    ap.add_argument("--max-epochs", type=int, default=100)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU\n")
    print("| set | target | preset (lr, batch, tol) | seed | epochs | wall s | CPU s | accuracy |\n"
          "|---|---|---|---|---|---|---|---|")
    for name, (_, target) in TARGETS.items():
        if args.only not in name:
            continue
        p = preset_for(name)
        what = f"{p.train.lr:g}, {p.train.batch_size}, {p.solver.rtol:g}"
        wall, cpu = [], []
        for seed in range(args.seeds):
            s, c, epochs, acc = time_to_target(name, seed, args.max_epochs)
            wall.append(s)
            cpu.append(c)
            print(f"| {name} | {target:.2f} | {what} | {seed} | {epochs} | {s:.2f} | {c:.2f} | {acc:.3f} |", flush=True)
        print(f"| **{name} median** | {target:.2f} | {what} | {args.seeds} seeds | | **{statistics.median(wall):.2f}** "
              f"| {statistics.median(cpu):.2f} | |", flush=True)


if __name__ == "__main__":
    main()
