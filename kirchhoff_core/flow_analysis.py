"""What a generative circuit computes on a 2-D grid: densities, frames of the flow, vector fields.

The Generate page draws these arrays; they live here (not in the app) so they are plain, tested
functions of a ``CircuitFlow``. Every function bounds its work (grid resolution, frame and point
counts) and evaluates in chunks, so a careless argument cannot freeze a server process.

- ``plot_box``: a square window that holds a target's mass (data sets differ in scale).
- ``target_density_grid``: the target's exact density on the grid: exp(-U)/Z for a potential, the
  sampler's own density (``target_density.target_log_density``) for a data set.
- ``log_density_grid``: the model's exact log p_t on the grid (the flow's log-likelihood, from the
  circuit's O(E) Jacobian trace).
- ``density_frames`` / ``flow_frames``: log p_t on the grid and the positions of moving samples at
  a few times t in [0, T], for an animation from N(0, I) to the model.
- ``vector_field`` / ``slice_at``: dv/dt of one slice on the grid, and which slice runs at time t.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from .densities import POTENTIAL_BOX, density_grid, grid_points, potential_name, sample_target, target_name
from .generative import TASKS, CircuitFlow
from .solvers import work_budget
from .target_density import target_log_density

MAX_RESOLUTION = 200
MAX_FRAMES = 60
MAX_POINTS = 20_000


def _check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name}: need an integer in [{low}, {high:,}], got {value!r}")
    return int(value)


def _check_box(box) -> float:
    if isinstance(box, bool) or not isinstance(box, (int, float, np.floating)) or not (math.isfinite(box) and box > 0):
        raise ValueError(f"box: must be a positive number, got {box!r}")
    return float(box)


def _canonical(task: str, target: str) -> str:
    if task not in TASKS:
        raise ValueError(f"task: choose one of {list(TASKS)}, got {task!r}")
    return target_name(target) if task == "generate" else potential_name(target)


def plot_box(task: str, target: str, seed: int = 0) -> float:
    """Half-width of a square window around the origin that holds (nearly) all of a target.

    Potentials use the box they are normalised on (4). For a data set: the 99.5th percentile of
    |coordinate| over 20,000 samples, plus 15 %, rounded up to a multiple of 0.5 (at least 1.5).
    """
    name = _canonical(task, target)
    if task == "density":
        return POTENTIAL_BOX
    x = sample_target(name, 20_000, seed)
    reach = float(np.quantile(np.abs(x), 0.995)) * 1.15
    return max(1.5, math.ceil(reach * 2) / 2)


def target_density_grid(task: str, target: str, resolution: int = 40, box: float | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The target's density on the grid of ``grid_points(resolution, box)``: (xs, ys, p (R, R)).

    Potentials: exp(-U) over its normaliser on the potential box. Data sets: the sampler's exact
    density (``target_log_density``), so the picture has no sampling noise or binning; it
    integrates to the mass inside the window (~1 for the default ``plot_box``).
    """
    name = _canonical(task, target)
    resolution = _check_int("resolution", resolution, 2, MAX_RESOLUTION)
    box = plot_box(task, name) if box is None else _check_box(box)
    if task == "density":
        return density_grid(name, resolution, box)
    xs, ys, pts = grid_points(resolution, box)
    return xs, ys, np.exp(target_log_density(name, pts)).reshape(len(ys), len(xs))


def _chunked_log_prob(flow: CircuitFlow, pts: np.ndarray, t: float | None, chunk: int) -> np.ndarray:
    out = []
    with torch.no_grad(), work_budget(flow.solver, "this density grid"):  # all chunks share one budget
        for i in range(0, len(pts), chunk):
            out.append(flow.log_prob(pts[i: i + chunk], t=t).double().cpu().numpy())
    return np.concatenate(out)


