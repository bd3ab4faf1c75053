"""True differential entropy H = -E[log p(x)] (nats) of the 2-D targets in ``kirchhoff_core.densities``.

Why: H is the lowest expected held-out NLL any density model can reach on a target, so it is the
floor against which trained circuits' NLLs are read.

Run: .venv/bin/python benchmarks/target_entropy.py [--targets moons,pinwheel] [--n 200000] [--seed 0]

Method: each sampler is a latent-variable model, so p(x) is computed (near-)exactly and
H is estimated as the Monte-Carlo mean of -log p over fresh sampler draws (SE = std / sqrt(n)).
The samplers, read line by line:

- moons: first n//2 points on the outer arc (cos t, sin t), the rest on the inner arc
  (1 - cos t, 0.5 - sin t), t ~ U(0, pi) drawn per point; + N(0, 0.1^2 I). The shuffle only
  permutes, so each point's marginal is the equal-weight mixture of the two arcs.
- circles: first n//2 on radius 1, the rest on radius 0.5, t ~ U(0, 2 pi); + N(0, 0.06^2 I).
  Closed form: each ring is a Gaussian-smeared circle, density via the Bessel I0 (i0e) formula.
- swissroll: t = 1.5 pi (1 + 2 U) ~ U(1.5 pi, 4.5 pi), (t cos t, t sin t) + N(0, I), all / 5,
  i.e. a curve mixture with noise std 0.2. Not stratified, no shuffle needed.
- 2spirals: r = 3 pi sqrt(U) (density 2r / (3 pi)^2), arm (-r cos r, r sin r) + U[0, 0.5)^2 jitter;
  the second half (n - n//2 points) is negated (jitter included, so its box is (-0.5, 0]); all / 3
  then + N(0, 0.1^2 I). Box (side 1/6 after /3) * Gaussian is separable: a difference of normal CDFs
  per coordinate, so only the r integral is numerical.
- pinwheel: arm = i % 5 (stratified, equal weights for n divisible by 5), f ~ N((1, 0), diag(0.3^2,
  0.1^2)), x = 2 R(-theta) f with theta = 2 pi arm / 5 + 0.25 exp(f0). The map keeps |f| and turns
  the polar angle phi into psi = phi - theta(|f| cos phi), so it is inverted by 1-D root finding in
  phi and |det J| = |1 + 0.25 exp(f0) f1| (times 4 for the factor 2).
- 8gaussians: centre index ~ U{0..7} i.i.d. (not stratified), centres 4 (cos, sin) and std 0.5,
  both divided by 1.414 (not sqrt 2): an exact Gaussian mixture.
- checkerboard: uniform on 8 of the 16 2x2 cells of [-4, 4]^2 (cells with floor(x/2) + floor(y/2)
  even), density 1/32, H = log 32 exactly.

Cross-checks: a Kozachenko-Leonenko k-NN entropy on the same sample (independent of the density
formulas; SE of its difference from the exact estimate is small because the sample noise cancels),
the mass of each computed density on a fine grid (should be 1), and the largest change of log p on
a subset when the quadrature is refined (panels halved / root grid 4x finer).
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma, i0e, logsumexp, ndtr

from kirchhoff_core.densities import TARGETS

LogDensity = Callable[[np.ndarray], np.ndarray]
CHUNK = 2000
"""Points per block when evaluating a mixture over quadrature nodes (bounds memory to ~100 MB)."""


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


def curve_nodes(curve: Curve, panel_len: float, order: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes in panels of equal arc length (<= panel_len), so every stretch of the
    curve is resolved relative to the noise width wherever the parametrisation is fast or slow."""
    t_fine = np.linspace(curve.t0, curve.t1, 200_001)
    pts = curve.fn(t_fine)
    seg = np.hypot(*np.diff(pts, axis=0).T)
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


def box_mixture_logp(x: np.ndarray, nodes: list[tuple[np.ndarray, np.ndarray, tuple[float, float]]],
                     sigma: float) -> np.ndarray:
    """log sum over components and nodes of w_j * prod_d box_gauss(x_d - c_jd); densities here stay
    far above underflow (the spiral noise is never more than ~10 sigma from a sampled point)."""
    out = np.zeros(len(x))
    for centres, w, (lo, hi) in nodes:
        for i in range(0, len(x), CHUNK):
            xb = x[i:i + CHUNK]
            k = box_gauss(xb[:, None, 0] - centres[None, :, 0], lo, hi, sigma)
            k *= box_gauss(xb[:, None, 1] - centres[None, :, 1], lo, hi, sigma)
            out[i:i + CHUNK] += k @ w
    return np.log(out)


def curve_density(curves: list[Curve], sigma: float, panel_len: float) -> LogDensity:
    """log p for a mixture of noisy curves (isotropic Gaussian noise, optional box jitter)."""
    built = [(*curve_nodes(c, panel_len), c.box) for c in curves]
    if all(c.box == (0.0, 0.0) for c in curves):
        centres = np.concatenate([b[0] for b in built])
        weights = np.concatenate([b[1] for b in built])
        return lambda x: gauss_mixture_logp(x, centres, weights, sigma)
    return lambda x: box_mixture_logp(x, built, sigma)


