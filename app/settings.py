"""What a share link carries, page by page: typed settings and their round trip through the URL.

``Config`` is the session-wide set-up (circuit generator or loaded example, dataset, training and
solver hyperparameters, the classroom ``hide`` list) that Build, Train, Trajectories, Chip, SPICE
and Learn share. The Generate, Chip, Trajectories, SPICE and Learn pages each add their own settings
under a prefix of their own (``g.``, ``chip.``, ``traj.``, ``spice.``, ``learn.``), so any link can
be read whole whichever page it opens; the Sweep page names the sweep it shows (``sweep=NAME``). A
link holds only the settings that differ from the defaults; a malformed value raises ``ValueError``
naming the parameter. Plain Python: no Streamlit here.
"""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass, field, fields, make_dataclass, replace
from functools import lru_cache
from typing import Any

from kirchhoff_core.chip import ChipConfig
from kirchhoff_core.circuit import Circuit
from kirchhoff_core.densities import POTENTIALS, TARGETS
from kirchhoff_core.generative import TASKS, GenerativeConfig, flow_preset
from kirchhoff_core.io import TrainingRecord, load_trained
from kirchhoff_core.presets import preset_for
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.train import TrainConfig
from sweep_settings import check_name

EXAMPLES_DIR = pathlib.Path(__file__).resolve().parents[1] / "assets" / "examples"

HIDE_GROUPS = {  # page -> the control groups a classroom link can hide there (``?hide=solver,io``)
    "build": ("generator", "editor", "io"),
    "train": ("dataset", "hyperparameters", "solver", "io"),
    "generate": ("target", "circuit", "hyperparameters", "solver", "io"),
    "chip": ("mapping", "nonidealities", "montecarlo", "io"),
}
HIDEABLE = ("generator", "dataset", "hyperparameters", "solver", "editor", "io", "target", "circuit", "mapping",
            "nonidealities", "montecarlo")


def examples() -> dict[str, pathlib.Path]:
    """The circuits shipped in assets/examples, by file stem."""
    return {p.stem: p for p in sorted(EXAMPLES_DIR.glob("*.json"))}


TRAINED_SUFFIX = "_trained"  # assets/examples/<dataset>_trained.json: a trained example per dataset


def resolve_example(name: str) -> str:
    """The file stem a link's ``example=`` names: a stem (``moons_trained``, ``ring``) or a dataset with
    a trained example (``spirals`` -> ``spirals_trained``). Raises ValueError listing the choices."""
    shipped = examples()
    for stem in (name, f"{name}{TRAINED_SUFFIX}"):
        if stem in shipped:
            return stem
    raise ValueError(f"example: no example circuit {name!r}; choose a dataset with a trained example "
                     f"({', '.join(trained_examples())}) or one of {list(shipped)}")


@lru_cache(maxsize=64)
def _record(path: pathlib.Path, mtime_ns: int) -> TrainingRecord | None:
    try:
        return load_trained(path)[1]
    except (OSError, ValueError):  # CircuitFileError is a ValueError: a broken file is no trained example
        return None


def example_record(stem: str) -> TrainingRecord | None:
    """The ``training`` section of a shipped example (None: not trained, or not an example)."""
    path = examples().get(stem)
    return None if path is None else _record(path, path.stat().st_mtime_ns)


def trained_examples() -> dict[str, str]:
    """Dataset name -> file stem of the shipped trained examples (a supervised training record)."""
    out = {}
    for stem in examples():
        record = example_record(stem) if stem.endswith(TRAINED_SUFFIX) else None
        if record is not None and record.task == "supervised" and isinstance(record.dataset, dict):
            out.setdefault(str(record.dataset.get("name")), stem)
    return out


def example_settings(stem: str) -> dict[str, Any]:
    """The ``Config`` fields a trained example was trained with: its dataset (so the test set is the
    one it was measured on) and its trainer's hyperparameters. Empty for an untrained example."""
    record = example_record(stem)
    if record is None or not isinstance(record.dataset, dict):
        return {}
    data, train = record.dataset, record.config or {}
    out = {"dataset": data.get("name"), "n_samples": data.get("n_samples"), "noise": data.get("noise"),
           "test_fraction": data.get("test_fraction"), "seed": data.get("seed"), "lr": train.get("lr"),
           "optimizer": train.get("optimizer"), "batch_size": train.get("batch_size"),
           "weight_decay": train.get("weight_decay")}
    return {k: v for k, v in out.items() if v is not None or k == "noise"}  # noise None: the set's own


# --- the URL codec --------------------------------------------------------------------------------

