"""What a page draws of a live trainer, computed next to the trainer.

The playground trains each session in a worker process (``workers``); the numbers its pages draw
(the decision boundary and every node's voltage over the input plane, a flow's density and samples)
are computed there too, so the server only draws pictures. The same functions run in-process when
training does (``KIRCHHOFF_WORKERS=0``). All are module-level, so ``functools.partial`` of them
pickles: ``build_*`` make the trainer in the worker, ``*_view`` are the snapshot's drawing, the rest
are the rare reads and changes a page asks for with ``SessionWorker.call``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import analysis
from . import flow_analysis as fa
from .circuit import Circuit
from .datasets import Dataset
from .densities import grid_points
from .generative import CircuitFlow, GenerativeConfig, GenerativeTrainer, gaussian_baseline_nll
from .io import TrainingRecord
from .model import KirchhoffNet
from .solvers import SolverConfig, SolverError
from .train import TrainConfig, Trainer

ERRORS = (SolverError, ValueError, RuntimeError, ArithmeticError)
"""What evaluating a (badly trained or exploding) model may raise: the view carries the message."""


def build_supervised(circuit: Circuit, data: Dataset, train: TrainConfig, solver: SolverConfig) -> Trainer:
    """The Train page's trainer (raises ValueError when the circuit does not fit the data)."""
    return Trainer(KirchhoffNet(circuit, solver), data, train)


def build_flow(circuit: Circuit, solver: SolverConfig, config: GenerativeConfig) -> GenerativeTrainer:
    """The Generate page's trainer."""
    return GenerativeTrainer(CircuitFlow(circuit, solver), config)


# --- the drawings --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SupervisedView:
    """A supervised trainer at ``step``: its circuit with the parameters so far and, for 1-D or 2-D
    inputs, the prediction and every node's voltage at T over the input line or plane (``kind``
    "line" or "plane"; None for more inputs, or with ``error`` when the solve failed)."""

    step: int
    circuit: Circuit
    kind: str | None = None
    xs: np.ndarray | None = None
    ys: np.ndarray | None = None
    pred: np.ndarray | None = None
    volts: np.ndarray | None = None
    error: str | None = None


def supervised_view(trainer: Trainer, resolution: int = 40) -> SupervisedView:
    model, data = trainer.model, trainer.data
    base = dict(step=trainer.steps_done, circuit=model.to_circuit())
    try:
        if data.n_features == 2:
            grid = analysis.input_grid(data, resolution)
            pred, volts = analysis.snapshot_grid(model, grid, data.task)
            return SupervisedView(**base, kind="plane", xs=grid.xs, ys=grid.ys, pred=pred, volts=volts)
        if data.n_features == 1:
            xs = analysis.input_line(data, 200)
            pred, volts = analysis.snapshot(model, xs, data.task)
            return SupervisedView(**base, kind="line", xs=xs, pred=pred, volts=volts)
    except ERRORS as e:
        return SupervisedView(**base, error=str(e))
    return SupervisedView(**base)


@dataclass(frozen=True)
class FlowView:
    """A generative trainer at ``step``: its circuit, the model's log-density on a grid and samples
    (or ``error``), the held-out metric when it was evaluated for this drawing (at step 0; else None,
    or ``held_out_error``), and the run's fixed facts the page shows."""

    step: int
    circuit: Circuit
    metric: str
    log_z: float
    baseline_nll: float | None  # a Gaussian fitted to the held-out set (generate task)
    xs: np.ndarray | None = None
    ys: np.ndarray | None = None
    logp: np.ndarray | None = None
    samples: np.ndarray | None = None
    error: str | None = None
    held_out: float | None = None
    held_out_error: str | None = None


def flow_view(trainer: GenerativeTrainer, resolution: int = 40, n_samples: int = 800, box: float = 4.0) -> FlowView:
    flow = trainer.flow
    out: dict[str, Any] = dict(step=trainer.steps_done, circuit=flow.to_circuit(), metric=trainer.metric,
                               log_z=float(trainer.log_z),
                               baseline_nll=gaussian_baseline_nll(trainer.x_test) if trainer.metric == "nll" else None)
    try:
        out["xs"], out["ys"], out["logp"] = fa.log_density_grid(flow, resolution, box)
        with torch.no_grad():
            out["samples"] = flow.sample(n_samples, seed=0).double().cpu().numpy()
    except ERRORS as e:
        out["error"] = str(e)
    if trainer.steps_done == 0:  # the untrained circuit's score: the first point of the held-out curve
        try:
            out["held_out"] = trainer.evaluate()
        except ERRORS as e:
            out["held_out_error"] = str(e)
    return FlowView(**out)


# --- reads and changes a page asks for ------------------------------------------------------------

def evaluate(trainer: GenerativeTrainer) -> float:
    """The held-out metric now."""
    return trainer.evaluate()


def set_solver(trainer: GenerativeTrainer, solver: SolverConfig) -> None:
    """A new tolerance for the next solves, without a restart."""
    trainer.flow.solver = solver


def export(trainer: Any, fields: dict) -> tuple[Circuit, TrainingRecord]:
    """The circuit with the current parameters and the run's training record (``fields`` add to it)."""
    model = trainer.flow if isinstance(trainer, GenerativeTrainer) else trainer.model
    return model.to_circuit(), TrainingRecord.of(trainer, **fields)


def flow_animation(trainer: GenerativeTrainer, box: float, resolution: int, n_frames: int, n_points: int,
                   field_resolution: int) -> dict:
    """The flow animation's data for the current model (a few seconds: one solve per frame)."""
    flow = trainer.flow
    ts = fa.frame_times(flow, n_frames)
    slices = [fa.slice_at(flow, t) for t in ts]
    xs, ys, _ = grid_points(resolution, box)
    return {"xs": xs, "ys": ys, "times": ts, "log_density": fa.density_frames(flow, ts, resolution, box),
            "points": fa.flow_frames(flow, ts, n_points, seed=0)[0], "box": box, "slice_of_frame": slices,
            "fields": {i: fa.vector_field(flow, i, field_resolution, box) for i in sorted(set(slices))}}


def vector_field(trainer: GenerativeTrainer, slice_index: int, resolution: int, box: float) -> tuple:
    """dv/dt of one slice on a grid, and the slice's start and end times."""
    flow = trainer.flow
    return fa.vector_field(flow, slice_index, resolution, box), (flow.boundaries[slice_index],
                                                                 flow.boundaries[slice_index + 1])
