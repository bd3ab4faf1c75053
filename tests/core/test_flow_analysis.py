"""flow_analysis: densities on a grid, flow frames and slice vector fields of a generative circuit.

Small circuits (2 devices each way per pair) in float64 with tight tolerances, so exact identities
(the density integrates to one, frame 0 is the Gaussian, the field is the flow's time derivative)
can be checked to a few decimals in well under a second each.
"""

from __future__ import annotations


import numpy as np
import pytest
import torch

from kirchhoff_core import flow_analysis as fa
from kirchhoff_core.densities import POTENTIALS, TARGETS, grid_points, sample_target
from kirchhoff_core.generative import CircuitFlow, flow_preset, standard_normal_log_prob
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.target_density import target_log_density


def small_flow(num_slices: int = 2, seed: int = 3) -> CircuitFlow:
    circuit = flow_preset("moons").circuit(seed=seed, repeats=[2, 2], num_slices=num_slices, duration=0.5)
    return CircuitFlow(circuit, SolverConfig(rtol=1e-6, atol=1e-6), dtype=torch.float64)


@pytest.fixture(scope="module")
def flow() -> CircuitFlow:
    return small_flow()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_plot_box_holds_the_data(name):
    box = fa.plot_box("generate", name)
    x = sample_target(name, 5000, 7)
    inside = np.mean(np.all(np.abs(x) <= box, axis=1))
    assert inside >= 0.99, f"{name}: only {inside:.3f} of the samples inside +-{box}"
    assert box % 0.5 == 0 and box >= 1.5
    assert fa.plot_box("generate", name) == box  # seeded: the same window every time


def test_potentials_use_their_normalising_box():
    assert {fa.plot_box("density", u) for u in POTENTIALS} == {4.0}


@pytest.mark.parametrize("name", ["moons", "8gaussians", "pinwheel"])
def test_target_density_grid_is_the_exact_density(name):
    box = fa.plot_box("generate", name)
    xs, ys, p = fa.target_density_grid("generate", name, 40, box)
    assert p.shape == (40, 40) and (p >= 0).all()
    step = xs[1] - xs[0]
    assert p.sum() * step * step == pytest.approx(1.0, abs=0.01)  # the window holds almost all the mass
    # rows are y: the grid's centre of mass matches the samples'
    x = sample_target(name, 50_000, 0)
    gx, gy = np.meshgrid(xs, ys)
    w = p / p.sum()
    assert (w * gx).sum() == pytest.approx(x[:, 0].mean(), abs=0.05)
    assert (w * gy).sum() == pytest.approx(x[:, 1].mean(), abs=0.05)
    i, j = 25, 12  # row i is y = ys[i], column j is x = xs[j]
    assert p[i, j] == pytest.approx(float(np.exp(target_log_density(name, np.array([[xs[j], ys[i]]])))[0]), rel=1e-12)


def test_checkerboard_grid_shows_its_cells():
    xs, ys, p = fa.target_density_grid("generate", "checkerboard", 40, 4.0)
    gx, gy = np.meshgrid(xs, ys)
    white = (np.floor(gx / 2) + np.floor(gy / 2)) % 2 == 0
    np.testing.assert_allclose(p, np.where(white, 1 / 32, 0.0))


def test_potential_density_grid_is_normalised():
    xs, ys, p = fa.target_density_grid("density", "U1", 120)
    step = xs[1] - xs[0]
    assert p.sum() * step * step == pytest.approx(1.0, abs=0.02)


def test_model_density_integrates_to_one_and_matches_log_prob(flow):
    xs, ys, logp = fa.log_density_grid(flow, 33, 5.0, chunk=500)
    step = xs[1] - xs[0]
    assert np.exp(logp).sum() * step * step == pytest.approx(1.0, abs=0.01)
    # row i is y = ys[i], column j is x = xs[j] (alone, the adaptive solver takes other steps: 1e-3)
    i, j = 12, 25
    with torch.no_grad():
        direct = float(flow.log_prob(torch.tensor([[xs[j], ys[i]]], dtype=torch.float64)))
    assert logp[i, j] == pytest.approx(direct, abs=1e-3)
    assert abs(logp[j, i] - direct) > 0.1  # so a transposed grid would fail


