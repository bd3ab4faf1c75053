"""A sweep's search space: which hyperparameters vary, over which values or ranges.

One ``Dimension`` per hyperparameter, read from the command-line syntax (``lr=1e-3:1e-1:log``,
``num_nodes=4,6,8``, ``repeats=1/1,2/2``) or from a YAML/JSON mapping, checked against the catalogue
``hyperparameters(task)`` (names, types, bounds, choices) before any work starts. A range is sampled
continuously by random and Optuna search; with a count (``lr=1e-3:1e-1:log:4``) it is that many
evenly (or log-evenly) spaced points, which is what grid search needs. Everything here is plain
Python (no Ray): a page can build a space from widgets and show the catalogue's help texts.
"""

from __future__ import annotations

import itertools
import json
import math
import pathlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..datasets import DATASETS, MAX_SAMPLES, MIN_SAMPLES
from ..densities import POTENTIALS, TARGETS
from ..generators import COMMON_PARAMS, GENERATORS
from ..solvers import METHODS
from ..train import OPTIMIZERS

MAX_GRID = 1000
"""Most points a grid may have (the same as the trial limit of a sweep)."""
MAX_POINTS = 100
"""Most points one range may be cut into."""


class SweepError(ValueError):
    """A sweep that cannot run as asked: the message names the setting and what would work."""


@dataclass(frozen=True)
class Hyper:
    """One hyperparameter a sweep can vary: its type, bounds (inclusive unless ``open_low``), choices."""

    name: str
    type: Any  # int, float, bool, str, "int_pair" or "int_list"
    group: str  # "training", "topology", "solver" or "data"
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    open_low: bool = False  # lr, tolerances: strictly above ``low``

    @property
    def numeric(self) -> bool:
        return self.type in (int, float)


_EXCLUDED = {"inputs", "outputs", "n_inputs", "n_outputs", "seed", "duration", "edges"}
# duration is set through the read-out time T; inputs/outputs follow the dataset; the seed is the sweep's.

_TRAINING = (
    Hyper("lr", float, "training", "learning rate", 0.0, 10.0, open_low=True),
    Hyper("batch_size", int, "training", "minibatch size (0 = full batch)", 0, 100_000),
    Hyper("optimizer", str, "training", "optimiser", choices=tuple(OPTIMIZERS)),
    Hyper("weight_decay", float, "training", "weight decay", 0.0, 10.0),
)
_MISMATCH = Hyper("mismatch", float, "training",
                  "noise-aware training: relative sigma of device parameters, redrawn per batch", 0.0, 0.99)
_SOLVER = (
    Hyper("method", str, "solver", "ODE solver", choices=METHODS),
    Hyper("rtol", float, "solver", "relative tolerance (atol follows it unless set)", 0.0, 0.5, open_low=True),
    Hyper("atol", float, "solver", "absolute tolerance", 0.0, 0.5, open_low=True),
    Hyper("step_size", float, "solver", "step of fixed-step solvers", 0.0, 10.0, open_low=True),
)
_T = Hyper("T", float, "topology", "read-out time (all slices together; each slice lasts T / num_slices)",
           1e-3, 1e3)


def _generator_hypers() -> list[Hyper]:
    """Every generator argument (loosest bounds over the generators that take it) plus the common ones."""
    merged: dict[str, Hyper] = {}
    for spec in list(GENERATORS.values()):
        for p in spec.params:
            if p.name in _EXCLUDED:
                continue
            old = merged.get(p.name)
            low = p.min if old is None or old.low is None or p.min is None else min(old.low, p.min)
            high = p.max if old is None or old.high is None or p.max is None else max(old.high, p.max)
            merged[p.name] = Hyper(p.name, p.type, "topology", p.help, low, high)
    for p in COMMON_PARAMS:
        if p.name not in _EXCLUDED:
            merged[p.name] = Hyper(p.name, p.type, "topology", p.help, p.min, p.max, tuple(p.choices))
    return list(merged.values())


