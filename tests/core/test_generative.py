"""Generative circuits: the O(E) Jacobian trace, the flow's log-likelihood, inversion, training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kirchhoff_core.circuit import Circuit
from kirchhoff_core.devices import KINDS
from kirchhoff_core.generative import (FLOW_PRESETS, AugmentedSlice, CircuitFlow, GenerativeConfig,
                                       GenerativeTrainer, autograd_trace, exact_trace, flow_preset,
                                       gaussian_baseline_nll, hutchinson_trace, make_probe,
                                       standard_normal_log_prob)
from kirchhoff_core.generators import generate
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig, SolverError

F64 = torch.float64
TIGHT = SolverConfig(rtol=1e-9, atol=1e-9)


def _circuit(kind: str, nodes: int = 3, seed: int = 1, **kw) -> Circuit:
    """Every ordered pair (ground included) linked twice each way, strong enough to be nonlinear."""
    args = dict(num_nodes=nodes, repeats=[2, 2], kind=kind, seed=seed, n_inputs=nodes, n_outputs=nodes, gain=2.0)
    return generate("fully_connected", **{**args, **kw})


def _aug_trace(dyn, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dv/dt, trace) from the augmented right-hand side, batch-major."""
    y = torch.cat([v, v.new_zeros(len(v), 1)], dim=1).T
    out = AugmentedSlice(dyn)(torch.tensor(0.0), y).T
    return out[:, :-1], out[:, -1]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("dense", [True, False], ids=["dense", "gather"])
def test_exact_trace_equals_brute_force_for_every_device_kind(kind, dense):
    c = _circuit(kind)
    c.capacitance = [0.5, 1.0, 2.5]  # per-node C: the trace divides each term by its node's C
    dyn = KirchhoffNet(c, dtype=F64).slices[0]
    dyn.dense = dense
    v = torch.randn(16, 3, generator=torch.Generator().manual_seed(0), dtype=F64) * 1.5
    brute = autograd_trace(dyn, v)
    assert brute.abs().max() > 0.1  # a meaningful check, not 0 == 0
    torch.testing.assert_close(exact_trace(dyn, v), brute, rtol=0, atol=1e-6)
    dv, tr = _aug_trace(dyn, v)
    torch.testing.assert_close(tr, brute, rtol=0, atol=1e-6)
    torch.testing.assert_close(dv, dyn(torch.tensor(0.0), v), rtol=0, atol=1e-12)


def test_trace_of_a_mixed_kind_slice_in_float32():
    """Kinds interleaved in one slice (the kind-grouped ordering must line up), float32 fast path."""
    c = _circuit("ShiftTanh2", repeats=[4, 4])
    kinds = sorted(KINDS)
    c.slices[0].kind = np.array([kinds[i % len(kinds)] for i in range(c.slices[0].num_devices)], dtype=object)
    from kirchhoff_core.initialisation import init_circuit
    init_circuit(c, gain=2.0, seed=3)
    v = torch.randn(16, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    dyn64 = KirchhoffNet(c, dtype=F64).slices[0]
    brute = autograd_trace(dyn64, v)
    torch.testing.assert_close(_aug_trace(dyn64, v)[1], brute, rtol=0, atol=1e-6)
    dyn32 = KirchhoffNet(c, dtype=torch.float32).slices[0]
    torch.testing.assert_close(_aug_trace(dyn32, v.float())[1].double(), brute, rtol=0, atol=1e-4)


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_hutchinson_is_unbiased(probe):
    c = _circuit("ShiftTanh2")
    dyn = KirchhoffNet(c, dtype=F64).slices[0]
    v = torch.randn(3, 3, generator=torch.Generator().manual_seed(2), dtype=F64)
    exact = exact_trace(dyn, v)
    n = 20_000
    e = make_probe((n, 3, 3), probe, torch.Generator().manual_seed(5), F64)
    est = hutchinson_trace(dyn, v.expand(n, 3, 3), e)  # (n, 3): n probes for each of 3 points
    mean, se = est.mean(0), est.std(0) / math.sqrt(n)
    assert (se > 0).all()
    assert ((mean - exact).abs() < 5 * se + 1e-12).all(), (mean, exact, se)
    if probe == "rademacher":  # random signs: never worse than Gaussian probes (no diagonal variance)
        g = hutchinson_trace(dyn, v.expand(n, 3, 3), make_probe((n, 3, 3), "gaussian",
                                                                torch.Generator().manual_seed(5), F64))
        assert (est.var(0) <= g.var(0)).all()


def test_zero_current_circuit_has_the_standard_normal_likelihood():
    c = _circuit("ShiftTanh2", nodes=2, num_slices=3, duration=0.5)
    for s in c.slices:
        s.params[:] = 0.0  # tanh(0) = 0: no device carries current
    flow = CircuitFlow(c, TIGHT, dtype=F64)
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=F64) * 2
    torch.testing.assert_close(flow.log_prob(x), standard_normal_log_prob(x), rtol=0, atol=1e-12)
    expected = -0.5 * (x ** 2).sum(1) - math.log(2 * math.pi)
    torch.testing.assert_close(flow.log_prob(x), expected, rtol=0, atol=1e-12)


