"""What a trained circuit computes, evaluated on grids: the numbers behind the playground's plots.

Pages and views only draw; every evaluation of a model or a device law lives here so that it is
the same from Python, the CLI and the app.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .datasets import Dataset
from .devices import get_kind
from .model import KirchhoffNet


@dataclass
class Grid:
    """A square grid over a 2-D input plane: axes and the (res*res, 2) points, row-major in y."""

    xs: np.ndarray
    ys: np.ndarray

    @property
    def points(self) -> np.ndarray:
        xx, yy = np.meshgrid(self.xs, self.ys)
        return np.stack([xx.ravel(), yy.ravel()], axis=1)

    def reshape(self, values: np.ndarray) -> np.ndarray:
        """(res*res, ...) -> (len(ys), len(xs), ...)."""
        return values.reshape(len(self.ys), len(self.xs), *values.shape[1:])


def input_grid(data: Dataset | None = None, resolution: int = 50, margin: float = 0.25,
               bounds: tuple[float, float, float, float] | None = None) -> Grid:
    """A grid covering a 2-D dataset (train and test points) with a margin, or explicit bounds."""
    if not 4 <= resolution <= 400:
        raise ValueError(f"resolution: must be in [4, 400], got {resolution}")
    if bounds is None:
        if data is None or data.n_features != 2:
            raise ValueError("a grid needs a 2-D dataset or explicit bounds")
        x = np.concatenate([data.x_train, data.x_test])
        lo, hi = x.min(0), x.max(0)
        pad = margin * (hi - lo).max()
        bounds = (lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad)
    x0, x1, y0, y1 = bounds
    return Grid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))


def _eval(model: KirchhoffNet, points: np.ndarray, final: bool) -> np.ndarray:
    with torch.no_grad():
        x = torch.as_tensor(points, dtype=model.dtype)
        out = model.final_state(x) if final else model(x)
    return out.detach().cpu().double().numpy()


def predict(model: KirchhoffNet, points: np.ndarray, task: str) -> np.ndarray:
    """Class probabilities (softmax of the read-out voltages) or regression outputs per point."""
    out = _eval(model, points, final=False)
    if task == "classification":
        out = np.exp(out - out.max(-1, keepdims=True))
        out /= out.sum(-1, keepdims=True)
    return out


def predict_grid(model: KirchhoffNet, grid: Grid, task: str) -> np.ndarray:
    """``predict`` over a grid, shape (len(ys), len(xs), n_outputs)."""
    return grid.reshape(predict(model, grid.points, task))


def node_voltages_grid(model: KirchhoffNet, grid: Grid) -> np.ndarray:
    """Every node's voltage at T over the input plane, shape (len(ys), len(xs), nodes of the last slice)."""
    return grid.reshape(_eval(model, grid.points, final=True))


def iv_curve(kind: str, params: list[float], dv: np.ndarray, vd: float = 0.0) -> np.ndarray:
    """Device current against the voltage drop v_s - v_d (v_d held at ``vd``)."""
    k = get_kind(kind)
    p = torch.as_tensor(np.asarray(params, dtype=np.float64)[: k.n_params]).reshape(1, -1)
    vd_t = torch.full((len(dv), 1), float(vd), dtype=torch.float64)
    vs_t = vd_t + torch.as_tensor(np.asarray(dv, dtype=np.float64)).reshape(-1, 1)
    return k.current(vs_t, vd_t, p).reshape(-1).numpy()


def iv_surface(kind: str, params: list[float], vs: np.ndarray, vd: np.ndarray) -> np.ndarray:
    """Device current I(v_s, v_d) on a grid, shape (len(vd), len(vs))."""
    k = get_kind(kind)
    p = torch.as_tensor(np.asarray(params, dtype=np.float64)[: k.n_params]).reshape(1, -1)
    s, d = np.meshgrid(vs, vd)
    i = k.current(torch.as_tensor(s.reshape(-1, 1)), torch.as_tensor(d.reshape(-1, 1)), p)
    return i.reshape(s.shape).numpy()


# --- what the training page shows live -----------------------------------------------------------

def input_line(data: Dataset, resolution: int = 200, margin: float = 0.1) -> np.ndarray:
    """Evenly spaced inputs covering a 1-D dataset (train and test) with a margin, shape (res, 1)."""
    if not 2 <= resolution <= 10_000:
        raise ValueError(f"resolution: must be in [2, 10000], got {resolution}")
    if data.n_features != 1:
        raise ValueError(f"a line needs a 1-D dataset, {data.name!r} has {data.n_features} features")
    x = np.concatenate([data.x_train[:, 0], data.x_test[:, 0]])
    lo, hi = float(x.min()), float(x.max())
    pad = margin * (hi - lo)
    return np.linspace(lo - pad, hi + pad, resolution).reshape(-1, 1)


def snapshot(model: KirchhoffNet, points: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray]:
    """(``predict``, every node's voltage at T) for the same inputs from a single solve."""
    volts = _eval(model, points, final=True)
    out = volts[..., [n - 1 for n in model.outputs]]
    if task == "classification":
        out = np.exp(out - out.max(-1, keepdims=True))
        out /= out.sum(-1, keepdims=True)
    return out, volts


