"""Targets for generative circuits: 2-D sample generators and unnormalised densities exp(-U).

``TARGETS`` maps a name to a sampler ``sampler(n, rng) -> float64 array (n, 2)`` drawing fresh,
independent points from a numpy ``Generator`` (so a training loop can draw a new batch every step
and a held-out set from its own seed). ``POTENTIALS`` maps ``U1``..``U4`` to torch functions
``U(z: (n, 2)) -> (n,)``, the four potentials of Rezende & Mohamed (2015, "Variational inference
with normalizing flows", table 1); density matching fits a circuit to exp(-U).

Scalings follow the KirchhoffNet reference code (``zhengqigao/kirchhoffnet``,
``src/utils/testbench.py``), so negative log-likelihoods are comparable with its results:

- ``moons`` ("twomoon"): scikit-learn's two moons, noise 0.1, no rescaling. scikit-learn spaces the
  arc angle evenly; we draw it uniformly, which is the distribution those points discretise.
- ``circles`` ("circle"): scikit-learn's circles, noise 0.06, inner radius factor 0.5 (angle drawn
  uniformly, as above).
- ``swissroll``: scikit-learn's swiss roll with noise 1.0, coordinates (x, z) divided by 5.
- ``2spirals``: radius sqrt(U) * 540 degrees, a uniform [0, 0.5) jitter per coordinate, the
  second arm mirrored, divided by 3, plus Gaussian noise 0.1.
- ``pinwheel``: 5 arms, radial std 0.3, tangential std 0.1, rate 0.25, times 2.
- ``8gaussians``: 8 centres on a radius-4 circle, std 0.5, everything divided by 1.414.
- ``checkerboard`` (not in the reference; the usual FFJORD toy set): uniform on 8 of the 16 2x2
  cells of [-4, 4]^2.

The reference trained ``8gaussians``, ``pinwheel`` and ``2spirals`` on one fixed set of 512 points
and the others on a fixed 4,096; samplers here give fresh points every call.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import numpy as np
import torch

Sampler = Callable[[int, np.random.Generator], np.ndarray]
Potential = Callable[[torch.Tensor], torch.Tensor]

MAX_SAMPLES = 10_000_000
POTENTIAL_BOX = 4.0
"""Half-width of the square [-4, 4]^2 on which the potentials are drawn and normalised."""


# --- samplers ------------------------------------------------------------------------------------

def _moons(n: int, rng: np.random.Generator) -> np.ndarray:
    n_out = n // 2
    t = rng.uniform(0.0, math.pi, n)
    outer = np.stack([np.cos(t), np.sin(t)], axis=1)
    inner = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    x = np.where((np.arange(n) < n_out)[:, None], outer, inner)
    return x + 0.1 * rng.standard_normal((n, 2))


def _circles(n: int, rng: np.random.Generator) -> np.ndarray:
    n_out = n // 2
    t = rng.uniform(0.0, 2 * math.pi, n)
    r = np.where(np.arange(n) < n_out, 1.0, 0.5)
    x = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    return x + 0.06 * rng.standard_normal((n, 2))


def _swissroll(n: int, rng: np.random.Generator) -> np.ndarray:
    t = 1.5 * math.pi * (1.0 + 2.0 * rng.uniform(size=n))
    x = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
    return (x + rng.standard_normal((n, 2))) / 5.0


def _two_spirals(n: int, rng: np.random.Generator) -> np.ndarray:
    h = n // 2
    r = np.sqrt(rng.uniform(size=n)) * 540.0 * (2.0 * math.pi) / 360.0
    x = np.stack([-np.cos(r) * r, np.sin(r) * r], axis=1) + rng.uniform(size=(n, 2)) * 0.5
    x[h:] *= -1.0
    return x / 3.0 + 0.1 * rng.standard_normal((n, 2))


def _pinwheel(n: int, rng: np.random.Generator) -> np.ndarray:
    arms, rate = 5, 0.25
    f = rng.standard_normal((n, 2)) * np.array([0.3, 0.1])
    f[:, 0] += 1.0
    arm = np.arange(n) % arms
    angle = 2 * math.pi * arm / arms + rate * np.exp(f[:, 0])
    c, s = np.cos(angle), np.sin(angle)
    x = np.stack([f[:, 0] * c + f[:, 1] * s, -f[:, 0] * s + f[:, 1] * c], axis=1)
    return 2.0 * x


def _eight_gaussians(n: int, rng: np.random.Generator) -> np.ndarray:
    angle = rng.integers(0, 8, n) * (math.pi / 4)
    centres = 4.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return (centres + 0.5 * rng.standard_normal((n, 2))) / 1.414


def _checkerboard(n: int, rng: np.random.Generator) -> np.ndarray:
    x1 = rng.uniform(size=n) * 4 - 2
    x2 = rng.uniform(size=n) - rng.integers(0, 2, n) * 2 + np.floor(x1) % 2
    return 2.0 * np.stack([x1, x2], axis=1)


def _shuffled(fn: Sampler) -> Sampler:
    """Samplers above lay classes out in blocks; a permutation makes any prefix a fair sample."""
    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        x = fn(n, rng)
        return x[rng.permutation(n)]
    sample.__doc__ = fn.__doc__
    return sample


TARGETS: dict[str, Sampler] = {
    "moons": _shuffled(_moons),
    "circles": _shuffled(_circles),
    "8gaussians": _eight_gaussians,
    "pinwheel": _shuffled(_pinwheel),
    "2spirals": _shuffled(_two_spirals),
    "swissroll": _swissroll,
    "checkerboard": _checkerboard,
}
"""2-D data targets by name: ``TARGETS[name](n, rng)`` -> (n, 2) float64 array."""

ALIASES = {"twomoon": "moons", "twomoons": "moons", "circle": "circles", "8gaussian": "8gaussians",
           "twospirals": "2spirals", "spirals2": "2spirals"}
"""The reference code's names for the same sets."""


