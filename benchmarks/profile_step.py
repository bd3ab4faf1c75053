"""Where a training step's time goes: the cases of train_step.py through torch.profiler.

Prints, per case, the median step time and its split (forward, backward, optimiser) and the
operators that took the most self time per step. Uses only the public API (KirchhoffNet, the
presets, Adam), so it runs on older versions of the core too: point PYTHONPATH at another
checkout to profile it "before".

Run: .venv/bin/python benchmarks/profile_step.py [--only digits] [--threads 1] [--top 12]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.profiler import ProfilerActivity, profile

try:
    from kirchhoff_core import malloc
except ImportError:  # a checkout from before kirchhoff_core.malloc
    malloc = None

from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.generators import generate
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.train import task_loss


def cases():
    moons, digits = make_dataset("moons", 500, seed=0), make_dataset("digits", 1797, seed=0)
    return [("3-node [25,25]", generate("fully_connected", num_nodes=2, repeats=(25, 25), inputs=[1, 2], outputs=[1, 2]),
             moons, 1e-3, 32),
            ("8-node (moons preset)", build_circuit(preset_for("moons")), moons, 0.02, 32),
            ("digits (preset)", build_circuit(preset_for("digits")), digits, 0.02, 64)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=100, help="timed steps (default 100)")
    ap.add_argument("--top", type=int, default=12, help="operators listed (default 12)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if malloc is not None:  # as Trainer does
        malloc.keep_freed_memory()
    for name, circuit, data, lr, bs in cases():
        if args.only not in name:
            continue
        torch.manual_seed(0)
        model = KirchhoffNet(circuit, SolverConfig(rtol=1e-3, atol=1e-3))
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        x, y, _, _ = data.tensors(torch.float32)
        g = torch.Generator().manual_seed(0)
        split = {"forward": [], "backward": [], "optimiser": []}

        def step(record: bool) -> None:
            idx = torch.randint(0, len(x), (bs,), generator=g)
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = task_loss(data.task, model(x[idx]), y[idx])
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            opt.step()
            t3 = time.perf_counter()
            if record:
                for k, v in zip(split, (t1 - t0, t2 - t1, t3 - t2)):
                    split[k].append(v)

        for _ in range(20):
            step(False)
        model.stats.reset()
        for _ in range(args.steps):
            step(True)
        nfe = model.stats.nfe / args.steps
        med = {k: 1e3 * statistics.median(v) for k, v in split.items()}
        print(f"\n## {name}: {sum(med.values()):.2f} ms/step (forward {med['forward']:.2f}, backward "
              f"{med['backward']:.2f}, optimiser {med['optimiser']:.2f}), {nfe:.1f} evaluations per step, "
              f"{torch.get_num_threads()} thread(s)")
        n = 30
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(n):
                step(False)
        events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
        total = sum(e.self_cpu_time_total for e in events)
        print("| operator (self time, under the profiler) | calls per step | ms per step | share |\n|---|---|---|---|")
        for e in events[: args.top]:
            print(f"| {e.key} | {e.count / n:.0f} | {e.self_cpu_time_total / n / 1e3:.3f} | "
                  f"{100 * e.self_cpu_time_total / total:.1f} % |")


if __name__ == "__main__":
    main()
