"""KirchhoffNet: a circuit as a torch module whose forward pass is the circuit's transient.

The KCL right-hand side is written once, in incidence form: C dv/dt = -B g(v). Every device family
is an activation of a linear map of the node voltages times a per-device scale,
I = act(v W + b) * s (e.g. ShiftTanh2: W = p0 S_src + p1 S_dst, b = p2; ShiftRelu1: W = S_src - S_dst,
b = -p0, s = p1). Folding s and 1/C into the incidence M, a dense slice is a two-layer network,
dv/dt = act(v W + b) @ M: two matmuls per evaluation, and parallel devices cost nothing extra. The
matrices are built once per solve when back-propagating directly. Wide slices (more than
NODE_MAJOR_WIDTH nodes) and circuits too big for dense matrices use gather / index_add with the laws
of ``devices`` instead; under the default dopri5 they run node-major, (width, batch), so every gather
moves whole batch rows. The default dopri5 is ``integrators.dopri5``; other methods and the adjoint
use torchdiffeq.
"""

from __future__ import annotations

import itertools
import warnings
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchdiffeq

from . import backprop, integrators
from .circuit import Circuit
from .devices import KINDS, LEAKY_SLOPE, MAX_PARAMS
from .solvers import GuardedDynamics, SolverConfig, SolverError, SolverStats, WorkGuard, check_finite

DENSE_LIMIT = 4_000_000  # width * devices above which a slice uses gather/scatter
# Wider slices integrate node-major with gather / index_add: a dense product costs ~width
# multiply-adds per device and sample, a gather a fixed handful of passes (measured crossover
# 32-48 nodes on 2 CPU cores).
NODE_MAJOR_WIDTH = 40

Act = Callable[[torch.Tensor], torch.Tensor]
_AFFINE = ("ShiftTanh2", "ShiftRelu2", "ShiftLeakyRelu2")  # act(p0 v_s + p1 v_d + p2)


