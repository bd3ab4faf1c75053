"""A session's run history: the training runs of one live trainer, kept small, to compare side by side.

A run is what one trainer did from its first step to a Reset or a change of set-up: its settings (a
flat mapping of names to values, taken when the run started) and its per-step records (losses,
metric, learning rate, time). ``RunHistory`` keeps the last ``limit`` runs; ``differences`` names
the settings in which some runs differ, so a page (or a notebook) can say what changed between
them. The learning rate may change mid-run, so each run's ``lr`` is read from its records.
Plain Python: no Streamlit, no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

KEEP = ("step", "train_loss", "test_loss", "train_metric", "test_metric", "lr", "wall_time", "nfe_forward")
"""The record fields a run keeps (whatever a record lacks is left out)."""
MAX_RUNS = 20


def _value(record: Any, name: str) -> Any:
    if isinstance(record, dict):
        return record.get(name)
    return getattr(record, name, None)


def _plain(value: Any) -> Any:
    """Floats stay floats (NaN for non-finite), numbers from numpy or torch become Python numbers."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return math.nan
    return value


@dataclass
class Run:
    """One finished (or current) run: ``number`` counts the session's runs from 1."""

    number: int
    settings: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    metric: str = "accuracy"  # what train_metric / test_metric measure ("accuracy", "r2", "nll", ...)
    current: bool = False  # still training (not in the history yet)

    @property
    def steps(self) -> int:
        return len(self.records)

    @property
    def label(self) -> str:
        return f"run {self.number}" + (" (current)" if self.current else "")

    def column(self, name: str) -> list[Any]:
        """One field over the run's steps (None where a step lacks it)."""
        return [r.get(name) for r in self.records]

    def last(self, name: str) -> Any:
        """The field's value at the last step that has it, or None."""
        for r in reversed(self.records):
            if r.get(name) is not None:
                return r[name]
        return None

    def lr_text(self) -> Any:
        """The learning rate of the run: one number, or 'a → b' when it was changed mid-run."""
        rates = [r for r in dict.fromkeys(self.column("lr")) if r is not None]
        if not rates:
            return self.settings.get("lr")
        return rates[0] if len(rates) == 1 else " → ".join(f"{r:g}" for r in rates)

    def summary(self) -> dict[str, Any]:
        """Settings as the run used them (its learning rate from its records) plus where it ended."""
        return {**self.settings, "lr": self.lr_text(), "steps": self.steps,
                "final test loss": self.last("test_loss"), f"final test {self.metric}": self.last("test_metric")}


def make_run(number: int, settings: dict[str, Any], history: Iterable[Any], current: bool = False) -> Run:
    """A ``Run`` from a trainer's history (``StepRecord`` objects or dicts), keeping ``KEEP`` fields."""
    records, metric = [], "accuracy"
    for rec in history:
        row = {}
        for name in KEEP:
            v = _value(rec, name)
            if v is None and name == "step":
                v = _value(rec, "epoch")
            if v is not None:
                row[name] = _plain(v)
        records.append(row)
        metric = _value(rec, "metric") or metric
    return Run(number, dict(settings), records, str(metric), current)


@dataclass
class RunHistory:
    """The last ``limit`` runs of one live trainer, oldest first."""

    limit: int = MAX_RUNS
    runs: list[Run] = field(default_factory=list)
    count: int = 0  # runs ever added (numbers the next one)

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError(f"limit: must be a positive integer, got {self.limit!r}")

    def add(self, settings: dict[str, Any], history: Sequence[Any]) -> Run | None:
        """Keep a run that ended (nothing for a run without a single step); the oldest beyond
        ``limit`` are dropped."""
        if not len(history):
            return None
        self.count += 1
        run = make_run(self.count, settings, history)
        self.runs.append(run)
        del self.runs[:-self.limit]
        return run

    def preview(self, settings: dict[str, Any], history: Sequence[Any]) -> Run | None:
        """The run still training, numbered as it will be kept (None before its first step)."""
        return make_run(self.count + 1, settings, history, current=True) if len(history) else None

    def clear(self) -> None:
        self.runs.clear()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def differences(runs: Sequence[Run]) -> dict[str, list[Any]]:
    """The settings (learning rate from the records included) in which the runs differ: name ->
    one value per run, in the runs' order. Names a run lacks read as None."""
    summaries = [{**r.settings, "lr": r.lr_text()} for r in runs]
    names = list(dict.fromkeys(n for s in summaries for n in s))
    out = {}
    for name in names:
        values = [s.get(name) for s in summaries]
        if any(not _same(values[0], v) for v in values[1:]):
            out[name] = values
    return out
