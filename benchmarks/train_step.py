"""Time per training step and NFE: our core vs a plain gather/scatter-add KirchhoffNet.

The baseline follows the paper's reference right-hand side (one device module per slice, gather
v_s and v_d per device, scatter_add the currents) and trains with torchdiffeq's dopri5 + the adjoint
method at the same tolerance. Ours is KirchhoffNet's default: the rates of kirchhoff_core.backprop
(two matrix products per evaluation; node-major weighted gathers for slices wider than
NODE_MAJOR_WIDTH) integrated by our lean dopri5 and back-propagated by its hand-written discrete
adjoint (the gradient of direct back-propagation), each step run as ``Trainer.step`` runs it (a
small model on one CPU thread: ``backprop.one_thread_if_small``); the process keeps freed memory for
reuse as ``Trainer`` makes it (``malloc.keep_freed_memory``), which both see. Both start
from the same parameters and see the same minibatches, so their test accuracies after the same
number of steps show that the speed-up is not paid for in accuracy.

Run: .venv/bin/python benchmarks/train_step.py [--steps N] [--only TEXT] [--threads N] [--grads]
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchdiffeq

from kirchhoff_core.backprop import one_thread_if_small
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.generators import generate
from kirchhoff_core.malloc import keep_freed_memory
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.train import task_loss, task_metric


class GatherScatterRHS(nn.Module):
    """The reference formulation: gather per device, scatter_add per device, every evaluation."""

    def __init__(self, circuit, index: int = 0):
        super().__init__()
        s = circuit.slices[index]
        assert len(set(s.kind.tolist())) == 1, "baseline supports one device kind"
        self.kind = s.kind[0]
        self.register_buffer("src", torch.as_tensor(s.src))
        self.register_buffer("dst", torch.as_tensor(s.dst))
        self.param = nn.Parameter(torch.tensor(s.params.T.copy(), dtype=torch.float32))  # (3, E)
        self.nfe = 0

    def forward(self, t, x):
        self.nfe += 1
        aux = torch.cat((torch.zeros_like(x[..., :1]), x), dim=-1)
        vs, vd = aux[..., self.src], aux[..., self.dst]
        p = self.param
        if self.kind == "ShiftTanh2":
            i = torch.tanh(vs * p[0] + vd * p[1] + p[2])
        elif self.kind == "ShiftRelu1":
            i = p[1] * F.relu(vs - vd - p[0])
        else:
            raise NotImplementedError(self.kind)
        out = torch.zeros_like(aux)
        out.scatter_add_(-1, self.src.expand_as(i), -i)
        out.scatter_add_(-1, self.dst.expand_as(i), i)
        return out[..., 1:]


def baseline_forward(rhs, circuit, x, tol):
    v0 = torch.zeros(x.shape[0], circuit.num_nodes)
    v0[:, np.array(circuit.inputs) - 1] = x
    t = torch.tensor([0.0, circuit.slices[0].duration])
    vt = torchdiffeq.odeint_adjoint(rhs, v0, t, rtol=tol, atol=tol, method="dopri5")[-1]
    return vt[:, np.array(circuit.outputs) - 1]


def _implementations(circuit, tol, batch_size):
    """(parameters, forward, nfe counter, threads) for the baseline and for our core, same initial
    state. ``threads`` is what each one's own training loop runs a step in: torch's setting for the
    baseline, ``Trainer.step``'s (one CPU thread when the model is small) for ours."""
    rhs = GatherScatterRHS(circuit)
    ours = KirchhoffNet(circuit, SolverConfig(rtol=tol, atol=tol))
    work = batch_size * max(s.num_devices for s in circuit.slices)
    return {
        "baseline": (rhs.parameters(), lambda x: baseline_forward(rhs, circuit, x, tol), lambda: rhs.nfe, nullcontext),
        "ours": (ours.parameters(), ours, lambda: ours.stats.nfe,
                 lambda: one_thread_if_small(work, torch.device("cpu"))),
    }


