"""The ``kirchhoff`` command: generate, train, simulate and inspect circuits from a shell.

Every failure a user can cause (bad arguments, a malformed file, a circuit that blows up) prints
one ``error: ...`` line and exits with status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import pathlib
import sys
from typing import Any, Callable, Iterator, Sequence

import torch
from tqdm import tqdm

from . import __version__
from .accelerator import DEVICE_CHOICES, check_device, describe, resolve_device
from .chip import ChipConfig, monte_carlo, robustness_curve, sweep_config
from .chip import energy as chip_energy
from .circuit import CircuitError
from .cli_common import (SIMULATE_RTOL, Parser, UsageError, add_solver_flags, finite_float, int_in, parse_floats,
                         parse_ints, parse_param, solver_from_args)
from .cli_sweep import add_commands as add_sweep_commands
from .cli_trajectories import add_commands as add_trajectory_commands
from .cli_view import add_commands as add_view_commands
from .datasets import DATASETS, make_dataset
from .densities import POTENTIALS, TARGETS
from .devices import KINDS
from .generators import COMMON_PARAMS, GENERATORS, ParamSpec, generate
from .guards import check_learning_rate, check_setup
from .images import IMAGE_SETS
from .io import load_circuit, save_circuit
from .live import LiveTrainer
from .model import KirchhoffNet
from .outputs import prepare_output_dir, prepare_output_file
from .presets import IMAGE_PRESETS, preset_for
from .solvers import SolverError, work_budget
from .spice import PhysicalScale, SpiceError, SpiceOptions, write_netlists
from .spice import compare as spice_compare
from .train import TrainConfig, Trainer, check_compatible

TASKS = ("supervised", "generate", "density")


# --- value parsing -------------------------------------------------------------------------------

def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_param_flags(parser: argparse.ArgumentParser, specs: Sequence[ParamSpec]) -> None:
    for p in specs:
        parser.add_argument(_flag(p.name), dest=p.name, default=None, metavar=str(p.type if isinstance(p.type, str)
                                                                                   else p.type.__name__).upper(),
                            help=f"{p.help} (default {p.default})")


def _collect(args: argparse.Namespace, specs: Sequence[ParamSpec]) -> dict[str, Any]:
    out = {}
    for p in specs:
        text = getattr(args, p.name, None)
        if text is not None:
            out[p.name] = parse_param(p, text) if p.name not in ("inputs", "outputs") else parse_ints(text, p.name)
    return out


# --- commands ------------------------------------------------------------------------------------

def cmd_generate(args: argparse.Namespace) -> None:
    spec = GENERATORS[args.generator]
    out = prepare_output_file(args.out)
    circuit = generate(args.generator, **_collect(args, spec.params + COMMON_PARAMS))
    files = save_circuit(circuit, out)
    s = circuit.stats()
    print(f"wrote {', '.join(map(str, files))}: {s['nodes']} nodes, {s['devices']} devices, "
          f"{s['parameters']} parameters, {s['slices']} slice(s)")


def cmd_simulate(args: argparse.Namespace) -> None:
    circuit = load_circuit(args.circuit)
    model = KirchhoffNet(circuit, solver_from_args(args, default_rtol=SIMULATE_RTOL), dtype=torch.float64)
    x = torch.tensor([parse_floats(args.inputs, "--inputs")], dtype=torch.float64)
    times = parse_floats(args.times, "--times") if args.times else [0.0, model.t_end]
    with torch.no_grad(), work_budget(model.solver, "the `kirchhoff simulate` command"):
        traj = model.trajectory(x, times)[:, 0, :]
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["t"] + [f"v{n}" for n in range(1, traj.shape[1] + 1)])
    for t, row in zip(times, traj.tolist()):
        out.writerow([repr(float(t))] + [repr(v) for v in row])


def _spice_options(args: argparse.Namespace) -> SpiceOptions:
    scale = None
    if args.units:
        values = parse_floats(args.units, "--units")
        if len(values) != 2 or min(values) <= 0:
            raise UsageError(f"--units: expected two positive numbers 'FEMTOFARAD,MICROAMP' such as '10,10', "
                             f"got {args.units!r}")
        scale = PhysicalScale(*values)
    if not args.timeout > 0:
        raise UsageError(f"--timeout: must be a positive number of seconds, got {args.timeout:g}")
    return SpiceOptions(scale=scale, timeout_s=args.timeout)


def cmd_export_spice(args: argparse.Namespace) -> None:
    out = prepare_output_file(args.out, "--out")
    circuit = load_circuit(args.circuit)
    files = write_netlists(circuit, parse_floats(args.inputs, "--inputs"), out, _spice_options(args))
    print(f"wrote {', '.join(map(str, files))}")


def cmd_spice_check(args: argparse.Namespace) -> None:
    circuit = load_circuit(args.circuit)
    opts = _spice_options(args)
    if opts.scale is not None:
        raise UsageError("--units: the check compares in model units; export with --units instead")
    r = spice_compare(circuit, parse_floats(args.inputs, "--inputs"), opts)
    print(f"ngspice vs torch on {len(r.times)} time points, {len(circuit.slices)} slice(s)")
    print("node,max_abs_diff_V")
    for n, d in enumerate(r.max_abs_per_node, start=1):
        print(f"v{n},{d:.3e}")
    print(f"max |dv| = {r.max_abs:.3e} V; read-out difference = {r.readout_diff:.3e} V")
    print("read-out ngspice: " + ", ".join(f"{v:.6f}" for v in r.readout_spice))
    print("read-out torch:   " + ", ".join(f"{v:.6f}" for v in r.readout_torch))


def parse_sweep(item: str, cfg: ChipConfig) -> tuple[str, list[float]]:
    """'device_mismatch=0,0.05,0.1' -> ('device_mismatch', [0, 0.05, 0.1]), every value checked."""
    field, sep, text = item.partition("=")
    if not sep:
        raise UsageError(f"--sweep: expected FIELD=V1,V2,..., got {item!r}")
    field = field.strip().replace("-", "_")
    values = parse_floats(text, f"--sweep {field}")
    for v in values:
        sweep_config(cfg, field, v)
    return field, values


def cmd_chip(args: argparse.Namespace) -> None:
    circuit = load_circuit(args.circuit)
    data = make_dataset(args.dataset, n_samples=args.samples, seed=args.seed)
    check_compatible(circuit, data)  # e.g. one read-out on a 2-class task: its argmax is always class 0
    cfg = ChipConfig(cap_fF=args.cap_ff, current_uA=args.current_ua, supply=args.supply,
                     device_mismatch=args.mismatch, cap_mismatch=args.cap_mismatch,
                     thermal_noise=args.noise_scale > 0, noise_scale=args.noise_scale, dac_bits=args.dac_bits,
                     adc_bits=args.adc_bits, adc_range=args.adc_range, jitter=args.jitter,
                     input_offset=args.input_offset, readout_offset=args.readout_offset)
    sweeps = [parse_sweep(item, cfg) for item in args.sweep]  # bad values fail before any simulation
    e = chip_energy(circuit, data.x_test[0], cfg)
    print(f"time unit {cfg.time_unit_s * 1e9:.3g} ns; latency {e.latency_s * 1e9:.3g} ns per inference; "
          f"energy {e.total_J * 1e15:.3g} fJ ({e.dissipated_J * 1e15:.3g} fJ in devices + "
          f"{e.input_charge_J * 1e15:.3g} fJ to charge the inputs); this CPU took {e.wall_time_s * 1e3:.3g} ms "
          f"for the same forward pass ({e.speedup:.2e}x the chip's latency)"
          + (f"; this GPU took {e.gpu_wall_time_s * 1e3:.3g} ms ({e.gpu_speedup:.2e}x)" if e.gpu_wall_time_s else ""))
    mc = monte_carlo(circuit, data, cfg, chips=args.chips, seed=args.seed)
    print(f"Monte Carlo over {args.chips} chips ({mc.metric} on {len(data.x_test)} test samples):")
    print(json.dumps({k: round(v, 6) for k, v in mc.summary().items()}, indent=1))
    for field, values in sweeps:  # one Monte Carlo per value, the same chips at every value
        curve = robustness_curve(circuit, data, cfg, field, values, chips=args.chips, seed=args.seed)
        print(f"\nrobustness: {curve.field} ({args.chips} chips per value, other settings as above)")
        print(f"{curve.field},ideal,mean,std,p5,p50,worst,chips")
        for row in curve.rows():
            print(",".join(f"{row[k]:g}" for k in (curve.field, "ideal", "mean", "std", "p5", "p50", "worst", "chips")))


def cmd_info(args: argparse.Namespace) -> None:
    circuit = load_circuit(args.circuit)
    print(json.dumps({**circuit.stats(), "name": circuit.name, "inputs": circuit.inputs,
                      "outputs": circuit.outputs, "durations": circuit.durations}, indent=1))


def _device(args: argparse.Namespace) -> str:
    try:
        name = check_device(args.device)
        print(f"device: {describe(resolve_device(name))}", file=sys.stderr)
    except ValueError as e:
        raise UsageError(f"--device: {e}") from None
    return name


def cmd_train(args: argparse.Namespace) -> None:
    if args.preset is not None and args.preset not in IMAGE_PRESETS:
        raise UsageError(f"--preset: choose one of {sorted(IMAGE_PRESETS)}, got {args.preset!r} (the toy "
                         "sets take their preset from --dataset)")
    args.dataset = args.dataset or (args.preset if args.preset in IMAGE_SETS else "moons")
    if args.task != "supervised":
        return cmd_train_generative(args)
    if args.potential:
        raise UsageError("--potential: only with --task density")
    if args.dataset not in DATASETS and args.dataset not in IMAGE_SETS:
        raise UsageError(f"--dataset: {args.dataset!r} is a generative target; add --task generate")
    if args.data_dir and args.dataset not in IMAGE_SETS:
        raise UsageError(f"--data-dir: only for {', '.join(IMAGE_SETS)}; {args.dataset!r} is generated")
    device = _device(args)
    out = _prepare_run_folder(args)
    if args.dataset in IMAGE_SETS:
        if not args.data_dir:
            raise UsageError(f"--data-dir: {args.dataset} needs the folder with its IDX files "
                             "(train-images-idx3-ubyte[.gz], ...); nothing is downloaded")
        data = make_dataset(args.dataset, n_samples=args.samples, seed=args.seed, path=args.data_dir)
    else:
        data = make_dataset(args.dataset, n_samples=args.samples, noise=args.noise,
                            test_fraction=args.test_fraction, seed=args.seed)
    preset = preset_for(args.preset or args.dataset, data.n_outputs)
    if args.circuit:
        circuit = load_circuit(args.circuit)
    else:
        name = args.topology or preset.generator
        if name not in GENERATORS:
            raise UsageError(f"--topology: unknown generator {name!r}; choose one of {sorted(GENERATORS)}")
        base = preset.params if name == preset.generator else \
            {"n_inputs": data.n_features, "n_outputs": data.n_outputs}
        specs = {p.name: p for p in GENERATORS[name].params + COMMON_PARAMS}
        overrides: dict[str, Any] = {"seed": args.seed}
        if args.kind:
            overrides["kind"] = args.kind
        for item in args.topo:
            key, _, value = item.partition("=")
            if key not in specs:
                raise UsageError(f"--topo: {name} has no parameter {key!r}; valid: {sorted(specs)}")
            overrides[key] = parse_param(specs[key], value) if key not in ("inputs", "outputs") else \
                parse_ints(value, key)
        circuit = generate(name, **{**base, **overrides})
    train_cfg = TrainConfig(lr=preset.train.lr if args.lr is None else args.lr,
                            optimizer=args.optimizer or preset.train.optimizer,
                            batch_size=preset.train.batch_size if args.batch_size is None else args.batch_size,
                            weight_decay=preset.train.weight_decay if args.weight_decay is None else args.weight_decay,
                            seed=args.seed, device=device)
    solver = solver_from_args(args, default_rtol=preset.solver.rtol, base=preset.solver)
    model = KirchhoffNet(circuit, solver)
    trainer = Trainer(model, data, train_cfg)  # refuses a circuit whose read-outs do not match the task
    for advice in check_setup(circuit, data, train_cfg, solver):  # the app's guard rails, said before training
        if advice.setting != "batch_size":  # the memory budget is the app's; here --grad picks the memory mode
            print(f"warning: {advice.message}", file=sys.stderr)
    epochs = preset.epochs if args.epochs is None else args.epochs
    every = 1 if args.checkpoint_every is None else args.checkpoint_every
    print(f"training {circuit.name or 'circuit'} ({circuit.num_devices} devices) on {args.dataset}: "
          f"{len(data.x_train)} train / {len(data.x_test)} test samples", file=sys.stderr)
    bar = tqdm(total=epochs, unit="epoch", file=sys.stderr, disable=args.quiet)
    print("epoch,train_loss,test_loss,train_metric,test_metric,nfe_forward,nfe_backward,wall_time")

    samples = 500 if args.samples is None and args.dataset not in IMAGE_SETS else args.samples  # None: all images
    dataset = {"name": args.dataset, "n_samples": samples,
               "noise": args.noise, "test_fraction": args.test_fraction, "seed": args.seed, "path": args.data_dir}

    def save() -> list[pathlib.Path]:
        return save_circuit(model.to_circuit(), out / "circuit.json",
                            training=trainer.training_record(dataset=dataset))

    def report(rec) -> None:
        print(f"{rec.epoch},{rec.train_loss:.6f},{rec.test_loss:.6f},{rec.train_metric:.6f},{rec.test_metric:.6f},"
              f"{rec.nfe_forward},{rec.nfe_backward},{rec.wall_time:.3f}", flush=True)
        bar.update(1)
        bar.set_postfix(loss=f"{rec.train_loss:.3f}", test=f"{rec.test_metric:.3f}")
        if every and rec.epoch % every == 0:
            save()  # a checkpoint: atomic, so the last good one survives a crash or Ctrl-C

    _run_and_save(trainer, epochs, "epoch", every, report, save, bar, out)


def _prepare_run_folder(args: argparse.Namespace) -> pathlib.Path:
    """Check --out (a folder that will hold circuit.json) and the run length before any work."""
    for flag, value in (("--epochs", args.epochs), ("--steps", args.steps)):
        if value is not None and value < 1:
            raise UsageError(f"{flag}: need at least 1, got {value}")
    if args.checkpoint_every is not None and args.checkpoint_every < 0:
        raise UsageError(f"--checkpoint-every: must be >= 0 (0 = only at the end), got {args.checkpoint_every}")
    out = prepare_output_dir(args.out, "--out")
    prepare_output_file(out / "circuit.json", "--out")
    return out


def _run_and_save(trainer: LiveTrainer, count: int, unit: str, every: int, report: Callable, save: Callable,
                  bar: tqdm, out: pathlib.Path) -> None:
    """Train ``count`` epochs or steps (``report`` saves the checkpoints), then save the result."""
    with _checkpoint_note(out, lambda: trainer.steps_done, unit, every):
        trainer.run(count, callback=report)
    bar.close()
    files = save()
    print(f"saved {', '.join(map(str, files))}", file=sys.stderr)


@contextlib.contextmanager
def _checkpoint_note(out: pathlib.Path, done: Callable[[], int], unit: str, every: int) -> Iterator[None]:
    """A failure or Ctrl-C during training says where the last checkpoint is."""
    try:
        yield
    except (SolverError, KeyboardInterrupt) as e:
        n = done()
        last = n - n % every if every else 0
        if last and (out / "circuit.json").is_file():
            note = f"the checkpoint after {unit} {last} is kept in {out / 'circuit.json'}"
            if isinstance(e, KeyboardInterrupt):
                raise KeyboardInterrupt(note) from e
            raise SolverError(f"{e} ({note})") from e
        raise


def cmd_train_generative(args: argparse.Namespace) -> None:
    """--task generate (maximum likelihood on a 2-D target) or density (reverse KL to exp(-U))."""
    from .generative import CircuitFlow, GenerativeTrainer, flow_preset

    if args.task == "density":
        if not args.potential:
            raise UsageError(f"--potential: --task density needs one of {sorted(POTENTIALS)}")
        target = args.potential
    else:
        if args.potential:
            raise UsageError("--potential: only with --task density (use --dataset for --task generate)")
        if args.dataset not in TARGETS:
            raise UsageError(f"--dataset: --task generate needs a 2-D target, one of {sorted(TARGETS)}; "
                             f"got {args.dataset!r}")
        target = args.dataset
    out = _prepare_run_folder(args)
    preset = flow_preset(target)
    if args.circuit:
        circuit = load_circuit(args.circuit)
    else:
        if args.topology not in (None, "fully_connected"):
            raise UsageError("--topology: generative runs use the paper's fully connected circuit; "
                             "shape it with --topo or pass --circuit")
        specs = {p.name: p for p in GENERATORS["fully_connected"].params + COMMON_PARAMS}
        overrides: dict[str, Any] = {"seed": args.seed}
        if args.kind:
            overrides["kind"] = args.kind
        for item in args.topo:
            key, _, value = item.partition("=")
            if key not in specs or key in ("inputs", "outputs", "n_inputs", "n_outputs"):
                raise UsageError(f"--topo: cannot set {key!r} here; valid: "
                                 f"{sorted(set(specs) - {'inputs', 'outputs', 'n_inputs', 'n_outputs'})}")
            overrides[key] = parse_param(specs[key], value)
        circuit = preset.circuit(**overrides)
    steps = preset.steps if args.steps is None else args.steps
    if args.log_every < 1:
        raise UsageError(f"--log-every: need at least 1, got {args.log_every}")
    log_every = min(args.log_every, steps)
    every = log_every if args.checkpoint_every is None else args.checkpoint_every
    optimizer = args.optimizer or "adam"
    if optimizer not in ("adam", "adamw"):
        raise UsageError(f"--optimizer: generative runs use adam or adamw, got {optimizer!r}")
    if args.data_dir or args.preset:
        raise UsageError("--data-dir and --preset: only for the supervised image sets")
    config = preset.config(lr=preset.lr if args.lr is None else args.lr, optimizer=optimizer,
                           batch_size=preset.batch_size if args.batch_size is None else args.batch_size,
                           weight_decay=args.weight_decay or 0.0, anneal_steps=steps, seed=args.seed,
                           eval_size=args.eval_size, eval_every=log_every, device=_device(args))
    solver = solver_from_args(args, default_rtol=preset.reference_tol)
    flow = CircuitFlow(circuit, solver, trace=args.trace, seed=args.seed)
    trainer = GenerativeTrainer(flow, config)
    lr_advice = check_learning_rate(config)
    if lr_advice is not None:
        print(f"warning: {lr_advice.message}", file=sys.stderr)
    what = f"{config.target} ({'maximum likelihood' if args.task == 'generate' else 'reverse KL to exp(-U)'})"
    print(f"training {circuit.name or 'circuit'} ({circuit.num_devices} devices, {len(circuit.slices)} slice(s)) "
          f"as a flow on {what}: {steps} steps of {config.batch_size} fresh samples", file=sys.stderr)
    bar = tqdm(total=steps, unit="step", file=sys.stderr, disable=args.quiet)
    metric = "test_nll" if args.task == "generate" else "test_kl"
    print(f"step,train_loss,{metric},nfe_forward,nfe_backward,lr,wall_time")
    logged = []
    elapsed = 0.0

    def save() -> list[pathlib.Path]:
        # The history holds the rows printed (the evaluated steps), as the CSV does.
        return save_circuit(flow.to_circuit(), out / "circuit.json",
                            training=trainer.training_record(history=logged, extra={"trace": args.trace}))

    def report(rec) -> None:
        nonlocal elapsed
        elapsed += rec.wall_time
        bar.update(1)
        if rec.test_loss is None and rec.step == steps:
            rec.test_loss = trainer.evaluate()
        if rec.test_loss is not None:
            print(f"{rec.step},{rec.train_loss:.6f},{rec.test_loss:.6f},{rec.nfe_forward},{rec.nfe_backward},"
                  f"{rec.lr:.3g},{elapsed:.3f}", flush=True)
            bar.set_postfix(loss=f"{rec.train_loss:.3f}", test=f"{rec.test_loss:.3f}")
            logged.append(rec.to_dict())
        if every and rec.step % every == 0:
            save()  # a checkpoint: atomic, so the last good one survives a crash or Ctrl-C

    _run_and_save(trainer, steps, "step", every, report, save, bar, out)


# --- parser --------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="kirchhoff", description="KirchhoffNet circuits from the command line.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate", help="write a generated circuit as JSON",
                       description="Write a generated circuit. Each topology has its own options; "
                                   "see `kirchhoff generate TOPOLOGY --help`.")
    gens = p.add_subparsers(dest="generator", required=True, metavar="TOPOLOGY")
    for name, spec in GENERATORS.items():
        g = gens.add_parser(name, help=spec.description, description=spec.description)
        _add_param_flags(g, spec.params)
        _add_param_flags(g.add_argument_group("common"), COMMON_PARAMS)
        g.add_argument("--out", "-o", required=True, help="circuit JSON file to write")
        g.set_defaults(func=cmd_generate)

    p = sub.add_parser("train", help="train a circuit on a toy dataset",
                       description="Train a KirchhoffNet; prints per-epoch metrics as CSV and saves the "
                                   "trained circuit (+ training config) to OUT/circuit.json. "
                                   "--task generate trains it as a flow on a 2-D target (per-step CSV), "
                                   "--task density fits it to exp(-U) for --potential U1..U4.")
    p.add_argument("--task", default="supervised", choices=TASKS,
                   help="supervised (the dataset's classification / regression, default), generate or density")
    p.add_argument("--dataset", choices=sorted(set(DATASETS) | set(TARGETS) | set(IMAGE_SETS)),
                   help="supervised: a dataset (default moons; mnist and fashion-mnist read --data-dir); "
                        f"--task generate: a 2-D target ({', '.join(sorted(TARGETS))})")
    p.add_argument("--preset", help=f"the paper's image circuits: {', '.join(sorted(IMAGE_PRESETS))} "
                                    "(with their optimiser settings; mnist implies --dataset mnist)")
    p.add_argument("--data-dir", help="folder with the MNIST / Fashion-MNIST IDX files (gzipped or not)")
    p.add_argument("--device", default="auto",
                   help=f"where to train: {', '.join(DEVICE_CHOICES)} or cuda:N (default auto: CUDA when present)")
    p.add_argument("--potential", help=f"--task density: {', '.join(sorted(POTENTIALS))}")
    p.add_argument("--steps", type=int_in(),
                   help="generate/density: optimiser steps (default: a quarter of the paper's)")
    p.add_argument("--eval-size", type=int_in(), default=2000,
                   help="generate/density: held-out samples (default 2000)")
    p.add_argument("--log-every", type=int_in(), default=50,
                   help="generate/density: a CSV row with the held-out metric every N steps (default 50)")
    p.add_argument("--trace", default="exact", choices=["exact", "hutchinson"],
                   help="generate/density: Jacobian trace (default exact, O(devices))")
    p.add_argument("--samples", type=int_in(),
                   help="dataset size (default 500; image sets: all, or a subset of this many)")
    p.add_argument("--noise", type=finite_float, help="dataset noise (default: the set's own)")
    p.add_argument("--test-fraction", type=finite_float, default=0.2)
    p.add_argument("--seed", type=int_in(0, 2 ** 32 - 1), default=0,
                   help="seeds data, initialisation and batches")
    p.add_argument("--circuit", help="train this circuit JSON instead of generating one")
    p.add_argument("--topology", help=f"generator name: {', '.join(GENERATORS)} (default: the dataset's preset)")
    p.add_argument("--topo", action="append", default=[], metavar="NAME=VALUE",
                   help="generator argument, repeatable (e.g. --topo num_nodes=8 --topo repeats=2,2)")
    p.add_argument("--kind", choices=sorted(KINDS), help="device kind for a generated circuit")
    p.add_argument("--epochs", type=int_in(), help="epochs (default: the preset's)")
    p.add_argument("--lr", type=finite_float, help="learning rate (default: the preset's)")
    p.add_argument("--optimizer", choices=["adam", "adamw", "sgd", "rmsprop"], help="default: the preset's (adam)")
    p.add_argument("--batch-size", type=int_in(), help="0 = full batch (default: the preset's)")
    p.add_argument("--weight-decay", type=finite_float, help="default: the preset's (0)")
    p.add_argument("--adjoint", action="store_true", help="adjoint gradients (least memory, most solver work)")
    p.add_argument("--grad", choices=["auto", "direct", "checkpoint", "adjoint"],
                   help="how gradients are taken (default auto: direct, checkpointed past --grad-memory-gb)")
    p.add_argument("--grad-memory-gb", type=finite_float, help="activations kept for direct gradients (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", "-o", default="runs/latest", help="output folder (default runs/latest)")
    p.add_argument("--checkpoint-every", type=int_in(), metavar="N",
                   help="save OUT/circuit.json every N epochs (supervised, default 1) or steps (generate / density, "
                        "default: --log-every); each save replaces the last atomically; 0 = only at the end")
    add_solver_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("simulate", help="print all node voltages at given times as CSV",
                       description="Simulate one input: one CSV row per time, columns t, v1..vN.")
    p.add_argument("circuit", help="circuit JSON file")
    p.add_argument("--inputs", required=True, help="input voltages, comma-separated (one per input node)")
    p.add_argument("--times", help="comma-separated times in [0, T] (default: 0,T)")
    add_solver_flags(p, default_rtol=SIMULATE_RTOL)
    p.set_defaults(func=cmd_simulate)

    for name, helptext, func in (
            ("export-spice", "write an ngspice netlist (one per slice) for one input", cmd_export_spice),
            ("spice-check", "run the circuit in ngspice and compare with the torch model", cmd_spice_check)):
        p = sub.add_parser(name, help=helptext, description=helptext)
        p.add_argument("circuit", help="circuit JSON file")
        p.add_argument("--inputs", required=True, help="input voltages, comma-separated")
        p.add_argument("--units", help="physical units 'FEMTOFARAD,MICROAMP' per model unit (export only)")
        p.add_argument("--timeout", type=finite_float, default=60.0, help="seconds per ngspice run (default 60)")
        if name == "export-spice":
            p.add_argument("--out", "-o", required=True, help="netlist file (.cir); slices get .sliceN")
        p.set_defaults(func=func)

    p = sub.add_parser("chip", help="simulated chip: latency, energy and Monte Carlo accuracy",
                       description="Map the circuit to a chip (fF, µA, ns), switch on non-idealities and report "
                                   "latency, energy per inference and the accuracy over many chip instances.")
    p.add_argument("circuit", help="trained circuit JSON file")
    p.add_argument("--dataset", default="moons", choices=sorted(DATASETS))
    p.add_argument("--samples", type=int_in(), default=500)
    p.add_argument("--seed", type=int_in(0, 2 ** 32 - 1), default=0,
                   help="seeds the dataset and the chip instances")
    p.add_argument("--chips", type=int_in(), default=100, help="Monte Carlo chip instances (default 100)")
    p.add_argument("--cap-ff", type=finite_float, default=10.0, help="node capacitance in fF (default 10)")
    p.add_argument("--current-ua", type=finite_float, default=10.0, help="µA per model current unit (default 10)")
    p.add_argument("--supply", type=finite_float, help="supply rails at +-SUPPLY volts")
    p.add_argument("--mismatch", type=finite_float, default=0.0, help="relative sigma of device parameters")
    p.add_argument("--cap-mismatch", type=finite_float, default=0.0, help="relative sigma of capacitors")
    p.add_argument("--noise-scale", type=finite_float, default=0.0, help="kT/C noise, times this factor (0 = off)")
    p.add_argument("--dac-bits", type=int_in(), help="input DAC resolution")
    p.add_argument("--adc-bits", type=int_in(), help="read-out ADC resolution")
    p.add_argument("--adc-range", type=finite_float, default=2.0, help="ADC full scale (+- volts)")
    p.add_argument("--jitter", type=finite_float, default=0.0, help="read-out time jitter, relative sigma")
    p.add_argument("--input-offset", type=finite_float, default=0.0, help="sigma of input offsets (V)")
    p.add_argument("--readout-offset", type=finite_float, default=0.0, help="sigma of read-out offsets (V)")
    p.add_argument("--sweep", action="append", default=[], metavar="FIELD=V1,V2,...",
                   help="robustness curve: Monte Carlo at each value of one setting (device_mismatch, "
                        "cap_mismatch, noise_scale, adc_bits, adc_range, dac_bits, jitter, readout_offset, ...); "
                        "repeatable")
    p.set_defaults(func=cmd_chip)

    add_trajectory_commands(sub)  # trajectory, readout-sweep
    add_sweep_commands(sub)  # sweep, sweep show, sweep resume
    add_view_commands(sub)  # view

    p = sub.add_parser("info", help="print a circuit's statistics")
    p.add_argument("circuit", help="circuit JSON file")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (CircuitError, SolverError, SpiceError, UsageError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a disk that is full, a path that changed under us: still one line
        name = e.filename2 or e.filename  # a failed rename names its target second
        where = f"{name}: " if name else ""
        print(f"error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print("interrupted" + (f"; {e}" if str(e) else ""), file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