def hyperparameters(task: str = "supervised") -> dict[str, Hyper]:
    """The catalogue of what a sweep of ``task`` ("supervised", "generate" or "density") can vary."""
    if task == "supervised":
        items = [*_TRAINING, _MISMATCH,
                 Hyper("topology", str, "topology", "circuit generator", choices=tuple(GENERATORS)),
                 *_generator_hypers(), _T, *_SOLVER,
                 Hyper("dataset", str, "data", "dataset", choices=tuple(DATASETS)),
                 Hyper("noise", float, "data", "dataset noise", 0.0, 10.0),
                 Hyper("samples", int, "data", "dataset size", MIN_SAMPLES, MAX_SAMPLES)]
    elif task in ("generate", "density"):
        own = {p.name: p for p in COMMON_PARAMS}
        targets = tuple(TARGETS) if task == "generate" else tuple(POTENTIALS)
        items = [Hyper("lr", float, "training", "learning rate", 0.0, 1.0, open_low=True),
                 Hyper("batch_size", int, "training", "fresh samples per step", 1, 100_000),
                 Hyper("optimizer", str, "training", "optimiser", choices=("adam", "adamw")),
                 _TRAINING[3],
                 Hyper("repeats", "int_pair", "topology", "devices each way between the two nodes and ground",
                       0, 100),
                 *(Hyper(n, own[n].type, "topology", own[n].help, own[n].min, own[n].max, tuple(own[n].choices))
                   for n in ("kind", "num_slices", "gain")),
                 _T, *_SOLVER,
                 Hyper("dataset", str, "data", "2-D target" if task == "generate" else "potential",
                       choices=targets)]
    else:
        raise SweepError(f"task: choose supervised, generate or density, got {task!r}")
    return {h.name: h for h in items}


# --- values ------------------------------------------------------------------------------------

def _parse_scalar(hyper: Hyper, text: str) -> Any:
    """One value of ``hyper`` from text ('0.01', '8', 'true', 'adam', '2/2')."""
    text = text.strip()
    try:
        if hyper.type is float:
            return float(text)
        if hyper.type is int:
            return int(text)
        if hyper.type is bool:
            low = text.lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return low in ("true", "1", "yes")
        if hyper.type in ("int_pair", "int_list"):
            return tuple(int(t) for t in text.split("/") if t.strip())
        return text
    except ValueError:
        what = {"int_pair": "two integers such as 2/2", "int_list": "integers such as 2/4/2"}.get(
            hyper.type, getattr(hyper.type, "__name__", str(hyper.type)))
        raise SweepError(f"{hyper.name}: cannot read {text!r} as {what}") from None


def _coerce(hyper: Hyper, value: Any) -> Any:
    """A value from a YAML/JSON file: numbers stay numbers, strings are parsed, lists become tuples."""
    if isinstance(value, str):
        return _parse_scalar(hyper, value)
    if hyper.type in ("int_pair", "int_list"):
        if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return tuple(value)
        raise SweepError(f"{hyper.name}: expected a list of integers such as [2, 2], got {value!r}")
    if hyper.type is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hyper.type is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hyper.type is bool and isinstance(value, bool):
        return value
    if hyper.type is str and isinstance(value, str):
        return value
    raise SweepError(f"{hyper.name}: {value!r} is not a {getattr(hyper.type, '__name__', hyper.type)}")


def _check_value(hyper: Hyper, value: Any) -> None:
    """Bounds and choices, with a message naming the hyperparameter."""
    if hyper.choices and value not in hyper.choices:
        raise SweepError(f"{hyper.name}: unknown value {value!r}; choose from {', '.join(map(str, hyper.choices))}")
    items = value if isinstance(value, tuple) else (value,)
    if hyper.type == "int_pair" and len(items) != 2:
        raise SweepError(f"{hyper.name}: need two integers such as 2/2, got {label(value)!r}")
    if hyper.type == "int_list" and not items:
        raise SweepError(f"{hyper.name}: need at least one integer")
    for v in items:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if not math.isfinite(v):
            raise SweepError(f"{hyper.name}: {v!r} is not a finite number")
        too_low = hyper.low is not None and (v <= hyper.low if hyper.open_low else v < hyper.low)
        if too_low or (hyper.high is not None and v > hyper.high):
            low = f"above {hyper.low:g}" if hyper.open_low else f"at least {hyper.low:g}"
            raise SweepError(f"{hyper.name}: {v!r} is out of range; must be {low} and at most {hyper.high:g}")


def label(value: Any) -> str:
    """A value as the command line writes it (tuples as 2/2)."""
    if isinstance(value, (tuple, list)):
        return "/".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def plain(value: Any) -> Any:
    """JSON-friendly: tuples as lists, numpy scalars as Python numbers."""
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