def _text(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _parse(text: str, annotation: str) -> Any:
    """A query value by the field's annotation (``from __future__`` keeps annotations as text)."""
    if annotation.startswith("dict"):
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError
        return value
    if annotation.startswith("list[str]"):
        return [h for h in text.split(",") if h]
    if "None" in annotation and text == "None":
        return None
    if annotation.startswith("tuple[int"):
        return tuple(int(t) for t in text.split(","))
    if annotation.startswith("tuple[float"):
        return tuple(float(t) for t in text.split(","))
    if annotation.startswith("bool"):
        if text not in ("True", "False", "true", "false", "1", "0"):
            raise ValueError
        return text in ("True", "true", "1")
    if annotation.startswith("int"):
        return int(text)
    if annotation.startswith("float"):
        return float(text)
    return text


@dataclass(frozen=True)
class Codec:
    """Fields of a settings dataclass <-> query parameters (``keys``: field name -> parameter name)."""

    keys: dict[str, str]

    def write(self, obj: Any, base: Any) -> dict[str, str]:
        """The fields that differ from ``base``, as text."""
        return {q: _text(getattr(obj, f)) for f, q in self.keys.items() if getattr(obj, f) != getattr(base, f)}

    def read(self, cls: type, query: dict[str, str]) -> dict[str, Any]:
        """The fields present in ``query``, parsed; unknown parameters are ignored."""
        types = {f.name: f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
                 for f in fields(cls)}
        out = {}
        for name, key in self.keys.items():
            if key in query:
                text = str(query[key])
                try:
                    out[name] = _parse(text, types[name])
                except (ValueError, TypeError):  # json.JSONDecodeError is a ValueError
                    raise ValueError(f"{key}={text!r}") from None
        return out


def _checked(settings: Any, key: str) -> Any:
    """``settings`` after its own ``check()``; a refusal names the link's parameter group."""
    try:
        settings.check()
    except (ValueError, TypeError) as e:
        raise ValueError(f"{key}: {e}") from None
    return settings


# --- the session-wide set-up (Build, Train and the pages that use their circuit) --------------------

@dataclass
class Config:
    """Circuit, dataset, training and solver set-up, and the classroom ``hide`` list."""

    generator: str = "fully_connected"
    generator_params: dict[str, Any] = field(default_factory=lambda: dict(preset_for("moons").params))
    dataset: str = "moons"
    n_samples: int = 500
    noise: float | None = None
    test_fraction: float = 0.2
    seed: int = 0
    lr: float = field(default_factory=lambda: preset_for("moons").train.lr)
    optimizer: str = "adam"
    batch_size: int = 32
    weight_decay: float = 0.0
    method: str = "dopri5"
    tol: float = 1e-3
    step_size: float | None = None
    adjoint: bool = False
    hide: list[str] = field(default_factory=list)
    example: str | None = None  # a circuit from assets/examples instead of the generator's

    def train_config(self) -> TrainConfig:
        return TrainConfig(lr=self.lr, optimizer=self.optimizer, batch_size=self.batch_size,
                           weight_decay=self.weight_decay, seed=self.seed)

    def solver_config(self) -> SolverConfig:
        return SolverConfig(method=self.method, rtol=self.tol, atol=self.tol, step_size=self.step_size,
                            adjoint=self.adjoint, max_nfe=20_000, timeout_s=20.0)

    def check(self) -> None:
        bad = [h for h in self.hide if h not in HIDEABLE]
        if bad:
            raise ValueError(f"hide: unknown control group(s) {bad}; choose from {list(HIDEABLE)}")
        if self.example is not None:
            resolve_example(self.example)
        self.train_config()  # validate hyperparameters now, not at the first training step
        self.solver_config()


_CONFIG = Codec({"generator": "gen", "generator_params": "gp", "dataset": "ds", "n_samples": "n", "noise": "noise",
                 "test_fraction": "test", "seed": "seed", "lr": "lr", "optimizer": "opt", "batch_size": "bs",
                 "weight_decay": "wd", "method": "solver", "tol": "tol", "step_size": "dt", "adjoint": "adjoint",
                 "hide": "hide", "example": "example"})


def config_to_query(config: Config) -> dict[str, str]:
    """Only the settings that differ from the defaults, as short query parameters."""
    return _CONFIG.write(config, Config())


def config_from_query(query: dict[str, str]) -> Config:
    """Inverse of ``config_to_query``; a malformed value raises ValueError naming the parameter."""
    values = _CONFIG.read(Config, query)
    if "generator" in values and "generator_params" not in values:
        values["generator_params"] = {}
    if values.get("example") is not None:  # a trained example brings its data and hyperparameters,
        values["example"] = resolve_example(values["example"])  # unless the link sets them itself
        values = {**example_settings(values["example"]), **values}
    config = Config(**values)
    config.check()
    return config


# --- Generate ---------------------------------------------------------------------------------------

EVAL_SIZE = 1000  # held-out points (or noise draws) for the held-out metric
EVAL_EVERY = 10


@dataclass(frozen=True)
class GenerateSettings:
    """The Generate page: task and target, the flow circuit, the run's hyperparameters, and whether
    it starts from the pretrained circuit shipped for the target."""

    task: str = "generate"
    target: str = "moons"
    potential: str = "U1"
    repeats: tuple[int, int] = (25, 25)
    num_slices: int = 2
    duration: float = 0.5
    kind: str = "ShiftTanh2"
    lr: float = 5e-3
    batch_size: int = 256
    tol: float = 1e-3
    seed: int = 0
    pretrained: bool = False

    @property
    def name(self) -> str:
        """The target of the current task (a data set or a potential)."""
        return self.target if self.task == "generate" else self.potential

    def with_preset(self) -> "GenerateSettings":
        """The paper's circuit for the current target (devices per pair, slices, duration, kind) and the
        core preset's learning rate for it; a fresh circuit, not the pretrained one."""
        p = flow_preset(self.name)
        return replace(self, repeats=tuple(p.repeats), num_slices=p.num_slices, duration=p.duration, kind=p.kind,
                       lr=p.lr, pretrained=False)

    def circuit(self) -> Circuit:
        return flow_preset(self.name).circuit(seed=self.seed, repeats=list(self.repeats), num_slices=self.num_slices,
                                              duration=self.duration, kind=self.kind)

    def solver(self) -> SolverConfig:
        # Tight work caps: an untrained or exploding flow stops with a message instead of hanging a tick.
        return SolverConfig(method="dopri5", rtol=self.tol, atol=self.tol, max_nfe=5_000, timeout_s=15.0)

    def train_config(self) -> GenerativeConfig:
        return GenerativeConfig(task=self.task, target=self.name, lr=self.lr, batch_size=self.batch_size,
                                seed=self.seed, eval_size=EVAL_SIZE, eval_every=EVAL_EVERY)

    def check(self) -> None:
        if self.task not in TASKS or self.target not in TARGETS or self.potential not in POTENTIALS:
            raise ValueError(f"task {self.task!r}, target {self.target!r} or potential {self.potential!r} unknown; "
                             f"targets: {list(TARGETS)}, potentials: {list(POTENTIALS)}")
        self.circuit()
        self.solver()
        self.train_config()


_GEN_TARGET = Codec({"task": "g.task", "target": "g.target", "potential": "g.potential"})
_GEN_RUN = Codec({"repeats": "g.repeats", "num_slices": "g.slices", "duration": "g.duration", "kind": "g.kind",
                  "lr": "g.lr", "batch_size": "g.bs", "tol": "g.tol", "seed": "g.seed", "pretrained": "g.pretrained"})


def _generate_base(task: str, target: str, potential: str) -> GenerateSettings:
    return replace(GenerateSettings(), task=task, target=target, potential=potential).with_preset()


def generate_to_query(s: GenerateSettings) -> dict[str, str]:
    """The target (against the default) and the rest against the paper's set-up for that target."""
    return {**_GEN_TARGET.write(s, GenerateSettings()), **_GEN_RUN.write(s, _generate_base(s.task, s.target, s.potential))}


def generate_from_query(query: dict[str, str]) -> GenerateSettings:
    target = {**GenerateSettings().__dict__, **_GEN_TARGET.read(GenerateSettings, query)}
    try:
        base = _generate_base(target["task"], target["target"], target["potential"])
    except ValueError as e:
        raise ValueError(f"g.task / g.target / g.potential: {e}") from None
    return _checked(replace(base, **_GEN_RUN.read(GenerateSettings, query)), "g.*")


# --- Chip -------------------------------------------------------------------------------------------------

def _chip_config(self, sde_steps: int = 500) -> ChipConfig:
    """The core's chip configuration (raises ValueError naming a setting it refuses)."""
    core = {f.name: getattr(self, f.name) for f in fields(ChipConfig) if f.name not in ("supply", "sde_steps")}
    return ChipConfig(**core, supply=self.supply if self.rails else None, sde_steps=sde_steps)


def _check_chip(self) -> None:
    self.chip_config()
    if not (1 <= self.chips <= 200 and self.chip_seed >= 0 and self.sample >= 0):
        raise ValueError(f"chips must be in 1..200 and chip seed and sample >= 0, got {self.chips}, "
                         f"{self.chip_seed}, {self.sample}")


ChipSettings = make_dataclass(
    "ChipSettings",
    # The core's ChipConfig fields, by the core's names and units (as the CLI's --sweep spells them), so
    # a new non-ideality reaches the page and its link without a second list; ``supply`` is the rail
    # voltage that ``rails`` switches on, and the page adds the chip instance, test sample and K.
    [(f.name, f.type, field(default=f.default)) for f in fields(ChipConfig) if f.name not in ("supply", "sde_steps")]
    + [("rails", "bool", field(default=False)), ("supply", "float", field(default=1.0)),
       ("chip_seed", "int", field(default=0)), ("sample", "int", field(default=0)), ("chips", "int", field(default=20))],
    namespace={"chip_config": _chip_config, "check": _check_chip,
               "__doc__": "The Chip page's settings: the core's ChipConfig fields (unvalidated, so a refused value "
                          "can be shown with its message) plus the rails switch, chip instance, test sample and K."})


_CHIP = Codec({f.name: "chip." + f.name for f in fields(ChipSettings)})


# --- Trajectories, SPICE, Learn ----------------------------------------------------------------------------

@dataclass
class TrajectoryInput:
    """The input the Trajectories page follows: a test-set index, or typed voltages (index None)."""

    index: int | None = 0
    x: tuple[float, ...] | None = None

    def check(self) -> None:
        if self.index is not None and self.index < 0:
            raise ValueError(f"index: must be >= 0, got {self.index}")


_TRAJ = Codec({"index": "traj.i", "x": "traj.x"})


@dataclass
class SpiceSettings:
    """The SPICE page's input (a test sample, or typed voltages) and how many samples to check."""

    typed: bool = False
    sample: int = 0
    voltages: str = ""  # empty: 0.5 V on every input
    checks: int = 20

    def check(self) -> None:
        if self.sample < 0 or not 5 <= self.checks <= 200:
            raise ValueError(f"sample must be >= 0 and checks in 5..200, got {self.sample}, {self.checks}")


_SPICE = Codec({"typed": "spice.typed", "sample": "spice.i", "voltages": "spice.v", "checks": "spice.n"})


@dataclass
class LearnSettings:
    """The node (and slice) whose current law the Learn page writes out, and the input and time whose
    voltages it plugs in: a test sample, or typed voltages (``typed``; "" = 0.5 V on every input), at
    ``t`` (None: the start of the slice)."""

    node: int = 1
    slice: int = 0
    typed: bool = False
    sample: int = 0
    voltages: str = ""
    t: float | None = None

    def check(self) -> None:
        if self.node < 1 or self.slice < 0 or self.sample < 0:
            raise ValueError(f"node must be >= 1 and slice and sample >= 0, got {self.node}, {self.slice}, "
                             f"{self.sample}")


_LEARN = Codec({"node": "learn.node", "slice": "learn.slice", "typed": "learn.typed", "sample": "learn.i",
                "voltages": "learn.v", "t": "learn.t"})


@dataclass
class SweepLink:
    """The sweep folder the Sweep page shows (a name under the sweeps root; empty: none)."""

    name: str = ""

    def check(self) -> None:
        if self.name:
            check_name(self.name)


_SWEEP = Codec({"name": "sweep"})


OWN = {"chip": (ChipSettings, _CHIP), "trajectories": (TrajectoryInput, _TRAJ), "spice": (SpiceSettings, _SPICE),
       "learn": (LearnSettings, _LEARN), "sweep": (SweepLink, _SWEEP)}
"""Pages with settings of their own besides Generate (whose link leaves the shared set-up out)."""


def page_to_query(page: str, config: Config, own: Any = None) -> dict[str, str]:
    """A page's share link: the session-wide set-up plus the page's own settings. Generate keeps only
    ``hide`` of the set-up: it trains a circuit of its own."""
    shared = config_to_query(config)
    if page == "generate":
        return {**{k: v for k, v in shared.items() if k == "hide"}, **generate_to_query(own)}
    if page in OWN:
        cls, codec = OWN[page]
        shared.update(codec.write(own, cls()))
    return shared


def own_from_query(page: str, query: dict[str, str]) -> Any:
    """A page's own settings from a link (raises ValueError naming the parameter)."""
    if page == "generate":
        return generate_from_query(query)
    cls, codec = OWN[page]
    return _checked(cls(**codec.read(cls, query)), f"{page} settings")
