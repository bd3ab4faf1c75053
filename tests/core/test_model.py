"""The ODE model against physics (KCL), an independent scipy integration, and gradient checks."""

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from kirchhoff_core import model as model_mod
from kirchhoff_core.circuit import Circuit, make_slice
from kirchhoff_core.devices import KINDS
from kirchhoff_core.initialisation import init_circuit
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig

ALL_KINDS = sorted(KINDS)


def _lrelu(u):
    return np.where(u > 0, u, 0.01 * u)


# The paper's I-V table written out again in numpy, independently of kirchhoff_core.devices.
NUMPY_LAWS = {
    "ShiftTanh2": lambda vs, vd, p: np.tanh(p[0] * vs + p[1] * vd + p[2]),
    "ShiftTanh1": lambda vs, vd, p: np.tanh(p[1] * (vs - vd) + p[0]),
    "ShiftRelu1": lambda vs, vd, p: p[1] * np.maximum(vs - vd - p[0], 0.0),
    "ShiftRelu2": lambda vs, vd, p: np.maximum(p[0] * vs + p[1] * vd + p[2], 0.0),
    "ShiftLeakyRelu1": lambda vs, vd, p: p[1] * _lrelu(vs - vd - p[0]),
    "ShiftLeakyRelu2": lambda vs, vd, p: _lrelu(p[0] * vs + p[1] * vd + p[2]),
    "Conductance": lambda vs, vd, p: p[0] * (vs - vd),
    "TanhResistor": lambda vs, vd, p: abs(p[0]) * np.tanh(abs(p[1]) * (vs - vd)),
}
assert set(NUMPY_LAWS) == set(KINDS)


