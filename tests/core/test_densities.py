"""2-D targets and the Rezende-Mohamed potentials: seeding, shapes, scales, formulas, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import make_circles, make_moons, make_swiss_roll

from kirchhoff_core.densities import (POTENTIALS, TARGETS, density_grid, grid_points, log_partition,
                                      potential_name, sample_target, target_name)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_sampler_is_seeded_and_shaped(name):
    a = sample_target(name, 1000, seed=3)
    b = sample_target(name, 1000, seed=3)
    c = sample_target(name, 1000, seed=4)
    assert a.shape == (1000, 2) and a.dtype == np.float64 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # A Generator is advanced in place: consecutive batches are fresh points.
    rng = np.random.default_rng(0)
    assert not np.allclose(TARGETS[name](100, rng), TARGETS[name](100, rng))


def _moments(x):
    return x.mean(0), np.cov(x, rowvar=False)


@pytest.mark.parametrize("name, reference", [
    ("moons", lambda n: make_moons(n, noise=0.1, random_state=0)[0]),
    ("circles", lambda n: make_circles(n, noise=0.06, factor=0.5, random_state=0)[0]),
    ("swissroll", lambda n: make_swiss_roll(n, noise=1.0, random_state=0)[0][:, [0, 2]] / 5.0),
])
def test_scikit_learn_sets_match_the_reference_scaling(name, reference):
    """Same distribution as the reference's scikit-learn calls: mean and covariance agree."""
    ours, theirs = sample_target(name, 40_000, 0), reference(40_000)
    (m1, c1), (m2, c2) = _moments(ours), _moments(theirs)
    np.testing.assert_allclose(m1, m2, atol=0.03)
    np.testing.assert_allclose(c1, c2, atol=0.03 * max(1.0, np.abs(c2).max()))


def test_eight_gaussians_scale():
    x = sample_target("8gaussians", 40_000, 0)
    radius = np.linalg.norm(x, axis=1)
    # centres at 4 / 1.414, spread 0.5 / 1.414 per axis
    assert abs(np.median(radius) - 4 / 1.414) < 0.05
    angle = np.arctan2(x[:, 1], x[:, 0])
    k = np.round(angle / (np.pi / 4))
    resid = x - (4 / 1.414) * np.stack([np.cos(k * np.pi / 4), np.sin(k * np.pi / 4)], 1)
    assert abs(resid.std() - 0.5 / 1.414) < 0.02
    assert len(np.unique(k % 8)) == 8


def test_checkerboard_fills_alternate_cells():
    x = sample_target("checkerboard", 20_000, 0)
    assert np.abs(x).max() <= 4.0
    cells = np.floor(x / 2).astype(int)  # 2x2 cells
    parity = (cells[:, 0] + cells[:, 1]) % 2
    assert len(np.unique(parity)) == 1  # only one colour of the board is used
    assert len({tuple(c) for c in cells}) == 8


def test_pinwheel_two_spirals_scale():
    p = sample_target("pinwheel", 20_000, 0)
    assert abs(np.median(np.linalg.norm(p, axis=1)) - 2.0) < 0.15  # radius ~ 2 * (1 + N(0, 0.3))
    s = sample_target("2spirals", 20_000, 0)
    np.testing.assert_allclose(s.mean(0), 0.0, atol=0.05)  # the arms mirror each other
    assert 3.0 < np.abs(s).max() < 4.0  # 540 degrees -> radius 3 pi / 3 plus jitter


def test_target_names_and_bad_input():
    assert target_name("twomoon") == "moons" and target_name("circle") == "circles"
    with pytest.raises(ValueError, match="unknown target 'nope'.*8gaussians"):
        sample_target("nope", 10)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n: need an integer"):
            sample_target("moons", bad)
    assert potential_name("potential1") == "U1" and potential_name("u3") == "U3"
    with pytest.raises(ValueError, match="unknown potential 'U9'"):
        potential_name("U9")
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        POTENTIALS["U1"](torch.zeros(3, 3))


@pytest.mark.parametrize("name, point, expected", [
    # |z| = 2 puts the ring term at 0; both lobes give exp(-0.5 (2/0.6)^2)
    ("U1", (0.0, 2.0), 0.5 * (2 / 0.6) ** 2 - math.log(2)),
    # w1(1) = sin(pi/2) = 1
    ("U2", (1.0, 0.5), 0.5 * (0.5 / 0.4) ** 2),
    # w1 = 1, w2(1) = 3: the two terms are exp(-0.5 (1.5/0.35)^2) each
    ("U3", (1.0, -0.5), 0.5 * (1.5 / 0.35) ** 2 - math.log(2)),
    # w1 = 1, w3(1) = 3 sigmoid(0) = 1.5: second term exp(0)
    ("U4", (1.0, -0.5), -math.log(1 + math.exp(-0.5 * (1.5 / 0.4) ** 2))),
])
def test_potentials_match_their_formulas_at_hand_checked_points(name, point, expected):
    z = torch.tensor([point], dtype=torch.float64)
    assert POTENTIALS[name](z).item() == pytest.approx(expected, abs=1e-12)


def test_potentials_are_vectorised_and_finite_far_away():
    z = torch.tensor([[0.0, 0.0], [30.0, -30.0], [-4.0, 4.0]], dtype=torch.float64)
    for u in POTENTIALS.values():
        out = u(z)
        assert out.shape == (3,) and torch.isfinite(out).all()


def test_log_partition_and_density_grid():
    # U2 is a Gaussian in z2 (sigma 0.4) around sin(.), its tails well inside the box: Z = 8 sqrt(2 pi) 0.4
    assert log_partition("U2") == pytest.approx(math.log(8 * math.sqrt(2 * math.pi) * 0.4), abs=1e-4)
    xs, ys, p = density_grid("U1", resolution=201)
    assert p.shape == (201, 201) and xs[0] == -4 and xs[-1] == 4
    assert np.trapezoid(np.trapezoid(p, xs, axis=1), ys) == pytest.approx(1.0, abs=1e-3)
    # rows are y, columns x: on the axis -4..4 (step 1), index 4 is 0 and index 6 is 2
    axis, _, pts = grid_points(9)
    assert axis[4] == 0 and axis[6] == 2 and pts[4 * 9 + 6].tolist() == [2.0, 0.0]
    _, _, q = density_grid("U2", resolution=9, normalise=False)
    assert q[4, 6] == pytest.approx(1.0)  # (x=2, y=0) lies on the ridge y = sin(pi x / 2)
    assert q[6, 4] == pytest.approx(math.exp(-0.5 * (2 / 0.4) ** 2))  # (x=0, y=2) does not
    with pytest.raises(ValueError, match="resolution"):
        grid_points(1)
