"""KirchhoffNet: a circuit as a torch module whose forward pass is the circuit's transient.

The KCL right-hand side is written once, in incidence form: C dv/dt = -B g(v). Every device family
is an activation of a linear map of the node voltages times a per-device scale,
I = act(v W + b) * s (e.g. ShiftTanh2: W = p0 S_src + p1 S_dst, b = p2; ShiftRelu1: W = S_src - S_dst,
b = -p0, s = p1; each family's record in ``devices`` says which). Folding 1/C into the incidence M,
a dense slice is a two-layer network, dv/dt = (act(v W + b) * s) @ M: two matmuls per evaluation,
and parallel devices cost nothing extra. The matrices are built once per solve when
back-propagating directly. Wide slices (more than NODE_MAJOR_WIDTH nodes) and circuits too big for
dense matrices use gather / index_add with the laws of ``devices`` instead; under the default
dopri5 they run node-major, (width, batch), so every gather moves whole batch rows, with each
family's coefficients also taken once per solve. The default dopri5 is ``integrators.dopri5``;
other methods and the adjoint use torchdiffeq.
"""

from __future__ import annotations

import itertools
import warnings
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchdiffeq

from . import backprop, integrators
from .circuit import Circuit
from .devices import KINDS, MAX_PARAMS, DeviceKind
from .limits import MAX_STATE_VALUES
from .solvers import (GuardedDynamics, SolverConfig, SolverError, SolverStats, WorkGuard, check_finite,
                      check_fixed_grid, finite_norm, work_budget)

DENSE_LIMIT = 4_000_000  # width * devices above which a slice uses gather/scatter
# Wider slices integrate node-major with gather / index_add: a dense product costs ~width
# multiply-adds per device and sample, a gather a fixed handful of passes (measured crossover
# 32-48 nodes on 2 CPU cores).
NODE_MAJOR_WIDTH = 40


