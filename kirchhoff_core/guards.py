"""Guard rails: settings that will not train, said in a sentence before the first step, and a hint when
the loss jumps after a change.

A playground user sets T = 1000 or a learning rate of 5 and watches a run fail for minutes without
knowing why. ``check_setup`` looks at the set-up before training: the read-out time against the
circuit's own time scale, learning rates that make the optimiser diverge, and the memory one training
step would need. ``loss_jump`` watches a run for a sharp rise of the loss after a learning-rate
change. Each finding is an ``Advice``: what is wrong, why it matters, and the setting to change (with
a suggested value when there is one), so a page can show it next to the control and a CLI can print it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .circuit import Circuit
from .datasets import Dataset
from .model import KirchhoffNet
from .solvers import SolverConfig
from .train import TrainConfig

# T times the circuit's rate (the largest |eigenvalue| of its Jacobian at the inputs): below SHORT the
# transient barely starts; above LONG exponential modes run away or everything settles and forgets x.
SHORT, LONG = 0.05, 25.0
TYPICAL = 3.0  # a T of about 3 / rate: the moons preset has rate ~2.4 at T = 1
DIVERGING_LR = {"adam": 0.3, "adamw": 0.3, "rmsprop": 0.1, "sgd": 5.0}
MEMORY_BUDGET_BYTES = 2 * 1024**3  # what one training step may keep for back-propagation in the app
EIGEN_MAX_WIDTH = 200  # above this many nodes the rate is not estimated (eigenvalues cost width^3)


@dataclass(frozen=True)
class Advice:
    """One finding. ``setting`` names the control to change (``read_out_time``, ``lr``, ``batch_size``);
    ``suggestion`` is a value for it, when there is a good one."""

    level: str  # "warning" (it will probably not train) or "error" (it cannot run)
    setting: str
    message: str
    suggestion: float | None = None


def circuit_rate(circuit: Circuit, inputs: np.ndarray, slice_index: int = 0) -> float | None:
    """The circuit's linear rate at its inputs: the mean, over the given input points, of the largest
    |eigenvalue| of the Jacobian of dv/dt at v(0). 1 / rate is its time scale. None when the slice is
    too wide to estimate cheaply or has no devices."""
    width = circuit.width(slice_index)
    if width > EIGEN_MAX_WIDTH or circuit.slices[slice_index].num_devices == 0:
        return None
    model = KirchhoffNet(circuit, dtype=torch.float64)
    dyn = model.slices[slice_index]
    x = np.atleast_2d(np.asarray(inputs, dtype=np.float64))[:16]
    v0 = model.resize(model.initial_state(torch.as_tensor(x)), width)
    t0 = torch.tensor(0.0, dtype=torch.float64)
    radii = []
    for v in v0:
        jac = torch.autograd.functional.jacobian(lambda u: dyn(t0, u), v)
        if not bool(torch.isfinite(jac).all()):  # eigvals refuses it; the solver will say what is wrong
            return None
        radii.append(float(torch.linalg.eigvals(jac).abs().max()))
    rate = float(np.mean(radii))
    return rate if math.isfinite(rate) and rate > 0 else None


def check_read_out_time(circuit: Circuit, inputs: np.ndarray) -> Advice | None:
    """T far outside the circuit's time scale (see SHORT, LONG)."""
    rate = circuit_rate(circuit, inputs)
    if rate is None:
        return None
    t_end, product = circuit.t_end, circuit.t_end * rate
    suggestion = float(f"{TYPICAL / rate:.2g}")
    if product > LONG:
        return Advice("warning", "read_out_time",
                      f"Read-out time T = {t_end:g} is {product:.0f} times this circuit's time scale "
                      f"({1 / rate:.2g}): long before T its fast modes run away or settle, so the read-out "
                      f"no longer depends on the input and training stalls. Try T ≈ {suggestion:g}.", suggestion)
    if product < SHORT:
        return Advice("warning", "read_out_time",
                      f"Read-out time T = {t_end:g} is only {product:.2g} of this circuit's time scale "
                      f"({1 / rate:.2g}): the transient has hardly started at T, so the read-out is nearly "
                      f"the input. Try T ≈ {suggestion:g}.", suggestion)
    return None


