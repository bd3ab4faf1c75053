"""Chip page: the session's circuit as a simulated analog chip.

One inference on one chip instance (a die whose pads light up with the node voltages over
nanoseconds, an oscilloscope of the read-out nodes with the sampling instant and the ADC codes, the
ideal circuit beside it), Monte Carlo over many chip instances with robustness curves, and the energy
and latency of one inference in physical units. ``kirchhoff_core.chip`` does the physics; the page's
settings (``session.chip``) travel in the share link, and a classroom link can hide the mapping,
nonidealities, montecarlo and io groups.
"""

from __future__ import annotations

import streamlit as st

import state
from components import chip_controls, chip_results
from components.common import dataset, ensure_circuit, model_source, page_header, share_link

session = state.get_session()
page, chip = session.chip, session.chip.settings
hidden = state.hidden(session)

page_header(session, "chip", "Chip", "The circuit as an analog chip: capacitors in femtofarads, device currents in "
            "microamps, time in nanoseconds, and the imperfections real silicon adds — mismatch, thermal noise, "
            "converters, timing jitter, offsets and supply rails.", page.messages)

ensure_circuit(session)
circuit, _ = state.current_circuit(session)
source, trained = model_source(session)
st.write(f"Model: **{circuit.name or 'custom circuit'}** — {circuit.num_nodes} nodes, {circuit.num_devices} "
         f"devices, {len(circuit.slices)} slice(s); parameters {source}.")
if not trained:
    with st.columns([1, 2])[0]:
        chip_results.example(session, page.messages)

data = dataset(session, page.messages)
if data is None:
    st.warning(f"There is no dataset to run the chip on ({session.points_problem}). Pick a dataset or draw points "
               "on the Train page, or load a trained example.")
    if trained:
        chip_results.example(session, page.messages)
    st.stop()
if len(circuit.inputs) != data.n_features or len(circuit.outputs) != data.n_outputs:
    st.error(f"The circuit does not fit the data: {data.name} has {data.n_features} feature(s) and "
             f"{data.n_outputs} output(s), the circuit has {len(circuit.inputs)} input node(s) {circuit.inputs} and "
             f"{len(circuit.outputs)} read-out node(s) {circuit.outputs}. Fix the roles on the Train page, or load "
             "a trained example.")
    if trained:
        chip_results.example(session, page.messages)
    st.stop()

left, main = st.columns([1, 3.1], gap="medium")
with left:
    if "mapping" not in hidden:
        chip_controls.mapping(chip)
    if "nonidealities" not in hidden:
        chip_controls.nonidealities(chip)
    chip_controls.summary(chip, hidden)
    chip_controls.instance(chip, len(data.x_test))
try:
    cfg, refused = chip.chip_config(chip_results.SDE_STEPS), None
except ValueError as e:
    cfg, refused = None, str(e)

bench = chip_results.Bench(circuit, circuit.fingerprint(), data, session.data_key, cfg, page)
with main:
    chip_seconds = chip_results.inference(session, bench, refused)
if "montecarlo" not in hidden:
    chip_results.monte_carlo_section(bench, chip_seconds)
chip_results.energy_section(bench, session.config.solver_config())

query = state.publish(session, "chip")
if "io" not in hidden:
    st.divider()
    share_link(query, "chip", "the circuit (or the trained example), the dataset and every chip setting")
