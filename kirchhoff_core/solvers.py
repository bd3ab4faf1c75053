"""Solver settings, bounded work and health counters around the integrators.

``dopri5`` (the default) runs on our own lean Dormand-Prince (``integrators``), back-propagated
directly; every other method, and the adjoint, on torchdiffeq. This module adds what a playground
needs on top: options checked up front with errors that name the argument, a cap on function
evaluations and wall time so one bad setting cannot freeze the app, a non-finite check that names
the exploding node, and counters (NFE, accepted and rejected steps) for the solver-health panel.

Work is bounded twice: per solve (``max_nfe``, ``timeout_s``) and across every solve of one command
or page action (``max_total_nfe``, ``max_total_s``, through ``work_budget``), so neither one slow
slice nor a thousand fast ones can run on without end.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Callable, Iterator

import torch

ADAPTIVE = ("dopri5", "bosh3", "adaptive_heun", "dopri8")
GRADS = ("auto", "direct", "checkpoint", "adjoint")
FIXED = ("rk4", "euler", "midpoint")
METHODS = ADAPTIVE + FIXED
FIXED_STAGES = {"euler": 1, "midpoint": 2, "rk4": 4}  # right-hand-side evaluations per fixed step


class SolverError(RuntimeError):
    """The transient could not be computed; the message names the cause and a remedy."""


@dataclass
class SolverConfig:
    """How to integrate each slice.

    ``step_size`` is used by fixed-step methods (default: duration / 20). ``max_nfe`` bounds the right
    -hand-side evaluations of one solve (forward, and separately the adjoint's backward solve) and
    ``timeout_s`` its wall time; ``max_total_nfe`` and ``max_total_s`` bound all the solves of one
    command, training step or page action together (see ``work_budget``). Hitting any raises
    SolverError naming the limit.

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
    max_total_nfe: int = 1_000_000
    max_total_s: float | None = 300.0
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
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v < 1):
                raise ValueError(f"{name}: must be in (0, 1), got {v!r}")
        if self.step_size is not None and not _positive(self.step_size):
            raise ValueError(f"step_size: must be a positive time, got {self.step_size!r}")
        for name in ("max_nfe", "max_total_nfe"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, int) and 10 <= v <= 2 ** 62):
                raise ValueError(f"{name}: must be an integer >= 10, got {v!r}")
        for name in ("timeout_s", "max_total_s"):
            v = getattr(self, name)
            if v is not None and not _positive(v):
                raise ValueError(f"{name}: must be positive (finite seconds) or None, got {v!r}")
        if self.grad not in GRADS:
            raise ValueError(f"grad: choose one of {list(GRADS)}, got {self.grad!r}")
        if self.grad == "checkpoint" and self.method != "dopri5":
            raise ValueError(f"grad: 'checkpoint' needs method 'dopri5', got {self.method!r}")
        if isinstance(self.grad_memory_gb, bool) or not (isinstance(self.grad_memory_gb, (int, float))
                                                          and math.isfinite(self.grad_memory_gb)
                                                          and self.grad_memory_gb >= 0):
            raise ValueError(f"grad_memory_gb: must be a non-negative number, got {self.grad_memory_gb!r}")
        return self

    @property
    def adaptive(self) -> bool:
        return self.method in ADAPTIVE

    def to_dict(self) -> dict:
        return asdict(self)


def _positive(v: object) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def check_fixed_grid(config: SolverConfig, duration: float, where: str) -> float:
    """The step of a fixed-step solve over ``duration``, refused before the time grid is allocated when
    the steps would need more than ``max_nfe`` evaluations (a tiny step makes a grid of petabytes)."""
    step = config.step_size if config.step_size is not None else duration / 20
    evaluations = duration / step * FIXED_STAGES[config.method]
    if not evaluations <= config.max_nfe:
        raise SolverError(
            f"solver work cap hit in {where}: a fixed step of {step:.3g} over the slice's {duration:.3g} time "
            f"units takes {evaluations:.3g} evaluations ({config.method}), more than max_nfe={config.max_nfe}. "
            f"Use a step of at least {duration * FIXED_STAGES[config.method] / config.max_nfe:.3g} "
            "(--step-size), raise max_nfe (--max-nfe), or use an adaptive solver.")
    return step


@dataclass
class SolverStats:
    """Counters since the last reset: function evaluations and adaptive steps."""

    nfe: int = 0
    accepted: int = 0
    rejected: int = 0
    max_nfe_seen: int = 0  # largest single-solve NFE, to warn when the cap is near

    def reset(self) -> None:
        self.nfe = self.accepted = self.rejected = self.max_nfe_seen = 0


