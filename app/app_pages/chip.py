"""Chip page: the session's circuit as a simulated analog chip.

One inference on one chip instance (a die whose pads light up with the node voltages over
nanoseconds, an oscilloscope of the read-out nodes with the sampling instant and the ADC codes, the
ideal circuit beside it), Monte Carlo over many chip instances with robustness curves, and the energy
and latency of one inference in physical units. The page wires widgets to ``kirchhoff_core.chip``
(which does all the physics) and ``views.chip_views`` (which draws); Monte Carlo runs only on a
button press and its results are kept in the session per setting.
"""

from __future__ import annotations

import hashlib
import pathlib
import time
from collections import OrderedDict
from dataclasses import astuple

import numpy as np
import pandas as pd
import streamlit as st

from kirchhoff_core import io as kio
from kirchhoff_core.chip import (ChipConfig, ChipInstance, RobustnessCurve, chip_metric, energy, monte_carlo,
                                 robustness_curve)
from kirchhoff_core.circuit import Circuit
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.solvers import SolverConfig, SolverError
from state import Config, get_session, ensure_circuit, set_circuit
from views import chip_views as cv

PAGE_KEY = "chip_page"
EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "assets" / "examples" / "moons_trained.json"
SDE_STEPS = 200  # Heun steps per slice with thermal noise: ~0.4 s for 100 test points on one core
POINTS = 60  # transient points per slice for the scope and the die animation
MAX_K = 200
MC_BUDGET_S = 90.0  # a Monte Carlo run stops after this long (thermal noise makes each chip an SDE solve)
SWEEP_BUDGET_S = 60.0  # robustness curves pick their chips per point to finish in about this long
MISMATCH_SWEEP = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
ADC_SWEEP = (2, 3, 4, 5, 6, 8, 10)
BITS = ["off"] + list(range(1, 17))
CHIP_SOLVER = SolverConfig(rtol=1e-6, atol=1e-6, max_nfe=20_000, timeout_s=20.0)
ERRORS = (ValueError, SolverError, RuntimeError)

session = get_session()
config = session.config


def _page() -> dict:
    """Chip-page bookkeeping of this browser session: result caches and messages."""
    if PAGE_KEY not in st.session_state:
        st.session_state[PAGE_KEY] = {"cache": OrderedDict(), "mc": None, "sweep": None, "notes": []}
    return st.session_state[PAGE_KEY]


page = _page()


def _cached(key: tuple, compute):
    """A small per-session memo (the last 32 results): reruns that change nothing do not re-simulate."""
    cache: OrderedDict = page["cache"]
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = compute()
    cache[key] = value
    while len(cache) > 32:
        cache.popitem(last=False)
    return value


def fingerprint(circuit: Circuit) -> str:
    """Identifies a circuit's structure and parameters (the Train page hands out a new object per run)."""
    h = hashlib.sha1()
    h.update(repr((circuit.num_nodes, circuit.inputs, circuit.outputs, circuit.resize,
                   np.asarray(circuit.capacitances(circuit.max_width)).tolist())).encode())
    for s in circuit.slices:
        h.update(repr((s.duration, s.kind.tolist())).encode())
        for arr in (s.src, s.dst, s.params):
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


@st.cache_data(show_spinner=False, max_entries=16)
def _dataset(name: str, n_samples: int, noise: float | None, test_fraction: float, seed: int):
    return make_dataset(name, n_samples=n_samples, noise=noise, test_fraction=test_fraction, seed=seed)


def _load_example() -> None:
    """Load the bundled trained moons circuit and the data it was trained on (the default moons set)."""
    try:
        circuit = kio.load_circuit(EXAMPLE)
    except (OSError, ValueError) as e:
        page["notes"].append(("error", f"Could not load {EXAMPLE.name}: {e}"))
        return
    default = Config()
    config.dataset, config.n_samples, config.noise = "moons", default.n_samples, None
    config.test_fraction, config.seed = default.test_fraction, default.seed
    config.generator, config.generator_params = default.generator, dict(default.generator_params)
    set_circuit(session, circuit)
    session.data = None  # the Train page re-derives it from the configuration
    page["notes"].append(("info", f"Loaded the trained example {EXAMPLE.name} ({circuit.num_nodes} nodes, "
                                  f"{circuit.num_devices} devices) and the moons data it was trained on. The "
                                  "Train page continues from these parameters."))