# --- dimensions --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dimension:
    """What one hyperparameter does in a sweep: a list of values (one value = fixed) or a range.

    A range is ``low..high`` (``log`` for log-uniform), integer-valued for integer hyperparameters;
    ``points`` cuts it into that many grid points (then it behaves as a list of values).
    """

    name: str
    values: tuple = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    points: int | None = None
    integer: bool = False

    @property
    def is_range(self) -> bool:
        return self.low is not None

    @property
    def discrete(self) -> bool:
        """True when the dimension is a finite list (values, or a range with a count)."""
        return not self.is_range or self.points is not None

    def grid_values(self) -> list:
        """The finite list of values (a range needs a count)."""
        if not self.is_range:
            return list(self.values)
        if self.points is None:
            raise SweepError(f"{self.name}: grid search needs a list of values or a range with a count, "
                             f"e.g. {self.name}={self.describe()}:4")
        if self.points == 1:
            raw = np.array([self.low])
        elif self.log:
            raw = np.geomspace(self.low, self.high, self.points)
        else:
            raw = np.linspace(self.low, self.high, self.points)
        if self.integer:
            return list(dict.fromkeys(int(round(v)) for v in raw))
        return [float(f"{v:.6g}") for v in raw]

    def sample(self, rng: np.random.Generator) -> Any:
        """One random value: uniform over a list, uniform or log-uniform over a range."""
        if self.discrete:
            values = self.grid_values()
            return values[int(rng.integers(len(values)))]
        if self.integer:
            if self.log:
                v = math.exp(rng.uniform(math.log(self.low), math.log(self.high + 1)))
                return int(min(self.high, max(self.low, math.floor(v))))
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def describe(self) -> str:
        """The command-line spelling (``lr=`` + this)."""
        if not self.is_range:
            return ",".join(label(v) for v in self.values)
        text = f"{label(self.low)}:{label(self.high)}" + (":log" if self.log else "")
        return text + (f":{self.points}" if self.points is not None else "")

    def to_json(self) -> Any:
        """A list of values, or a {low, high, log, points} mapping (what a space file holds)."""
        if not self.is_range:
            return [plain(v) for v in self.values]
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.points is not None:
            out["points"] = self.points
        return out


def _range(hyper: Hyper, low: Any, high: Any, log: bool, points: Any) -> Dimension:
    name = hyper.name
    if not hyper.numeric:
        raise SweepError(f"{name}: a range only makes sense for numbers; list the values instead "
                         f"(e.g. {name}={','.join(map(label, hyper.choices[:2])) or 'A,B'})")
    low, high = _coerce(hyper, low), _coerce(hyper, high)
    if low > high:
        raise SweepError(f"{name}: the range {label(low)}:{label(high)} is inverted; write the low end first "
                         f"({label(high)}:{label(low)})")
    if low == high:
        raise SweepError(f"{name}: the range {label(low)}:{label(high)} is empty; give two different ends "
                         f"or a single value ({name}={label(low)})")
    _check_value(hyper, low)
    _check_value(hyper, high)
    if log and low <= 0:
        raise SweepError(f"{name}: a log range needs a positive low end, got {label(low)}")
    if points is not None:
        if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= MAX_POINTS:
            raise SweepError(f"{name}: the count of points must be an integer from 1 to {MAX_POINTS}, "
                             f"got {points!r}")
    return Dimension(name, (), float(low), float(high), log, points, hyper.type is int)


def _values(hyper: Hyper, values: Iterable[Any]) -> Dimension:
    vals = tuple(dict.fromkeys(values))  # keep order, drop repeats
    if not vals:
        raise SweepError(f"{hyper.name}: no values given")
    for v in vals:
        _check_value(hyper, v)
    return Dimension(hyper.name, vals)


def parse_dimension(item: str, catalogue: Mapping[str, Hyper]) -> Dimension:
    """``NAME=SPEC`` from the command line: ``a:b[:log][:N]`` (a range), ``v1,v2,...`` or ``v``."""
    name, sep, text = item.partition("=")
    name = name.strip()
    if not sep:
        raise SweepError(f"--space: expected NAME=VALUES or NAME=LOW:HIGH[:log][:N], got {item!r}")
    hyper = _lookup(name, catalogue)
    return parse_spec_text(hyper, text)


def parse_spec_text(hyper: Hyper, text: str) -> Dimension:
    """The part after ``NAME=``."""
    text = text.strip()
    if not text:
        raise SweepError(f"{hyper.name}: no values given (write e.g. {hyper.name}=A,B or {hyper.name}=LOW:HIGH)")
    if ":" in text:
        parts = [p.strip() for p in text.split(":")]
        log, points = False, None
        for extra in parts[2:]:
            if extra.lower() == "log" and not log:
                log = True
            elif extra.isdigit() and points is None:
                points = int(extra)
            else:
                raise SweepError(f"{hyper.name}: cannot read {text!r}; a range is LOW:HIGH, LOW:HIGH:log, "
                                 f"LOW:HIGH:N or LOW:HIGH:log:N")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise SweepError(f"{hyper.name}: the range {text!r} needs both ends (LOW:HIGH)")
        return _range(hyper, parts[0], parts[1], log, points)
    return _values(hyper, (_parse_scalar(hyper, t) for t in text.split(",") if t.strip()))


