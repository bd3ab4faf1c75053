"""KirchhoffNet: a circuit as a torch module whose forward pass is the circuit's transient.

The KCL right-hand side is written once, in incidence form: C dv/dt = -B g(v). For the families
whose current is act(p0 v_s + p1 v_d + p2) the pre-activation of every device is one linear map of
the node voltages, u = v W + b with W = p0 * S_src + p1 * S_dst, so a slice is a two-layer network
(v -> act(vW + b) -> @ incidence). Small and medium circuits use dense matrices (two matmuls per
evaluation, parallel devices cost nothing extra); big ones fall back to gather / index_add.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchdiffeq

from .circuit import Circuit
from .devices import KINDS, LEAKY_SLOPE, MAX_PARAMS
from .solvers import SolverConfig, SolverError, SolverStats, WorkGuard, check_finite

DENSE_LIMIT = 4_000_000  # width * devices above which a slice uses gather/scatter

# Families whose current is act(p0 v_s + p1 v_d + p2): one linear map of v per evaluation.
_AFFINE_ACT = {"ShiftTanh2": torch.tanh, "ShiftRelu2": F.relu,
               "ShiftLeakyRelu2": lambda u: F.leaky_relu(u, LEAKY_SLOPE)}


def _difference_current(kind: str, dv: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Current of a family that depends on v_s - v_d only (p has shape (E, n_params))."""
    if kind == "ShiftTanh1":
        return torch.tanh(p[:, 1] * dv + p[:, 0])
    if kind == "ShiftRelu1":
        return p[:, 1] * F.relu(dv - p[:, 0])
    if kind == "ShiftLeakyRelu1":
        return p[:, 1] * F.leaky_relu(dv - p[:, 0], LEAKY_SLOPE)
    if kind == "Conductance":
        return p[:, 0] * dv
    if kind == "TanhResistor":
        return p[:, 0].abs() * torch.tanh(p[:, 1].abs() * dv)
    raise KeyError(kind)


def _detached_rms(x: torch.Tensor) -> torch.Tensor:
    return x.detach().pow(2).mean().sqrt()