def example_button(label: str = "Load the trained moons example") -> None:
    st.button(label, key="chip_load_example", on_click=_load_example, icon=":material/upload_file:")


# --- model and data ------------------------------------------------------------------------------

st.header("Chip")
st.caption("The circuit as an analog chip: capacitors in femtofarads, device currents in microamps, time in "
           "nanoseconds, and the imperfections real silicon adds — mismatch, thermal noise, converters, "
           "timing jitter, offsets and supply rails.")
for kind, msg in page["notes"]:
    (st.error if kind == "error" else st.info)(msg)
page["notes"] = []

message = ensure_circuit(session)
if message:
    st.warning(message)
trainer = session.trainer
circuit = trainer.model.to_circuit() if trainer is not None else session.circuit
source = (f"trained on the Train page (epoch {trainer.epoch})" if trainer is not None and trainer.epoch
          else "as built (not trained on the Train page in this session)")
st.write(f"Model: **{circuit.name or 'custom circuit'}** — {circuit.num_nodes} nodes, {circuit.num_devices} "
         f"devices, {len(circuit.slices)} slice(s); parameters {source}.")

data = session.data
data_error = None
if data is None:
    try:
        data = _dataset(config.dataset, config.n_samples, config.noise, config.test_fraction, config.seed)
    except ValueError as e:
        data_error = str(e)
if data is None:
    st.warning(f"There is no dataset to run the chip on ({data_error}). Pick a dataset or draw points on the "
               "Train page, or load the trained example.")
    example_button()
    st.stop()
if len(circuit.inputs) != data.n_features or len(circuit.outputs) != data.n_outputs:
    st.error(f"The circuit does not fit the data: {data.name} has {data.n_features} feature(s) and "
             f"{data.n_outputs} output(s), the circuit has {len(circuit.inputs)} input node(s) {circuit.inputs} and "
             f"{len(circuit.outputs)} read-out node(s) {circuit.outputs}. Fix the roles on the Train page, or load "
             "the trained example.")
    example_button()
    st.stop()

fp = fingerprint(circuit)
data_key = (data.name, len(data.x_train), len(data.x_test), hashlib.sha1(data.x_test.tobytes()).hexdigest())
is_cls = data.task == "classification"


# --- controls ------------------------------------------------------------------------------------

def _bits(value) -> int | None:
    return None if value == "off" else int(value)


left, main = st.columns([1, 3.1], gap="medium")
with left:
    st.markdown("**Physical mapping**")
    cap_fF = st.number_input("Node capacitance (fF)", value=10.0, step=1.0, format="%g", key="chip_cap",
                             help="Every node's capacitor to ground; the model's C = 1 becomes this")
    current_uA = st.number_input("Current per model unit (µA)", value=10.0, step=1.0, format="%g", key="chip_cur",
                                 help="A device current of 1 in model units becomes this many µA")
    rails = st.toggle("Supply rails", value=False, key="chip_rails",
                      help="Node voltages cannot leave ±supply: clipped, or softly saturated (tanh)")
    supply = rail_mode = None
    if rails:
        r1, r2 = st.columns(2)
        supply = r1.number_input("Supply (± V)", value=1.0, step=0.1, format="%g", key="chip_supply")
        rail_mode = r2.radio("Rail", ["clip", "soft"], key="chip_rail_mode", horizontal=True)
    st.markdown("**Non-idealities**")
    mismatch = st.slider("Device mismatch σ (%)", 0.0, 100.0, 0.0, step=0.5, key="chip_mismatch",
                         help="Relative spread of every device parameter, drawn once per chip")
    cap_mismatch = st.slider("Capacitor mismatch σ (%)", 0.0, 29.0, 0.0, step=0.5, key="chip_cap_mismatch",
                             help="Relative spread of every node capacitor, drawn once per chip")
    noise = st.toggle("Thermal noise (kT/C)", value=False, key="chip_noise",
                      help="White noise on every node during the transient (an SDE); slower to simulate")
    n1, n2 = st.columns(2)
    noise_scale = n1.select_slider("Noise × physical", [1, 3, 10, 30, 100, 300, 1000], value=1,
                                   key="chip_noise_scale", disabled=not noise,
                                   help="kT/C at 10 fF is about 0.6 mV rms; scale it up to see it")
    temperature = n2.slider("Temperature (K)", 1.0, 500.0, 300.0, step=1.0, key="chip_temp", disabled=not noise)
    d1, d2 = st.columns(2)
    dac_bits = d1.select_slider("DAC bits", BITS, value="off", key="chip_dac_bits",
                                help="Inputs are written through a DAC of this resolution")
    dac_range = d2.slider("DAC range (± V)", 0.25, 8.0, 2.0, step=0.25, key="chip_dac_range")
    a1, a2 = st.columns(2)
    adc_bits = a1.select_slider("ADC bits", BITS, value="off", key="chip_adc_bits",
                                help="The read-out is digitised by an ADC of this resolution")
    adc_range = a2.slider("ADC range (± V)", 0.25, 8.0, 2.0, step=0.25, key="chip_adc_range")
    jitter = st.slider("Sampling jitter σ (% of T)", 0.0, 20.0, 0.0, step=0.5, key="chip_jitter",
                       help="The read-out instant moves by this spread")
    o1, o2 = st.columns(2)
    in_off = o1.slider("Input offset σ (mV)", 0.0, 300.0, 0.0, step=5.0, key="chip_in_off")
    out_off = o2.slider("Read-out offset σ (mV)", 0.0, 300.0, 0.0, step=5.0, key="chip_out_off")
    st.markdown("**Instance and input**")
    s1, s2 = st.columns(2)
    chip_seed = int(s1.number_input("Chip instance (seed)", 0, 2**31 - 1, 0, key="chip_seed",
                                    help="Which manufactured chip: its mismatch, offsets and noise draws"))
    if st.session_state.get("chip_idx", 0) > len(data.x_test) - 1:
        st.session_state["chip_idx"] = 0
    idx = int(s2.number_input("Test sample", 0, len(data.x_test) - 1, 0, key="chip_idx"))

