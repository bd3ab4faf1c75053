"""The slice right-hand side written for speed, and back-propagation through the lean dopri5 by hand.

Every device family is ``I = act(u) s`` with ``u`` linear in the node voltages (``model``'s linear
form), so a slice's rate is "gather (or multiply), activate, scatter (or multiply)", and its
vector-Jacobian product is short enough to write out. Two layouts of that rate:

- ``DenseRate`` (narrow slices, batch-major ``(batch, width)``): ``u = v W + b`` and
  ``dv/dt = act(u) diag(s) M``, two matrix products per evaluation;
- ``EdgeRate`` (wide or huge slices, node-major ``(width, batch)``): ``u = alpha v_src + beta v_dst
  + b`` by two row gathers, and the currents onto the nodes by one sparse (CSR) product.

tanh runs as 2 sigmoid(2u) - 1 with the 2s folded into the coefficients (torch's CPU tanh is four
to five times slower than its sigmoid; the difference is ~1e-7 absolute in float32).

``solve`` integrates a slice with ``integrators.dopri5`` and, when a gradient is wanted, makes the
whole solve one autograd node whose backward pass is the discrete adjoint of the Runge-Kutta
steps: exactly the gradient of direct back-propagation, without autograd's per-operation tape (on
small circuits most of a step's time) and keeping one ``batch x devices`` tensor per evaluation
(the activations) instead of several. With a ``MemoryBudget`` the activations are kept only until the
budget is spent; the steps after that keep their starting state alone and recompute their six
stages in the backward pass ("checkpointing": memory of one step, about a third more work).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F

from . import integrators
from .devices import LEAKY_SLOPE
from .solvers import SolverStats

Tensor = torch.Tensor
# Below this many batch x device values per evaluation a solve runs on one CPU thread: its matrix
# products are so small that handing them to a second thread costs more than it saves (tens of
# microseconds each on a quiet 2-core machine, hundreds when the other core is taken).
SERIAL_WORK = 2 ** 17


# --- activations ------------------------------------------------------------------------------------

def _sigmoid_vjp(dz: Tensor, z: Tensor) -> Tensor:
    return torch.ops.aten.sigmoid_backward.grad_input(dz, z, grad_input=dz)  # dz z (1 - z), in place


@dataclass(frozen=True)
class Act:
    """act(u) = scale * core(gain * u) + shift; the gain is folded into the linear map and scale,
    shift into the scatter. ``vjp(dz, z)``: the adjoint of gain * u from that of z = core(.)."""

    gain: float
    scale: float
    shift: float
    core_: Callable[[Tensor], Tensor]  # in place
    core: Callable[[Tensor], Tensor]
    vjp: Callable[[Tensor, Tensor], Tensor]


ACTS: dict[str, Act] = {
    "tanh": Act(2.0, 2.0, -1.0, torch.sigmoid_, torch.sigmoid, _sigmoid_vjp),
    "relu": Act(1.0, 1.0, 0.0, torch.relu_, torch.relu,
                lambda dz, z: torch.ops.aten.threshold_backward.grad_input(dz, z, 0, grad_input=dz)),
    "leaky_relu": Act(1.0, 1.0, 0.0, lambda u: F.leaky_relu_(u, LEAKY_SLOPE), lambda u: F.leaky_relu(u, LEAKY_SLOPE),
                 lambda dz, z: torch.ops.aten.leaky_relu_backward.grad_input(dz, z, LEAKY_SLOPE, True, grad_input=dz)),
    "identity": Act(1.0, 1.0, 0.0, lambda u: u, lambda u: u, lambda dz, z: dz),
}


def _add(grads: list, i: int, value: Tensor) -> None:
    grads[i] = value if grads[i] is None else grads[i].add_(value)


def _needs(x: Tensor | None) -> bool:
    return x is not None and x.requires_grad


def _current_vjp(act: Act, s: Tensor | None, di: Tensor, z: Tensor, dim: int, grads: list, i: int) -> Tensor:
    """From the adjoint of the currents I = s * act to that of z = core(u'): ds accumulated into
    grads[i] (when s is learned). ``dim`` is the batch dimension of di and z."""
    if _needs(s):
        ds = torch.linalg.vecdot(di, z, dim=dim)
        ds = ds * act.scale if act.shift == 0.0 else ds.mul_(act.scale).add_(di.sum(dim), alpha=act.shift)
        _add(grads, i, ds)
    q = act.scale if s is None else (s * act.scale if act.scale != 1.0 else s)
    if isinstance(q, Tensor):
        return di.mul_(q.unsqueeze(dim))
    return di if q == 1.0 else di.mul_(q)


# --- the two layouts of a slice's rate ---------------------------------------------------------------

@dataclass
class DenseTerm:
    """One device kind of a dense slice, u = v W + b (W: width x E) and u' = gain u, rate +=
    core(u') @ Mq + bias with Mq = diag(scale s) M (M: the kind's rows of the incidence divided
    by C, E x width) and bias = shift * colsum(diag(s) M). ``scatter(M, s)`` builds the last three
    (constant when the family has no s, so the model keeps them between solves)."""

    act: Act
    W: Tensor
    b: Tensor | None
    s: Tensor | None
    M: Tensor
    Mq: Tensor
    Mqt: Tensor
    bias: Tensor | None

    @staticmethod
    def scatter(act: Act, M: Tensor, s: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
        ms = M if s is None else M * s.unsqueeze(1)
        mq = ms if act.scale == 1.0 else ms * act.scale
        return mq, mq.t().contiguous(), None if act.shift == 0.0 else ms.sum(0) * act.shift


class DenseRate:
    """dv/dt of a dense slice, batch-major (batch, width). Called under autograd it is the model's
    differentiable rate; ``vjp`` is its adjoint written out, on the values ``__call__`` kept."""

    def __init__(self, terms: Sequence[DenseTerm], width: int):
        self.terms = list(terms)
        self.width = width
        self.devices = sum(t.W.shape[1] for t in self.terms)
        self._workspace: dict[int, tuple[Tensor, list[Tensor]]] = {}
        with torch.no_grad():  # the gain folded into contiguous copies: addmm's fast path (a strided b costs 3x)
            self._plain = [(t.W * t.act.gain if t.act.gain != 1.0 else t.W.detach(),
                            None if t.b is None else (t.b * t.act.gain).contiguous(), t.act.core_, t.Mqt, t.bias)
                           for t in self.terms]
            self._wt = [t.W.detach().t() for t in self.terms]  # for the adjoint: one transpose per solve

    def __call__(self, v: Tensor, keep: bool = False) -> tuple[Tensor, list]:
        flat = v if v.dim() == 2 else v.reshape(-1, self.width)
        out, saved = None, []
        if torch.is_grad_enabled():  # the model's differentiable rate
            for term in self.terms:
                g = term.act.gain
                u = torch.addmm(term.b, flat, term.W, beta=g, alpha=g) if term.b is not None else flat @ term.W * g
                z = term.act.core(u)
                part = F.linear(z, term.Mqt, term.bias)
                out = part if out is None else out + part
                saved.append(z if keep else None)
        else:  # the solver's: in place, on the folded copies
            for wg, bg, core_, mqt, bias in self._plain:
                z = core_(flat @ wg if bg is None else torch.addmm(bg, flat, wg))
                part = F.linear(z, mqt, bias)
                out = part if out is None else out.add_(part)
                saved.append(z if keep else None)
        if out is None:  # a slice without devices: every node holds its voltage
            out = torch.zeros_like(flat)
        return (out if v.dim() == 2 else out.reshape(v.shape)), saved

    def coefficients(self) -> list[Tensor | None]:
        return [x for t in self.terms for x in (t.W, t.b, t.s)]

    def vjp(self, v: Tensor, saved: list, g: Tensor, grads: list, stage: int | None = None,
            out: Tensor | None = None) -> Tensor:
        """The adjoint of v from that of the rate, g (into ``out`` when given); parameter gradients
        go into ``grads``, or, with ``stage`` (0..5 of the step at hand), wait in a workspace for
        one ``flush`` per step: one product for all six stages instead of six, and the adjoints of
        the activations written where that product reads them."""
        dv = None
        g2 = g if g.dim() == 2 else g.reshape(-1, self.width)
        for j, (term, z) in enumerate(zip(self.terms, saved)):
            slot = None if stage is None else self._slot(j, stage, g2.shape[0])
            if _needs(term.s):
                dz = _current_vjp(term.act, term.s, torch.mm(g2, term.M.t(), out=slot), z, 0, grads, 3 * j + 2)
            else:
                dz = torch.mm(g2, term.Mqt, out=slot)
            du = term.act.vjp(dz, z)
            if slot is None:
                self._param_grads(j, v if v.dim() == 2 else v.reshape(-1, self.width), du, grads)
            gain = term.act.gain
            if out is not None and len(self.terms) == 1:  # out: (batch, width), as the rows _Run hands in
                return torch.addmm(out, du, self._wt[j], beta=0.0, alpha=gain, out=out)
            part = F.linear(du, term.W)
            part = part if gain == 1.0 else part.mul_(gain)
            dv = part if dv is None else dv.add_(part)
        dv = torch.zeros_like(g2) if dv is None else dv
        return dv.view(g.shape) if out is None else out.copy_(dv.view(out.shape))

    def _slot(self, j: int, stage: int, n: int) -> Tensor:
        """Rows ``stage`` of term j's step workspace of activation adjoints, n rows a stage (kept
        between steps: fresh allocations this size cost page faults every time)."""
        ws = self._workspace.get(j)
        if ws is None or ws[0].shape[0] != 6 * n:
            full = self.terms[j].W.new_empty(6 * n, self.terms[j].W.shape[1])
            ws = self._workspace[j] = (full, [full[i * n: (i + 1) * n] for i in range(6)])
        return ws[1][stage]

    def _param_grads(self, j: int, v: Tensor, du: Tensor, grads: list) -> None:
        """du is the adjoint of u' = gain (v W + b)."""
        term = self.terms[j]
        gain = term.act.gain
        if _needs(term.b):
            db = du.sum(0)
            _add(grads, 3 * j + 1, db if gain == 1.0 else db.mul_(gain))
        if _needs(term.W):
            if grads[3 * j] is None:
                grads[3 * j] = torch.mm(v.t(), du) if gain == 1.0 else torch.mm(v.t(), du).mul_(gain)
            else:
                grads[3 * j].addmm_(v.t(), du, alpha=gain)

    def flush(self, grads: list, stages: list[Tensor]) -> None:
        """The parameter gradients of the step's six stages (inputs ``stages``), from the workspaces
        ``vjp`` filled."""
        v = torch.cat([y if y.dim() == 2 else y.reshape(-1, self.width) for y in stages])
        for j, (du, _) in self._workspace.items():
            self._param_grads(j, v, du, grads)