def _lrelu(u: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(u, LEAKY_SLOPE)


def _identity(u: torch.Tensor) -> torch.Tensor:
    return u


def _linear_form(kind: str, p: torch.Tensor, sel: tuple[torch.Tensor, ...]
                 ) -> tuple[Act, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """(act, W, b, s) with I = act(v @ W + b) * s. ``sel`` is (S_src, S_dst) for the affine
    families and (S_src - S_dst,) for those that only see the voltage drop."""
    if kind in _AFFINE:
        act = {"ShiftTanh2": torch.tanh, "ShiftRelu2": F.relu, "ShiftLeakyRelu2": _lrelu}[kind]
        return act, p[:, 0] * sel[0] + p[:, 1] * sel[1], p[:, 2], None
    diff = sel[0]
    if kind == "ShiftTanh1":
        return torch.tanh, p[:, 1] * diff, p[:, 0], None
    if kind == "ShiftRelu1":
        return F.relu, diff, -p[:, 0], p[:, 1]
    if kind == "ShiftLeakyRelu1":
        return _lrelu, diff, -p[:, 0], p[:, 1]
    if kind == "Conductance":
        return _identity, p[:, 0] * diff, None, None
    if kind == "TanhResistor":
        return torch.tanh, p[:, 1].abs() * diff, None, p[:, 0].abs()
    raise KeyError(kind)


# The activations the hand-written backward pass knows (``backprop``); a family with another one
# falls back to autograd through the integrator.
_ACT_NAMES = {torch.tanh: "tanh", F.relu: "relu", _lrelu: "lrelu", _identity: "identity"}


def _edge_form(kind: str, p: torch.Tensor) -> tuple[Act, torch.Tensor | None, torch.Tensor | None,
                                                    torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """The linear form per device, u_e = alpha_e v_src + beta_e v_dst + b_e (or w_e (v_src - v_dst) + b_e
    for the families that see only the drop): (act, alpha, beta, w, b, s), read off ``_linear_form``
    with unit selectors (W is linear in them). w None with alpha None: unit gain."""
    one, zero = p.new_ones(len(p)), p.new_zeros(len(p))
    if kind in _AFFINE:
        act, alpha, b, s = _linear_form(kind, p, (one, zero))
        return act, alpha, _linear_form(kind, p, (zero, one))[1], None, b, s
    act, w, b, s = _linear_form(kind, p, (one,))
    return act, None, None, (None if w is one else w), b, s


def _detached_rms(x: torch.Tensor) -> torch.Tensor:
    return x.detach().pow(2).mean().sqrt()


class SliceDynamics(GuardedDynamics, nn.Module):
    """dv/dt of one time slice; devices grouped by kind, parameters one tensor per kind."""

    def __init__(self, circuit: Circuit, index: int):
        super().__init__()
        s = circuit.slices[index]
        self.index = index
        self.width = circuit.width(index)
        self.duration = float(s.duration)
        self.dense = self.width * max(s.num_devices, 1) <= DENSE_LIMIT
        self.node_major = not self.dense or self.width > NODE_MAJOR_WIDTH
        self.kinds: list[str] = sorted(set(s.kind.tolist()))
        self.params = nn.ParameterDict()
        rows = [np.flatnonzero(s.kind == k) for k in self.kinds]
        for k, r in zip(self.kinds, rows):
            self.params[k] = nn.Parameter(torch.tensor(s.params[r, : KINDS[k].n_params]))
            self._add_index(k, s.src[r], s.dst[r])
        inv_c = 1.0 / circuit.capacitances(self.width)
        order = np.concatenate(rows) if rows else np.zeros(0, int)
        if self.dense:  # net current into each node (+I at dst, -I at src) divided by C, kind-grouped rows
            inc = np.zeros((len(order), self.width + 1))
            inc[np.arange(len(order)), s.dst[order]] += 1.0
            inc[np.arange(len(order)), s.src[order]] -= 1.0
            self.register_buffer("inc", torch.as_tensor(inc[:, 1:] * inv_c), persistent=False)
        # Position of each circuit device in the concatenated (kind-grouped) current vector.
        self.register_buffer("order", torch.as_tensor(order), persistent=False)
        self.register_buffer("inv_c", torch.as_tensor(inv_c), persistent=False)
        self.guard: WorkGuard | None = None
        self._frozen: backprop.DenseRate | None = None
        self._patterns: dict = {}  # per kind and device: the parts of the fast rates that never change
        # Every family's activation is one ``backprop`` knows, so its rates and backward pass apply.
        self.lean = all(_linear_form(k, self.params[k][:0], (self.params[k][:0, 0],) * 2)[0] in _ACT_NAMES
                        for k in self.kinds)

    def _add_index(self, k: str, src: np.ndarray, dst: np.ndarray) -> None:
        E, n = len(src), self.width
        self.register_buffer(f"src_{k}", torch.as_tensor(src), persistent=False)
        self.register_buffer(f"dst_{k}", torch.as_tensor(dst), persistent=False)
        if not self.dense:
            return
        # One-hot selectors without the ground row (ground is 0 V, so it contributes nothing).
        s_src = np.zeros((n + 1, E))
        s_dst = np.zeros((n + 1, E))
        s_src[src, np.arange(E)] = 1.0
        s_dst[dst, np.arange(E)] = 1.0
        if k in _AFFINE:
            self.register_buffer(f"sel0_{k}", torch.as_tensor(s_src[1:]), persistent=False)
            self.register_buffer(f"sel1_{k}", torch.as_tensor(s_dst[1:]), persistent=False)
        else:
            self.register_buffer(f"sel0_{k}", torch.as_tensor((s_src - s_dst)[1:]), persistent=False)

    def _buf(self, name: str, k: str) -> torch.Tensor:
        return getattr(self, f"{name}_{k}")

    def _selectors(self, k: str) -> tuple[torch.Tensor, ...]:
        return (self._buf("sel0", k), self._buf("sel1", k)) if k in _AFFINE else (self._buf("sel0", k),)

    def _dense_terms(self) -> list[tuple]:
        """Per kind (act, W, b, s)."""
        return [_linear_form(k, self.params[k], self._selectors(k)) for k in self.kinds]

    def dense_rate(self) -> backprop.DenseRate:
        """The dense rate, matrices built from the current parameters (keeps the autograd graph);
        the scatter matrices of families without a learned scale are kept between solves."""
        terms, off = [], 0
        for k, (fn, w, b, s) in zip(self.kinds, self._dense_terms()):
            act, m = backprop.ACTS[_ACT_NAMES[fn]], self.inc[off: off + w.shape[1]]
            off += w.shape[1]
            if s is None:
                key = (k, id(self.inc), self.inc.data_ptr())
                if key not in self._patterns:
                    self._patterns[key] = backprop.DenseTerm.scatter(act, m, None)
                scatter = self._patterns[key]
            else:
                scatter = backprop.DenseTerm.scatter(act, m, s)
            terms.append(backprop.DenseTerm(act, w, b, s, m, *scatter))
        return backprop.DenseRate(terms, self.width)

    def _bag_pattern(self, k: str, device: torch.device) -> tuple[torch.Tensor, ...]:
        """The static half of a kind's node-major gathers on ``device``: (pair: src, dst of every
        device interleaved; pair_starts; drop weights -1, +1, ...; bags: device indices node by
        node (ground dropped), entries at dst then at src, ordered by node then device;
        bag_starts; ``take``: the entries of [values at dst (E), values at src (E)] in bag order)."""
        key = (k, str(device))
        if key not in self._patterns:
            src, dst = self._buf("src", k).to(device), self._buf("dst", k).to(device)
            e = torch.arange(len(src), device=device)
            rows = torch.cat([dst[dst > 0], src[src > 0]]) - 1
            perm = torch.argsort(rows * max(len(src), 1) + torch.cat([e[dst > 0], e[src > 0]]), stable=True)
            starts = F.pad(torch.bincount(rows, minlength=self.width).cumsum(0)[:-1], (1, 0))
            bags = torch.cat([e[dst > 0], e[src > 0]])[perm]
            take = torch.cat([e[dst > 0], len(src) + e[src > 0]])[perm]
            drop = torch.tensor([-1.0, 1.0], dtype=self.inv_c.dtype, device=device).repeat(len(src))
            self._patterns[key] = (torch.stack([src, dst], 1).reshape(-1), e * 2, drop, bags, starts, take)
        return self._patterns[key]

    def edge_rate(self) -> backprop.EdgeRate:
        """The node-major rate (two weighted gathers per kind, ``backprop.EdgeRate``) from the current
        parameters; its weight tensors are detached: only ``backprop``'s own backward uses them."""
        terms = []
        ic = F.pad(self.inv_c, (1, 0))  # 0 for ground: its rows drop out
        for k in self.kinds:
            fn, alpha, beta, w, b, s = _edge_form(k, self.params[k])
            act = backprop.ACTS[_ACT_NAMES[fn]]
            alpha, beta, w, b = (None if x is None else x * act.gain if act.gain != 1.0 else x
                                 for x in (alpha, beta, w, b))
            pair, pair_starts, drop, bags, starts, take = self._bag_pattern(k, ic.device)
            src, dst = pair[0::2], pair[1::2]

            def at_nodes(at_dst: torch.Tensor, at_src: torch.Tensor) -> torch.Tensor:
                return torch.cat([at_dst.expand(len(src)), at_src.expand(len(src))]).index_select(0, take)

            with torch.no_grad():
                q = ic.new_ones(len(src)) if s is None else s.detach()
                scatter_w = at_nodes(act.scale * q * ic[dst], -act.scale * q * ic[src])
                bias = None if act.shift == 0.0 else \
                    (ic.new_zeros(len(ic)).index_add_(0, dst, q).index_add_(0, src, -q) * ic * act.shift)[1:, None]
                if alpha is None:
                    gain = ic.new_full((len(src),), act.gain) if w is None else w.detach()
                    a_src, a_dst = gain, -gain
                else:
                    a_src, a_dst = alpha.detach(), beta.detach()
                pair_w = torch.stack([a_src.expand(len(src)), a_dst.expand(len(src))], 1).reshape(-1)
                gather_t_w = at_nodes(a_dst, a_src)
            terms.append(backprop.EdgeTerm(act, pair, pair_starts, pair_w, drop.to(ic.dtype), alpha, beta, w, b, s,
                                           bags, starts, scatter_w, gather_t_w, bias))
        return backprop.EdgeRate(terms, self.width, self.inv_c)

    def lean_rate(self) -> backprop.DenseRate | backprop.EdgeRate:
        """The rate ``backprop`` integrates: dense for narrow slices, node-major for wide ones."""
        return self.edge_rate() if self.node_major else self.dense_rate()

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Build the dense matrices once for a whole solve (parameters do not change inside it)."""
        self._frozen = self.dense_rate() if self.dense and self.lean else None
        try:
            yield
        finally:
            self._frozen = None

    def _dense_currents(self, v: torch.Tensor, terms) -> torch.Tensor:
        """All device currents, kind-grouped, shape (..., E)."""
        flat = v.reshape(-1, self.width)
        out = []
        for act, w, b, scale in terms:
            i = act(flat @ w if b is None else torch.addmm(b, flat, w))
            out.append(i if scale is None else i * scale)
        if not out:  # a slice without devices: every node holds its voltage
            return v.new_zeros(*v.shape[:-1], 0)
        return (out[0] if len(out) == 1 else torch.cat(out, dim=-1)).reshape(*v.shape[:-1], -1)

    def forward(self, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if self.dense and self.lean:
            dv = (self._frozen or self.dense_rate())(v)[0]
        elif self.dense:
            dv = self._dense_currents(v, self._dense_terms()) @ self.inc
        else:
            acc = v.new_zeros(*v.shape[:-1], self.width + 1)
            for k, i in zip(self.kinds, self._sparse_currents(v)):
                acc = acc.index_add(-1, self._buf("dst", k), i).index_add(-1, self._buf("src", k), -i)
            dv = acc[..., 1:] * self.inv_c
        if self.guard is not None:
            self.guard.tick(t)
        return dv

    def forward_node_major(self, t: float, vt: torch.Tensor) -> torch.Tensor:
        """dv/dt with the state laid out (width, batch): gathers and index_add then move whole
        rows of the batch, the cheap way round for wide slices (see NODE_MAJOR_WIDTH)."""
        vf = F.pad(vt, (0, 0, 1, 0))  # ground row
        acc = vt.new_zeros(self.width + 1, vt.shape[1])
        for k in self.kinds:
            src, dst = self._buf("src", k), self._buf("dst", k)
            i = KINDS[k].current(vf.index_select(0, src), vf.index_select(0, dst), self.params[k].unsqueeze(1))
            acc = acc.index_add(0, dst, i).index_add(0, src, i, alpha=-1)
        dv = acc[1:] * self.inv_c.unsqueeze(1)
        if self.guard is not None:
            self.guard.tick(t)
        return dv

    def _sparse_currents(self, v: torch.Tensor) -> list[torch.Tensor]:
        vfull = F.pad(v, (1, 0))
        return [KINDS[k].current(vfull[..., self._buf("src", k)], vfull[..., self._buf("dst", k)], self.params[k])
                for k in self.kinds]

    def currents(self, v: torch.Tensor) -> torch.Tensor:
        """Every device's current in circuit order, shape (..., E)."""
        if not self.kinds:
            return v.new_zeros(*v.shape[:-1], 0)
        cat = self._dense_currents(v, self._dense_terms()) if self.dense else \
            torch.cat(self._sparse_currents(v), dim=-1)
        out = torch.empty_like(cat)
        out[..., self.order] = cat
        return out


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


def resize_state(v: torch.Tensor, width: int, mode: str) -> torch.Tensor:
    """Carry node voltages into a slice of another width: truncate, zero-pad ("pad") or tile ("tile").
    The one rule for the model, the chip and the SPICE chain, so their slices hand over alike."""
    n = v.shape[-1]
    if width <= n:
        return v[..., :width]
    if mode == "tile":
        return v.repeat(*([1] * (v.ndim - 1)), -(-width // n))[..., :width]
    return F.pad(v, (0, width - n))


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
        self._dtype = dtype
        self._boundaries = tuple([0.0] + np.cumsum([d.duration for d in self.slices]).tolist())
        self.to(dtype)

    # --- plumbing --------------------------------------------------------------------------------
    @property
    def dtype(self) -> torch.dtype:
        """The floating type of the parameters, so inputs follow ``.double()`` / ``.to(dtype)``."""
        for t in itertools.chain(self.parameters(), self.buffers()):
            if t.is_floating_point():
                return t.dtype
        return self._dtype

    @property
    def device(self) -> torch.device:
        """Where the parameters live; inputs are moved there."""
        for t in itertools.chain(self.parameters(), self.buffers()):
            return t.device
        return torch.device("cpu")

    @property
    def boundaries(self) -> list[float]:
        """Slice boundary times [0, t1, ..., T]."""
        return list(self._boundaries)

    @property
    def t_end(self) -> float:
        return self.boundaries[-1]

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        """Charge the input nodes to x (other nodes start at 0 V)."""
        x = torch.as_tensor(x, dtype=self.dtype, device=self.device)
        if x.ndim == 1:
            x = x.unsqueeze(0)
        if x.shape[-1] != len(self.inputs):
            raise ValueError(f"inputs: expected {len(self.inputs)} value(s) per sample (input nodes "
                             f"{self.inputs}), got {x.shape[-1]}")
        if not torch.isfinite(x).all():
            raise ValueError("inputs: contain NaN or infinity; give finite voltages")
        width = self.slices[0].width
        if self.inputs == list(range(1, len(self.inputs) + 1)):  # nodes 1..k: pad with zeros
            return F.pad(x, (0, width - x.shape[-1]))
        v = x.new_zeros(*x.shape[:-1], width)
        v[..., [n - 1 for n in self.inputs]] = x
        return v

    def resize(self, v: torch.Tensor, width: int) -> torch.Tensor:
        """Carry the state into a slice of another width (the circuit's ``resize`` rule)."""
        return resize_state(v, width, self.circuit.resize)

    @contextmanager
    def _guarded(self, dyn: SliceDynamics, where: str) -> Iterator[None]:
        dyn.guard = WorkGuard(self.solver, self.stats, where)
        try:
            if self.solver.method == "dopri5":
                yield
                return
            with warnings.catch_warnings():  # fixed-step solvers ignore the step callbacks; that is fine
                warnings.filterwarnings("ignore", message="Solver .* does not support callbacks")
                yield
        except AssertionError as e:  # torchdiffeq's own checks (dt underflow, max steps)
            raise SolverError(f"solver failed in {where}: {e}. The circuit is probably stiff or exploding; "
                              "lower the gains or the read-out time, or use a fixed-step solver.") from e
        finally:
            dyn.guard = None

    def new_budget(self) -> backprop.Budget | None:
        """What one forward pass may keep for direct back-propagation (``SolverConfig.grad``)."""
        grad = self.solver.grad
        if grad == "checkpoint":
            return backprop.Budget(0)
        return backprop.Budget(self.solver.grad_memory_gb * 2**30) if grad == "auto" else None

    def _lean_solve(self, dyn: SliceDynamics, v0: torch.Tensor, times: list[float],
                    budget: backprop.Budget | None) -> torch.Tensor:
        cfg, where = self.solver, f"slice {dyn.index}"
        budget = self.new_budget() if budget is None else budget
        rate = dyn.lean_rate()
        if dyn.node_major:  # (width, batch): gathers move whole rows of the batch
            y0 = v0.reshape(-1, dyn.width).t().contiguous()
            out = backprop.solve(rate, y0, times, cfg.rtol, cfg.atol, self.stats, where, dyn.guard.tick, budget)
            return out.transpose(1, 2).reshape(len(times), *v0.shape)
        return backprop.solve(rate, v0, times, cfg.rtol, cfg.atol, self.stats, where, dyn.guard.tick, budget)

    def _solve(self, dyn: SliceDynamics, v0: torch.Tensor, t: torch.Tensor,
               budget: backprop.Budget | None = None) -> torch.Tensor:
        cfg = self.solver
        options: dict = {"step_size": cfg.step_size or dyn.duration / 20}
        if cfg.adaptive:
            # Step-size control sees detached errors: the accepted steps are what they are, and
            # back-propagating through the controller only costs time (and adds noise).
            # Time-like quantities in the state's dtype: no float64 round trips on every step.
            options = {"norm": _detached_rms, "dtype": v0.dtype}
        kwargs = dict(rtol=cfg.rtol, atol=cfg.atol, method=cfg.method, options=options)
        where = f"slice {dyn.index}"
        if cfg.method == "dopri5" and not (cfg.adjoint and torch.is_grad_enabled()):
            # Our own lean dopri5 (kirchhoff_core.integrators), back-propagated directly.
            times = t.tolist()
            if dyn.lean:  # the fast rates, and a hand-written backward pass (kirchhoff_core.backprop)
                with self._guarded(dyn, where):
                    out = self._lean_solve(dyn, v0, times, budget)
            elif dyn.node_major:
                with self._guarded(dyn, where):
                    vt = v0.reshape(-1, dyn.width).t().contiguous()
                    out = integrators.dopri5(dyn.forward_node_major, vt, times, cfg.rtol, cfg.atol, self.stats, where)
                out = out.transpose(1, 2).reshape(len(times), *v0.shape)
            else:
                with self._guarded(dyn, where), dyn.frozen():
                    out = integrators.dopri5(dyn, v0, times, cfg.rtol, cfg.atol, self.stats, where)
        elif not (cfg.adjoint and torch.is_grad_enabled()):
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
        budget = self.new_budget()
        for dyn in self.slices:
            v = self.resize(v, dyn.width)
            t = torch.tensor([0.0, dyn.duration], dtype=v.dtype, device=v.device)
            v = self._solve(dyn, v, t, budget)[-1]
        return v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Read-out voltages v(T) at the output nodes, shape (batch, n_outputs)."""
        v, first = self.final_state(x), self.outputs[0]
        if self.outputs == list(range(first, first + len(self.outputs))):  # consecutive nodes: a view
            return v[..., first - 1: first - 1 + len(self.outputs)]
        return v[..., [n - 1 for n in self.outputs]]

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
            sol = self._solve(dyn, v, torch.as_tensor(local, dtype=v.dtype, device=v.device))
            for j in np.flatnonzero(inside):
                k = int(np.argmin(np.abs(local - (times_np[j] - t0))))
                out[j, ..., : dyn.width] = sol[k]
            v = sol[-1]
        return out

    def segments(self, x: torch.Tensor, points_per_slice: int = 100) -> list[tuple[np.ndarray, torch.Tensor]]:
        """Per slice: local times (points_per_slice + 1 from 0 to its duration) and the node voltages
        there, (times, batch, slice width), starting from the resized state carried in."""
        v = self.initial_state(x)
        out = []
        for dyn in self.slices:
            v = self.resize(v, dyn.width)
            ts = np.linspace(0.0, dyn.duration, points_per_slice + 1)
            sol = self._solve(dyn, v, torch.as_tensor(ts, dtype=v.dtype, device=v.device))
            out.append((ts, sol))
            v = sol[-1]
        return out

    def currents(self, v: torch.Tensor, slice_index: int = 0) -> torch.Tensor:
        """Current of every device of a slice at node voltages v, in the circuit's device order."""
        return self.slices[slice_index].currents(torch.as_tensor(v, dtype=self.dtype, device=self.device))

    def kcl_residual(self, v: torch.Tensor, slice_index: int = 0) -> torch.Tensor:
        """C dv/dt minus (currents in - currents out) summed device by device; ~0 when KCL holds."""
        dyn = self.slices[slice_index]
        v = torch.as_tensor(v, dtype=self.dtype, device=self.device)
        s = self.circuit.slices[slice_index]
        i = dyn.currents(v)
        acc = v.new_zeros(*v.shape[:-1], dyn.width + 1)
        acc.index_add_(-1, torch.as_tensor(s.dst, device=v.device), i)
        acc.index_add_(-1, torch.as_tensor(s.src, device=v.device), -i)
        c = 1.0 / dyn.inv_c
        return c * dyn(v.new_zeros(()), v) - acc[..., 1:]

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