def snapshot_grid(model: KirchhoffNet, grid: Grid, task: str) -> tuple[np.ndarray, np.ndarray]:
    """``snapshot`` over a grid: (len(ys), len(xs), n_outputs) and (len(ys), len(xs), nodes)."""
    pred, volts = snapshot(model, grid.points, task)
    return grid.reshape(pred), grid.reshape(volts)


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimiser steps in one epoch (``batch_size=0`` is full batch)."""
    if n_train < 1:
        raise ValueError(f"n_train: need at least one training sample, got {n_train}")
    bs = batch_size or n_train
    return -(-n_train // bs)


def history_series(history: list, steps: int) -> dict[str, np.ndarray]:
    """EpochRecords as columns for plotting; NFE is per optimiser step (``steps`` per epoch)."""
    if steps < 1:
        raise ValueError(f"steps: must be >= 1, got {steps}")
    cols = ("epoch", "train_loss", "test_loss", "train_metric", "test_metric", "nfe_forward",
            "nfe_backward", "rejected_steps", "max_nfe_per_solve", "wall_time", "lr")
    out = {c: np.array([getattr(r, c) for r in history], dtype=np.float64) for c in cols}
    out["nfe_forward_per_step"] = out["nfe_forward"] / steps
    out["nfe_backward_per_step"] = out["nfe_backward"] / steps
    return out


@dataclass
class SolverHealth:
    """The solver-health panel's numbers for the latest epoch, and a warning when work runs high."""

    nfe_forward_per_step: float
    nfe_backward_per_step: float
    rejected_steps: int
    max_nfe_per_solve: int
    cap: int
    cap_fraction: float
    warning: str | None


def solver_health(record, steps: int, cap: int, warn_fraction: float = 0.5,
                  reject_fraction: float = 0.2) -> SolverHealth:
    """Summarise a step record (an epoch's, or one optimiser step's) against the solver's ``max_nfe``
    cap: warn above ``warn_fraction`` of it, or when the adaptive steps thrown away exceed
    ``reject_fraction`` of the forward evaluations (both signs of a circuit getting stiff)."""
    if cap < 1 or steps < 1:
        raise ValueError(f"cap and steps must be >= 1, got cap={cap}, steps={steps}")
    frac = record.max_nfe_per_solve / cap
    warning = None
    if frac > warn_fraction:
        warning = (f"the largest single solve used {record.max_nfe_per_solve} of the {cap} evaluations "
                   f"allowed ({frac:.0%}); the circuit is getting stiff — lower the learning rate or the "
                   "read-out time, loosen the tolerance, or use a fixed-step solver before it hits the cap")
    elif record.rejected_steps > reject_fraction * max(record.nfe_forward, 1):
        warning = (f"the solver threw away {record.rejected_steps} steps for {record.nfe_forward} forward "
                   "evaluations; the circuit is getting stiff — lower the learning rate or loosen the tolerance")
    return SolverHealth(record.nfe_forward / steps, record.nfe_backward / steps, int(record.rejected_steps),
                        int(record.max_nfe_per_solve), int(cap), float(frac), warning)


def points_in_box(x_range: tuple[float, float], y_range: tuple[float, float], n: int = 10, seed: int = 0,
                  decimals: int = 3) -> np.ndarray:
    """``n`` seeded uniform points inside an axis-aligned box (corners in any order), shape (n, 2).

    The app uses it to turn a box selection on the drawing canvas into user points.
    """
    if not 1 <= n <= 10_000:
        raise ValueError(f"n: must be in [1, 10000], got {n}")
    (x0, x1), (y0, y1) = sorted(map(float, x_range)), sorted(map(float, y_range))
    if not all(np.isfinite([x0, x1, y0, y1])):
        raise ValueError(f"box corners must be finite, got x={x_range}, y={y_range}")
    rng = np.random.default_rng(seed)
    return np.round(np.stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)], axis=1), decimals)


@dataclass
class NodeBalance:
    """Kirchhoff's current law at one node for one state of its slice: every device at the node with
    its current (src → dst) and its sign (+1 flows in, the node is its dst; −1 flows out), and C dv/dt
    from the model's ODE right-hand side, which the signed currents add up to."""

    node: int
    voltages: np.ndarray  # every node of the slice, volts
    devices: np.ndarray  # indices of the slice's devices that touch the node
    currents: np.ndarray  # their currents, src -> dst
    signs: np.ndarray
    capacitance: float
    c_dvdt: float  # C dv/dt at the node, from the right-hand side the solver integrates
    residual: float  # model.kcl_residual at the node: C dv/dt - (currents in - currents out)

    @property
    def net(self) -> float:
        """Currents in minus currents out."""
        return float((self.signs * self.currents).sum())


def node_balance(model: KirchhoffNet, voltages: np.ndarray, slice_index: int, node: int) -> NodeBalance:
    """The current law of ``node`` at the slice state ``voltages`` (one value per node of the slice,
    e.g. ``trajectories.slice_voltages``), with the model's own ``currents`` and ``kcl_residual``."""
    circuit = model.circuit
    width = circuit.width(slice_index)
    if not 1 <= node <= width:
        raise ValueError(f"node: slice {slice_index} has nodes 1..{width}, got {node}")
    v = np.asarray(voltages, dtype=np.float64).reshape(-1)
    if v.size != width or not np.isfinite(v).all():
        raise ValueError(f"voltages: need {width} finite values (one per node of slice {slice_index})")
    s = circuit.slices[slice_index]
    state = torch.as_tensor(v, dtype=model.dtype).unsqueeze(0)
    dyn = model.slices[slice_index]
    with torch.no_grad():
        currents = model.currents(state, slice_index)[0].cpu().double().numpy()
        residual = float(model.kcl_residual(state, slice_index)[0, node - 1])
        c_dvdt = float((dyn(torch.tensor(0.0), state) / dyn.inv_c)[0, node - 1])
    touch = np.flatnonzero((s.src == node) | (s.dst == node))
    return NodeBalance(node, v, touch, currents[touch], np.where(s.dst[touch] == node, 1.0, -1.0),
                       float(circuit.capacitances(width)[node - 1]), c_dvdt, residual)
