"""Chip page results: one inference on one chip (die, oscilloscope, read-out table), Monte Carlo over
chip instances with robustness curves, and the energy and latency of one inference. The physics is
``kirchhoff_core.chip``'s; ``views.chip_views`` draws; results are kept per setting in the page's memo."""

from __future__ import annotations

import time
from dataclasses import astuple, dataclass

import numpy as np
import pandas as pd
import streamlit as st

from components import chip_controls
from components.common import example_picker, model_source
from kirchhoff_core.chip import ChipConfig, ChipInstance, RobustnessCurve, chip_metric, energy, monte_carlo, robustness_curve
from kirchhoff_core.circuit import Circuit
from kirchhoff_core.datasets import Dataset
from kirchhoff_core.solvers import SolverConfig, SolverError
from state import ChipPage, Session
from views import chip_views as cv
from views.format import metric_label, metric_text, si

SDE_STEPS = 200  # Heun steps per slice with thermal noise: ~0.4 s for 100 test points on one core
POINTS = 60  # transient points per slice for the scope and the die animation
MC_BUDGET_S = 90.0  # a Monte Carlo run stops after this long (thermal noise makes each chip an SDE solve)
SWEEP_BUDGET_S = 60.0  # robustness curves pick their chips per point to finish in about this long
MISMATCH_SWEEP = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
ADC_SWEEP = (2, 3, 4, 5, 6, 8, 10)
CHIP_SOLVER = SolverConfig(rtol=1e-6, atol=1e-6, max_nfe=20_000, timeout_s=20.0)
ERRORS = (ValueError, SolverError, RuntimeError)
EXAMPLE_NOTE = ("Loaded the trained example {file} ({nodes} nodes, {devices} devices) and the {dataset} data it was "
                "trained on. The Train page continues from these parameters.")


def example(session: Session, messages) -> None:
    """The picker that loads a trained example (and its data)."""
    example_picker(session, messages, "chip_load_example", note=EXAMPLE_NOTE)


@dataclass
class Bench:
    """What every result is computed from and keyed on."""

    circuit: Circuit
    fp: str  # the circuit's fingerprint
    data: Dataset
    data_key: tuple
    cfg: ChipConfig | None  # None: the settings are refused
    page: ChipPage

    @property
    def metric(self) -> str:
        return "accuracy" if self.data.task == "classification" else "r2"


def _accuracy(b: Bench, cfg: ChipConfig, seed: int) -> tuple[float, float]:
    """This chip's test metric and how long one chip takes to evaluate (to size the sweeps)."""
    start = time.perf_counter()
    value = chip_metric(ChipInstance(b.circuit, cfg, seed, CHIP_SOLVER), b.data)
    return value, time.perf_counter() - start


