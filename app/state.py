"""Per-session playground state: one typed object in ``st.session_state``, shareable through the URL.

The configuration (generator and its arguments, dataset, hyperparameters, classroom mode) is a
small serialisable ``Config``; the circuit, the trainer and the run history are derived from it and
live only in this session. ``config_to_query`` / ``config_from_query`` round-trip the configuration
through ``st.query_params`` so that a copied link reproduces the set-up.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import streamlit as st

from kirchhoff_core.circuit import Circuit
from kirchhoff_core.datasets import Dataset, make_dataset
from kirchhoff_core.generators import generate
from kirchhoff_core.presets import preset_for
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.train import TrainConfig, Trainer

SESSION_KEY = "kirchhoff_playground"
HIDEABLE = ("generator", "dataset", "hyperparameters", "solver", "editor", "io")
"""Control groups a classroom link can hide (``?hide=solver,io``)."""


@dataclass
class Config:
    """Everything a share link carries."""

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

    def train_config(self) -> TrainConfig:
        return TrainConfig(lr=self.lr, optimizer=self.optimizer, batch_size=self.batch_size,
                           weight_decay=self.weight_decay, seed=self.seed)

    def solver_config(self) -> SolverConfig:
        return SolverConfig(method=self.method, rtol=self.tol, atol=self.tol, step_size=self.step_size,
                            adjoint=self.adjoint, max_nfe=20_000, timeout_s=20.0)


@dataclass
class Session:
    """One browser session's playground."""

    config: Config = field(default_factory=Config)
    circuit: Circuit | None = None
    data: Dataset | None = None
    custom_points: list[tuple[float, float, int]] = field(default_factory=list)
    trainer: Trainer | None = None
    playing: bool = False
    message: str | None = None  # last error to show, e.g. a circuit that blew up


def get_session() -> Session:
    """This browser session's state (created on first use, restored from the URL once)."""
    if SESSION_KEY not in st.session_state:
        session = Session()
        try:
            session.config = config_from_query(dict(st.query_params))
        except ValueError as e:
            session.message = f"The link's settings could not be used ({e}); starting from the defaults."
        st.session_state[SESSION_KEY] = session
    return st.session_state[SESSION_KEY]


def dataset_for(config: Config) -> Dataset:
    return make_dataset(config.dataset, n_samples=config.n_samples, noise=config.noise,
                        test_fraction=config.test_fraction, seed=config.seed)


def set_circuit(session: Session, circuit: Circuit) -> None:
    """Make ``circuit`` this session's circuit; a trainer built for the previous one is dropped."""
    session.circuit = circuit
    session.trainer = None
    session.playing = False


def ensure_circuit(session: Session) -> str | None:
    """Build the circuit from the configuration when there is none yet. Returns an error message
    when the configured generator fails (the default set-up is used instead), else None."""
    if session.circuit is not None:
        return None
    try:
        set_circuit(session, generate(session.config.generator, **session.config.generator_params))
        return None
    except (ValueError, TypeError) as e:  # CircuitError is a ValueError
        default = Config()
        session.config.generator, session.config.generator_params = default.generator, default.generator_params
        set_circuit(session, generate(default.generator, **default.generator_params))
        return f"The configured circuit could not be generated ({e}); using the default circuit."


# --- URL round trip ------------------------------------------------------------------------------

_SHORT = {"generator": "gen", "generator_params": "gp", "dataset": "ds", "n_samples": "n", "noise": "noise",
          "test_fraction": "test", "seed": "seed", "lr": "lr", "optimizer": "opt", "batch_size": "bs",
          "weight_decay": "wd", "method": "solver", "tol": "tol", "step_size": "dt", "adjoint": "adjoint",
          "hide": "hide"}


def config_to_query(config: Config) -> dict[str, str]:
    """Only the settings that differ from the defaults, as short query parameters."""
    default = asdict(Config())
    out = {}
    for key, value in asdict(config).items():
        if value == default[key]:
            continue
        if key == "generator_params":
            out[_SHORT[key]] = json.dumps(value, separators=(",", ":"))
        elif key == "hide":
            out[_SHORT[key]] = ",".join(value)
        else:
            out[_SHORT[key]] = str(value)
    return out


def config_from_query(query: dict[str, str]) -> Config:
    """Inverse of ``config_to_query``; a malformed value raises ValueError naming the parameter."""
    values: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(Config)}
    reverse = {v: k for k, v in _SHORT.items()}
    for short, text in query.items():
        key = reverse.get(short)
        if key is None:
            continue
        try:
            values[key] = _parse(key, str(text), types[key])
        except (ValueError, TypeError, json.JSONDecodeError):
            raise ValueError(f"{short}={text!r}") from None
    if "generator" in values and "generator_params" not in values:
        values["generator_params"] = {}
    config = Config(**values)
    bad = [h for h in config.hide if h not in HIDEABLE]
    if bad:
        raise ValueError(f"hide: unknown control group(s) {bad}; choose from {list(HIDEABLE)}")
    config.train_config()  # validate hyperparameters now, not at the first training step
    config.solver_config()
    return config


def _parse(key: str, text: str, annotation: str) -> Any:
    if key == "generator_params":
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError
        return value
    if key == "hide":
        return [h for h in text.split(",") if h]
    if annotation.startswith("bool"):
        if text not in ("True", "False", "true", "false", "1", "0"):
            raise ValueError
        return text in ("True", "true", "1")
    if annotation.startswith("int"):
        return int(text)
    if annotation.startswith("float"):
        return None if text == "None" else float(text)
    return text
