"""The sweep folder: the record of a sweep, written as it runs and read back by ``show``, resume and a page.

Layout (every JSON file replaced atomically, so a reader or a resumed sweep sees a whole file)::

    DIR/sweep.json                   the SweepSpec (space, search, budget, fixed settings)
    DIR/proposals.json               grid / random: every configuration, in trial order
    DIR/status.json                  the driver: running / finished / interrupted, pid, host, counts
    DIR/trials/trial_0007/config.json    the trial's hyperparameters and full settings
    DIR/trials/trial_0007/trial.json     state, node, per-epoch metrics, objective, secondary metrics
    DIR/trials/trial_0007/circuit.json   the trained circuit (kirchhoff_core.io format), every epoch
    DIR/ray/                         Ray Tune's own experiment folder (not needed to read a sweep)

A trial is done once its ``trial.json`` says finished, stopped (early) or failed; the circuit is
saved before that, so nothing of a done trial is lost when the sweep is killed, and a resumed
sweep runs every other trial again.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from ..atomic import atomic_write
from ..circuit import Circuit
from ..datasets import Dataset, make_dataset
from ..io import CircuitFileError, load_checkpoint
from ..solvers import SolverConfig
from ..train import TrainConfig
from .space import SweepError, label, plain
from .spec import SweepSpec

SWEEP_FILE, STATUS_FILE, PROPOSALS_FILE, TRIALS_DIR = "sweep.json", "status.json", "proposals.json", "trials"
CONFIG_FILE, TRIAL_FILE, CIRCUIT_FILE = "config.json", "trial.json", "circuit.json"
DONE = ("finished", "stopped", "failed")
STATES = ("pending", "running", "finished", "stopped", "failed", "interrupted")
MAX_RECORD_BYTES = 50_000_000  # a trial.json or sweep.json larger than this is not ours


def _finite(value: Any) -> Any:
    """JSON without NaN/Infinity (our reader refuses them): non-finite floats become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return plain(value)


def write_json(path: str | pathlib.Path, doc: Any) -> pathlib.Path:
    """Replace ``path`` atomically with ``doc`` as JSON."""
    return atomic_write(path, json.dumps(_finite(doc), indent=1))


def read_json(path: pathlib.Path) -> Any:
    """A JSON file of ours, or None when it is missing, torn or not JSON."""
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def settings_dataset(d: dict[str, Any]) -> Dataset:
    """The data set a trial's settings name ({name, n_samples, noise, test_fraction, seed})."""
    return make_dataset(d["name"], n_samples=d["n_samples"], noise=d["noise"], test_fraction=d["test_fraction"],
                        seed=d["seed"])


def trial_dir(folder: str | pathlib.Path, index: int) -> pathlib.Path:
    return pathlib.Path(folder) / TRIALS_DIR / f"trial_{index:04d}"


def now() -> float:
    return round(time.time(), 3)


def host_name() -> str:
    return socket.gethostname()


# --- reading -----------------------------------------------------------------------------------

