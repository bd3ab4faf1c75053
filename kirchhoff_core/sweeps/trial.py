"""One trial: a configuration in, per-epoch records and a trained circuit out.

``run_trial`` trains through the same ``Trainer`` / ``GenerativeTrainer`` the Train and Generate
pages use, seeded by the sweep's seed (data, initialisation and batches, exactly as
``kirchhoff train --seed``), and writes its folder as it goes: config first, then after every
epoch the circuit and ``trial.json``, and only then reports the epoch to its driver (Ray Tune, the
serial loop or a worker), so a trial stopped early or killed after a report has lost nothing.
"""

from __future__ import annotations

import os
import pathlib
import shlex
import time
import traceback
from typing import Any, Callable

import torch

from ..chip import ChipConfig, monte_carlo
from ..circuit import Circuit
from ..datasets import Dataset
from ..generators import GENERATORS, generate
from ..io import save_circuit
from ..model import KirchhoffNet
from ..presets import preset_for
from ..solvers import SolverConfig
from ..train import TrainConfig, Trainer
from .records import (CIRCUIT_FILE, CONFIG_FILE, TRIAL_FILE, host_name, now, settings_dataset, trial_dir,
                      write_json)
from .spec import SweepSpec

Report = Callable[[dict[str, Any]], None]
_SOLVER_KEYS = ("method", "rtol", "atol", "step_size")
_TRAIN_KEYS = ("lr", "optimizer", "batch_size", "weight_decay", "mismatch")


class TrialFailed(RuntimeError):
    """A trial that could not train (a circuit that blows up, a refused topology, a time limit)."""


# --- settings ----------------------------------------------------------------------------------

def trial_settings(spec: SweepSpec, params: dict[str, Any]) -> dict[str, Any]:
    """The complete, JSON-friendly settings of one trial: the dataset's preset (or the flow preset)
    overridden by ``params``. Raises ValueError (or a subclass) naming a bad value."""
    if spec.task == "supervised":
        return _supervised_settings(spec, params)
    return _generative_settings(spec, params)


def _topology_overrides(params: dict[str, Any], num_slices: int) -> dict[str, Any]:
    """Generator arguments among ``params``; the read-out time T becomes each slice's duration."""
    names = {p.name for g in GENERATORS.values() for p in g.params} | {"kind", "num_slices", "gain", "capacitance"}
    out = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items() if k in names and k != "topology"}
    if "T" in params:
        out["duration"] = float(params["T"]) / int(out.get("num_slices", num_slices))
    return out


def _solver(params: dict[str, Any], default_rtol: float, max_nfe: int) -> SolverConfig:
    rtol = params.get("rtol", default_rtol)
    return SolverConfig(method=params.get("method", "dopri5"), rtol=rtol, atol=params.get("atol", rtol),
                        step_size=params.get("step_size"), max_nfe=max_nfe)