def test_sampling_then_encoding_returns_the_input():
    flow = CircuitFlow(flow_preset("8gaussians").circuit(seed=0), SolverConfig(rtol=1e-8, atol=1e-8), dtype=F64)
    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    x, logdet = flow.decode(z)
    assert (x - z).abs().max() > 0.1 and logdet.abs().max() > 0.05  # the circuit really moves
    z_back, logdet_back = flow.encode(x)
    torch.testing.assert_close(z_back, z, rtol=0, atol=1e-4)
    torch.testing.assert_close(logdet_back, logdet, rtol=0, atol=1e-4)
    # change of variables: log p(x) = log N(z) - log|det dx/dz|
    torch.testing.assert_close(flow.log_prob(x), standard_normal_log_prob(z) - logdet, rtol=0, atol=1e-4)


def test_a_flow_cast_with_double_takes_float64_inputs():
    """``.double()`` after construction (the torch idiom) gives the same log-density as dtype=F64."""
    circuit = flow_preset("8gaussians").circuit(seed=0)
    cast = CircuitFlow(circuit, TIGHT).double()
    assert cast.dtype == F64
    x = np.array([[0.5, -1.0], [2.0, 0.1]])
    torch.testing.assert_close(cast.log_prob(x), CircuitFlow(circuit, TIGHT, dtype=F64).log_prob(x))


def test_logdet_matches_the_jacobian_determinant_of_the_map():
    """The integrated trace equals log|det dx/dz| of the whole multi-slice map (autograd Jacobian)."""
    flow = CircuitFlow(_circuit("ShiftTanh1", nodes=2, num_slices=2, duration=0.5), TIGHT, dtype=F64)
    z = torch.tensor([[0.3, -0.7]], dtype=F64)
    jac = torch.autograd.functional.jacobian(lambda q: flow.decode(q)[0], z).reshape(2, 2)
    assert flow.decode(z)[1].item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-6)


def test_flow_path_agrees_with_decode_and_intermediate_densities():
    flow = CircuitFlow(flow_preset("moons").circuit(seed=2), SolverConfig(rtol=1e-8, atol=1e-8), dtype=F64)
    z = torch.randn(5, 2, generator=torch.Generator().manual_seed(3), dtype=F64)
    times = [0.0, 0.2, 0.5, 0.8, 1.0]  # crosses the slice boundary at 0.5
    states, logp = flow.flow(z, times)
    assert states.shape == (5, 5, 2) and logp.shape == (5, 5)
    torch.testing.assert_close(states[0], z)
    torch.testing.assert_close(logp[0], standard_normal_log_prob(z))
    x, _ = flow.decode(z)
    torch.testing.assert_close(states[-1], x, rtol=0, atol=1e-6)
    for k in (2, 3):  # log p_t at the moving point = the density of the flow at time t
        torch.testing.assert_close(flow.log_prob(states[k], t=times[k]), logp[k], rtol=0, atol=1e-6)
    samples = flow.sample(7, seed=4)
    assert samples.shape == (7, 2)
    torch.testing.assert_close(samples, flow.sample(7, seed=4))