class WorkBudget:
    """Evaluations and wall time across every solve of one command, training step or page action."""

    def __init__(self, max_nfe: int, max_s: float | None, what: str):
        self.max_nfe, self.max_s, self.what = max_nfe, max_s, what
        self.nfe = 0
        self.start = time.perf_counter()

    def charge(self, where: str, t: torch.Tensor | float) -> None:
        """Count one evaluation made in ``where``; raise SolverError once either limit is passed."""
        self.nfe += 1
        if self.nfe > self.max_nfe:
            raise SolverError(
                f"work budget used up in {where}: {self.what} needed more than max_total_nfe={self.max_nfe:,} "
                f"evaluations over all its slices and solves (reached t={float(t):.4g}). Raise the limit with "
                "--max-total-nfe (SolverConfig.max_total_nfe), or use fewer or shorter slices, a looser "
                "tolerance or a smaller batch.")
        if self.max_s is not None and time.perf_counter() - self.start > self.max_s:
            raise SolverError(
                f"work budget used up in {where}: {self.what} took longer than max_total_s={self.max_s:g} s "
                f"over all its slices and solves ({self.nfe:,} evaluations, reached t={float(t):.4g}). Raise "
                "the limit with --max-total-s (SolverConfig.max_total_s), or make the circuit cheaper to solve.")


_BUDGET: ContextVar[WorkBudget | None] = ContextVar("kirchhoff_work_budget", default=None)


@contextmanager
def work_budget(config: SolverConfig, what: str) -> Iterator[WorkBudget]:
    """Bound every solve inside the block together by ``config.max_total_nfe`` / ``max_total_s``.

    ``what`` names the unit of work in the message ("this forward pass", "training epoch 3", "the
    `kirchhoff simulate` command"). A block inside another joins the outer budget, so a command or page
    action that wraps its work bounds everything it calls, and a bare model call still bounds its own
    slices."""
    active = _BUDGET.get()
    if active is not None:
        yield active
        return
    budget = WorkBudget(config.max_total_nfe, config.max_total_s, what)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def current_budget() -> WorkBudget | None:
    """The budget of the enclosing ``work_budget`` block, if any."""
    return _BUDGET.get()


class WorkGuard:
    """Counts evaluations of one solve and stops it when it runs away (and charges them to the
    enclosing ``work_budget``, if any)."""

    def __init__(self, config: SolverConfig, stats: SolverStats, where: str, budget: WorkBudget | None = None):
        self.config, self.stats, self.where = config, stats, where
        self.budget = budget if budget is not None else current_budget()
        self.count = 0
        self.start = time.perf_counter()

    def tick(self, t: torch.Tensor) -> None:
        if self.budget is not None:
            self.budget.charge(self.where, t)
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


def _node_name(index: int, nodes: int | None) -> str:
    """Row ``index`` (0-based) of a state: a node, or past the nodes the flow's log-density."""
    return "the log-density" if nodes is not None and index >= nodes else f"node {index + 1}"


def check_finite(v: torch.Tensor, where: str, t: float, node_axis: int = -1, nodes: int | None = None) -> None:
    """Raise SolverError naming the first node whose voltage is NaN or infinite (nodes run along
    ``node_axis``: -1 for batch-major states, 0 for node-major ones; with ``nodes``, rows past them
    are a flow's log-density)."""
    bad = ~torch.isfinite(v)
    if bad.any():
        name = _node_name(int(bad.nonzero()[0][node_axis]), nodes)
        what = "value" if name == "the log-density" else "voltage"
        raise SolverError(f"the circuit blew up in {where}: {name} reached a non-finite {what}"
                          f" by t={t:.4g}. Lower the device gains, the learning "
                          "rate or the read-out time, or tighten the solver tolerance.")


def step_control_error(scaled_error: torch.Tensor, where: str, t: float | None, node_axis: int = -1,
                       nodes: int | None = None) -> SolverError:
    """The SolverError for an error estimate (already divided by its tolerance) whose norm is not a
    finite number although it came from a finite state: names the node with the offending entry."""
    e = scaled_error.detach()
    bad = ~torch.isfinite(e)
    index = bad.nonzero()[0] if bad.any() else torch.stack(torch.unravel_index(e.abs().argmax(), e.shape))
    name = _node_name(int(index[node_axis]), nodes)
    when = "" if t is None else f" at t={t:.4g}"
    return SolverError(f"the step-size control overflowed in {where}{when}: the rate of change or error estimate "
                       f"of {name} is not a finite number (voltages or currents near the largest float). Lower the "
                       "device gains or the input voltages, or use a fixed-step solver.")


def finite_norm(norm: Callable[[torch.Tensor], torch.Tensor], where: str, node_axis: int = -1,
                nodes: int | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """An error norm for torchdiffeq's step-size control that raises SolverError (naming the node)
    when the norm is not finite, instead of letting a NaN step size end in an assertion."""
    def checked(x: torch.Tensor) -> torch.Tensor:
        n = norm(x)
        if not bool(torch.isfinite(n)):
            raise step_control_error(x, where, None, node_axis, nodes)
        return n
    return checked