def target_name(name: str) -> str:
    """Canonical target name (reference aliases accepted), or a ValueError listing the valid ones."""
    if not isinstance(name, str):
        raise ValueError(f"target: expected a name, got {name!r}")
    key = ALIASES.get(name.lower(), name.lower())
    if key not in TARGETS:
        raise ValueError(f"unknown target {name!r}; choose one of {sorted(TARGETS)}")
    return key


def sample_target(name: str, n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """``n`` points of a target; ``seed`` is an int or a numpy Generator (advanced in place)."""
    fn = TARGETS[target_name(name)]
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"n: need an integer number of samples in [1, {MAX_SAMPLES:,}], got {n!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return fn(int(n), rng)


# --- potentials (Rezende & Mohamed 2015, table 1) ------------------------------------------------

def _w1(z: torch.Tensor) -> torch.Tensor:
    return torch.sin(2 * math.pi * z[:, 0] / 4)


def _w2(z: torch.Tensor) -> torch.Tensor:
    return 3 * torch.exp(-0.5 * ((z[:, 0] - 1) / 0.6) ** 2)


def _w3(z: torch.Tensor) -> torch.Tensor:
    return 3 * torch.sigmoid((z[:, 0] - 1) / 0.3)


def _neg_logsumexp(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """-log(exp(a) + exp(b)), stable far from the modes."""
    return -torch.logaddexp(a, b)


def _check_z(z: torch.Tensor) -> torch.Tensor:
    z = torch.as_tensor(z)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"z: potentials take points of shape (n, 2), got {tuple(z.shape)}")
    return z


def u1(z: torch.Tensor) -> torch.Tensor:
    """Ring with two lobes: 0.5((|z| - 2)/0.4)^2 - log(exp(-0.5((z1-2)/0.6)^2) + exp(-0.5((z1+2)/0.6)^2))."""
    z = _check_z(z)
    ring = 0.5 * ((torch.linalg.vector_norm(z, dim=1) - 2) / 0.4) ** 2
    return ring + _neg_logsumexp(-0.5 * ((z[:, 0] - 2) / 0.6) ** 2, -0.5 * ((z[:, 0] + 2) / 0.6) ** 2)


def u2(z: torch.Tensor) -> torch.Tensor:
    """Sine: 0.5((z2 - w1(z))/0.4)^2 with w1 = sin(2 pi z1 / 4)."""
    z = _check_z(z)
    return 0.5 * ((z[:, 1] - _w1(z)) / 0.4) ** 2


def u3(z: torch.Tensor) -> torch.Tensor:
    """Split sine: -log(exp(-0.5((z2 - w1)/0.35)^2) + exp(-0.5((z2 - w1 + w2)/0.35)^2)),
    w2 = 3 exp(-0.5((z1 - 1)/0.6)^2)."""
    z = _check_z(z)
    d = z[:, 1] - _w1(z)
    return _neg_logsumexp(-0.5 * (d / 0.35) ** 2, -0.5 * ((d + _w2(z)) / 0.35) ** 2)


def u4(z: torch.Tensor) -> torch.Tensor:
    """Sine with a step: -log(exp(-0.5((z2 - w1)/0.4)^2) + exp(-0.5((z2 - w1 + w3)/0.35)^2)),
    w3 = 3 sigmoid((z1 - 1)/0.3)."""
    z = _check_z(z)
    d = z[:, 1] - _w1(z)
    return _neg_logsumexp(-0.5 * (d / 0.4) ** 2, -0.5 * ((d + _w3(z)) / 0.35) ** 2)


POTENTIALS: dict[str, Potential] = {"U1": u1, "U2": u2, "U3": u3, "U4": u4}
"""Rezende-Mohamed potentials by name; the target density is proportional to exp(-U(z))."""


def potential_name(name: str) -> str:
    """Canonical potential name ('u1', 'potential1' accepted), or a ValueError listing the valid ones."""
    if not isinstance(name, str):
        raise ValueError(f"potential: expected a name, got {name!r}")
    key = name.strip().upper().replace("POTENTIAL", "U")
    if key not in POTENTIALS:
        raise ValueError(f"unknown potential {name!r}; choose one of {sorted(POTENTIALS)}")
    return key


def grid_points(resolution: int = 200, box: float = POTENTIAL_BOX) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A square grid over [-box, box]^2: (axis values (R,), the same for y, points (R*R, 2) row-major
    in y then x, so ``values.reshape(R, R)`` is an image with y along the rows)."""
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or not 2 <= resolution <= 4000:
        raise ValueError(f"resolution: need an integer in [2, 4000], got {resolution!r}")
    if not (isinstance(box, (int, float)) and math.isfinite(box) and box > 0):
        raise ValueError(f"box: must be a positive number, got {box!r}")
    axis = np.linspace(-box, box, int(resolution))
    xx, yy = np.meshgrid(axis, axis)
    return axis, axis.copy(), np.stack([xx.ravel(), yy.ravel()], axis=1)


@lru_cache(maxsize=16)
def log_partition(potential: str, box: float = POTENTIAL_BOX, resolution: int = 1601) -> float:
    """log of the integral of exp(-U) over [-box, box]^2 (trapezoid rule, float64).

    U1 decays in every direction, so this is its true log-normaliser (the box holds all but a
    negligible part of the mass). U2-U4 do not decay along z1, so their mass is infinite; this is
    then the normaliser of the target restricted to the box, the convention used for their KL.
    """
    name = potential_name(potential)
    axis, _, pts = grid_points(resolution, box)
    with torch.no_grad():
        u = POTENTIALS[name](torch.as_tensor(pts, dtype=torch.float64)).numpy().reshape(resolution, resolution)
    shift = float(u.min())
    integrand = np.exp(-(u - shift))
    area = np.trapezoid(np.trapezoid(integrand, axis, axis=1), axis)
    return float(math.log(area) - shift)


def density_grid(potential: str, resolution: int = 200, box: float = POTENTIAL_BOX,
                 normalise: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """exp(-U) on a grid: (x axis (R,), y axis (R,), density (R, R) with y along the rows), divided
    by the box's normaliser when ``normalise`` (so it is comparable with a flow's density)."""
    name = potential_name(potential)
    xs, ys, pts = grid_points(resolution, box)
    with torch.no_grad():
        u = POTENTIALS[name](torch.as_tensor(pts, dtype=torch.float64)).numpy()
    log_z = log_partition(name, float(box)) if normalise else 0.0
    return xs, ys, np.exp(-u - log_z).reshape(len(ys), len(xs))