def _arc(cx: float, cy: float, sx: float, sy: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: np.stack([cx + sx * np.cos(t), cy + sy * np.sin(t)], axis=1)


def moons_curves() -> list[Curve]:
    q = lambda t: np.full_like(t, 1 / math.pi)
    return [Curve(_arc(0, 0, 1, 1), 0, math.pi, q, 0.5), Curve(_arc(1, 0.5, -1, -1), 0, math.pi, q, 0.5)]


def circles_curves() -> list[Curve]:
    q = lambda t: np.full_like(t, 1 / (2 * math.pi))
    return [Curve(_arc(0, 0, r, r), 0, 2 * math.pi, q, 0.5) for r in (1.0, 0.5)]


def swissroll_curves() -> list[Curve]:
    fn = lambda t: np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 5.0
    return [Curve(fn, 1.5 * math.pi, 4.5 * math.pi, lambda t: np.full_like(t, 1 / (3 * math.pi)), 1.0)]


def spirals_curves() -> list[Curve]:
    rmax = 3 * math.pi  # 540 degrees
    q = lambda r: 2 * r / rmax**2
    arm = lambda r: np.stack([-np.cos(r) * r, np.sin(r) * r], axis=1) / 3.0
    return [Curve(arm, 0, rmax, q, 0.5, box=(0.0, 0.5 / 3)),
            Curve(lambda r: -arm(r), 0, rmax, q, 0.5, box=(-0.5 / 3, 0.0))]


def circles_exact(x: np.ndarray) -> np.ndarray:
    """Ring of radius R smeared by N(0, s^2 I): exp(-(rho - R)^2 / 2s^2) i0e(rho R / s^2) / (2 pi s^2)."""
    s2, rho = 0.06**2, np.hypot(x[:, 0], x[:, 1])
    p = sum(0.5 * np.exp(-(rho - r) ** 2 / (2 * s2)) * i0e(rho * r / s2) for r in (1.0, 0.5))
    return np.log(p / (2 * math.pi * s2))


# --- pinwheel: change of variables through a 1-D root find ----------------------------------------

def pinwheel_logp(x: np.ndarray, grid: int = 512, arms: int = 5, rate: float = 0.25) -> np.ndarray:
    """Sum over arms and over every preimage f of N(f) / |1 + rate e^{f0} f1|, divided by 4 for the
    factor 2. Preimages: H(phi) = phi - rate exp(rho cos phi) must equal psi + theta_arm mod 2 pi;
    H(pi) - H(-pi) = 2 pi, so scanning one turn for integer crossings of (H - target) / 2 pi finds
    each root (two roots in one grid cell need |det J| ~ 0, i.e. f1 ~ -4 e^{-f0}: > 10 sigma out)."""
    y = x / 2.0
    rho = np.hypot(y[:, 0], y[:, 1])
    psi = np.arctan2(y[:, 1], y[:, 0])
    phis = np.linspace(-math.pi, math.pi, grid + 1)
    out = np.zeros(len(x))
    step = max(1, 4_000_000 // grid)
    for i in range(0, len(x), step):
        r, ps = rho[i:i + step, None], psi[i:i + step]
        hgrid = phis[None, :] - rate * np.exp(r * np.cos(phis)[None, :])
        dens = np.zeros(len(r))
        for arm in range(arms):
            target = ps + 2 * math.pi * arm / arms
            k = np.floor((hgrid - target[:, None]) / (2 * math.pi))
            row, col = np.nonzero(k[:, 1:] != k[:, :-1])
            m = np.maximum(k[row, col], k[row, col + 1])  # the integer crossed in this cell
            goal = target[row] + 2 * math.pi * m
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
            logn = (-0.5 * ((f0 - 1) / 0.3) ** 2 - 0.5 * (f1 / 0.1) ** 2
                    - math.log(2 * math.pi * 0.3 * 0.1))
            jac = np.abs(1 + rate * np.exp(f0) * f1)
            np.add.at(dens, row, np.exp(logn) / jac)
        out[i:i + step] = dens / arms / 4.0
    with np.errstate(divide="ignore"):
        return np.log(out)


# --- exact closed forms ----------------------------------------------------------------------------

def eight_gaussians_logp(x: np.ndarray) -> np.ndarray:
    """Equal-weight mixture of 8 Gaussians, centres 4(cos, sin)(k pi/4) / 1.414, std 0.5 / 1.414."""
    a = np.arange(8) * math.pi / 4
    centres = 4.0 * np.stack([np.cos(a), np.sin(a)], axis=1) / 1.414
    return gauss_mixture_logp(x, centres, np.full(8, 1 / 8), 0.5 / 1.414)


def checkerboard_logp(x: np.ndarray) -> np.ndarray:
    """1/32 on the 8 white 2x2 cells of [-4, 4]^2, 0 elsewhere."""
    c = np.floor(x / 2.0)
    inside = (np.abs(x) <= 4).all(1) & ((c[:, 0] + c[:, 1]) % 2 == 0)
    with np.errstate(divide="ignore"):
        return np.where(inside, -math.log(32.0), -np.inf)


# --- registry -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Method:
    """How a target's log p is computed: default and refined versions, a grid box for the mass check."""
    logp: LogDensity
    refined: LogDensity | None
    box: tuple[float, float, float, float]
    label: str


def methods() -> dict[str, Method]:
    """Default quadrature resolution is panel arc length = noise std (8 GL nodes each); refined
    halves it (or, for pinwheel, uses a 4x finer root-scan grid), giving the quadrature error."""
    return {
        "moons": Method(curve_density(moons_curves(), 0.1, 0.1), curve_density(moons_curves(), 0.1, 0.05),
                        (-1.6, 2.6, -1.1, 1.6), "quadrature over arc angle t (GL)"),
        "circles": Method(circles_exact, curve_density(circles_curves(), 0.06, 0.06),
                          (-1.5, 1.5, -1.5, 1.5), "closed form (I0); refined = t-quadrature"),
        "8gaussians": Method(eight_gaussians_logp, None, (-5.5, 5.5, -5.5, 5.5), "exact mixture"),
        "pinwheel": Method(pinwheel_logp, lambda x: pinwheel_logp(x, grid=2048),
                           (-7.0, 7.0, -7.0, 7.0), "change of variables, 1-D root find"),
        "2spirals": Method(curve_density(spirals_curves(), 0.1, 0.1), curve_density(spirals_curves(), 0.1, 0.05),
                           (-4.0, 4.0, -4.0, 4.0), "quadrature over r, box*Gauss via erf"),
        "swissroll": Method(curve_density(swissroll_curves(), 0.2, 0.2),
                            curve_density(swissroll_curves(), 0.2, 0.1),
                            (-4.0, 4.0, -4.0, 4.0), "quadrature over t (GL)"),
        "checkerboard": Method(checkerboard_logp, None, (-4.0, 4.0, -4.0, 4.0), "exact uniform 1/32"),
    }


# --- estimators and checks ------------------------------------------------------------------------

def kl_entropy(x: np.ndarray, k: int) -> np.ndarray:
    """Per-point Kozachenko-Leonenko terms psi(N) - psi(k) + log(pi eps_k^2) (2-D); their mean is
    the k-NN entropy estimate, built only from the sample, never from a density formula."""
    eps = cKDTree(x).query(x, k=k + 1)[0][:, k]
    return digamma(len(x)) - digamma(k) + math.log(math.pi) + 2 * np.log(eps)


def grid_mass(logp: LogDensity, box: tuple[float, float, float, float], h: float) -> float:
    """Riemann sum of p over a box; for a smooth density that vanishes at the box edge this is
    spectrally accurate, so a value of 1 checks the normalisation of the quadrature."""
    xs, ys = np.arange(box[0], box[1] + h / 2, h), np.arange(box[2], box[3] + h / 2, h)
    xx, yy = np.meshgrid(xs, ys)
    return float(np.exp(logp(np.stack([xx.ravel(), yy.ravel()], axis=1))).sum() * h * h)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default=",".join(TARGETS), help="comma-separated target names")
    ap.add_argument("--n", type=int, default=200_000, help="fresh samples per target")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--k", type=int, default=4, help="neighbour order of the k-NN estimator")
    ap.add_argument("--check-n", type=int, default=4000, help="points for the quadrature refinement check")
    ap.add_argument("--grid-h", type=float, default=0.025, help="grid spacing of the mass check")
    args = ap.parse_args()

    table = methods()
    rows = []
    for name in [t.strip() for t in args.targets.split(",") if t.strip()]:
        t_start = time.perf_counter()
        m = table[name]
        x = TARGETS[name](args.n, np.random.default_rng(args.seed))
        lp = m.logp(x)
        if not np.isfinite(lp).all():
            raise RuntimeError(f"{name}: {np.sum(~np.isfinite(lp))} samples got p = 0")
        h, se = -lp.mean(), lp.std(ddof=1) / math.sqrt(len(x))
        kl = kl_entropy(x, args.k)
        diff = kl + lp  # per point: KL term - (-log p); same sample, so the sampling noise cancels
        quad = (float(np.abs(m.refined(x[:args.check_n]) - lp[:args.check_n]).max())
                if m.refined is not None else 0.0)
        mass = grid_mass(m.logp, m.box, args.grid_h) if name not in ("checkerboard", "8gaussians") else 1.0
        rows.append((name, h, se, kl.mean(), diff.mean(), diff.std(ddof=1) / math.sqrt(len(x)),
                     quad, mass, m.label, time.perf_counter() - t_start))

    print(f"n = {args.n:,} per target, seed {args.seed}, k-NN order k = {args.k}\n")
    print("| target | H (nats) | SE | k-NN H | k-NN - H (± SE) | max |dlog p| refine | grid mass | method | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, h, se, kl, d, dse, quad, mass, label, secs in rows:
        print(f"| {name} | {h:.4f} | {se:.4f} | {kl:.4f} | {d:+.4f} ± {dse:.4f} | {quad:.1e} | {mass:.5f} "
              f"| {label} | {secs:.0f} |")


if __name__ == "__main__":
    main()
