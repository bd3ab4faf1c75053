"""What a sweep is: the space, the search, the budget, the objective and the fixed settings.

A ``SweepSpec`` is checked when it is made (every error names the setting), round-trips through
JSON (``sweep.json`` in the sweep folder, which is how a sweep is resumed or reopened), and gives the
configurations grid and random search will run (``proposals``), the same list for the same seed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..datasets import DATASETS
from ..densities import POTENTIALS, TARGETS
from ..generators import COMMON_PARAMS, GENERATORS
from ..presets import preset_for
from .space import SearchSpace, SweepError, hyperparameters

SEARCHES = ("grid", "random", "optuna")
EARLY_STOPPING = ("asha", "none")
OBJECTIVES = ("test_metric", "test_loss")
MAX_TRIALS = 1000
"""Most trials one sweep may run (a grid's size included): beyond that, split the sweep."""
MAX_EPOCHS = 1000
SPEC_VERSION = 1
_TOPOLOGY_ONLY = {h.name for h in COMMON_PARAMS} | {"T"}


@dataclass
class SweepSpec:
    """A sweep. ``dataset`` is the base data set (supervised), 2-D target (``task="generate"``) or
    potential (``"density"``); the space may vary it. ``trials`` defaults to 12 (random, Optuna)
    or the grid's size. For generative tasks one epoch is ``steps_per_epoch`` optimiser steps.
    Secondary metrics: ``chips`` simulated chips at ``chip_mismatch`` (0 chips: off)."""

    space: SearchSpace = field(default_factory=SearchSpace)
    task: str = "supervised"
    dataset: str = "moons"
    search: str = "random"
    trials: int | None = None
    epochs: int = 10
    seed: int = 0
    objective: str | None = None
    early_stopping: str = "asha"
    grace_period: int = 1
    reduction_factor: int = 2
    samples: int = 500
    test_fraction: float = 0.2
    steps_per_epoch: int = 25
    eval_size: int = 1000
    chip_mismatch: float = 0.05
    chips: int = 10
    max_trial_s: float = 900.0
    max_nfe: int = 20_000

    def __post_init__(self) -> None:
        self.validate()

    # --- checks ------------------------------------------------------------------------------
    def validate(self) -> "SweepSpec":
        _choice("search", self.search, SEARCHES)
        _choice("early_stopping", self.early_stopping, EARLY_STOPPING)
        hyperparameters(self.task)  # checks the task
        _int("epochs", self.epochs, 1, MAX_EPOCHS)
        _int("seed", self.seed, 0, 2**32 - 1)
        _int("grace_period", self.grace_period, 1, self.epochs)
        _int("reduction_factor", self.reduction_factor, 2, 16)
        _int("steps_per_epoch", self.steps_per_epoch, 1, 100_000)
        _int("eval_size", self.eval_size, 1, 100_000)
        _int("chips", self.chips, 0, 1000)
        _int("max_nfe", self.max_nfe, 10, 10_000_000)
        _real("chip_mismatch", self.chip_mismatch, 0.0, 1.0)
        _real("max_trial_s", self.max_trial_s, 1.0, 7 * 86_400.0)
        _real("test_fraction", self.test_fraction, 0.01, 0.99)
        if self.trials is not None:
            if isinstance(self.trials, int) and not isinstance(self.trials, bool) and self.trials > MAX_TRIALS:
                raise SweepError(f"trials: at most {MAX_TRIALS:,} per sweep, got {self.trials:,}; split the work "
                                 "into several sweeps or narrow the space")
            _int("trials", self.trials, 1, MAX_TRIALS)
        if self.objective is not None:
            _choice("objective", self.objective, OBJECTIVES)
            if self.task != "supervised" and self.objective == "test_metric":
                raise SweepError("objective: generative sweeps minimise the held-out loss (test_loss)")
        for name in self.datasets():
            self._check_dataset(name)
        self._check_topology_names()
        if self.search == "grid":
            size = len(self.space.grid())
            if self.trials is not None and self.trials != size:
                raise SweepError(f"trials: a grid runs each of its {size} points once; leave --trials out "
                                 f"(got {self.trials})")
        return self

    def _check_dataset(self, name: str) -> None:
        if self.task == "supervised" and name not in DATASETS:
            hint = "; add --task generate for a 2-D target" if name in TARGETS else ""
            raise SweepError(f"dataset: unknown dataset {name!r}; choose one of {', '.join(DATASETS)}{hint}")
        if self.task == "generate" and name not in TARGETS:
            raise SweepError(f"dataset: --task generate needs a 2-D target, one of {', '.join(TARGETS)}; "
                             f"got {name!r}")
        if self.task == "density" and name not in POTENTIALS:
            raise SweepError(f"dataset: --task density needs a potential, one of {', '.join(POTENTIALS)}; "
                             f"got {name!r}")

    def _check_topology_names(self) -> None:
        """Every topology hyperparameter must be an argument of every generator the sweep can use."""
        if self.task != "supervised":
            return
        own = [n for n in self.space.names if n in _generator_arg_names() and n not in _TOPOLOGY_ONLY]
        for gen in self.generators():
            accepted = {p.name for p in GENERATORS[gen].params}
            for name in own:
                if name not in accepted:
                    raise SweepError(f"{name}: not a parameter of the {gen} topology (it takes "
                                     f"{', '.join(sorted(accepted - {'edges'}))}); set --space topology=... "
                                     "to generators that have it")

    # --- derived -----------------------------------------------------------------------------
    def datasets(self) -> list[str]:
        """The data sets (or targets / potentials) the sweep's trials use."""
        d = self.space.dimensions.get("dataset")
        return list(d.values) if d is not None else [self.dataset]

    def generators(self) -> list[str]:
        """The topology generators the trials use (the datasets' presets unless the space sets one)."""
        if self.task != "supervised":
            return ["fully_connected"]
        d = self.space.dimensions.get("topology")
        if d is not None:
            return list(d.values)
        return list(dict.fromkeys(preset_for(name).generator for name in self.datasets()))

    @property
    def objective_name(self) -> str:
        """The objective in use (the default depends on the task and data)."""
        if self.objective is not None:
            return self.objective
        if self.task == "supervised" and all(DATASETS[n].task == "classification" for n in self.datasets()):
            return "test_metric"
        return "test_loss"

    @property
    def mode(self) -> str:
        """'max' for accuracy / R², 'min' for losses and NLL."""
        return "max" if self.objective_name == "test_metric" else "min"

    @property
    def objective_label(self) -> str:
        """How tables and plots name the objective."""
        if self.task == "generate":
            return "held-out NLL"
        if self.task == "density":
            return "held-out KL"
        tasks = {DATASETS[n].task for n in self.datasets()}
        if self.objective_name == "test_metric":
            return "test accuracy" if tasks == {"classification"} else \
                "test R²" if tasks == {"regression"} else "test metric"
        return "test loss (MSE)" if tasks == {"regression"} else \
            "test loss (cross-entropy)" if tasks == {"classification"} else "test loss"

    def better(self, a: float, b: float) -> bool:
        """True when objective value ``a`` beats ``b``."""
        return a > b if self.mode == "max" else a < b

    @property
    def n_trials(self) -> int:
        if self.search == "grid":
            return len(self.space.grid())
        return self.trials if self.trials is not None else 12

    def notes(self) -> list[str]:
        """Things worth saying about a valid sweep before it runs (a page shows them as warnings)."""
        out = []
        dims = self.space.dimensions.values()
        if self.search != "grid" and dims and all(d.discrete for d in dims):
            size = math.prod(len(d.grid_values()) for d in dims)
            if size < self.n_trials:
                out.append(f"the space has only {size} distinct configuration(s) for {self.n_trials} {self.search} "
                           "trials, so some will repeat; --search grid runs each once")
        return out

    def proposals(self) -> list[dict[str, Any]]:
        """The configurations grid and random search run, in order (Optuna proposes as it goes)."""
        if self.search == "grid":
            return self.space.grid()
        if self.search == "random":
            return self.space.random(self.n_trials, self.seed)
        raise SweepError("proposals: Optuna proposes configurations while the sweep runs")

    # --- JSON ----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "space"}
        return {"version": SPEC_VERSION, "space": self.space.to_json(), **out}

    @classmethod
    def from_json(cls, doc: Any) -> "SweepSpec":
        if not isinstance(doc, dict):
            raise SweepError(f"sweep spec: expected a mapping, got {type(doc).__name__}")
        if doc.get("version", SPEC_VERSION) != SPEC_VERSION:
            raise SweepError(f"sweep spec: version {doc.get('version')!r} is not supported (this is "
                             f"version {SPEC_VERSION})")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(doc) - known - {"version"})
        if unknown:
            raise SweepError(f"sweep spec: unknown setting(s) {unknown}")
        task = doc.get("task", "supervised")
        args = {k: v for k, v in doc.items() if k in known and k != "space"}
        return cls(space=SearchSpace.from_json(doc.get("space", {}), task), **args)

    def replace(self, **changes: Any) -> "SweepSpec":
        return SweepSpec(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})

    def settings(self) -> dict[str, Any]:
        """The fixed settings (everything but the space), e.g. for a page's summary."""
        return {k: v for k, v in asdict(self).items() if k != "space"}


def _generator_arg_names() -> set[str]:
    return {p.name for spec in GENERATORS.values() for p in spec.params} | _TOPOLOGY_ONLY


def _choice(name: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        raise SweepError(f"{name}: choose one of {', '.join(options)}, got {value!r}")


def _int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SweepError(f"{name}: must be an integer from {low:,} to {high:,}, got {value!r}")


def _real(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise SweepError(f"{name}: must be a number from {low:g} to {high:g}, got {value!r}")
