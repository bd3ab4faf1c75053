"""Build page views: the circuit drawing (click a device's arrow to open its I-V law in a dialog), the
zoomable network view for big circuits, and the device I-V inspector."""

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


def _clicked_pair(event) -> tuple[int, int] | None:
    """The (src, dst) pair carried by the drawing's arrow a click selected, if any."""
    points = (event.selection or {}).get("points", []) if event else []
    for p in points:
        pair = p.get("customdata")
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            return int(pair[0]), int(pair[1])
    return None


def _inspector_dialog(session: Session, circuit: Circuit, slice_index: int) -> None:
    """The inspector in a dialog, open until the user closes it (later reruns draw it again)."""
    b = session.build

    def body() -> None:
        inspector_section(session, circuit, slice_index, prefix=K + "dlg_")
        st.caption("The same inspector stays at the bottom of the page. Close this window with × or Esc.")

    st.dialog("Device I-V inspector", width="large", on_dismiss=lambda: setattr(b, "inspecting", False))(body)()


def circuit_section(session: Session, circuit: Circuit, slice_index: int) -> None:
    b = session.build
    c1, c2 = st.columns([2, 1])
    bound(c1.selectbox, "Layout", circuit_view.LAYOUTS, key=K + "layout", value=b.layout,
          on_set=lambda v: setattr(b, "layout", v),
          help="auto follows the generator's structure (ring, grid, layers, pixels) when it can")
    bound(c2.number_input, "Layout seed", 0, 10_000, key=K + "layout_seed", value=b.layout_seed,
          on_set=lambda v: setattr(b, "layout_seed", int(v)))
    st.markdown(f"**{circuit.name or 'circuit'}**")
    if not circuit_view.is_drawable(circuit, slice_index):
        st.plotly_chart(circuit_view.summary_figure(circuit, slice_index), key=K + "figure_summary",
                        config={"displaylogo": False})
        st.info("Too many nodes or node pairs to draw readably: the **Network view** below shows this slice as a "
                "zoomable force-directed graph instead.")
        return
    fig = circuit_view.circuit_figure(circuit, slice_index, positions=positions(circuit, b.layout, b.layout_seed))
    event = st.plotly_chart(fig, key=f"{K}figure_{b.figure_version}", on_select="rerun", selection_mode="points",
                            config={"displaylogo": False})
    pair = _clicked_pair(event)
    if pair is not None:
        s = circuit.slices[slice_index]
        found = np.flatnonzero((s.src == pair[0]) & (s.dst == pair[1]))
        if len(found):
            b.iv_device[slice_index], b.inspecting = int(found[0]), True
        b.figure_version += 1  # a fresh chart: no point stays selected, the next click counts again
        st.rerun()
    st.caption("Edge width: how many devices run in parallel from src to dst (the title gives the usual count; only "
               "other counts are labelled ×n); colour: sign of their mean p0; triangles point from src to dst "
               "(positive current). **Click a triangle** to open that device's I-V law.")
    if b.inspecting:
        _inspector_dialog(session, circuit, slice_index)


def _device_picker(session: Session, circuit: Circuit, slice_index: int, prefix: str = K) -> tuple[int, float]:
    """The device (by number, or the first between two nodes) and v_d for the curve."""
    b, s = session.build, circuit.slices[slice_index]
    E = s.num_devices
    pairs = circuit_view.device_pairs(circuit, slice_index)
    c1, c2, c3 = st.columns([1, 2, 1])
    if len(pairs) <= 500:
        first = {f"{u} → {v}": int(np.flatnonzero((s.src == u) & (s.dst == v))[0])
                 for u, v in zip(pairs.src.tolist(), pairs.dst.tolist())}
        bound(c2.selectbox, "Jump to the first device between", list(first), key=prefix + "iv_pair", value=None,
              on_set=lambda v: b.iv_device.__setitem__(slice_index, first[v]) if v in first else None,
              placeholder="src → dst")
    j = bound(c1.number_input, f"Device (0–{E - 1})", 0, E - 1, key=f"{prefix}iv_device_{slice_index}",
              value=min(b.iv_device.get(slice_index, 0), E - 1),
              on_set=lambda v: b.iv_device.__setitem__(slice_index, int(v)))
    vd = c3.slider("v_d for the curve", -2.0, 2.0, 0.0, 0.1, key=prefix + "iv_vd")
    return int(j), vd


def inspector_section(session: Session, circuit: Circuit, slice_index: int, prefix: str = K) -> None:
    """Pick a device (by number, or the first between two nodes) and see its law, its parameters, its
    current against the voltage drop and over the (v_s, v_d) plane. ``prefix`` keys the widgets (the
    dialog a click in the drawing opens has its own)."""
    s = circuit.slices[slice_index]
    if s.num_devices == 0:
        st.info(f"Slice {slice_index} has no devices.")
        return
    j, vd = _device_picker(session, circuit, slice_index, prefix)
    kind, src, dst = s.kind[j], int(s.src[j]), int(s.dst[j])
    params = s.params[j, : KINDS[kind].n_params].tolist()
    st.markdown(f"Device {j} of slice {slice_index}: **{src} → {dst}**, {display_name(kind)}")
    st.latex(r"I = " + KINDS[kind].formula + r"\qquad " + r",\;".join(f"p_{c} = {p:.4g}" for c, p in enumerate(params)))
    siblings = [int(x) for x in np.flatnonzero((s.src == src) & (s.dst == dst)) if x != j]
    overlay = False
    if siblings:
        overlay = st.checkbox(f"Show the {len(siblings)} other parallel device(s) {src} → {dst} and their sum",
                              key=prefix + "iv_overlay")
    dv = np.linspace(-3.0, 3.0, 241)
    current = analysis.iv_curve(kind, params, dv, vd=vd)
    others = [analysis.iv_curve(s.kind[k], s.params[k].tolist(), dv, vd=vd) for k in siblings[:100]] if overlay else []
    grid = np.linspace(-2.0, 2.0, 81)
    surface = analysis.iv_surface(kind, params, grid, grid)
    left, right = st.columns(2)
    left.plotly_chart(iv_view.iv_curve_figure(dv, current, f"I(Δv) of device {j}", vd=vd, others=others),
                      key=prefix + "iv_curve")
    right.plotly_chart(iv_view.iv_surface_figure(grid, grid, surface, f"I(v_s, v_d) of device {j}"),
                       key=prefix + "iv_surface")
