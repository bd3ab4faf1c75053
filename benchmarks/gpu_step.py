"""The paper's image circuits on one GPU: time and peak memory of a training step per gradient mode.

MNIST circuit (mixed 28 x 28, k = 4, F = 50: 834 nodes, 230,068 ShiftRelu1 devices per slice, 2
slices) at batch 512, rtol = atol = 1e-3, AdamW lr 5e-4, random inputs of the right shape:
- "baseline": the reference formulation, as benchmarks/train_step.py (per slice one parameter
  block, gather v_s / v_d per device, scatter_add the currents) with torchdiffeq dopri5 +
  odeint_adjoint;
- ours with grad="direct" (every stage's activations kept), "checkpoint" (accepted states kept,
  stages recomputed in the backward pass), "auto" (direct until 1 GiB, checkpointed after) and
  "adjoint" (torchdiffeq's adjoint on our right-hand side).
Each row: median ms per step (forward + backward + optimiser, synchronised), peak memory of a
step (torch.cuda.max_memory_allocated; on the CPU the growth of the resident set during the
first step, sampled every millisecond, each mode in a fresh process), NFE forward + backward, the projected epoch (60,000 / 512
steps) beside the paper's 4.76 min. Then the SVHN / CIFAR-10 circuit (3 x 32 x 32: 3,122 nodes,
2,054,018 devices per slice, 3 slices) at batch 256, checkpointed. ``--parts accuracy`` compares
each mode's gradient on one batch with a float64 rtol = atol = 1e-7 solution of the same circuit.

Run (GPU, about 5 minutes on an H200): python benchmarks/gpu_step.py
     (parts)                           python benchmarks/gpu_step.py --parts mnist,svhn
     (CPU check, a scaled-down circuit) python benchmarks/gpu_step.py --small --device cpu
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import pathlib
import statistics
import subprocess
import sys
import threading
import time

import torch
import torch.nn as nn
import torchdiffeq

from kirchhoff_core.accelerator import describe, resolve_device
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.solvers import SolverConfig

_spec = importlib.util.spec_from_file_location("train_step", pathlib.Path(__file__).with_name("train_step.py"))
train_step = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_step)

PAPER_MIN_PER_EPOCH = 4.76
MNIST_TRAIN = 60_000
MODES = ("baseline", "direct", "checkpoint", "auto", "adjoint")


class Baseline(nn.Module):
    """The reference formulation over all slices: one GatherScatterRHS per slice, each integrated
    by torchdiffeq's dopri5 with the adjoint method, time tensors on the state's device."""

    def __init__(self, circuit, tol: float):
        super().__init__()
        self.circuit, self.tol = circuit, tol
        self.rhs = nn.ModuleList(train_step.GatherScatterRHS(circuit, i) for i in range(len(circuit.slices)))
        self.register_buffer("inputs", torch.as_tensor(circuit.inputs) - 1)
        self.register_buffer("outputs", torch.as_tensor(circuit.outputs) - 1)

    def nfe(self) -> int:
        return sum(r.nfe for r in self.rhs)

    def forward(self, x):
        v = x.new_zeros(x.shape[0], self.circuit.num_nodes)
        v[:, self.inputs] = x
        for r, s in zip(self.rhs, self.circuit.slices):
            t = torch.tensor([0.0, s.duration], device=x.device)
            v = torchdiffeq.odeint_adjoint(r, v, t, rtol=self.tol, atol=self.tol, method="dopri5")[-1]
        return v[:, self.outputs]


class PeakMemory:
    """Peak bytes allocated inside the block: CUDA's own counter, or on the CPU the growth of the
    resident set (sampled every millisecond by a thread; a first step, so growth is allocation)."""

    def __init__(self, device: torch.device):
        self.device, self.peak = device, 0

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        else:
            self._base, self._top, self._stop = self._rss(), 0, False
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop:
            self._top = max(self._top, self._rss())
            time.sleep(0.001)

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) - self._base
        else:
            self._stop = True
            self._thread.join()
            self.peak = max(self._top, self._rss()) - self._base


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_model(mode: str, circuit, tol: float, device: torch.device, budget_gb: float) -> tuple[nn.Module, callable]:
    """(module, nfe counter) for a mode, on the device, from the circuit's initial parameters."""
    if mode == "baseline":
        m = Baseline(circuit, tol).to(device)
        return m, m.nfe
    cfg = SolverConfig(rtol=tol, atol=tol, grad=mode, grad_memory_gb=budget_gb, max_nfe=100_000, timeout_s=None)
    m = KirchhoffNet(circuit, cfg).to(device)
    return m, lambda: m.stats.nfe