def inference(session: Session, b: Bench, error: str | None) -> float:
    """One inference on chip #seed; returns how long one chip takes (to size the sweeps)."""
    chip, memo = b.page.settings, b.page.memo
    if error:
        st.error(f"These chip settings cannot be used: {error}.")
        return 0.05
    x, label, seed, cfg = b.data.x_test[chip.sample], b.data.y_test[chip.sample], chip.chip_seed, b.cfg
    try:
        with st.spinner("Simulating the chip…"):
            inf = memo.get(("inf", b.fp, b.data_key, chip.sample, seed, astuple(cfg)),
                           lambda: ChipInstance(b.circuit, cfg, seed, CHIP_SOLVER).transient(x, POINTS))
            acc, chip_seconds = memo.get(("acc", b.fp, b.data_key, seed, astuple(cfg)), lambda: _accuracy(b, cfg, seed))
            ideal = memo.get(("ideal", b.fp, b.data_key),
                             lambda: chip_metric(ChipInstance(b.circuit, ChipConfig(), 0, CHIP_SOLVER), b.data))
    except ERRORS as e:
        st.error(f"The chip could not be simulated with these settings: {e}")
        return 0.05
    is_cls, title = b.metric == "accuracy", metric_label(b.metric)
    m = st.columns(4)
    gap = acc - ideal
    m[0].metric(f"Chip {title}", metric_text(acc, b.metric),
                delta=None if abs(gap) < 1e-12 else (f"{100 * gap:+.1f} pts" if is_cls else f"{gap:+.3f}"),
                help=f"Test-set {title} of chip #{seed} ({len(b.data.x_test)} samples) with the settings on the left")
    m[1].metric(f"Ideal {title}", metric_text(ideal, b.metric), help="The same circuit with every non-ideality off, "
                                                                     "on the test set")
    if is_cls:
        m[2].metric("Chip predicts", f"class {int(np.argmax(inf.readout))}", help="Largest read-out voltage after the ADC")
        m[3].metric("Ideal predicts / label", f"{int(np.argmax(inf.ideal_readout))} / {int(label)}")
    else:
        m[2].metric("Chip read-out", f"{inf.readout[0]:+.3f} V")
        m[3].metric("Ideal / target", f"{inf.ideal_readout[0]:+.3f} / {float(np.ravel(label)[0]):+.3f}")
    if is_cls and ideal < 1 / max(b.data.n_classes, 1) + 0.1:
        st.info("The ideal circuit is near chance on this data, so the chip has nothing to lose yet: train it "
                "on the Train page, or load a trained example.")
        if model_source(session)[1]:  # an untrained circuit has the picker at the top of the page
            example(session, b.page.messages)
    finite = np.concatenate([inf.volts[np.isfinite(inf.volts)], inf.ideal[np.isfinite(inf.ideal)]])
    v_range = cfg.supply if cfg.supply else float(max(np.abs(finite).max(), 1e-6))
    g1, g2 = st.columns([1, 1.15])
    die = memo.get(("die", b.fp, b.data_key, chip.sample, seed, astuple(cfg)),  # ~1 s to build for 74 pads
                   lambda: cv.die_figure(inf.times_ns, inf.volts, b.circuit.node_pairs(), b.circuit.inputs,
                                         b.circuit.outputs, v_range))
    g1.plotly_chart(die, key="chip_die", width="stretch")
    g2.plotly_chart(cv.scope_figure(inf, None if cfg.adc_bits is None else (cfg.adc_bits, cfg.adc_range), cfg.supply),
                    key="chip_scope", width="stretch")
    rows = {"node": [f"v{n}" for n in inf.outputs], "ideal v(T) (V)": inf.ideal_readout,
            "chip at sample (V)": inf.sampled,
            "ADC code": (["—"] * len(inf.outputs) if inf.codes is None else [str(int(c)) for c in inf.codes]),
            "read-out (V)": inf.readout, "read-out − ideal (V)": inf.readout - inf.ideal_readout}
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="chip_readout_table", width="stretch")
    st.caption(f"Test sample {chip.sample}: inputs {', '.join(f'{v:+.3f}' for v in x)} V, written by the DAC as "
               f"{', '.join(f'{v:+.3f}' for v in inf.inputs_written)} V. Sampled at {inf.t_sample_ns:.4g} ns "
               f"(T = {inf.boundaries_ns[-1]:.4g} ns). Press ▶ Play under the die to watch the pads charge; the "
               "scope's dashed lines are the ideal circuit.")
    return chip_seconds


def _run_monte_carlo(b: Bench, key: tuple) -> None:
    chip = b.page.settings
    bar = st.progress(0.0, text=f"Simulating {chip.chips} chips…")
    try:
        result = monte_carlo(b.circuit, b.data, b.cfg, chips=chip.chips, seed=chip.chip_seed, solver=CHIP_SOLVER,
                             progress=lambda i, n: bar.progress(i / n, text=f"chip {i} of {n}"),
                             time_budget_s=MC_BUDGET_S)
        b.page.mc = (key, result)
    except ERRORS as e:
        st.error(f"Monte Carlo stopped: {e}")
    bar.empty()