def run_case(name, circuit, data, lr, batch_size, steps, tol, seed=0):
    """Train both in lockstep on the same minibatches; alternate which goes first every step so
    machine noise hits both alike, and report median step times."""
    x_tr, y_tr, x_te, y_te = data.tensors(torch.float32)
    g = torch.Generator().manual_seed(seed)
    impls = _implementations(circuit, tol, batch_size)
    opts = {k: torch.optim.Adam(params, lr=lr) for k, (params, _, _, _) in impls.items()}
    times = {k: [] for k in impls}
    nfe = {k: [0, 0] for k in impls}
    acc: dict[str, list[float]] = {k: [] for k in impls}  # test accuracy every 50 steps
    for step in range(steps):
        idx = torch.randint(0, len(x_tr), (batch_size,), generator=g)
        order = list(impls) if step % 2 == 0 else list(reversed(impls))
        for k in order:
            _, fwd, count, threads = impls[k]
            before = count()
            start = time.perf_counter()
            with threads():
                opts[k].zero_grad()
                loss = task_loss(data.task, fwd(x_tr[idx]), y_tr[idx])
                mid = count()
                loss.backward()
                opts[k].step()
            times[k].append(time.perf_counter() - start)
            nfe[k][0] += mid - before
            nfe[k][1] += count() - mid
        if (step + 1) % 50 == 0:
            with torch.no_grad():
                for k, (_, fwd, _, _) in impls.items():
                    acc[k].append(task_metric(data.task, fwd(x_te), y_te))
    tb, to = float(np.median(times["baseline"])), float(np.median(times["ours"]))
    nb, no = [n / steps for n in nfe["baseline"]], [n / steps for n in nfe["ours"]]
    print(f"| {name} | {circuit.num_devices} | {tb * 1e3:.1f} | {to * 1e3:.1f} | **{tb / to:.1f}x** | "
          f"{nb[0]:.0f} + {nb[1]:.0f} | {no[0]:.0f} + {no[1]:.0f} | {_acc(acc['baseline'])} | {_acc(acc['ours'])} |",
          flush=True)


def grad_agreement(name, circuit, data, batch_size, tol) -> None:
    """How far each implementation's parameter gradient on one batch (same initial parameters) is
    from a reference one: float64, torchdiffeq's dopri8 at rtol = atol = 1e-8, back-propagated
    directly. Relative norms of the differences."""
    x_tr, y_tr, _, _ = data.tensors(torch.float32)
    x, y = x_tr[:batch_size], y_tr[:batch_size]
    tight = SolverConfig(method="dopri8", rtol=1e-8, atol=1e-8, max_nfe=1_000_000, timeout_s=None)
    ref_model = KirchhoffNet(circuit, tight, dtype=torch.float64)
    (ref,) = torch.autograd.grad(task_loss(data.task, ref_model(x.double()), y), list(ref_model.parameters()))
    ours = KirchhoffNet(circuit, SolverConfig(rtol=tol, atol=tol))
    (g_ours,) = torch.autograd.grad(task_loss(data.task, ours(x), y), list(ours.parameters()))
    rhs = GatherScatterRHS(circuit)
    (g_base,) = torch.autograd.grad(task_loss(data.task, baseline_forward(rhs, circuit, x, tol), y), [rhs.param])
    g_base = g_base.T[:, : g_ours.shape[1]]  # (E, the parameters the law uses)

    def rel(a, b):
        return float((a.double() - b.double()).norm() / b.double().norm())
    print(f"| {name} | {rel(g_ours, ref):.1e} | {rel(g_base, ref):.1e} | {rel(g_ours, g_base):.1e} |", flush=True)


def _acc(history: list[float]) -> str:
    return f"{history[-1]:.3f} / {max(history):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300, help="training steps per implementation")
    ap.add_argument("--tol", type=float, default=1e-3, help="rtol = atol for both")
    ap.add_argument("--seed", type=int, default=0, help="seed of the minibatch order")
    ap.add_argument("--only", default="", help="run only the cases whose name contains this text")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch intra-op threads (0: torch's default); 1 is steadier on a busy machine")
    ap.add_argument("--grads", action="store_true",
                    help="instead of training, compare both gradients on one batch with a tight reference")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    keep_freed_memory()  # what Trainer does; it holds for the baseline too (one process)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.steps} steps, tol {args.tol:g}\n")
    if args.grads:
        print("| case | ours vs reference | baseline vs reference | ours vs baseline |\n|---|---|---|---|")
    else:
        print("| case | devices | baseline ms/step (median) | ours ms/step (median) | speed-up | baseline NFE fwd + bwd "
              "| ours NFE fwd + bwd | baseline test acc final / best | ours test acc final / best |")
        print("|---|---|---|---|---|---|---|---|---|")
    moons = make_dataset("moons", 500, seed=0)
    digits = make_dataset("digits", 1797, seed=0)
    cases = [
        ("moons, fully connected 3-node [25,25]",
         lambda: generate("fully_connected", num_nodes=2, repeats=(25, 25), inputs=[1, 2], outputs=[1, 2]),
         moons, 0.001, 32),
        ("moons, fully connected 8-node (preset)", lambda: build_circuit(preset_for("moons")), moons, 0.02, 32),
        ("digits 8x8, 64 -> 10 layered (preset)", lambda: build_circuit(preset_for("digits")), digits, 0.02, 64),
    ]
    for name, make, data, lr, bs in cases:
        if args.only not in name:
            continue
        if args.grads:
            grad_agreement(name, make(), data, bs, args.tol)
        else:
            run_case(name, make(), data, lr, bs, args.steps, args.tol, args.seed)


if __name__ == "__main__":
    main()
