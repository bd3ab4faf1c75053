"""SPICE export and cross-check: the trained network run unchanged in ngspice.

Each node becomes a capacitor to ground whose initial condition is its voltage at the start of the
slice; each device becomes a behavioural current source ``B<e> n<src> n<dst> I=<law>`` (ngspice
draws that current out of the first node and into the second, i.e. src -> dst, as in the model).
Multi-slice circuits are simulated as a chain of transients, one netlist per slice: the final
voltages of slice l, resized by the circuit's pad / tile / truncate rule, are the initial
conditions of slice l+1. That keeps every netlist a plain, readable circuit (no time-switched
sources), at the cost of one ngspice run per slice.

Optionally the netlist is written in physical units (``PhysicalScale``): capacitors in fF, device
currents scaled to µA per model unit, so one model time unit is C/I = fF/µA = 1 ns per (fF/µA).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .circuit import Circuit
from .atomic import atomic_write
from .devices import get_kind
from .limits import check_int, check_number
from .model import KirchhoffNet, resize_state
from .solvers import SolverConfig


RAW_NAME = "out.raw"  # netlists write their waveforms here, relative to ngspice's working folder


class SpiceError(RuntimeError):
    """ngspice is missing, rejected the netlist, failed or timed out (its own message included)."""


@dataclass(frozen=True)
class PhysicalScale:
    """Model units -> physical units: C = capacitance * cap_fF fF, I = current * current_uA µA,
    voltages in volts. One model time unit lasts ``time_unit_s`` seconds."""

    cap_fF: float = 10.0
    current_uA: float = 10.0

    def __post_init__(self) -> None:
        for name in ("cap_fF", "current_uA"):
            check_number(getattr(self, name), name, 0.0, low_open=True)

    @property
    def time_unit_s(self) -> float:
        return self.cap_fF * 1e-15 / (self.current_uA * 1e-6)


@dataclass(frozen=True)
class SpiceOptions:
    """Transient settings. Tolerances are ngspice's (reltol; abstol in amperes; vntol in volts;
    trtol the factor on its truncation-error estimate, 7 by ngspice's own default).

    The defaults are tight, so a comparison measures the circuit, not ngspice's tolerances: on the
    trained moons example ngspice's defaults (reltol 1e-6, trtol 7) land 7e-4 V from a float64
    reference, these settings 1e-5 V, at about 10x the run time. ``QUICK`` is ngspice's own
    accuracy, enough for predicted classes."""

    reltol: float = 1e-10
    trtol: float = 1.0
    abstol: float = 1e-15
    vntol: float = 1e-9
    points_per_slice: int = 200  # maximum step = duration / points_per_slice
    timeout_s: float = 60.0
    scale: PhysicalScale | None = None
    ngspice: str = "ngspice"

    def __post_init__(self) -> None:  # a NaN or infinity would be written into every netlist
        for name in ("reltol", "trtol", "abstol", "vntol", "timeout_s"):
            check_number(getattr(self, name), name, 0.0, low_open=True)
        check_int(self.points_per_slice, "points_per_slice", 1)  # the time-out bounds the work


QUICK = SpiceOptions(reltol=1e-6, trtol=7.0)
"""ngspice's default accuracy (about 1e-4 relative): plenty for which class wins, ten times faster."""


def _num(x: float) -> str:
    """Full precision, SPICE-safe (no 'inf', no locale)."""
    return repr(float(x)).replace("e+", "e")


def _coef(x: float) -> str:
    """A number inside an expression; negatives in parentheses so '+' never meets '-'."""
    text = _num(x)
    return f"({text})" if text.startswith("-") else text


def _node(n: int) -> str:
    return "0" if n == 0 else f"n{int(n)}"


def _v(n: int) -> str:
    return "0" if n == 0 else f"v({_node(n)})"


def device_expression(kind: str, params: list[float], src: int, dst: int, current_scale: float = 1.0) -> str:
    """The device law as an ngspice B-source expression in node voltages (the family's ``spice``
    template filled with its parameters and terminals)."""
    rec = get_kind(kind)
    values = [float(x) for x in params[: rec.n_params]]
    vs, vd = _v(src), _v(dst)
    law = rec.spice.format(vs=vs, vd=vd, drop=f"({vs}-{vd})", **{f"p{i}": _coef(x) for i, x in enumerate(values)},
                           **{f"a{i}": _num(abs(x)) for i, x in enumerate(values)})
    return law if current_scale == 1.0 else f"{_coef(current_scale)}*{law}"


