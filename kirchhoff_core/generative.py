"""Generative circuits: a KirchhoffNet as a continuous normalising flow.

A circuit whose slices all have the data's width maps initial voltages z = v(0) to x = v(T). With
the state augmented by a(t), da/dt = tr(dv'/dv), the log-determinant of that map is
``logdet = a(T) - a(0) = integral_0^T tr J dt`` and

    log p(x) = log N(z; 0, I) - logdet,

computed by integrating x backwards from T to 0 (``encode``); sampling integrates Gaussian noise
forwards (``decode`` / ``sample``). Two tasks train it (``GenerativeTrainer``):

- ``generate``: maximum likelihood on fresh samples of a 2-D target (``densities.TARGETS``) every
  step, with the negative log-likelihood of a fixed held-out set as the test metric;
- ``density``: reverse KL to exp(-U) for a Rezende-Mohamed potential (``densities.POTENTIALS``),
  fresh Gaussian noise every step; the reported loss is the KL estimate
  E_q[log q(x) + U(x)] + log Z (Z the normaliser of exp(-U) on the [-4, 4]^2 box).

The Jacobian trace costs O(E) and no autograd pass. With I_e = g_e(v_s, v_d) flowing s -> d and
C dv/dt = -B g(v), J = dv'/dv has diagonal entries summing to

    tr J = sum_e ([d_e != 0] dg_e/dv_d / C_d - [s_e != 0] dg_e/dv_s / C_s)

(``exact_trace``, from the analytic partials in ``devices``). Inside the solver a dense slice does
better still: a device family is I = act(v W + b) s, so tr J = act'(u) . c with the constant vector
c_e = s_e sum_n W[n, e] M[e, n] (M the incidence over C) built once per solve; the trace then costs
one extra vector product on top of the currents. ``hutchinson_trace`` (a seeded Rademacher or
Gaussian probe e, e^T J e, also O(E)) is available as ``trace="hutchinson"``; since the exact trace
is already O(E) here, it is mainly there to compare against.

Solver settings come from ``solvers.SolverConfig`` (same work caps and SolverError on blow-up).
The augmented ODE runs on our lean dopri5 (``integrators``; a backward solve integrates s = -t),
or torchdiffeq for the other methods and for ``adjoint=True``; direct back-propagation otherwise.

Reference facts (``zhengqigao/kirchhoffnet``, ``src/``; see also ``FLOW_PRESETS``): 2-D generation
used fully connected circuits on 3 nodes incl. ground with ShiftTanh2 devices and repeats [25, 25]
(300 devices per slice) or [10, 10] (2spirals), slice boundaries ``t_end`` from
``results/<name>/config.yaml`` (twomoon: ``configs/config_twomoon.yaml``), dopri5 rtol = atol = 1e-4,
adjoint, AdamW, batch 512, Kaiming-normal initialisation. ``main_gen.py`` builds a cosine scheduler
but never steps it, so the learning rate was constant. Density matching (``main_den.py``,
``results/potential{1,2}/config.yaml``) used ShiftTanh1 [10, 10], tolerance 1e-3 and 512 fresh
noise samples per step. Final training NLL from ``results/<name>/metric.yaml``.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchdiffeq

from . import integrators
from .circuit import Circuit
from .densities import POTENTIALS, TARGETS, log_partition, potential_name, sample_target, target_name
from .devices import KINDS, LEAKY_SLOPE
from .generators import generate
from .model import KirchhoffNet, SliceDynamics
from .solvers import GuardedDynamics, SolverConfig, SolverError, SolverStats, WorkGuard, check_finite

Tensor = torch.Tensor
TRACES = ("exact", "hutchinson")
PROBES = ("rademacher", "gaussian")
TASKS = ("generate", "density")
LOG_2PI = math.log(2 * math.pi)


# --- the trace of the Jacobian ---------------------------------------------------------------------

def _padded_inv_c(dyn: SliceDynamics, like: Tensor) -> Tensor:
    """1/C per node with a 0 for ground in front: multiplying by it drops the ground terms."""
    return F.pad(dyn.inv_c.to(like), (1, 0))


def _partials(dyn: SliceDynamics, v: Tensor) -> Iterator[tuple[str, Tensor, Tensor]]:
    """Per kind: (kind, dI/dv_s, dI/dv_d), each (..., E_kind), from the analytic laws."""
    vfull = F.pad(v, (1, 0))
    for k in dyn.kinds:
        src, dst = dyn._buf("src", k), dyn._buf("dst", k)
        ps, pd = KINDS[k].partials(vfull[..., src], vfull[..., dst], dyn.params[k])
        yield k, ps, pd


def exact_trace(dyn: SliceDynamics, v: Tensor) -> Tensor:
    """tr(d(dv/dt)/dv) at voltages v (..., N), shape (...): O(E) from the device partials."""
    inv_c = _padded_inv_c(dyn, v)
    total = v.new_zeros(v.shape[:-1])
    for k, ps, pd in _partials(dyn, v):
        src, dst = dyn._buf("src", k), dyn._buf("dst", k)
        total = total + (pd * inv_c[dst] - ps * inv_c[src]).sum(-1)
    return total


def hutchinson_trace(dyn: SliceDynamics, v: Tensor, probe: Tensor) -> Tensor:
    """e^T J e for a probe e of v's shape (E[e e^T] = I makes it an unbiased trace estimate).

    J e sums, per device, (dI/dv_s e_s + dI/dv_d e_d) times the device's incidence (+1/C_d at
    dst, -1/C_s at src), so e^T J e is again one pass over the devices.
    """
    if probe.shape != v.shape:
        raise ValueError(f"probe: expected shape {tuple(v.shape)}, got {tuple(probe.shape)}")
    inv_c = _padded_inv_c(dyn, v)
    efull = F.pad(probe, (1, 0))
    total = v.new_zeros(v.shape[:-1])
    for k, ps, pd in _partials(dyn, v):
        src, dst = dyn._buf("src", k), dyn._buf("dst", k)
        es, ed = efull[..., src], efull[..., dst]
        total = total + ((ps * es + pd * ed) * (ed * inv_c[dst] - es * inv_c[src])).sum(-1)
    return total


def autograd_trace(dyn: SliceDynamics, v: Tensor) -> Tensor:
    """The brute-force trace: one autograd pass per node (slow; the reference for tests)."""
    v = v.detach().requires_grad_(True)
    with torch.enable_grad():
        dv = dyn(torch.tensor(0.0), v)
        total = v.new_zeros(v.shape[:-1])
        for n in range(v.shape[-1]):
            total = total + torch.autograd.grad(dv[..., n].sum(), v, retain_graph=True)[0][..., n]
    return total.detach()


def make_probe(shape: Sequence[int], kind: str = "rademacher", generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float32) -> Tensor:
    """A Hutchinson probe with E[e e^T] = I: random signs (lowest variance) or standard normal."""
    if kind == "rademacher":
        return torch.randint(0, 2, tuple(shape), generator=generator).to(dtype) * 2 - 1
    if kind == "gaussian":
        return torch.randn(tuple(shape), generator=generator, dtype=dtype)
    raise ValueError(f"probe: choose one of {list(PROBES)}, got {kind!r}")


class _SigmoidTanh(torch.autograd.Function):
    """tanh(u) = 2 sigmoid(2u) - 1, about twice as fast as torch.tanh on CPUs in float32 (the
    activation is the largest single cost of a training step); absolute error ~1e-7."""

    @staticmethod
    def forward(ctx, u):
        a = torch.sigmoid(u * 2).mul_(2).sub_(1)
        ctx.save_for_backward(a)
        return a

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * (1 - a * a)


def _tanh_for(u: Tensor) -> Callable[[Tensor], Tensor]:
    """The tanh implementation to use for tensors like u (the sigmoid form on CPU in float32)."""
    return _SigmoidTanh.apply if (u.device.type == "cpu" and u.dtype == torch.float32) else torch.tanh


_TANH_KINDS = ("ShiftTanh2", "ShiftTanh1", "TanhResistor")


def _act_grad(kind: str, u: Tensor, a: Tensor) -> Tensor:
    """act'(u) for the activation of a family's linear form, given u and a = act(u)."""
    if kind in ("ShiftTanh2", "ShiftTanh1", "TanhResistor"):
        return 1 - a * a
    if kind in ("ShiftRelu2", "ShiftRelu1"):
        return (u > 0).to(u.dtype)
    if kind in ("ShiftLeakyRelu2", "ShiftLeakyRelu1"):
        return torch.where(u > 0, torch.ones_like(u), torch.full_like(u, LEAKY_SLOPE))
    if kind == "Conductance":
        return torch.ones_like(u)
    raise KeyError(kind)


class AugmentedSlice(GuardedDynamics, nn.Module):
    """d/dt of the augmented state for one slice, stored feature-major: y is (N + 1, batch) with the
    voltages in rows 0..N-1 and a (the integrated trace) in row N; returns (dv/dt, tr J) alike.

    Feature-major because the data are 2-D and the slices have hundreds of devices: every product
    is then (devices x nodes) @ (nodes x batch) or (nodes x devices) @ (devices x batch), which BLAS
    runs several times faster than the skinny batch-major (batch x devices) @ (devices x 2).
    It shares the slice's parameters (it is not registered as a submodule anywhere, so a state
    dict never holds them twice). Counting and bounding work follows ``SliceDynamics``.
    """

    def __init__(self, dyn: SliceDynamics, trace: str = "exact"):
        super().__init__()
        if trace not in TRACES:
            raise ValueError(f"trace: choose one of {list(TRACES)}, got {trace!r}")
        object.__setattr__(self, "dyn", dyn)  # not a submodule: parameters live in the KirchhoffNet
        self.trace = trace
        self.width = dyn.width
        self.guard: WorkGuard | None = None
        self.probe: Tensor | None = None  # (batch, N) for the Hutchinson trace
        self._frozen: tuple | None = None

    @property
    def fast(self) -> bool:
        """Dense slice with the exact trace: the matrix form below."""
        return self.dyn.dense and self.trace == "exact"

    def _terms(self) -> tuple[list[tuple], Tensor, Tensor, Tensor]:
        """Per kind (kind, act, W^T, b, s) as columns, M^T, and the trace as c0 + c . d: for tanh
        families d = a^2 (c negated, c0 its sum), otherwise d = act'(u) (kind-grouped, like I)."""
        dyn = self.dyn
        terms, cs, off = [], [], 0
        c0 = dyn.inc.new_zeros(())
        for k, (act, w, b, s) in zip(dyn.kinds, dyn._dense_terms()):
            n_k = w.shape[1]
            c = (w * dyn.inc[off: off + n_k].T).sum(0)
            c = c if s is None else c * s
            if k in _TANH_KINDS:  # c . (1 - a^2) = sum(c) - c . a^2
                c0 = c0 + c.sum()
                c = -c
            cs.append(c)
            terms.append((k, act, w.T, None if b is None else b.unsqueeze(1), None if s is None else s.unsqueeze(1)))
            off += n_k
        return terms, dyn.inc.T, (cs[0] if len(cs) == 1 else torch.cat(cs)), c0

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Build the dense matrices and c once per solve (parameters are fixed inside it)."""
        self._frozen = self._terms() if self.fast else None
        try:
            with self.dyn.frozen():
                yield
        finally:
            self._frozen = None

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        v = y[: self.width]
        if self.fast:
            terms, mt, c, c0 = self._frozen or self._terms()
            cur, der = [], []
            for k, act, wt, b, s in terms:
                u = wt @ v if b is None else torch.addmm(b, wt, v)
                if k in _TANH_KINDS:  # act' = 1 - a^2: the trace is sum(c) - c . a^2 below
                    a = _tanh_for(u)(u)
                    der.append(torch.square(a))
                else:
                    a = act(u)
                    der.append(_act_grad(k, u, a))
                cur.append(a if s is None else a * s)
            i = cur[0] if len(cur) == 1 else torch.cat(cur)
            d = der[0] if len(der) == 1 else torch.cat(der)
            out = torch.cat([mt @ i, (c0 + c @ d).unsqueeze(0)])
        else:
            vb = v.T
            dv = self.dyn(t, vb)
            if self.trace == "exact":
                tr = exact_trace(self.dyn, vb)
            else:
                if self.probe is None:
                    raise RuntimeError("hutchinson trace: no probe set for this solve")
                tr = hutchinson_trace(self.dyn, vb, self.probe.to(vb))
            out = torch.cat([dv.T, tr.unsqueeze(0)])
        if self.guard is not None:
            self.guard.tick(t)
        return out


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


# --- the flow --------------------------------------------------------------------------------------

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
        if cfg.adaptive:
            options: dict = {"norm": _detached_max_rms(self.dim), "dtype": y0.dtype}
        else:
            options = {"step_size": cfg.step_size or self.net.slices[i].duration / 20}
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
                                                 self.stats, where, norm=lambda e: float(norm(e)))
                else:
                    with aug.frozen():
                        out = torchdiffeq.odeint(aug, y0, t, **kwargs)
        except AssertionError as e:
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


# --- presets: the paper's circuits -----------------------------------------------------------------

@dataclass(frozen=True)
class FlowPreset:
    """The reference's circuit and schedule for one target, and our default training run.

    ``reference_steps`` counts optimiser steps (epochs x batches per epoch); ``steps`` is ours, a
    quarter of it. ``reference_nll`` is the final training NLL of the released run (nats).
    """

    target: str
    task: str
    kind: str
    repeats: tuple[int, int]
    num_slices: int
    duration: float
    reference_tol: float
    reference_lr: float
    reference_steps: int | None
    reference_nll: float | None
    source: str
    lr: float = 5e-3
    batch_size: int = 512
    steps: int = 2500

    def circuit(self, seed: int = 0, **overrides) -> Circuit:
        """The preset's fully connected circuit (2 data nodes + ground), seeded."""
        args = dict(num_nodes=2, repeats=list(self.repeats), kind=self.kind, num_slices=self.num_slices,
                    duration=self.duration, n_inputs=2, n_outputs=2, seed=seed)
        args.update(overrides)
        return generate("fully_connected", **args)

    def config(self, **overrides) -> "GenerativeConfig":
        """Our default training configuration for this target."""
        args = dict(task=self.task, target=self.target, lr=self.lr, batch_size=self.batch_size,
                    anneal_steps=self.steps)
        args.update(overrides)
        return GenerativeConfig(**args)