def test_density_frames_run_from_the_gaussian_to_the_model(flow):
    ts = fa.frame_times(flow, 5)
    assert ts.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    frames = fa.density_frames(flow, ts, 12, 3.0)
    assert frames.shape == (5, 12, 12)
    _, _, pts = grid_points(12, 3.0)
    gauss = standard_normal_log_prob(torch.as_tensor(pts)).numpy().reshape(12, 12)
    np.testing.assert_allclose(frames[0], gauss, atol=1e-12)
    np.testing.assert_allclose(frames[-1], fa.log_density_grid(flow, 12, 3.0)[2], atol=1e-9)  # same batch
    assert np.abs(frames[2] - frames[0]).max() > 1e-3  # the density really moves


def test_flow_frames_carry_the_seeded_noise_to_the_samples(flow):
    ts = fa.frame_times(flow, 3)
    pts, logp = fa.flow_frames(flow, ts, n_points=50, seed=5)
    assert pts.shape == (3, 50, 2) and logp.shape == (3, 50)
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    np.testing.assert_allclose(pts[0], z.numpy(), atol=1e-12)
    with torch.no_grad():
        np.testing.assert_allclose(pts[-1], flow.decode(z)[0].numpy(), atol=1e-9)
    # each moving point's log-density at T is the model's log-likelihood there
    with torch.no_grad():
        np.testing.assert_allclose(logp[-1], flow.log_prob(pts[-1]).numpy(), atol=1e-4)


def test_slice_at_follows_the_boundaries(flow):
    assert flow.boundaries == [0.0, 0.5, 1.0]
    assert [fa.slice_at(flow, t) for t in (0.0, 0.49, 0.5, 0.99, 1.0)] == [0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match="t: must lie in"):
        fa.slice_at(flow, 1.5)


def test_vector_field_is_the_flow_velocity(flow):
    """Finite difference of the samples' motion during slice 0 equals slice 0's field; slice 1's differs."""
    xs, ys, u, v = fa.vector_field(flow, 0, 7, 2.0)
    _, _, pts = grid_points(7, 2.0)
    h = 1e-4
    with torch.no_grad():
        moved, _ = flow.flow(torch.as_tensor(pts), [0.0, h, 2 * h])
    vel = ((-3 * moved[0] + 4 * moved[1] - moved[2]) / (2 * h)).numpy()  # second-order one-sided
    np.testing.assert_allclose(u.ravel(), vel[:, 0], atol=1e-5)
    np.testing.assert_allclose(v.ravel(), vel[:, 1], atol=1e-5)
    _, _, u1, _ = fa.vector_field(flow, 1, 7, 2.0)
    assert np.abs(u1 - u).max() > 1e-3


@pytest.mark.parametrize("call, match", [
    (lambda f: fa.log_density_grid(f, 1), "resolution"),
    (lambda f: fa.log_density_grid(f, 10_000), "resolution"),
    (lambda f: fa.log_density_grid(f, 10, box=-1.0), "box"),
    (lambda f: fa.log_density_grid(f, 10, t=7.0), "t: must lie in"),
    (lambda f: fa.frame_times(f, 500), "n_frames"),
    (lambda f: fa.density_frames(f, [], 8), "times"),
    (lambda f: fa.flow_frames(f, [0.0, 1.0], n_points=0), "n_points"),
    (lambda f: fa.flow_frames(f, [1.0, 0.0]), "ascending"),
    (lambda f: fa.vector_field(f, 2), "slice_index"),
    (lambda f: fa.plot_box("generate", "U1"), "unknown target"),
    (lambda f: fa.plot_box("draw", "moons"), "task"),
    (lambda f: fa.target_density_grid("density", "U9"), "unknown potential"),
])
def test_bad_arguments_name_the_problem(flow, call, match):
    with pytest.raises(ValueError, match=match):
        call(flow)
