"""A simulated analog chip: physical units and the non-idealities real hardware adds to a read-out.

Model units are normalised (C = 1, T ~ 1, currents ~ 1). A chip maps them to physics: node
capacitors of ``cap_fF`` femtofarads, device currents of ``current_uA`` microamps per model unit,
voltages in volts, so one model time unit lasts tau = C / G = cap_fF fF / (current_uA µA / 1 V)
(10 fF / 10 µA per V = 1 ns). Because the circuit is autonomous, scaling every capacitor by alpha
scales time by alpha and leaves the read-out unchanged.

Non-idealities, each off by default and independent (the aihwkit vocabulary, applied to an ODE):
- ``device_mismatch``: relative sigma of every device parameter, drawn once per chip instance;
- ``cap_mismatch``: relative sigma of every node capacitor, once per chip;
- ``thermal_noise``: kT/C noise during the transient, an Ito SDE integrated with torchsde: each node
  gets white noise of intensity sqrt(2 k T / C) V per sqrt(model time) (the Ornstein-Uhlenbeck form
  whose stationary variance is kT/C for a node relaxing through a unit conductance), times
  ``noise_scale`` to make it visible at small sizes;
- ``dac_bits`` / ``dac_range``: inputs written as initial voltages through a DAC (the same converter);
- ``adc_bits`` / ``adc_range``: read-out quantised by an ADC (2^bits levels evenly from -range to
  +range, LSB = 2 range / (2^bits - 1); values outside the range clip to the end codes);
- ``jitter``: read-out instant T (1 + jitter * eps), eps ~ N(0, 1) per inference;
- ``input_offset`` / ``readout_offset``: sigma (V) of a fixed offset per node, drawn once per chip;
- ``supply``: rails at +-supply volts; node voltages are clipped (``rail_mode="clip"``) or softly
  saturated (``"soft"``: supply * tanh(v / supply)) when the read-out samples them.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torchsde

from .circuit import Circuit
from .datasets import Dataset
from .devices import KINDS
from .model import KirchhoffNet
from .solvers import SolverConfig
from .train import task_metric

BOLTZMANN = 1.380649e-23  # J/K


@dataclass(frozen=True)
class ChipConfig:
    """Physical mapping and non-idealities (see the module docstring for each parameter)."""

    cap_fF: float = 10.0
    current_uA: float = 10.0
    supply: float | None = None
    rail_mode: str = "clip"
    device_mismatch: float = 0.0
    cap_mismatch: float = 0.0
    thermal_noise: bool = False
    temperature_K: float = 300.0
    noise_scale: float = 1.0
    dac_bits: int | None = None
    dac_range: float = 2.0
    adc_bits: int | None = None
    adc_range: float = 2.0
    jitter: float = 0.0
    input_offset: float = 0.0
    readout_offset: float = 0.0
    sde_steps: int = 500  # fixed Heun steps per slice when thermal noise is on

    def __post_init__(self) -> None:
        for name in ("cap_fF", "current_uA", "temperature_K", "dac_range", "adc_range"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name}: must be a positive number, got {v!r}")
        for name in ("device_mismatch", "cap_mismatch", "noise_scale", "jitter", "input_offset", "readout_offset"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name}: must be >= 0, got {v!r}")
        for name in ("dac_bits", "adc_bits"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, int) and 1 <= v <= 24):
                raise ValueError(f"{name}: must be an integer in 1..24 or None, got {v!r}")
        if self.supply is not None and not self.supply > 0:
            raise ValueError(f"supply: must be positive or None, got {self.supply!r}")
        if self.rail_mode not in ("clip", "soft"):
            raise ValueError(f"rail_mode: 'clip' or 'soft', got {self.rail_mode!r}")
        if self.cap_mismatch >= 0.3 or self.device_mismatch > 1.0:
            raise ValueError("cap_mismatch must stay below 0.3 and device_mismatch at most 1.0 (relative sigma)")

    @property
    def time_unit_s(self) -> float:
        """Seconds per model time unit: tau = C / G."""
        return self.cap_fF * 1e-15 / (self.current_uA * 1e-6)

    def latency_s(self, circuit: Circuit) -> float:
        """Forward latency: the whole transient, T model units."""
        return circuit.t_end * self.time_unit_s

    def to_dict(self) -> dict:
        return asdict(self)


def quantise(v: np.ndarray | torch.Tensor, bits: int, full_range: float):
    """Uniform converter with 2^bits levels spread evenly from -range to +range (both ends are codes):
    inside the range the error is at most LSB/2, outside it clips to the end codes."""
    lsb = adc_lsb(bits, full_range)
    top = 2 ** bits - 1
    if isinstance(v, torch.Tensor):
        return torch.clamp(torch.round((v + full_range) / lsb), 0, top) * lsb - full_range
    return np.clip(np.round((np.asarray(v) + full_range) / lsb), 0, top) * lsb - full_range


def adc_lsb(bits: int, full_range: float) -> float:
    """Step between adjacent codes."""
    return 2 * full_range / (2 ** bits - 1)


class ChipInstance:
    """One manufactured chip: the circuit with this instance's mismatch and offsets drawn."""

    def __init__(self, circuit: Circuit, config: ChipConfig = ChipConfig(), seed: int = 0,
                 solver: SolverConfig | None = None):
        self.config = config
        self.rng = np.random.default_rng(seed)
        self.ideal = circuit
        chip = circuit.copy()
        if config.device_mismatch > 0:
            for s in chip.slices:
                s.params = s.params * (1 + config.device_mismatch * self.rng.standard_normal(s.params.shape))
                for k in set(s.kind.tolist()):  # unused parameter columns stay zero
                    s.params[s.kind == k, KINDS[k].n_params:] = 0.0
        if config.cap_mismatch > 0:
            caps = chip.capacitances(chip.max_width)
            chip.capacitance = (caps * (1 + config.cap_mismatch * self.rng.standard_normal(len(caps)))).tolist()
        self.circuit = chip
        self.model = KirchhoffNet(chip, solver or SolverConfig(rtol=1e-6, atol=1e-6), dtype=torch.float64)
        self.input_offset = config.input_offset * self.rng.standard_normal(len(circuit.inputs))
        self.readout_offset = config.readout_offset * self.rng.standard_normal(len(circuit.outputs))
        self._torch_gen = torch.Generator().manual_seed(int(self.rng.integers(2 ** 31)))

    def write_inputs(self, x: np.ndarray) -> np.ndarray:
        """What the DAC actually puts on the input capacitors."""
        x = np.asarray(x, dtype=np.float64) + self.input_offset
        if self.config.dac_bits is not None:
            x = quantise(x, self.config.dac_bits, self.config.dac_range)
        return x

    def _rails(self, v: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.supply is None:
            return v
        return torch.clamp(v, -c.supply, c.supply) if c.rail_mode == "clip" else c.supply * torch.tanh(v / c.supply)

    def analog_state(self, x: np.ndarray, t_read: np.ndarray | None = None) -> torch.Tensor:
        """Node voltages of the last slice at the (possibly jittered) read-out instants."""
        xs = torch.as_tensor(self.write_inputs(x), dtype=torch.float64)
        if xs.ndim == 1:
            xs = xs.unsqueeze(0)
        if self.config.thermal_noise:
            v = self._sde_final(xs)
        else:
            v = self.model.final_state(xs)
        if self.config.jitter > 0:
            # A read-out late by dt sees v(T) + dt * dv/dt(T): first order in the (small) jitter.
            eps = torch.randn(xs.shape[0], 1, generator=self._torch_gen, dtype=torch.float64)
            dt = self.config.jitter * self.ideal.t_end * eps
            v = v + dt * self.model.slices[-1](torch.tensor(0.0), v)
        return self._rails(v).detach()

    def read_out(self, x: np.ndarray) -> np.ndarray:
        """Read-out voltages after offsets and the ADC, shape (batch, n_outputs)."""
        with torch.no_grad():
            v = self.analog_state(x)[..., [n - 1 for n in self.ideal.outputs]].numpy()
        v = v + self.readout_offset
        if self.config.adc_bits is not None:
            v = quantise(v, self.config.adc_bits, self.config.adc_range)
        return v

    def _sde_final(self, x: torch.Tensor) -> torch.Tensor:
        """Final state with kT/C noise: one SDE per slice (diagonal additive noise, Heun steps)."""
        v = self.model.initial_state(x)
        k_t = BOLTZMANN * self.config.temperature_K
        for i, dyn in enumerate(self.model.slices):
            v = self.model.resize(v, dyn.width)
            c_phys = self.circuit.capacitances(dyn.width) * self.config.cap_fF * 1e-15
            sigma = torch.as_tensor(np.sqrt(2 * k_t / c_phys) * self.config.noise_scale, dtype=torch.float64)
            sde = _CircuitSDE(dyn, sigma)
            ts = torch.tensor([0.0, dyn.duration], dtype=torch.float64)
            bm = torchsde.BrownianInterval(t0=0.0, t1=dyn.duration, size=v.shape, dtype=torch.float64,
                                           entropy=int(self.rng.integers(2 ** 31)))
            with torch.no_grad():
                v = torchsde.sdeint(sde, v, ts, bm=bm, method="heun", dt=dyn.duration / self.config.sde_steps)[-1]
        return v


class _CircuitSDE(torch.nn.Module):
    """dv = f(v) dt + sigma dW. The noise is additive (sigma does not depend on v), so the Ito and
    Stratonovich readings coincide and the second-order Heun scheme applies."""

    noise_type = "diagonal"
    sde_type = "stratonovich"

    def __init__(self, dyn, sigma: torch.Tensor):
        super().__init__()
        self.dyn, self.sigma = dyn, sigma

    def f(self, t, v):
        return self.dyn(t, v)

    def g(self, t, v):
        return self.sigma.expand_as(v)


# --- Monte Carlo ---------------------------------------------------------------------------------

@dataclass
class MonteCarloResult:
    """Metric (accuracy or R^2) of K chip instances against the ideal model."""

    values: np.ndarray
    ideal: float
    metric: str

    def summary(self) -> dict[str, float]:
        v = self.values
        worst = float(v.min()) if self.metric in ("accuracy", "r2") else float(v.max())
        return {"ideal": self.ideal, "mean": float(v.mean()), "std": float(v.std()),
                "p5": float(np.percentile(v, 5)), "p50": float(np.percentile(v, 50)),
                "p95": float(np.percentile(v, 95)), "worst": worst, "chips": len(v)}


def chip_metric(chip: ChipInstance, data: Dataset, split: str = "test") -> float:
    x, y = (data.x_test, data.y_test) if split == "test" else (data.x_train, data.y_train)
    out = torch.as_tensor(chip.read_out(x))
    target = torch.as_tensor(y)
    return task_metric(data.task, out, target)


def monte_carlo(circuit: Circuit, data: Dataset, config: ChipConfig, chips: int = 100, seed: int = 0,
                solver: SolverConfig | None = None) -> MonteCarloResult:
    """Accuracy (or R^2) over ``chips`` seeded chip instances; ``ideal`` has every non-ideality off."""
    if not 1 <= chips <= 10_000:
        raise ValueError(f"chips: must be in 1..10000, got {chips}")
    ideal = chip_metric(ChipInstance(circuit, ChipConfig(), 0, solver), data)
    rng = np.random.default_rng(seed)
    values = np.array([chip_metric(ChipInstance(circuit, config, int(s), solver), data)
                       for s in rng.integers(0, 2 ** 31, size=chips)])
    return MonteCarloResult(values, ideal, "accuracy" if data.task == "classification" else "r2")


# --- energy and latency --------------------------------------------------------------------------

@dataclass
class EnergyReport:
    """Per-inference energy (J) and latency (s), beside the measured wall time of the same forward."""

    dissipated_J: float
    input_charge_J: float
    latency_s: float
    wall_time_s: float

    @property
    def total_J(self) -> float:
        return self.dissipated_J + self.input_charge_J

    @property
    def speedup(self) -> float:
        """How many times faster the chip's transient is than this computer's simulation of it."""
        return self.wall_time_s / self.latency_s


def energy(circuit: Circuit, x: np.ndarray, config: ChipConfig = ChipConfig(), points_per_slice: int = 400
           ) -> EnergyReport:
    """Integral of sum_e |I_e (v_s - v_d)| dt in physical units (trapezoid on a fine grid) plus the
    energy to charge the input capacitors, 1/2 C v0^2 each."""
    model = KirchhoffNet(circuit, SolverConfig(rtol=1e-8, atol=1e-8), dtype=torch.float64)
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64)).reshape(1, -1)
    with torch.no_grad():
        model(xt)  # warm-up: the first call pays one-off allocation costs
        start = time.perf_counter()
        model(xt)
        wall = time.perf_counter() - start
        dissipated = 0.0
        for (ts, traj), dyn, s in zip(model.segments(xt, points_per_slice), model.slices, circuit.slices):
            vfull = torch.nn.functional.pad(traj[:, 0], (1, 0))
            drop = vfull[:, torch.as_tensor(s.src)] - vfull[:, torch.as_tensor(s.dst)]
            power = (dyn.currents(traj[:, 0]) * drop).abs().sum(-1).numpy()
            dissipated += float(np.trapezoid(power, ts))
        v0 = model.initial_state(xt)[0].numpy()
    caps = circuit.capacitances(circuit.width(0)) * config.cap_fF * 1e-15
    charge = float(0.5 * np.sum(caps * v0 ** 2))
    watts_per_unit = config.current_uA * 1e-6  # I [A] * V [V]
    return EnergyReport(dissipated * watts_per_unit * config.time_unit_s, charge, config.latency_s(circuit), wall)
