"""``kirchhoff sweep``: hyperparameter sweeps on Ray Tune from a shell (``sweep show``, ``sweep resume``).

Registered by ``cli.build_parser``; errors surface through ``cli.main`` as one ``error: ...`` line
(``SweepError`` is a ValueError). Ray is imported only when a sweep runs.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import signal
import sys
from typing import Any

from tqdm import tqdm

from .cli_common import UsageError
from .sweeps import (MAX_TRIALS, PRESETS, SEARCHES, SearchSpace, SweepSpec, SweepState, hyperparameters,
                     load_space_file, load_sweep, load_trial, preset_spec, read_spec, run_serial, run_sweep,
                     train_command)
from .sweeps.space import label
from .sweeps.spec import EARLY_STOPPING, OBJECTIVES

SPACE_HELP = """\
search space (--space, repeatable; --space-file FILE.yaml|json holds the same as a mapping):
  NAME=V1,V2,...        a list of values (one value fixes the setting): num_nodes=4,6,8  optimizer=adam,sgd
  NAME=LOW:HIGH         a uniform range (integers for integer settings): num_nodes=4:12
  NAME=LOW:HIGH:log     a log-uniform range: lr=1e-3:1e-1:log
  NAME=LOW:HIGH[:log]:N N evenly (log-evenly) spaced points, for grid search: lr=1e-3:1e-1:log:5
  list-valued settings use / inside a value: repeats=1/1,2/2   layer_sizes=2/4/2,2/8/2
  space file:   lr: {low: 1.0e-3, high: 0.1, log: true}
                num_nodes: [4, 6, 8]
                repeats: ["1/1", "2/2"]

hyperparameters (supervised): %s
hyperparameters (--task generate / density): %s
T is the read-out time (each slice lasts T / num_slices); rtol sets atol too unless atol is given.

