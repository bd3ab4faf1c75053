"""The Jacobian trace of a circuit's dynamics, exact in O(devices), and the augmented slice a flow
integrates (voltages plus the running log-determinant). See the package docstring for the maths."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..model import SliceDynamics
from ..solvers import GuardedDynamics, WorkGuard

Tensor = torch.Tensor
TRACES = ("exact", "hutchinson")
PROBES = ("rademacher", "gaussian")


def _padded_inv_c(dyn: SliceDynamics, like: Tensor) -> Tensor:
    """1/C per node with a 0 for ground in front: multiplying by it drops the ground terms."""
    return F.pad(dyn.inv_c.to(like), (1, 0))


def _partials(dyn: SliceDynamics, v: Tensor) -> Iterator[tuple[str, Tensor, Tensor]]:
    """Per kind: (kind, dI/dv_s, dI/dv_d), each (..., E_kind), from the analytic laws."""
    vfull = F.pad(v, (1, 0))
    for k in dyn.kinds:
        src, dst = dyn._buf("src", k), dyn._buf("dst", k)
        ps, pd = dyn.records[k].partials(vfull[..., src], vfull[..., dst], dyn.params[k])
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
        """Per kind (activation, act', W^T, b, s) as columns, M^T, and the trace as c0 + c . d: for
        tanh-like families act' is None and d = a^2 (c negated, c0 its sum), otherwise d = act'(u)
        (kind-grouped, like I)."""
        dyn = self.dyn
        terms, cs, off = [], [], 0
        c0 = dyn.inc.new_zeros(())
        for k, (_, w, b, s) in zip(dyn.kinds, dyn._dense_terms()):
            act = dyn.records[k].act
            n_k = w.shape[1]
            c = (w * dyn.inc[off: off + n_k].T).sum(0)
            c = c if s is None else c * s
            if act.tanh_like:  # c . (1 - a^2) = sum(c) - c . a^2
                c0 = c0 + c.sum()
                c = -c
            cs.append(c)
            terms.append((act.for_tensor(w), None if act.tanh_like else act.grad, w.T,
                          None if b is None else b.unsqueeze(1), None if s is None else s.unsqueeze(1)))
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
            for act, grad, wt, b, s in terms:
                u = wt @ v if b is None else torch.addmm(b, wt, v)
                a = act(u)
                # tanh-like: act' = 1 - a^2, the trace is sum(c) - c . a^2 below
                der.append(torch.square(a) if grad is None else grad(u, a))
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
