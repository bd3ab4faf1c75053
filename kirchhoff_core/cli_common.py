"""Helpers every ``kirchhoff`` subcommand module shares: value parsing, the usage error, solver flags.

Its own module so that ``cli`` (the parser and most commands) and the command modules it registers
(``cli_trajectories``) import it, not each other.
"""

from __future__ import annotations

import argparse
from typing import Any

from .generators import ParamSpec
from .solvers import METHODS, SolverConfig


class UsageError(ValueError):
    """A bad command-line value."""


def parse_floats(text: str, what: str) -> list[float]:
    """'0.5,-1' -> [0.5, -1.0] with an error naming the option."""
    try:
        values = [float(t) for t in text.replace(";", ",").split(",") if t.strip()]
    except ValueError:
        raise UsageError(f"{what}: expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise UsageError(f"{what}: give at least one number")
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
            return int(text)
        if spec.type is float:
            return float(text)
        if spec.type in ("int_pair", "int_list"):
            return [int(t) for t in text.replace(";", ",").split(",") if t.strip()]
        return text
    except ValueError:
        raise UsageError(f"{spec.name}: cannot read {text!r} as {spec.type if isinstance(spec.type, str) else spec.type.__name__}") from None


def solver_from_args(args: argparse.Namespace, default_rtol: float, base: SolverConfig | None = None) -> SolverConfig:
    """The solver the flags ask for; ``base`` (a preset's) supplies what they leave open."""
    base = base or SolverConfig()
    rtol = args.rtol or default_rtol
    grad, adjoint = getattr(args, "grad", None), getattr(args, "adjoint", False)
    if adjoint and grad not in (None, "adjoint"):
        raise UsageError(f"--adjoint: conflicts with --grad {grad}; give one of them")
    grad = "adjoint" if adjoint else grad or base.grad
    memory = getattr(args, "grad_memory_gb", None)
    return SolverConfig(method=args.method, rtol=rtol, atol=args.atol or rtol, step_size=args.step_size,
                        max_nfe=base.max_nfe if args.max_nfe is None else args.max_nfe,
                        timeout_s=base.timeout_s, grad=grad,
                        grad_memory_gb=base.grad_memory_gb if memory is None else memory)


def add_solver_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("solver")
    g.add_argument("--method", default="dopri5", choices=METHODS, help="ODE solver (default dopri5)")
    g.add_argument("--rtol", type=float, help="relative tolerance of adaptive solvers")
    g.add_argument("--atol", type=float, help="absolute tolerance (default: rtol)")
    g.add_argument("--step-size", type=float, help="step of fixed-step solvers (default: slice / 20)")
    g.add_argument("--max-nfe", type=int, help="cap on evaluations per solve (default 20000)")
