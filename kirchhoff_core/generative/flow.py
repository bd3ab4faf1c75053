"""The flow: a circuit as a continuous normalising flow (log-likelihood, encode, decode, sample)."""

from __future__ import annotations

import math
import warnings
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torchdiffeq

from .. import integrators
from ..circuit import Circuit
from ..model import KirchhoffNet
from ..solvers import (SolverConfig, SolverError, SolverStats, WorkGuard, check_finite, check_fixed_grid, finite_norm,
                       work_budget)
from .trace import PROBES, TRACES, AugmentedSlice, make_probe

Tensor = torch.Tensor
LOG_2PI = math.log(2 * math.pi)


class _GuardAdjoint(torch.autograd.Function):
    """Identity whose backward arms a WorkGuard for the adjoint solve that runs next."""

    @staticmethod
    def forward(ctx, out, flow, aug, where):
        ctx.flow, ctx.aug, ctx.where = flow, aug, where
        return out.view_as(out)

    @staticmethod
    def backward(ctx, grad):
        ctx.aug.guard = WorkGuard(ctx.flow.solver, ctx.flow.stats, ctx.where + " (adjoint backward)")
        return grad, None, None, None


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) per row."""
    return -0.5 * (z * z).sum(-1) - 0.5 * z.shape[-1] * LOG_2PI


def gaussian_baseline_nll(x: np.ndarray | Tensor) -> float:
    """Mean NLL of x under the Gaussian with x's own mean and covariance: the score a flow must
    beat to have learned more than a linear map. (The zero-current circuit scores log N(x; 0, I).)"""
    x = np.asarray(torch.as_tensor(x, dtype=torch.float64).cpu())
    d = x.shape[1]
    cov = np.atleast_2d(np.cov(x, rowvar=False, bias=True))
    return float(0.5 * (d * (1 + LOG_2PI) + np.linalg.slogdet(cov)[1]))


def _detached_max_rms(width: int) -> Callable[[Tensor], Tensor]:
    """Error norm of the augmented state: the larger of the voltages' and the log-det's RMS
    (torchdiffeq's rule for tuple states), detached so the backward pass skips the controller."""
    def norm(x: Tensor) -> Tensor:
        x = x.detach()  # feature-major: rows 0..width-1 are voltages, the last row the log-det
        return torch.maximum(x[:width].pow(2).mean().sqrt(), x[width:].pow(2).mean().sqrt())
    return norm


class CircuitFlow(nn.Module):
    """A continuous normalising flow whose vector field is a circuit's KCL dynamics.

    ``circuit``: every slice must have ``dim`` nodes (the data's width, 2 for the 2-D targets); the
    parameters live in ``self.net`` (a ``KirchhoffNet``), so ``to_circuit()`` and the circuit views
    work unchanged. ``trace``: "exact" (default) or "hutchinson" with ``probe`` "rademacher" or
    "gaussian", drawn per call from a generator seeded with ``seed``.
    """

    def __init__(self, circuit: Circuit, solver: SolverConfig | None = None, dtype: torch.dtype = torch.float32,
                 trace: str = "exact", probe: str = "rademacher", seed: int = 0, dim: int | None = None):
        super().__init__()
        if trace not in TRACES:
            raise ValueError(f"trace: choose one of {list(TRACES)}, got {trace!r}")
        if probe not in PROBES:
            raise ValueError(f"probe: choose one of {list(PROBES)}, got {probe!r}")
        circuit.validate()
        widths = [circuit.width(i) for i in range(len(circuit.slices))]
        dim = widths[0] if dim is None else dim
        bad = [i for i, w in enumerate(widths) if w != dim]
        if bad:
            raise ValueError(f"circuit: a flow needs every slice to have {dim} node(s) (one per data "
                             f"dimension), but slice {bad[0]} has {widths[bad[0]]}; slice widths are {widths}")
        self.dim = int(dim)
        self.net = KirchhoffNet(circuit, solver or SolverConfig(), dtype=dtype)
        self.trace, self.probe_kind, self.seed = trace, probe, int(seed)
        self._augs = [AugmentedSlice(d, trace) for d in self.net.slices]
        self._probe_gen = torch.Generator().manual_seed(self.seed)

    # --- plumbing ------------------------------------------------------------------------------
    @property
    def solver(self) -> SolverConfig:
        return self.net.solver

    @solver.setter
    def solver(self, cfg: SolverConfig) -> None:
        self.net.solver = cfg

    @property
    def stats(self) -> SolverStats:
        return self.net.stats

    @property
    def dtype(self) -> torch.dtype:
        return self.net.dtype

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def boundaries(self) -> list[float]:
        return self.net.boundaries

    @property
    def t_end(self) -> float:
        return self.net.t_end

    def to_circuit(self) -> Circuit:
        """The circuit with the current (trained) parameters."""
        return self.net.to_circuit()

    def _as_points(self, x: np.ndarray | Tensor, what: str) -> Tensor:
        x = torch.as_tensor(x, dtype=self.dtype, device=self.device)
        if x.ndim == 1 and x.shape[0] == self.dim:
            x = x.unsqueeze(0)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"{what}: expected points of shape (n, {self.dim}), got {tuple(x.shape)}")
        if x.shape[0] == 0:
            raise ValueError(f"{what}: no points given")
        if not torch.isfinite(x).all():
            raise ValueError(f"{what}: contains NaN or infinity; give finite values")
        return x

    def _check_time(self, t: float | None, what: str = "t") -> float:
        t = self.t_end if t is None else float(t)
        if not (math.isfinite(t) and -1e-12 <= t <= self.t_end + 1e-12):
            raise ValueError(f"{what}: must lie in [0, {self.t_end:g}], got {t!r}")
        return min(max(t, 0.0), self.t_end)

    def _solve(self, i: int, y0: Tensor, local: list[float]) -> Tensor:
        """Integrate slice i's augmented ODE through the local times (monotone, either way)."""
        aug, cfg = self._augs[i], self.solver
        where = f"slice {i}"
        if cfg.adaptive:  # the state is feature-major (dim + 1, batch): nodes along axis 0
            norm = finite_norm(_detached_max_rms(self.dim), where, node_axis=0, nodes=self.dim)
            options: dict = {"norm": norm, "dtype": y0.dtype}
        else:
            options = {"step_size": check_fixed_grid(cfg, self.net.slices[i].duration, where)}
        kwargs = dict(rtol=cfg.rtol, atol=cfg.atol, method=cfg.method, options=options)
        t = torch.tensor(local, dtype=y0.dtype, device=y0.device)
        aug.guard = WorkGuard(cfg, self.stats, where)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Solver .* does not support callbacks")
                if cfg.adjoint and torch.is_grad_enabled():
                    back = {k: v for k, v in options.items() if k != "norm"}
                    out = torchdiffeq.odeint_adjoint(aug, y0, t, adjoint_params=tuple(aug.dyn.parameters()),
                                                     adjoint_options=back, **kwargs)
                    out = _GuardAdjoint.apply(out, self, aug, where)
                elif cfg.method == "dopri5":
                    # Our lean dopri5 (as KirchhoffNet's); it runs forwards only, so a backward solve
                    # integrates s = -t: dy/ds = -f(-s, y).
                    norm = options["norm"]
                    sign = 1.0 if local[-1] >= local[0] else -1.0
                    rhs = aug if sign > 0 else (lambda s, y: -aug(-s, y))
                    with aug.frozen():
                        out = integrators.dopri5(rhs, y0, [sign * x for x in local], cfg.rtol, cfg.atol,
                                                 self.stats, where, norm=lambda e: float(norm(e)), node_axis=0,
                                                 nodes=self.dim)
                else:
                    with aug.frozen():
                        out = torchdiffeq.odeint(aug, y0, t, **kwargs)
        except (AssertionError, ZeroDivisionError, OverflowError) as e:
            raise SolverError(f"solver failed in {where}: {e}. The flow is probably stiff or exploding; "
                              "lower the learning rate or the read-out time, or use a fixed-step solver.") from e
        finally:
            aug.guard = None
        check_finite(out[-1][: self.dim].T, where, self.boundaries[i + (local[-1] > local[0])])
        if not torch.isfinite(out[-1][self.dim]).all():
            raise SolverError(f"the log-density blew up in {where}: the flow's volume change is not finite; "
                              "lower the learning rate or tighten the solver tolerance.")
        return out

    def _integrate(self, y: Tensor, t0: float, ts: Sequence[float]) -> Tensor:
        """Augmented states at times ``ts`` (monotone away from t0, forwards or backwards) from y at t0,
        all feature-major: y (dim + 1, batch) -> (len(ts), dim + 1, batch). Crosses slice boundaries."""
        ts = [float(t) for t in ts]
        forward = ts[-1] >= t0
        eps = 1e-12 * max(1.0, self.t_end)
        out: list[Tensor | None] = [y if abs(t - t0) <= eps else None for t in ts]
        bounds = self.boundaries
        order = range(len(self._augs)) if forward else reversed(range(len(self._augs)))
        cur, end = t0, ts[-1]
        with work_budget(self.solver, "this pass through the flow"):
            for i in order:
                lo, hi = bounds[i], bounds[i + 1]
                a, b = (max(cur, lo), min(end, hi)) if forward else (min(cur, hi), max(end, lo))
                if (b - a if forward else a - b) <= eps:
                    continue
                inside = [j for j, t in enumerate(ts) if out[j] is None and
                          ((a + eps < t <= b + eps) if forward else (b - eps <= t < a - eps))]
                grid = [a] + [ts[j] for j in inside] + [b]
                keep = [grid[0]]
                for g in grid[1:]:
                    if abs(g - keep[-1]) > eps:
                        keep.append(g)
                sol = self._solve(i, y, [g - lo for g in keep])
                for j in inside:
                    out[j] = sol[int(np.argmin([abs(g - ts[j]) for g in keep]))]
                y, cur = sol[-1], b
        for j, t in enumerate(ts):
            if out[j] is None:  # beyond the last slice's end by rounding only
                out[j] = y
        return torch.stack(out)  # type: ignore[arg-type]

    def _augment(self, x: Tensor) -> Tensor:
        """(batch, dim) points -> the feature-major augmented state (dim + 1, batch), a = 0."""
        if self.trace == "hutchinson":
            probe = make_probe(x.shape, self.probe_kind, self._probe_gen, x.dtype).to(x.device)
            for aug in self._augs:
                aug.probe = probe
        return torch.cat([x.T, x.new_zeros(1, x.shape[0])])

    # --- public API ----------------------------------------------------------------------------
    def encode(self, x: np.ndarray | Tensor) -> tuple[Tensor, Tensor]:
        """Data -> latent (T -> 0): (z, logdet) with logdet = log|det dx/dz| = integral of tr J."""
        x = self._as_points(x, "x")
        y = self._integrate(self._augment(x), self.t_end, [0.0])[-1]
        return y[: self.dim].T, -y[self.dim]

    def decode(self, z: np.ndarray | Tensor) -> tuple[Tensor, Tensor]:
        """Latent -> data (0 -> T): (x, logdet) with log p(x) = log N(z) - logdet."""
        z = self._as_points(z, "z")
        y = self._integrate(self._augment(z), 0.0, [self.t_end])[-1]
        return y[: self.dim].T, y[self.dim]

    def log_prob(self, x: np.ndarray | Tensor, t: float | None = None) -> Tensor:
        """log p_t(x) per point: the density of the flow at time t (default T, the model)."""
        x = self._as_points(x, "x")
        t = self._check_time(t)
        y = self._integrate(self._augment(x), t, [0.0])[-1]
        return standard_normal_log_prob(y[: self.dim].T) + y[self.dim]

    def sample(self, n: int, seed: int | torch.Generator | None = 0) -> Tensor:
        """n samples: Gaussian noise (seeded) carried forward through the circuit."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= 10_000_000:
            raise ValueError(f"n: need a number of samples in [1, 10,000,000], got {n!r}")
        gen = seed if isinstance(seed, torch.Generator) else \
            (torch.Generator().manual_seed(int(seed)) if seed is not None else None)
        z = torch.randn(int(n), self.dim, generator=gen, dtype=self.dtype)
        return self.decode(z.to(self.device))[0]

    def flow(self, z: np.ndarray | Tensor, times: Sequence[float] | Tensor) -> tuple[Tensor, Tensor]:
        """Along the way from z (at t=0): states (len(times), n, dim) and the log-density of each
        moving point under the flow at that time, (len(times), n). ``times`` ascending in [0, T]."""
        z = self._as_points(z, "z")
        ts = np.asarray(torch.as_tensor(times, dtype=torch.float64).cpu(), dtype=np.float64).reshape(-1)
        if len(ts) == 0 or not np.all(np.isfinite(ts)) or ts.min() < 0 or ts.max() > self.t_end + 1e-12:
            raise ValueError(f"times: need finite values in [0, {self.t_end:g}], got {ts.tolist()}")
        if np.any(np.diff(ts) < 0):
            raise ValueError("times: must be in ascending order")
        y = self._integrate(self._augment(z), 0.0, ts.tolist())
        logp = standard_normal_log_prob(z).unsqueeze(0) - y[:, self.dim]
        return y[:, : self.dim].transpose(1, 2), logp
