"""A lean adaptive Dormand-Prince 5(4) integrator for the slice dynamics.

torchdiffeq's dopri5 spends about as long on its own bookkeeping per step as our dense right-hand
side spends on six evaluations: time held in tensors, tableau sums over a stage tensor, a quartic
fitted after every step, error norms and step factors as tensor ops. This integrator runs the same
method (Dormand-Prince tableau with Shampine's embedded error estimate, torchdiffeq's initial-step
rule and its elementary step-size controller, so the steps are torchdiffeq's up to the last one)
with:

- time, step size, error ratio and step factors as Python floats;
- each stage built from the earlier ones with one fused add per nonzero tableau entry, and the
  error estimate, norm and step control under ``no_grad`` (they never enter the backward pass);
- no interpolation when only the end state is wanted: the last step is cut to land on it;
  requested interior times use the free 4th-order dopri5 interpolant (torchdiffeq's mid-point
  quartic written as one linear combination of the step's stages).

It is differentiable by direct back-propagation (autograd records only the stages of accepted and
rejected steps and the combinations; rejected stages are never reached in the backward pass).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from .solvers import SolverError, SolverStats, check_finite, step_control_error

Rhs = Callable[[float, torch.Tensor], torch.Tensor]
Norm = Callable[[torch.Tensor], float]
# Called after every attempted step: (accepted, t, h, y, [k1..k7]) with t, y at the step's start.
StepHook = Callable[[bool, float, float, torch.Tensor, list], None]

# Dormand-Prince 5(4): nodes, stage matrix rows (stage i uses k_1..k_i), 5th-order weights.
C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
A = (
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),  # = 5th-order solution (FSAL)
)
# 5th minus 4th order weights (Shampine's embedded pair, as torchdiffeq's dopri5).
E = (35 / 384 - 1951 / 21600, 0.0, 500 / 1113 - 22642 / 50085, 125 / 192 - 451 / 720,
     -2187 / 6784 + 12231 / 42400, 11 / 84 - 649 / 6300, -1 / 60)
# Weights of the solution at the step's mid-point (Shampine 1986), for the dense output.
C_MID = (6025192743 / 30085553152 / 2, 0.0, 51252292925 / 65400821598 / 2, -2691868925 / 45128329728 / 2,
         187940372067 / 1594534317056 / 2, -1776094331 / 19743644256 / 2, 11237099 / 235043384 / 2)

SAFETY, IFACTOR, DFACTOR, ORDER = 0.9, 10.0, 0.2, 5


def _combine(base: torch.Tensor | None, weights: Sequence[float], ks: Sequence[torch.Tensor]) -> torch.Tensor:
    """base + sum_j weights[j] * ks[j] (base None: 0), skipping zero weights; one fused op per
    term, in place after the first (the same sums, without an allocation each)."""
    out = None
    for w, k in zip(weights, ks):
        if w != 0.0:
            if out is None:
                out = torch.mul(k, w) if base is None else torch.add(base, k, alpha=w)
            else:
                out.add_(k, alpha=w)
    return (torch.zeros_like(ks[0]) if base is None else base) if out is None else out


def _rms(x: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(x)) / math.sqrt(max(x.numel(), 1))


def _finite_norm(x: torch.Tensor, norm: Norm, where: str, t: float, layout: tuple[int, int | None],
                 *states: torch.Tensor) -> float:
    """``norm(x)``, or a SolverError naming the node: a non-finite ``states`` entry (a voltage, or a
    rate of change that already overflowed) first, else the entry of ``x`` (a scaled error or rate
    of change) whose norm overflowed."""
    value = norm(x)
    if math.isfinite(value):
        return value
    for v in states:
        check_finite(v.detach(), where, t, *layout)
    raise step_control_error(x, where, t, *layout)


def _initial_step(f: Rhs, t0: float, y0: torch.Tensor, f0: torch.Tensor, rtol: float, atol: float,
                  where: str, norm: Norm = _rms, layout: tuple[int, int | None] = (-1, None)) -> float:
    """Hairer, Norsett & Wanner II.4 (torchdiffeq's rule): one extra evaluation, no gradient. Any
    overflow on the way is a SolverError naming the node, never a float division by zero."""
    with torch.no_grad():
        scale = y0.abs().mul(rtol).add_(atol)
        d0 = _finite_norm(y0 / scale, norm, where, t0, layout, y0)
        d1 = _finite_norm(f0 / scale, norm, where, t0, layout, f0)
        h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        if not h0 > 0:  # the derivative is so large that the first step underflows
            raise step_control_error(f0 / scale, where, t0, *layout)
        f1 = f(t0 + h0, y0 + h0 * f0)
        d2 = _finite_norm((f1 - f0) / scale, norm, where, t0 + h0, layout, f1) / h0
        if not math.isfinite(d2):
            raise step_control_error((f1 - f0) / scale, where, t0 + h0, *layout)
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / ORDER)
    return min(100 * h0, h1)


def _dense_weights(x: float) -> tuple[float, float, list[float]]:
    """Weights (w_y0, w_y1, w_k per unit step) of the mid-point quartic at the fraction x of a step.

    torchdiffeq fits p(x) = e + d x + c x^2 + b x^3 + a x^4 through y0, y1, y_mid, h f0, h f1;
    expanded, p(x) = wy0 y0 + wy1 y1 + wym y_mid + h (wf0 f0 + wf1 f1), and y_mid = y0 + h C_MID.k.
    """
    x2, x3, x4 = x * x, x ** 3, x ** 4
    wy0 = 1 - 11 * x2 + 18 * x3 - 8 * x4
    wy1 = -5 * x2 + 14 * x3 - 8 * x4
    wym = 16 * x2 - 32 * x3 + 16 * x4
    wf0 = x - 4 * x2 + 5 * x3 - 2 * x4
    wf1 = x2 - 3 * x3 + 2 * x4
    wk = [wym * c for c in C_MID]
    wk[0] += wf0
    wk[6] += wf1
    return wy0 + wym, wy1, wk


def dopri5(f: Rhs, y0: torch.Tensor, times: Sequence[float], rtol: float, atol: float,
           stats: SolverStats | None = None, where: str = "the solve", norm: Norm = _rms,
           node_axis: int = -1, nodes: int | None = None, on_step: StepHook | None = None) -> torch.Tensor:
    """Solve dy/dt = f(t, y) from times[0]; the states at ``times`` (non-decreasing), stacked.

    ``f`` does its own work accounting (max_nfe, time-out); ``stats`` gets the accepted and
    rejected steps. ``norm`` maps an error already divided by its tolerance to a float (default:
    the RMS over the whole state); a step is accepted when it is at most 1. ``on_step`` sees every
    attempted step (``backprop`` records the accepted ones for its backward pass). Raises SolverError,
    naming ``where`` and the node (nodes run along ``node_axis`` of the state; with ``nodes``, rows
    past them are a flow's log-density), when the state or the error estimate goes non-finite, and
    when the step size underflows.
    """
    times = [float(t) for t in times]
    if any(b < a for a, b in zip(times, times[1:])):
        raise ValueError(f"times: must be non-decreasing, got {times}")
    t, t_end = times[0], times[-1]
    outs: list[torch.Tensor] = [y0]
    nxt = 1  # index of the next requested time
    while nxt < len(times) and times[nxt] <= t:
        outs.append(y0)
        nxt += 1
    if nxt == len(times):
        return torch.stack(outs)
    y = y0
    k1 = f(t, y)
    layout = (node_axis, nodes)
    h = _initial_step(f, t, y, k1, rtol, atol, where, norm, layout)
    while nxt < len(times):
        last = t + 1.01 * h >= t_end  # cut the last step onto t_end (and avoid a sliver after it)
        if last:
            h = t_end - t
        if t + h <= t:
            raise SolverError(f"solver failed in {where}: the step size underflowed at t={t:.4g}. The circuit "
                              "is probably stiff or exploding; lower the gains or the read-out time, or use "
                              "a fixed-step solver.")
        ks = [k1]
        for i, row in enumerate(A):
            yi = _combine(y, [h * a for a in row], ks)
            ks.append(f(t + C[i + 1] * h, yi))
        y1 = yi  # the last stage is evaluated at the 5th-order solution (FSAL)
        with torch.no_grad():
            err = _combine(None, [h * e for e in E], ks)
            tol = torch.maximum(y.abs(), y1.abs()).mul_(rtol).add_(atol)
            ratio = _finite_norm(err.div_(tol), norm, where, t + h, layout, y1, *ks)
        if on_step is not None:
            on_step(ratio <= 1.0, t, h, y, ks)
        if ratio <= 1.0:
            if stats is not None:
                stats.accepted += 1
            t1 = t_end if last else t + h
            while nxt < len(times) and times[nxt] <= t1:
                if times[nxt] >= t1:
                    outs.append(y1)
                else:
                    wy0, wy1, wk = _dense_weights((times[nxt] - t) / h)
                    outs.append(_combine(torch.add(y * wy0, y1, alpha=wy1), [h * w for w in wk], ks))
                nxt += 1
            t, y, k1 = t1, y1, ks[6]
            factor = IFACTOR if ratio == 0 else min(IFACTOR, max(SAFETY / ratio ** (1 / ORDER), 1.0))
        else:
            if stats is not None:
                stats.rejected += 1
            factor = min(IFACTOR, max(SAFETY / ratio ** (1 / ORDER), DFACTOR))
        h *= factor
    return torch.stack(outs)