def random_circuit(seed, kinds, widths=(5,), durations=None, n_in=2, n_out=2, density=0.6, resize="pad",
                   per_node_c=False):
    """Random multi-slice circuit with parallel devices and ground links."""
    rng = np.random.default_rng(seed)
    slices = []
    durations = durations or [0.4 + 0.3 * i for i in range(len(widths))]
    for w, dur in zip(widths, durations):
        pairs = [(a, b) for a in range(w + 1) for b in range(w + 1) if a != b and rng.random() < density]
        pairs += pairs[: max(1, len(pairs) // 4)]  # parallel devices
        kind = rng.choice(kinds, len(pairs)).tolist()
        slices.append(make_slice(dur, pairs, kind, num_nodes=w))
    cap = rng.uniform(0.5, 2.0, max(widths)).tolist() if per_node_c else 1.0
    c = Circuit(widths[0], slices, inputs=list(range(1, n_in + 1)),
                outputs=list(range(widths[-1] - n_out + 1, widths[-1] + 1)), capacitance=cap, resize=resize)
    return init_circuit(c, gain=1.0, seed=seed)


def numpy_rhs(circuit, i):
    s, w = circuit.slices[i], circuit.width(i)
    cap = circuit.capacitances(w)

    def f(t, v):
        vf = np.concatenate([[0.0], v])
        net = np.zeros(w + 1)
        for e in range(s.num_devices):
            cur = NUMPY_LAWS[s.kind[e]](vf[s.src[e]], vf[s.dst[e]], s.params[e])
            net[s.dst[e]] += cur
            net[s.src[e]] -= cur
        return net[1:] / cap
    return f


def scipy_trajectory(circuit, x, times, rhs=numpy_rhs, tol=1e-12):
    """Integrate slice by slice with solve_ivp (DOP853), resizing the state like the paper.
    ``rhs(circuit, i)`` builds slice i's right-hand side (test_integrators passes a vectorised one)."""
    v = np.zeros(circuit.width(0))
    v[np.array(circuit.inputs) - 1] = x
    bounds = np.concatenate([[0.0], np.cumsum(circuit.durations)])
    out = np.full((len(times), circuit.max_width), np.nan)
    for i in range(len(circuit.slices)):
        w = circuit.width(i)
        if len(v) >= w:
            v = v[:w]
        elif circuit.resize == "tile":
            v = np.tile(v, -(-w // len(v)))[:w]
        else:
            v = np.concatenate([v, np.zeros(w - len(v))])
        t0, t1 = bounds[i], bounds[i + 1]
        sol = solve_ivp(rhs(circuit, i), (0, t1 - t0), v, method="DOP853", rtol=tol, atol=tol,
                        dense_output=True)
        for j, t in enumerate(times):
            if (t0 <= t <= t1) if i == 0 else (t0 < t <= t1):
                out[j, :w] = sol.sol(t - t0)
        v = sol.y[:, -1]
    return out


@pytest.mark.parametrize("kind", ALL_KINDS + ["mixed"])
def test_kcl_charge_conservation(kind):
    """Sum over nodes of C dv/dt equals the current delivered from ground (float64, 1e-10)."""
    kinds = ALL_KINDS if kind == "mixed" else [kind]
    c = random_circuit(1, kinds, widths=(6,), per_node_c=True)
    m = KirchhoffNet(c, dtype=torch.float64)
    v = torch.randn(7, 6, dtype=torch.float64)
    s = c.slices[0]
    cap = torch.tensor(c.capacitances(6))
    total = (cap * m.slices[0](torch.tensor(0.0), v)).sum(-1).detach()
    i = m.currents(v).detach()
    from_ground = i[:, torch.as_tensor(s.src == 0)].sum(-1) - i[:, torch.as_tensor(s.dst == 0)].sum(-1)
    assert torch.allclose(total, from_ground, atol=1e-10, rtol=0)
    assert m.kcl_residual(v).abs().max() < 1e-10
    # the per-device currents agree with the independent numpy laws
    vf = np.concatenate([np.zeros((7, 1)), v.numpy()], axis=1)
    for e in range(s.num_devices):
        want = NUMPY_LAWS[s.kind[e]](vf[:, s.src[e]], vf[:, s.dst[e]], s.params[e])
        np.testing.assert_allclose(i[:, e].numpy(), want, atol=1e-12)


@pytest.mark.parametrize("kind", ALL_KINDS + ["mixed"])
def test_agrees_with_scipy_multi_slice(kind):
    kinds = ALL_KINDS if kind == "mixed" else [kind]
    c = random_circuit(2, kinds, widths=(4, 6, 3), resize="tile" if kind == "mixed" else "pad")
    times = [0.0, 0.2, 0.4, 0.75, 1.1, 1.6, c.t_end]
    x = np.array([0.7, -0.9])
    m = KirchhoffNet(c, SolverConfig(rtol=1e-10, atol=1e-10), dtype=torch.float64)
    ours = m.trajectory(torch.tensor(x), times)[:, 0].detach().numpy()
    ref = scipy_trajectory(c, x, times)
    assert np.array_equal(np.isnan(ours), np.isnan(ref))
    assert np.nanmax(np.abs(ours - ref)) <= 1e-5
    # forward() is the read-out at T of the trajectory
    out = m(torch.tensor(x)).detach().numpy()[0]
    np.testing.assert_allclose(out, ref[-1, np.array(c.outputs) - 1], atol=1e-5)


def test_sparse_path_matches_dense(monkeypatch):
    c = random_circuit(3, ALL_KINDS, widths=(5, 5))
    x = torch.tensor([[0.3, -0.4], [1.0, 0.2]], dtype=torch.float64)
    dense = KirchhoffNet(c, SolverConfig(rtol=1e-9, atol=1e-9), dtype=torch.float64)
    monkeypatch.setattr(model_mod, "DENSE_LIMIT", 0)
    sparse = KirchhoffNet(c, SolverConfig(rtol=1e-9, atol=1e-9), dtype=torch.float64)
    assert dense.slices[0].dense and not sparse.slices[0].dense
    assert torch.allclose(dense(x), sparse(x), atol=1e-12)
    v = torch.randn(3, 5, dtype=torch.float64)
    assert torch.allclose(dense.currents(v), sparse.currents(v), atol=1e-13)


@pytest.mark.parametrize("method", ["rk4", "euler", "midpoint", "bosh3"])
def test_other_solvers_converge(method):
    c = random_circuit(4, ["ShiftTanh2", "Conductance"], widths=(4,))
    x = torch.tensor([[0.5, -0.5]], dtype=torch.float64)
    ref = KirchhoffNet(c, SolverConfig(rtol=1e-10, atol=1e-10), dtype=torch.float64)(x)
    step = 0.002 if method == "euler" else 0.02
    m = KirchhoffNet(c, SolverConfig(method=method, step_size=step, rtol=1e-8, atol=1e-8), dtype=torch.float64)
    tol = 5e-3 if method == "euler" else 1e-4
    assert (m(x) - ref).abs().max() < tol


def test_gradcheck_small_circuit():
    c = random_circuit(5, ["ShiftTanh2", "ShiftTanh1", "TanhResistor"], widths=(3,), density=0.8)
    m = KirchhoffNet(c, SolverConfig(rtol=1e-10, atol=1e-10), dtype=torch.float64)
    x = torch.tensor([[0.4, -0.3]], dtype=torch.float64, requires_grad=True)
    # gradient w.r.t. the input voltages, through the adaptive solver
    assert torch.autograd.gradcheck(lambda x_: m(x_), (x,), eps=1e-6, atol=1e-5)
    # gradient w.r.t. every device parameter
    names = [n for n, _ in m.named_parameters()]
    values = tuple(p.detach().clone().requires_grad_(True) for p in m.parameters())

    def f(*ps):
        return torch.func.functional_call(m, dict(zip(names, ps)), (x.detach(),))

    assert torch.autograd.gradcheck(f, values, eps=1e-6, atol=1e-5)


SMOOTH_KINDS = ["ShiftTanh2", "ShiftTanh1", "Conductance", "TanhResistor"]


def test_adjoint_matches_direct_gradients():
    """Smooth devices: the ReLU kinks make any adjoint solve less accurate than its tolerance."""
    c = random_circuit(6, SMOOTH_KINDS, widths=(5, 5))
    x = torch.randn(8, 2, dtype=torch.float64)
    grads = []
    for adjoint in (False, True):
        m = KirchhoffNet(c, SolverConfig(rtol=1e-9, atol=1e-9, adjoint=adjoint), dtype=torch.float64)
        loss = (m(x) ** 2).sum()
        forward_nfe = m.stats.nfe
        grads.append(torch.autograd.grad(loss, list(m.parameters())))
        backward_nfe = m.stats.nfe - forward_nfe
        assert (backward_nfe > 0) == adjoint  # the adjoint's backward solve is counted
    for gd, ga in zip(*grads):
        assert torch.allclose(gd, ga, rtol=1e-3, atol=1e-8)


def test_trajectory_at_boundary_and_nan_for_missing_nodes():
    c = random_circuit(7, ["ShiftTanh2"], widths=(3, 5), durations=[0.5, 0.5])
    m = KirchhoffNet(c, SolverConfig(rtol=1e-9, atol=1e-9), dtype=torch.float64)
    tr = m.trajectory(torch.tensor([[1.0, -1.0]], dtype=torch.float64), [0.0, 0.5, 0.75])
    assert tr.shape == (3, 1, 5)
    assert torch.isnan(tr[0, 0, 3:]).all() and torch.isnan(tr[1, 0, 3:]).all()
    assert not torch.isnan(tr[2]).any()
    assert torch.equal(tr[0, 0, :3], torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64))


def test_to_circuit_carries_trained_parameters():
    c = random_circuit(8, ALL_KINDS, widths=(4,))
    m = KirchhoffNet(c, dtype=torch.float64)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.125)
    back = m.to_circuit()
    m2 = KirchhoffNet(back, dtype=torch.float64)
    x = torch.tensor([[0.2, 0.1]], dtype=torch.float64)
    assert torch.equal(m(x), m2(x))
    assert not np.array_equal(back.slices[0].params, c.slices[0].params)


def test_degree_normalised_init_keeps_big_circuits_moving():
    """The reference's Kaiming init leaves a big circuit nearly static; ours does not."""
    from kirchhoff_core.generators import generate
    small = generate("fully_connected", num_nodes=4, n_inputs=2, n_outputs=2)
    big = generate("neighbour", channels=1, width=16, height=16, k=4, n_inputs=2, n_outputs=2)
    rates = []
    for c in (small, big):
        m = KirchhoffNet(c, dtype=torch.float64)
        v = torch.randn(16, c.num_nodes, dtype=torch.float64)
        rates.append(m.slices[0](torch.tensor(0.0), v).abs().mean().item())
    assert rates[1] > 0.3 * rates[0]
    # Kaiming over the edge dimension (sigma = sqrt(2/E)) on the big circuit is far slower.
    s = big.slices[0]
    rng = np.random.default_rng(0)
    s.params[:, :3] = rng.standard_normal((s.num_devices, 3)) * np.sqrt(2 / s.num_devices)
    m = KirchhoffNet(big, dtype=torch.float64)
    v = torch.randn(16, big.num_nodes, dtype=torch.float64)
    assert m.slices[0](torch.tensor(0.0), v).abs().mean().item() < 0.3 * rates[1]
