"""``kirchhoff trajectory`` and ``kirchhoff readout-sweep``: the Trajectories page's numbers from a shell.

Registered by ``cli.build_parser``; errors surface through ``cli.main`` as one ``error: ...`` line.
"""

from __future__ import annotations

import argparse
import sys

import torch

from .cli_common import SIMULATE_RTOL, UsageError, add_solver_flags, int_in, parse_floats, solver_from_args
from .datasets import DATASETS, make_dataset
from .io import load_circuit
from .model import KirchhoffNet
from .solvers import work_budget
from .train import check_compatible
from .trajectories import (MAX_POINTS_PER_SLICE, MAX_TIMES, compute_trajectory, frame_times,
                           metric_vs_readout_time, to_csv)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the two subcommands to the ``kirchhoff`` parser."""
    p = sub.add_parser("trajectory", help="one input's whole transient as CSV (t, slice, v1..vN, currents)",
                       description="Simulate one input and print every node's voltage at evenly spaced points of "
                                   "every slice (a slice boundary appears twice: end of one slice, start of the "
                                   "next), optionally with every device's current.")
    p.add_argument("circuit", help="circuit JSON file")
    p.add_argument("--inputs", required=True, help="input voltages, comma-separated (one per input node)")
    p.add_argument("--points", type=int_in(), default=100,
                   help=f"points per slice, 1..{MAX_POINTS_PER_SLICE} (default 100)")
    p.add_argument("--currents", action="store_true",
                   help="add one column per device of each slice, i_s{slice}_d{device}_{src}to{dst}")
    add_solver_flags(p, default_rtol=SIMULATE_RTOL)
    p.set_defaults(func=cmd_trajectory)

    p = sub.add_parser("readout-sweep", help="test accuracy (or R²) and loss if read out at other times",
                       description="The metric and loss on a dataset split if the read-out nodes were sampled at "
                                   "evenly spaced times from 0 to T instead of at T: CSV t,metric,loss.")
    p.add_argument("circuit", help="trained circuit JSON file")
    p.add_argument("--dataset", default="moons", choices=sorted(DATASETS))
    p.add_argument("--samples", type=int_in(), default=500, help="dataset size (default 500)")
    p.add_argument("--seed", type=int_in(0, 2 ** 32 - 1), default=0,
                   help="dataset seed (default 0, as `kirchhoff train`)")
    p.add_argument("--split", default="test", choices=["test", "train"])
    p.add_argument("--times", type=int_in(), default=21,
                   help=f"number of read-out times, 2..{MAX_TIMES} (default 21)")
    add_solver_flags(p)
    p.set_defaults(func=cmd_readout_sweep)


def cmd_trajectory(args: argparse.Namespace) -> None:
    if not 1 <= args.points <= MAX_POINTS_PER_SLICE:
        raise UsageError(f"--points: must be in [1, {MAX_POINTS_PER_SLICE}], got {args.points}")
    model = KirchhoffNet(load_circuit(args.circuit), solver_from_args(args, default_rtol=SIMULATE_RTOL),
                         dtype=torch.float64)
    with work_budget(model.solver, "the `kirchhoff trajectory` command"):
        traj = compute_trajectory(model, parse_floats(args.inputs, "--inputs"), args.points, currents=args.currents)
    for note in traj.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.currents and traj.currents is None:
        raise UsageError("--currents: the circuit has too many devices to keep every current at every point")
    sys.stdout.write(to_csv(traj, currents=args.currents))


def cmd_readout_sweep(args: argparse.Namespace) -> None:
    if not 2 <= args.times <= MAX_TIMES:
        raise UsageError(f"--times: must be in [2, {MAX_TIMES}], got {args.times}")
    model = KirchhoffNet(load_circuit(args.circuit), solver_from_args(args, default_rtol=1e-6), dtype=torch.float64)
    data = make_dataset(args.dataset, n_samples=args.samples, seed=args.seed)
    check_compatible(model, data)
    with work_budget(model.solver, "the `kirchhoff readout-sweep` command"):
        sweep = metric_vs_readout_time(model, data, frame_times(model.t_end, args.times), split=args.split)
    print("t,metric,loss")
    for t, m, loss in zip(sweep.times, sweep.metric, sweep.loss):
        print(f"{t:.6g},{m:.6f},{loss:.6f}")
    t_best, m_best = sweep.best
    name = "accuracy" if sweep.metric_name == "accuracy" else "R2"
    print(f"{args.split} {name} at T = {model.t_end:g}: {sweep.metric[-1]:.4f}; best at t = {t_best:.4g}: "
          f"{m_best:.4f}", file=sys.stderr)
