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

import copy
import math
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable, Sequence

import numpy as np
import torch
import torchsde

from .circuit import Circuit
from .datasets import Dataset
from .devices import zero_unused
from .model import KirchhoffNet
from .solvers import SolverConfig, check_finite
from .train import check_compatible, task_metric

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
        if self.supply is not None and not (math.isfinite(self.supply) and self.supply > 0):
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
    return codes_to_volts(adc_codes(v, bits, full_range), bits, full_range)


def adc_lsb(bits: int, full_range: float) -> float:
    """Step between adjacent codes."""
    return 2 * full_range / (2 ** bits - 1)


def adc_codes(v: np.ndarray, bits: int, full_range: float) -> np.ndarray:
    """The integer codes an ADC outputs (0 .. 2^bits - 1; code 0 is -range, the top code +range)."""
    lsb = adc_lsb(bits, full_range)
    return np.clip(np.round((np.asarray(v, dtype=np.float64) + full_range) / lsb), 0, 2 ** bits - 1).astype(np.int64)


def codes_to_volts(codes: np.ndarray, bits: int, full_range: float) -> np.ndarray:
    """The voltage each code stands for: code * LSB - range."""
    return np.asarray(codes) * adc_lsb(bits, full_range) - full_range


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
                zero_unused(s.params, s.kind)  # unused parameter columns stay zero
        if config.cap_mismatch > 0:
            caps = chip.capacitances(chip.max_width)
            chip.capacitance = (caps * (1 + config.cap_mismatch * self.rng.standard_normal(len(caps)))).tolist()
        self.circuit = chip
        self.model = KirchhoffNet(chip, solver or SolverConfig(rtol=1e-6, atol=1e-6), dtype=torch.float64)
        self.input_offset = config.input_offset * self.rng.standard_normal(len(circuit.inputs))
        self.readout_offset = config.readout_offset * self.rng.standard_normal(len(circuit.outputs))
        self._torch_gen = torch.Generator().manual_seed(int(self.rng.integers(2 ** 31)))
        self._ideal_model: KirchhoffNet | None = None

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
        with torch.no_grad():
            if self.config.thermal_noise:
                v = self._sde_segments(xs, [np.array([0.0, d.duration]) for d in self.model.slices])[-1][-1]
            else:
                v = self.model.final_state(xs)
            return self._sample(v)[0]

    def _sample(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What the read-out sees of the final state v(T): jitter, then the rails. Also returns the
        timing error dt (model time units) per sample."""
        dt = torch.zeros(v.shape[0], 1, dtype=torch.float64)
        if self.config.jitter > 0:
            # A read-out late by dt sees v(T) + dt * dv/dt(T): first order in the (small) jitter.
            eps = torch.randn(v.shape[0], 1, generator=self._torch_gen, dtype=torch.float64)
            dt = self.config.jitter * self.ideal.t_end * eps
            v = v + dt * self.model.slices[-1](torch.tensor(0.0), v)
        return self._rails(v).detach(), dt

    def _convert(self, v_out: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Read-out voltages through the offsets and the ADC: (volts, integer codes or None)."""
        v = v_out + self.readout_offset
        if self.config.adc_bits is None:
            return v, None
        codes = adc_codes(v, self.config.adc_bits, self.config.adc_range)
        return codes_to_volts(codes, self.config.adc_bits, self.config.adc_range), codes

    def read_out(self, x: np.ndarray) -> np.ndarray:
        """Read-out voltages after offsets and the ADC, shape (batch, n_outputs)."""
        v = self.analog_state(x)[..., [n - 1 for n in self.ideal.outputs]].numpy()
        return self._convert(v)[0]

    def transient(self, x: np.ndarray, points_per_slice: int = 50) -> "Inference":
        """One inference of one input on this chip, as an oscilloscope records it: every node's voltage
        over physical time (noise and rails included) beside the ideal circuit's, the sampling instant,
        and the read-out through offsets and the ADC (volts and integer codes)."""
        if not (isinstance(points_per_slice, (int, np.integer)) and 1 <= points_per_slice <= 5000):
            raise ValueError(f"points_per_slice: must be an integer in 1..5000, got {points_per_slice!r}")
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        written = self.write_inputs(x)
        xs = torch.as_tensor(written, dtype=torch.float64).unsqueeze(0)
        grids = [np.linspace(0.0, d.duration, points_per_slice + 1) for d in self.model.slices]
        with torch.no_grad():
            if self.config.thermal_noise:
                chip = self._sde_segments(xs, grids)
            else:
                chip = [sol for _, sol in self.model.segments(xs, points_per_slice)]
            ideal = [sol for _, sol in self.ideal_model.segments(torch.as_tensor(x).unsqueeze(0), points_per_slice)]
            sampled, dt = self._sample(chip[-1][-1])
            chip = [self._rails(sol) for sol in chip]
        bounds = self.model.boundaries
        times = np.concatenate([g[1 if i else 0:] + bounds[i] for i, g in enumerate(grids)])
        width = self.circuit.max_width
        scale = self.config.time_unit_s * 1e9
        outs = [n - 1 for n in self.ideal.outputs]
        v_out = sampled[0, outs].numpy()
        readout, codes = self._convert(v_out)
        return Inference(
            times_ns=times * scale, volts=_stitch(chip, width), ideal=_stitch(ideal, width),
            boundaries_ns=[b * scale for b in bounds], inputs_written=written,
            t_sample_ns=float((bounds[-1] + dt[0, 0].item()) * scale), sampled=v_out,
            readout=readout, codes=codes, ideal_readout=ideal[-1][-1, 0, outs].numpy(),
            outputs=list(self.ideal.outputs), inputs=list(self.ideal.inputs))

    @property
    def ideal_model(self) -> KirchhoffNet:
        """The circuit without any non-ideality (same solver), for side-by-side traces."""
        if self._ideal_model is None:
            self._ideal_model = KirchhoffNet(self.ideal, self.model.solver, dtype=torch.float64)
        return self._ideal_model

    def _sde_segments(self, x: torch.Tensor, grids: Sequence[np.ndarray]) -> list[torch.Tensor]:
        """States with kT/C noise at each slice's local times ``grids[i]`` (first 0, last the duration):
        one SDE per slice (diagonal additive noise, fixed Heun steps of duration / sde_steps; the step
        grid does not depend on the output times, so the final state does not either)."""
        v = self.model.initial_state(x)
        k_t = BOLTZMANN * self.config.temperature_K
        out = []
        for i, (dyn, grid) in enumerate(zip(self.model.slices, grids)):
            v = self.model.resize(v, dyn.width)
            c_phys = self.circuit.capacitances(dyn.width) * self.config.cap_fF * 1e-15
            sigma = torch.as_tensor(np.sqrt(2 * k_t / c_phys) * self.config.noise_scale, dtype=torch.float64)
            sde = _CircuitSDE(dyn, sigma)
            ts = torch.as_tensor(grid, dtype=torch.float64)
            bm = torchsde.BrownianInterval(t0=0.0, t1=dyn.duration, size=v.shape, dtype=torch.float64,
                                           entropy=int(self.rng.integers(2 ** 31)))
            where = f"slice {i} (with thermal noise)"
            with torch.no_grad(), self.model.guarded(dyn, where):  # counts against max_nfe and the work budget
                sol = torchsde.sdeint(sde, v, ts, bm=bm, method="heun", dt=dyn.duration / self.config.sde_steps)
            check_finite(sol[-1], where, self.model.boundaries[i + 1])
            out.append(sol)
            v = sol[-1]
        return out


def _stitch(segments: Sequence[torch.Tensor], width: int) -> np.ndarray:
    """Per-slice solutions (points, 1, slice width) -> one (points, width) array across slices; a
    slice boundary keeps the earlier slice's end (what a read-out there samples); NaN where a slice
    lacks a node."""
    parts = []
    for i, sol in enumerate(segments):
        block = np.full((sol.shape[0] - (1 if i else 0), width), np.nan)
        block[:, : sol.shape[-1]] = sol[1 if i else 0:, 0].numpy()
        parts.append(block)
    return np.concatenate(parts)


@dataclass
class Inference:
    """One inference on one chip (``ChipInstance.transient``). Times in ns, voltages in volts."""

    times_ns: np.ndarray  # (P,) across all slices
    volts: np.ndarray  # (P, max width) chip node voltages, rails applied; NaN where a slice lacks the node
    ideal: np.ndarray  # (P, max width) the ideal circuit from the ideal (un-converted) inputs
    boundaries_ns: list[float]  # slice boundaries [0, t1, ..., T]
    inputs_written: np.ndarray  # what the DAC put on the input nodes (V)
    t_sample_ns: float  # the read-out instant (T, moved by jitter)
    sampled: np.ndarray  # analog read-out voltages at that instant (after rails), (n_outputs,)
    readout: np.ndarray  # after offsets and the ADC (V)
    codes: np.ndarray | None  # ADC integer codes, None without an ADC
    ideal_readout: np.ndarray  # the ideal circuit's v(T) at the read-out nodes
    outputs: list[int]
    inputs: list[int]


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
    requested: int = 0  # chips asked for; more than len(values) when a time budget stopped the run

    def __post_init__(self) -> None:
        self.requested = max(self.requested, len(self.values))

    @property
    def complete(self) -> bool:
        return len(self.values) == self.requested

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


Progress = Callable[[int, int], None]
"""Called as progress(done, total) after each chip instance, e.g. to move a progress bar."""


def monte_carlo(circuit: Circuit, data: Dataset, config: ChipConfig, chips: int = 100, seed: int = 0,
                solver: SolverConfig | None = None, progress: Progress | None = None,
                time_budget_s: float | None = None) -> MonteCarloResult:
    """Accuracy (or R^2) over ``chips`` seeded chip instances; ``ideal`` has every non-ideality off.
    With ``time_budget_s`` the run stops after the chip that crosses the budget (at least one chip);
    the result then holds fewer values than ``requested``."""
    if not 1 <= chips <= 10_000:
        raise ValueError(f"chips: must be in 1..10000, got {chips}")
    if time_budget_s is not None and not time_budget_s > 0:
        raise ValueError(f"time_budget_s: must be positive or None, got {time_budget_s!r}")
    check_compatible(circuit, data)
    ideal = chip_metric(ChipInstance(circuit, ChipConfig(), 0, solver), data)
    return _monte_carlo(circuit, data, config, chips, seed, solver, ideal, progress, 0, chips, time_budget_s)


def _monte_carlo(circuit: Circuit, data: Dataset, config: ChipConfig, chips: int, seed: int,
                 solver: SolverConfig | None, ideal: float, progress: Progress | None, done: int, total: int,
                 time_budget_s: float | None = None) -> MonteCarloResult:
    # The chip seeds depend only on ``seed``: the same K chips (same random draws, scaled by each
    # setting's sigma) for every setting, so a sweep compares like with like.
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    values = []
    for i, s in enumerate(rng.integers(0, 2 ** 31, size=chips)):
        values.append(chip_metric(ChipInstance(circuit, config, int(s), solver), data))
        if progress is not None:
            progress(done + i + 1, total)
        if time_budget_s is not None and time.perf_counter() - start > time_budget_s:
            break
    return MonteCarloResult(np.array(values), ideal, "accuracy" if data.task == "classification" else "r2",
                            requested=chips)


SWEEPABLE = ("device_mismatch", "cap_mismatch", "noise_scale", "temperature_K", "dac_bits", "dac_range",
             "adc_bits", "adc_range", "jitter", "input_offset", "readout_offset", "supply")
"""ChipConfig fields a robustness curve can sweep."""
MAX_SWEEP_CHIPS = 20_000  # values x chips: bounds the work of one sweep


@dataclass
class RobustnessCurve:
    """Monte Carlo results of one ChipConfig field swept over ``values`` (the rest fixed)."""

    field: str
    values: list
    results: list[MonteCarloResult]

    @property
    def ideal(self) -> float:
        return self.results[0].ideal

    def rows(self) -> list[dict]:
        """One summary per value, with the value under the field's name."""
        return [{self.field: v, **r.summary()} for v, r in zip(self.values, self.results)]


def sweep_config(base: ChipConfig, field: str, value) -> ChipConfig:
    """``base`` with one field set; a bits value of 6.0 becomes 6, a noise scale above 0 switches
    thermal noise on (0 switches it off). Raises ValueError naming the field."""
    if field not in SWEEPABLE:
        raise ValueError(f"sweep field: {field!r} cannot be swept; choose one of {', '.join(SWEEPABLE)}")
    if field in ("dac_bits", "adc_bits") and value is not None:
        if not float(value).is_integer():
            raise ValueError(f"{field}: must be an integer in 1..24 or None, got {value!r}")
        value = int(value)
    extra = {"thermal_noise": value > 0} if field == "noise_scale" else {}
    return replace(base, **{field: value}, **extra)


def robustness_curve(circuit: Circuit, data: Dataset, base_config: ChipConfig, field: str,
                     values: Sequence, chips: int = 20, seed: int = 0, solver: SolverConfig | None = None,
                     progress: Progress | None = None) -> RobustnessCurve:
    """Accuracy (or R^2) over the same ``chips`` seeded instances at each value of one ChipConfig field,
    e.g. ``field="device_mismatch", values=[0, 0.01, 0.05, 0.1]`` or ``field="adc_bits", values=[4, 6, 8]``.
    Every configuration is validated before any chip is simulated."""
    values = list(values)
    if not values:
        raise ValueError("values: give at least one value to sweep")
    if not 1 <= chips <= 10_000:
        raise ValueError(f"chips: must be in 1..10000, got {chips}")
    if len(values) * chips > MAX_SWEEP_CHIPS:
        raise ValueError(f"values x chips: at most {MAX_SWEEP_CHIPS} chip simulations per sweep, "
                         f"got {len(values)} x {chips}")
    configs = [sweep_config(base_config, field, v) for v in values]
    check_compatible(circuit, data)
    ideal = chip_metric(ChipInstance(circuit, ChipConfig(), 0, solver), data)
    total = len(values) * chips
    results = [_monte_carlo(circuit, data, cfg, chips, seed, solver, ideal, progress, i * chips, total)
               for i, cfg in enumerate(configs)]
    return RobustnessCurve(field, [getattr(c, field) for c in configs], results)


# --- energy and latency --------------------------------------------------------------------------

@dataclass
class EnergyReport:
    """Per-inference energy (J) and latency (s), beside the measured wall time of the same forward."""

    dissipated_J: float
    input_charge_J: float
    latency_s: float
    wall_time_s: float
    gpu_wall_time_s: float | None = None  # the same forward pass on a CUDA GPU, when one is present

    @property
    def total_J(self) -> float:
        return self.dissipated_J + self.input_charge_J

    @property
    def speedup(self) -> float:
        """How many times faster the chip's transient is than this computer's simulation of it."""
        return self.wall_time_s / self.latency_s

    @property
    def gpu_speedup(self) -> float | None:
        """The same ratio against the GPU's wall time (None without a GPU)."""
        return None if self.gpu_wall_time_s is None else self.gpu_wall_time_s / self.latency_s


def _wall_time(model: KirchhoffNet, x: torch.Tensor, repeats: int = 3) -> float:
    """Best of ``repeats`` timed forward passes after one warm-up (first calls pay one-off
    allocation and, on a GPU, kernel-load costs); waits for the GPU before reading the clock."""
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    with torch.no_grad():
        model(x)
        sync()
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            sync()
            best = min(best, time.perf_counter() - start)
    return best


def energy(circuit: Circuit, x: np.ndarray, config: ChipConfig = ChipConfig(), points_per_slice: int = 400,
           wall_solver: SolverConfig | None = None, gpu: bool | None = None) -> EnergyReport:
    """Integral of sum_e |I_e (v_s - v_d)| dt in physical units (trapezoid on a fine grid) plus the
    energy to charge the input capacitors, 1/2 C v0^2 each. The wall time is one forward pass of the
    same input on this CPU with ``wall_solver`` (default: the fine float64 solve used for the energy;
    pass the solver you train with for a like-for-like figure). ``gpu``: also time it on a CUDA GPU
    (default: when one is available)."""
    model = KirchhoffNet(circuit, SolverConfig(rtol=1e-8, atol=1e-8), dtype=torch.float64)
    timed = model if wall_solver is None else KirchhoffNet(circuit, wall_solver)
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64)).reshape(1, -1)
    wall = _wall_time(timed, xt.to(timed.dtype))
    gpu_wall = None
    if torch.cuda.is_available() if gpu is None else gpu:
        on_gpu = copy.deepcopy(timed).to("cuda")
        gpu_wall = _wall_time(on_gpu, xt.to(device="cuda", dtype=timed.dtype))
    with torch.no_grad():
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
    return EnergyReport(dissipated * watts_per_unit * config.time_unit_s, charge, config.latency_s(circuit), wall,
                        gpu_wall)
