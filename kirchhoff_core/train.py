"""Losses, metrics and a Trainer the app can drive one epoch at a time.

The Trainer never loops on its own: ``step()`` runs one epoch and returns its record, so a UI can
play (call step on a timer), pause (stop calling), step once, change the learning rate between
epochs without losing anything, or ``reset()`` to the initial circuit.
"""

from __future__ import annotations

import copy
import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from .accelerator import check_device, resolve_device
from .backprop import one_thread_if_small
from .circuit import Circuit
from .datasets import Dataset
from .io import TrainingRecord
from .malloc import keep_freed_memory
from .model import KirchhoffNet
from .solvers import work_budget

EVAL_CHUNK = 1024  # samples per no-grad forward pass when evaluating
TRAIN_METRIC_SAMPLES = 10_000  # the per-epoch train metrics use at most this many training samples

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop,
}


@dataclass
class TrainConfig:
    """Hyperparameters of a run; ``batch_size=0`` means full batch. ``device``: "auto" (CUDA when
    present), "cpu", "cuda" or "cuda:N"; the Trainer moves the model and the data there."""

    lr: float = 0.05
    optimizer: str = "adam"
    batch_size: int = 128
    weight_decay: float = 0.0
    seed: int = 0
    mismatch: float = 0.0  # noise-aware training: relative sigma of device parameters, redrawn per batch
    device: str = "auto"

    def __post_init__(self) -> None:
        check_device(self.device)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: choose one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and 0 < self.lr <= 10):
            raise ValueError(f"lr: must be in (0, 10], got {self.lr!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 0):
            raise ValueError(f"batch_size: must be a non-negative integer (0 = full batch), got {self.batch_size!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay: must be >= 0, got {self.weight_decay!r}")
        if not (math.isfinite(self.mismatch) and 0 <= self.mismatch < 1):
            raise ValueError(f"mismatch: must be in [0, 1), got {self.mismatch!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EpochRecord:
    """What one epoch did: losses, metric (accuracy or R^2), solver work and time."""

    epoch: int
    train_loss: float
    test_loss: float
    train_metric: float
    test_metric: float
    metric: str
    nfe_forward: int
    nfe_backward: int
    rejected_steps: int
    max_nfe_per_solve: int
    wall_time: float
    lr: float

    @property
    def step(self) -> int:
        """The live-training protocol's name for the epoch (one Trainer step is one epoch)."""
        return self.epoch

    def to_dict(self) -> dict:
        return asdict(self)


def task_loss(task: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on read-out voltages as logits, or MSE for regression."""
    if task == "classification":
        return F.cross_entropy(out, y)
    return F.mse_loss(out, y.reshape(out.shape))


def task_metric(task: str, out: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy (classification) or R^2 (regression)."""
    if task == "classification":
        return float((out.argmax(-1) == y).double().mean())
    y = y.reshape(out.shape)
    ss_res = float(((out - y) ** 2).sum())
    ss_tot = float(((y - y.mean(0)) ** 2).sum())
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def check_compatible(model: KirchhoffNet | Circuit, data: Dataset) -> None:
    """The circuit's input and read-out nodes must match the dataset: one read-out per class (fewer
    would make some classes unreachable, e.g. the argmax of one read-out is always class 0) or per
    regression target."""
    if len(model.inputs) != data.n_features:
        raise ValueError(f"inputs: the dataset {data.name!r} has {data.n_features} feature(s) but the circuit "
                         f"has {len(model.inputs)} input node(s) {model.inputs}")
    if len(model.outputs) != data.n_outputs:
        what = "classes" if data.task == "classification" else "targets"
        raise ValueError(f"outputs: the dataset {data.name!r} has {data.n_outputs} {what} but the circuit "
                         f"has {len(model.outputs)} read-out node(s) {model.outputs}")


@dataclass
class Trainer:
    """Trains a KirchhoffNet on a Dataset; one ``step()`` is one epoch. The model is moved to
    ``config.device`` (``self.device``), the data with it."""

    model: KirchhoffNet
    data: Dataset
    config: TrainConfig = field(default_factory=TrainConfig)
    history: list[EpochRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_compatible(self.model, self.data)
        keep_freed_memory()  # a step's activations come back to the next step without page faults
        self.task = self.data.task
        self.device = resolve_device(self.config.device)
        self.model.to(self.device)
        self._initial_state = copy.deepcopy(self.model.state_dict())
        x_tr, y_tr, x_te, y_te = (t.to(self.device) for t in self.data.tensors(self.model.dtype))
        self.x_train, self.y_train, self.x_test, self.y_test = x_tr, y_tr, x_te, y_te
        # The train metrics of a big set (MNIST) use a fixed seeded subset; a small set is used whole.
        n, gen = len(x_tr), torch.Generator().manual_seed(self.config.seed)
        self._probe = None if n <= TRAIN_METRIC_SAMPLES else \
            torch.randperm(n, generator=gen)[:TRAIN_METRIC_SAMPLES].to(self.device)
        self.reset()

    @property
    def epoch(self) -> int:
        return len(self.history)

    @property
    def steps_done(self) -> int:
        """Epochs trained (the live-training protocol's name, shared with ``GenerativeTrainer``)."""
        return self.epoch

    def reset(self) -> None:
        """Back to the initial parameters, a fresh optimiser and an empty history."""
        self.model.load_state_dict(self._initial_state)
        self.history = []
        self._gen = torch.Generator().manual_seed(self.config.seed)
        self._make_optimizer()

    def _make_optimizer(self) -> None:
        cls = OPTIMIZERS[self.config.optimizer]
        # Adam's fused kernel: one operation per parameter tensor instead of a dozen (a few percent of
        # a playground step); same update rule.
        fused = {"fused": True} if self.config.optimizer in ("adam", "adamw") else {}
        self.optimizer = cls(self.model.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay, **fused)

    def set_lr(self, lr: float) -> None:
        """Change the learning rate between epochs without resetting anything."""
        self.config = TrainConfig(**{**self.config.to_dict(), "lr": lr})
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """(loss, metric) without gradients, in chunks so a big set (MNIST) never needs one
        batch x devices tensor for all of it at once."""
        chunk = max(self.config.batch_size, EVAL_CHUNK)
        with torch.no_grad():
            out = torch.cat([self.model(x[i: i + chunk]) for i in range(0, len(x), chunk)])
            return float(task_loss(self.task, out, y)), task_metric(self.task, out, y)

    @contextmanager
    def _mismatched(self) -> Iterator[None]:
        """Noise-aware training: gradients taken on a chip instance with parameters p (1 + sigma eps),
        applied to the nominal parameters (so the circuit learns to tolerate mismatch)."""
        sigma = self.config.mismatch
        if sigma == 0:
            yield
            return
        params = list(self.model.parameters())
        nominal = [p.detach().clone() for p in params]
        with torch.no_grad():
            for p in params:
                p.mul_(1 + sigma * torch.randn(p.shape, generator=self._gen, dtype=p.dtype).to(p.device))
        try:
            yield
        finally:
            with torch.no_grad():
                for p, n in zip(params, nominal):
                    p.copy_(n)

    def step(self) -> EpochRecord:
        """One epoch of minibatch training; raises SolverError if the circuit blows up or the epoch's
        solves together pass the solver's work budget (``max_total_nfe`` / ``max_total_s``). A small
        model trains on one CPU thread (``backprop.one_thread_if_small``)."""
        devices = max((s.num_devices for s in self.model.circuit.slices), default=0)
        work = (self.config.batch_size or len(self.x_train)) * devices
        with work_budget(self.model.solver, f"training epoch {self.epoch + 1}"), one_thread_if_small(work, self.device):
            return self._epoch()

    def _epoch(self) -> EpochRecord:
        start = time.perf_counter()
        self.model.train()
        n = len(self.x_train)
        bs = self.config.batch_size or n
        perm = torch.randperm(n, generator=self._gen).to(self.device)
        nfe_f = nfe_b = rejected = max_solve = 0
        for i in range(0, n, bs):
            idx = perm[i: i + bs]
            self.model.stats.reset()
            self.optimizer.zero_grad()
            with self._mismatched():
                loss = task_loss(self.task, self.model(self.x_train[idx]), self.y_train[idx])
                forward = self.model.stats.nfe
                loss.backward()
            self.optimizer.step()
            nfe_f += forward
            nfe_b += self.model.stats.nfe - forward
            rejected += self.model.stats.rejected
            max_solve = max(max_solve, self.model.stats.max_nfe_seen)
        self.model.eval()
        if self._probe is None:
            train_loss, train_metric = self.evaluate(self.x_train, self.y_train)
        else:
            train_loss, train_metric = self.evaluate(self.x_train[self._probe], self.y_train[self._probe])
        test_loss, test_metric = self.evaluate(self.x_test, self.y_test)
        rec = EpochRecord(self.epoch + 1, train_loss, test_loss, train_metric, test_metric,
                          "accuracy" if self.task == "classification" else "r2", nfe_f, nfe_b, rejected,
                          max_solve, time.perf_counter() - start, self.config.lr)
        self.history.append(rec)
        return rec

    def training_record(self, **fields) -> TrainingRecord:
        """The run so far as a saved circuit's ``training`` section; ``fields`` add to it or override
        (e.g. ``dataset={"name": "moons", ...}``, which the trainer does not know)."""
        last = self.history[-1].to_dict() if self.history else {}
        result = {k: last[k] for k in ("train_loss", "test_loss", "train_metric", "test_metric", "metric") if k in last}
        return TrainingRecord(**{"task": "supervised", "config": self.config.to_dict(),
                                 "solver": self.model.solver.to_dict(), "steps": self.steps_done,
                                 "history": [r.to_dict() for r in self.history], "result": result, **fields})

    def run(self, epochs: int, callback: Callable[[EpochRecord], bool | None] | None = None) -> list[EpochRecord]:
        """Run up to ``epochs`` epochs; stop early when ``callback(record)`` returns True."""
        out = []
        for _ in range(epochs):
            rec = self.step()
            out.append(rec)
            if callback is not None and callback(rec):
                break
        return out
