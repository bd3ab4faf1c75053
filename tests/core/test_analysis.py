"""The training page's numeric helpers in kirchhoff_core.analysis."""

import numpy as np
import pytest
import torch

from kirchhoff_core.analysis import (history_series, input_grid, input_line, node_voltages_grid, predict_grid,
                                     snapshot, snapshot_grid, solver_health, steps_per_epoch)
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.generators import generate
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.train import EpochRecord, TrainConfig, Trainer


def _model(name="moons"):
    return KirchhoffNet(build_circuit(preset_for(name)), dtype=torch.float64)


def test_snapshot_grid_equals_the_two_separate_evaluations():
    d = make_dataset("moons", 60)
    m = _model()
    g = input_grid(d, resolution=6)
    pred, volts = snapshot_grid(m, g, "classification")
    np.testing.assert_allclose(pred, predict_grid(m, g, "classification"), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(volts, node_voltages_grid(m, g), rtol=1e-10, atol=1e-12)
    assert pred.shape == (6, 6, 2) and volts.shape == (6, 6, 8)
    np.testing.assert_allclose(pred.sum(-1), 1.0)
    # the read-out is the output nodes' voltages (before the softmax)
    raw, _ = snapshot(m, g.points, "regression")
    np.testing.assert_allclose(raw, volts.reshape(-1, 8)[:, [6, 7]])


def test_input_line_covers_a_1d_set():
    d = make_dataset("sine", 50)
    xs = input_line(d, resolution=30, margin=0.1)
    x = np.concatenate([d.x_train, d.x_test])[:, 0]
    assert xs.shape == (30, 1)
    assert xs[0, 0] < x.min() and xs[-1, 0] > x.max() and np.all(np.diff(xs[:, 0]) > 0)
    with pytest.raises(ValueError, match="1-D"):
        input_line(make_dataset("moons", 50))
    with pytest.raises(ValueError, match="resolution"):
        input_line(d, resolution=1)


def test_steps_per_epoch():
    assert steps_per_epoch(400, 32) == 13
    assert steps_per_epoch(400, 0) == 1
    assert steps_per_epoch(64, 32) == 2
    with pytest.raises(ValueError, match="n_train"):
        steps_per_epoch(0, 32)


def _record(**kw):
    base = dict(epoch=1, train_loss=0.5, test_loss=0.6, train_metric=0.8, test_metric=0.7, metric="accuracy",
                nfe_forward=260, nfe_backward=130, rejected_steps=3, max_nfe_per_solve=26, wall_time=0.3, lr=0.02)
    return EpochRecord(**{**base, **kw})


def test_history_series_divides_nfe_by_steps():
    s = history_series([_record(), _record(epoch=2, nfe_forward=390)], steps=13)
    np.testing.assert_array_equal(s["epoch"], [1, 2])
    np.testing.assert_allclose(s["nfe_forward_per_step"], [20, 30])
    np.testing.assert_allclose(s["nfe_backward_per_step"], [10, 10])
    assert history_series([], 1)["train_loss"].shape == (0,)


def test_solver_health_warns_above_half_the_cap():
    ok = solver_health(_record(max_nfe_per_solve=26), steps=13, cap=20_000)
    assert ok.warning is None and ok.nfe_forward_per_step == 20 and ok.rejected_steps == 3
    hot = solver_health(_record(max_nfe_per_solve=12_000), steps=13, cap=20_000)
    assert hot.cap_fraction == pytest.approx(0.6)
    assert "12000 of the 20000" in hot.warning
    with pytest.raises(ValueError):
        solver_health(_record(), steps=0, cap=10)


def test_solver_health_warns_when_many_steps_are_thrown_away():
    stiff = solver_health(_record(rejected_steps=60, nfe_forward=260), steps=13, cap=20_000)
    assert "threw away 60 steps for 260" in stiff.warning
    assert solver_health(_record(rejected_steps=52, nfe_forward=260), steps=13, cap=20_000).warning is None


def test_history_series_from_a_real_trainer():
    t = Trainer(_model(), make_dataset("moons", 60), TrainConfig(batch_size=16))
    t.run(2)
    s = history_series(t.history, steps_per_epoch(len(t.x_train), 16))
    assert len(s["epoch"]) == 2 and np.all(s["nfe_forward_per_step"] > 0)


def test_points_in_box_are_seeded_and_inside():
    from kirchhoff_core.analysis import points_in_box
    p = points_in_box((1.0, -1.0), (0.5, 2.0), n=50, seed=3)
    assert p.shape == (50, 2)
    assert p[:, 0].min() >= -1 and p[:, 0].max() <= 1 and p[:, 1].min() >= 0.5 and p[:, 1].max() <= 2
    np.testing.assert_array_equal(p, points_in_box((-1, 1), (2, 0.5), n=50, seed=3))
    assert not np.array_equal(p, points_in_box((-1, 1), (0.5, 2), n=50, seed=4))
    with pytest.raises(ValueError, match="n"):
        points_in_box((0, 1), (0, 1), n=0)
    with pytest.raises(ValueError, match="finite"):
        points_in_box((0, float("nan")), (0, 1))


def test_node_balance_adds_the_device_currents_up_to_c_dv_dt():
    """At a state from the transient, the node's signed device currents equal C dv/dt from the model's
    right-hand side, and a finite difference of the trajectory itself (an independent check)."""
    from kirchhoff_core.analysis import node_balance
    from kirchhoff_core.trajectories import slice_voltages

    circuit = generate("fully_connected", num_nodes=5, repeats=(2, 1), n_inputs=2, n_outputs=2, num_slices=2,
                       kind="ShiftRelu2", capacitance=2.0, seed=3)
    model = KirchhoffNet(circuit, SolverConfig(rtol=1e-10, atol=1e-10), dtype=torch.float64)
    x, t, h = [0.5, -1.0], 1.4, 1e-5
    v = slice_voltages(model, x, t, 1)
    for node in (1, 4):
        b = node_balance(model, v, 1, node)
        s = circuit.slices[1]
        assert len(b.devices) == int(((s.src == node) | (s.dst == node)).sum()) > 0
        assert np.all((b.signs > 0) == (s.dst[b.devices] == node))
        assert b.capacitance == 2.0 and abs(b.residual) < 1e-12
        assert b.net == pytest.approx(b.c_dvdt, abs=1e-12)
        slope = (slice_voltages(model, x, t + h, 1) - slice_voltages(model, x, t - h, 1))[node - 1] / (2 * h)
        assert b.c_dvdt == pytest.approx(2.0 * slope, rel=1e-5, abs=1e-7)
    with pytest.raises(ValueError, match="node: slice 1 has nodes 1..5"):
        node_balance(model, v, 1, 6)
    with pytest.raises(ValueError, match="voltages: need 5 finite values"):
        node_balance(model, v[:3], 1, 1)
