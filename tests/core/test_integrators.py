"""The lean Dormand-Prince integrator against scipy, against torchdiffeq's dopri5, and its guards."""

import numpy as np
import pytest
import torch
import torchdiffeq
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from kirchhoff_core import integrators
from kirchhoff_core import model as model_mod
from kirchhoff_core.circuit import Circuit, make_slice
from kirchhoff_core.model import KirchhoffNet, _detached_rms
from kirchhoff_core.solvers import SolverConfig, SolverError, SolverStats, WorkGuard
from test_model import ALL_KINDS, NUMPY_LAWS, SMOOTH_KINDS, numpy_rhs, random_circuit, scipy_trajectory

KIND_SETS = {"tanh": ["ShiftTanh2", "ShiftTanh1"], "relu": ["ShiftRelu1", "ShiftLeakyRelu2"],
             "passive": ["Conductance", "TanhResistor"], "all": ALL_KINDS}


def lean_trajectory(model: KirchhoffNet, x: torch.Tensor, times: np.ndarray) -> np.ndarray:
    """Slice by slice with integrators.dopri5 called directly (times inside each slice requested)."""
    bounds = model.boundaries
    v = model.initial_state(x)
    out = np.full((len(times), model.circuit.max_width), np.nan)
    for i, dyn in enumerate(model.slices):
        v = model.resize(v, dyn.width)
        inside = (times >= bounds[i]) & (times <= bounds[i + 1]) if i == 0 else \
            (times > bounds[i]) & (times <= bounds[i + 1])
        local = [0.0, *(times[inside] - bounds[i]), dyn.duration]
        with dyn.frozen():
            if dyn.node_major:  # the layout the model uses for wide slices: (width, batch)
                sol = integrators.dopri5(dyn.forward_node_major, v.t().contiguous(), local, model.solver.rtol,
                                         model.solver.atol).transpose(1, 2)
            else:
                sol = integrators.dopri5(dyn, v, local, model.solver.rtol, model.solver.atol)
        out[inside, : dyn.width] = sol[1:-1, 0].detach().numpy()
        v = sol[-1]
    return out


def vector_rhs(circuit: Circuit, i: int):
    """test_model's independent numpy laws, vectorised per kind (scipy needs many evaluations)."""
    s, w = circuit.slices[i], circuit.width(i)
    cap = circuit.capacitances(w)
    groups = [(NUMPY_LAWS[k], np.flatnonzero(s.kind == k)) for k in sorted(set(s.kind.tolist()))]

    def f(t, v):
        vf = np.concatenate([[0.0], v])
        net = np.zeros(w + 1)
        for law, idx in groups:
            cur = law(vf[s.src[idx]], vf[s.dst[idx]], s.params[idx].T)
            np.add.at(net, s.dst[idx], cur)
            np.add.at(net, s.src[idx], -cur)
        return net[1:] / cap
    return f