def _edge_form(record: DeviceKind, p: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    """A family's linear form per device for ``backprop.EdgeRate``: (alpha, beta, w, b, s) with
    u_e = alpha_e v_src + beta_e v_dst + b_e (affine families) or w_e (v_src - v_dst) + b_e (drop
    families; w None: unit gain), read off the record's coefficients."""
    w, b, s = record.coefficients(p)
    if record.inputs == "affine":
        alpha, beta = (p.new_ones(len(p)) if c is None else c for c in w)
        return alpha, beta, None, b, s
    return None, None, w[0], b, s


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
        self.records: dict[str, DeviceKind] = {k: KINDS[k] for k in self.kinds}  # each family's law and forms
        self.params = nn.ParameterDict()
        rows = [np.flatnonzero(s.kind == k) for k in self.kinds]
        for k, r in zip(self.kinds, rows):
            self.params[k] = nn.Parameter(torch.tensor(s.params[r, : self.records[k].n_params]))
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
        self._frozen: backprop.DenseRate | list[tuple] | None = None
        self._frozen_coefficients: list[tuple] | None = None
        self._patterns: dict = {}  # per kind and device: the parts of the fast rates that never change
        # Every family's activation is one ``backprop`` knows, so its rates and backward pass apply;
        # a family registered with another activation integrates through autograd instead.
        self.lean = all(self.records[k].act.name in backprop.ACTS for k in self.kinds)

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
        for j, sel in enumerate(self.records[k].selectors(s_src[1:], s_dst[1:])):
            self.register_buffer(f"sel{j}_{k}", torch.as_tensor(sel), persistent=False)

    def _buf(self, name: str, k: str) -> torch.Tensor:
        return getattr(self, f"{name}_{k}")

    def _selectors(self, k: str) -> tuple[torch.Tensor, ...]:
        return (self._buf("sel0", k), self._buf("sel1", k)) if self.records[k].inputs == "affine" else \
            (self._buf("sel0", k),)

    def _dense_terms(self) -> list[tuple]:
        """Per kind (act, W, b, s): the family's dense form over this slice's selectors."""
        return [self.records[k].dense_form(self.params[k], self._selectors(k)) for k in self.kinds]

    def _node_major_coefficients(self) -> list[tuple]:
        """Per kind the family's coefficients, shaped to broadcast over (devices, batch)."""
        return [self.records[k].coefficients(self.params[k].unsqueeze(1)) for k in self.kinds]

    def dense_rate(self) -> backprop.DenseRate:
        """The dense rate, matrices built from the current parameters (keeps the autograd graph);
        the scatter matrices of families without a learned scale are kept between solves."""
        terms, off = [], 0
        for k, (fn, w, b, s) in zip(self.kinds, self._dense_terms()):
            act, m = backprop.ACTS[self.records[k].act.name], self.inc[off: off + w.shape[1]]
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
        device interleaved; pair_starts; bags: device indices node by node (ground dropped), entries
        at dst then at src, ordered by node then device; bag_starts; ``take``: the entries of
        [values at dst (E), values at src (E)] in bag order)."""
        key = (k, str(device))
        if key not in self._patterns:
            src, dst = self._buf("src", k).to(device), self._buf("dst", k).to(device)
            e = torch.arange(len(src), device=device)
            rows = torch.cat([dst[dst > 0], src[src > 0]]) - 1
            perm = torch.argsort(rows * max(len(src), 1) + torch.cat([e[dst > 0], e[src > 0]]), stable=True)
            starts = F.pad(torch.bincount(rows, minlength=self.width).cumsum(0)[:-1], (1, 0))
            bags = torch.cat([e[dst > 0], e[src > 0]])[perm]
            take = torch.cat([e[dst > 0], len(src) + e[src > 0]])[perm]
            self._patterns[key] = (torch.stack([src, dst], 1).reshape(-1), e * 2, bags, starts, take)
        return self._patterns[key]

    def edge_rate(self) -> backprop.EdgeRate:
        """The node-major rate (two weighted gathers per kind, ``backprop.EdgeRate``) from the current
        parameters; its weight tensors are detached: only ``backprop``'s own backward uses them."""
        terms = []
        ic = F.pad(self.inv_c, (1, 0))  # 0 for ground: its rows drop out
        for k in self.kinds:
            alpha, beta, w, b, s = _edge_form(self.records[k], self.params[k])
            act = backprop.ACTS[self.records[k].act.name]
            alpha, beta, w, b = (None if x is None else x * act.gain if act.gain != 1.0 else x
                                 for x in (alpha, beta, w, b))
            pair, pair_starts, bags, starts, take = self._bag_pattern(k, ic.device)
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
                gather_q_w = at_nodes(a_dst * q * act.scale, a_src * q * act.scale)
                drop_c = torch.stack([-ic[src], ic[dst]], 1).reshape(-1)
            terms.append(backprop.EdgeTerm(act, pair, pair_starts, pair_w, drop_c, alpha, beta, w, b, s,
                                           bags, starts, scatter_w, gather_t_w, gather_q_w, bias))
        return backprop.EdgeRate(terms, self.width)

    def lean_rate(self) -> backprop.DenseRate | backprop.EdgeRate:
        """The rate ``backprop`` integrates: dense for narrow slices, node-major for wide ones."""
        return self.edge_rate() if self.node_major else self.dense_rate()

    @contextmanager
    def frozen(self, node_major: bool = False) -> Iterator[None]:
        """Build what the right-hand side needs once for a whole solve (parameters do not change
        inside it): the dense rate (or, for other families, matrices), or the node-major coefficients."""
        if node_major:
            self._frozen_coefficients = self._node_major_coefficients()
        elif self.dense:
            self._frozen = self.dense_rate() if self.lean else self._dense_terms()
        try:
            yield
        finally:
            self._frozen, self._frozen_coefficients = None, None

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
            dv = self._dense_currents(v, self._frozen or self._dense_terms()) @ self.inc
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
        for k, coefficients in zip(self.kinds, self._frozen_coefficients or self._node_major_coefficients()):
            src, dst = self._buf("src", k), self._buf("dst", k)
            i = self.records[k].current_from(vf.index_select(0, src), vf.index_select(0, dst), coefficients)
            acc = acc.index_add(0, dst, i).index_add(0, src, i, alpha=-1)
        dv = acc[1:] * self.inv_c.unsqueeze(1)
        if self.guard is not None:
            self.guard.tick(t)
        return dv

    def _sparse_currents(self, v: torch.Tensor) -> list[torch.Tensor]:
        vfull = F.pad(v, (1, 0))
        return [self.records[k].current(vfull[..., self._buf("src", k)], vfull[..., self._buf("dst", k)],
                                        self.params[k]) for k in self.kinds]

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


