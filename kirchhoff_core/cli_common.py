"""Helpers every ``kirchhoff`` subcommand module shares: value parsing, the usage error, solver flags.

Its own module so that ``cli`` (the parser and most commands) and the command modules it registers
(``cli_trajectories``) import it, not each other. Every number read here is checked: finite (no NaN
or infinity), integers within int64, each error naming the option.
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Any, Callable

from .generators import ParamSpec
from .limits import INT64_MAX, INT64_MIN, show
from .solvers import METHODS, SolverConfig


SIMULATE_RTOL = 1e-10
"""Default tolerance (rtol = atol) of ``simulate`` and ``trajectory``, in float64: within 1e-6 of a
1e-12 reference (relative to the largest voltage, when above 1 V) on random circuits of every device
kind, ReLU kinks included (tests/core/test_reliability.py); 1e-7 reached only 1e-4 there. A one-input
solve is cheap enough to afford it (2-4x the evaluations of 1e-7)."""


class UsageError(ValueError):
    """A bad command-line value."""


class Parser(argparse.ArgumentParser):
    """argparse, reading a value that starts with a minus sign ('-0.5,1', '-1e-3', '-inf') as the
    option's value: argparse itself only recognises plain negative numbers such as -1 or -0.5 and
    takes anything else for an unknown option ("expected one argument"). Subparsers inherit it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\d|\.\d|inf|nan)\S*$", re.IGNORECASE)


def finite_float(text: str) -> float:
    """argparse type: a finite number (NaN and infinities are refused, naming the option)."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {show(text)}") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {show(text)}")
    return x


def int_in(low: int = INT64_MIN, high: int = INT64_MAX) -> Callable[[str], int]:
    """argparse type: an integer in [low, high] (by default, anything an int64 holds)."""
    def parse(text: str) -> int:
        try:
            x = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {show(text)}") from None
        if not low <= x <= high:
            raise argparse.ArgumentTypeError(f"must be an integer in [{low:,}, {high:,}], got {show(text)}")
        return x
    return parse


def _parse_list(text: str, what: str, convert: Callable[[str], Any], noun: str) -> list:
    """Comma- (or semicolon-) separated values, converted, at least one; errors name the option."""
    try:
        values = [convert(t) for t in text.replace(";", ",").split(",") if t.strip()]
    except ValueError:
        raise UsageError(f"{what}: expected comma-separated {noun}s, got {show(text)}") from None
    if not values:
        raise UsageError(f"{what}: give at least one {noun}")
    return values


def parse_floats(text: str, what: str) -> list[float]:
    """'0.5,-1' -> [0.5, -1.0] with an error naming the option; NaN and infinities are refused."""
    values = _parse_list(text, what, float, "number")
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise UsageError(f"{what}: must be finite numbers (no NaN or infinity), got {bad[0]!r} in {show(text)}")
    return values


def parse_ints(text: str, what: str) -> list[int]:
    """'1,3' -> [1, 3] with an error naming the option (node numbers and other integer lists)."""
    values = _parse_list(text, what, int, "integer")
    if any(not INT64_MIN <= v <= INT64_MAX for v in values):
        raise UsageError(f"{what}: integers must fit in 64 bits, got {show(text)}")
    return values


def parse_param(spec: ParamSpec, text: str) -> Any:
    """A generator argument from text, by its ParamSpec type."""
    try:
        if spec.type is bool:
            low = text.strip().lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return low in ("true", "1", "yes")
        if spec.type is int:
            return int_in()(text)
        if spec.type is float:
            return finite_float(text)
        if spec.type in ("int_pair", "int_list"):
            return parse_ints(text, spec.name)
        return text
    except (ValueError, argparse.ArgumentTypeError):
        kind = spec.type if isinstance(spec.type, str) else spec.type.__name__
        raise UsageError(f"{spec.name}: cannot read {show(text)} as {kind} (a finite value that fits in 64 bits)") from None


def solver_from_args(args: argparse.Namespace, default_rtol: float, base: SolverConfig | None = None) -> SolverConfig:
    """The solver the flags describe; ``base`` (a preset's) supplies what they leave out. A flag
    given is used as is (``--rtol 0`` is refused by SolverConfig, never replaced by the default)."""
    base = base or SolverConfig()
    rtol = default_rtol if args.rtol is None else args.rtol
    grad, adjoint = getattr(args, "grad", None), getattr(args, "adjoint", False)
    if adjoint and grad not in (None, "adjoint"):
        raise UsageError(f"--adjoint: conflicts with --grad {grad}; give one of them")
    grad = "adjoint" if adjoint else grad or base.grad
    memory = getattr(args, "grad_memory_gb", None)

    def given(name: str):
        value = getattr(args, name)
        return getattr(base, name) if value is None else value

    return SolverConfig(method=args.method, rtol=rtol, atol=rtol if args.atol is None else args.atol,
                        step_size=args.step_size, max_nfe=given("max_nfe"), timeout_s=base.timeout_s,
                        max_total_nfe=given("max_total_nfe"), max_total_s=given("max_total_s"), grad=grad,
                        grad_memory_gb=base.grad_memory_gb if memory is None else memory)


def add_solver_flags(p: argparse.ArgumentParser, default_rtol: float | None = None) -> None:
    g = p.add_argument_group("solver")
    g.add_argument("--method", default="dopri5", choices=METHODS, help="ODE solver (default dopri5)")
    g.add_argument("--rtol", type=finite_float, help="relative tolerance of adaptive solvers"
                   + (f" (default {default_rtol:g})" if default_rtol is not None else ""))
    g.add_argument("--atol", type=finite_float, help="absolute tolerance (default: rtol)")
    g.add_argument("--step-size", type=finite_float, help="step of fixed-step solvers (default: slice / 20)")
    g.add_argument("--max-nfe", type=int_in(),
                   help=f"cap on evaluations per solve (default {SolverConfig.max_nfe})")
    g.add_argument("--max-total-nfe", type=int_in(),
                   help="work budget: evaluations over all solves of one command (simulate, trajectory) or one "
                        f"training epoch / step (default {SolverConfig.max_total_nfe:,})")
    g.add_argument("--max-total-s", type=finite_float,
                   help=f"work budget: seconds for the same (default {SolverConfig.max_total_s:g})")