class SliceDynamics(nn.Module):
    """dv/dt of one time slice; devices grouped by kind, parameters one tensor per kind.

    Dense slices turn each kind's parameters into matrices (``_effective``) and evaluate
    dv/dt = concat_k act_k(v W_k + b_k) @ M with M the incidence scaled by 1/C. With direct
    back-propagation the matrices are built once per solve (``frozen``), not once per evaluation.
    """

    def __init__(self, circuit: Circuit, index: int):
        super().__init__()
        s = circuit.slices[index]
        self.index = index
        self.width = circuit.width(index)
        self.duration = float(s.duration)
        self.dense = self.width * max(s.num_devices, 1) <= DENSE_LIMIT
        self.kinds: list[str] = sorted(set(s.kind.tolist()))
        self.params = nn.ParameterDict()
        rows = [np.flatnonzero(s.kind == k) for k in self.kinds]
        for k, r in zip(self.kinds, rows):
            self.params[k] = nn.Parameter(torch.tensor(s.params[r, : KINDS[k].n_params]))
            self._add_index(k, s.src[r], s.dst[r])
        order = np.concatenate(rows) if rows else np.zeros(0, int)
        # Position of each circuit device in the concatenated (kind-grouped) current vector.
        self.register_buffer("order", torch.as_tensor(order), persistent=False)
        inv_c = 1.0 / circuit.capacitances(self.width)
        self.register_buffer("inv_c", torch.as_tensor(inv_c), persistent=False)
        if self.dense:  # net current into each node (+I at dst, -I at src), divided by C
            inc = np.zeros((len(order), self.width + 1))
            inc[np.arange(len(order)), s.dst[order]] += 1.0
            inc[np.arange(len(order)), s.src[order]] -= 1.0
            self.register_buffer("inc", torch.as_tensor(inc[:, 1:] * inv_c), persistent=False)
        self.guard: WorkGuard | None = None
        self._frozen: list[tuple[str, torch.Tensor, torch.Tensor]] | None = None

    def _add_index(self, k: str, src: np.ndarray, dst: np.ndarray) -> None:
        E, n = len(src), self.width
        self.register_buffer(f"src_{k}", torch.as_tensor(src), persistent=False)
        self.register_buffer(f"dst_{k}", torch.as_tensor(dst), persistent=False)
        if self.dense:
            # One-hot selectors without the ground row (ground is 0 V, so it contributes nothing).
            s_src = np.zeros((n + 1, E))
            s_dst = np.zeros((n + 1, E))
            s_src[src, np.arange(E)] = 1.0
            s_dst[dst, np.arange(E)] = 1.0
            if k in _AFFINE_ACT:
                self.register_buffer(f"ssrc_{k}", torch.as_tensor(s_src[1:]), persistent=False)
                self.register_buffer(f"sdst_{k}", torch.as_tensor(s_dst[1:]), persistent=False)
            else:  # v @ diff = v_s - v_d for the families that only see the voltage drop
                self.register_buffer(f"diff_{k}", torch.as_tensor((s_src - s_dst)[1:]), persistent=False)

    def _buf(self, name: str, k: str) -> torch.Tensor:
        return getattr(self, f"{name}_{k}")

    def _effective(self) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
        """Per kind (dense only): (kind, matrix, params) with v @ matrix the device pre-activation."""
        out = []
        for k in self.kinds:
            p = self.params[k]
            if k in _AFFINE_ACT:
                out.append((k, p[:, 0] * self._buf("ssrc", k) + p[:, 1] * self._buf("sdst", k), p[:, 2]))
            else:
                out.append((k, self._buf("diff", k), p))
        return out

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Build the dense matrices once for a whole solve (parameters do not change inside it)."""
        self._frozen = self._effective() if self.dense else None
        try:
            yield
        finally:
            self._frozen = None

    def kind_currents(self, v: torch.Tensor) -> list[torch.Tensor]:
        """Currents of each kind group, shape (..., E_k), in ``self.kinds`` order."""
        if self.dense:
            out = []
            for k, mat, p in self._frozen or self._effective():
                if k in _AFFINE_ACT:
                    u = torch.addmm(p, v.reshape(-1, self.width), mat).reshape(*v.shape[:-1], -1)
                    out.append(_AFFINE_ACT[k](u))
                else:
                    out.append(_difference_current(k, v @ mat, p))
            return out
        vfull = F.pad(v, (1, 0))
        out = []
        for k in self.kinds:
            p = self.params[k]
            vs, vd = vfull[..., self._buf("src", k)], vfull[..., self._buf("dst", k)]
            if k in _AFFINE_ACT:
                out.append(_AFFINE_ACT[k](p[:, 0] * vs + p[:, 1] * vd + p[:, 2]))
            else:
                out.append(_difference_current(k, vs - vd, p))
        return out

    def forward(self, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        currents = self.kind_currents(v)
        if self.dense:
            dv = (currents[0] if len(currents) == 1 else torch.cat(currents, dim=-1)) @ self.inc
        else:
            acc = v.new_zeros(*v.shape[:-1], self.width + 1)
            for k, i in zip(self.kinds, currents):
                acc = acc.index_add(-1, self._buf("dst", k), i).index_add(-1, self._buf("src", k), -i)
            dv = acc[..., 1:] * self.inv_c
        if self.guard is not None:
            self.guard.tick(t)
        return dv

    def currents(self, v: torch.Tensor) -> torch.Tensor:
        """Every device's current in circuit order, shape (..., E)."""
        cat = torch.cat(self.kind_currents(v), dim=-1)
        out = torch.empty_like(cat)
        out[..., self.order] = cat
        return out

    # torchdiffeq calls these on adaptive solvers; they feed the solver-health counters.
    def callback_accept_step(self, t0, y0, dt) -> None:
        if self.guard is not None:
            self.guard.stats.accepted += 1

    def callback_reject_step(self, t0, y0, dt) -> None:
        if self.guard is not None:
            self.guard.stats.rejected += 1


