"""Device I-V figures: pure functions from evaluated currents (``analysis.iv_curve`` / ``iv_surface``)
to plotly figures. Positive current flows from the device's src node to its dst node."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go


def iv_curve_figure(dv: np.ndarray, current: np.ndarray, title: str, vd: float = 0.0,
                    others: Sequence[np.ndarray] = (), height: int = 380) -> go.Figure:
    """I against Δv = v_s − v_d. ``others``: the curves of the device's parallel siblings (same src
    and dst), drawn faintly with their sum, since parallel devices act together."""
    fig = go.Figure()
    for k, other in enumerate(others):
        fig.add_trace(go.Scatter(x=dv, y=other, mode="lines", line=dict(color="#bbbbbb", width=1),
                                 name="parallel devices", legendgroup="others", showlegend=k == 0,
                                 hoverinfo="skip"))
    if len(others):
        total = np.sum(np.stack([current, *others]), axis=0)
        fig.add_trace(go.Scatter(x=dv, y=total, mode="lines", line=dict(color="#ff7f0e", width=2, dash="dash"),
                                 name=f"sum of the {len(others) + 1} parallel devices"))
    fig.add_trace(go.Scatter(x=dv, y=current, mode="lines", line=dict(color="#1f77b4", width=3),
                             name="this device"))
    fig.add_hline(y=0, line=dict(color="#888", width=1))
    fig.add_vline(x=0, line=dict(color="#888", width=1))
    fig.update_layout(title=dict(text=title, font=dict(size=13)), height=height,
                      margin=dict(l=10, r=10, t=50, b=10), showlegend=bool(len(others)),
                      legend=dict(orientation="h", y=-0.25),
                      xaxis_title=f"Δv = v_s − v_d  (v_d = {vd:g})", yaxis_title="current I (src → dst)")
    return fig


def iv_surface_figure(vs: np.ndarray, vd: np.ndarray, current: np.ndarray, title: str,
                      height: int = 380) -> go.Figure:
    """Heatmap of I(v_s, v_d), ``current`` shaped (len(vd), len(vs)), zero-centred colours, with the
    diagonal v_s = v_d where a difference-type device carries no (shifted) signal."""
    zmax = float(np.nanmax(np.abs(current))) if current.size else 1.0
    fig = go.Figure(go.Heatmap(x=vs, y=vd, z=current, colorscale="RdBu_r", zmid=0.0,
                               zmin=-zmax or None, zmax=zmax or None,
                               colorbar=dict(title="I"),
                               hovertemplate="v_s=%{x:.2f}<br>v_d=%{y:.2f}<br>I=%{z:.3g}<extra></extra>"))
    lo, hi = float(min(vs.min(), vd.min())), float(max(vs.max(), vd.max()))
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line=dict(color="black", dash="dot", width=1),
                             name="v_s = v_d", hoverinfo="skip", showlegend=False))
    fig.update_layout(title=dict(text=title, font=dict(size=13)), height=height,
                      margin=dict(l=10, r=10, t=50, b=10), xaxis_title="v_s", yaxis_title="v_d",
                      xaxis=dict(range=[float(vs.min()), float(vs.max())]),
                      yaxis=dict(range=[float(vd.min()), float(vd.max())], scaleanchor="x", scaleratio=1))
    return fig
