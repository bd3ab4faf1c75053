"""The hand-written backward pass through the lean dopri5 (kirchhoff_core.backprop): memory-lean
(checkpointed) gradients equal direct ones, and both equal autograd through the same integrator."""

import numpy as np
import pytest
import torch

from kirchhoff_core import backprop, integrators
from kirchhoff_core import model as model_mod
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig
from test_model import ALL_KINDS, SMOOTH_KINDS, random_circuit

F64 = torch.float64
TIGHT = dict(rtol=1e-8, atol=1e-8)


def _grads(model: KirchhoffNet, seed: int = 0, times=None) -> list[torch.Tensor]:
    """Gradient of a squared-error loss w.r.t. the inputs and every parameter (read-out at T, or the
    whole trajectory at ``times``)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(6, 2, generator=g, dtype=F64).requires_grad_(True)
    out = model(x) if times is None else model.trajectory(x, times)
    target = torch.randn(out.shape, generator=g, dtype=F64)
    loss = ((torch.nan_to_num(out) - target) ** 2).sum()
    return list(torch.autograd.grad(loss, [x, *model.parameters()]))


def _autograd_grads(model: KirchhoffNet, seed: int = 0) -> list[torch.Tensor]:
    """The same loss back-propagated by autograd through integrators.dopri5 called on the slices'
    own (differentiable) rates: the reference the hand-written backward must reproduce."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(6, 2, generator=g, dtype=F64).requires_grad_(True)
    v = model.initial_state(x)
    for dyn in model.slices:
        v = model.resize(v, dyn.width)
        with dyn.frozen():
            if dyn.node_major:
                v = integrators.dopri5(dyn.forward_node_major, v.t(), [0.0, dyn.duration], **TIGHT)[-1].t()
            else:
                v = integrators.dopri5(dyn, v, [0.0, dyn.duration], **TIGHT)[-1]
    out = v[..., [n - 1 for n in model.outputs]]
    target = torch.randn(out.shape, generator=g, dtype=F64)
    return list(torch.autograd.grad(((out - target) ** 2).sum(), [x, *model.parameters()]))


def _close(a: list[torch.Tensor], b: list[torch.Tensor], rtol: float) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        scale = float(y.abs().max()) or 1.0
        assert float((x - y).abs().max()) <= rtol * scale, (float((x - y).abs().max()), scale)


def _model(c, grad: str, **kw) -> KirchhoffNet:
    return KirchhoffNet(c, SolverConfig(grad=grad, **TIGHT, **kw), dtype=F64)


@pytest.mark.parametrize("layout", ["dense", "node-major"])
@pytest.mark.parametrize("kind", ALL_KINDS + ["all"])
def test_checkpointed_gradients_equal_direct(kind, layout, monkeypatch):
    """Every device family, three slices of different widths (tile resize), parallel devices and
    ground links: the memory-lean gradient (stages recomputed) is the direct one."""
    if layout == "node-major":
        monkeypatch.setattr(model_mod, "NODE_MAJOR_WIDTH", 0)
    c = random_circuit(40, ALL_KINDS if kind == "all" else [kind], widths=(5, 7, 4), per_node_c=True, resize="tile")
    direct, lean = _model(c, "direct"), _model(c, "checkpoint")
    assert all(d.node_major == (layout == "node-major") for d in direct.slices)
    gd = _grads(direct)
    assert direct.stats.nfe > 0 and direct.stats.accepted > 0
    forward_nfe = direct.stats.nfe
    gl = _grads(lean)
    _close(gl, gd, 1e-10)
    # the checkpointed backward pass recomputes the six stages of every accepted step
    assert lean.stats.nfe == forward_nfe + 6 * lean.stats.accepted


@pytest.mark.parametrize("budget_kib", [0.5, 4.0])
def test_memory_budget_mixes_kept_and_recomputed_steps(budget_kib):
    """grad="auto": stages kept until the budget is spent, recomputed after; same gradient."""
    c = random_circuit(41, ALL_KINDS, widths=(6, 6), per_node_c=True)
    gd = _grads(_model(c, "direct"))
    m = _model(c, "auto", grad_memory_gb=budget_kib / 2**20)
    _close(_grads(m), gd, 1e-10)
    forward_nfe = 2 * len(m.slices) + 6 * (m.stats.accepted + m.stats.rejected)
    recomputed = (m.stats.nfe - forward_nfe) // 6
    assert 0 < recomputed < m.stats.accepted  # some steps kept, some recomputed


