"""Device I-V families: the current I = g(v_s, v_d; p) of every two-terminal device.

Each family is vectorised over devices: ``vs``, ``vd`` have shape (..., E) and ``p`` has shape
(E, n_params); the result has shape (..., E). Current flows from src to dst. Names and parameter
order follow the paper's reference code (``ShiftTanh2`` has p0, p1, p2 ...). The reference allocated
unused parameters for some families (``ShiftTanh1`` and ``Conductance`` kept three); we keep only
the ones the law uses, so ``n_params`` is what a device in a circuit file must carry.

Analytic partial derivatives dI/dv_s and dI/dv_d are provided for every family: the generative
task needs the exact Jacobian trace in O(E), and they make the KCL Jacobian cheap to inspect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

Tensor = torch.Tensor

LEAKY_SLOPE = 0.01  # torch's default negative slope, as in the reference code


@dataclass(frozen=True)
class DeviceKind:
    """One I-V family: its law, derivatives and how to show it."""

    name: str
    label: str
    n_params: int
    passive: bool
    formula: str  # LaTeX, in terms of v_s, v_d and p_0..p_2
    current: Callable[[Tensor, Tensor, Tensor], Tensor]
    partials: Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]


def _p(p: Tensor, i: int) -> Tensor:
    return p[..., i]


def _leaky_grad(u: Tensor) -> Tensor:
    return torch.where(u > 0, torch.ones_like(u), torch.full_like(u, LEAKY_SLOPE))


# --- laws ----------------------------------------------------------------------------------------

def _tanh2(vs, vd, p):
    return torch.tanh(_p(p, 0) * vs + _p(p, 1) * vd + _p(p, 2))


def _tanh2_d(vs, vd, p):
    s = 1 - _tanh2(vs, vd, p) ** 2
    return _p(p, 0) * s, _p(p, 1) * s


def _tanh1(vs, vd, p):
    return torch.tanh(_p(p, 1) * (vs - vd) + _p(p, 0))


def _tanh1_d(vs, vd, p):
    g = _p(p, 1) * (1 - _tanh1(vs, vd, p) ** 2)
    return g, -g


def _relu1(vs, vd, p):
    return _p(p, 1) * F.relu(vs - vd - _p(p, 0))


def _relu1_d(vs, vd, p):
    g = _p(p, 1) * (vs - vd - _p(p, 0) > 0).to(vs.dtype)
    return g, -g


def _relu2(vs, vd, p):
    return F.relu(_p(p, 0) * vs + _p(p, 1) * vd + _p(p, 2))


def _relu2_d(vs, vd, p):
    on = (_p(p, 0) * vs + _p(p, 1) * vd + _p(p, 2) > 0).to(vs.dtype)
    return _p(p, 0) * on, _p(p, 1) * on


def _lrelu1(vs, vd, p):
    return _p(p, 1) * F.leaky_relu(vs - vd - _p(p, 0), LEAKY_SLOPE)


def _lrelu1_d(vs, vd, p):
    g = _p(p, 1) * _leaky_grad(vs - vd - _p(p, 0))
    return g, -g


def _lrelu2(vs, vd, p):
    return F.leaky_relu(_p(p, 0) * vs + _p(p, 1) * vd + _p(p, 2), LEAKY_SLOPE)


def _lrelu2_d(vs, vd, p):
    s = _leaky_grad(_p(p, 0) * vs + _p(p, 1) * vd + _p(p, 2))
    return _p(p, 0) * s, _p(p, 1) * s


def _conductance(vs, vd, p):
    return _p(p, 0) * (vs - vd)


def _conductance_d(vs, vd, p):
    g = _p(p, 0).expand_as(vs)
    return g, -g


def _tanh_resistor(vs, vd, p):
    return _p(p, 0).abs() * torch.tanh(_p(p, 1).abs() * (vs - vd))


def _tanh_resistor_d(vs, vd, p):
    a, b = _p(p, 0).abs(), _p(p, 1).abs()
    g = a * b * (1 - torch.tanh(b * (vs - vd)) ** 2)
    return g, -g


KINDS: dict[str, DeviceKind] = {
    k.name: k
    for k in [
        DeviceKind("ShiftTanh2", "tanh transconductor (3 inputs)", 3, False,
                   r"\tanh(p_0 v_s + p_1 v_d + p_2)", _tanh2, _tanh2_d),
        DeviceKind("ShiftTanh1", "tanh transconductor (difference)", 2, False,
                   r"\tanh(p_1 (v_s - v_d) + p_0)", _tanh1, _tanh1_d),
        DeviceKind("ShiftRelu1", "ReLU transconductor (difference)", 2, False,
                   r"p_1 \,\mathrm{relu}(v_s - v_d - p_0)", _relu1, _relu1_d),
        DeviceKind("ShiftRelu2", "ReLU transconductor (3 inputs)", 3, False,
                   r"\mathrm{relu}(p_0 v_s + p_1 v_d + p_2)", _relu2, _relu2_d),
        DeviceKind("ShiftLeakyRelu1", "leaky-ReLU transconductor (difference)", 2, False,
                   r"p_1 \,\mathrm{lrelu}(v_s - v_d - p_0)", _lrelu1, _lrelu1_d),
        DeviceKind("ShiftLeakyRelu2", "leaky-ReLU transconductor (3 inputs)", 3, False,
                   r"\mathrm{lrelu}(p_0 v_s + p_1 v_d + p_2)", _lrelu2, _lrelu2_d),
        DeviceKind("Conductance", "linear resistor / conductance", 1, False,
                   r"p_0 (v_s - v_d)", _conductance, _conductance_d),
        DeviceKind("TanhResistor", "saturating resistor (passive)", 2, True,
                   r"|p_0| \tanh(|p_1| (v_s - v_d))", _tanh_resistor, _tanh_resistor_d),
    ]
}
"""All device families by name. ``TanhResistor`` is the physically passive nonlinear device:
g(v, v) = 0 and the current always flows down the voltage drop (absolute values keep it passive
whatever the learned parameters). ``Conductance`` is passive only while p0 > 0."""

MAX_PARAMS = max(k.n_params for k in KINDS.values())


def get_kind(name: str) -> DeviceKind:
    """Look up a family by name with an error that lists the valid names."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown device kind {name!r}; choose one of {sorted(KINDS)}") from None


def display_name(name: str) -> str:
    """Friendly name for the UI, e.g. 'ShiftTanh2 — tanh transconductor (3 inputs)'."""
    return f"{name} — {get_kind(name).label}"
