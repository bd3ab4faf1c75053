"""Figures for the Verify-in-SPICE page: pure functions, data in, plotly figure out."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from kirchhoff_core.spice import Comparison


def overlay_figure(cmp: Comparison, outputs: list[int], boundaries: list[float]) -> go.Figure:
    """Every node's torch trajectory (line) with the ngspice samples on top (markers)."""
    fig = go.Figure()
    palette = qualitative.Plotly
    for n in range(cmp.torch.shape[1]):
        colour = palette[n % len(palette)]
        name = f"v{n + 1}" + (" (read-out)" if n + 1 in outputs else "")
        width = 3 if n + 1 in outputs else 1.5
        fig.add_scatter(x=cmp.times, y=cmp.torch[:, n], mode="lines", name=f"{name} torch",
                        line=dict(color=colour, width=width), legendgroup=name)
        step = max(1, len(cmp.times) // 60)
        fig.add_scatter(x=cmp.times[::step], y=cmp.spice[::step, n], mode="markers", name=f"{name} ngspice",
                        marker=dict(color=colour, symbol="circle-open", size=7), legendgroup=name)
    for t in boundaries[1:-1]:
        fig.add_vline(x=t, line_dash="dot", line_color="grey")
    fig.update_layout(xaxis_title="time (model units)", yaxis_title="voltage (V)", height=460,
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(font=dict(size=10)))
    return fig


def error_table(cmp: Comparison, outputs: list[int]) -> dict[str, list]:
    """Rows for st.dataframe: per node, the largest |ngspice - torch| over time."""
    nodes = list(range(1, len(cmp.max_abs_per_node) + 1))
    return {"node": [f"v{n}" for n in nodes],
            "role": ["read-out" if n in outputs else "" for n in nodes],
            "max |Δv| (V)": [float(d) for d in cmp.max_abs_per_node],
            "final ngspice (V)": [float(v) for v in cmp.spice[-1]],
            "final torch (V)": [float(v) for v in cmp.torch[-1]]}


def agreement_figure(spice_cls: np.ndarray, torch_cls: np.ndarray) -> go.Figure:
    """Predicted classes side by side for the checked samples."""
    fig = go.Figure()
    idx = np.arange(len(spice_cls))
    fig.add_scatter(x=idx, y=torch_cls, mode="markers", name="torch", marker=dict(size=9, symbol="circle-open"))
    fig.add_scatter(x=idx, y=spice_cls, mode="markers", name="ngspice", marker=dict(size=5))
    fig.update_layout(xaxis_title="test sample", yaxis_title="predicted class", height=260,
                      margin=dict(l=10, r=10, t=10, b=10), yaxis=dict(dtick=1))
    return fig
