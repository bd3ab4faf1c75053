"""Reproduce the paper's 2-D generation results with our core: held-out NLL vs the reference.

For each target, trains the reference's circuit (``generative.FLOW_PRESETS``: 3 nodes incl.
ground, ShiftTanh2, repeats [25, 25] or [10, 10], the reference's slice count and duration) on
fresh samples every step, then reports the NLL of ``--eval-size`` fresh held-out samples beside the
reference's final *training* NLL, our steps beside theirs, and the wall time. The trained circuits
(+ training config and history) go to ``--out``/<target>.json, ready to copy to assets/generative/.

    .venv/bin/python benchmarks/generative_repro.py --targets 8gaussians --steps 50      # smoke run
    .venv/bin/python benchmarks/generative_repro.py --jobs 6 --out runs/generative        # all six

Runs are seeded (circuit initialisation, batches, held-out set): the same seed and flags give the
same circuit. ``--jobs`` trains targets in parallel processes with ``--threads`` each.

Long runs go in legs: ``--init DIR`` resumes each target from DIR/<target><tag>.json (parameters,
steps done, the training log) and DIR/<target><tag>.adam.safetensors (Adam's moments), so the step
count, the learning-rate schedule (planned over ``--steps`` in all) and the optimiser carry on.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import sys
import time
from concurrent.futures import ProcessPoolExecutor

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REFERENCE_TARGETS = ("moons", "circles", "8gaussians", "pinwheel", "2spirals", "swissroll")


def train_one(target: str, args: argparse.Namespace) -> dict:
    """Train one target; return its row of the results table."""
    import torch

    torch.set_num_threads(args.threads)
    from kirchhoff_core.generative import CircuitFlow, GenerativeTrainer, flow_preset, gaussian_baseline_nll
    from kirchhoff_core.io import load_trained, save_circuit
    from kirchhoff_core.solvers import SolverConfig

    preset = flow_preset(target)
    steps = args.steps or preset.steps
    solver = SolverConfig(method=args.method, rtol=args.rtol, atol=args.rtol, adjoint=args.adjoint,
                          timeout_s=600.0, max_nfe=50_000)
    name = f"{target}{args.tag}"
    circuit, log, done, before_s = preset.circuit(seed=args.seed, gain=args.gain), [], 0, 0.0
    if args.init:
        circuit, past = load_trained(pathlib.Path(args.init) / f"{name}.json")
        log, done, before_s = past.history, past.steps, past.result["wall_time_s"]
    flow = CircuitFlow(circuit, solver).to(args.device)
    config = preset.config(lr=args.lr or preset.lr, batch_size=args.batch_size or preset.batch_size,
                           anneal_steps=steps if args.schedule == "cosine" else 0, seed=args.seed,
                           eval_size=args.eval_size, eval_every=0, grad_clip=args.grad_clip, start_step=done)
    trainer = GenerativeTrainer(flow, config)
    if args.init:
        load_adam(trainer.optimizer, pathlib.Path(args.init) / f"{name}.adam.safetensors")
    start = time.perf_counter()

    def report(rec) -> bool:
        over = args.time_limit is not None and time.perf_counter() - start > args.time_limit
        if rec.step % args.log_every == 0 or rec.step == steps or over:
            test = trainer.evaluate(limit=args.log_eval_size) if args.log_eval_size else float("nan")
            log.append({"step": rec.step, "train_loss": rec.train_loss, "test_nll": test, "lr": rec.lr,
                        "nfe_forward": rec.nfe_forward, "elapsed": before_s + time.perf_counter() - start})
            print(f"[{target}] step {rec.step}/{steps} loss {rec.train_loss:.4f} held-out {test:.4f} "
                  f"nfe {rec.nfe_forward} lr {rec.lr:.2e} {time.perf_counter() - start:.0f}s", flush=True)
        return over

    trainer.run(max(steps - done, 0), callback=report)
    steps = trainer.steps_done
    train_time = before_s + time.perf_counter() - start
    # Final held-out NLL at a tighter tolerance than training, on its own fresh samples.
    flow.solver = SolverConfig(method="dopri5", rtol=1e-5, atol=1e-5, timeout_s=600.0, max_nfe=50_000)
    nll = trainer.evaluate()
    baseline = gaussian_baseline_nll(trainer.x_test.cpu())
    row = {"target": target, "nll": nll, "reference_nll": preset.reference_nll, "gaussian_nll": baseline,
           "steps": steps, "reference_steps": preset.reference_steps, "wall_time_s": train_time,
           "batch_size": config.batch_size, "lr": config.lr, "device": args.device, "gain": args.gain,
           "rtol": args.rtol, "legs": past.result.get("legs", 1) + 1 if args.init else 1}
    out = pathlib.Path(args.out)
    save_circuit(flow.to_circuit(), out / f"{name}.json", training=trainer.training_record(
        solver=solver.to_dict(), history=log, result=row, extra={"seed": args.seed}))
    save_adam(trainer.optimizer, out / f"{name}.adam.safetensors")
    return row


def save_adam(opt, path: pathlib.Path) -> None:
    """Adam's per-parameter moments and step counts, as safetensors (no pickle)."""
    from safetensors.torch import save_file

    tensors = {}
    for i, p in enumerate(opt.param_groups[0]["params"]):
        for key, value in opt.state.get(p, {}).items():
            tensors[f"{i}.{key}"] = value.detach().cpu().contiguous().reshape(value.shape)
    save_file(tensors, str(path))


