"""target_density: the exact log p(x) of every data target and the stored entropies.

Three kinds of evidence, each able to catch a wrong noise scale or weight: (1) Riemann sums on a grid
(mass 1, and -sum p log p = the stored entropy), (2) the Monte-Carlo mean of -log p over fresh
sampler draws (ties the density to the sampler: within 4 SE of the stored entropy), (3) log p
against a brute-force formula written here from the sampler's definition (no histograms or KDEs).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import simpson
from scipy.special import ndtr

from kirchhoff_core.densities import TARGETS, sample_target
from kirchhoff_core.target_density import TARGET_ENTROPY, curve_log_density, target_entropy, target_log_density

# cell-centred grids (x0, x1, y0, y1, spacing) that hold all but ~1e-6 of each target's mass, with
# spacing <= half the narrowest noise std (so Riemann sums of these smooth densities are exact to
# far below 1e-4); the checkerboard's grid is aligned with its cells, so its sums are exact
GRIDS = {
    "moons": (-1.6, 2.6, -1.1, 1.6, 0.05),
    "circles": (-1.5, 1.5, -1.5, 1.5, 0.03),
    "8gaussians": (-5.5, 5.5, -5.5, 5.5, 0.1),
    "pinwheel": (-5.5, 5.5, -5.5, 5.5, 0.1),
    "2spirals": (-4.0, 4.0, -4.0, 4.0, 0.0625),
    "swissroll": (-4.0, 4.0, -4.0, 4.0, 0.1),
    "checkerboard": (-4.0, 4.0, -4.0, 4.0, 0.1),
}
N_MC = {"2spirals": 5000}  # ~0.2 ms per random point (the rest: 20,000 samples, SE ~0.006 nats)


def test_every_target_is_covered():
    assert set(TARGET_ENTROPY) == set(TARGETS) == set(GRIDS)
    assert TARGET_ENTROPY["checkerboard"] == pytest.approx(math.log(32), abs=1e-4)


def grid(name: str) -> tuple[np.ndarray, float]:
    x0, x1, y0, y1, h = GRIDS[name]
    xs, ys = np.arange(x0 + h / 2, x1, h), np.arange(y0 + h / 2, y1, h)
    xx, yy = np.meshgrid(xs, ys)
    return np.stack([xx.ravel(), yy.ravel()], axis=1), h


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_density_integrates_to_one_and_to_the_stored_entropy(name):
    pts, h = grid(name)
    lp = target_log_density(name, pts)
    assert lp.dtype == np.float64 and lp.shape == (len(pts),)
    p = np.exp(lp)
    assert p.sum() * h * h == pytest.approx(1.0, abs=1e-3)
    grid_h = -(p * np.where(p > 0, lp, 0.0)).sum() * h * h
    assert grid_h == pytest.approx(TARGET_ENTROPY[name], abs=1e-3)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_monte_carlo_entropy_matches_the_stored_value(name):
    x = sample_target(name, N_MC.get(name, 20_000), 12345)
    lp = target_log_density(name, x)
    assert np.isfinite(lp).all(), f"{name}: a sample got p = 0"
    est, se = -lp.mean(), lp.std(ddof=1) / math.sqrt(len(x))
    assert abs(est - target_entropy(name)) <= 4 * se + 1e-4, f"{name}: {est:.4f} +- {se:.4f}"


def normal_pdf(d2: np.ndarray, s: float) -> np.ndarray:
    """Isotropic 2-D normal density at squared distance d2."""
    return np.exp(-d2 / (2 * s * s)) / (2 * math.pi * s * s)


def near_points(name: str, n: int = 150) -> np.ndarray:
    """Sampled points plus a few off the data, where the comparison is still well conditioned."""
    rng = np.random.default_rng(5)
    x = sample_target(name, n, rng)
    return np.concatenate([x, x[:20] + rng.normal(0, 0.3, (20, 2))])


def test_8gaussians_is_the_explicit_mixture():
    x = near_points("8gaussians")
    a = np.arange(8) * math.pi / 4
    c = 4.0 * np.stack([np.cos(a), np.sin(a)], axis=1) / 1.414
    p = normal_pdf(((x[:, None, :] - c[None]) ** 2).sum(-1), 0.5 / 1.414).mean(1)
    np.testing.assert_allclose(target_log_density("8gaussians", x), np.log(p), atol=1e-10)


def curve_mixture(x: np.ndarray, curve, t: np.ndarray, q: np.ndarray, s: float) -> np.ndarray:
    """Simpson's rule for int q(t) N(x; c(t), s^2 I) dt on a fine, even grid of t."""
    c = curve(t)
    k = normal_pdf(((x[:, None, :] - c[None]) ** 2).sum(-1), s) * q[None]
    return simpson(k, x=t, axis=1)


def test_circles_match_quadrature_over_the_angle():
    x = near_points("circles")
    t = np.linspace(0, 2 * math.pi, 2001)
    p = sum(0.5 * curve_mixture(x, lambda t, r=r: r * np.stack([np.cos(t), np.sin(t)], 1), t,
                                np.full_like(t, 1 / (2 * math.pi)), 0.06) for r in (1.0, 0.5))
    np.testing.assert_allclose(target_log_density("circles", x), np.log(p), atol=1e-8)
    # the library's own curve quadrature (the benchmark's cross-check of the closed form) agrees too
    np.testing.assert_allclose(curve_log_density("circles")(x), np.log(p), atol=1e-8)


