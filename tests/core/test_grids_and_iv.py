"""Grid evaluations and I-V curves behind the playground's plots."""

import numpy as np
import pytest
import torch

from kirchhoff_core.analysis import input_grid, iv_curve, iv_surface, node_voltages_grid, predict, predict_grid
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.devices import KINDS
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for


def test_grid_covers_data_and_reshapes():
    d = make_dataset("moons", 100)
    g = input_grid(d, resolution=7)
    x = np.concatenate([d.x_train, d.x_test])
    assert g.xs[0] < x[:, 0].min() and g.xs[-1] > x[:, 0].max()
    assert g.points.shape == (49, 2)
    assert np.array_equal(g.reshape(g.points)[2, 3], [g.xs[3], g.ys[2]])
    with pytest.raises(ValueError, match="resolution"):
        input_grid(d, resolution=1000)
    with pytest.raises(ValueError, match="2-D"):
        input_grid(make_dataset("sine", 50))


def test_predict_grid_matches_model():
    d = make_dataset("moons", 100)
    m = KirchhoffNet(build_circuit(preset_for("moons")), dtype=torch.float64)
    g = input_grid(d, resolution=5)
    probs = predict_grid(m, g, "classification")
    assert probs.shape == (5, 5, 2) and np.allclose(probs.sum(-1), 1.0)
    logits = m(torch.tensor(g.points)).detach().numpy()
    want = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    assert np.allclose(probs.reshape(-1, 2), want)
    volts = node_voltages_grid(m, g)
    assert volts.shape == (5, 5, 8)
    assert np.allclose(volts.reshape(-1, 8)[:, [6, 7]], logits)
    assert np.allclose(predict(m, g.points, "regression"), logits)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_iv_curve_and_surface_follow_the_law(kind):
    params = [0.7, -1.3, 0.2][: KINDS[kind].n_params]
    dv = np.linspace(-2, 2, 9)
    got = iv_curve(kind, params, dv, vd=0.5)
    vs, vd = torch.tensor(dv + 0.5), torch.full((9,), 0.5, dtype=torch.float64)
    want = KINDS[kind].current(vs.reshape(-1, 1), vd.reshape(-1, 1), torch.tensor([params], dtype=torch.float64))
    assert np.allclose(got, want.reshape(-1).numpy())
    surf = iv_surface(kind, params, np.array([0.0, 1.0, 2.0]), np.array([-1.0, 1.0]))
    assert surf.shape == (2, 3)
    assert np.isclose(surf[1, 2], iv_curve(kind, params, np.array([1.0]), vd=1.0)[0])


def test_passive_device_current_follows_the_voltage_drop():
    dv = np.linspace(-3, 3, 13)
    for params in ([0.5, 2.0], [-0.5, -2.0], [1.0, -0.1]):
        i = iv_curve("TanhResistor", params, dv, vd=0.3)
        assert np.all(np.sign(i) == np.sign(dv)) and i[6] == 0.0
