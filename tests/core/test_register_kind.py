"""A device family registered at run time with one record, and nothing else changed: it trains,
its exact CNF trace matches autograd, and ngspice runs it like the torch model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kirchhoff_core import DeviceKind, register_kind, unregister_kind
from kirchhoff_core import spice
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.devices import KINDS, Activation
from kirchhoff_core.generative import AugmentedSlice, autograd_trace, exact_trace
from kirchhoff_core.generators import generate
from kirchhoff_core.io import dumps_circuit, loads_circuit
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.train import TrainConfig, Trainer

F64 = torch.float64
NAME = "SoftplusDrop"
SOFTPLUS = Activation("softplus", F.softplus, lambda u, a: torch.sigmoid(u))
# I = p1 softplus(p0 (v_s - v_d)): a transconductor that conducts one way and leaks the other.
RECORD = DeviceKind(NAME, "softplus transconductor (difference)", r"p_1 \ln(1 + e^{p_0 (v_s - v_d)})", SOFTPLUS,
                    "drop", lambda p: ((p[..., 0],), None, p[..., 1]), ("scale", "scale"),
                    "{p1}*ln(1+exp({p0}*{drop}))")


@pytest.fixture
def softplus():
    register_kind(RECORD)
    try:
        yield NAME
    finally:
        unregister_kind(NAME)
    assert NAME not in KINDS


def test_a_registered_family_trains(softplus):
    circuit = generate("fully_connected", num_nodes=5, repeats=[1, 1], kind=softplus, inputs=[1, 2], outputs=[4, 5],
                       seed=0)
    assert set(circuit.slices[0].kind.tolist()) == {softplus}
    assert loads_circuit(dumps_circuit(circuit)).slices[0].kind[0] == softplus  # and it round-trips through JSON
    data = make_dataset("moons", n_samples=200, seed=0)
    model = KirchhoffNet(circuit, SolverConfig(rtol=1e-4, atol=1e-4))
    trainer = Trainer(model, data, TrainConfig(lr=0.05, batch_size=32))
    before, _ = trainer.evaluate(trainer.x_train, trainer.y_train)
    trainer.run(8)
    assert trainer.history[-1].train_loss < before - 0.05, (before, [r.train_loss for r in trainer.history])


@pytest.mark.parametrize("dense", [True, False], ids=["dense", "gather"])
def test_a_registered_family_has_the_exact_trace(softplus, dense):
    c = generate("fully_connected", num_nodes=3, repeats=[2, 2], kind=softplus, n_inputs=3, n_outputs=3, gain=2.0,
                 seed=1)
    c.capacitance = [0.5, 1.0, 2.5]
    dyn = KirchhoffNet(c, dtype=F64).slices[0]
    dyn.dense = dense
    v = torch.randn(16, 3, generator=torch.Generator().manual_seed(0), dtype=F64) * 1.5
    brute = autograd_trace(dyn, v)
    assert brute.abs().max() > 0.1
    torch.testing.assert_close(exact_trace(dyn, v), brute, rtol=0, atol=1e-10)
    y = torch.cat([v, v.new_zeros(len(v), 1)], dim=1).T
    out = AugmentedSlice(dyn)(torch.tensor(0.0), y).T  # the flow's own right-hand side (matrix form when dense)
    torch.testing.assert_close(out[:, -1], brute, rtol=0, atol=1e-10)
    torch.testing.assert_close(out[:, :-1], dyn(torch.tensor(0.0), v), rtol=0, atol=1e-12)


def test_a_registered_family_runs_in_ngspice(softplus):
    c = generate("fully_connected", num_nodes=4, repeats=[1, 1], kind=softplus, n_inputs=2, n_outputs=2, num_slices=2,
                 duration=0.5, seed=2)
    assert "ln(1+exp(" in spice.slice_netlist(c, 0, np.zeros(4))
    r = spice.compare(c, np.array([0.6, -0.8]))
    assert r.max_abs <= 1e-3
    assert np.abs(r.spice[-1] - r.spice[0])[np.isfinite(r.spice[0])].max() > 0.05  # it did move


def test_bad_records_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_kind(KINDS["ShiftTanh2"])
    wrong_grad = Activation("softplus", F.softplus, lambda u, a: a)
    with pytest.raises(ValueError, match="derivative"):
        register_kind(DeviceKind("Bad", "x", "x", wrong_grad, "drop", RECORD.coefficients, ("scale", "scale"),
                                 RECORD.spice))
    with pytest.raises(ValueError, match="SPICE expression may only use"):
        register_kind(DeviceKind("Bad", "x", "x", SOFTPLUS, "drop", RECORD.coefficients, ("scale", "scale"),
                                 "{p2}*{drop}"))
    with pytest.raises(ValueError, match="roles"):
        register_kind(DeviceKind("Bad", "x", "x", SOFTPLUS, "drop", RECORD.coefficients, ("gain",), RECORD.spice))
    with pytest.raises(ValueError, match="built in"):
        unregister_kind("ShiftTanh2")
    assert "Bad" not in KINDS