def test_adjoint_gradients_match_direct_backpropagation():
    c = _circuit("ShiftTanh2", nodes=2, num_slices=2, duration=0.5)
    x = torch.randn(20, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    grads = []
    for adjoint in (False, True):
        flow = CircuitFlow(c, SolverConfig(rtol=1e-9, atol=1e-9, adjoint=adjoint), dtype=F64)
        (-flow.log_prob(x).mean()).backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in flow.parameters()]))
        assert flow.stats.nfe > 0
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-5, atol=1e-7)


def _small_trainer(seed: int = 0, **kw) -> GenerativeTrainer:
    c = generate("fully_connected", num_nodes=2, repeats=[5, 5], num_slices=1, duration=1.0,
                 n_inputs=2, n_outputs=2, seed=seed)
    flow = CircuitFlow(c, SolverConfig(method="rk4", step_size=0.25))
    cfg = dict(target="8gaussians", lr=0.05, batch_size=256, eval_size=2000, eval_every=0, seed=seed)
    return GenerativeTrainer(flow, GenerativeConfig(**{**cfg, **kw}))


def test_short_training_beats_the_gaussian_baseline_on_8gaussians():
    trainer = _small_trainer()
    baseline = gaussian_baseline_nll(trainer.x_test)  # best Gaussian fitted to the held-out set (~4.25)
    before = trainer.evaluate()
    records = trainer.run(60)
    after = trainer.evaluate()
    print(f"held-out NLL {before:.3f} -> {after:.3f}; Gaussian fit {baseline:.3f}")
    assert after < baseline < before
    assert len(records) == 60 and all(r.metric == "nll" and r.nfe_forward > 0 for r in records)
    assert records[-1].train_loss < records[0].train_loss