def time_mode(mode: str, circuit, batch: int, tol: float, device: torch.device, steps: int, warmup: int,
              budget_gb: float, seed: int = 0) -> dict:
    """Median step time, peak memory of the first step, NFE per step (forward + backward)."""
    model, nfe = make_model(mode, circuit, tol, device, budget_gb)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4)
    g = torch.Generator().manual_seed(seed)
    n_in, n_out = len(circuit.inputs), len(circuit.outputs)
    batches = [(torch.rand(batch, n_in, generator=g).to(device), torch.randint(0, n_out, (batch,), generator=g).to(device))
               for _ in range(warmup + steps)]
    times, nfes, peak = [], [], None
    for i, (x, y) in enumerate(batches):
        meter = PeakMemory(device) if i == 0 else None
        _sync(device)
        start = time.perf_counter()
        n0 = nfe()
        if meter is not None:
            meter.__enter__()
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), y)
        n1 = nfe()
        loss.backward()
        opt.step()
        _sync(device)
        if meter is not None:
            meter.__exit__()
            peak = meter.peak
        if i >= warmup:
            times.append(time.perf_counter() - start)
            nfes.append((n1 - n0, nfe() - n1))
    del model, opt, batches
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {"ms": 1e3 * statistics.median(times), "peak_gib": peak / 2**30,
            "nfe": (statistics.median(a for a, _ in nfes), statistics.median(b for _, b in nfes))}