def _supervised_settings(spec: SweepSpec, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("dataset", spec.dataset)
    dataset = {"name": name, "n_samples": params.get("samples", spec.samples), "noise": params.get("noise"),
               "test_fraction": spec.test_fraction, "seed": spec.seed}
    data = settings_dataset(dataset)
    preset = preset_for(name, data.n_outputs)
    gen = params.get("topology", preset.generator)
    base = dict(preset.params) if gen == preset.generator else \
        {"n_inputs": data.n_features, "n_outputs": data.n_outputs}
    own = _topology_overrides(params, int(base.get("num_slices", 1)))
    train = TrainConfig(**{"lr": preset.train.lr, "batch_size": preset.train.batch_size,
                           **{k: params[k] for k in _TRAIN_KEYS if k in params}, "seed": spec.seed})
    return {"task": "supervised", "dataset": dataset,
            "topology": {"generator": gen, "params": {**base, **own, "seed": spec.seed}, "overrides": own},
            "train": train.to_dict(), "solver": _solver(params, preset.solver.rtol, spec.max_nfe).to_dict(),
            "epochs": spec.epochs}


def _generative_settings(spec: SweepSpec, params: dict[str, Any]) -> dict[str, Any]:
    from ..generative import flow_preset

    target = params.get("dataset", spec.dataset)
    preset = flow_preset(target)
    own = _topology_overrides(params, preset.num_slices)
    steps = spec.epochs * spec.steps_per_epoch
    config = preset.config(lr=params.get("lr", preset.lr), optimizer=params.get("optimizer", "adam"),
                           batch_size=params.get("batch_size", preset.batch_size),
                           weight_decay=params.get("weight_decay", 0.0), anneal_steps=steps, seed=spec.seed,
                           eval_size=spec.eval_size, eval_every=spec.steps_per_epoch)
    return {"task": spec.task, "dataset": {"name": config.target},
            "topology": {"generator": "fully_connected", "params": own, "overrides": own},
            "train": config.to_dict(), "solver": _solver(params, preset.reference_tol, spec.max_nfe).to_dict(),
            "epochs": spec.epochs, "steps_per_epoch": spec.steps_per_epoch, "trace": "exact"}


def build_circuit(settings: dict[str, Any]) -> Circuit:
    """The trial's initial circuit (raises CircuitError when the generator refuses the settings)."""
    topo = settings["topology"]
    if settings["task"] == "supervised":
        return generate(topo["generator"], **topo["params"])
    from ..generative import flow_preset

    return flow_preset(settings["dataset"]["name"]).circuit(seed=settings["train"]["seed"], **topo["params"])


def train_command(settings: dict[str, Any], out: str = "runs/sweep-best") -> str:
    """The ``kirchhoff train`` command that trains the same circuit on the same data with the same
    seed (a note is appended for settings the command has no flag for)."""
    train, solver, topo = settings["train"], settings["solver"], settings["topology"]
    args = ["kirchhoff", "train"]
    if settings["task"] == "supervised":
        d = settings["dataset"]
        args += ["--dataset", d["name"], "--samples", str(d["n_samples"])]
        if d["noise"] is not None:
            args += ["--noise", repr(d["noise"])]
        if d["test_fraction"] != 0.2:
            args += ["--test-fraction", repr(d["test_fraction"])]
        args += ["--seed", str(train["seed"]), "--topology", topo["generator"], "--epochs", str(settings["epochs"])]
    else:
        task = settings["task"]
        target = ["--dataset", settings["dataset"]["name"]] if task == "generate" else \
            ["--potential", settings["dataset"]["name"]]
        args += ["--task", task, *target, "--seed", str(train["seed"]),
                 "--steps", str(settings["epochs"] * settings["steps_per_epoch"]),
                 "--log-every", str(settings["steps_per_epoch"]), "--eval-size", str(train["eval_size"])]
    for key, value in topo["overrides"].items():
        if key == "kind":
            args += ["--kind", value]
        elif isinstance(value, list):
            args += ["--topo", f"{key}={','.join(map(str, value))}"]
        else:
            text = str(value).lower() if isinstance(value, bool) else repr(value) if isinstance(value, float) \
                else str(value)
            args += ["--topo", f"{key}={text}"]
    args += ["--lr", repr(train["lr"]), "--optimizer", train["optimizer"], "--batch-size", str(train["batch_size"])]
    if train["weight_decay"]:
        args += ["--weight-decay", repr(train["weight_decay"])]
    args += ["--method", solver["method"], "--rtol", repr(solver["rtol"]), "--atol", repr(solver["atol"])]
    if solver["step_size"] is not None:
        args += ["--step-size", repr(solver["step_size"])]
    args += ["--max-nfe", str(solver["max_nfe"]), "--out", out]
    command = shlex.join(args)
    if train.get("mismatch"):
        command += f"  # note: noise-aware training (mismatch={train['mismatch']:g}) has no `kirchhoff train` flag"
    return command


# --- running -----------------------------------------------------------------------------------

class _Recorder:
    """Writes one trial's folder: config once, then the circuit and trial.json after every epoch."""

    def __init__(self, folder: pathlib.Path, index: int, params: dict, settings: dict, node_id: str):
        self.path = trial_dir(folder, index)
        self.path.mkdir(parents=True, exist_ok=True)
        self.doc = {"index": index, "state": "running", "params": params, "node_id": node_id, "host": host_name(),
                    "pid": os.getpid(), "started": now(), "updated": now(), "epochs": [], "objective": None,
                    "metrics": {}, "error": None}
        self.settings = settings
        write_json(self.path / CONFIG_FILE, {"index": index, "params": params, "settings": settings})
        self.write()

    def write(self) -> None:
        self.doc["updated"] = now()
        write_json(self.path / TRIAL_FILE, self.doc)

    def save_circuit(self, circuit: Circuit) -> None:
        save_circuit(circuit, self.path / CIRCUIT_FILE, extra={"training": {
            **{k: self.settings[k] for k in ("task", "dataset", "train", "solver")},
            "topology": self.settings["topology"]["generator"], "history": self.doc["epochs"]}})


def _supervised_epoch(trainer: Trainer) -> dict[str, Any]:
    rec = trainer.step().to_dict()
    rec.pop("max_nfe_per_solve", None)
    return rec


def _generative_epoch(trainer, steps: int, epoch: int) -> dict[str, Any]:
    recs = trainer.run(steps)
    last = recs[-1]
    test = last.test_loss if last.test_loss is not None else trainer.evaluate()
    return {"epoch": epoch, "train_loss": sum(r.train_loss for r in recs) / len(recs), "test_loss": test,
            "train_metric": None, "test_metric": None, "metric": last.metric,
            "nfe_forward": sum(r.nfe_forward for r in recs), "nfe_backward": sum(r.nfe_backward for r in recs),
            "rejected_steps": sum(r.rejected_steps for r in recs), "wall_time": sum(r.wall_time for r in recs),
            "lr": last.lr}


def _make_trainer(settings: dict[str, Any]):
    """(trainer, circuit getter, dataset or None) for the trial's settings."""
    solver = SolverConfig(**settings["solver"])
    circuit = build_circuit(settings)
    if settings["task"] == "supervised":
        data = settings_dataset(settings["dataset"])
        model = KirchhoffNet(circuit, solver)
        return Trainer(model, data, TrainConfig(**settings["train"])), model.to_circuit, data
    from ..generative import CircuitFlow, GenerativeConfig, GenerativeTrainer

    flow = CircuitFlow(circuit, solver, trace=settings["trace"], seed=settings["train"]["seed"])
    return GenerativeTrainer(flow, GenerativeConfig(**settings["train"])), flow.to_circuit, None


def _chip_metric(spec: SweepSpec, circuit: Circuit, data: Dataset | None, solver: SolverConfig) -> dict[str, Any]:
    if data is None or spec.chips == 0:
        return {}
    mc = monte_carlo(circuit, data, ChipConfig(device_mismatch=spec.chip_mismatch), chips=spec.chips,
                     seed=spec.seed, solver=solver, time_budget_s=60.0)
    return {"chip_metric": float(mc.values.mean()), "chip_mismatch": spec.chip_mismatch, "chips": len(mc.values)}


def run_trial(spec: SweepSpec, index: int, params: dict[str, Any], folder: str | pathlib.Path,
              report: Report | None = None, node_id: str = "local", threads: int = 1) -> dict[str, Any]:
    """Train one configuration for ``spec.epochs`` epochs, writing ``folder/trials/trial_NNNN``.

    After each epoch's files are written, ``report`` gets {"objective", "epoch", "final", ...}; it may
    never return (Ray stops a trial early inside it). Returns the final trial document; raises
    ``TrialFailed`` after recording the failure when training cannot go on.
    """
    torch.set_num_threads(max(1, int(threads)))
    torch.manual_seed(spec.seed)
    start = time.perf_counter()
    try:
        settings, bad = trial_settings(spec, params), None
    except ValueError as e:  # a value the trainer refuses: recorded like any other failure
        settings, bad = {}, e
    rec = _Recorder(pathlib.Path(folder), index, params, settings, node_id)
    key = spec.objective_name
    try:
        if bad is not None:
            raise bad
        trainer, circuit_of, data = _make_trainer(settings)
        for epoch in range(1, spec.epochs + 1):
            row = _supervised_epoch(trainer) if data is not None else \
                _generative_epoch(trainer, spec.steps_per_epoch, epoch)
            row["objective"] = row[key]
            rec.doc["epochs"].append(row)
            rec.doc["objective"] = row[key]
            circuit = circuit_of()
            final = epoch == spec.epochs
            metrics = {"time_s": time.perf_counter() - start, "train_s": sum(r["wall_time"] for r in rec.doc["epochs"]),
                       "nfe": sum(r["nfe_forward"] + r["nfe_backward"] for r in rec.doc["epochs"]),
                       "parameters": circuit.num_parameters, "devices": circuit.num_devices}
            if final:
                metrics.update(_chip_metric(spec, circuit, data, SolverConfig(**settings["solver"])))
                metrics["time_s"] = time.perf_counter() - start
                rec.doc["state"] = "finished"
            rec.doc["metrics"] = metrics
            rec.save_circuit(circuit)
            rec.write()
            if not final and metrics["time_s"] > spec.max_trial_s:
                raise TrialFailed(f"time limit: {metrics['time_s']:.0f} s after epoch {epoch} exceeds "
                                  f"max_trial_s={spec.max_trial_s:g}")
            if report is not None:
                report({"objective": row[key], "epoch": epoch, "final": final, "train_loss": row["train_loss"],
                        "test_loss": row["test_loss"]})
        return rec.doc
    except Exception as e:  # recorded, then raised as TrialFailed; SystemExit (Ray's stop) passes
        message = str(e) if isinstance(e, TrialFailed) else f"{type(e).__name__}: {e}"
        rec.doc.update(state="failed", error=message)
        if not isinstance(e, (TrialFailed, ValueError, RuntimeError)):
            rec.doc["traceback"] = traceback.format_exc(limit=8)
        rec.doc["metrics"]["time_s"] = time.perf_counter() - start
        rec.write()
        raise TrialFailed(message) from None