def _p(target, task, kind, repeats, slices, duration, tol, ref_lr, ref_steps, nll, source, steps=None, **kw):
    return FlowPreset(target, task, kind, tuple(repeats), slices, duration, tol, ref_lr, ref_steps, nll, source,
                      steps=steps or (ref_steps // 4 if ref_steps else 2500), **kw)


_RES = "src/results/{}/config.yaml + metric.yaml"
FLOW_PRESETS: dict[str, FlowPreset] = {p.target: p for p in [
    # 4096 fixed points -> 8 batches of 512 per epoch; 5000 epochs at lr 1e-3, t_end [0, 0.5, 1.0].
    _p("moons", "generate", "ShiftTanh2", (25, 25), 2, 0.5, 1e-4, 1e-3, 40_000, 1.011,
       "src/configs/config_twomoon.yaml + src/results/twomoon/metric.yaml"),
    # 4096 points, 8 batches per epoch, 20000 epochs at lr 1e-4, t_end 0..2 in 0.5 steps.
    _p("circles", "generate", "ShiftTanh2", (25, 25), 4, 0.5, 1e-4, 1e-4, 160_000, 0.825, _RES.format("circle")),
    # one fixed set of 512 points = one batch per epoch; 10000 epochs.
    _p("8gaussians", "generate", "ShiftTanh2", (25, 25), 4, 0.5, 1e-4, 1e-4, 10_000, 2.856,
       _RES.format("8gaussians"), lr=3e-3),
    # 510 fixed points (5 x 102), one batch per epoch; 20000 epochs.
    _p("pinwheel", "generate", "ShiftTanh2", (25, 25), 4, 0.5, 1e-4, 1e-4, 20_000, 2.334, _RES.format("pinwheel")),
    # 512 fixed points, one batch per epoch; 20000 epochs; 8 slices of 0.2, repeats [10, 10].
    _p("2spirals", "generate", "ShiftTanh2", (10, 10), 8, 0.2, 1e-4, 1e-4, 20_000, 2.636, _RES.format("2spirals")),
    # 4096 points, 8 batches per epoch, 10000 epochs.
    _p("swissroll", "generate", "ShiftTanh2", (25, 25), 4, 0.5, 1e-4, 1e-4, 80_000, 2.662, _RES.format("swissroll")),
    # not in the reference: 8gaussians' circuit.
    _p("checkerboard", "generate", "ShiftTanh2", (25, 25), 4, 0.5, 1e-4, 1e-4, None, None,
       "not in the reference (8gaussians' circuit)"),
    # potential1: ShiftTanh1 [10, 10], 16 slices of 0.1, tol 1e-3, lr 1e-4, 20000 steps of 512 noise samples.
    _p("U1", "density", "ShiftTanh1", (10, 10), 16, 0.1, 1e-3, 1e-4, 20_000, None, _RES.format("potential1")),
    # potential2: 8 slices of 0.2, lr 1e-3, 5000 steps.
    _p("U2", "density", "ShiftTanh1", (10, 10), 8, 0.2, 1e-3, 1e-3, 5_000, None, _RES.format("potential2")),
    _p("U3", "density", "ShiftTanh1", (10, 10), 8, 0.2, 1e-3, 1e-3, None, None, "not in the reference (U2's circuit)"),
    _p("U4", "density", "ShiftTanh1", (10, 10), 8, 0.2, 1e-3, 1e-3, None, None, "not in the reference (U2's circuit)"),
]}
"""Per target (data set or potential): the reference circuit and our default run."""


def flow_preset(name: str) -> FlowPreset:
    """The preset for a data target ('8gaussians', 'twomoon', ...) or a potential ('U1', ...)."""
    try:
        key = target_name(name)
    except ValueError:
        try:
            key = potential_name(name)
        except ValueError:
            raise ValueError(f"unknown target {name!r}; choose a data set {sorted(TARGETS)} "
                             f"or a potential {sorted(POTENTIALS)}") from None
    return FLOW_PRESETS[key]


# --- training --------------------------------------------------------------------------------------

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


@dataclass
class GenerativeConfig:
    """A generative run. ``task``: "generate" (``target`` a data set) or "density" (a potential).

    ``anneal_steps`` > 0 decays the learning rate along a cosine to ``lr * final_lr_ratio`` over that
    many steps (then holds it); 0 keeps it constant. The held-out metric (NLL of ``eval_size`` fixed
    samples, or the KL estimate on ``eval_size`` fixed noise draws) is computed every
    ``eval_every`` steps (0: only when ``evaluate()`` is called). ``start_step`` > 0 resumes a run:
    step numbers and the schedule continue from it, and the batches come from a stream of their own.
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

    def __post_init__(self) -> None:
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
        """One optimiser step on a fresh batch; raises SolverError if the flow blows up."""
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
