"""Trajectories against the model's own read-out, Kirchhoff's current law, pandas and the Trainer."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch

from kirchhoff_core import trajectories as tj
from kirchhoff_core.analysis import input_grid, predict
from kirchhoff_core.circuit import Circuit, make_slice
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.generators import generate
from kirchhoff_core.initialisation import init_circuit
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.train import TrainConfig, Trainer

TIGHT = SolverConfig(rtol=1e-9, atol=1e-9)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/core/conftest.py


def two_slice_circuit(seed: int = 0, resize: str = "pad") -> Circuit:
    """Width 4 then 5 (a node appears at the boundary), parallel devices, ground links, per-node C."""
    rng = np.random.default_rng(seed)
    slices = []
    for w, dur in ((4, 0.6), (5, 0.7)):
        pairs = [(a, b) for a in range(w + 1) for b in range(w + 1) if a != b and rng.random() < 0.7]
        pairs += pairs[:3]
        slices.append(make_slice(dur, pairs, rng.choice(["ShiftTanh2", "ShiftTanh1", "Conductance"],
                                                        len(pairs)).tolist(), num_nodes=w))
    c = Circuit(4, slices, inputs=[1, 2], outputs=[4, 5], capacitance=[0.7, 1.0, 1.3, 0.9, 1.1], resize=resize)
    return init_circuit(c, gain=1.0, seed=seed)


@pytest.fixture(scope="module")
def model() -> KirchhoffNet:
    return KirchhoffNet(two_slice_circuit(), TIGHT, dtype=torch.float64)


def test_trajectory_ends_at_the_forward_read_out(model):
    x = [0.8, -1.1]
    traj = tj.compute_trajectory(model, x, points_per_slice=40)
    with torch.no_grad():
        expected = model(torch.tensor([x], dtype=torch.float64))[0].numpy()
        final = model.final_state(torch.tensor([x], dtype=torch.float64))[0].numpy()
    np.testing.assert_allclose(traj.readout[-1], expected, atol=1e-8)
    np.testing.assert_allclose(traj.voltages[-1], final, atol=1e-8)
    assert traj.times[0] == 0.0 and traj.times[-1] == pytest.approx(model.t_end)
    assert traj.voltages[0, :2].tolist() == x and np.all(traj.voltages[0, 2:4] == 0)
    # Node 5 only exists in the second slice; the boundary appears twice, once per slice.
    first, second = traj.slice_points(0), traj.slice_points(1)
    assert len(first) == len(second) == 41
    assert np.isnan(traj.voltages[first, 4]).all() and np.isfinite(traj.voltages[second, 4]).all()
    assert traj.times[first[-1]] == traj.times[second[0]] == pytest.approx(0.6)
    np.testing.assert_allclose(traj.voltages[second[0], :4], traj.voltages[first[-1], :4])
    assert traj.voltages[second[0], 4] == 0.0  # zero-padded


def test_the_trajectory_matches_model_trajectory_at_any_time(model):
    x = [0.3, 0.9]
    traj = tj.compute_trajectory(model, x, points_per_slice=50)
    # model.t_end, not 1.3: 0.6 + 0.7 sums to 1.2999999999999998 and model.trajectory leaves a typed 1.3 NaN.
    times = np.array([0.0, 0.3, 0.6, 0.95, model.t_end])
    with torch.no_grad():
        ref = model.trajectory(torch.tensor([x], dtype=torch.float64), times)[:, 0, :].numpy()
    got = traj.voltages[traj.indices_at(times)]
    np.testing.assert_allclose(got, ref, atol=1e-7)  # same NaN pattern too: at 0.6 the earlier slice
    # batch_states accepts the typed 1.3 (clipped to T) and gives the final state there.
    states = tj.batch_states(model, np.array([x]), [0.95, 1.3])
    np.testing.assert_allclose(states[:, 0], ref[3:], atol=1e-7)


def test_currents_obey_kcl_against_the_finite_difference_derivative(model):
    traj = tj.compute_trajectory(model, [1.2, -0.4], points_per_slice=400)
    for s in range(2):
        idx = traj.slice_points(s)
        src, dst = traj.devices[s]
        width = model.circuit.width(s)
        net = tj.net_node_currents(src, dst, traj.currents[s], width)
        v = traj.voltages[idx, :width]
        dvdt = np.gradient(v, traj.times[idx], axis=0, edge_order=2)
        c_dvdt = dvdt * traj.capacitance[:width]
        scale = np.abs(net).max()
        assert scale > 0.05, "the circuit must actually move for this check to mean anything"
        assert np.abs(c_dvdt - net).max() < 1e-3 * scale


def test_pair_currents_sum_parallel_and_opposite_devices():
    src = np.array([1, 2, 1, 0, 3])
    dst = np.array([2, 1, 2, 3, 0])
    i = np.array([[1.0, 0.25, 0.5, -2.0, 0.5], [0.0, 1.0, 0.0, 0.0, 0.0]])
    a, b, net = tj.pair_currents(src, dst, i)
    assert a.tolist() == [0, 1] and b.tolist() == [3, 2]
    np.testing.assert_allclose(net, [[-2.5, 1.25], [0.0, -1.0]])
    # The pair view loses nothing Kirchhoff cares about: net node currents agree.
    np.testing.assert_allclose(tj.net_node_currents(src, dst, i, 3), tj.net_node_currents(a, b, net, 3))


def test_csv_round_trips_through_pandas(model):
    traj = tj.compute_trajectory(model, [0.5, 0.5], points_per_slice=10)
    frame = pd.read_csv(io.StringIO(tj.to_csv(traj)))
    assert list(frame.columns) == ["t", "slice", "v1", "v2", "v3", "v4", "v5"]
    np.testing.assert_array_equal(frame["t"].to_numpy(), traj.times)
    np.testing.assert_array_equal(frame["slice"].to_numpy(), traj.slice_index)
    np.testing.assert_array_equal(frame[[f"v{n}" for n in range(1, 6)]].to_numpy(), traj.voltages)  # NaN == NaN
    full = pd.read_csv(io.StringIO(tj.to_csv(traj, currents=True)))
    n0, n1 = len(traj.devices[0][0]), len(traj.devices[1][0])
    assert full.shape == (traj.num_points, 7 + n0 + n1)
    s, d = traj.devices[1]
    col = f"i_s1_d2_{s[2]}to{d[2]}"
    rows = traj.slice_points(1)
    np.testing.assert_array_equal(full[col].to_numpy()[rows], traj.currents[1][:, 2])
    assert full[col].iloc[traj.slice_points(0)].isna().all()


def test_csv_without_currents_is_refused_clearly(model):
    traj = tj.compute_trajectory(model, [0.5, 0.5], points_per_slice=5, currents=False)
    assert traj.currents is None
    with pytest.raises(ValueError, match="without device currents"):
        tj.to_csv(traj, currents=True)


def test_winner_time_on_a_hand_made_series():
    t = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    logits = np.array([[0.0, 0.0, 0.0], [1.0, 0.5, 0.0], [0.2, 0.6, 0.0], [1.0, 0.9, 0.0], [2.0, 1.0, 0.0]])
    assert tj.winner_time(logits, t) == (0, 0.75)  # class 0 leads at 0.25, loses at 0.5, leads from 0.75
    assert tj.winner_time(tj.softmax_over_time(logits), t) == (0, 0.75)
    assert tj.winner_time(np.array([[0.0, 1.0], [0.0, 2.0]]), [0.0, 1.0]) == (1, 0.0)  # wins throughout
    assert tj.winner_time(np.array([[0.0, 0.0], [2.0, 1.0]]), [0.0, 1.0]) == (0, 1.0)  # a tie is no lead
    with_nan = np.array([[np.nan, np.nan], [0.0, 1.0], [0.0, 1.0]])
    assert tj.winner_time(with_nan, [0.0, 0.5, 1.0]) == (1, 0.5)  # read-outs absent early never win
    with pytest.raises(ValueError, match="len\\(times\\)"):
        tj.winner_time(logits, t[:3])


def test_softmax_over_time_rows_sum_to_one_and_keep_nan():
    p = tj.softmax_over_time(np.array([[1000.0, 0.0], [np.nan, np.nan], [1.0, 1.0]]))
    np.testing.assert_allclose(p[[0, 2]].sum(-1), 1.0)
    assert p[0, 0] == pytest.approx(1.0) and p[2, 0] == pytest.approx(0.5) and np.isnan(p[1]).all()


@pytest.fixture(scope="module")
def trained():
    data = make_dataset("moons", n_samples=200, seed=1)
    circuit = generate("fully_connected", num_nodes=5, n_inputs=2, n_outputs=2, seed=1)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # module fixtures run before the autouse one
    trainer = Trainer(KirchhoffNet(circuit, SolverConfig(rtol=1e-6, atol=1e-6), dtype=torch.float64), data,
                      TrainConfig(lr=0.05, batch_size=0))
    trainer.run(3)
    torch.set_num_threads(before)
    return trainer


def test_metric_at_T_equals_the_trainers_evaluate(trained):
    sweep = tj.metric_vs_readout_time(trained.model, trained.data, tj.frame_times(trained.model.t_end, 11))
    loss, metric = trained.evaluate(trained.x_test, trained.y_test)
    assert sweep.metric_name == "accuracy"
    assert sweep.metric[-1] == pytest.approx(metric, abs=1e-12)
    assert sweep.loss[-1] == pytest.approx(loss, rel=1e-6)
    # At t = 0 the read-out nodes still hold 0 V: every logit ties and the loss is log(2).
    assert sweep.loss[0] == pytest.approx(np.log(2))
    assert sweep.metric[0] == pytest.approx(np.mean(trained.data.y_test == 0))
    t_best, m_best = sweep.best
    assert m_best == np.nanmax(sweep.metric) and 0 <= t_best <= trained.model.t_end


def test_r2_sweep_for_regression():
    data = make_dataset("sine", n_samples=60, seed=0)
    model = KirchhoffNet(generate("fully_connected", num_nodes=4, n_inputs=1, n_outputs=1, seed=0), TIGHT,
                         dtype=torch.float64)
    sweep = tj.metric_vs_readout_time(model, data, [0.5, 1.0], split="train")
    trainer = Trainer(model, data)
    _, r2 = trainer.evaluate(trainer.x_train, trainer.y_train)
    assert sweep.metric_name == "r2" and sweep.metric[-1] == pytest.approx(r2, abs=1e-9)


def test_boundary_at_T_equals_predict_on_the_grid(trained):
    grid = input_grid(trained.data, 12)
    probs = tj.boundary_at_times(trained.model, grid, [0.0, 0.5, 1.0])
    assert probs.shape == (3, 12, 12, 2)
    np.testing.assert_allclose(probs[-1], grid.reshape(predict(trained.model, grid.points, "classification")),
                               atol=1e-8)
    np.testing.assert_allclose(probs[0], 0.5)  # nothing has reached the read-outs at t = 0


def test_bad_arguments_name_themselves(model):
    with pytest.raises(ValueError, match="x2: must be a finite"):
        tj.compute_trajectory(model, [0.0, float("nan")])
    with pytest.raises(ValueError, match="x1: .* outside"):
        tj.compute_trajectory(model, [1e6, 0.0])
    with pytest.raises(ValueError, match="2 input node"):
        tj.compute_trajectory(model, [0.0])
    with pytest.raises(ValueError, match="points_per_slice"):
        tj.compute_trajectory(model, [0.0, 0.0], points_per_slice=0)
    with pytest.raises(ValueError, match="times: must lie in"):
        tj.batch_states(model, np.zeros((3, 2)), [0.0, 5.0])
    with pytest.raises(ValueError, match="frames"):
        tj.frame_times(1.0, 1)
    with pytest.raises(ValueError, match="too much work"):
        tj.batch_states(model, np.zeros((200_000, 2)), np.linspace(0, 1, 30))


def test_big_circuits_are_thinned_not_frozen(monkeypatch, model):
    monkeypatch.setattr(tj, "MAX_TRAJECTORY_VALUES", 5 * 2 * 21)  # room for 20 points per slice
    monkeypatch.setattr(tj, "MAX_CURRENT_VALUES", 10)
    traj = tj.compute_trajectory(model, [0.1, 0.2], points_per_slice=100)
    assert len(traj.slice_points(0)) == len(traj.slice_points(1)) == 21
    assert traj.currents is None and any("left out" in n for n in traj.notes)
    assert any("using" in n for n in traj.notes)
