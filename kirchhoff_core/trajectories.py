"""How a circuit computes over time: node voltages, device currents and read-outs along the transient.

A KirchhoffNet's output is its state at one instant T, but the whole transient is there to look at:
which nodes move first, when the winning class takes the lead, what the accuracy would be if the
chip were read out earlier or later. This module turns the model's solves (``KirchhoffNet.segments``
and ``KirchhoffNet.trajectory``; no solver code of its own) into plain numpy arrays for the app, the
CLI and notebooks, with every amount of work bounded so a big circuit cannot freeze a page.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .analysis import Grid
from .datasets import Dataset
from .model import KirchhoffNet
from .train import task_loss, task_metric

MAX_POINTS_PER_SLICE = 1000
"""Upper limit of ``points_per_slice`` in :func:`compute_trajectory`."""
MAX_TRAJECTORY_VALUES = 2_000_000
"""Points x nodes of one trajectory; more points per slice are thinned to stay below it."""
MAX_CURRENT_VALUES = 2_000_000
"""Points x devices; above it a trajectory leaves out the device currents (and says so)."""
MAX_TIMES = 200
"""Read-out times in one sweep (and frames in one animation)."""
MAX_BATCH_VALUES = 20_000_000
"""Times x samples x nodes of one batched solve (sweeps, flows, boundaries over time)."""
MAX_ABS_INPUT = 1000.0
"""Input voltages beyond +-this many volts are refused: no circuit of the playground means them."""


# --- inputs --------------------------------------------------------------------------------------

def check_input(x: Sequence[float] | np.ndarray, n_inputs: int, limit: float = MAX_ABS_INPUT) -> np.ndarray:
    """One input vector as float64, or a ValueError naming the coordinate that cannot be used."""
    try:
        arr = np.asarray(x, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"input: expected {n_inputs} number(s), got {x!r}") from None
    if arr.size != n_inputs:
        raise ValueError(f"input: the circuit has {n_inputs} input node(s), so give {n_inputs} value(s); "
                         f"got {arr.size}")
    for i, v in enumerate(arr.tolist(), start=1):
        if not math.isfinite(v):
            raise ValueError(f"x{i}: must be a finite voltage, got {v!r}")
        if abs(v) > limit:
            raise ValueError(f"x{i}: {v:g} V is outside the accepted range of ±{limit:g} V")
    return arr


def slice_voltages(model: KirchhoffNet, x: Sequence[float] | np.ndarray, t: float, slice_index: int = 0) -> np.ndarray:
    """The voltages of slice ``slice_index``'s nodes at time ``t`` for one input ``x``, from the model's
    ``trajectory`` (what ``netview.network_view(..., voltages=...)`` colours by and the Learn page
    plugs into a node's current law). ``t`` must lie in that slice (its end included; a later
    slice's start is the earlier slice's end)."""
    bounds = model.boundaries
    if not 0 <= slice_index < len(model.slices):
        raise ValueError(f"slice_index: the circuit has slices 0..{len(model.slices) - 1}, got {slice_index}")
    t0, t1 = bounds[slice_index], bounds[slice_index + 1]
    if not (np.isfinite(t) and (t0 < t or (slice_index == 0 and t == t0)) and t <= t1):
        where = f"[{t0:g}, {t1:g}]" if slice_index == 0 else f"({t0:g}, {t1:g}]"
        raise ValueError(f"time: slice {slice_index} runs over t in {where}, got {t:g}")
    x = check_input(x, len(model.inputs))
    with torch.no_grad():
        v = model.trajectory(torch.as_tensor(x.reshape(1, -1), dtype=model.dtype), [t])
    return v[0, 0, : model.circuit.width(slice_index)].cpu().double().numpy()


def _check_times(times: Sequence[float] | np.ndarray, t_end: float) -> np.ndarray:
    arr = np.asarray(times, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError("times: give at least one read-out time")
    if arr.size > MAX_TIMES:
        raise ValueError(f"times: at most {MAX_TIMES} read-out times, got {arr.size}")
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > t_end * (1 + 1e-9):
        raise ValueError(f"times: must lie in [0, {t_end:g}] (the read-out time T), got "
                         f"{np.nanmin(arr):g}..{np.nanmax(arr):g}")
    return np.clip(arr, 0.0, t_end)


def frame_times(t_end: float, frames: int) -> np.ndarray:
    """``frames`` evenly spaced instants from 0 to T (animation frames, read-out sweeps)."""
    if not (isinstance(frames, (int, np.integer)) and 2 <= frames <= MAX_TIMES):
        raise ValueError(f"frames: must be an integer in [2, {MAX_TIMES}], got {frames!r}")
    if not (math.isfinite(t_end) and t_end > 0):
        raise ValueError(f"t_end: must be a positive time, got {t_end!r}")
    return np.linspace(0.0, float(t_end), int(frames))


# --- one input's trajectory ----------------------------------------------------------------------

@dataclass
class Trajectory:
    """One input's transient across all slices.

    ``times`` are model time units, increasing; a slice boundary appears twice, as the end of the
    earlier slice and as the (resized) start of the next, so a jump in the state is visible rather
    than smoothed over. ``voltages`` covers nodes 1..max width, NaN where a point's slice lacks the
    node. ``currents[l]`` holds slice l's device currents (src -> dst, circuit order) at that slice's
    points, or is None when there were too many to keep (see ``notes``).
    """

    x: np.ndarray
    times: np.ndarray
    slice_index: np.ndarray
    voltages: np.ndarray
    currents: list[np.ndarray] | None
    devices: list[tuple[np.ndarray, np.ndarray]]  # per slice (src, dst)
    boundaries: list[float]
    inputs: list[int]
    outputs: list[int]
    capacitance: np.ndarray  # per node 1..max width
    notes: list[str] = field(default_factory=list)

    @property
    def num_points(self) -> int:
        return len(self.times)

    @property
    def t_end(self) -> float:
        return self.boundaries[-1]

    @property
    def readout(self) -> np.ndarray:
        """Read-out node voltages over time, (points, outputs)."""
        return self.voltages[:, [n - 1 for n in self.outputs]]

    def slice_points(self, slice_index: int) -> np.ndarray:
        """Indices of the points that belong to one slice."""
        return np.flatnonzero(self.slice_index == slice_index)

    def indices_at(self, times: Sequence[float] | np.ndarray) -> np.ndarray:
        """The stored point nearest to each time; at a boundary, the end of the earlier slice
        (what a read-out at that instant samples, as in ``KirchhoffNet.trajectory``)."""
        t = np.asarray(times, dtype=np.float64).reshape(-1)
        right = np.clip(np.searchsorted(self.times, t, side="left"), 0, self.num_points - 1)
        left = np.clip(right - 1, 0, self.num_points - 1)
        closer_left = np.abs(self.times[left] - t) < np.abs(self.times[right] - t)
        return np.where(closer_left, left, right)

    def device_currents_at(self, index: int) -> np.ndarray | None:
        """Device currents of the point's slice at point ``index`` (None without currents)."""
        if self.currents is None:
            return None
        s = int(self.slice_index[index])
        return self.currents[s][index - int(self.slice_points(s)[0])]


