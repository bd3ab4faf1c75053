"""Exact log-density log p(x) and differential entropy of the 2-D data targets in ``densities``.

Why: the samplers in ``densities.TARGETS`` are latent-variable models, so p(x) can be computed
(near-)exactly instead of estimated from a histogram of samples. That gives the true target to
draw next to a model, and the entropy H = -E[log p], the lowest held-out NLL any model can reach.

How each density follows from its sampler:

- moons: equal-weight mixture of the outer arc (cos t, sin t) and the inner arc
  (1 - cos t, 0.5 - sin t), t ~ U(0, pi), + N(0, 0.1^2 I); quadrature over t.
- circles: rings of radius 1 and 0.5, angle ~ U(0, 2 pi), + N(0, 0.06^2 I); closed form, a
  Gaussian-smeared circle is exp(-(rho - R)^2 / 2 s^2) I0(rho R / s^2) / (2 pi s^2).
- swissroll: t ~ U(1.5 pi, 4.5 pi), (t cos t, t sin t) / 5 + N(0, 0.2^2 I); quadrature over t.
- 2spirals: r = 3 pi sqrt(U) (density 2 r / (3 pi)^2), arm (-r cos r, r sin r) / 3 plus a uniform
  box jitter [0, 1/6)^2, the second arm (box included) negated, + N(0, 0.1^2 I). Box * Gaussian is a
  difference of normal CDFs per coordinate, so only the r integral is numerical.
- pinwheel: arm = i % 5, f ~ N((1, 0), diag(0.3^2, 0.1^2)), x = 2 R(-theta) f with
  theta = 2 pi arm / 5 + 0.25 exp(f0). The map keeps |f| and turns the polar angle, so it is
  inverted by a 1-D root find; |det J| = 4 |1 + 0.25 exp(f0) f1|.
- 8gaussians: equal-weight Gaussian mixture, centres 4 (cos, sin)(k pi / 4) / 1.414, std 0.5 / 1.414.
- checkerboard: uniform 1/32 on the 8 white 2x2 cells of [-4, 4]^2.

Samplers that lay classes out in blocks (the halves of moons, circles and 2spirals, the pinwheel's
arms i % 5) give them equal weights (exactly for n even / a multiple of 5); their shuffle only
permutes, so each point's marginal is the equal-weight mixture.

Accuracy: quadrature panels span 2 noise stds of arc length with 8 Gauss-Legendre nodes each (the
setting ``benchmarks/target_entropy.py`` measured the entropies with). Against panels of half a std
with 12 nodes, max |d log p| on the 60 x 60 plot grid (``flow_analysis.plot_box``) where
p > 1e-4 max p: moons 4e-11, 2spirals 2e-9, swissroll 7e-11; circles' closed form agrees with that
quadrature to 3e-14 and the pinwheel's root scan with an 8x finer one to 3e-14. Only far out, where
the nearest quadrature node dominates the tail, is log p off by more (up to 0.03 at the grid's
corners). That grid costs 0.3-0.4 s for all seven targets together on one core (~0.1 s more on
the first call, which builds the quadrature nodes), so a coarser quadrature was not needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
from scipy.special import i0e, log_ndtr, logsumexp, ndtr

from .densities import MAX_SAMPLES, target_name

LogDensity = Callable[[np.ndarray], np.ndarray]

CHUNK = 2000
"""Points per block when summing a mixture over quadrature nodes (bounds memory to ~100 MB)."""
PANEL_SIGMAS = 2.0
"""Quadrature panel length along a curve, in noise standard deviations."""
GL_ORDER = 8
"""Gauss-Legendre nodes per panel."""
PINWHEEL_GRID = 256
"""Cells in the pinwheel's scan of one turn for root brackets."""

TARGET_ENTROPY: dict[str, float] = {
    # Differential entropy H = -E[log p] in nats, from ``benchmarks/target_entropy.py``: the Riemann
    # sum of -p log p over a fine grid (spacing ~ a quarter noise std); the Monte-Carlo mean of
    # -log p over 200,000 fresh samples agreed within ~0.002 (its SE) for every target.
    "moons": 1.0076,
    "circles": 0.7876,
    "8gaussians": 2.8319,
    "pinwheel": 2.3178,
    "2spirals": 2.6455,
    "swissroll": 2.6696,
    "checkerboard": 3.4657,  # log 32 exactly
}


def target_entropy(name: str) -> float:
    """Differential entropy (nats) of a data target: the floor of any model's held-out NLL."""
    return TARGET_ENTROPY[target_name(name)]


# --- curve mixtures: p(x) = sum_c w_c int q_c(t) K(x - c(t)) dt --------------------------------

