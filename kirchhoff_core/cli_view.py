"""``kirchhoff view``: the zoomable network view of a circuit (``netview``) as an HTML file.

Registered by ``cli.build_parser``; errors surface through ``cli.main`` as one ``error: ...`` line.
"""

from __future__ import annotations

import argparse
import sys

import torch

from .atomic import atomic_write
from .cli_common import (SIMULATE_RTOL, UsageError, add_solver_flags, finite_float, int_in, parse_floats,
                         solver_from_args)
from .io import load_circuit
from .model import KirchhoffNet
from .netview import MAX_EDGES, network_view
from .outputs import prepare_output_file
from .solvers import work_budget
from .trajectories import slice_voltages


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the ``view`` subcommand to the ``kirchhoff`` parser."""
    p = sub.add_parser("view", help="a zoomable network view of a circuit as a self-contained HTML file",
                       description="Write one slice of the circuit as a force-directed, zoomable network (vis-network "
                                   "inlined, no network access needed to open it): nodes coloured by role, or with "
                                   "--inputs by their voltage at --time; one edge per node pair, wider with more "
                                   "parallel devices; the busiest --max-edges pairs are drawn.")
    p.add_argument("circuit", help="circuit JSON file")
    p.add_argument("--out", "-o", required=True, help="HTML file to write")
    p.add_argument("--slice", type=int_in(0), default=0, help="time slice to show (default 0)")
    p.add_argument("--inputs", help="colour by voltage for this input (comma-separated, one per input node)")
    p.add_argument("--time", type=finite_float,
                   help="with --inputs: the time of the voltages, within the slice (default: the slice's end)")
    p.add_argument("--no-ground", action="store_true", help="leave out ground (node 0) and its devices")
    p.add_argument("--max-edges", type=int_in(), default=MAX_EDGES,
                   help=f"node pairs drawn, the busiest first (default {MAX_EDGES})")
    add_solver_flags(p, default_rtol=SIMULATE_RTOL)
    p.set_defaults(func=cmd_view)


def cmd_view(args: argparse.Namespace) -> None:
    if args.time is not None and args.inputs is None:
        raise UsageError("--time: colouring by voltage needs --inputs too")
    out = prepare_output_file(args.out, "--out")
    circuit = load_circuit(args.circuit)
    if args.slice >= len(circuit.slices):
        raise UsageError(f"--slice: the circuit has slices 0..{len(circuit.slices) - 1}, got {args.slice}")
    voltages = None
    if args.inputs is not None:
        model = KirchhoffNet(circuit, solver_from_args(args, default_rtol=SIMULATE_RTOL), dtype=torch.float64)
        t = model.boundaries[args.slice + 1] if args.time is None else args.time
        with work_budget(model.solver, "the `kirchhoff view` command"):
            voltages = slice_voltages(model, parse_floats(args.inputs, "--inputs"), t, args.slice)
    view = network_view(circuit, args.slice, voltages, include_ground=not args.no_ground, max_edges=args.max_edges)
    atomic_write(out, view.html)
    print(f"wrote {out}: {view.nodes} nodes, {view.shown_pairs:,} of {view.pairs:,} node pairs"
          + (f", coloured by voltage at t = {t:g}" if voltages is not None else ", coloured by role"), file=sys.stderr)
