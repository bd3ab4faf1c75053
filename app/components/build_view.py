"""Build page views: the circuit drawing and the device I-V inspector."""

from __future__ import annotations

import numpy as np
import streamlit as st

from components.build_common import positions
from kirchhoff_core import analysis
from kirchhoff_core.circuit import Circuit
from kirchhoff_core.devices import KINDS, display_name
from state import Session, bound
from views import circuit_view, iv_view

K = "build_"


def circuit_section(session: Session, circuit: Circuit, slice_index: int) -> None:
    b = session.build
    c1, c2 = st.columns([2, 1])
    bound(c1.selectbox, "Layout", circuit_view.LAYOUTS, key=K + "layout", value=b.layout,
          on_set=lambda v: setattr(b, "layout", v),
          help="auto follows the generator's structure (ring, grid, layers, pixels) when it can")
    bound(c2.number_input, "Layout seed", 0, 10_000, key=K + "layout_seed", value=b.layout_seed,
          on_set=lambda v: setattr(b, "layout_seed", int(v)))
    if circuit_view.is_drawable(circuit, slice_index):
        fig = circuit_view.circuit_figure(circuit, slice_index, positions=positions(circuit, b.layout, b.layout_seed))
    else:
        fig = circuit_view.summary_figure(circuit, slice_index)
    st.markdown(f"**{circuit.name or 'circuit'}**")
    st.plotly_chart(fig, key=K + "figure", config={"displaylogo": False})
    st.caption("Edge width and ×n: parallel devices between the two nodes; colour: sign of their mean p0; "
               "triangles point from src to dst (positive current).")


def _device_picker(session: Session, circuit: Circuit, slice_index: int) -> tuple[int, float]:
    """The device (by number, or the first between two nodes) and v_d for the curve."""
    b, s = session.build, circuit.slices[slice_index]
    E = s.num_devices
    pairs = circuit_view.device_pairs(circuit, slice_index)
    c1, c2, c3 = st.columns([1, 2, 1])
    if len(pairs) <= 500:
        first = {f"{u} → {v}": int(np.flatnonzero((s.src == u) & (s.dst == v))[0])
                 for u, v in zip(pairs.src.tolist(), pairs.dst.tolist())}
        bound(c2.selectbox, "Jump to the first device between", list(first), key=K + "iv_pair", value=None,
              on_set=lambda v: b.iv_device.__setitem__(slice_index, first[v]) if v in first else None,
              placeholder="src → dst")
    j = bound(c1.number_input, f"Device (0–{E - 1})", 0, E - 1, key=f"{K}iv_device_{slice_index}",
              value=min(b.iv_device.get(slice_index, 0), E - 1),
              on_set=lambda v: b.iv_device.__setitem__(slice_index, int(v)))
    vd = c3.slider("v_d for the curve", -2.0, 2.0, 0.0, 0.1, key=K + "iv_vd")
    return int(j), vd


def inspector_section(session: Session, circuit: Circuit, slice_index: int) -> None:
    s = circuit.slices[slice_index]
    if s.num_devices == 0:
        st.info(f"Slice {slice_index} has no devices.")
        return
    j, vd = _device_picker(session, circuit, slice_index)
    kind, src, dst = s.kind[j], int(s.src[j]), int(s.dst[j])
    params = s.params[j, : KINDS[kind].n_params].tolist()
    st.markdown(f"Device {j} of slice {slice_index}: **{src} → {dst}**, {display_name(kind)}")
    st.latex(r"I = " + KINDS[kind].formula + r"\qquad " + r",\;".join(f"p_{c} = {p:.4g}" for c, p in enumerate(params)))
    siblings = [int(x) for x in np.flatnonzero((s.src == src) & (s.dst == dst)) if x != j]
    overlay = False
    if siblings:
        overlay = st.checkbox(f"Show the {len(siblings)} other parallel device(s) {src} → {dst} and their sum",
                              key=K + "iv_overlay")
    dv = np.linspace(-3.0, 3.0, 241)
    current = analysis.iv_curve(kind, params, dv, vd=vd)
    others = [analysis.iv_curve(s.kind[k], s.params[k].tolist(), dv, vd=vd) for k in siblings[:100]] if overlay else []
    grid = np.linspace(-2.0, 2.0, 81)
    surface = analysis.iv_surface(kind, params, grid, grid)
    left, right = st.columns(2)
    left.plotly_chart(iv_view.iv_curve_figure(dv, current, f"I(Δv) of device {j}", vd=vd, others=others),
                      key=K + "iv_curve")
    right.plotly_chart(iv_view.iv_surface_figure(grid, grid, surface, f"I(v_s, v_d) of device {j}"),
                       key=K + "iv_surface")