try:
    chip_cfg = ChipConfig(cap_fF=float(cap_fF), current_uA=float(current_uA), supply=supply,
                          rail_mode=rail_mode or "clip", device_mismatch=mismatch / 100,
                          cap_mismatch=cap_mismatch / 100, thermal_noise=noise, temperature_K=float(temperature),
                          noise_scale=float(noise_scale), dac_bits=_bits(dac_bits), dac_range=float(dac_range),
                          adc_bits=_bits(adc_bits), adc_range=float(adc_range), jitter=jitter / 100,
                          input_offset=in_off / 1000, readout_offset=out_off / 1000, sde_steps=SDE_STEPS)
    bad_settings = None
except ValueError as e:
    chip_cfg, bad_settings = None, str(e)

x = data.x_test[idx]
label = data.y_test[idx]


# --- one inference -------------------------------------------------------------------------------

def _inference(cfg: ChipConfig):
    return ChipInstance(circuit, cfg, chip_seed, CHIP_SOLVER).transient(x, POINTS)


def _accuracy(cfg: ChipConfig) -> tuple[float, float]:
    """This chip's test metric and how long one chip takes to evaluate (to size the sweeps)."""
    start = time.perf_counter()
    value = chip_metric(ChipInstance(circuit, cfg, chip_seed, CHIP_SOLVER), data)
    return value, time.perf_counter() - start


def _pairs(c: Circuit) -> tuple[list[tuple[int, int, int]], dict[int, int]]:
    """Device count per wired node pair (all slices) and per node to ground, for the die view."""
    pairs: dict[tuple[int, int], int] = {}
    ground: dict[int, int] = {}
    for s in c.slices:
        for a, b in zip(s.src.tolist(), s.dst.tolist()):
            if a == 0 or b == 0:
                ground[a or b] = ground.get(a or b, 0) + 1
            else:
                key = (min(a, b), max(a, b))
                pairs[key] = pairs.get(key, 0) + 1
    return [(a, b, n) for (a, b), n in pairs.items()], ground