@pytest.mark.parametrize("layout", ["dense", "node-major"])
def test_direct_gradients_equal_autograd_through_the_integrator(layout, monkeypatch):
    """Smooth families (with ReLU kinks, rounding differences move the steps and the gradient by
    ~1e-4 at any tolerance): the hand-written adjoint is the gradient autograd computes through
    the same integrator, to rounding; all families on the dense path, whose rate is shared."""
    if layout == "node-major":
        monkeypatch.setattr(model_mod, "NODE_MAJOR_WIDTH", 0)
    kinds = SMOOTH_KINDS if layout == "node-major" else ALL_KINDS
    c = random_circuit(42, kinds, widths=(5, 6), per_node_c=True)
    m = _model(c, "direct")
    _close(_grads(m), _autograd_grads(m), 1e-9)


def test_wide_slices_run_node_major_with_equal_gradients():
    """Wider than NODE_MAJOR_WIDTH (no monkeypatch): node-major, checkpointed == direct, and the
    read-out equals the dense layout's to rounding."""
    width = model_mod.NODE_MAJOR_WIDTH + 5
    c = random_circuit(43, ALL_KINDS, widths=(width,), density=0.1)
    direct, lean = _model(c, "direct"), _model(c, "checkpoint")
    assert direct.slices[0].node_major
    _close(_grads(lean), _grads(direct), 1e-10)


def test_huge_slices_without_dense_matrices(monkeypatch):
    """Slices over DENSE_LIMIT keep no dense matrices and run node-major; gradients as direct."""
    monkeypatch.setattr(model_mod, "DENSE_LIMIT", 0)
    c = random_circuit(44, SMOOTH_KINDS + ["ShiftRelu1"], widths=(5, 5))
    direct = _model(c, "direct")
    assert not direct.slices[0].dense and direct.slices[0].node_major
    _close(_grads(_model(c, "checkpoint")), _grads(direct), 1e-10)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_one_evaluation_vjp_matches_autograd(kind):
    """Both rates' hand-written vector-Jacobian products against autograd on the model's own
    differentiable rates (dense: the same DenseRate; node-major: forward_node_major)."""
    c = random_circuit(45, [kind], widths=(6,), per_node_c=True)
    dyn = KirchhoffNet(c, dtype=F64).slices[0]
    g = torch.Generator().manual_seed(1)
    v = torch.randn(4, 6, generator=g, dtype=F64, requires_grad=True)
    w = torch.randn(4, 6, generator=g, dtype=F64)
    params = list(dyn.parameters())
    for rate, ref in ((dyn.dense_rate(), lambda: dyn(torch.tensor(0.0), v)),
                      (dyn.edge_rate(), lambda: dyn.forward_node_major(0.0, v.t()).t())):
        node_major = isinstance(rate, backprop.EdgeRate)
        y = v.detach().t().contiguous() if node_major else v.detach()
        with torch.no_grad():
            rate_out, kept = rate(y, keep=True)
        assert torch.allclose(rate_out.t() if node_major else rate_out, ref(), atol=1e-13)
        coefs = rate.coefficients()
        grads = [None] * len(coefs)
        with torch.no_grad():
            dv = rate.vjp(y, kept, w.t().contiguous() if node_major else w, grads)
        pairs = [(c_, g_) for c_, g_ in zip(coefs, grads) if c_ is not None and c_.requires_grad]
        assert all(g_ is not None for _, g_ in pairs)
        got = torch.autograd.grad([c_ for c_, _ in pairs], params, [g_.reshape(c_.shape) for c_, g_ in pairs],
                                  allow_unused=True)
        want = torch.autograd.grad((ref() * w).sum(), [v, *params])
        assert torch.allclose(dv.t() if node_major else dv, want[0], atol=1e-12)
        for a, b in zip(got, want[1:]):
            assert torch.allclose(torch.zeros_like(b) if a is None else a, b, atol=1e-12)


def test_gradients_through_requested_times():
    """A trajectory read between steps (the dense output) back-propagates through the hand-written
    pass too: checkpointed equals direct, and both equal autograd's (smooth families)."""
    c = random_circuit(46, SMOOTH_KINDS, widths=(4, 5), durations=[0.6, 0.5])
    times = np.linspace(0.0, c.t_end, 9)
    gd = _grads(_model(c, "direct"), times=times)
    _close(_grads(_model(c, "checkpoint"), times=times), gd, 1e-10)
    m = _model(c, "direct")
    for d in m.slices:
        d.lean = False  # autograd through integrators.dopri5 with the old rates
    _close(gd, _grads(m, times=times), 1e-7)


def test_direct_backward_pass_does_no_solver_work():
    """Direct: no evaluation in the backward pass (Trainer's nfe_backward stays 0)."""
    c = random_circuit(47, ALL_KINDS, widths=(5,))
    m = _model(c, "direct")
    x = torch.randn(3, 2, dtype=F64)
    loss = (m(x) ** 2).sum()
    nfe = m.stats.nfe
    loss.backward()
    assert m.stats.nfe == nfe