def compute_trajectory(model: KirchhoffNet, x: Sequence[float] | np.ndarray, points_per_slice: int = 100,
                       currents: bool = True) -> Trajectory:
    """Simulate one input and keep every node's voltage (and every device's current) along the way.

    Work is bounded: ``points_per_slice`` is thinned when slices x points x nodes would pass
    MAX_TRAJECTORY_VALUES, currents are left out above MAX_CURRENT_VALUES, and the solves obey the
    model's ``max_nfe`` / ``timeout_s`` (a SolverError says what went wrong).
    """
    if not (isinstance(points_per_slice, (int, np.integer)) and 1 <= points_per_slice <= MAX_POINTS_PER_SLICE):
        raise ValueError(f"points_per_slice: must be an integer in [1, {MAX_POINTS_PER_SLICE}], "
                         f"got {points_per_slice!r}")
    xv = check_input(x, len(model.inputs))
    circuit = model.circuit
    n_slices = len(model.slices)
    width = circuit.max_width
    notes: list[str] = []
    fit = MAX_TRAJECTORY_VALUES // (n_slices * width) - 1
    if fit < points_per_slice:
        if fit < 1:
            raise ValueError(f"the circuit is too big to keep a trajectory ({n_slices} slices x {width} nodes)")
        notes.append(f"{points_per_slice} points per slice would keep too many values for "
                     f"{n_slices} slice(s) x {width} nodes; using {fit}.")
        points_per_slice = int(fit)
    with torch.no_grad():
        segs = model.segments(torch.as_tensor(xv, dtype=model.dtype).unsqueeze(0), int(points_per_slice))
    bounds = model.boundaries
    devices = [(s.src.copy(), s.dst.copy()) for s in circuit.slices]
    keep_currents = currents and sum(len(ts) * s.num_devices for (ts, _), s in zip(segs, circuit.slices)) \
        <= MAX_CURRENT_VALUES
    if currents and not keep_currents:
        notes.append(f"device currents left out: {circuit.num_devices:,} devices x {points_per_slice + 1} "
                     "points would be too many to keep.")
    times, index, volts, amps = [], [], [], []
    for i, (ts, sol) in enumerate(segs):
        v = sol[:, 0, :]
        block = np.full((len(ts), width), np.nan)
        block[:, : v.shape[1]] = v.detach().cpu().double().numpy()
        times.append(bounds[i] + ts)
        index.append(np.full(len(ts), i))
        volts.append(block)
        if keep_currents:
            with torch.no_grad():
                amps.append(model.currents(v, i).detach().cpu().double().numpy())
    return Trajectory(
        x=xv, times=np.concatenate(times), slice_index=np.concatenate(index), voltages=np.concatenate(volts),
        currents=amps if keep_currents else None, devices=devices, boundaries=list(bounds),
        inputs=list(model.inputs), outputs=list(model.outputs),
        capacitance=np.asarray(circuit.capacitances(width), dtype=np.float64), notes=notes)