The sweep folder (--out) keeps sweep.json, status.json and trials/trial_NNNN/{config,trial,circuit}.json;
run the same command again, or `kirchhoff sweep resume DIR`, to continue an interrupted sweep.
On a Ray cluster (`ray start --head` on one machine, `ray start --address HEAD:6379` on the others),
add --address HEAD:6379 (or set RAY_ADDRESS); the folder must be on a file system every node sees.
teaching presets (--preset NAME --out DIR): %s"""


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``sweep`` (with ``show`` and ``resume``) to the ``kirchhoff`` parser."""
    epilog = SPACE_HELP % (", ".join(hyperparameters("supervised")), ", ".join(hyperparameters("generate")),
                           ", ".join(PRESETS))
    p = sub.add_parser("sweep", help="hyperparameter sweep on Ray Tune (grid, random, Optuna; ASHA early stopping)",
                       description="Train many circuits over a search space and compare them by one objective "
                                   "(test accuracy / loss, held-out NLL for generative tasks). Runs on Ray in "
                                   "this process by default, on a cluster with --address. "
                                   "`kirchhoff sweep show DIR` prints a sweep's table; `kirchhoff sweep resume "
                                   "DIR` continues one.",
                       epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--space", action="append", default=[], metavar="NAME=SPEC",
                   help="a hyperparameter and its values or range (see below); repeatable")
    p.add_argument("--space-file", metavar="FILE", help="YAML or JSON mapping of hyperparameters to values/ranges")
    p.add_argument("--preset", choices=sorted(PRESETS), help="a teaching sweep (fixes the space and settings)")
    p.add_argument("--task", choices=["supervised", "generate", "density"], help="default supervised")
    p.add_argument("--dataset", help="data set (supervised), 2-D target (generate) or potential (density); "
                                     "default moons / 8gaussians / U1")
    p.add_argument("--search", choices=SEARCHES, help="default random")
    p.add_argument("--trials", type=int, help=f"trials for random/optuna (default 12, at most {MAX_TRIALS}); "
                                              "a grid runs each point once")
    p.add_argument("--epochs", type=int, help="epochs per trial (default 10); generative: of --steps-per-epoch steps")
    p.add_argument("--seed", type=int, help="seeds the proposals and every trial's data, circuit and batches")
    p.add_argument("--objective", choices=OBJECTIVES,
                   help="test_metric (accuracy / R², maximised) or test_loss (minimised); default: accuracy for "
                        "classification, the loss otherwise")
    p.add_argument("--early-stopping", choices=EARLY_STOPPING, help="asha (default) stops trailing trials at its "
                                                                    "rungs; none runs every trial to the end")
    p.add_argument("--grace-period", type=int, help="ASHA: epochs before a trial can be stopped (default 1)")
    p.add_argument("--reduction-factor", type=int, help="ASHA: keep the best 1/F at each rung (default 2)")
    p.add_argument("--samples", type=int, help="data set size (default 500)")
    p.add_argument("--steps-per-epoch", type=int, help="generative: optimiser steps per epoch (default 25)")
    p.add_argument("--chip-mismatch", type=float, help="secondary metric: accuracy on simulated chips at this "
                                                       "device mismatch (default 0.05)")
    p.add_argument("--chips", type=int, help="simulated chips per finished trial (default 10, 0 = off)")
    p.add_argument("--max-trial-s", type=float, help="time limit per trial in seconds (default 900)")
    p.add_argument("--max-nfe", type=int, help="solver work cap per solve (default 20000)")
    p.add_argument("--out", "-o", help="the sweep folder (new, or one to resume)")
    _add_run_flags(p)

    ss = p.add_subparsers(dest="sweep_command", metavar="{show,resume}")
    s = ss.add_parser("show", help="print the table of a sweep (finished or running)")
    s.add_argument("folder", help="sweep folder")
    s.add_argument("--top", type=int, default=0, help="only the best N rows")
    s.set_defaults(func=cmd_sweep_show)
    r = ss.add_parser("resume", help="continue an interrupted sweep: finished trials are kept, the rest run")
    r.add_argument("folder", help="sweep folder")
    _add_run_flags(r)
    r.set_defaults(func=cmd_sweep_resume)
    p.set_defaults(func=cmd_sweep)


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", help="join this Ray cluster (HOST:PORT, or set RAY_ADDRESS); default: start Ray "
                                     "in this process")
    p.add_argument("--workers", type=int, help="trials at once (default: all cores but one here; the cluster's "
                                               "CPUs with --address)")
    p.add_argument("--serial", action="store_true", help="no Ray: one trial after another in this process "
                                                         "(needs --early-stopping none)")
    p.add_argument("--time-budget", type=float, help="stop starting trials after this many seconds (Ray only)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


# --- building the spec ---------------------------------------------------------------------------

_SETTINGS = ("task", "dataset", "search", "trials", "epochs", "seed", "objective", "early_stopping", "grace_period",
             "reduction_factor", "samples", "steps_per_epoch", "chip_mismatch", "chips", "max_trial_s", "max_nfe")
_DEFAULT_TARGET = {"generate": "8gaussians", "density": "U1"}


def spec_from_args(args: argparse.Namespace) -> SweepSpec:
    """The SweepSpec the flags describe (every bad value raises a SweepError naming it)."""
    given = {k: getattr(args, k) for k in _SETTINGS if getattr(args, k) is not None}
    if args.preset:
        if args.space or args.space_file:
            raise UsageError("--preset: a teaching preset fixes the space; leave out --space/--space-file")
        extra = sorted(set(given) - {"epochs", "seed", "samples"})
        if extra:
            raise UsageError(f"--preset: only --epochs, --seed and --samples can change a preset, not "
                             f"{', '.join('--' + k.replace('_', '-') for k in extra)}")
        return preset_spec(args.preset, **given)
    task = given.get("task", "supervised")
    if task in _DEFAULT_TARGET:
        given.setdefault("dataset", _DEFAULT_TARGET[task])
    base = load_space_file(args.space_file, task) if args.space_file else None
    space = SearchSpace.parse(args.space, task, base)
    if not len(space):
        raise UsageError("--space: give at least one hyperparameter to sweep (e.g. --space lr=1e-3:1e-1:log), "
                         "a --space-file or a --preset")
    return SweepSpec(space=space, **given)


# --- output --------------------------------------------------------------------------------------

def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return label(value)


def format_table(sweep: SweepState, top: int = 0) -> str:
    """The sweep's trials, best first, as aligned text."""
    rows = sweep.rows()[: top or None]
    spec = sweep.spec
    cols = [("trial", "trial"), ("state", "state"), ("objective", spec.objective_label), ("epochs", "epochs"),
            ("time_s", "time_s"), ("nfe", "nfe"), ("parameters", "params")]
    if any(r["chip_metric"] is not None for r in rows):
        cols.append(("chip_metric", f"chip@{spec.chip_mismatch:g}"))
    if len({r["node"] for r in rows if r["node"]}) > 1:
        cols.append(("node", "node"))
    cols += [(n, n) for n in spec.space.names]
    if any(r["error"] for r in rows):
        cols.append(("error", "error"))
    cells = [[h for _, h in cols]]
    for r in rows:
        line = []
        for key, _ in cols:
            v = r[key]
            text = _fmt(v, 3 if key == "time_s" else 4)
            line.append(text[:70] + "..." if key == "error" and len(text) > 70 else text)
        cells.append(line)
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


def print_summary(sweep: SweepState, top: int = 0) -> None:
    spec = sweep.spec
    c = sweep.counts()
    print(f"sweep {sweep.folder}: {spec.search} search, {spec.n_trials} trial(s) on {', '.join(spec.datasets())}, "
          f"{spec.epochs} epoch(s) each, objective {spec.objective_label} ({spec.mode}); {sweep.state}: "
          f"{c['finished']} finished, {c['stopped']} stopped early, {c['failed']} failed"
          + (f", {c['running']} running" if c["running"] else "")
          + (f", {c['interrupted']} interrupted" if c["interrupted"] else "")
          + (f", {c['pending']} pending" if c["pending"] else ""))
    print(format_table(sweep, top))
    best = sweep.best()
    if best is not None:
        settings = load_trial(sweep.folder, best.index).settings
        print(f"\nbest: trial {best.index}, {spec.objective_label} {_fmt(best.objective)} "
              f"({', '.join(f'{k}={_fmt(v)}' for k, v in best.params.items())})")
        print("re-train it with:\n  " + train_command(settings, out=f"runs/sweep-best-{best.index}"))


def _progress_bar(total: int, quiet: bool):
    bar = tqdm(total=total, unit="trial", file=sys.stderr, disable=quiet, dynamic_ncols=True)

    def update(snap: dict[str, Any]) -> None:
        bar.n = snap["done"]
        bar.set_postfix_str(f"running {snap['running']}, stopped early {snap['stopped']}, failed {snap['failed']}, "
                            f"best {_fmt(snap['best'])}", refresh=False)
        bar.refresh()

    return bar, update


# --- commands ------------------------------------------------------------------------------------

def _run(spec: SweepSpec, folder: pathlib.Path, args: argparse.Namespace) -> None:
    if args.serial and (args.address or args.time_budget):
        raise UsageError("--serial: runs in this process; --address and --time-budget need Ray")
    print(f"sweep: {spec.search} search over {', '.join(spec.space.describe())}; {spec.n_trials} trial(s) x "
          f"{spec.epochs} epoch(s) on {', '.join(spec.datasets())}; objective {spec.objective_label}; "
          f"folder {folder}", file=sys.stderr)
    for note in spec.notes():
        print(f"note: {note}", file=sys.stderr)
    bar, update = _progress_bar(spec.n_trials, args.quiet)
    previous = signal.signal(signal.SIGTERM, _terminate) if _main_thread() else None
    if _main_thread():  # a driver started from a shell's background job inherits SIGINT ignored: Ctrl-C must stop it
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if args.serial:
            sweep = run_serial(spec, folder, progress=update)
        else:
            sweep = run_sweep(spec, folder, address=args.address, workers=args.workers, progress=update,
                              time_budget_s=args.time_budget)
    except KeyboardInterrupt:
        bar.close()
        done = sum(t.done for t in load_sweep(folder).trials)
        print(f"interrupted: {done} trial(s) done are kept in {folder}; run `kirchhoff sweep resume {folder}` "
              "to run the rest", file=sys.stderr)
        raise
    finally:
        bar.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print_summary(sweep)
    if sweep.counts()["failed"] == len(sweep.trials) and sweep.trials:
        first = next(t.error for t in sweep.trials if t.error)
        raise UsageError(f"all {len(sweep.trials)} trial(s) failed; the first: {first}")


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _terminate(signum, frame) -> None:
    """SIGTERM ends a sweep like Ctrl-C: Ray is shut down and the folder says interrupted."""
    raise KeyboardInterrupt


def cmd_sweep(args: argparse.Namespace) -> None:
    if not args.out:
        raise UsageError("--out: give the sweep folder (e.g. --out sweeps/moons)")
    _run(spec_from_args(args), pathlib.Path(args.out), args)


def cmd_sweep_resume(args: argparse.Namespace) -> None:
    folder = pathlib.Path(args.folder)
    _run(read_spec(folder), folder, args)


def cmd_sweep_show(args: argparse.Namespace) -> None:
    if args.top < 0:
        raise UsageError(f"--top: must be >= 0, got {args.top}")
    print_summary(load_sweep(args.folder), args.top)
