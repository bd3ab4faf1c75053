"""What anything trained live (Train, Generate, a sweep trial) offers its driver.

A page's play controller, a worker process or a sweep trial only need this much: ``step()`` once,
``reset()``, ``set_lr()`` between steps, the ``history`` of records, ``steps_done`` and the run as a
saved circuit's training section (``training_record()``). Both ``train.Trainer`` (one step = one
epoch) and ``generative.GenerativeTrainer`` (one step = one optimiser step) implement it, and their
records share the field names below.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from .io import TrainingRecord


@runtime_checkable
class StepRecord(Protocol):
    """One step's record: losses (``test_loss`` None when not evaluated that step), solver work, time."""

    @property
    def step(self) -> int: ...
    train_loss: float
    test_loss: float | None
    metric: str
    nfe_forward: int
    nfe_backward: int
    rejected_steps: int
    max_nfe_per_solve: int
    wall_time: float
    lr: float

    def to_dict(self) -> dict: ...


@runtime_checkable
class LiveTrainer(Protocol):
    """A trainer a UI can play, pause, step, reset and retune between steps."""

    @property
    def history(self) -> Sequence[StepRecord]: ...

    @property
    def steps_done(self) -> int: ...

    def step(self) -> StepRecord: ...

    def reset(self) -> None: ...

    def set_lr(self, lr: float) -> None: ...

    def training_record(self, **fields) -> TrainingRecord: ...