# --- currents --------------------------------------------------------------------------------------

def net_node_currents(src: np.ndarray, dst: np.ndarray, currents: np.ndarray, width: int) -> np.ndarray:
    """Net current into each node 1..width (in at dst, out at src), i.e. C dv/dt by Kirchhoff's
    current law; ``currents`` is (..., devices)."""
    src, dst = np.asarray(src), np.asarray(dst)
    inc = np.zeros((len(src), width + 1))
    np.add.at(inc, (np.arange(len(src)), dst), 1.0)
    np.add.at(inc, (np.arange(len(src)), src), -1.0)
    return (np.asarray(currents, dtype=np.float64) @ inc)[..., 1:]


def pair_currents(src: np.ndarray, dst: np.ndarray, currents: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Net current per unordered node pair: (a, b, I) with a < b and I > 0 flowing a -> b.

    Parallel devices and the devices of the opposite direction are summed, which is what a
    drawing with one line per pair can show; ``currents`` may carry leading (time) axes.
    """
    src, dst = np.asarray(src), np.asarray(dst)
    i = np.asarray(currents, dtype=np.float64)
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    sign = np.where(src < dst, 1.0, -1.0)
    base = int(hi.max()) + 1 if len(hi) else 1
    uniq, inverse = np.unique(lo * base + hi, return_inverse=True)
    onehot = np.zeros((len(src), len(uniq)))
    onehot[np.arange(len(src)), inverse] = sign
    return uniq // base, uniq % base, i @ onehot


# --- read-outs over time ---------------------------------------------------------------------------

def softmax_over_time(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (classes) at every time; rows with NaN stay NaN."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def winner_time(values: np.ndarray, times: Sequence[float] | np.ndarray) -> tuple[int, float]:
    """(final winner, first time after which it stays strictly ahead) for logits or probabilities over time.

    A tie is not a lead (at t = 0 every read-out node usually sits at 0 V), and rows with NaN
    (read-out nodes absent in an early slice) count as not won.
    """
    v = np.asarray(values, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    if v.ndim != 2 or v.shape[0] != len(t) or v.shape[0] == 0:
        raise ValueError(f"values: expected (len(times), classes), got {v.shape} for {len(t)} time(s)")
    if not np.isfinite(v[-1]).all():
        raise ValueError("values: the last read-out is not finite, so there is no winner")
    winner = int(np.argmax(v[-1]))
    ok = np.isfinite(v).all(-1)
    others = np.delete(np.where(ok[:, None], v, np.inf), winner, axis=-1)
    lead = v[:, winner] > (others.max(-1) if others.shape[-1] else -np.inf)
    wins = ok & lead
    losing = np.flatnonzero(~wins)
    return winner, float(t[0] if len(losing) == 0 else t[losing[-1] + 1])


def batch_states(model: KirchhoffNet, x: np.ndarray, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Every node's voltage for many inputs at many times, (times, samples, max width), NaN where
    a slice lacks a node; refuses batches above MAX_BATCH_VALUES."""
    t = _check_times(times, model.t_end)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(model.inputs):
        raise ValueError(f"x: expected (samples, {len(model.inputs)}) inputs, got shape {x.shape}")
    size = len(t) * len(x) * model.circuit.max_width
    if size > MAX_BATCH_VALUES:
        raise ValueError(f"{len(t)} times x {len(x)} samples x {model.circuit.max_width} nodes is too much work "
                         f"for one view; use fewer times, samples or a coarser grid")
    with torch.no_grad():
        out = model.trajectory(torch.as_tensor(x, dtype=model.dtype), torch.as_tensor(t, dtype=torch.float64))
    return out.detach().cpu().double().numpy()


@dataclass
class ReadoutSweep:
    """The task metric and loss if the read-out were sampled at each time."""

    times: np.ndarray
    metric: np.ndarray  # accuracy or R^2; NaN where the read-out nodes do not exist yet
    loss: np.ndarray
    metric_name: str  # "accuracy" or "r2"

    @property
    def best(self) -> tuple[float, float]:
        """(time, metric) of the best read-out time (earliest among ties)."""
        if not np.isfinite(self.metric).any():
            return float("nan"), float("nan")
        i = int(np.nanargmax(self.metric))
        return float(self.times[i]), float(self.metric[i])


def sweep_from_states(states: np.ndarray, times: np.ndarray, outputs: Sequence[int], y: np.ndarray,
                      task: str) -> ReadoutSweep:
    """``ReadoutSweep`` from ``batch_states`` output and the true targets."""
    out = states[..., [n - 1 for n in outputs]]
    y_t = torch.as_tensor(np.asarray(y), dtype=torch.long if task == "classification" else torch.float64)
    metric, loss = np.full(len(times), np.nan), np.full(len(times), np.nan)
    for k in range(len(times)):
        if np.isfinite(out[k]).all():
            o = torch.as_tensor(out[k], dtype=torch.float64)
            metric[k] = task_metric(task, o, y_t)
            loss[k] = float(task_loss(task, o, y_t))
    return ReadoutSweep(np.asarray(times, dtype=np.float64), metric, loss,
                        "accuracy" if task == "classification" else "r2")


def metric_vs_readout_time(model: KirchhoffNet, data: Dataset, times: Sequence[float] | np.ndarray,
                           split: str = "test") -> ReadoutSweep:
    """Accuracy (or R^2) and loss on a split if the read-out nodes were sampled at each time."""
    if split not in ("train", "test"):
        raise ValueError(f"split: choose 'train' or 'test', got {split!r}")
    x, y = (data.x_test, data.y_test) if split == "test" else (data.x_train, data.y_train)
    t = _check_times(times, model.t_end)
    return sweep_from_states(batch_states(model, x, t), t, model.outputs, y, data.task)


def boundary_at_times(model: KirchhoffNet, grid: Grid, times: Sequence[float] | np.ndarray,
                      task: str = "classification") -> np.ndarray:
    """What the circuit would output over a 2-D input grid if read at each time:
    (times, len(ys), len(xs), outputs), class probabilities (softmax) or raw read-out voltages."""
    if task not in ("classification", "regression"):
        raise ValueError(f"task: choose 'classification' or 'regression', got {task!r}")
    if len(model.inputs) != 2:
        raise ValueError(f"a decision boundary needs a circuit with 2 input nodes, this one has {len(model.inputs)}")
    t = _check_times(times, model.t_end)
    out = batch_states(model, grid.points, t)[..., [n - 1 for n in model.outputs]]
    if task == "classification":
        out = softmax_over_time(out)
    return out.reshape(len(t), len(grid.ys), len(grid.xs), -1)


# --- export ----------------------------------------------------------------------------------------

def to_csv(traj: Trajectory, currents: bool = False) -> str:
    """The trajectory as CSV: columns t, slice, v1..vN (empty where a slice lacks the node) and,
    with ``currents``, one column per device of every slice, ``i_s{slice}_d{device}_{src}to{dst}``,
    filled on that slice's rows only."""
    if currents and traj.currents is None:
        raise ValueError("currents: this trajectory was computed without device currents")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = ["t", "slice"] + [f"v{n}" for n in range(1, traj.voltages.shape[1] + 1)]
    offsets = [0]
    if currents:
        for s, (src, dst) in enumerate(traj.devices):
            header += [f"i_s{s}_d{k}_{a}to{b}" for k, (a, b) in enumerate(zip(src.tolist(), dst.tolist()))]
            offsets.append(offsets[-1] + len(src))
    w.writerow(header)
    n_cur = offsets[-1]
    for p in range(traj.num_points):
        row = [repr(float(traj.times[p])), int(traj.slice_index[p])]
        row += ["" if math.isnan(v) else repr(v) for v in traj.voltages[p].tolist()]
        if currents:
            cells = [""] * n_cur
            s = int(traj.slice_index[p])
            vals = traj.device_currents_at(p)
            cells[offsets[s]: offsets[s + 1]] = [repr(v) for v in vals.tolist()]
            row += cells
        w.writerow(row)
    return buf.getvalue()
