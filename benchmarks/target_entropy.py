"""True differential entropy H = -E[log p(x)] (nats) of the 2-D targets in ``kirchhoff_core.densities``.

Why: H is the lowest expected held-out NLL any density model can reach on a target, so it is the
floor against which trained circuits' NLLs are read. The values measured here are stored in
``kirchhoff_core.target_density.TARGET_ENTROPY`` (the grid H column).

Run: .venv/bin/python benchmarks/target_entropy.py [--targets moons,pinwheel] [--n 200000] [--seed 0]

Method: the exact log p(x) of each target comes from ``kirchhoff_core.target_density`` (how each
follows from its sampler is described there); H is estimated as the Monte-Carlo mean of -log p over
fresh sampler draws (SE = std / sqrt(n)).

Cross-checks: (1) a Kozachenko-Leonenko k-NN entropy on the same sample, built from the points
alone (its difference from the exact estimate has a small SE because the sampling noise cancels).
Its bias is O(k/N) in 2-D: negative where the density is smooth and curved, positive at the
checkerboard's hard cell edges (balls half empty); it shrinks as N grows (checked up to N = 1e6).
(2) Riemann sums of p and -p log p on a fine grid: mass 1 checks each density's normalisation and
the grid entropy is a deterministic value for the Monte-Carlo mean to agree with within its SE.
(3) The largest change of log p on a subset when the quadrature is refined (curve panels halved,
the pinwheel's root scan 8x finer; circles: the Bessel closed form against quadrature over the angle).
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma

from kirchhoff_core.densities import TARGETS, target_name
from kirchhoff_core.target_density import PANEL_SIGMAS, LogDensity, curve_log_density, pinwheel_logp, target_log_density


@dataclass(frozen=True)
class Method:
    """How a target's log p is checked: a refined (or independent) version of it, where there is one,
    and a grid for the mass check (box and spacing ~ a quarter of the narrowest noise width; None
    where the mass is 1 by formula)."""
    refined: LogDensity | None
    grid: tuple[float, float, float, float, float] | None
    label: str


def methods() -> dict[str, Method]:
    """Refinement: curve quadrature panels halved; the pinwheel's root-scan grid 8x finer."""
    def halved(name: str) -> LogDensity:
        return curve_log_density(name, PANEL_SIGMAS / 2)

    return {
        "moons": Method(halved("moons"), (-1.6, 2.6, -1.1, 1.6, 0.025), "quadrature over arc angle t"),
        "circles": Method(halved("circles"), (-1.5, 1.5, -1.5, 1.5, 0.015), "closed form (Bessel I0)"),
        "8gaussians": Method(None, (-5.5, 5.5, -5.5, 5.5, 0.04), "exact mixture"),
        "pinwheel": Method(lambda x: pinwheel_logp(x, grid=2048), (-7.0, 7.0, -7.0, 7.0, 0.05),
                           "change of variables, 1-D root find"),
        "2spirals": Method(halved("2spirals"), (-4.0, 4.0, -4.0, 4.0, 0.025), "quadrature over r, box*Gauss via erf"),
        "swissroll": Method(halved("swissroll"), (-4.0, 4.0, -4.0, 4.0, 0.05), "quadrature over t"),
        "checkerboard": Method(None, None, "exact uniform 1/32"),
    }


# --- estimators and checks ------------------------------------------------------------------------

def kl_entropy(x: np.ndarray, k: int) -> np.ndarray:
    """Per-point Kozachenko-Leonenko terms psi(N) - psi(k) + log(pi eps_k^2) (2-D); their mean is
    the k-NN entropy estimate, built only from the sample, never from a density formula."""
    eps = cKDTree(x).query(x, k=k + 1)[0][:, k]
    return digamma(len(x)) - digamma(k) + math.log(math.pi) + 2 * np.log(eps)


def grid_integrals(logp: LogDensity, grid: tuple[float, float, float, float, float]) -> tuple[float, float]:
    """Riemann sums of p and of -p log p over a box. For a smooth density that vanishes at the box
    edge these are spectrally accurate, so mass = 1 checks the normalisation and the second value
    is a deterministic entropy (no sampling noise) to hold the Monte-Carlo estimate against."""
    x0, x1, y0, y1, h = grid
    xs, ys = np.arange(x0, x1 + h / 2, h), np.arange(y0, y1 + h / 2, h)
    xx, yy = np.meshgrid(xs, ys)
    lp = logp(np.stack([xx.ravel(), yy.ravel()], axis=1))
    p = np.exp(lp)
    return float(p.sum() * h * h), float(-(p * np.where(p > 0, lp, 0.0)).sum() * h * h)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default=",".join(TARGETS), help="comma-separated target names")
    ap.add_argument("--n", type=int, default=200_000, help="fresh samples per target")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--k", type=int, default=4, help="neighbour order of the k-NN estimator")
    ap.add_argument("--check-n", type=int, default=4000, help="points for the quadrature refinement check")
    args = ap.parse_args()

    table = methods()
    rows = []
    for name in [target_name(t.strip()) for t in args.targets.split(",") if t.strip()]:
        t_start = time.perf_counter()
        m = table[name]
        x = TARGETS[name](args.n, np.random.default_rng(args.seed))
        logp = partial(target_log_density, name)
        lp = logp(x)
        if not np.isfinite(lp).all():
            raise RuntimeError(f"{name}: {np.sum(~np.isfinite(lp))} samples got p = 0")
        h, se = -lp.mean(), lp.std(ddof=1) / math.sqrt(len(x))
        kl = kl_entropy(x, args.k)
        diff = kl + lp  # per point: KL term - (-log p); same sample, so the sampling noise cancels
        quad = (float(np.abs(m.refined(x[:args.check_n]) - lp[:args.check_n]).max())
                if m.refined is not None else 0.0)
        mass, h_grid = grid_integrals(logp, m.grid) if m.grid is not None else (1.0, h)
        rows.append((name, h, se, kl.mean(), diff.mean(), diff.std(ddof=1) / math.sqrt(len(x)),
                     quad, mass, h_grid, m.label, time.perf_counter() - t_start))

    print(f"n = {args.n:,} per target, seed {args.seed}, k-NN order k = {args.k}\n")
    print("| target | H (nats) | SE | k-NN H | k-NN - H (± SE) | max |dlog p| refine | grid mass | grid H | method | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, h, se, kl, d, dse, quad, mass, h_grid, label, secs in rows:
        print(f"| {name} | {h:.4f} | {se:.4f} | {kl:.4f} | {d:+.4f} ± {dse:.4f} | {quad:.0e} | {mass:.6f} | {h_grid:.4f} "
              f"| {label} | {secs:.0f} |")


if __name__ == "__main__":
    main()