def log_density_grid(flow: CircuitFlow, resolution: int = 40, box: float = 4.0, t: float | None = None,
                     chunk: int = 4096) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's exact log p_t (default t = T) on the grid: (xs, ys, log p (R, R), y along rows).

    Each grid point is integrated back to t = 0 with its log-determinant; SolverError propagates
    (the page shows it)."""
    resolution = _check_int("resolution", resolution, 2, MAX_RESOLUTION)
    xs, ys, pts = grid_points(resolution, _check_box(box))
    logp = _chunked_log_prob(flow, pts, t, _check_int("chunk", chunk, 1, 1_000_000))
    return xs, ys, logp.reshape(len(ys), len(xs))


def frame_times(flow: CircuitFlow, n_frames: int) -> np.ndarray:
    """``n_frames`` evenly spaced times from 0 to T (both ends included)."""
    n_frames = _check_int("n_frames", n_frames, 2, MAX_FRAMES)
    return np.linspace(0.0, flow.t_end, n_frames)


def density_frames(flow: CircuitFlow, times: Sequence[float], resolution: int = 32, box: float = 4.0,
                   chunk: int = 4096) -> np.ndarray:
    """log p_t on the grid for each time: (len(times), R, R). Frame t costs one solve from t back
    to 0, so the whole set costs about len(times) / 2 model-density grids."""
    ts = np.asarray(times, dtype=np.float64).reshape(-1)
    if not 1 <= len(ts) <= MAX_FRAMES:
        raise ValueError(f"times: need 1 to {MAX_FRAMES} frame times, got {len(ts)}")
    resolution = _check_int("resolution", resolution, 2, MAX_RESOLUTION)
    _, _, pts = grid_points(resolution, _check_box(box))
    with work_budget(flow.solver, "these density frames"):
        frames = [_chunked_log_prob(flow, pts, float(t), chunk) for t in ts]
    return np.stack(frames).reshape(len(ts), resolution, resolution)


def flow_frames(flow: CircuitFlow, times: Sequence[float], n_points: int = 500, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """Seeded Gaussian samples carried through the circuit: positions (len(times), n, 2) and each
    point's log-density under the flow at that time, (len(times), n)."""
    n_points = _check_int("n_points", n_points, 1, MAX_POINTS)
    gen = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n_points, flow.dim, generator=gen, dtype=flow.dtype)
    with torch.no_grad():
        x, logp = flow.flow(z, torch.as_tensor(np.asarray(times, dtype=np.float64)))
    return x.double().cpu().numpy(), logp.double().cpu().numpy()


def slice_at(flow: CircuitFlow, t: float) -> int:
    """Index of the slice running at time t (a boundary belongs to the slice it starts)."""
    t = float(t)
    bounds = flow.boundaries
    if not (math.isfinite(t) and 0.0 <= t <= bounds[-1] + 1e-12):
        raise ValueError(f"t: must lie in [0, {bounds[-1]:g}], got {t!r}")
    return min(int(np.searchsorted(bounds, t, side="right")) - 1, len(bounds) - 2)


def vector_field(flow: CircuitFlow, slice_index: int, resolution: int = 20, box: float = 4.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """dv/dt of one slice at the grid's voltages: (xs, ys, dv1/dt (R, R), dv2/dt (R, R)).

    The circuit is autonomous within a slice, so this field is what moves every sample while that
    slice runs."""
    n = len(flow.net.slices)
    slice_index = _check_int("slice_index", slice_index, 0, n - 1)
    resolution = _check_int("resolution", resolution, 2, MAX_RESOLUTION)
    xs, ys, pts = grid_points(resolution, _check_box(box))
    dyn = flow.net.slices[slice_index]
    with torch.no_grad():
        dv = dyn(torch.tensor(0.0), torch.as_tensor(pts, dtype=flow.dtype)).double().cpu().numpy()
    shape = (len(ys), len(xs))
    return xs, ys, dv[:, 0].reshape(shape), dv[:, 1].reshape(shape)