def scipy_reference(circuit: Circuit, x: np.ndarray, times: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """test_model's solve_ivp reference on the vectorised right-hand side."""
    return scipy_trajectory(circuit, x, times, rhs=vector_rhs, tol=tol)


def torchdiffeq_final(model: KirchhoffNet, x: torch.Tensor) -> torch.Tensor:
    """The same model's read-out with torchdiffeq's dopri5 (direct back-propagation)."""
    cfg = model.solver
    v = model.initial_state(x)
    for dyn in model.slices:
        v = model.resize(v, dyn.width)
        with dyn.frozen():
            v = torchdiffeq.odeint(dyn, v, torch.tensor([0.0, dyn.duration], dtype=v.dtype), rtol=cfg.rtol,
                                   atol=cfg.atol, method="dopri5", options={"norm": _detached_rms})[-1]
    return v[..., [n - 1 for n in model.outputs]]


@pytest.mark.parametrize("kinds", [*KIND_SETS, "all, wide"])
def test_agrees_with_scipy_at_requested_times(kinds, monkeypatch):
    """Random 3-slice circuits (parallel devices, ground links, per-node C); times between steps
    come from the dense output, the slice ends from steps cut onto them. "wide" slices run
    node-major (gather / index_add) instead of the dense products; there the middle slice has no
    devices at all (the voltages hold)."""
    widths, density = ((26, 3, 25), 0.05) if kinds.endswith("wide") else ((4, 6, 3), 0.6)
    c = random_circuit(11, KIND_SETS[kinds.split(",")[0]], widths=widths, per_node_c=True, density=density,
                       resize="tile" if kinds.startswith("all") else "pad")
    assert (c.slices[1].num_devices == 0) == kinds.endswith("wide")
    monkeypatch.setattr(model_mod, "NODE_MAJOR_WIDTH", 20)  # whatever the tuned crossover is
    times = np.linspace(0.0, c.t_end, 31)
    x = np.array([0.8, -0.6])
    m = KirchhoffNet(c, SolverConfig(rtol=1e-9, atol=1e-9), dtype=torch.float64)
    ref = scipy_reference(c, x, times)
    ours = lean_trajectory(m, torch.tensor(x), times)
    assert np.array_equal(np.isnan(ours), np.isnan(ref))
    assert np.nanmax(np.abs(ours - ref)) <= 1e-5
    # the model's trajectory() goes through the same integrator
    np.testing.assert_allclose(m.trajectory(torch.tensor(x), times)[:, 0].detach().numpy(), ours, atol=1e-12)
    assert [d.node_major for d in m.slices] == [w > 20 for w in widths]


def test_node_major_matches_dense(monkeypatch):
    """The node-major right-hand side (wide slices) against the dense one: rates and their
    vector-Jacobian products to rounding, and read-outs through the lean integrator."""
    c = random_circuit(13, ALL_KINDS, widths=(5, 7), per_node_c=True)
    cfg = SolverConfig(rtol=1e-9, atol=1e-9)
    dense = KirchhoffNet(c, cfg, dtype=torch.float64)
    monkeypatch.setattr(model_mod, "NODE_MAJOR_WIDTH", 0)
    wide = KirchhoffNet(c, cfg, dtype=torch.float64)
    assert not any(d.node_major for d in dense.slices) and all(d.node_major for d in wide.slices)
    v = torch.randn(4, 7, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 7, dtype=torch.float64)
    for i, n in enumerate((5, 7)):
        rate_d = dense.slices[i](torch.tensor(0.0), v[:, :n])
        rate_w = wide.slices[i].forward_node_major(0.0, v[:, :n].t()).t()
        assert torch.allclose(rate_w, rate_d, atol=1e-13)
        gd = torch.autograd.grad((rate_d * w[:, :n]).sum(), [v, *dense.slices[i].parameters()])
        gw = torch.autograd.grad((rate_w * w[:, :n]).sum(), [v, *wide.slices[i].parameters()])
        for a, b in zip(gd, gw):
            assert torch.allclose(a, b, atol=1e-12)
    x = torch.tensor([[0.3, -0.4], [1.0, 0.2], [-0.5, 0.9]], dtype=torch.float64)
    assert torch.allclose(dense(x), wide(x), atol=1e-8)


def test_trajectory_requests_cost_no_extra_steps():
    """Dense output: asking for 200 points inside a slice takes the same steps as the end alone."""
    c = random_circuit(12, SMOOTH_KINDS, widths=(5,))
    m = KirchhoffNet(c, SolverConfig(rtol=1e-6, atol=1e-6), dtype=torch.float64)
    x = torch.tensor([[0.3, -0.2], [1.0, 0.5]], dtype=torch.float64)
    end = m(x)
    nfe_end = m.stats.nfe
    m.stats.reset()
    traj = m.trajectory(x, np.linspace(0.0, c.t_end, 201))
    assert m.stats.nfe == nfe_end
    assert torch.equal(traj[-1][:, [n - 1 for n in c.outputs]], end)  # same last step, bit for bit
    assert torch.equal(traj[0][:, :2], x)
    # every evaluation belongs to the initial-step rule (2) or to a 6-stage step, accepted or not
    assert m.stats.nfe == 2 + 6 * (m.stats.accepted + m.stats.rejected)


@pytest.mark.parametrize("tol", [1e-3, 1e-5, 1e-7])
def test_as_accurate_as_torchdiffeq_at_the_same_tolerance(tol):
    """Same method, same step-size rule: at every tolerance the read-out error against a tight
    scipy solution is no larger than torchdiffeq's (summed over seeds), for about the same work."""
    errs = {"lean": 0.0, "torchdiffeq": 0.0}
    nfe = {"lean": 0, "torchdiffeq": 0}
    for seed in range(4):
        c = random_circuit(20 + seed, ALL_KINDS, widths=(5, 4), resize="tile")
        x = np.array([0.9, -0.7])
        ref = scipy_reference(c, x, np.array([c.t_end]))[0, np.array(c.outputs) - 1]
        m = KirchhoffNet(c, SolverConfig(rtol=tol, atol=tol), dtype=torch.float64)
        errs["lean"] += np.abs(m(torch.tensor(x)).detach().numpy()[0] - ref).max()
        nfe["lean"] += m.stats.nfe
        counter = SolverStats()  # count torchdiffeq's evaluations the same way
        for dyn in m.slices:
            dyn.guard = WorkGuard(m.solver, counter, "torchdiffeq")
        errs["torchdiffeq"] += np.abs(torchdiffeq_final(m, torch.tensor(x)).detach().numpy()[0] - ref).max()
        nfe["torchdiffeq"] += counter.nfe
        for dyn in m.slices:
            dyn.guard = None
    assert errs["lean"] <= 1.05 * errs["torchdiffeq"], errs
    assert nfe["lean"] <= nfe["torchdiffeq"] + 4 * 12, nfe


def _loss_grads(model: KirchhoffNet, seed: int, lean: bool = True) -> torch.Tensor:
    """Flattened parameter gradient of a squared-error loss on 16 random inputs."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 2, generator=g, dtype=torch.float64).to(model.dtype)
    target = torch.randn(16, 2, generator=g, dtype=torch.float64).to(model.dtype)
    out = model(x) if lean else torchdiffeq_final(model, x)
    grads = torch.autograd.grad(((out - target) ** 2).sum(), list(model.parameters()))
    return torch.cat([gr.reshape(-1) for gr in grads]).double()


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("tol, rel", [(1e-6, 1e-4), (1e-9, 1e-7)])
def test_gradients_match_torchdiffeq(tol, rel):
    """Direct back-propagation through both integrators gives the same parameter gradients (smooth
    devices: with ReLU kinks, where a step straddles the kink moves the gradient by ~1e-4 at any
    tolerance, for either integrator)."""
    for seed in (30, 31):
        c = random_circuit(seed, SMOOTH_KINDS, widths=(5, 5))
        m = KirchhoffNet(c, SolverConfig(rtol=tol, atol=tol), dtype=torch.float64)
        assert _rel(_loss_grads(m, seed), _loss_grads(m, seed, lean=False)) <= rel


def test_gradients_at_training_tolerance_are_as_accurate_as_torchdiffeq():
    """float32, rtol = atol = 1e-3 (the presets), ReLU devices included: the two discretisations
    differ by ~1 % (our last step lands on T, torchdiffeq interpolates there); against a tight
    float64 gradient both are ~1-2 % off, ours no more than torchdiffeq's over four circuits."""
    err = {"lean": 0.0, "torchdiffeq": 0.0}
    for seed in (30, 31, 32, 33):
        c = random_circuit(seed, SMOOTH_KINDS + ["ShiftRelu1"], widths=(5, 5))
        exact = _loss_grads(KirchhoffNet(c, SolverConfig(rtol=1e-8, atol=1e-8), dtype=torch.float64), seed)
        m = KirchhoffNet(c, SolverConfig(rtol=1e-3, atol=1e-3))
        lean, ref = _loss_grads(m, seed), _loss_grads(m, seed, lean=False)
        assert _rel(lean, ref) <= 0.03 and _rel(lean, exact) <= 0.03
        err["lean"] += _rel(lean, exact)
        err["torchdiffeq"] += _rel(ref, exact)
    assert err["lean"] <= err["torchdiffeq"], err


def test_gradcheck_through_dense_output():
    """Gradients of voltages read between steps (the interpolant) are exact derivatives."""
    c = random_circuit(31, ["ShiftTanh2", "TanhResistor"], widths=(3,), density=0.8)
    m = KirchhoffNet(c, SolverConfig(rtol=1e-10, atol=1e-10), dtype=torch.float64)
    x = torch.tensor([[0.4, -0.3]], dtype=torch.float64, requires_grad=True)
    times = [0.1, 0.27, c.t_end]
    assert torch.autograd.gradcheck(lambda x_: m.trajectory(x_, times), (x,), eps=1e-6, atol=1e-5)


def test_linear_circuit_matches_the_exact_solution():
    """A conductance network is dv/dt = -L v: compare with the matrix exponential at every time."""
    edges = [(1, 2), (2, 3), (3, 1), (1, 0), (3, 0)]
    g = np.array([0.7, 1.3, 0.4, 0.9, 0.2])
    c = Circuit(3, [make_slice(2.0, edges, "Conductance", np.c_[g, np.zeros((5, 2))])], inputs=[1, 2],
                outputs=[3])
    f = numpy_rhs(c, 0)
    lap = -np.stack([f(0.0, e) for e in np.eye(3)], axis=1)  # the RHS is linear: its columns
    m = KirchhoffNet(c, SolverConfig(rtol=1e-9, atol=1e-9), dtype=torch.float64)
    times = np.array([0.0, 0.05, 0.5, 1.234, 2.0])
    v0 = np.array([1.0, -2.0, 0.0])
    exact = np.stack([expm(-lap * t) @ v0 for t in times])
    got = m.trajectory(torch.tensor([[1.0, -2.0]], dtype=torch.float64), times)[:, 0].detach().numpy()
    np.testing.assert_allclose(got, exact, atol=1e-7)
    sol = solve_ivp(f, (0, 2.0), v0, rtol=1e-12, atol=1e-12, t_eval=times)
    np.testing.assert_allclose(sol.y.T, exact, atol=1e-8)  # the reference itself is right


EDGES = [(1, 2), (2, 3), (3, 1), (1, 0), (2, 0), (3, 0)]


def conductance(g: float, duration: float = 1.0) -> Circuit:
    return Circuit(3, [make_slice(duration, EDGES, "Conductance", np.tile([g, 0, 0], (len(EDGES), 1)))],
                   inputs=[1, 2], outputs=[3])


def test_work_cap_stops_a_stiff_solve():
    m = KirchhoffNet(conductance(1e6), SolverConfig(max_nfe=300), dtype=torch.float64)
    with pytest.raises(SolverError, match=r"work cap hit in slice 0: more than max_nfe=300 evaluations"):
        m(torch.tensor([[0.5, -1.0]], dtype=torch.float64))
    assert m.stats.nfe == 301


def test_time_out_stops_a_stiff_solve():
    m = KirchhoffNet(conductance(1e6), SolverConfig(max_nfe=10**9, timeout_s=0.2), dtype=torch.float64)
    with pytest.raises(SolverError, match=r"solver time-out in slice 0: took longer than 0.2 s"):
        m(torch.tensor([[0.5, -1.0]], dtype=torch.float64))


def test_nan_parameter_names_the_node():
    m = KirchhoffNet(conductance(0.5), dtype=torch.float64)
    with torch.no_grad():  # a training step gone wrong; circuits themselves refuse NaN parameters
        m.slices[0].params["Conductance"][4, 0] = float("nan")  # device 2 -> ground
    with pytest.raises(SolverError, match=r"blew up in slice 0: node \d reached a non-finite voltage by t=0\b"):
        m(torch.tensor([[0.5, -1.0]], dtype=torch.float64))


def test_exploding_circuit_stops_with_a_clear_error():
    """Negative conductances grow like exp(1e3 t): float32 overflows long before t = 1."""
    m = KirchhoffNet(conductance(-1e3), SolverConfig(max_nfe=100_000))
    with pytest.raises(SolverError, match=r"blew up in slice 0: node \d reached a non-finite voltage"):
        m(torch.tensor([[0.5, -1.0]]))
    assert m.stats.nfe < 5000


def test_stiff_but_stable_circuit_is_solved_and_counted():
    """Not an error case: a moderately stiff linear circuit is solved (against its matrix
    exponential), with the rejected steps counted."""
    m = KirchhoffNet(conductance(200.0, duration=0.2), SolverConfig(rtol=1e-6, atol=1e-6), dtype=torch.float64)
    y = m(torch.tensor([[0.5, -1.0]], dtype=torch.float64))
    f = numpy_rhs(m.circuit, 0)
    jac = np.stack([f(0.0, e) for e in np.eye(3)], axis=1)
    assert abs(y.item() - (expm(jac * 0.2) @ [0.5, -1.0, 0.0])[2]) < 1e-5
    assert m.stats.rejected > 0 and m.stats.nfe == 2 + 6 * (m.stats.accepted + m.stats.rejected)