def slice_netlist(circuit: Circuit, index: int, v0: np.ndarray, options: SpiceOptions = SpiceOptions(),
                  raw_path: str = RAW_NAME) -> str:
    """One transient netlist for slice ``index`` starting from node voltages ``v0``."""
    s, width = circuit.slices[index], circuit.width(index)
    scale = options.scale
    c_mul = 1.0 if scale is None else scale.cap_fF * 1e-15
    i_mul = 1.0 if scale is None else scale.current_uA * 1e-6
    t_mul = 1.0 if scale is None else scale.time_unit_s
    caps = circuit.capacitances(width) * c_mul
    stop = s.duration * t_mul
    lines = [f"* KirchhoffNet {re.sub(r'[^A-Za-z0-9_.,()= -]', '_', circuit.name or 'circuit')} "
             f"slice {index} of {len(circuit.slices)}",
             "* generated by kirchhoff_core.spice; node n<k> is circuit node k, 0 is ground"]
    for n in range(1, width + 1):
        lines.append(f"C{n} {_node(n)} 0 {_num(caps[n - 1])} IC={_num(v0[n - 1])}")
    for e, d in enumerate(s.devices()):
        lines.append(f"B{e + 1} {_node(d['src'])} {_node(d['dst'])} "
                     f"I={device_expression(d['kind'], d['params'], d['src'], d['dst'], i_mul)}")
    lines += [
        f".options reltol={_num(options.reltol)} trtol={_num(options.trtol)} "
        f"abstol={_num(options.abstol * (1.0 if scale is None else i_mul))} vntol={_num(options.vntol)}",
        f".tran {_num(stop / options.points_per_slice)} {_num(stop)} 0 {_num(stop / options.points_per_slice)} uic",
        ".control",
        "set filetype=ascii",
        "run",
        f"write {raw_path} " + " ".join(_v(n) for n in range(1, width + 1)),
        "quit",
        ".endc",
        ".end",
        "",
    ]
    return "\n".join(lines)


def read_ascii_raw(text: str) -> tuple[list[str], np.ndarray]:
    """Variable names and a (points, variables) array from an ngspice ASCII raw file."""
    lines = text.splitlines()
    try:
        n_vars = int(next(ln for ln in lines if ln.startswith("No. Variables:")).split(":")[1])
        n_pts = int(next(ln for ln in lines if ln.startswith("No. Points:")).split(":")[1])
        start = lines.index("Variables:") + 1
        names = [lines[start + i].split()[1] for i in range(n_vars)]
        values_at = lines.index("Values:") + 1
    except (StopIteration, ValueError, IndexError):
        raise SpiceError("could not read ngspice's raw output (unexpected format)") from None
    tokens = " ".join(lines[values_at:]).split()
    numbers = [float(t) for i, t in enumerate(tokens) if i % (n_vars + 1) != 0]  # drop point indices
    if len(numbers) < n_pts * n_vars:
        raise SpiceError(f"ngspice's raw output is truncated ({len(numbers)} of {n_pts * n_vars} values)")
    return names, np.array(numbers[: n_pts * n_vars]).reshape(n_pts, n_vars)


def run_ngspice(netlist: str, options: SpiceOptions = SpiceOptions(), workdir: str | Path | None = None
                ) -> tuple[list[str], np.ndarray]:
    """Run ngspice in batch mode on one netlist and parse its raw output (no shell involved)."""
    exe = shutil.which(options.ngspice)
    if exe is None:
        raise SpiceError(f"ngspice was not found on PATH ({options.ngspice!r}). Install it with "
                         "`apt-get install ngspice` (Debian/Ubuntu) or `brew install ngspice` (macOS).")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        match = re.search(r"^write\s+(\S+)", netlist, flags=re.MULTILINE)
        raw = Path(tmp) / Path(match.group(1) if match else RAW_NAME).name  # always inside tmp
        cir = Path(tmp) / "net.cir"
        cir.write_text(netlist)
        try:
            proc = subprocess.run([exe, "-b", str(cir)], capture_output=True, text=True,
                                  timeout=options.timeout_s, cwd=tmp)
        except subprocess.TimeoutExpired:
            raise SpiceError(f"ngspice timed out after {options.timeout_s:g} s") from None
        output = (proc.stdout + proc.stderr).strip()
        if proc.returncode != 0 or not raw.exists():
            tail = "\n".join(output.splitlines()[-12:])
            raise SpiceError(f"ngspice failed (exit code {proc.returncode}):\n{tail}")
        return read_ascii_raw(raw.read_text())


@dataclass
class SpiceResult:
    """Voltages over time across all slices: times (model units) and (len(times), max_width)."""

    times: np.ndarray
    voltages: np.ndarray
    netlists: list[str]