@dataclass(frozen=True)
class Curve:
    """One mixture component: a curve c(t) on [t0, t1] with latent density q(t) and weight w."""
    fn: Callable[[np.ndarray], np.ndarray]
    t0: float
    t1: float
    q: Callable[[np.ndarray], np.ndarray]
    weight: float
    box: tuple[float, float] = (0.0, 0.0)
    """Per-coordinate uniform jitter [lo, hi) added before the Gaussian noise (2spirals only)."""


def curve_nodes(curve: Curve, panel_len: float, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes in panels of equal arc length (<= panel_len), so every stretch of the
    curve is resolved relative to the noise width wherever the parametrisation is fast or slow."""
    t_fine = np.linspace(curve.t0, curve.t1, 200_001)
    seg = np.hypot(*np.diff(curve.fn(t_fine), axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    panels = max(1, math.ceil(s[-1] / panel_len))
    edges = np.interp(np.linspace(0.0, s[-1], panels + 1), s, t_fine)
    g, gw = np.polynomial.legendre.leggauss(order)
    half = np.diff(edges) / 2
    t = (edges[:-1, None] + half[:, None] * (g[None, :] + 1)).ravel()
    w = (half[:, None] * gw[None, :]).ravel() * curve.q(t) * curve.weight
    return curve.fn(t), w


def gauss_mixture_logp(x: np.ndarray, centres: np.ndarray, weights: np.ndarray, sigma: float) -> np.ndarray:
    """log sum_j w_j N(x; c_j, sigma^2 I), blockwise, with logsumexp so tails never underflow."""
    out = np.empty(len(x))
    logw = np.log(weights) - math.log(2 * math.pi * sigma**2)
    cc = (centres**2).sum(1)
    for i in range(0, len(x), CHUNK):
        xb = x[i:i + CHUNK]
        d2 = np.maximum((xb**2).sum(1)[:, None] - 2 * xb @ centres.T + cc[None, :], 0.0)
        out[i:i + CHUNK] = logsumexp(logw[None, :] - d2 / (2 * sigma**2), axis=1)
    return out


def box_gauss(z: np.ndarray, lo: float, hi: float, sigma: float) -> np.ndarray:
    """Density of U[lo, hi) + N(0, sigma^2) at z: (Phi(u) - Phi(v)) / (hi - lo), written as the
    difference of the two small tails when both CDFs are near 1, so far points keep precision."""
    u, v = (z - lo) / sigma, (z - hi) / sigma
    m = np.where(u + v > 0, -1.0, 1.0)
    return m * (ndtr(m * u) - ndtr(m * v)) / (hi - lo)


def log_box_gauss(z: np.ndarray, lo: float, hi: float, sigma: float) -> np.ndarray:
    """log of ``box_gauss``, from log normal CDFs, for points so far out that the density underflows."""
    u, v = (z - lo) / sigma, (z - hi) / sigma
    left = u + v <= 0  # z left of the box centre: Phi(u) - Phi(v); right: Phi(-v) - Phi(-u)
    big, small = log_ndtr(np.where(left, u, -v)), log_ndtr(np.where(left, v, -u))
    return big + np.log1p(-np.exp(small - big)) - math.log(hi - lo)


def box_mixture_logp(x: np.ndarray, nodes: list[tuple[np.ndarray, np.ndarray, tuple[float, float]]],
                     sigma: float) -> np.ndarray:
    """log sum over components and nodes of w_j * prod_d box_gauss(x_d - c_jd). The kernel is
    separable, so it is evaluated once per distinct coordinate value in a block: a plot grid repeats
    each value, which cuts the normal-CDF calls (the cost) ~30x. Points whose sum underflows (p below
    1e-290, > ~30 noise stds from the arms) are redone in log space, so log p stays finite."""
    out = np.zeros(len(x))
    for i in range(0, len(x), CHUNK):
        xb = x[i:i + CHUNK]
        axes = [np.unique(xb[:, d], return_inverse=True) for d in range(2)]
        for centres, w, (lo, hi) in nodes:
            k = np.ones((len(xb), len(centres)))
            for d, (vals, inv) in enumerate(axes):
                k *= box_gauss(vals[:, None] - centres[None, :, d], lo, hi, sigma)[inv.ravel()]
            out[i:i + CHUNK] += k @ w
    far = out < 1e-290  # below this, terms lost to underflow (each < 1e-308) could matter
    with np.errstate(divide="ignore"):
        out = np.log(out)
    far = np.flatnonzero(far)
    for i in range(0, len(far), CHUNK):
        xb = x[far[i:i + CHUNK], None, :]
        terms = [np.log(w) + log_box_gauss(xb[..., 0] - centres[:, 0], lo, hi, sigma)
                 + log_box_gauss(xb[..., 1] - centres[:, 1], lo, hi, sigma) for centres, w, (lo, hi) in nodes]
        out[far[i:i + CHUNK]] = logsumexp(np.concatenate(terms, axis=1), axis=1)
    return out


def _arc(cx: float, cy: float, sx: float, sy: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: np.stack([cx + sx * np.cos(t), cy + sy * np.sin(t)], axis=1)


def _moons_curves() -> list[Curve]:
    q = lambda t: np.full_like(t, 1 / math.pi)
    return [Curve(_arc(0, 0, 1, 1), 0, math.pi, q, 0.5), Curve(_arc(1, 0.5, -1, -1), 0, math.pi, q, 0.5)]


def _circles_curves() -> list[Curve]:
    q = lambda t: np.full_like(t, 1 / (2 * math.pi))
    return [Curve(_arc(0, 0, r, r), 0, 2 * math.pi, q, 0.5) for r in (1.0, 0.5)]


def _swissroll_curves() -> list[Curve]:
    fn = lambda t: np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 5.0
    return [Curve(fn, 1.5 * math.pi, 4.5 * math.pi, lambda t: np.full_like(t, 1 / (3 * math.pi)), 1.0)]


def _spirals_curves() -> list[Curve]:
    rmax = 3 * math.pi  # 540 degrees
    q = lambda r: 2 * r / rmax**2
    arm = lambda r: np.stack([-np.cos(r) * r, np.sin(r) * r], axis=1) / 3.0
    return [Curve(arm, 0, rmax, q, 0.5, box=(0.0, 0.5 / 3)),
            Curve(lambda r: -arm(r), 0, rmax, q, 0.5, box=(-0.5 / 3, 0.0))]


CURVE_TARGETS: dict[str, tuple[Callable[[], list[Curve]], float]] = {
    "moons": (_moons_curves, 0.1),
    "circles": (_circles_curves, 0.06),
    "swissroll": (_swissroll_curves, 0.2),
    "2spirals": (_spirals_curves, 0.1),
}
"""Targets that are noisy curve mixtures: name -> (curve builder, Gaussian noise std)."""


@lru_cache(maxsize=32)
def curve_log_density(name: str, panel_sigmas: float = PANEL_SIGMAS, order: int = GL_ORDER) -> LogDensity:
    """log p of a curve-mixture target by quadrature over the curve parameter (cached: building the
    nodes costs ~20 ms). Smaller ``panel_sigmas`` / larger ``order`` refine it, to check convergence."""
    make, sigma = CURVE_TARGETS[name]
    curves = make()
    built = [(*curve_nodes(c, panel_sigmas * sigma, order), c.box) for c in curves]
    if all(c.box == (0.0, 0.0) for c in curves):
        centres = np.concatenate([b[0] for b in built])
        weights = np.concatenate([b[1] for b in built])
        return lambda x: gauss_mixture_logp(x, centres, weights, sigma)
    return lambda x: box_mixture_logp(x, built, sigma)


# --- closed forms and change of variables ----------------------------------------------------------

def circles_logp(x: np.ndarray) -> np.ndarray:
    """Ring of radius R smeared by N(0, s^2 I): exp(-(rho - R)^2 / 2s^2) i0e(rho R / s^2) / (2 pi s^2),
    summed over the two rings in log space (i0e = I0 e^{-|.|} never overflows), so it stays finite."""
    s2, rho = 0.06**2, np.hypot(x[:, 0], x[:, 1])
    rings = [math.log(0.5) - (rho - r) ** 2 / (2 * s2) + np.log(i0e(rho * r / s2)) for r in (1.0, 0.5)]
    return np.logaddexp(*rings) - math.log(2 * math.pi * s2)


def pinwheel_logp(x: np.ndarray, grid: int = PINWHEEL_GRID, arms: int = 5, rate: float = 0.25) -> np.ndarray:
    """Sum over arms and over every preimage f of N(f) / |1 + rate e^{f0} f1|, divided by 4 for the
    factor 2. Preimages: H(phi) = phi - rate exp(rho cos phi) must equal psi + 2 pi m / arms for an
    integer m (arm = m mod arms). H(pi) - H(-pi) = 2 pi, so scanning one turn of phi for the integers
    crossed by Q = arms (H - psi) / 2 pi finds each root of each arm in one pass (two roots in one
    grid cell need |det J| ~ 0, i.e. f1 ~ -4 e^{-f0}, more than 10 sigma out); bisection refines.
    The terms are summed in log space, so far points stay finite."""
    y = x / 2.0
    rho = np.hypot(y[:, 0], y[:, 1])
    psi = np.arctan2(y[:, 1], y[:, 0])
    phis = np.linspace(-math.pi, math.pi, grid + 1)
    out = np.zeros(len(x))
    step = max(1, 4_000_000 // grid)
    for i in range(0, len(x), step):
        r, ps = rho[i:i + step, None], psi[i:i + step]
        q = np.floor(arms * (phis[None, :] - rate * np.exp(r * np.cos(phis)[None, :]) - ps[:, None])
                     / (2 * math.pi))
        row, col = np.nonzero(q[:, 1:] != q[:, :-1])
        m = np.maximum(q[row, col], q[row, col + 1])  # the integer crossed in this cell
        goal = ps[row] + 2 * math.pi * m / arms
        a, b, rr = phis[col], phis[col + 1], r[row, 0]
        ha = a - rate * np.exp(rr * np.cos(a)) - goal
        for _ in range(55):  # bisection on a bracketed sign change, to ~1e-16
            mid = 0.5 * (a + b)
            hm = mid - rate * np.exp(rr * np.cos(mid)) - goal
            left = np.sign(hm) == np.sign(ha)
            a, ha = np.where(left, mid, a), np.where(left, hm, ha)
            b = np.where(left, b, mid)
        phi = 0.5 * (a + b)
        f0, f1 = rr * np.cos(phi), rr * np.sin(phi)
        logn = -0.5 * ((f0 - 1) / 0.3) ** 2 - 0.5 * (f1 / 0.1) ** 2 - math.log(2 * math.pi * 0.3 * 0.1)
        terms = logn - np.log(np.abs(1 + rate * np.exp(f0) * f1))
        top = np.full(len(r), -np.inf)
        np.maximum.at(top, row, terms)  # every point has >= 1 root per arm, so top is finite
        total = np.bincount(row, np.exp(terms - top[row]), minlength=len(r))
        out[i:i + step] = top + np.log(total) - math.log(arms * 4.0)
    return out


def eight_gaussians_logp(x: np.ndarray) -> np.ndarray:
    """Equal-weight mixture of 8 Gaussians, centres 4(cos, sin)(k pi/4) / 1.414, std 0.5 / 1.414."""
    a = np.arange(8) * math.pi / 4
    centres = 4.0 * np.stack([np.cos(a), np.sin(a)], axis=1) / 1.414
    return gauss_mixture_logp(x, centres, np.full(8, 1 / 8), 0.5 / 1.414)


def checkerboard_logp(x: np.ndarray) -> np.ndarray:
    """1/32 on the 8 white 2x2 cells of [-4, 4]^2 (floor(x/2) + floor(y/2) even), 0 elsewhere."""
    c = np.floor(x / 2.0)
    inside = (np.abs(x) <= 4).all(1) & ((c[:, 0] + c[:, 1]) % 2 == 0)
    with np.errstate(divide="ignore"):
        return np.where(inside, -math.log(32.0), -np.inf)


_LOG_DENSITY: dict[str, LogDensity] = {
    "moons": lambda x: curve_log_density("moons")(x),
    "circles": circles_logp,
    "8gaussians": eight_gaussians_logp,
    "pinwheel": pinwheel_logp,
    "2spirals": lambda x: curve_log_density("2spirals")(x),
    "swissroll": lambda x: curve_log_density("swissroll")(x),
    "checkerboard": checkerboard_logp,
}


def target_log_density(name: str, x: np.ndarray) -> np.ndarray:
    """Exact log p(x) of a data target (reference aliases accepted) at points x of shape (n, 2):
    float64 (n,). Finite everywhere (tails are summed in log space) except off the checkerboard's
    cells, where p = 0 and log p = -inf."""
    key = target_name(name)
    try:
        pts = np.asarray(x)
    except Exception as exc:  # ragged nested lists and the like
        raise ValueError(f"x: expected an array of points of shape (n, 2), got {type(x).__name__}") from exc
    if pts.dtype.kind not in "iuf":
        raise ValueError(f"x: need real numbers, got dtype {pts.dtype}")
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"x: need points of shape (n, 2), got {pts.shape}")
    if len(pts) > MAX_SAMPLES:
        raise ValueError(f"x: at most {MAX_SAMPLES:,} points, got {len(pts):,}")
    pts = pts.astype(np.float64, copy=False)
    if not np.isfinite(pts).all():
        raise ValueError("x: all coordinates must be finite")
    return _LOG_DENSITY[key](pts)