@dataclass
class EdgeTerm:
    """One device kind of a node-major slice. u'_e = alpha_e v_src + beta_e v_dst + b_e (the
    activation's gain folded in) is one weighted two-row gather per device (``pair``,
    ``pair_w``); the currents go onto the nodes as one weighted gather per node over its devices
    (``bags``: the devices of each node in turn, ``bag_starts``: where each node's list begins),
    with weights +scale s/C at dst and -scale s/C at src (``scatter_w``); ``gather_t_w``: the same
    lists weighted by du'/dv (alpha at src, beta at dst), the transpose of v -> u'. Both gathers are
    ``F.embedding_bag`` in "sum" mode, which fuses the multiply-adds (several times faster on CPUs
    than index_select / index_add or a CSR product)."""

    act: Act
    pair: Tensor  # (2E,): src, dst of device 0, src, dst of device 1, ...
    pair_starts: Tensor  # (E,): 0, 2, 4, ...
    pair_w: Tensor  # (2E,): du'/dv_src, du'/dv_dst per device, interleaved alike
    drop_w: Tensor  # (2E,): -1/C_src, +1/C_dst, ...: the adjoint of I from the adjoint of dv/dt
    alpha: Tensor | None
    beta: Tensor | None
    w: Tensor | None
    b: Tensor | None
    s: Tensor | None
    bags: Tensor
    bag_starts: Tensor
    scatter_w: Tensor
    gather_t_w: Tensor
    gather_q_w: Tensor  # gather_t_w times each device's scale * s: from the adjoint of core(u') to dv
    bias: Tensor | None  # (width, 1): the shift's constant current per node