def gradient_accuracy(circuit, modes, tol: float, device: torch.device, batch: int, budget_gb: float) -> None:
    """Each mode's parameter gradient on one batch against a float64 rtol = atol = 1e-7 solution."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(batch, len(circuit.inputs), generator=g).to(device)
    y = torch.randint(0, len(circuit.outputs), (batch,), generator=g).to(device)
    ref_cfg = SolverConfig(rtol=1e-7, atol=1e-7, grad="checkpoint", max_nfe=1_000_000, timeout_s=None)
    ref_model = KirchhoffNet(circuit, ref_cfg, dtype=torch.float64).to(device)
    loss = nn.functional.cross_entropy(ref_model(x.double()), y)
    ref = torch.cat([p.reshape(-1) for p in torch.autograd.grad(loss, list(ref_model.parameters()))])
    del ref_model
    print("\n| mode | gradient error vs float64 rtol 1e-7 (relative norm) | max abs error |\n|---|---|---|")
    for mode in modes:
        model, _ = make_model(mode, circuit, tol, device, budget_gb)
        grads = torch.autograd.grad(nn.functional.cross_entropy(model(x), y), list(model.parameters()))
        if mode == "baseline":  # (3, E) per slice, rows p0, p1 (ShiftRelu1 uses two)
            flat = torch.cat([gr[:2].T.reshape(-1) for gr in grads])
        else:
            flat = torch.cat([gr.reshape(-1) for gr in grads])
        err = (flat.double() - ref)
        print(f"| {mode} | {float(err.norm() / ref.norm()):.2e} | {float(err.abs().max()):.2e} |", flush=True)
        del model
        gc.collect()


def _circuits(small: bool):
    if small:  # the same generator at a size a CPU runs in seconds
        mnist = build_circuit(preset_for("mnist"), width=12, height=12, k=3, projection=10, n_inputs=144)
        svhn = build_circuit(preset_for("svhn"), width=8, height=8, k=3, projection=10, n_inputs=192)
        return mnist, 64, svhn, 32
    return build_circuit(preset_for("mnist")), 512, build_circuit(preset_for("svhn")), 256


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="mnist,svhn", help="comma-separated: mnist, svhn, accuracy (default mnist,svhn)")
    ap.add_argument("--modes", default=",".join(MODES), help=f"MNIST modes (default {','.join(MODES)})")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    ap.add_argument("--small", action="store_true", help="scaled-down circuits (CPU check)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per mode (default 5; 3 for the slow modes)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1; its memory is measured)")
    ap.add_argument("--budget-gb", type=float, default=1.0, help="grad_memory_gb of the 'auto' mode (default 1)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # CPU: one mode in a fresh process, JSON out
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.child:
        circuit_name, mode, steps = args.child.split(":")
        mnist, b_mnist, svhn, b_svhn = _circuits(args.small)
        circuit, batch = (mnist, b_mnist) if circuit_name == "mnist" else (svhn, b_svhn)
        print(json.dumps(time_mode(mode, circuit, batch, 1e-3, device, int(steps), args.warmup, args.budget_gb)))
        return

    def run(mode: str, which: str, steps: int) -> dict:
        if device.type == "cuda":
            circuit, batch = (mnist, b_mnist) if which == "mnist" else (svhn, b_svhn)
            return time_mode(mode, circuit, batch, 1e-3, device, steps, args.warmup, args.budget_gb)
        cmd = [sys.executable, __file__, "--child", f"{which}:{mode}:{steps}", "--device", "cpu",
               "--warmup", str(args.warmup), "--budget-gb", str(args.budget_gb), "--threads", str(args.threads)]
        out = subprocess.run(cmd + (["--small"] if args.small else []), capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    parts = set(args.parts.split(","))
    modes = [m for m in args.modes.split(",") if m]
    bad = sorted(set(modes) - set(MODES)) + sorted(parts - {"mnist", "svhn", "accuracy"})
    if bad:
        raise SystemExit(f"unknown part or mode: {bad}")
    t0 = time.perf_counter()
    mnist, b_mnist, svhn, b_svhn = _circuits(args.small)
    print(f"torch {torch.__version__} on {describe(device)}; circuits built in {time.perf_counter() - t0:.1f} s")
    print(f"MNIST circuit: {mnist.num_nodes} nodes, {mnist.slices[0].num_devices:,} devices per slice, "
          f"{len(mnist.slices)} slices, batch {b_mnist}, rtol = atol = 1e-3")
    if "mnist" in parts:
        print("\n| mode | ms/step (median) | peak GiB (one step) | NFE fwd + bwd | projected epoch (min, 60,000 / "
              f"{b_mnist} steps) | paper (min/epoch) | speed-up vs baseline | memory vs baseline |")
        print("|---|---|---|---|---|---|---|---|")
        base = None
        for mode in modes:
            slow = mode in ("baseline", "adjoint")
            r = run(mode, "mnist", max(1, min(args.steps, 3) if slow else args.steps))
            base = r if mode == "baseline" else base
            epoch_min = r["ms"] / 1e3 * (MNIST_TRAIN / b_mnist) / 60
            ratio = f"{base['ms'] / r['ms']:.1f}x" if base else "-"
            mem = f"{r['peak_gib'] / base['peak_gib']:.2f}x" if base and base["peak_gib"] > 0 else "-"
            print(f"| {mode} | {r['ms']:.0f} | {r['peak_gib']:.2f} | {r['nfe'][0]:.0f} + {r['nfe'][1]:.0f} | "
                  f"{epoch_min:.2f} | {PAPER_MIN_PER_EPOCH} | {ratio} | {mem} |", flush=True)
    if "accuracy" in parts:
        gradient_accuracy(mnist, modes, 1e-3, device, min(b_mnist, 64), args.budget_gb)
    if "svhn" in parts:
        print(f"\nSVHN / CIFAR-10 circuit: {svhn.num_nodes} nodes, {svhn.slices[0].num_devices:,} devices per slice, "
              f"{len(svhn.slices)} slices, {sum(s.num_devices for s in svhn.slices) * 2:,} parameters, batch {b_svhn}")
        print("\n| mode | ms/step (median) | peak GiB (one step) | NFE fwd + bwd |\n|---|---|---|---|")
        r = run("checkpoint", "svhn", max(1, min(args.steps, 2)))
        print(f"| checkpoint | {r['ms']:.0f} | {r['peak_gib']:.2f} | {r['nfe'][0]:.0f} + {r['nfe'][1]:.0f} |")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