def load_adam(opt, path: pathlib.Path) -> None:
    """Restore what ``save_adam`` wrote into a fresh optimiser over the same parameters."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    for i, p in enumerate(opt.param_groups[0]["params"]):
        state = {k.split(".", 1)[1]: v.to(p.device) for k, v in tensors.items() if k.split(".", 1)[0] == str(i)}
        if state:
            state["step"] = state["step"].cpu()  # Adam keeps its step counts on the CPU
            opt.state[p] = state


def recheck(target: str, args: argparse.Namespace) -> dict:
    """NLL of the trained circuit ``--recheck``/<target><tag>.json on ``--eval-size`` fresh samples
    from a stream no run trains or selects on (seed ``--recheck-seed``), with its standard error."""
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from kirchhoff_core.densities import sample_target
    from kirchhoff_core.generative import CircuitFlow
    from kirchhoff_core.io import load_trained
    from kirchhoff_core.solvers import SolverConfig

    circuit, training = load_trained(pathlib.Path(args.recheck) / f"{target}{args.tag}.json")
    flow = CircuitFlow(circuit, SolverConfig(rtol=1e-5, atol=1e-5, timeout_s=600.0, max_nfe=50_000))
    x = sample_target(target, args.eval_size, np.random.default_rng([args.recheck_seed, 2]))
    with torch.no_grad():
        nll = -torch.cat([flow.log_prob(part) for part in np.array_split(x, max(1, len(x) // 10_000))]).double()
    result = training.result if training is not None else {}
    return {"target": target, "nll": float(nll.mean()), "se": float(nll.std() / math.sqrt(len(nll))),
            "n": len(nll), "steps": result.get("steps"), "reference_nll": result.get("reference_nll"),
            "training_nll": result.get("nll")}


def rhs_bench(batch: int = 512, repeats: int = 200) -> None:
    """One right-hand-side evaluation of the 8gaussians circuit's first slice (300 devices): the
    currents alone (KirchhoffNet), currents + the exact trace (the flow's augmented dynamics), and
    currents + a brute-force autograd trace (one backward pass per node, as the reference did)."""
    import torch

    from kirchhoff_core.generative import CircuitFlow, flow_preset

    torch.set_num_threads(1)
    flow = CircuitFlow(flow_preset("8gaussians").circuit(seed=0))
    aug = flow._augs[0]
    dyn = aug.dyn
    x = torch.randn(batch, 2, generator=torch.Generator().manual_seed(0))
    y = torch.cat([x.T, torch.zeros(1, batch)]).contiguous()
    t0 = torch.tensor(0.0)

    def median_ms(fn) -> float:
        for _ in range(5):
            fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return sorted(times)[len(times) // 2] * 1e3

    def brute() -> None:
        v = x.detach().requires_grad_(True)
        with torch.enable_grad():
            dv = dyn(t0, v)
            sum(torch.autograd.grad(dv[:, n].sum(), v, create_graph=True)[0][:, n] for n in range(2))

    with dyn.frozen():
        plain = median_ms(lambda: dyn(t0, x))
    with aug.frozen():
        exact = median_ms(lambda: aug(t0, y))
    auto = median_ms(brute)
    print(f"one evaluation, batch {batch}, 300 devices, 1 thread (median of {repeats}): currents {plain:.3f} ms; "
          f"currents + exact trace {exact:.3f} ms ({exact / plain:.2f}x); currents + autograd trace "
          f"{auto:.3f} ms ({auto / plain:.2f}x)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--targets", default=",".join(REFERENCE_TARGETS),
                   help="comma-separated data targets (default: the six with reference results)")
    p.add_argument("--steps", type=int, help="optimiser steps (default: a quarter of the reference's)")
    p.add_argument("--batch-size", type=int, help="samples per step (default 512, as the reference)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: the preset's)")
    p.add_argument("--schedule", choices=["cosine", "constant"], default="cosine")
    p.add_argument("--grad-clip", type=float, default=0.0, help="clip the gradient norm (0 = off)")
    p.add_argument("--method", default="dopri5")
    p.add_argument("--rtol", type=float, default=1e-4, help="training tolerance (reference: 1e-4)")
    p.add_argument("--adjoint", action="store_true", help="adjoint gradients (the reference's choice)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gain", type=float, default=1.0, help="initialisation scale of the circuit (default 1)")
    p.add_argument("--eval-size", type=int, default=10_000, help="held-out samples (default 10000)")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--log-eval-size", type=int, default=0,
                   help="held-out NLL on this many of the held-out samples at every log line (0 = off)")
    p.add_argument("--time-limit", type=float, help="stop training after this many seconds (then evaluate)")
    p.add_argument("--tag", default="", help="suffix for the output file names")
    p.add_argument("--init", help="resume each target from the files an earlier run wrote to this folder")
    p.add_argument("--jobs", type=int, default=1, help="targets trained in parallel processes")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--out", default="runs/generative", help="folder for the trained circuits")
    p.add_argument("--recheck", metavar="DIR", help="only re-measure the circuits a run wrote to DIR on "
                   "--eval-size samples of an independent stream (--recheck-seed) and exit")
    p.add_argument("--recheck-seed", type=int, default=2026)
    p.add_argument("--rhs-bench", action="store_true", help="only time one right-hand-side evaluation and exit")
    args = p.parse_args(argv)
    if args.rhs_bench:
        rhs_bench(args.batch_size or 512)
        return 0
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if args.recheck:
        print("| target | NLL on fresh samples (± s.e.) | n | at the end of training | reference | steps |")
        print("|---|---|---|---|---|---|")
        for t in targets:
            r = recheck(t, args)
            print(f"| {t} | {r['nll']:.3f} ± {r['se']:.3f} | {r['n']:,} | {r['training_nll']:.3f} | "
                  f"{r['reference_nll']} | {r['steps']:,} |", flush=True)
        return 0
    from kirchhoff_core.generative import flow_preset
    for t in targets:
        flow_preset(t)  # fail early on a bad name
    if args.jobs > 1:
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
        with ProcessPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(train_one, targets, [args] * len(targets)))
    else:
        rows = [train_one(t, args) for t in targets]
    print("\n| target | held-out NLL (ours) | reference train NLL | diff | Gaussian fit NLL | steps (ours / ref) "
          "| batch | wall time |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ref = r["reference_nll"]
        diff = f"{r['nll'] - ref:+.3f}" if ref is not None else "-"
        ref_steps = f"{r['reference_steps']:,}" if r["reference_steps"] else "-"
        print(f"| {r['target']} | {r['nll']:.3f} | {ref if ref is not None else '-'} | {diff} | "
              f"{r['gaussian_nll']:.3f} | {r['steps']:,} / {ref_steps} | {r['batch_size']} | "
              f"{r['wall_time_s'] / 60:.1f} min |")
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    from kirchhoff_core.atomic import atomic_write
    atomic_write(pathlib.Path(args.out) / f"results{args.tag}.json", json.dumps(rows, indent=1))
    return 0 if all(math.isfinite(r["nll"]) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
