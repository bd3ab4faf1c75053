"""The Sweep page's settings: a sweep as widgets describe it, turned into the core's ``SweepSpec``.

Each swept hyperparameter is a ``DimensionDraft`` (a range with its ends, log scale and grid points,
or a list of values) that writes itself in the command line's syntax, so the core parses, checks and
words every error exactly as ``kirchhoff sweep --space`` does. Sweep folders live under one root
(``KIRCHHOFF_SWEEPS_ROOT``, default ``sweeps/`` in the repository) and are named by a plain folder
name, which is also what the page's link carries (``?sweep=NAME``). Plain Python: no Streamlit.
"""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from kirchhoff_core.sweeps import SearchSpace, SweepError, SweepSpec, default_workers, hyperparameters
from kirchhoff_core.sweeps.records import SWEEP_FILE
from kirchhoff_core.sweeps.space import Hyper, label

ROOT_ENV = "KIRCHHOFF_SWEEPS_ROOT"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
MAX_LISTED = 200
TASKS = {"supervised": "classification / regression", "generate": "generative flow (2-D data)",
         "density": "match a density (potential)"}
DEFAULT_DATASET = {"supervised": "moons", "generate": "8gaussians", "density": "U1"}
RANGE, VALUES = "range", "values"


def sweeps_root() -> pathlib.Path:
    """Where the page writes and finds sweep folders."""
    return pathlib.Path(os.environ.get(ROOT_ENV) or pathlib.Path(__file__).resolve().parents[1] / "sweeps")


def check_name(name: str) -> str:
    """A sweep folder name (letters, digits, '.', '_' and '-'; no paths), else ValueError."""
    if not NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"sweep name {name!r}: use up to 80 letters, digits, '.', '_' or '-' (no '/' or '..'), "
                         "starting with a letter or digit")
    return name


def saved_sweeps(root: str | pathlib.Path) -> list[str]:
    """The sweep folders under ``root``, newest first (at most ``MAX_LISTED``)."""
    root = pathlib.Path(root)
    if not root.is_dir():
        return []
    found = []
    for sub in root.iterdir():
        marker = sub / SWEEP_FILE
        if NAME.fullmatch(sub.name) and marker.is_file():
            found.append((marker.stat().st_mtime, sub.name))
    return [name for _, name in sorted(found, reverse=True)[:MAX_LISTED]]


# --- one hyperparameter ------------------------------------------------------------------------

@dataclass
class DimensionDraft:
    """One swept hyperparameter as the widgets hold it. Numbers: a ``range`` (``low``..``high``,
    ``log``, ``points`` grid points, 0 = continuous) or ``values``; names: the ``chosen`` ones;
    pairs and lists: ``text`` such as '1/1, 2/2'."""

    name: str
    mode: str = VALUES
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    points: int = 0
    text: str = ""
    chosen: list[str] = field(default_factory=list)

    def spec_text(self, hyper: Hyper) -> str:
        """The ``--space`` value (what follows ``NAME=``)."""
        if hyper.choices or hyper.type is bool:
            return ",".join(self.chosen)
        if hyper.numeric and self.mode == RANGE:
            ends = [int(v) if hyper.type is int and float(v).is_integer() else v for v in (self.low, self.high)]
            text = ":".join(f"{v:.10g}" if isinstance(v, float) else str(v) for v in ends)
            return text + (":log" if self.log else "") + (f":{self.points}" if self.points else "")
        return ",".join(t.strip() for t in self.text.split(",") if t.strip())


_DEFAULTS: dict[str, dict[str, Any]] = {
    "lr": dict(mode=RANGE, low=1e-3, high=0.1, log=True, points=4),
    "batch_size": dict(text="16, 32, 64"), "weight_decay": dict(text="0, 1e-4, 1e-3"),
    "mismatch": dict(text="0, 0.05, 0.1"), "num_nodes": dict(text="4, 6, 8"), "repeats": dict(text="1/1, 2/2"),
    "num_slices": dict(text="1, 2"), "gain": dict(text="0.5, 1, 2"), "T": dict(text="0.5, 1, 2"),
    "rtol": dict(mode=RANGE, low=1e-4, high=1e-2, log=True, points=3), "noise": dict(text="0.05, 0.1, 0.2"),
    "samples": dict(text="200, 500"), "layer_sizes": dict(text="2/4/2, 2/8/2"),
    "optimizer": dict(chosen=["adam", "sgd"]), "kind": dict(chosen=["ShiftTanh2", "ShiftRelu1"]),
    "method": dict(chosen=["dopri5", "bosh3"]),
}


def default_dimension(hyper: Hyper) -> DimensionDraft:
    """A sensible first value for a newly chosen hyperparameter (the user edits it)."""
    preset = dict(_DEFAULTS.get(hyper.name, {}))
    if hyper.type is bool:
        preset.setdefault("chosen", ["true", "false"])
    elif hyper.choices:
        chosen = [c for c in preset.get("chosen", []) if c in hyper.choices] or [str(c) for c in hyper.choices[:2]]
        preset["chosen"] = chosen
    elif hyper.numeric and not preset and hyper.low is not None and hyper.high is not None:
        preset = dict(text=f"{hyper.low:g}" if not hyper.open_low else "")
    return DimensionDraft(hyper.name, **preset)