def simulate(circuit: Circuit, x: np.ndarray, options: SpiceOptions = SpiceOptions()) -> SpiceResult:
    """Run every slice in ngspice, chaining final voltages into the next slice's initial conditions."""
    circuit.validate()
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if len(x) != len(circuit.inputs) or not np.all(np.isfinite(x)):
        raise ValueError(f"inputs: need {len(circuit.inputs)} finite value(s), got {x.tolist()}")
    v = np.zeros(circuit.width(0))
    v[np.array(circuit.inputs) - 1] = x
    t_mul = 1.0 if options.scale is None else options.scale.time_unit_s
    all_t, all_v, netlists = [np.array([0.0])], [], []
    first = np.full((1, circuit.max_width), np.nan)
    first[0, : len(v)] = v
    all_v.append(first)
    t0 = 0.0
    for i in range(len(circuit.slices)):
        v = resize_state(torch.as_tensor(v), circuit.width(i), circuit.resize).numpy().copy()
        net = slice_netlist(circuit, i, v, options)
        netlists.append(net)
        names, data = run_ngspice(net, options)
        t = data[:, 0] / t_mul
        block = np.full((len(t), circuit.max_width), np.nan)
        block[:, : circuit.width(i)] = data[:, 1:]
        keep = t > 0
        all_t.append(t0 + t[keep])
        all_v.append(block[keep])
        v = data[-1, 1:]
        t0 += circuit.slices[i].duration
    return SpiceResult(np.concatenate(all_t), np.concatenate(all_v), netlists)


def write_netlists(circuit: Circuit, x: np.ndarray, path: str | Path, options: SpiceOptions = SpiceOptions()
                   ) -> list[Path]:
    """Write the netlist of every slice. Slice 0 starts from the input; later slices need the
    previous slice's result, so they are computed with the torch model and written with those
    initial conditions (``spice_check`` runs the whole chain in ngspice instead)."""
    path = Path(path)
    model = KirchhoffNet(circuit, SolverConfig(rtol=1e-9, atol=1e-9), dtype=torch.float64)
    starts = _slice_starts(model, np.asarray(x, dtype=np.float64))
    out = []
    for i, v0 in enumerate(starts):
        p = path if len(starts) == 1 else path.with_name(f"{path.stem}.slice{i}{path.suffix}")
        raw = p.with_suffix(".raw").name
        atomic_write(p, slice_netlist(circuit, i, v0, options, raw))
        out.append(p)
    return out


def _slice_starts(model: KirchhoffNet, x: np.ndarray) -> list[np.ndarray]:
    """Initial node voltages of every slice from the torch model."""
    with torch.no_grad():
        ends = model.trajectory(torch.as_tensor(x).reshape(1, -1), model.boundaries[:-1])[:, 0]
    starts = []
    for i, dyn in enumerate(model.slices):
        v = ends[i][~torch.isnan(ends[i])]
        starts.append(model.resize(v, dyn.width).numpy().copy())
    return starts


@dataclass
class Comparison:
    """SPICE against torch on one input."""

    times: np.ndarray
    spice: np.ndarray
    torch: np.ndarray
    max_abs_per_node: np.ndarray
    max_abs: float
    readout_spice: np.ndarray
    readout_torch: np.ndarray
    netlists: list[str]

    @property
    def readout_diff(self) -> float:
        return float(np.max(np.abs(self.readout_spice - self.readout_torch)))


def compare(circuit: Circuit, x: np.ndarray, options: SpiceOptions = SpiceOptions(), rtol: float = 1e-9
            ) -> Comparison:
    """Run ngspice, then the torch model on the SPICE time grid, and measure the difference."""
    res = simulate(circuit, x, options)
    model = KirchhoffNet(circuit, SolverConfig(rtol=rtol, atol=rtol), dtype=torch.float64)
    grid = np.clip(res.times, 0.0, circuit.t_end)
    with torch.no_grad():
        ours = model.trajectory(torch.as_tensor(np.asarray(x, dtype=np.float64)).reshape(1, -1), grid)[:, 0]
    ours = ours.numpy()
    diff = np.abs(res.voltages - ours)
    per_node = np.nanmax(np.where(np.isnan(diff), -np.inf, diff), axis=0)
    per_node[np.isinf(per_node)] = np.nan
    out_idx = np.array(circuit.outputs) - 1
    return Comparison(res.times, res.voltages, ours, per_node, float(np.nanmax(per_node)),
                      res.voltages[-1, out_idx], ours[-1, out_idx], res.netlists)


def class_agreement(circuit: Circuit, xs: np.ndarray, options: SpiceOptions = QUICK
                    ) -> tuple[float, np.ndarray, np.ndarray]:
    """Fraction of inputs whose predicted class (argmax of the read-out) is the same in ngspice and
    torch, with both class vectors."""
    model = KirchhoffNet(circuit, SolverConfig(rtol=1e-7, atol=1e-7), dtype=torch.float64)
    with torch.no_grad():
        torch_cls = model(torch.as_tensor(np.asarray(xs, dtype=np.float64))).argmax(-1).numpy()
    out_idx = np.array(circuit.outputs) - 1
    spice_cls = np.array([int(np.argmax(simulate(circuit, x, options).voltages[-1, out_idx])) for x in xs])
    return float(np.mean(spice_cls == torch_cls)), spice_cls, torch_cls
