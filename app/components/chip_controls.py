"""Chip page controls, bound to the session's ``ChipSettings`` (so they survive leaving the page and
travel in the share link). Groups a classroom link can hide: mapping, nonidealities."""

from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from settings import ChipSettings
from state import bound

BITS = ["off"] + list(range(1, 17))
NOISE_SCALES = [1, 3, 10, 30, 100, 300, 1000]


def _w(chip: ChipSettings, widget: Callable, label: str, *args: Any, key: str, attr: str,
       to: Callable[[Any], Any] = lambda v: v, shown: Callable[[Any], Any] = lambda v: v, **kwargs: Any) -> Any:
    """``widget`` bound to ``chip.attr`` (``shown``: setting -> widget value, ``to``: the way back)."""
    return bound(widget, label, *args, key=key, value=shown(getattr(chip, attr)),
                 on_set=lambda v: setattr(chip, attr, to(v)), **kwargs)


def _scaled(factor: float) -> dict[str, Callable[[Any], Any]]:
    """A widget in percent (100) or millivolts (1000) of a setting kept in the core's units."""
    return {"shown": lambda v: round(v * factor, 9), "to": lambda v: float(v) / factor}


def _bits(chip: ChipSettings, col, label: str, attr: str, key: str, help_text: str) -> None:
    _w(chip, col.select_slider, label, BITS, key=key, attr=attr, to=lambda v: None if v == "off" else int(v),
       shown=lambda v: "off" if v is None else int(v), help=help_text)


def mapping(chip: ChipSettings) -> None:
    st.markdown("**Physical mapping**")
    _w(chip, st.number_input, "Node capacitance (fF)", step=1.0, format="%g", key="chip_cap", attr="cap_fF",
       help="Every node's capacitor to ground; the model's C = 1 becomes this")
    _w(chip, st.number_input, "Current per model unit (µA)", step=1.0, format="%g", key="chip_cur", attr="current_uA",
       help="A device current of 1 in model units becomes this many µA")
    _w(chip, st.toggle, "Supply rails", key="chip_rails", attr="rails",
       help="Node voltages cannot leave ±supply: clipped, or softly saturated (tanh)")
    if chip.rails:
        r1, r2 = st.columns(2)
        _w(chip, r1.number_input, "Supply (± V)", step=0.1, format="%g", key="chip_supply", attr="supply")
        _w(chip, r2.radio, "Rail", ["clip", "soft"], key="chip_rail_mode", attr="rail_mode", horizontal=True)


def nonidealities(chip: ChipSettings) -> None:
    st.markdown("**Non-idealities**")
    _w(chip, st.slider, "Device mismatch σ (%)", 0.0, 100.0, step=0.5, key="chip_mismatch", attr="device_mismatch",
       help="Relative spread of every device parameter, drawn once per chip", **_scaled(100))
    _w(chip, st.slider, "Capacitor mismatch σ (%)", 0.0, 29.0, step=0.5, key="chip_cap_mismatch",
       attr="cap_mismatch", help="Relative spread of every node capacitor, drawn once per chip", **_scaled(100))
    _w(chip, st.toggle, "Thermal noise (kT/C)", key="chip_noise", attr="thermal_noise",
       help="White noise on every node during the transient (an SDE); slower to simulate")
    n1, n2 = st.columns(2)
    _w(chip, n1.select_slider, "Noise × physical", NOISE_SCALES, key="chip_noise_scale", attr="noise_scale",
       shown=lambda v: int(v) if v in NOISE_SCALES else 1, to=float, disabled=not chip.thermal_noise, help="kT/C at 10 fF is about 0.6 mV rms; scale it up to see it")
    _w(chip, n2.slider, "Temperature (K)", 1.0, 500.0, step=1.0, key="chip_temp", attr="temperature_K",
       disabled=not chip.thermal_noise)
    d1, d2 = st.columns(2)
    _bits(chip, d1, "DAC bits", "dac_bits", "chip_dac_bits", "Inputs are written through a DAC of this resolution")
    _w(chip, d2.slider, "DAC range (± V)", 0.25, 8.0, step=0.25, key="chip_dac_range", attr="dac_range")
    a1, a2 = st.columns(2)
    _bits(chip, a1, "ADC bits", "adc_bits", "chip_adc_bits", "The read-out is digitised by an ADC of this resolution")
    _w(chip, a2.slider, "ADC range (± V)", 0.25, 8.0, step=0.25, key="chip_adc_range", attr="adc_range")
    _w(chip, st.slider, "Sampling jitter σ (% of T)", 0.0, 20.0, step=0.5, key="chip_jitter", attr="jitter",
       help="The read-out instant moves by this spread", **_scaled(100))
    o1, o2 = st.columns(2)
    _w(chip, o1.slider, "Input offset σ (mV)", 0.0, 300.0, step=5.0, key="chip_in_off", attr="input_offset",
       **_scaled(1000))
    _w(chip, o2.slider, "Read-out offset σ (mV)", 0.0, 300.0, step=5.0, key="chip_out_off", attr="readout_offset",
       **_scaled(1000))


def instance(chip: ChipSettings, n_test: int) -> None:
    st.markdown("**Instance and input**")
    s1, s2 = st.columns(2)
    _w(chip, s1.number_input, "Chip instance (seed)", 0, 2**31 - 1, key="chip_seed", attr="chip_seed", to=int,
       help="Which manufactured chip: its mismatch, offsets and noise draws")
    if chip.sample > n_test - 1:
        chip.sample = 0
    _w(chip, s2.number_input, "Test sample", 0, n_test - 1, key="chip_idx", attr="sample", to=int)


def chips(chip: ChipSettings) -> None:
    _w(chip, st.slider, "Chips (K)", 1, 200, key="chip_k", attr="chips", to=int)


def summary(chip: ChipSettings, hidden: set[str]) -> None:
    """What the hidden groups are set to, in one line."""
    parts = []
    if "mapping" in hidden:
        parts.append(f"{chip.cap_fF:g} fF nodes, {chip.current_uA:g} µA per current unit"
                     + (f", ±{chip.supply:g} V rails ({chip.rail_mode})" if chip.rails else ""))
    if "nonidealities" in hidden:
        parts.append(f"device mismatch {100 * chip.device_mismatch:g} %, ADC "
                     + ("off" if chip.adc_bits is None else f"{chip.adc_bits} bits"))
    if parts:
        st.caption("Fixed by the link: " + "; ".join(parts) + ".")
