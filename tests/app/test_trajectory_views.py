"""The Trajectories page's figure builders: valid plotly frames, fixed ranges, what each trace holds."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from views import circuit_view
from views import trajectory_views as tv

from kirchhoff_core import analysis
from kirchhoff_core import trajectories as tj
from kirchhoff_core.circuit import node_role
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.generators import generate
from kirchhoff_core.model import KirchhoffNet


@pytest.fixture(scope="module")
def setup():
    circuit = generate("fully_connected", num_nodes=5, n_inputs=2, n_outputs=2, seed=3)
    model = KirchhoffNet(circuit, dtype=torch.float64)
    data = make_dataset("moons", n_samples=60, seed=0)
    return circuit, model, data


def validated(fig: go.Figure) -> go.Figure:
    """Rebuild through plotly's validation. The frames are built unvalidated for speed, so a wrong
    property in them would only show up as a broken animation in the browser; validation must
    neither reject nor rewrite them (plotly.py silently turns a colour bar's ``title="P(1)"`` into
    ``{"text": "P(1)"}``, but plotly.js, reading the raw frame, drew nothing)."""
    raw = fig.to_dict()
    checked = go.Figure(raw)
    for mine, theirs in zip(raw["frames"], checked.to_dict()["frames"]):
        for a, b in zip(mine["data"], theirs["data"]):
            assert _normal(a) == _normal(b)
    return checked


def _normal(value):
    """Compare numbers as floats and sequences as lists (validation may return tuples or arrays)."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_normal(v) for v in value]
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return round(float(value), 12)
    return value


def test_watch_figure_frames_follow_the_trajectory(setup):
    circuit, model, data = setup
    traj = tj.compute_trajectory(model, data.x_test[0], 30)
    frames = traj.indices_at(tj.frame_times(traj.t_end, 12))
    pairs = [tj.pair_currents(*traj.devices[0], traj.device_currents_at(int(p))) for p in frames]
    roles = [node_role(n, circuit.inputs, circuit.outputs) for n in range(1, 6)]
    probs = tj.softmax_over_time(traj.readout)
    fig = validated(tv.watch_figure(traj.times, traj.voltages, frames, circuit_view.node_positions(circuit), roles,
                                    traj.boundaries, circuit.outputs, pairs, probs, "softmax of the read-outs",
                                    tj.winner_time(probs, traj.times)))
    assert len(fig.frames) == 12
    assert [s.label for s in fig.layout.sliders[0].steps][-1] == "1"
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["Play", "Pause"]
    animated = list(fig.frames[0].traces)
    assert all(0 <= i < len(fig.data) for i in animated)
    # Node colours in frame k are the voltages at that frame's point; the cursor sits at its time.
    nodes = next(j for j, tr in enumerate(fig.frames[7].data) if tr.mode == "markers+text")
    np.testing.assert_allclose(fig.frames[7].data[nodes].marker.color, traj.voltages[frames[7]])
    cursor = fig.frames[7].data[nodes + 1]
    assert list(cursor.x) == [pytest.approx(traj.times[frames[7]])] * 2
    # Fixed ranges: nothing rescales while it plays.
    assert fig.layout.xaxis2.range == (0, pytest.approx(traj.t_end))
    lo, hi = fig.layout.yaxis2.range
    assert lo <= np.nanmin(traj.voltages) and hi >= np.nanmax(traj.voltages)


def test_flow_and_sweep_figures_validate_and_keep_their_frames(setup):
    circuit, model, data = setup
    times = tj.frame_times(model.t_end, 6)
    states = tj.batch_states(model, data.x_test, times)
    flow = validated(tv.flow_figure(times, states[..., [3, 4]], data.y_test, "classification", ("v4", "v5"), "d"))
    assert len(flow.frames) == 6
    np.testing.assert_allclose(flow.frames[5].data[0].x, states[5, data.y_test == 0, 3])
    sweep = tj.metric_vs_readout_time(model, data, times)
    grid = analysis.input_grid(data, 10)
    outs = tj.boundary_at_times(model, grid, times)
    fig = validated(tv.sweep_figure(times, grid.xs, grid.ys, outs, "classification", sweep.metric, "accuracy",
                                    data.x_test, data.y_test, model.boundaries, model.t_end))
    assert len(fig.frames) == 6 and fig.frames[2].data[0].type == "heatmap"
    np.testing.assert_allclose(np.asarray(fig.frames[2].data[0].z), outs[2, ..., 1])
    assert fig.layout.sliders[0].steps[0].args[1]["frame"]["redraw"] is True  # heatmaps must redraw
    one_d = validated(tv.sweep_figure(times, None, None, None, "regression", sweep.metric, "r2"))
    assert len(one_d.frames) == 6 and one_d.frames[0].data[0].type == "scatter"


def test_picker_lists_test_points_first_in_test_order(setup):
    _, _, data = setup
    fig = tv.picker_figure(data.x_train, data.y_train, data.x_test, data.y_test, "classification", data.x_test[4])
    np.testing.assert_array_equal(fig.data[0].x, data.x_test[:, 0])
    assert [row[0] for row in fig.data[0].customdata] == list(range(len(data.x_test)))
    assert fig.data[-1].name == "chosen input" and fig.data[-1].x[0] == data.x_test[4, 0]