class EdgeRate:
    """dv/dt of a wide slice, node-major (width, batch): every gather moves whole rows of the batch."""

    def __init__(self, terms: Sequence[EdgeTerm], width: int):
        self.terms = list(terms)
        self.width = width
        self.devices = sum(len(t.pair_starts) for t in self.terms)
        with torch.no_grad():  # each device's scale * s, for the bias gradient: once per solve, not per stage
            self._q = [None if t.s is None else t.s * t.act.scale for t in self.terms]

    # torch.embedding_bag itself (mode 0: "sum"): F.embedding_bag's argument checks cost as much as the
    # gather on a digits-sized slice, twice that in inference mode.
    @staticmethod
    def _to_nodes(term: EdgeTerm, x: Tensor, weights: Tensor) -> Tensor:
        return torch.embedding_bag(x, term.bags, term.bag_starts, False, 0, False, weights)[0]

    @staticmethod
    def _to_devices(term: EdgeTerm, x: Tensor, weights: Tensor) -> Tensor:
        return torch.embedding_bag(x, term.pair, term.pair_starts, False, 0, False, weights)[0]

    def __call__(self, v: Tensor, keep: bool = False) -> tuple[Tensor, list]:
        vf = F.pad(v, (0, 0, 1, 0))  # ground row
        out, saved = None, []
        with torch.no_grad():
            for term in self.terms:
                u = self._to_devices(term, vf, term.pair_w)
                if term.b is not None:
                    u.add_(term.b.unsqueeze(1))
                z = term.act.core_(u)
                part = self._to_nodes(term, z, term.scatter_w)
                if term.bias is not None:
                    part.add_(term.bias)
                out = part if out is None else out.add_(part)
                saved.append(z if keep else None)
        return (torch.zeros_like(v) if out is None else out), saved

    def coefficients(self) -> list[Tensor | None]:
        return [x for t in self.terms for x in (t.alpha, t.beta, t.w, t.b, t.s)]

    def vjp(self, v: Tensor, saved: list, g: Tensor, grads: list, stage: int | None = None,
            out: Tensor | None = None) -> Tensor:
        """As ``DenseRate.vjp``; big tensors here, so the parameter gradients are taken at once. Each
        pass over a (devices, batch) tensor counts: without learned input weights, the device scale
        s is applied inside the gather back to the nodes (``gather_q_w``), not in a pass of its own."""
        gc = F.pad(g, (0, 0, 1, 0))
        vf = None
        dv = None
        for j, (term, z) in enumerate(zip(self.terms, saved)):
            di = self._to_devices(term, gc, term.drop_w)
            if not (_needs(term.alpha) or _needs(term.beta) or _needs(term.w)):
                if _needs(term.s):
                    ds = torch.linalg.vecdot(di, z, dim=1)
                    _add(grads, 5 * j + 4, ds.mul_(term.act.scale) if term.act.shift == 0.0 else
                         ds.mul_(term.act.scale).add_(di.sum(1), alpha=term.act.shift))
                dz = term.act.vjp(di, z)  # the adjoint of core(u') over scale * s
                if _needs(term.b):
                    db = dz.sum(1)
                    q = self._q[j]
                    _add(grads, 5 * j + 3, db.mul_(q) if q is not None else
                         db.mul_(term.act.scale) if term.act.scale != 1.0 else db)
                part = self._to_nodes(term, dz, term.gather_q_w)
                dv = part if dv is None else dv.add_(part)
                continue
            du = term.act.vjp(_current_vjp(term.act, term.s, di, z, 1, grads, 5 * j + 4), z)
            if _needs(term.b):
                _add(grads, 5 * j + 3, du.sum(1))
            if _needs(term.alpha) or _needs(term.beta) or _needs(term.w):
                vf = F.pad(v, (0, 0, 1, 0)) if vf is None else vf
                vs, vd = vf.index_select(0, term.pair[0::2]), vf.index_select(0, term.pair[1::2])
                if _needs(term.w):
                    _add(grads, 5 * j + 2, torch.linalg.vecdot(du, vs.sub_(vd), dim=1))
                if _needs(term.alpha):
                    _add(grads, 5 * j, torch.linalg.vecdot(du, vs, dim=1))
                if _needs(term.beta):
                    _add(grads, 5 * j + 1, torch.linalg.vecdot(du, vd, dim=1))
            part = self._to_nodes(term, du, term.gather_t_w)
            dv = part if dv is None else dv.add_(part)
        dv = torch.zeros_like(g) if dv is None else dv
        return dv if out is None else out.copy_(dv)

    def flush(self, grads: list, stages: list[Tensor]) -> None:
        pass


