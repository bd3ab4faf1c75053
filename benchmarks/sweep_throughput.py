"""Sweep throughput: the same 12-trial sweep run serially in one process and through Ray locally.

Run: .venv/bin/python benchmarks/sweep_throughput.py [--trials 12] [--epochs 5] [--samples 300]

Prints trials per minute for
  serial         ``run_serial``: one trial after another in this process (after one untimed warm-up
                 trial, so imports and first-call costs are not counted against it);
  ray, N workers ``run_sweep`` on a private in-process Ray with N CPUs: end to end (Ray start-up and
                 shut-down included) and the Tuner's fit alone;
and Ray's overhead per trial with one worker: (fit time - the trials' own time) / trials, where a
trial's own time is what ``run_trial`` measured inside the worker. Same configurations (a seeded
random sweep over lr and num_nodes on moons), no early stopping, no chip Monte Carlo.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from kirchhoff_core.sweeps import SearchSpace, SweepSpec, load_sweep, run_serial, run_sweep
from kirchhoff_core.sweeps.runner import ray_session


def _spec(trials: int, epochs: int, samples: int) -> SweepSpec:
    return SweepSpec(space=SearchSpace.parse(["lr=3e-3:3e-2:log", "num_nodes=4,6,8"]), search="random",
                     trials=trials, epochs=epochs, samples=samples, early_stopping="none", chips=0, seed=0)


def _trial_seconds(folder: str) -> float:
    return sum(t.metrics["time_s"] for t in load_sweep(folder).trials)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--workers", default="1,2", help="Ray worker counts to run (default 1,2)")
    args = ap.parse_args()
    spec = _spec(args.trials, args.epochs, args.samples)
    n = spec.n_trials
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        run_serial(_spec(1, 1, args.samples), os.path.join(tmp, "warm-up"))
        start = time.perf_counter()
        run_serial(spec, os.path.join(tmp, "serial"))
        serial = time.perf_counter() - start
        own = _trial_seconds(os.path.join(tmp, "serial"))
        rows.append(("serial, 1 process", serial, serial, own, None))
        for workers in (int(w) for w in args.workers.split(",")):
            folder = os.path.join(tmp, f"ray{workers}")
            t0 = time.perf_counter()
            with ray_session(workers=workers):
                t1 = time.perf_counter()
                run_sweep(spec, folder, workers=workers)
                t2 = time.perf_counter()
            t3 = time.perf_counter()
            own = _trial_seconds(folder)
            overhead = (t2 - t1 - own) / n if workers == 1 else None
            rows.append((f"ray, {workers} worker(s)", t3 - t0, t2 - t1, own, overhead))
            print(f"  (ray {workers}: start {t1 - t0:.1f} s, fit {t2 - t1:.1f} s, shut-down {t3 - t2:.1f} s)")
    print(f"\n{n} trials: moons, random lr x num_nodes, {args.epochs} epochs of {args.samples} samples, cpu_count "
          f"{os.cpu_count()}\n")
    print("| run | end to end s | trials/min end to end | fit s | trials/min fit | trials' own s | "
          "vs serial (fit) | Ray overhead s/trial |")
    print("|---|---|---|---|---|---|---|---|")
    base = rows[0][2]
    for name, total, fit, own, overhead in rows:
        print(f"| {name} | {total:.1f} | {60 * n / total:.1f} | {fit:.1f} | {60 * n / fit:.1f} | {own:.1f} | "
              f"{base / fit:.2f}x | {'-' if overhead is None else f'{overhead:.2f}'} |")


if __name__ == "__main__":
    main()