def _run_sweep(b: Bench, key: tuple, sweep_k: int) -> None:
    total = sweep_k * (len(MISMATCH_SWEEP) + len(ADC_SWEEP))
    bar = st.progress(0.0, text=f"Simulating {total} chips…")
    done = [0]
    try:
        curves = []
        for field, values in (("device_mismatch", MISMATCH_SWEEP), ("adc_bits", ADC_SWEEP)):
            curves.append(robustness_curve(b.circuit, b.data, b.cfg, field, values, chips=sweep_k,
                                           seed=b.page.settings.chip_seed, solver=CHIP_SOLVER,
                                           progress=lambda i, n: bar.progress((done[0] + i) / total,
                                                                              text=f"chip {done[0] + i} of {total}")))
            done[0] += sweep_k * len(values)
        b.page.sweep = (key, curves, b.cfg.adc_range)
    except ERRORS as e:
        st.error(f"Robustness sweep stopped: {e}")
    bar.empty()


def _panel(curve: RobustnessCurve, title: str, x_title: str, scale: float = 1.0, **extra) -> dict:
    rows = curve.rows()
    return {"title": title, "x_title": x_title, "x": [r[curve.field] * scale for r in rows],
            "mean": [r["mean"] for r in rows], "p5": [r["p5"] for r in rows], "p95": [r["p95"] for r in rows],
            "worst": [r["worst"] for r in rows], "ideal": curve.ideal, **extra}


def _histogram(b: Bench, key: tuple) -> None:
    if b.page.mc is None:
        st.info("Press **Run Monte Carlo** to simulate K chips.")
        return
    found, result = b.page.mc
    if found != key:
        st.caption("From earlier settings; press Run Monte Carlo to update.")
    if not result.complete:
        st.warning(f"Stopped after {len(result.values)} of {result.requested} chips: a run may take "
                   f"{MC_BUDGET_S:.0f} s. The histogram shows those chips.")
    s = result.summary()
    st.plotly_chart(cv.mc_histogram(result.values, result.ideal, result.metric,
                                    1 / len(b.data.x_test) if result.metric == "accuracy" else None),
                    key="chip_mc_hist", width="stretch")
    sm = st.columns(4)
    sm[0].metric("Mean", metric_text(s["mean"], result.metric), help=f"± {s['std']:.3f} over {s['chips']} chips")
    for col, label, name in ((sm[1], "5th percentile", "p5"), (sm[2], "Worst chip", "worst"), (sm[3], "Ideal", "ideal")):
        col.metric(label, metric_text(s[name], result.metric))


def _curves(b: Bench, key: tuple) -> None:
    if b.page.sweep is None:
        st.info("Press **Robustness curves** for accuracy against device mismatch and against ADC resolution.")
        return
    found, (mis, adc), swept_range = b.page.sweep
    if found != key:
        st.caption("From earlier settings; press Robustness curves to update.")
    panels = [_panel(mis, "vs device mismatch", "mismatch σ (%)", 100.0, labels=[f"{100 * v:g}" for v in mis.values]),
              _panel(adc, f"vs ADC bits (range ± {swept_range:g} V)", "ADC bits")]
    st.plotly_chart(cv.robustness_figure(panels, mis.results[0].metric), key="chip_robust", width="stretch")
    st.caption(f"{mis.results[0].summary()['chips']} chips per point. Band: 5–95 % of the chips; dotted: "
               "the worst chip; dashed: the ideal circuit.")