def test_seeded_training_is_reproducible_and_reset_restores():
    a, b = _small_trainer(eval_every=2), _small_trainer(eval_every=2)
    initial = [p.detach().clone() for p in a.flow.parameters()]
    ra, rb = a.run(4), b.run(4)
    assert [r.train_loss for r in ra] == [r.train_loss for r in rb]
    assert ra[0].test_loss is None and ra[1].test_loss is not None
    for p, q in zip(a.flow.parameters(), b.flow.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    a.reset()
    assert a.history == []
    for p, q in zip(a.flow.parameters(), initial):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert [r.train_loss for r in a.run(4)] == [r.train_loss for r in ra]
    c = _small_trainer(seed=1, eval_every=2)
    assert c.run(1)[0].train_loss != ra[0].train_loss


def test_cosine_schedule_and_set_lr():
    t = _small_trainer(anneal_steps=4, final_lr_ratio=0.1, lr=0.01)
    lrs = [r.lr for r in t.run(5)]
    assert lrs[0] == pytest.approx(0.01) and lrs[2] == pytest.approx(0.0055) and lrs[4] == pytest.approx(0.001)
    t.set_lr(0.02)
    assert t.current_lr() == pytest.approx(0.002)


def test_a_resumed_run_continues_the_step_count_and_schedule():
    t = _small_trainer(anneal_steps=4, final_lr_ratio=0.1, lr=0.01, start_step=2)
    assert t.steps_done == 2
    recs = t.run(3)
    assert [r.step for r in recs] == [3, 4, 5] and t.steps_done == 5
    assert recs[0].lr == pytest.approx(0.0055) and recs[2].lr == pytest.approx(0.001)
    fresh = _small_trainer()
    assert fresh.run(1)[0].train_loss != _small_trainer(start_step=2).run(1)[0].train_loss  # own batches


def test_density_matching_lowers_the_kl_estimate():
    c = generate("fully_connected", num_nodes=2, repeats=[5, 5], kind="ShiftTanh1", num_slices=2, duration=0.5,
                 n_inputs=2, n_outputs=2, seed=0)
    flow = CircuitFlow(c, SolverConfig(method="rk4", step_size=0.125))
    trainer = GenerativeTrainer(flow, GenerativeConfig(task="density", target="U2", lr=0.03, batch_size=256,
                                                       eval_size=1000, eval_every=0))
    before = trainer.evaluate()
    records = trainer.run(25)
    after = trainer.evaluate()
    assert records[0].metric == "kl" and math.isfinite(after)
    assert after < before - 0.3, (before, after)


def test_presets_are_the_papers_circuits():
    p = flow_preset("8gaussians")
    c = p.circuit(seed=0)
    assert c.num_nodes == 2 and len(c.slices) == 4 and c.t_end == pytest.approx(2.0)
    assert all(s.num_devices == 300 and set(s.kind) == {"ShiftTanh2"} for s in c.slices)
    spirals = flow_preset("2spirals").circuit()
    assert len(spirals.slices) == 8 and spirals.t_end == pytest.approx(1.6) and spirals.slices[0].num_devices == 120
    assert flow_preset("twomoon") is FLOW_PRESETS["moons"] and FLOW_PRESETS["moons"].reference_nll == 1.011
    u1 = flow_preset("potential1").circuit()
    assert len(u1.slices) == 16 and set(u1.slices[0].kind) == {"ShiftTanh1"}
    assert p.steps == 2500 and p.config().anneal_steps == 2500
    np.testing.assert_array_equal(p.circuit(seed=5).slices[0].params, p.circuit(seed=5).slices[0].params)


def test_bad_input_gives_clear_errors():
    wide = _circuit("ShiftTanh2", nodes=3, outputs=[1, 2])
    wide.slices.append(_circuit("ShiftTanh2", nodes=2).slices[0])
    wide.slices[1].num_nodes = 2
    with pytest.raises(ValueError, match=r"every slice to have 3 node\(s\).*slice 1 has 2"):
        CircuitFlow(wide)
    three = CircuitFlow(_circuit("ShiftTanh2", nodes=3))
    with pytest.raises(ValueError, match="need a flow on 2 nodes"):
        GenerativeTrainer(three, GenerativeConfig())
    flow = CircuitFlow(_circuit("ShiftTanh2", nodes=2))
    with pytest.raises(ValueError, match="NaN or infinity"):
        flow.log_prob(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        flow.log_prob(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="must lie in"):
        flow.log_prob(torch.zeros(4, 2), t=5.0)
    with pytest.raises(ValueError, match="ascending"):
        flow.flow(torch.zeros(1, 2), [0.5, 0.1])
    with pytest.raises(ValueError, match="unknown target 'mnist'"):
        GenerativeConfig(target="mnist")
    with pytest.raises(ValueError, match="unknown potential"):
        GenerativeConfig(task="density", target="moons")
    with pytest.raises(ValueError, match="task: choose one of"):
        GenerativeConfig(task="classify")
    with pytest.raises(ValueError, match="trace: choose one of"):
        CircuitFlow(_circuit("ShiftTanh2", nodes=2), trace="approx")
    with pytest.raises(ValueError, match="batch_size"):
        GenerativeConfig(batch_size=0)


def test_runaway_solves_raise_solver_error():
    c = _circuit("Conductance", nodes=2)
    for s in c.slices:
        s.params[:, 0] = -40.0  # negative conductances: voltages grow like exp(80 t)
    flow = CircuitFlow(c, SolverConfig(rtol=1e-6, atol=1e-6, max_nfe=60))
    with pytest.raises(SolverError, match="max_nfe=60"):
        flow.log_prob(torch.ones(4, 2))


def test_hutchinson_flow_matches_exact_on_average():
    c = _circuit("ShiftTanh2", nodes=2)
    exact = CircuitFlow(c, SolverConfig(rtol=1e-7, atol=1e-7), dtype=F64)
    hutch = CircuitFlow(c, SolverConfig(rtol=1e-7, atol=1e-7), dtype=F64, trace="hutchinson", seed=3)
    x = torch.tensor([[0.4, -0.2]], dtype=F64).expand(4000, 2)
    est = hutch.log_prob(x)
    ref = exact.log_prob(x[:1])
    se = est.std() / math.sqrt(len(est))
    assert est.std() > 0 and abs(est.mean() - ref) < 5 * se
    torch.testing.assert_close(hutch.encode(x[:3])[0], exact.encode(x[:3])[0], rtol=0, atol=1e-5)