def _check_state_size(points: int, v: torch.Tensor, width: int) -> None:
    """Refuse, before allocating, an output of time points x batch x nodes beyond MAX_STATE_VALUES."""
    values = points * max(v[..., 0].numel(), 1) * width
    if values > MAX_STATE_VALUES:
        raise ValueError(f"times: {points:,} time points x {max(v[..., 0].numel(), 1):,} sample(s) x {width:,} "
                         f"nodes is {values:,} values; the limit is {MAX_STATE_VALUES:,} (ask for fewer times "
                         "or a smaller batch)")


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
    def guarded(self, dyn: SliceDynamics, where: str) -> Iterator[None]:
        """Every evaluation of ``dyn`` inside counts against ``max_nfe``, the time-out and the enclosing
        work budget; a solver's own failure becomes a SolverError naming ``where``."""
        dyn.guard = WorkGuard(self.solver, self.stats, where)
        try:
            if self.solver.method == "dopri5":
                yield
                return
            with warnings.catch_warnings():  # fixed-step solvers ignore the step callbacks; that is fine
                warnings.filterwarnings("ignore", message="Solver .* does not support callbacks")
                yield
        except (AssertionError, ZeroDivisionError, OverflowError) as e:  # torchdiffeq's own checks (dt underflow)
            raise SolverError(f"solver failed in {where}: {e}. The circuit is probably stiff or exploding; "
                              "lower the gains or the read-out time, or use a fixed-step solver.") from e
        finally:
            dyn.guard = None

    def memory_budget(self) -> backprop.MemoryBudget | None:
        """What one forward pass may keep for direct back-propagation (``SolverConfig.grad``)."""
        grad = self.solver.grad
        if grad == "checkpoint":
            return backprop.MemoryBudget(0)
        return backprop.MemoryBudget(self.solver.grad_memory_gb * 2**30) if grad == "auto" else None

    def _lean_solve(self, dyn: SliceDynamics, v0: torch.Tensor, times: list[float],
                    memory: backprop.MemoryBudget | None) -> torch.Tensor:
        cfg, where = self.solver, f"slice {dyn.index}"
        memory = self.memory_budget() if memory is None else memory
        rate = dyn.lean_rate()
        if dyn.node_major:  # (width, batch): gathers move whole rows of the batch
            y0 = v0.reshape(-1, dyn.width).t().contiguous()
            out = backprop.solve(rate, y0, times, cfg.rtol, cfg.atol, self.stats, where, dyn.guard.tick, memory,
                                 node_axis=0)
            return out.transpose(1, 2).reshape(len(times), *v0.shape)
        return backprop.solve(rate, v0, times, cfg.rtol, cfg.atol, self.stats, where, dyn.guard.tick, memory)

    def _solve(self, dyn: SliceDynamics, v0: torch.Tensor, t: torch.Tensor,
               memory: backprop.MemoryBudget | None = None) -> torch.Tensor:
        cfg = self.solver
        where = f"slice {dyn.index}"
        if cfg.adaptive:
            # Step-size control sees detached errors: the accepted steps are what they are, and
            # back-propagating through the controller only costs time (and adds noise).
            # Time-like quantities in the state's dtype: no float64 round trips on every step.
            options: dict = {"norm": finite_norm(_detached_rms, where), "dtype": v0.dtype}
        else:
            options = {"step_size": check_fixed_grid(cfg, dyn.duration, where)}
        kwargs = dict(rtol=cfg.rtol, atol=cfg.atol, method=cfg.method, options=options)
        if cfg.method == "dopri5" and not (cfg.adjoint and torch.is_grad_enabled()):
            # Our own lean dopri5 (kirchhoff_core.integrators), back-propagated directly.
            times = t.tolist()
            if dyn.lean:  # the fast rates, and a hand-written backward pass (kirchhoff_core.backprop)
                with self.guarded(dyn, where):
                    out = self._lean_solve(dyn, v0, times, memory)
            elif dyn.node_major:
                with self.guarded(dyn, where), dyn.frozen(node_major=True):
                    vt = v0.reshape(-1, dyn.width).t().contiguous()
                    out = integrators.dopri5(dyn.forward_node_major, vt, times, cfg.rtol, cfg.atol, self.stats, where,
                                             node_axis=0)
                out = out.transpose(1, 2).reshape(len(times), *v0.shape)
            else:
                with self.guarded(dyn, where), dyn.frozen():
                    out = integrators.dopri5(dyn, v0, times, cfg.rtol, cfg.atol, self.stats, where)
        elif not (cfg.adjoint and torch.is_grad_enabled()):
            with self.guarded(dyn, where), dyn.frozen():
                out = torchdiffeq.odeint(dyn, v0, t, **kwargs)
        else:
            backward_options = {k: v for k, v in options.items() if k != "norm"}  # its state is a tuple
            with self.guarded(dyn, where):
                out = torchdiffeq.odeint_adjoint(dyn, v0, t, adjoint_params=tuple(dyn.parameters()),
                                                 adjoint_options=backward_options, **kwargs)
            # The adjoint's backward solve runs later, inside loss.backward(): guard it the same way.
            out = _GuardBackward.apply(out, self, dyn)
        check_finite(out[-1], where, self.boundaries[dyn.index + 1])
        return out

    # --- public API ------------------------------------------------------------------------------
    def final_state(self, x: torch.Tensor) -> torch.Tensor:
        """All node voltages of the last slice at T. All slices share one work budget (the
        enclosing ``work_budget``, or this call's own)."""
        v = self.initial_state(x)
        memory = self.memory_budget()
        with work_budget(self.solver, "this forward pass"):
            for dyn in self.slices:
                v = self.resize(v, dyn.width)
                t = torch.tensor([0.0, dyn.duration], dtype=v.dtype, device=v.device)
                v = self._solve(dyn, v, t, memory)[-1]
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
        if len(times_np) == 0:
            raise ValueError("times: give at least one time")
        if not np.isfinite(times_np).all() or times_np.min() < 0 or times_np.max() > bounds[-1] + 1e-12:
            raise ValueError(f"times: must be finite and lie in [0, {bounds[-1]:g}], got "
                             f"{times_np.min():g}..{times_np.max():g}")
        v = self.initial_state(x)
        width = max(d.width for d in self.slices)
        _check_state_size(len(times_np), v, width)
        out = v.new_full((len(times_np), *v.shape[:-1], width), float("nan"))
        with work_budget(self.solver, "this trajectory"):
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
        _check_state_size((points_per_slice + 1) * len(self.slices), v, max(d.width for d in self.slices))
        out = []
        with work_budget(self.solver, "this trajectory"):
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
                params[rows, : dyn.records[k].n_params] = dyn.params[k].detach().cpu().double().numpy()
            s.params = params
        return c