Rate = DenseRate | EdgeRate


# --- solving, with the backward pass by hand ---------------------------------------------------------

class MemoryBudget:
    """Bytes of activations one forward pass may still keep for the backward pass."""

    def __init__(self, limit_bytes: float):
        self.left = float(limit_bytes)


@dataclass
class _Step:
    t: float
    h: float
    y: Tensor
    y1: Tensor
    stages: list[Tensor] | None  # stage inputs Y_1..Y_6 (Y_1 = y), or None: recompute in backward
    saved: list[list] | None  # per stage, the activations the rate kept
    outputs: list[tuple[int, float | None]] = field(default_factory=list)  # (time index, fraction or None: y1)


_B = integrators.A[5]  # the 5th-order solution's weights (stage 7 is FSAL, weight 0)
# Column i of the stage matrix below the diagonal: stage m > i takes A[m-1][i] k_i.
_A_COLUMNS = tuple(tuple(integrators.A[m - 1][i] if m > i else 0.0 for m in range(6)) for i in range(6))


class _Run:
    """One slice solve: the forward integration with its step record, and its adjoint."""

    def __init__(self, rate: Rate, times: list[float], rtol: float, atol: float, stats: SolverStats | None,
                 where: str, tick: Callable[[float], None], budget: MemoryBudget | None, node_axis: int = -1):
        self.rate, self.times, self.rtol, self.atol = rate, times, rtol, atol
        self.stats, self.where, self.tick, self.budget = stats, where, tick, budget
        self.node_axis = node_axis
        self.steps: list[_Step] = []
        self.at_start: list[int] = []  # output indices at times[0]

    def forward(self, y0: Tensor, record: bool) -> Tensor:
        tape: dict[int, tuple[Tensor, Tensor, list]] = {}  # id(k) -> (k, y, kept); k held so ids stay unique
        keeping = [record and (self.budget is None or self.budget.left > 0)]

        def f(t: float, y: Tensor) -> Tensor:
            k, kept = self.rate(y, keep=keeping[0])
            self.tick(t)
            if record:
                tape[id(k)] = (k, y, kept)
            return k

        def on_step(accepted: bool, t: float, h: float, y: Tensor, ks: list[Tensor]) -> None:
            if accepted:
                entries = [tape.get(id(k)) for k in ks[:6]]
                y1 = tape[id(ks[6])][1]
                if keeping[0] and all(e is not None and all(a is not None for a in e[2]) for e in entries):
                    self.steps.append(_Step(t, h, y, y1, [e[1] for e in entries], [e[2] for e in entries]))
                    if self.budget is not None:
                        self.budget.left -= sum(a.numel() * a.element_size() for e in entries for a in e[2])
                        keeping[0] = self.budget.left > 0
                else:
                    self.steps.append(_Step(t, h, y, y1, None, None))
            carry = tape.get(id(ks[6] if accepted else ks[0]))
            tape.clear()
            if carry is not None:
                tape[id(carry[0])] = carry if keeping[0] else (carry[0], carry[1], [None])

        out = integrators.dopri5(f, y0, self.times, self.rtol, self.atol, self.stats, self.where,
                                 node_axis=self.node_axis, on_step=on_step if record else None)
        if record:
            self._assign_outputs()
        return out

    def _assign_outputs(self) -> None:
        """Which step (and where in it) produced each requested time, as ``integrators.dopri5`` did."""
        times, nxt = self.times, 1
        self.at_start = [0]
        while nxt < len(times) and times[nxt] <= times[0]:
            self.at_start.append(nxt)
            nxt += 1
        for n, step in enumerate(self.steps):
            t1 = times[-1] if n == len(self.steps) - 1 else step.t + step.h
            while nxt < len(times) and times[nxt] <= t1:
                step.outputs.append((nxt, None if times[nxt] >= t1 else (times[nxt] - step.t) / step.h))
                nxt += 1

    def _stages(self, y: Tensor, h: float) -> tuple[list[Tensor], list[list]]:
        """Stage inputs and activations of a step from y, bit for bit as the forward pass made them
        (counted as evaluations of the backward pass; the forward's work cap does not apply again)."""
        stages, kept, ks = [y], [], []
        for i in range(6):
            if i > 0:
                stages.append(integrators._combine(y, [h * a for a in integrators.A[i - 1]], ks))
            k, z = self.rate(stages[i], keep=True)
            ks.append(k)
            kept.append(z)
        if self.stats is not None:
            self.stats.nfe += 6
        return stages, kept

    def _rate_vjp(self, y: Tensor, kept: list | None, g: Tensor, grads: list) -> Tensor:
        if kept is None:
            _, kept = self.rate(y, keep=True)
            if self.stats is not None:
                self.stats.nfe += 1
        return self.rate.vjp(y, kept, g, grads)

    def backward(self, grad_out: Tensor) -> tuple[Tensor, list]:
        coefs = self.rate.coefficients()
        grads: list = [None] * len(coefs)
        lam = torch.zeros_like(grad_out[0])
        dys = lam.new_empty(6, lam.numel())  # the stage inputs' adjoints of the step at hand
        a_cols = lam.new_tensor(_A_COLUMNS)
        shape = lam.shape if isinstance(self.rate, EdgeRate) else lam.reshape(-1, self.rate.width).shape
        views = ([a_cols[i: i + 1, i + 1:] for i in range(5)], [dys[i + 1:] for i in range(5)],
                 [row.view(shape) for row in dys], lam.new_ones(1, 6), dys)
        for n in range(len(self.steps) - 1, -1, -1):
            step = self.steps[n]
            extra_k, extra_y = [None] * 7, None
            for j, frac in step.outputs:  # requested times inside or at the end of this step
                if frac is None:
                    lam = lam + grad_out[j]
                    continue
                wy0, wy1, wk = integrators._dense_weights(frac)
                lam = lam.add(grad_out[j], alpha=wy1)
                extra_y = grad_out[j] * wy0 if extra_y is None else extra_y.add_(grad_out[j], alpha=wy0)
                for i, w in enumerate(wk):
                    if w != 0.0:
                        extra_k[i] = grad_out[j] * (step.h * w) if extra_k[i] is None else \
                            extra_k[i].add_(grad_out[j], alpha=step.h * w)
            if extra_k[6] is not None:  # k7 = f(y1): the next step's first stage
                nxt = self.steps[n + 1] if n + 1 < len(self.steps) else None
                kept = nxt.saved[0] if nxt is not None and nxt.saved is not None else None
                lam = lam + self._rate_vjp(step.y1, kept, extra_k[6], grads)
            stages, saved = (step.stages, step.saved) if step.stages is not None else self._stages(step.y, step.h)
            lam = self._step_adjoint(lam, step.h, stages, saved, grads, extra_k, views)
            if extra_y is not None:
                lam.add_(extra_y)
        for j in self.at_start:
            lam = lam + grad_out[j]
        out = []  # one per coefficient that exists (the inputs of _LeanSolve)
        for c, g in zip(coefs, grads):
            if c is not None:
                out.append(None if not c.requires_grad else torch.zeros_like(c) if g is None else g.reshape(c.shape))
        return lam, out

    def _step_adjoint(self, lam: Tensor, h: float, stages: list, saved: list, grads: list, extra_k: list,
                      views: tuple) -> Tensor:
        """The adjoint of a step's start from that of its end, lam: stage by stage backwards, dk_i =
        h b_i lam + h sum_{m > i} A[m][i] dY_m, dY_i = vjp(dk_i); dy = lam + sum_i dY_i."""
        a_rows, tails, rows, ones, dys = views
        lam_flat = lam.reshape(1, -1)
        for i in range(5, -1, -1):
            if i == 5:
                dk = lam_flat * (h * _B[5])
            else:
                dk = torch.addmm(lam_flat, a_rows[i], tails[i], beta=h * _B[i], alpha=h)
            dk = dk.view(lam.shape)
            if extra_k[i] is not None:
                dk = dk + extra_k[i]
            self.rate.vjp(stages[i], saved[i], dk, grads, i, out=rows[i])
        self.rate.flush(grads, stages)
        return torch.addmm(lam_flat, ones, dys).view(lam.shape)