# --- the whole sweep ------------------------------------------------------------------------------

@dataclass
class SweepSettings:
    """A sweep as the page's form holds it; ``spec()`` is the core's ``SweepSpec`` (or a SweepError)."""

    task: str = "supervised"
    dataset: str = "moons"
    names: list[str] = field(default_factory=lambda: ["lr", "num_nodes"])
    dims: dict[str, DimensionDraft] = field(default_factory=dict)
    search: str = "random"
    trials: int = 8
    epochs: int = 6
    seed: int = 0
    asha: bool = True
    grace_period: int = 1
    reduction_factor: int = 2
    samples: int = 300
    chips: int = 0
    serial: bool = False  # one trial after another without Ray (no early stopping)
    workers: int = field(default_factory=default_workers)
    address: str = ""  # a Ray cluster (HOST:PORT); empty: this machine
    name: str = ""  # the folder under the sweeps root; empty: made from the set-up and the time

    def catalogue(self) -> dict[str, Hyper]:
        return hyperparameters(self.task)

    def dimension(self, name: str) -> DimensionDraft:
        """The draft of ``name`` (made with its default on first use)."""
        if name not in self.dims:
            self.dims[name] = default_dimension(self.catalogue()[name])
        return self.dims[name]

    def space(self) -> SearchSpace:
        if not self.names:
            raise SweepError("space: choose at least one hyperparameter to sweep")
        catalogue = self.catalogue()
        unknown = [n for n in self.names if n not in catalogue]
        if unknown:
            raise SweepError(f"space: unknown hyperparameter(s) {', '.join(unknown)} for a {self.task} sweep; "
                             f"choose from {', '.join(catalogue)}")
        return SearchSpace.parse([f"{n}={self.dimension(n).spec_text(catalogue[n])}" for n in self.names], self.task)

    def spec(self) -> SweepSpec:
        """The sweep (every bad value raises a SweepError naming it, as the command line words it)."""
        return SweepSpec(space=self.space(), task=self.task, dataset=self.dataset, search=self.search,
                         trials=None if self.search == "grid" else self.trials, epochs=self.epochs, seed=self.seed,
                         early_stopping="asha" if self.asha and not self.serial else "none",
                         grace_period=min(self.grace_period, self.epochs), reduction_factor=self.reduction_factor,
                         samples=self.samples, chips=self.chips)

    def folder_name(self, now: float | None = None) -> str:
        """The folder name: the one given, else dataset, swept names and the time."""
        if self.name.strip():
            return check_name(self.name.strip())
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        return check_name("-".join([self.dataset, *self.names[:3], stamp])[:80])

    @classmethod
    def from_spec(cls, spec: SweepSpec, **keep: Any) -> "SweepSettings":
        """The form for an existing sweep (a preset's, or a reopened one), to run a variant of it;
        ``keep``: the runner settings (serial, workers, address) stay as the user had them."""
        catalogue = hyperparameters(spec.task)
        dims = {}
        for name, d in spec.space.dimensions.items():
            hyper = catalogue[name]
            if hyper.choices or hyper.type is bool:
                dims[name] = DimensionDraft(name, chosen=[label(v).lower() if hyper.type is bool else label(v)
                                                          for v in d.values])
            elif d.is_range:
                dims[name] = DimensionDraft(name, RANGE, float(d.low), float(d.high), d.log, d.points or 0)
            else:
                dims[name] = DimensionDraft(name, text=", ".join(label(v) for v in d.values))
        return cls(task=spec.task, dataset=spec.dataset, names=list(dims), dims=dims, search=spec.search,
                   trials=spec.n_trials, epochs=spec.epochs, seed=spec.seed, asha=spec.early_stopping == "asha",
                   grace_period=spec.grace_period, reduction_factor=spec.reduction_factor, samples=spec.samples,
                   chips=spec.chips, **keep)


def cli_command(spec: SweepSpec, folder: str | pathlib.Path, serial: bool = False, address: str = "") -> str:
    """The ``kirchhoff sweep`` command that runs the same sweep from a shell."""
    args = ["kirchhoff", "sweep"] + (["--task", spec.task] if spec.task != "supervised" else [])
    args += ["--dataset", spec.dataset]
    for item in spec.space.describe():
        args += ["--space", item]
    args += ["--search", spec.search] + (["--trials", str(spec.n_trials)] if spec.search != "grid" else [])
    args += ["--epochs", str(spec.epochs), "--seed", str(spec.seed), "--early-stopping", spec.early_stopping]
    if spec.early_stopping == "asha":
        args += ["--grace-period", str(spec.grace_period), "--reduction-factor", str(spec.reduction_factor)]
    if spec.task == "supervised":  # data size and chip checks mean nothing to a flow
        args += ["--samples", str(spec.samples), "--chips", str(spec.chips)]
    args += ["--out", str(folder)]
    args += (["--serial"] if serial else []) + (["--address", address] if address else [])
    return shlex.join(args)
