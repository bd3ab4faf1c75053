"""Training a flow one optimiser step at a time: maximum likelihood ("generate") or reverse KL ("density")."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from ..accelerator import check_device, resolve_device
from ..densities import POTENTIALS, log_partition, potential_name, sample_target, target_name
from ..io import TrainingRecord
from ..malloc import keep_freed_memory
from ..solvers import work_budget
from .flow import CircuitFlow, standard_normal_log_prob

Tensor = torch.Tensor
TASKS = ("generate", "density")
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


@dataclass
class GenerativeConfig:
    """A generative run. ``task``: "generate" (``target`` a data set) or "density" (a potential).

    ``anneal_steps`` > 0 decays the learning rate along a cosine to ``lr * final_lr_ratio`` over that
    many steps (then holds it); 0 keeps it constant. The held-out metric (NLL of ``eval_size`` fixed
    samples, or the KL estimate on ``eval_size`` fixed noise draws) is computed every
    ``eval_every`` steps (0: only when ``evaluate()`` is called). ``start_step`` > 0 resumes a run:
    step numbers and the schedule continue from it, and the batches come from a stream of their own.
    ``device``: "auto" (CUDA when present), "cpu", "cuda" or "cuda:N"; the trainer moves the flow there.
    """

    task: str = "generate"
    target: str = "8gaussians"
    lr: float = 5e-3
    optimizer: str = "adam"
    batch_size: int = 512
    weight_decay: float = 0.0
    anneal_steps: int = 0
    final_lr_ratio: float = 0.01
    grad_clip: float = 0.0
    seed: int = 0
    eval_size: int = 2000
    eval_every: int = 50
    start_step: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        check_device(self.device)
        if self.task not in TASKS:
            raise ValueError(f"task: choose one of {list(TASKS)}, got {self.task!r}")
        self.target = target_name(self.target) if self.task == "generate" else potential_name(self.target)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: choose one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and 0 < self.lr <= 1):
            raise ValueError(f"lr: must be in (0, 1], got {self.lr!r}")
        for name, low in (("batch_size", 1), ("anneal_steps", 0), ("eval_size", 1), ("eval_every", 0), ("seed", 0),
                          ("start_step", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise ValueError(f"{name}: must be an integer >= {low}, got {v!r}")
        if self.batch_size > 1_000_000 or self.eval_size > 1_000_000:
            raise ValueError("batch_size and eval_size: at most 1,000,000")
        for name, low, high in (("weight_decay", 0, math.inf), ("final_lr_ratio", 0, 1), ("grad_clip", 0, math.inf)):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and low <= v <= high):
                raise ValueError(f"{name}: must be in [{low}, {high}], got {v!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GenerativeRecord:
    """One optimiser step: the batch loss (NLL, or KL estimate for density), the held-out metric
    when evaluated this step (else None), solver work, time and learning rate."""

    step: int
    train_loss: float
    test_loss: float | None
    metric: str  # "nll" or "kl"
    nfe_forward: int
    nfe_backward: int
    rejected_steps: int
    max_nfe_per_solve: int
    wall_time: float
    lr: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GenerativeTrainer:
    """Trains a CircuitFlow one optimiser step at a time (``step`` / ``run`` / ``reset``).

    Every step draws a fresh batch (data for "generate", Gaussian noise for "density") from
    generators seeded by ``config.seed``; the held-out set comes from a separate seeded stream, so
    two trainers with the same seed and circuit produce the same parameters.
    """

    flow: CircuitFlow
    config: GenerativeConfig = field(default_factory=GenerativeConfig)
    history: list[GenerativeRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.flow.dim != 2:
            raise ValueError(f"circuit: the 2-D targets need a flow on 2 nodes, this one has {self.flow.dim}")
        self.metric = "nll" if self.config.task == "generate" else "kl"
        keep_freed_memory()  # as Trainer: a step's memory comes back to the next one without page faults
        self.flow.to(resolve_device(self.config.device))
        dev = self.flow.device
        self._initial_state = copy.deepcopy(self.flow.state_dict())
        held_out = np.random.default_rng([self.config.seed, 1])
        if self.config.task == "generate":
            self.x_test = torch.as_tensor(sample_target(self.config.target, self.config.eval_size, held_out),
                                          dtype=self.flow.dtype, device=dev)
            self.log_z = 0.0
            self.potential = None
        else:
            gen = torch.Generator().manual_seed(int(held_out.integers(2**62)))
            self.x_test = torch.randn(self.config.eval_size, 2, generator=gen, dtype=self.flow.dtype).to(dev)
            self.log_z = log_partition(self.config.target)
            self.potential = POTENTIALS[self.config.target]
        self.reset()

    @property
    def steps_done(self) -> int:
        """Steps taken, counting the ``start_step`` of a resumed run."""
        return self.config.start_step + len(self.history)

    def reset(self) -> None:
        """Back to the initial parameters, a fresh optimiser, reseeded streams, empty history."""
        self.flow.load_state_dict(self._initial_state)
        self.history = []
        first = self.config.start_step
        self._rng = np.random.default_rng([self.config.seed, 0] + ([first] if first else []))
        self._gen = torch.Generator().manual_seed(self.config.seed + first * 1_000_003)
        self.flow._probe_gen.manual_seed(self.flow.seed)
        self._base_lr = self.config.lr
        cls = OPTIMIZERS[self.config.optimizer]
        self.optimizer = cls(self.flow.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)

    def set_lr(self, lr: float) -> None:
        """Change the (base) learning rate between steps; the schedule continues from it."""
        self.config = GenerativeConfig(**{**self.config.to_dict(), "lr": lr})
        self._base_lr = self.config.lr

    def current_lr(self) -> float:
        """The learning rate the next step uses (cosine schedule when ``anneal_steps`` > 0)."""
        n = self.config.anneal_steps
        if n <= 0:
            return self._base_lr
        low = self._base_lr * self.config.final_lr_ratio
        frac = min(self.steps_done / n, 1.0)
        return low + 0.5 * (self._base_lr - low) * (1 + math.cos(math.pi * frac))

    def _loss(self, batch: Tensor) -> Tensor:
        """Mean NLL of data (generate), or the KL estimate for noise ``batch`` (density)."""
        if self.config.task == "generate":
            return -self.flow.log_prob(batch).mean()
        x, logdet = self.flow.decode(batch)
        log_q = standard_normal_log_prob(batch) - logdet
        return (log_q + self.potential(x)).mean() + self.log_z

    def _batch(self) -> Tensor:
        n = self.config.batch_size
        if self.config.task == "generate":
            x = torch.as_tensor(sample_target(self.config.target, n, self._rng), dtype=self.flow.dtype)
        else:
            x = torch.randn(n, 2, generator=self._gen, dtype=self.flow.dtype)
        return x.to(self.flow.device)

    def evaluate(self, limit: int | None = None, chunk: int = 20_000) -> float:
        """The held-out metric now: NLL of the held-out points, or the KL estimate on held-out noise
        (on the first ``limit`` of them, if given)."""
        x_test = self.x_test if limit is None else self.x_test[: max(1, int(limit))]
        with torch.no_grad():
            total = 0.0
            for i in range(0, len(x_test), chunk):
                part = x_test[i: i + chunk]
                total += float(self._loss(part)) * len(part)
        return total / len(x_test)

    def step(self) -> GenerativeRecord:
        """One optimiser step on a fresh batch; raises SolverError if the flow blows up or the step's
        solves together pass the solver's work budget (``max_total_nfe`` / ``max_total_s``)."""
        with work_budget(self.flow.solver, f"training step {self.steps_done + 1}"):
            return self._step()

    def _step(self) -> GenerativeRecord:
        start = time.perf_counter()
        lr = self.current_lr()
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        self.flow.train()
        stats = self.flow.stats
        stats.reset()
        self.optimizer.zero_grad()
        loss = self._loss(self._batch())
        forward = stats.nfe
        loss.backward()
        if self.config.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.flow.parameters(), self.config.grad_clip)
        self.optimizer.step()
        nfe_b, rejected, max_solve = stats.nfe - forward, stats.rejected, stats.max_nfe_seen
        n = self.steps_done + 1
        every = self.config.eval_every
        test = self.evaluate() if every and n % every == 0 else None
        self.flow.eval()
        rec = GenerativeRecord(n, float(loss.detach()), test, self.metric, forward, nfe_b, rejected, max_solve,
                               time.perf_counter() - start, lr)
        self.history.append(rec)
        return rec

    def training_record(self, **fields) -> TrainingRecord:
        """The run so far as a saved circuit's ``training`` section: task, target, config, solver, steps
        done, every step's record and, as the result, the last held-out metric (``{"nll": ...}`` or
        ``{"kl": ...}``); ``fields`` add to it or override."""
        evaluated = [r for r in self.history if r.test_loss is not None]
        result = {self.metric: evaluated[-1].test_loss, "step": evaluated[-1].step} if evaluated else {}
        return TrainingRecord(**{"task": self.config.task, "target": self.config.target,
                                 "config": self.config.to_dict(), "solver": self.flow.solver.to_dict(),
                                 "steps": self.steps_done, "history": [r.to_dict() for r in self.history],
                                 "result": result, **fields})

    def run(self, steps: int, callback: Callable[[GenerativeRecord], bool | None] | None = None
            ) -> list[GenerativeRecord]:
        """Up to ``steps`` steps; stops early when ``callback(record)`` returns True."""
        out = []
        for _ in range(int(steps)):
            rec = self.step()
            out.append(rec)
            if callback is not None and callback(rec):
                break
        return out