@contextmanager
def one_thread_if_small(work: int, device: torch.device) -> Iterator[None]:
    """One intra-op thread while a CPU job of ``work`` batch x device values (under SERIAL_WORK)
    runs, the caller's setting otherwise and after. Small operations that enter a parallel region
    wait for the second thread: tens of microseconds each on a quiet 2-core machine, milliseconds
    when the other core is busy (a 32 x 2 log-softmax took 6 ms)."""
    before = torch.get_num_threads()
    serial = device.type == "cpu" and before > 1 and work < SERIAL_WORK
    if serial:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if serial:
            torch.set_num_threads(before)


def _threads(y: Tensor, rate: Rate):
    return one_thread_if_small(y.numel() // max(rate.width, 1) * rate.devices, y.device)


class _LeanSolve(torch.autograd.Function):
    """The whole slice solve as one autograd node; backward is ``_Run.backward``."""

    @staticmethod
    def forward(ctx, run: _Run, y0: Tensor, *coefs: Tensor) -> Tensor:
        ctx.run = run
        with _threads(y0, run.rate), torch.inference_mode():
            out = run.forward(y0, record=True)
        return out.clone()  # an ordinary tensor again: autograd's output

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        with _threads(grad_out, ctx.run.rate), torch.inference_mode():
            dy0, dcoefs = ctx.run.backward(grad_out)
        return (None, dy0.clone(), *(None if g is None else g.clone() for g in dcoefs))


def solve(rate: Rate, y0: Tensor, times: Sequence[float], rtol: float, atol: float,
          stats: SolverStats | None, where: str, tick: Callable[[float], None],
          budget: MemoryBudget | None = None, node_axis: int = -1) -> Tensor:
    """The states at ``times`` from y0 (in the rate's layout), stacked; differentiable (by the
    hand-written adjoint above) when autograd wants it. ``budget`` None keeps every accepted
    step's activations; ``tick(t)`` is called once per forward evaluation (work accounting);
    ``node_axis`` is where the nodes run in the state (errors name the node)."""
    times = [float(t) for t in times]
    coefs = [c for c in rate.coefficients() if c is not None]
    run = _Run(rate, times, rtol, atol, stats, where, tick, budget, node_axis)
    if not (torch.is_grad_enabled() and (y0.requires_grad or any(c.requires_grad for c in coefs))):
        with torch.no_grad(), _threads(y0, rate):
            return run.forward(y0, record=False)
    return _LeanSolve.apply(run, y0, *coefs)