def check_learning_rate(train: TrainConfig) -> Advice | None:
    """Learning rates that make the optimiser diverge on these circuits."""
    limit = DIVERGING_LR.get(train.optimizer)
    if limit is None or train.lr < limit:
        return None
    suggestion = 0.01 if train.optimizer != "sgd" else 0.5
    return Advice("warning", "lr",
                  f"A learning rate of {train.lr:g} with {train.optimizer} moves every device parameter by "
                  f"about that much per step, while the parameters themselves are ~0.1–1: the loss will "
                  f"jump around or blow up. Try {suggestion:g}.", suggestion)


def training_memory_bytes(circuit: Circuit, batch: int, solver: SolverConfig, steps_per_slice: int = 5) -> int:
    """A rough size of what one training step keeps: direct back-propagation holds every stage's
    currents of every solver step (7 stages of dopri5), per sample and device, in float32; the adjoint
    about three evaluations' worth. Calibrated on the paper's MNIST circuit at batch 512 (measured on
    an H200: 33.5 GiB direct, 2.85 GiB adjoint; this gives 33 and 2.8)."""
    per_sample = sum(s.num_devices + circuit.width(i) for i, s in enumerate(circuit.slices))
    stages = 3 if solver.adjoint else 7 * steps_per_slice
    return int(4 * batch * per_sample * stages)


def check_memory(circuit: Circuit, batch: int, solver: SolverConfig,
                 budget_bytes: int = MEMORY_BUDGET_BYTES) -> Advice | None:
    """A training step that would not fit the app's memory budget."""
    need = training_memory_bytes(circuit, batch, solver)
    if need <= budget_bytes:
        return None
    fits = max(1, int(batch * budget_bytes / need))
    return Advice("error", "batch_size",
                  f"One training step of this circuit ({circuit.num_devices:,} devices) at batch size {batch} "
                  f"would keep about {need / 1024**3:.1f} GiB for back-propagation, more than the "
                  f"{budget_bytes / 1024**3:.0f} GiB the playground allows. Use a batch size of at most "
                  f"{fits}, or adjoint gradients.", float(fits))


def check_setup(circuit: Circuit, data: Dataset, train: TrainConfig, solver: SolverConfig,
                budget_bytes: int = MEMORY_BUDGET_BYTES) -> list[Advice]:
    """Everything above, for a set-up about to train (inputs from the training set)."""
    batch = train.batch_size or len(data.x_train)
    found = [check_read_out_time(circuit, data.x_train) if len(circuit.inputs) == data.n_features else None,
             check_learning_rate(train), check_memory(circuit, batch, solver, budget_bytes)]
    return [a for a in found if a is not None]


def loss_jump(history: Sequence, factor: float = 1.5, window: int = 5, unit: str = "step") -> Advice | None:
    """A hint when the training loss rose sharply within ``window`` steps after the learning rate
    changed: the new rate is probably too large. ``history``: records with ``step``, ``train_loss``
    and ``lr`` (either trainer's); ``unit`` names a step in the message ("epoch" for the supervised one)."""
    if len(history) < 2:
        return None
    change = max((i for i in range(1, len(history)) if history[i].lr != history[i - 1].lr), default=None)
    if change is None or len(history) - change > window:
        return None
    before = history[change - 1].train_loss
    worst = max(r.train_loss for r in history[change:])
    if not (math.isfinite(before) and before > 0) or (math.isfinite(worst) and worst < factor * before):
        return None
    old, new = history[change - 1].lr, history[change].lr
    rose = "became infinite" if not math.isfinite(worst) else f"rose from {before:.3g} to {worst:.3g}"
    return Advice("warning", "lr",
                  f"The loss {rose} after the learning rate changed from {old:g} to {new:g} at {unit} "
                  f"{history[change].step}: the new rate is probably too large. Go back to {old:g}, or Reset.",
                  float(old))


def number_text(x: float) -> str:
    """A number as a person typed it: whole numbers in full (99,999,999, not 1e+08), others short."""
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def out_of_range(name: str, value: float | None, low: float, high: float) -> str | None:
    """Why ``value`` cannot be ``name`` (not a finite number, or outside [low, high]), saying the valid
    range; None when it can. A number box's own limits only mark the box red and keep the number from
    the program, so the playground takes any number and answers with this."""
    span = f"{number_text(low)} to {number_text(high)}"
    if value is None or not math.isfinite(value):
        return f"{name}: enter a number from {span}"
    if not low <= value <= high:
        return f"{name}: {number_text(value)} is outside the valid range {span}"
    return None