def dimension_from_json(name: str, value: Any, catalogue: Mapping[str, Hyper]) -> Dimension:
    """One entry of a space file: a list, a {low, high, log, points} mapping, a CLI string or one value."""
    hyper = _lookup(name, catalogue)
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"low", "high", "log", "points"})
        if unknown or "low" not in value or "high" not in value:
            raise SweepError(f"{name}: a range is a mapping with low, high and optionally log and points; "
                             f"got {dict(value)!r}")
        log = value.get("log", False)
        if not isinstance(log, bool):
            raise SweepError(f"{name}: log must be true or false, got {log!r}")
        return _range(hyper, value["low"], value["high"], log, value.get("points"))
    if isinstance(value, list) and hyper.type not in ("int_pair", "int_list"):
        return _values(hyper, (_coerce(hyper, v) for v in value))
    if isinstance(value, list) and value and all(isinstance(v, (list, str)) for v in value):
        return _values(hyper, (_coerce(hyper, v) for v in value))  # a list of pairs
    if isinstance(value, str):
        return parse_spec_text(hyper, value)
    return _values(hyper, [_coerce(hyper, value)])


def _lookup(name: str, catalogue: Mapping[str, Hyper]) -> Hyper:
    if name not in catalogue:
        raise SweepError(f"unknown hyperparameter {name!r}; valid: {', '.join(sorted(catalogue))}")
    return catalogue[name]


# --- the space ---------------------------------------------------------------------------------

@dataclass
class SearchSpace:
    """The dimensions of a sweep, in the order given (which is also the order of table columns)."""

    dimensions: dict[str, Dimension] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.dimensions)

    def __contains__(self, name: str) -> bool:
        return name in self.dimensions

    @property
    def names(self) -> list[str]:
        return list(self.dimensions)

    def varying(self) -> list[str]:
        """Names with more than one value (the columns worth plotting)."""
        return [n for n, d in self.dimensions.items() if d.is_range or len(d.values) > 1]

    def grid(self) -> list[dict[str, Any]]:
        """Every combination, the first dimension varying slowest."""
        if not self.dimensions:
            return [{}]
        lists = [d.grid_values() for d in self.dimensions.values()]
        size = math.prod(len(v) for v in lists)
        if size > MAX_GRID:
            raise SweepError(f"grid: {' x '.join(str(len(v)) for v in lists)} = {size:,} points exceeds the "
                             f"limit of {MAX_GRID:,}; use fewer values or random/optuna search")
        return [dict(zip(self.dimensions, combo)) for combo in itertools.product(*lists)]

    def random(self, n: int, seed: int) -> list[dict[str, Any]]:
        """``n`` independent draws; the same seed gives the same list."""
        rng = np.random.default_rng([seed, 12])
        return [{name: d.sample(rng) for name, d in self.dimensions.items()} for _ in range(n)]

    def to_json(self) -> dict[str, Any]:
        return {name: d.to_json() for name, d in self.dimensions.items()}

    def describe(self) -> list[str]:
        """``NAME=SPEC`` strings that parse back to this space."""
        return [f"{n}={d.describe()}" for n, d in self.dimensions.items()]

    @classmethod
    def from_json(cls, doc: Any, task: str = "supervised") -> "SearchSpace":
        if not isinstance(doc, Mapping):
            raise SweepError(f"space: expected a mapping of hyperparameter to values or range, "
                             f"got {type(doc).__name__}")
        catalogue = hyperparameters(task)
        return cls({str(k): dimension_from_json(str(k), v, catalogue) for k, v in doc.items()})

    @classmethod
    def parse(cls, items: Sequence[str], task: str = "supervised",
              base: "SearchSpace | None" = None) -> "SearchSpace":
        """``--space`` strings (later ones override earlier ones and ``base``)."""
        catalogue = hyperparameters(task)
        dims = dict(base.dimensions) if base is not None else {}
        for item in items:
            d = parse_dimension(item, catalogue)
            dims[d.name] = d
        return cls(dims)


def load_space_file(path: str | pathlib.Path, task: str = "supervised") -> SearchSpace:
    """A YAML or JSON file mapping hyperparameter names to values or ranges (a top-level ``space:``
    key is allowed too). YAML 1.1 reads ``1e-3`` as text; it is parsed as a number here."""
    import yaml

    path = pathlib.Path(path)
    if not path.is_file():
        raise SweepError(f"--space-file: {path}: no such file")
    if path.stat().st_size > 1_000_000:
        raise SweepError(f"--space-file: {path} is over 1 MB; a space file is a short mapping")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        doc = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise SweepError(f"--space-file: {path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                         f"{str(e).splitlines()[0]}") from None
    if isinstance(doc, Mapping) and set(doc) == {"space"}:
        doc = doc["space"]
    return SearchSpace.from_json(doc, task)