def si(value: float, unit: str) -> str:
    """3 significant digits with an SI prefix: 7.46e-12 J -> '7.46 pJ'."""
    if value == 0 or not np.isfinite(value):
        return f"{value:g} {unit}"
    prefixes = {-18: "a", -15: "f", -12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M"}
    exp = int(np.clip(3 * np.floor(np.log10(abs(value)) / 3), -18, 6))
    return f"{value / 10.0 ** exp:.3g} {prefixes[exp]}{unit}"


def _fmt(v: float, metric: str) -> str:
    return f"{v:.1%}" if metric == "accuracy" else f"{v:.3f}"


metric_name = "accuracy" if is_cls else "r2"
chip_seconds = 0.05
with main:
    if bad_settings:
        st.error(f"These chip settings cannot be used: {bad_settings}.")
        inf = None
    else:
        try:
            with st.spinner("Simulating the chip…"):
                inf = _cached(("inf", fp, data_key, idx, chip_seed, astuple(chip_cfg)), lambda: _inference(chip_cfg))
                acc, chip_seconds = _cached(("acc", fp, data_key, chip_seed, astuple(chip_cfg)),
                                            lambda: _accuracy(chip_cfg))
                ideal_acc = _cached(("ideal", fp, data_key),
                                    lambda: chip_metric(ChipInstance(circuit, ChipConfig(), 0, CHIP_SOLVER), data))
        except ERRORS as e:
            st.error(f"The chip could not be simulated with these settings: {e}")
            inf = None
    if inf is not None:
        m = st.columns(4)
        title = "accuracy" if is_cls else "R²"
        gap = acc - ideal_acc
        delta = None if abs(gap) < 1e-12 else (f"{100 * gap:+.1f} pts" if is_cls else f"{gap:+.3f}")
        m[0].metric(f"Chip {title}", _fmt(acc, metric_name), delta=delta,
                    help=f"Test-set {title} of chip #{chip_seed} ({len(data.x_test)} samples) with the settings "
                         "on the left")
        m[1].metric(f"Ideal {title}", _fmt(ideal_acc, metric_name),
                    help="The same circuit with every non-ideality off, on the test set")
        if is_cls:
            m[2].metric("Chip predicts", f"class {int(np.argmax(inf.readout))}",
                        help="Largest read-out voltage after the ADC")
            m[3].metric("Ideal predicts / label", f"{int(np.argmax(inf.ideal_readout))} / {int(label)}")
        else:
            m[2].metric("Chip read-out", f"{inf.readout[0]:+.3f} V")
            m[3].metric("Ideal / target", f"{inf.ideal_readout[0]:+.3f} / {float(np.ravel(label)[0]):+.3f}")
        if is_cls and ideal_acc < 1 / max(data.n_classes, 1) + 0.1:
            st.info("The ideal circuit is near chance on this data, so the chip has nothing to lose yet: train it "
                    "on the Train page, or load the trained example.")
            example_button()
        pairs, ground = _pairs(circuit)
        finite = np.concatenate([inf.volts[np.isfinite(inf.volts)], inf.ideal[np.isfinite(inf.ideal)]])
        v_range = supply if supply else float(max(np.abs(finite).max(), 1e-6))
        g1, g2 = st.columns([1, 1.15])
        die = _cached(("die", fp, data_key, idx, chip_seed, astuple(chip_cfg)),  # ~1 s to build for 74 pads
                      lambda: cv.die_figure(inf.times_ns, inf.volts, pairs, circuit.inputs, circuit.outputs, v_range,
                                            ground))
        g1.plotly_chart(die, key="chip_die", width="stretch")
        g2.plotly_chart(cv.scope_figure(inf, None if chip_cfg.adc_bits is None else
                                        (chip_cfg.adc_bits, chip_cfg.adc_range), supply),
                        key="chip_scope", width="stretch")
        rows = {"node": [f"v{n}" for n in inf.outputs],
                "ideal v(T) (V)": inf.ideal_readout,
                "chip at sample (V)": inf.sampled,
                "ADC code": (["—"] * len(inf.outputs) if inf.codes is None else [str(int(c)) for c in inf.codes]),
                "read-out (V)": inf.readout,
                "read-out − ideal (V)": inf.readout - inf.ideal_readout}
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="chip_readout_table", width="stretch")
        written = ", ".join(f"{v:+.3f}" for v in inf.inputs_written)
        st.caption(f"Test sample {idx}: inputs {', '.join(f'{v:+.3f}' for v in x)} V, written by the DAC as "
                   f"{written} V. Sampled at {inf.t_sample_ns:.4g} ns (T = {inf.boundaries_ns[-1]:.4g} ns). "
                   "Press ▶ Play under the die to watch the pads charge; the scope's dashed lines are the ideal "
                   "circuit.")


# --- Monte Carlo -----------------------------------------------------------------------------------