def monte_carlo_section(b: Bench, chip_seconds: float) -> None:
    chip = b.page.settings
    st.divider()
    st.subheader("Monte Carlo over chip instances")
    st.caption("Every chip is the same design with its own mismatch, offsets and noise. The histogram shows how the "
               "test accuracy spreads over K chips with the settings above; the robustness curves sweep one setting "
               "(the same K chips at every point) with the others as set.")
    mc_cols = st.columns([1.4, 1.1, 1.1, 2], vertical_alignment="bottom")
    with mc_cols[0]:
        chip_controls.chips(chip)
    run_mc = mc_cols[1].button("Run Monte Carlo", key="chip_mc", type="primary", icon=":material/casino:",
                               disabled=b.cfg is None)
    n_points = len(MISMATCH_SWEEP) + len(ADC_SWEEP)
    sweep_k = int(min(chip.chips, 30, max(1, SWEEP_BUDGET_S // (n_points * max(chip_seconds, 1e-3)))))
    run_sweep = mc_cols[2].button("Robustness curves", key="chip_sweep", icon=":material/show_chart:",
                                  disabled=b.cfg is None,
                                  help=f"Device mismatch {', '.join(f'{v:.0%}' for v in MISMATCH_SWEEP)} and ADC bits "
                                       f"{', '.join(map(str, ADC_SWEEP))}: {sweep_k} chips each (K, at most 30, fewer "
                                       f"when one chip is slow)")
    mc_cols[3].caption(f"One chip takes about {chip_seconds:.2g} s here"
                       + (" (thermal noise: an SDE per chip)" if b.cfg is not None and b.cfg.thermal_noise else "")
                       + f"; a Monte Carlo run stops after {MC_BUDGET_S:.0f} s.")
    cfg_key = astuple(b.cfg) if b.cfg else None
    mc_key = ("mc", b.fp, b.data_key, cfg_key, chip.chips, chip.chip_seed)
    sweep_key = ("sweep", b.fp, b.data_key, cfg_key, sweep_k, chip.chip_seed)
    if run_mc and b.cfg is not None:
        _run_monte_carlo(b, mc_key)
    if run_sweep and b.cfg is not None:
        _run_sweep(b, sweep_key, sweep_k)
    h1, h2 = st.columns(2)
    with h1:
        _histogram(b, mc_key)
    with h2:
        _curves(b, sweep_key)


def energy_section(b: Bench, wall_solver: SolverConfig) -> None:
    st.divider()
    st.subheader("Energy and latency of one inference")
    chip = b.page.settings
    if b.cfg is None:
        st.info("Fix the chip settings above to see energy and latency.")
        return
    phys = ChipConfig(cap_fF=float(chip.cap_fF), current_uA=float(chip.current_uA))
    points = 400 if b.circuit.num_devices * b.circuit.max_width <= 200_000 else 50
    try:
        rep = b.page.memo.get(("energy", b.fp, b.data_key, chip.sample, phys.cap_fF, phys.current_uA),
                              lambda: energy(b.circuit, b.data.x_test[chip.sample], phys, points, wall_solver=wall_solver))
    except ERRORS as e:
        st.error(f"Could not compute the energy: {e}")
        return
    e1 = st.columns(3)
    e1[0].metric("Latency", si(rep.latency_s, "s"),
                 help=f"T = {b.circuit.t_end:g} model units × τ, τ = C / G = {phys.cap_fF:g} fF × 1 V / "
                      f"{phys.current_uA:g} µA = {phys.time_unit_s * 1e9:.3g} ns")
    e1[1].metric("Energy per inference", si(rep.total_J, "J"), help="Dissipated in the devices plus charging the input "
                                                                   "capacitors")
    e1[2].metric("This CPU, same forward pass", si(rep.wall_time_s, "s"),
                 help="Measured wall time of one forward pass of this input with the Train page's solver")
    e2 = st.columns(3)
    e2[0].metric("Dissipated in devices", si(rep.dissipated_J, "J"),
                 help="∫ Σ |I · ΔV| dt over every device during the transient")
    e2[1].metric("Charging the inputs", si(rep.input_charge_J, "J"), help="½ C v₀² per input capacitor")
    e2[2].metric("CPU time ÷ chip latency", f"{rep.speedup:,.0f} ×" if rep.speedup >= 10 else f"{rep.speedup:.2g} ×",
                 help="How many times longer this computer takes than the chip's transient")
    if rep.gpu_wall_time_s is not None:
        st.caption(f"On this machine's GPU the same forward pass took {si(rep.gpu_wall_time_s, 's')} "
                   f"({rep.gpu_speedup:,.0f} × the chip's latency).")
    st.caption(f"Units: J joules (1 fJ = 10⁻¹⁵ J, 1 pJ = 10⁻¹² J), s seconds (1 ns = 10⁻⁹ s). Energy of the "
               f"ideal circuit for test sample {chip.sample} with {phys.cap_fF:g} fF per node and {phys.current_uA:g} µA "
               f"per model current unit: {si(rep.total_J / max(rep.latency_s, 1e-30), 'W')} on average while "
               "it runs. Doubling the capacitance doubles both the energy and the latency; the CPU time does "
               "not change.")