def read_spec(folder: str | pathlib.Path) -> SweepSpec:
    """The SweepSpec of a sweep folder; SweepError when the folder holds none."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise SweepError(f"{folder}: no such folder")
    doc = read_json(folder / SWEEP_FILE)
    if doc is None:
        raise SweepError(f"{folder}: not a sweep folder (no readable {SWEEP_FILE})")
    return SweepSpec.from_json(doc)


@dataclass
class TrialRecord:
    """One trial as the folder tells it. ``objective`` is the last reported value (what the search
    and early stopping saw); ``metrics`` holds the secondary ones (time_s, nfe, parameters, ...)."""

    index: int
    state: str
    params: dict[str, Any]
    epochs: list[dict[str, Any]] = field(default_factory=list)
    objective: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    node_id: str | None = None
    host: str | None = None
    error: str | None = None
    started: float | None = None
    updated: float | None = None

    @property
    def epochs_done(self) -> int:
        return len(self.epochs)

    @property
    def done(self) -> bool:
        return self.state in DONE

    @property
    def time_s(self) -> float | None:
        if "time_s" in self.metrics:
            return self.metrics["time_s"]
        if self.started is not None and self.updated is not None:
            return self.updated - self.started
        return None

    @classmethod
    def from_json(cls, doc: dict) -> "TrialRecord":
        return cls(index=int(doc["index"]), state=str(doc.get("state", "running")), params=dict(doc.get("params", {})),
                   epochs=list(doc.get("epochs", [])), objective=doc.get("objective"),
                   metrics=dict(doc.get("metrics") or {}), node_id=doc.get("node_id"), host=doc.get("host"),
                   error=doc.get("error"), started=doc.get("started"), updated=doc.get("updated"))


def read_trial(folder: str | pathlib.Path, index: int) -> TrialRecord | None:
    doc = read_json(trial_dir(folder, index) / TRIAL_FILE)
    if not isinstance(doc, dict) or "index" not in doc:
        return None
    try:
        return TrialRecord.from_json(doc)
    except (TypeError, ValueError):
        return None


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class SweepState:
    """A sweep read from its folder: settings, driver status and every trial (pending ones too)."""

    folder: pathlib.Path
    spec: SweepSpec
    status: dict[str, Any]
    trials: list[TrialRecord]

    @property
    def running(self) -> bool:
        """True while the driver that wrote ``status.json`` is alive (checked by pid on this host)."""
        if self.status.get("state") != "running":
            return False
        if self.status.get("host") not in (None, host_name()):
            return True  # another machine's driver: trust the file
        return _pid_alive(self.status.get("pid"))

    @property
    def state(self) -> str:
        """running, finished, interrupted (the driver stopped before every trial was done) or new."""
        if not self.status:
            return "new"
        if self.running:
            return "running"
        if self.status.get("state") == "running":
            return "interrupted"
        return str(self.status.get("state"))

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATES}
        for t in self.trials:
            out[t.state] += 1
        return out

    def best(self) -> TrialRecord | None:
        """The best finished trial by the objective (a stopped one if none finished)."""
        for states in (("finished",), ("stopped",)):
            scored = [t for t in self.trials if t.state in states and _number(t.objective)]
            if scored:
                pick = max if self.spec.mode == "max" else min
                return pick(scored, key=lambda t: t.objective)
        return None

    def sorted_trials(self) -> list[TrialRecord]:
        """Best first by the objective; trials without one (failed, pending) after, by index."""
        sign = -1 if self.spec.mode == "max" else 1
        scored = sorted((t for t in self.trials if _number(t.objective)), key=lambda t: (sign * t.objective, t.index))
        rest = sorted((t for t in self.trials if not _number(t.objective)), key=lambda t: t.index)
        return scored + rest

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per trial, best first: what a table or a parallel-coordinates plot needs.
        Columns: trial, state, objective, epochs, time_s, nfe, parameters, chip_metric, node,
        error, then one column per hyperparameter of the space."""
        out = []
        for t in self.sorted_trials():
            row = {"trial": t.index, "state": t.state, "objective": t.objective, "epochs": t.epochs_done,
                   "time_s": t.time_s, "nfe": t.metrics.get("nfe"), "parameters": t.metrics.get("parameters"),
                   "chip_metric": t.metrics.get("chip_metric"), "node": (t.node_id or "")[:8] or None,
                   "error": t.error}
            for name in self.spec.space.names:
                value = t.params.get(name)
                row[name] = label(value) if isinstance(value, (list, tuple)) else value
            out.append(row)
        return out

    def table(self):
        """``rows()`` as a pandas DataFrame."""
        import pandas as pd

        columns = ["trial", "state", "objective", "epochs", "time_s", "nfe", "parameters", "chip_metric", "node",
                   "error", *self.spec.space.names]
        return pd.DataFrame(self.rows(), columns=columns)

    def curves(self):
        """Per-epoch records of every trial in long form (trial, epoch, objective, train_loss,
        test_loss, test_metric, ...) plus the trial's hyperparameters, for overlaid learning curves."""
        import pandas as pd

        rows = []
        for t in self.trials:
            params = {n: label(v) if isinstance(v, (list, tuple)) else v for n, v in t.params.items()}
            for rec in t.epochs:
                rows.append({"trial": t.index, "state": t.state, **rec, **params})
        return pd.DataFrame(rows)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def load_sweep(folder: str | pathlib.Path) -> SweepState:
    """Read a sweep folder (finished, running or interrupted). Pending trials of grid and random
    searches are listed from ``proposals.json``; Optuna's are not known until proposed."""
    folder = pathlib.Path(folder)
    spec = read_spec(folder)
    status = read_json(folder / STATUS_FILE)
    status = status if isinstance(status, dict) else {}
    trials: dict[int, TrialRecord] = {}
    base = folder / TRIALS_DIR
    if base.is_dir():
        for sub in sorted(base.iterdir()):
            if sub.name.startswith("trial_") and sub.name[6:].isdigit():
                rec = read_trial(folder, int(sub.name[6:]))
                if rec is not None:
                    trials[rec.index] = rec
    proposals = read_json(folder / PROPOSALS_FILE)
    if isinstance(proposals, list):
        for i, params in enumerate(proposals):
            if i not in trials and isinstance(params, dict):
                trials[i] = TrialRecord(i, "pending", params)
    sweep = SweepState(folder, spec, status, [trials[i] for i in sorted(trials)])
    if not sweep.running:
        for t in sweep.trials:
            if t.state == "running":
                t.state = "interrupted"
    return sweep


@dataclass
class LoadedTrial:
    """One trial's trained circuit, its settings (data, topology, training, solver) and records."""

    circuit: Circuit
    settings: dict[str, Any]
    record: TrialRecord
    extra: dict[str, Any]

    def solver_config(self) -> SolverConfig:
        return SolverConfig(**self.settings["solver"])

    def train_config(self):
        """``TrainConfig`` (supervised) or ``GenerativeConfig`` (generate / density)."""
        if self.settings["task"] == "supervised":
            return TrainConfig(**self.settings["train"])
        from ..generative import GenerativeConfig

        return GenerativeConfig(**self.settings["train"])

    def dataset(self) -> Dataset | None:
        """The trial's train/test split (None for generative trials, which sample their target)."""
        return None if self.settings["task"] != "supervised" else settings_dataset(self.settings["dataset"])


def load_trial(folder: str | pathlib.Path, index: int) -> LoadedTrial:
    """What "Open in Train" needs: the trial's circuit (as saved after its last epoch) and settings."""
    path = trial_dir(folder, index)
    record = read_trial(folder, index)
    config = read_json(path / CONFIG_FILE)
    if record is None or not isinstance(config, dict):
        raise SweepError(f"trial {index}: no record in {path}")
    try:
        circuit, extra = load_checkpoint(path / CIRCUIT_FILE)
    except CircuitFileError as e:
        raise SweepError(f"trial {index}: no circuit saved yet ({e})") from None
    return LoadedTrial(circuit, config.get("settings", {}), record, extra)
