"""Solver settings, bounded work and health counters around the integrators.

``dopri5`` (the default) runs on our own lean Dormand-Prince (``integrators``), back-propagated
directly; every other method, and the adjoint, on torchdiffeq. This module adds what a playground
needs on top: options checked up front with errors that name the argument, a cap on function
evaluations and wall time so one bad setting cannot freeze the app, a non-finite check that names
the exploding node, and counters (NFE, accepted and rejected steps) for the solver-health panel.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch

ADAPTIVE = ("dopri5", "bosh3", "adaptive_heun", "dopri8")
GRADS = ("auto", "direct", "checkpoint", "adjoint")
FIXED = ("rk4", "euler", "midpoint")
METHODS = ADAPTIVE + FIXED


class SolverError(RuntimeError):
    """The transient could not be computed; the message names the cause and a remedy."""


@dataclass
class SolverConfig:
    """How to integrate each slice.

    ``step_size`` is used by fixed-step methods (default: duration / 20). ``max_nfe`` bounds the right
    -hand-side evaluations of one solve (forward, and separately the adjoint's backward solve) and
    ``timeout_s`` its wall time; hitting either raises SolverError.

    ``grad`` is how gradients are taken (dopri5): "direct" back-propagates through the solver's
    steps keeping every stage's activations (fastest, memory grows with batch x devices x
    evaluations); "checkpoint" keeps only the accepted states and recomputes each step's stages in
    the backward pass (about a third more work, memory of one step); "auto" (default) is direct
    until the kept activations of one forward pass reach ``grad_memory_gb``, checkpointed after;
    "adjoint" (or ``adjoint=True``) solves the adjoint ODE backwards with torchdiffeq (least
    memory, most work, gradients only as accurate as that second solve).
    """

    method: str = "dopri5"
    rtol: float = 1e-4
    atol: float = 1e-4
    step_size: float | None = None
    adjoint: bool = False
    max_nfe: int = 20_000
    timeout_s: float | None = 60.0
    grad: str = "auto"
    grad_memory_gb: float = 1.0

    def __post_init__(self) -> None:
        if self.adjoint:  # the older switch; ``grad`` is the one that counts from here on
            if self.grad == "checkpoint":
                raise ValueError("adjoint: adjoint=True conflicts with grad='checkpoint'; choose one")
            self.grad = "adjoint"
        self.adjoint = self.grad == "adjoint"
        self.validate()

    def validate(self) -> "SolverConfig":
        if self.method not in METHODS:
            raise ValueError(f"method: unknown solver {self.method!r}; choose one of {list(METHODS)}")
        for name in ("rtol", "atol"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v < 1):
                raise ValueError(f"{name}: must be in (0, 1), got {v!r}")
        if self.step_size is not None and not (math.isfinite(self.step_size) and self.step_size > 0):
            raise ValueError(f"step_size: must be a positive time, got {self.step_size!r}")
        if not (isinstance(self.max_nfe, int) and self.max_nfe >= 10):
            raise ValueError(f"max_nfe: must be an integer >= 10, got {self.max_nfe!r}")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ValueError(f"timeout_s: must be positive or None, got {self.timeout_s!r}")
        if self.grad not in GRADS:
            raise ValueError(f"grad: choose one of {list(GRADS)}, got {self.grad!r}")
        if self.grad == "checkpoint" and self.method != "dopri5":
            raise ValueError(f"grad: 'checkpoint' needs method 'dopri5', got {self.method!r}")
        if not (isinstance(self.grad_memory_gb, (int, float)) and math.isfinite(self.grad_memory_gb)
                and self.grad_memory_gb >= 0):
            raise ValueError(f"grad_memory_gb: must be a non-negative number, got {self.grad_memory_gb!r}")
        return self

    @property
    def adaptive(self) -> bool:
        return self.method in ADAPTIVE

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SolverStats:
    """Counters since the last reset: function evaluations and adaptive steps."""

    nfe: int = 0
    accepted: int = 0
    rejected: int = 0
    max_nfe_seen: int = 0  # largest single-solve NFE, to warn when the cap is near

    def reset(self) -> None:
        self.nfe = self.accepted = self.rejected = self.max_nfe_seen = 0


class WorkGuard:
    """Counts evaluations of one solve and stops it when it runs away."""

    def __init__(self, config: SolverConfig, stats: SolverStats, where: str):
        self.config, self.stats, self.where = config, stats, where
        self.count = 0
        self.start = time.perf_counter()

    def tick(self, t: torch.Tensor) -> None:
        self.count += 1
        self.stats.nfe += 1
        self.stats.max_nfe_seen = max(self.stats.max_nfe_seen, self.count)
        if self.count > self.config.max_nfe:
            raise SolverError(
                f"solver work cap hit in {self.where}: more than max_nfe={self.config.max_nfe} evaluations "
                f"(reached t={float(t):.4g}). The circuit is stiff or blowing up — lower the read-out time, "
                "the learning rate or the device gains, loosen the tolerance, or use a fixed-step solver.")
        if self.config.timeout_s is not None and time.perf_counter() - self.start > self.config.timeout_s:
            raise SolverError(f"solver time-out in {self.where}: took longer than {self.config.timeout_s:g} s "
                              f"(reached t={float(t):.4g}, {self.count} evaluations).")


class GuardedDynamics:
    """Mixin for a right-hand side module: holds the WorkGuard of the solve in progress (None
    between solves) and feeds torchdiffeq's adaptive-step callbacks into its health counters."""

    guard: WorkGuard | None = None

    def callback_accept_step(self, t0, y0, dt) -> None:
        if self.guard is not None:
            self.guard.stats.accepted += 1

    def callback_reject_step(self, t0, y0, dt) -> None:
        if self.guard is not None:
            self.guard.stats.rejected += 1


def check_finite(v: torch.Tensor, where: str, t: float) -> None:
    """Raise SolverError naming the first node whose voltage is NaN or infinite."""
    bad = ~torch.isfinite(v)
    if bad.any():
        node = int(bad.nonzero()[0, -1]) + 1
        raise SolverError(f"the circuit blew up in {where}: node {node} reached a non-finite voltage"
                          f" by t={t:.4g}. Lower the device gains, the learning "
                          "rate or the read-out time, or tighten the solver tolerance.")