class _GuardBackward(torch.autograd.Function):
    """Identity whose backward brackets the adjoint solve that follows it with a WorkGuard."""

    @staticmethod
    def forward(ctx, out, net, dyn):
        ctx.net, ctx.dyn = net, dyn
        return out.view_as(out)

    @staticmethod
    def backward(ctx, grad):
        net, dyn = ctx.net, ctx.dyn
        dyn.guard = WorkGuard(net.solver, net.stats, f"slice {dyn.index} (adjoint backward)")
        return grad, None, None


class KirchhoffNet(nn.Module):
    """A circuit whose forward pass is its transient: input -> v(0), read-out = v(T) at outputs."""

    def __init__(self, circuit: Circuit, solver: SolverConfig | None = None, dtype: torch.dtype = torch.float32):
        super().__init__()
        circuit.validate()
        self.circuit = circuit.copy()  # structure; parameters live in the modules below
        self.solver = solver or SolverConfig()
        self.stats = SolverStats()
        self.slices = nn.ModuleList(SliceDynamics(self.circuit, i) for i in range(len(circuit.slices)))
        self.inputs = list(circuit.inputs)
        self.outputs = list(circuit.outputs)
        self.to(dtype)
        self.dtype = dtype

    # --- plumbing --------------------------------------------------------------------------------
    @property
    def boundaries(self) -> list[float]:
        """Slice boundary times [0, t1, ..., T]."""
        return [0.0] + np.cumsum([d.duration for d in self.slices]).tolist()

    @property
    def t_end(self) -> float:
        return self.boundaries[-1]

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        """Charge the input nodes to x (other nodes start at 0 V)."""
        x = torch.as_tensor(x, dtype=self.dtype)
        if x.ndim == 1:
            x = x.unsqueeze(0)
        if x.shape[-1] != len(self.inputs):
            raise ValueError(f"inputs: expected {len(self.inputs)} value(s) per sample (input nodes "
                             f"{self.inputs}), got {x.shape[-1]}")
        if not torch.isfinite(x).all():
            raise ValueError("inputs: contain NaN or infinity; give finite voltages")
        v = x.new_zeros(*x.shape[:-1], self.slices[0].width)
        v[..., [n - 1 for n in self.inputs]] = x
        return v

    def resize(self, v: torch.Tensor, width: int) -> torch.Tensor:
        """Carry the state into a slice of another width: truncate, zero-pad or tile."""
        n = v.shape[-1]
        if width <= n:
            return v[..., :width]
        if self.circuit.resize == "tile":
            return v.repeat(*([1] * (v.ndim - 1)), -(-width // n))[..., :width]
        return F.pad(v, (0, width - n))

    @contextmanager
    def _guarded(self, dyn: SliceDynamics, where: str) -> Iterator[None]:
        dyn.guard = WorkGuard(self.solver, self.stats, where)
        try:
            with warnings.catch_warnings():  # fixed-step solvers ignore the step callbacks; that is fine
                warnings.filterwarnings("ignore", message="Solver .* does not support callbacks")
                yield
        except AssertionError as e:  # torchdiffeq's own checks (dt underflow, max steps)
            raise SolverError(f"solver failed in {where}: {e}. The circuit is probably stiff or exploding; "
                              "lower the gains or the read-out time, or use a fixed-step solver.") from e
        finally:
            dyn.guard = None

    def _solve(self, dyn: SliceDynamics, v0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        cfg = self.solver
        options: dict = {"step_size": cfg.step_size or dyn.duration / 20}
        if cfg.adaptive:
            # Step-size control sees detached errors: the accepted steps are what they are, and
            # back-propagating through the controller only costs time (and adds noise).
            options = {"norm": _detached_rms}
        kwargs = dict(rtol=cfg.rtol, atol=cfg.atol, method=cfg.method, options=options)
        where = f"slice {dyn.index}"
        if not (cfg.adjoint and torch.is_grad_enabled()):
            with self._guarded(dyn, where), dyn.frozen():
                out = torchdiffeq.odeint(dyn, v0, t, **kwargs)
        else:
            backward_options = {k: v for k, v in options.items() if k != "norm"}  # its state is a tuple
            with self._guarded(dyn, where):
                out = torchdiffeq.odeint_adjoint(dyn, v0, t, adjoint_params=tuple(dyn.parameters()),
                                                 adjoint_options=backward_options, **kwargs)
            # The adjoint's backward solve runs later, inside loss.backward(): guard it the same way.
            out = _GuardBackward.apply(out, self, dyn)
        check_finite(out[-1], where, self.boundaries[dyn.index + 1])
        return out

    # --- public API ------------------------------------------------------------------------------
    def final_state(self, x: torch.Tensor) -> torch.Tensor:
        """All node voltages of the last slice at T."""
        v = self.initial_state(x)
        for dyn in self.slices:
            v = self.resize(v, dyn.width)
            t = torch.tensor([0.0, dyn.duration], dtype=v.dtype)
            v = self._solve(dyn, v, t)[-1]
        return v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Read-out voltages v(T) at the output nodes, shape (batch, n_outputs)."""
        return self.final_state(x)[..., [n - 1 for n in self.outputs]]

    def trajectory(self, x: torch.Tensor, times: Sequence[float] | torch.Tensor) -> torch.Tensor:
        """Voltages of nodes 1..max_width at ``times`` across slices: (len(times), batch, max_width).

        Nodes a slice does not have are NaN. At a slice boundary the voltages are those at the end
        of the earlier slice (what a read-out at that instant samples).
        """
        times_np = np.asarray(torch.as_tensor(times, dtype=torch.float64).cpu(), dtype=np.float64).reshape(-1)
        bounds = self.boundaries
        if len(times_np) == 0 or times_np.min() < 0 or times_np.max() > bounds[-1] + 1e-12:
            raise ValueError(f"times: must lie in [0, {bounds[-1]:g}], got {times_np.min():g}..{times_np.max():g}")
        v = self.initial_state(x)
        width = max(d.width for d in self.slices)
        out = v.new_full((len(times_np), *v.shape[:-1], width), float("nan"))
        for i, dyn in enumerate(self.slices):
            v = self.resize(v, dyn.width)
            t0, t1 = bounds[i], bounds[i + 1]
            inside = (times_np >= t0) & (times_np <= t1) if i == 0 else (times_np > t0) & (times_np <= t1)
            local = np.unique(np.clip(np.concatenate([[0.0], times_np[inside] - t0, [dyn.duration]]),
                                      0.0, dyn.duration))
            local = local[np.concatenate([[True], np.diff(local) > 1e-12 * max(dyn.duration, 1.0)])]
            sol = self._solve(dyn, v, torch.as_tensor(local, dtype=v.dtype))
            for j in np.flatnonzero(inside):
                k = int(np.argmin(np.abs(local - (times_np[j] - t0))))
                out[j, ..., : dyn.width] = sol[k]
            v = sol[-1]
        return out

    def currents(self, v: torch.Tensor, slice_index: int = 0) -> torch.Tensor:
        """Current of every device of a slice at node voltages v, in the circuit's device order."""
        return self.slices[slice_index].currents(torch.as_tensor(v, dtype=self.dtype))

    def kcl_residual(self, v: torch.Tensor, slice_index: int = 0) -> torch.Tensor:
        """C dv/dt minus (currents in - currents out) summed device by device; ~0 when KCL holds."""
        dyn = self.slices[slice_index]
        v = torch.as_tensor(v, dtype=self.dtype)
        s = self.circuit.slices[slice_index]
        i = dyn.currents(v)
        acc = v.new_zeros(*v.shape[:-1], dyn.width + 1)
        acc.index_add_(-1, torch.as_tensor(s.dst), i)
        acc.index_add_(-1, torch.as_tensor(s.src), -i)
        c = 1.0 / dyn.inv_c
        return c * dyn(torch.tensor(0.0), v) - acc[..., 1:]

    def to_circuit(self) -> Circuit:
        """The circuit with the module's current (e.g. trained) parameters."""
        c = self.circuit.copy()
        for s, dyn in zip(c.slices, self.slices):
            params = np.zeros((s.num_devices, MAX_PARAMS))
            for k in dyn.kinds:
                rows = np.flatnonzero(s.kind == k)
                params[rows, : KINDS[k].n_params] = dyn.params[k].detach().cpu().double().numpy()
            s.params = params
        return c