def test_moons_match_quadrature_over_the_arc_angle():
    x = near_points("moons")
    t = np.linspace(0, math.pi, 4001)
    q = np.full_like(t, 1 / math.pi)
    outer = curve_mixture(x, lambda t: np.stack([np.cos(t), np.sin(t)], 1), t, q, 0.1)
    inner = curve_mixture(x, lambda t: np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1), t, q, 0.1)
    np.testing.assert_allclose(target_log_density("moons", x), np.log(0.5 * outer + 0.5 * inner), atol=1e-6)


def test_swissroll_matches_quadrature_over_t():
    x = near_points("swissroll")
    t = np.linspace(1.5 * math.pi, 4.5 * math.pi, 8001)
    p = curve_mixture(x, lambda t: np.stack([t * np.cos(t), t * np.sin(t)], 1) / 5, t,
                      np.full_like(t, 1 / (3 * math.pi)), 0.2)
    np.testing.assert_allclose(target_log_density("swissroll", x), np.log(p), atol=1e-6)


def test_2spirals_match_quadrature_over_the_radius():
    # arm (-r cos r, r sin r) / 3 + U[0, 1/6)^2 + N(0, 0.1^2 I), r with density 2r / (3 pi)^2;
    # the other arm is its mirror image, so p(x) = (p_arm(x) + p_arm(-x)) / 2
    x = near_points("2spirals", 60)
    r = np.linspace(0, 3 * math.pi, 12001)
    c = np.stack([-np.cos(r) * r, np.sin(r) * r], 1) / 3

    def arm(y: np.ndarray) -> np.ndarray:
        d = (y[:, None, :] - c[None]) / 0.1  # (n, nodes, 2)
        box = (ndtr(d) - ndtr(d - (1 / 6) / 0.1)).prod(-1) * 36.0  # box density 1 / (1/6)^2
        return simpson(box * (2 * r / (3 * math.pi) ** 2)[None], x=r, axis=1)

    np.testing.assert_allclose(target_log_density("2spirals", x), np.log(0.5 * arm(x) + 0.5 * arm(-x)), atol=1e-5)


def test_pinwheel_matches_the_change_of_variables_of_its_forward_map():
    # f ~ N((1, 0), diag(0.3, 0.1)^2), x = 2 R(-theta) f, theta = 2 pi arm / 5 + 0.25 exp(f0):
    # the preimage a point was drawn from contributes N(f) / (5 |det J|), |det J| = 4 |1 + 0.25 e^f0 f1|;
    # p(x) adds any other preimages, so it is >= that term and equal to it away from the centre
    rng = np.random.default_rng(2)
    f = rng.normal(size=(400, 2)) * [0.3, 0.1] + [1.0, 0.0]
    theta = 2 * math.pi * rng.integers(0, 5, 400) / 5 + 0.25 * np.exp(f[:, 0])
    c, s = np.cos(theta), np.sin(theta)
    x = 2 * np.stack([f[:, 0] * c + f[:, 1] * s, -f[:, 0] * s + f[:, 1] * c], 1)
    logn = -0.5 * ((f[:, 0] - 1) / 0.3) ** 2 - 0.5 * (f[:, 1] / 0.1) ** 2 - math.log(2 * math.pi * 0.03)
    term = logn - math.log(5 * 4) - np.log(np.abs(1 + 0.25 * np.exp(f[:, 0]) * f[:, 1]))
    lp = target_log_density("pinwheel", x)
    assert (lp >= term - 1e-10).all()
    far = np.hypot(*x.T) > 1.5  # (at 1.2 the other arms still add ~1e-5)
    assert far.mean() > 0.75
    np.testing.assert_allclose(lp[far], term[far], atol=1e-6)


def test_checkerboard_is_uniform_on_its_white_cells():
    pts = np.array([[-3.0, -3.0], [-1.0, -3.0], [1.0, 1.0], [3.5, -0.5], [4.5, 0.0]])
    lp = target_log_density("checkerboard", pts)
    np.testing.assert_allclose(np.exp(lp), [1 / 32, 0, 1 / 32, 1 / 32, 0])


@pytest.mark.parametrize("name", sorted(set(TARGETS) - {"checkerboard"}))
def test_log_density_stays_finite_far_from_the_data(name):
    lp = target_log_density(name, np.array([[15.0, -12.0], [0.0, 30.0], [0.0, 0.5]]))
    assert np.isfinite(lp).all() and (lp[:2] < -100).all() and (lp[:2] < lp[2]).all()


def test_aliases_and_integer_points():
    pts = np.array([[0, 1], [1, 0]])
    np.testing.assert_array_equal(target_log_density("twomoon", pts), target_log_density("moons", pts.astype(float)))
    assert target_entropy("Circle") == TARGET_ENTROPY["circles"]


@pytest.mark.parametrize("name, x, match", [
    ("moons", np.zeros(2), r"shape \(n, 2\)"),
    ("moons", np.zeros((4, 3)), r"shape \(n, 2\)"),
    ("moons", np.zeros((2, 2, 2)), r"shape \(n, 2\)"),
    ("moons", [[0.0, np.nan]], "finite"),
    ("pinwheel", [[np.inf, 0.0]], "finite"),
    ("moons", [["a", "b"]], "real numbers"),
    ("moons", np.zeros((2, 2), dtype=complex), "real numbers"),
    ("moons", [[0.0, 1.0], [2.0]], "shape"),
    ("U1", np.zeros((2, 2)), "unknown target"),
    (3, np.zeros((2, 2)), "expected a name"),
])
def test_bad_input_names_the_problem(name, x, match):
    with pytest.raises(ValueError, match=match):
        target_log_density(name, x)


def test_unknown_entropy_target():
    with pytest.raises(ValueError, match="unknown target"):
        target_entropy("U2")