st.divider()
st.subheader("Monte Carlo over chip instances")
st.caption("Every chip is the same design with its own mismatch, offsets and noise. The histogram shows how the "
           "test accuracy spreads over K chips with the settings above; the robustness curves sweep one setting "
           "(the same K chips at every point) with the others as set.")
mc_cols = st.columns([1.4, 1.1, 1.1, 2], vertical_alignment="bottom")
k = int(mc_cols[0].slider("Chips (K)", 1, MAX_K, 20, key="chip_k"))
run_mc = mc_cols[1].button("Run Monte Carlo", key="chip_mc", type="primary", icon=":material/casino:",
                           disabled=chip_cfg is None)
n_points = len(MISMATCH_SWEEP) + len(ADC_SWEEP)
sweep_k = int(min(k, 30, max(1, SWEEP_BUDGET_S // (n_points * max(chip_seconds, 1e-3)))))
run_sweep = mc_cols[2].button("Robustness curves", key="chip_sweep", icon=":material/show_chart:",
                              disabled=chip_cfg is None,
                              help=f"Device mismatch {', '.join(f'{v:.0%}' for v in MISMATCH_SWEEP)} and ADC bits "
                                   f"{', '.join(map(str, ADC_SWEEP))}: {sweep_k} chips each (K, at most 30, fewer "
                                   f"when one chip is slow)")
mc_cols[3].caption(f"One chip takes about {chip_seconds:.2g} s here"
                   + (" (thermal noise: an SDE per chip)" if chip_cfg is not None and chip_cfg.thermal_noise else "")
                   + f"; a Monte Carlo run stops after {MC_BUDGET_S:.0f} s.")

mc_key = ("mc", fp, data_key, astuple(chip_cfg) if chip_cfg else None, k, chip_seed)
if run_mc and chip_cfg is not None:
    bar = st.progress(0.0, text=f"Simulating {k} chips…")
    try:
        result = monte_carlo(circuit, data, chip_cfg, chips=k, seed=chip_seed, solver=CHIP_SOLVER,
                             progress=lambda i, n: bar.progress(i / n, text=f"chip {i} of {n}"),
                             time_budget_s=MC_BUDGET_S)
        page["mc"] = (mc_key, result)
    except ERRORS as e:
        st.error(f"Monte Carlo stopped: {e}")
    bar.empty()

sweep_key = ("sweep", fp, data_key, astuple(chip_cfg) if chip_cfg else None, sweep_k, chip_seed)
if run_sweep and chip_cfg is not None:
    total = sweep_k * (len(MISMATCH_SWEEP) + len(ADC_SWEEP))
    bar = st.progress(0.0, text=f"Simulating {total} chips…")
    try:
        done = [0]

        def tick(i: int, n: int) -> None:
            bar.progress((done[0] + i) / total, text=f"chip {done[0] + i} of {total}")

        curves = []
        for field, values in (("device_mismatch", MISMATCH_SWEEP), ("adc_bits", ADC_SWEEP)):
            curves.append(robustness_curve(circuit, data, chip_cfg, field, values, chips=sweep_k, seed=chip_seed,
                                           solver=CHIP_SOLVER, progress=tick))
            done[0] += sweep_k * len(values)
        page["sweep"] = (sweep_key, curves, chip_cfg.adc_range)
    except ERRORS as e:
        st.error(f"Robustness sweep stopped: {e}")
    bar.empty()


def _panel(curve: RobustnessCurve, title: str, x_title: str, scale: float = 1.0, **extra) -> dict:
    rows = curve.rows()
    return {"title": title, "x_title": x_title, "x": [r[curve.field] * scale for r in rows],
            "mean": [r["mean"] for r in rows], "p5": [r["p5"] for r in rows], "p95": [r["p95"] for r in rows],
            "worst": [r["worst"] for r in rows], "ideal": curve.ideal, **extra}


h1, h2 = st.columns(2)
with h1:
    found = page["mc"]
    if found is None:
        st.info("Press **Run Monte Carlo** to simulate K chips.")
    else:
        key, result = found
        if key != mc_key:
            st.caption("From earlier settings; press Run Monte Carlo to update.")
        if not result.complete:
            st.warning(f"Stopped after {len(result.values)} of {result.requested} chips: a run may take "
                       f"{MC_BUDGET_S:.0f} s. The histogram shows those chips.")
        s = result.summary()
        st.plotly_chart(cv.mc_histogram(result.values, result.ideal, result.metric,
                                        1 / len(data.x_test) if result.metric == "accuracy" else None),
                        key="chip_mc_hist", width="stretch")
        sm = st.columns(4)
        sm[0].metric("Mean", _fmt(s["mean"], result.metric), help=f"± {s['std']:.3f} over {s['chips']} chips")
        sm[1].metric("5th percentile", _fmt(s["p5"], result.metric))
        sm[2].metric("Worst chip", _fmt(s["worst"], result.metric))
        sm[3].metric("Ideal", _fmt(s["ideal"], result.metric))
with h2:
    found = page["sweep"]
    if found is None:
        st.info("Press **Robustness curves** for accuracy against device mismatch and against ADC resolution.")
    else:
        key, curves, swept_range = found
        if key != sweep_key:
            st.caption("From earlier settings; press Robustness curves to update.")
        mis, adc = curves
        panels = [_panel(mis, "vs device mismatch", "mismatch σ (%)", 100.0,
                         labels=[f"{100 * v:g}" for v in mis.values]),
                  _panel(adc, f"vs ADC bits (range ± {swept_range:g} V)", "ADC bits")]
        st.plotly_chart(cv.robustness_figure(panels, mis.results[0].metric), key="chip_robust", width="stretch")
        st.caption(f"{mis.results[0].summary()['chips']} chips per point. Band: 5–95 % of the chips; dotted: "
                   "the worst chip; dashed: the ideal circuit.")


# --- energy and latency ----------------------------------------------------------------------------

st.divider()
st.subheader("Energy and latency of one inference")
phys = ChipConfig(cap_fF=float(cap_fF), current_uA=float(current_uA)) if chip_cfg is not None else None
if phys is None:
    st.info("Fix the chip settings above to see energy and latency.")
else:
    points = 400 if circuit.num_devices * circuit.max_width <= 200_000 else 50
    try:
        rep = _cached(("energy", fp, data_key, idx, phys.cap_fF, phys.current_uA),
                      lambda: energy(circuit, x, phys, points, wall_solver=config.solver_config()))
    except ERRORS as e:
        st.error(f"Could not compute the energy: {e}")
        rep = None
    if rep is not None:
        e1 = st.columns(3)
        e1[0].metric("Latency", si(rep.latency_s, "s"),
                     help=f"T = {circuit.t_end:g} model units × τ, τ = C / G = {phys.cap_fF:g} fF × 1 V / "
                          f"{phys.current_uA:g} µA = {phys.time_unit_s * 1e9:.3g} ns")
        e1[1].metric("Energy per inference", si(rep.total_J, "J"),
                     help="Dissipated in the devices plus charging the input capacitors")
        e1[2].metric("This CPU, same forward pass", si(rep.wall_time_s, "s"),
                     help="Measured wall time of one forward pass of this input with the Train page's solver")
        e2 = st.columns(3)
        e2[0].metric("Dissipated in devices", si(rep.dissipated_J, "J"),
                     help="∫ Σ |I · ΔV| dt over every device during the transient")
        e2[1].metric("Charging the inputs", si(rep.input_charge_J, "J"),
                     help="½ C v₀² per input capacitor")
        ratio = f"{rep.speedup:,.0f} ×" if rep.speedup >= 10 else f"{rep.speedup:.2g} ×"
        e2[2].metric("CPU time ÷ chip latency", ratio,
                     help="How many times longer this computer takes than the chip's transient")
        if rep.gpu_wall_time_s is not None:
            st.caption(f"On this machine's GPU the same forward pass took {si(rep.gpu_wall_time_s, 's')} "
                       f"({rep.gpu_speedup:,.0f} × the chip's latency).")
        st.caption(f"Units: J joules (1 fJ = 10⁻¹⁵ J, 1 pJ = 10⁻¹² J), s seconds (1 ns = 10⁻⁹ s). Energy of the "
                   f"ideal circuit for test sample {idx} with {phys.cap_fF:g} fF per node and {phys.current_uA:g} µA "
                   f"per model current unit: {si(rep.total_J / max(rep.latency_s, 1e-30), 'W')} on average while "
                   "it runs. Doubling the capacitance doubles both the energy and the latency; the CPU time does "
                   "not change.")
