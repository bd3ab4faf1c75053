"""The Train page's Compare view: several runs' loss and accuracy (or R²) curves overlaid.

Pure: ``kirchhoff_core.runs.Run`` objects in, a plotly figure out. One colour per run; train solid,
test dotted, as on the Train page's own curves.
"""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from kirchhoff_core.runs import Run


def compare_figure(runs: Sequence[Run], height: int = 420) -> go.Figure:
    """Loss (top) and the metric (bottom) of every run against epoch."""
    metric = runs[0].metric if runs else "accuracy"
    title = "accuracy" if metric == "accuracy" else "R²" if metric == "r2" else metric
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=("loss: train ── test ┄┄", f"{title}: train ── test ┄┄"))
    for i, run in enumerate(runs):
        colour = qualitative.Plotly[i % len(qualitative.Plotly)]
        steps = run.column("step")
        for row, key in ((1, "loss"), (2, "metric")):
            for part, dash in (("train", "solid"), ("test", "dot")):
                fig.add_trace(go.Scatter(x=steps, y=run.column(f"{part}_{key}"), mode="lines",
                                         name=run.label, legendgroup=run.label,
                                         showlegend=row == 1 and part == "train",
                                         line=dict(color=colour, dash=dash, width=2),
                                         hovertemplate=f"{run.label} {part} {key}<br>epoch %{{x}}: %{{y:.4g}}"
                                                       "<extra></extra>"), row=row, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    if metric == "accuracy":
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=2, col=1)
    fig.update_xaxes(title_text="epoch", row=2, col=1)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=height, margin=dict(l=8, r=8, t=28, b=8), hovermode="x unified",
                      legend=dict(orientation="h", y=-0.14))
    return fig
