"""Device I-V families: the current I = g(v_s, v_d; p) of every two-terminal device, one record each.

Every family is a linear form of the two terminal voltages under an activation, times a scale:

    I = act(u) * s,   u = w_s v_s + w_d v_d + b   ("affine")   or   u = w (v_s - v_d) + b   ("drop"),

with the coefficients w, b, s functions of the device's parameters p (``DeviceKind.coefficients``).
That one description gives the law and its analytic partial derivatives (the CNF trace needs them
in O(E)), the two-matmul dense form the model integrates (a slice's W is w_s S_src + w_d S_dst or
w (S_src - S_dst) over one-hot selectors), and the trace's constant vector. The record also carries
what the model cannot derive: the SPICE expression, each parameter's role for initialisation, the
label, the LaTeX formula and passivity. ``register_kind`` adds a family at run time; model, trace,
SPICE, initialisation, file formats, generators and the app all read ``KINDS``.

Laws are vectorised over devices: ``vs``, ``vd`` have shape (..., E) and ``p`` has shape (E, n_params)
(or anything whose ``p[..., i]`` broadcasts against them). Current flows from src to dst. Names
and parameter order follow the paper's reference code (``ShiftTanh2`` has p0, p1, p2 ...); the
reference allocated unused parameters for some families, we keep only those the law uses.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

Tensor = torch.Tensor
Coefficients = tuple[tuple["Tensor | None", ...], "Tensor | None", "Tensor | None"]

LEAKY_SLOPE = 0.01  # torch's default negative slope, as in the reference code
MAX_PARAMS = 3  # parameter columns a circuit stores per device; a family uses the first n_params
INPUTS = ("affine", "drop")
ROLES = ("scale", "threshold", "slope")
"""Parameter roles for initialisation: "scale" (a current or slope, degree-normalised), "threshold"
(volts, N(0, 0.5^2)), "slope" (a positive dimensionless slope, U(0.5, 2))."""
SPICE_FIELDS = "{p0}..{p2} (signed coefficients), {a0}..{a2} (absolute values), {vs}, {vd}, {drop}"


# --- activations -------------------------------------------------------------------------------------

class _SigmoidTanh(torch.autograd.Function):
    """tanh(u) = 2 sigmoid(2u) - 1, about twice as fast as torch.tanh on CPUs in float32 (the
    activation is the largest single cost of a flow's right-hand side); absolute error ~1e-7."""

    @staticmethod
    def forward(ctx, u):
        a = torch.sigmoid(u * 2).mul_(2).sub_(1)
        ctx.save_for_backward(a)
        return a

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * (1 - a * a)


@dataclass(frozen=True)
class Activation:
    """The nonlinearity of a family: ``fn``, and ``grad(u, a)`` = act'(u) given u and a = act(u).

    ``tanh_like``: act' = 1 - act^2, so the CNF trace c . act'(u) is sum(c) - c . a^2 and needs no
    separate derivative pass. ``fast``: an equal but faster form for CPU float32 tensors.
    """

    name: str
    fn: Callable[[Tensor], Tensor]
    grad: Callable[[Tensor, Tensor], Tensor]
    tanh_like: bool = False
    fast: Callable[[Tensor], Tensor] | None = None

    def for_tensor(self, like: Tensor) -> Callable[[Tensor], Tensor]:
        """The implementation to use on tensors like ``like`` (the fast form on CPU float32)."""
        if self.fast is not None and like.device.type == "cpu" and like.dtype == torch.float32:
            return self.fast
        return self.fn


def _lrelu(u: Tensor) -> Tensor:
    return F.leaky_relu(u, LEAKY_SLOPE)


def _identity(u: Tensor) -> Tensor:
    return u


TANH = Activation("tanh", torch.tanh, lambda u, a: 1 - a * a, tanh_like=True, fast=_SigmoidTanh.apply)
RELU = Activation("relu", F.relu, lambda u, a: (u > 0).to(u.dtype))
LEAKY_RELU = Activation("leaky_relu", _lrelu,
                        lambda u, a: torch.where(u > 0, torch.ones_like(u), torch.full_like(u, LEAKY_SLOPE)))
IDENTITY = Activation("identity", _identity, lambda u, a: torch.ones_like(u))


# --- the record ----------------------------------------------------------------------------------------

def _times(c: Tensor | None, x: Tensor) -> Tensor:
    """c * x, where a missing coefficient means 1 (no multiplication at all)."""
    return x if c is None else c * x


@dataclass(frozen=True)
class DeviceKind:
    """One I-V family: I = act(u) * s with u = w_s v_s + w_d v_d + b (``inputs="affine"``) or
    u = w (v_s - v_d) + b (``"drop"``).

    ``coefficients(p)`` returns ``((w_s, w_d), b, s)`` (affine) or ``((w,), b, s)`` (drop) from the
    parameters ``p`` (``p[..., i]`` is parameter i); ``None`` stands for w = 1, b = 0 or s = 1 and
    costs nothing. ``roles`` gives each parameter's role (``ROLES``, for initialisation) and so the
    parameter count. ``spice`` is the law as an ngspice expression with the fields ``SPICE_FIELDS``.
    ``formula`` is LaTeX in v_s, v_d and p_0..p_2.
    """

    name: str
    label: str
    formula: str
    act: Activation
    inputs: str
    coefficients: Callable[[Tensor], Coefficients]
    roles: tuple[str, ...]
    spice: str
    passive: bool = False

    @property
    def n_params(self) -> int:
        return len(self.roles)

    def preactivation(self, vs: Tensor, vd: Tensor, w: tuple[Tensor | None, ...], b: Tensor | None) -> Tensor:
        """u, the activation's argument, from the terminal voltages and the coefficients."""
        u = _times(w[0], vs) + _times(w[1], vd) if self.inputs == "affine" else _times(w[0], vs - vd)
        return u if b is None else u + b

    def current(self, vs: Tensor, vd: Tensor, p: Tensor) -> Tensor:
        """I(v_s, v_d; p), shape (..., E)."""
        return self.current_from(vs, vd, self.coefficients(p))

    def current_from(self, vs: Tensor, vd: Tensor, coefficients: Coefficients) -> Tensor:
        """The current from coefficients made beforehand (once per solve, say)."""
        w, b, s = coefficients
        i = self.act.fn(self.preactivation(vs, vd, w, b))
        return i if s is None else i * s

    def partials(self, vs: Tensor, vd: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        """(dI/dv_s, dI/dv_d), analytic: act'(u) * s times the coefficient of each terminal."""
        w, b, s = self.coefficients(p)
        u = self.preactivation(vs, vd, w, b)
        g = _times(s, self.act.grad(u, self.act.fn(u)))
        if self.inputs == "affine":
            return _times(w[0], g), _times(w[1], g)
        d = _times(w[0], g)
        return d, -d

    def dense_form(self, p: Tensor, selectors: tuple[Tensor, ...]
                   ) -> tuple[Callable[[Tensor], Tensor], Tensor, Tensor | None, Tensor | None]:
        """(act, W, b, s) with I = act(v @ W + b) * s for a whole group of devices; ``selectors`` is
        (S_src, S_dst) for affine families and (S_src - S_dst,) for drop families (``selectors``)."""
        w, b, s = self.coefficients(p)
        if self.inputs == "affine":
            return self.act.fn, _times(w[0], selectors[0]) + _times(w[1], selectors[1]), b, s
        return self.act.fn, _times(w[0], selectors[0]), b, s

    def selectors(self, s_src: Tensor, s_dst: Tensor) -> tuple[Tensor, ...]:
        """The one-hot matrices ``dense_form`` combines: both terminals, or only their difference."""
        return (s_src, s_dst) if self.inputs == "affine" else (s_src - s_dst,)


# --- the built-in families -------------------------------------------------------------------------------

_AFFINE_SPICE = "{p0}*{vs}+{p1}*{vd}+{p2}"
_LRELU_SPICE = "(uramp({x})-" + repr(LEAKY_SLOPE) + "*uramp(-({x})))"


def _affine(p: Tensor) -> Coefficients:
    return (p[..., 0], p[..., 1]), p[..., 2], None


def _thresholded(p: Tensor) -> Coefficients:
    """p1 act(v_s - v_d - p0): a threshold in volts and a current scale."""
    return (None,), -p[..., 0], p[..., 1]


_BUILT_IN = [
    DeviceKind("ShiftTanh2", "tanh transconductor (3 inputs)", r"\tanh(p_0 v_s + p_1 v_d + p_2)", TANH, "affine",
               _affine, ("scale", "scale", "scale"), "tanh(" + _AFFINE_SPICE + ")"),
    DeviceKind("ShiftTanh1", "tanh transconductor (difference)", r"\tanh(p_1 (v_s - v_d) + p_0)", TANH, "drop",
               lambda p: ((p[..., 1],), p[..., 0], None), ("scale", "scale"), "tanh({p1}*{drop}+{p0})"),
    DeviceKind("ShiftRelu1", "ReLU transconductor (difference)", r"p_1 \,\mathrm{relu}(v_s - v_d - p_0)", RELU,
               "drop", _thresholded, ("threshold", "scale"), "{p1}*uramp({drop}-{p0})"),
    DeviceKind("ShiftRelu2", "ReLU transconductor (3 inputs)", r"\mathrm{relu}(p_0 v_s + p_1 v_d + p_2)", RELU,
               "affine", _affine, ("scale", "scale", "scale"), "uramp(" + _AFFINE_SPICE + ")"),
    DeviceKind("ShiftLeakyRelu1", "leaky-ReLU transconductor (difference)", r"p_1 \,\mathrm{lrelu}(v_s - v_d - p_0)",
               LEAKY_RELU, "drop", _thresholded, ("threshold", "scale"),
               "{p1}*" + _LRELU_SPICE.replace("{x}", "{drop}-{p0}")),
    DeviceKind("ShiftLeakyRelu2", "leaky-ReLU transconductor (3 inputs)", r"\mathrm{lrelu}(p_0 v_s + p_1 v_d + p_2)",
               LEAKY_RELU, "affine", _affine, ("scale", "scale", "scale"), _LRELU_SPICE.replace("{x}", _AFFINE_SPICE)),
    DeviceKind("Conductance", "linear resistor / conductance", r"p_0 (v_s - v_d)", IDENTITY, "drop",
               lambda p: ((p[..., 0],), None, None), ("scale",), "{p0}*{drop}"),
    # Absolute values keep it passive whatever the learned parameters.
    DeviceKind("TanhResistor", "saturating resistor (passive)", r"|p_0| \tanh(|p_1| (v_s - v_d))", TANH, "drop",
               lambda p: ((p[..., 1].abs(),), None, p[..., 0].abs()), ("scale", "slope"), "{a0}*tanh({a1}*{drop})",
               passive=True),
]

KINDS: dict[str, DeviceKind] = {}
"""All device families by name, built-in and registered. ``TanhResistor`` is the physically passive
nonlinear device: g(v, v) = 0 and the current always flows down the voltage drop. ``Conductance``
is passive only while p0 > 0."""


# --- the registry --------------------------------------------------------------------------------------

def _check(kind: DeviceKind) -> None:
    """Refuse a record the model, the trace or SPICE could not use, naming what is wrong."""
    where = f"device kind {kind.name!r}"
    if not isinstance(kind.name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", kind.name):
        raise ValueError(f"device kind: the name must be a letter then letters, digits or _, got {kind.name!r}")
    if kind.inputs not in INPUTS:
        raise ValueError(f"{where}: inputs must be one of {list(INPUTS)}, got {kind.inputs!r}")
    if not 1 <= kind.n_params <= MAX_PARAMS or any(r not in ROLES for r in kind.roles):
        raise ValueError(f"{where}: roles must name 1 to {MAX_PARAMS} parameters, each one of {list(ROLES)}; "
                         f"got {kind.roles!r}")
    fields = {f"{c}{i}": "1" for c in "pa" for i in range(kind.n_params)} | {"vs": "v(n1)", "vd": "v(n2)",
                                                                            "drop": "(v(n1)-v(n2))"}
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(kind.spice) if f is not None}
        kind.spice.format(**fields)
    except (KeyError, IndexError, ValueError) as e:
        raise ValueError(f"{where}: the SPICE expression may only use {SPICE_FIELDS} for its "
                         f"{kind.n_params} parameter(s) ({e!r})") from None
    if not names & {"vs", "vd", "drop"}:
        raise ValueError(f"{where}: the SPICE expression must depend on {{vs}}, {{vd}} or {{drop}}")
    # The analytic derivatives must be the law's: one small autograd comparison.
    g = torch.Generator().manual_seed(0)
    vs, vd = (torch.randn(8, 5, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(2))
    p = torch.randn(5, kind.n_params, generator=g, dtype=torch.float64)
    w, b, s = kind.coefficients(p)
    if len(w) != (2 if kind.inputs == "affine" else 1):
        raise ValueError(f"{where}: coefficients must return ((w_s, w_d), b, s) for affine families and "
                         f"((w,), b, s) for drop families, got {len(w)} weight(s)")
    i = kind.current(vs, vd, p)
    if i.shape != vs.shape:
        raise ValueError(f"{where}: the current has shape {tuple(i.shape)} for voltages {tuple(vs.shape)}")
    want = torch.autograd.grad(i.sum(), (vs, vd))
    got = kind.partials(vs.detach(), vd.detach(), p)
    if not all(torch.allclose(a.expand_as(b_), b_, atol=1e-9) for a, b_ in zip(got, want)):
        raise ValueError(f"{where}: the activation's derivative (act.grad) does not match the law")


def register_kind(kind: DeviceKind) -> DeviceKind:
    """Add a device family at run time; every part of the core reads it from ``KINDS`` from then on.

    The record is checked first (name, roles, SPICE fields, derivative against autograd) and a name
    already in use is refused: ``unregister_kind`` it first.
    """
    if kind.name in KINDS:
        raise ValueError(f"device kind {kind.name!r} is already registered")
    _check(kind)
    KINDS[kind.name] = kind
    return kind


def unregister_kind(name: str) -> DeviceKind:
    """Remove a family added by ``register_kind`` (built-in families stay)."""
    if name in BUILT_IN:
        raise ValueError(f"device kind {name!r} is built in and cannot be removed")
    try:
        return KINDS.pop(name)
    except KeyError:
        raise ValueError(f"device kind {name!r} is not registered") from None


for _kind in _BUILT_IN:
    register_kind(_kind)
BUILT_IN = frozenset(KINDS)


def get_kind(name: str) -> DeviceKind:
    """Look up a family by name with an error that lists the valid names."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown device kind {name!r}; choose one of {sorted(KINDS)}") from None


def display_name(name: str) -> str:
    """Friendly name for the UI, e.g. 'ShiftTanh2 — tanh transconductor (3 inputs)'."""
    return f"{name} — {get_kind(name).label}"


def zero_unused(params: np.ndarray, kinds: np.ndarray) -> None:
    """Set the parameter columns a device's family does not use to 0, in place: ``params`` is
    (E, MAX_PARAMS), ``kinds`` the E family names."""
    for k in set(kinds.tolist()):
        params[kinds == k, KINDS[k].n_params:] = 0.0
