"""Figures for the Train page: pure functions, arrays in, plotly figures out.

Nothing here evaluates a model or touches session state; the numbers come from
``kirchhoff_core.analysis`` and the page passes them in. Colours follow TensorFlow Playground:
class 0 orange, class 1 blue, negative voltages orange and positive ones blue.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

CLASS_COLOURS = ("#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf")
DIVERGING = [[0.0, "#f59322"], [0.5, "#e8eaeb"], [1.0, "#0877bd"]]
"""Orange (low / class 0) through light grey to blue (high / class 1)."""
_MARGIN = dict(l=8, r=8, t=28, b=8)


def class_colour(label: int) -> str:
    return CLASS_COLOURS[int(label) % len(CLASS_COLOURS)]


def _rgb(hex_colour: str) -> np.ndarray:
    h = hex_colour.lstrip("#")
    return np.array([int(h[i: i + 2], 16) for i in (0, 2, 4)], dtype=np.float64)


def _square_axes(fig: go.Figure, xs: Sequence[float], ys: Sequence[float], row=None, col=None,
                 ticks: bool = True) -> None:
    """Fix the ranges to the grid (no autoscale jumps between frames) and keep x and y to scale."""
    fig.update_xaxes(range=[float(xs[0]), float(xs[-1])], showgrid=False, zeroline=False, showticklabels=ticks,
                     constrain="domain", row=row, col=col)
    fig.update_yaxes(range=[float(ys[0]), float(ys[-1])], showgrid=False, zeroline=False, showticklabels=ticks,
                     scaleanchor="x" if row is None else None, constrain="domain", row=row, col=col)


def _class_points(fig: go.Figure, x: np.ndarray, y: np.ndarray, name: str, test: bool = False,
                  size: int = 6, row=None, col=None, legend: bool = True) -> None:
    for c in np.unique(y):
        pts = x[y == c]
        fig.add_trace(go.Scatter(
            x=pts[:, 0], y=pts[:, 1], mode="markers", name=f"{name} · class {int(c)}", legendgroup=name,
            showlegend=legend,
            marker=dict(size=size, color="white" if test else class_colour(c),
                        line=dict(width=1.5 if test else 0.8, color=class_colour(c) if test else "white"),
                        symbol="circle"),
            hovertemplate=f"{name} class {int(c)}<br>x1=%{{x:.2f}}<br>x2=%{{y:.2f}}<extra></extra>"),
            row=row, col=col)


# --- dataset thumbnails --------------------------------------------------------------------------

def dataset_thumbnails(sets: Sequence[tuple[str, np.ndarray, np.ndarray, str]], cols: int = 3,
                       selected: str | None = None) -> go.Figure:
    """Small scatter plots of each set: (name, x, y, task). 1-D sets plot y against x, 2-D
    regression colours points by target, sets with more than two features get a label only."""
    rows = math.ceil(len(sets) / cols)
    titles = [f"<b>{n}</b>" if n == selected else n for n, *_ in sets]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.04,
                        vertical_spacing=0.12)
    for i, (name, x, y, task) in enumerate(sets):
        r, c = i // cols + 1, i % cols + 1
        if x.shape[1] == 1:
            fig.add_trace(go.Scatter(x=x[:, 0], y=np.asarray(y).reshape(-1), mode="markers",
                                     marker=dict(size=2.5, color="#0877bd"), hoverinfo="skip"), row=r, col=c)
        elif x.shape[1] == 2 and task == "classification":
            fig.add_trace(go.Scatter(x=x[:, 0], y=x[:, 1], mode="markers", hoverinfo="skip",
                                     marker=dict(size=2.5, color=[class_colour(v) for v in y])), row=r, col=c)
        elif x.shape[1] == 2:
            fig.add_trace(go.Scatter(x=x[:, 0], y=x[:, 1], mode="markers", hoverinfo="skip",
                                     marker=dict(size=2.5, color=np.asarray(y).reshape(-1), colorscale=DIVERGING)),
                          row=r, col=c)
        else:
            suffix = "" if i == 0 else str(i + 1)  # paper coordinates: plotly.js misplaces "x9 domain" here
            xd, yd = fig.layout[f"xaxis{suffix}"].domain, fig.layout[f"yaxis{suffix}"].domain
            fig.add_annotation(text=f"{x.shape[1]}-D<br>inputs", showarrow=False, xref="paper", yref="paper",
                               x=(xd[0] + xd[1]) / 2, y=(yd[0] + yd[1]) / 2, font=dict(size=12, color="#666"))
        fig.update_xaxes(visible=False, row=r, col=c)
        fig.update_yaxes(visible=False, row=r, col=c)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=95 * rows + 20, margin=dict(l=0, r=0, t=20, b=0), showlegend=False,
                      plot_bgcolor="#fafafa")
    return fig


# --- drawing your own points ---------------------------------------------------------------------

def draw_figure(points: Sequence[tuple[float, float, int]], bounds: tuple[float, float] = (-2.5, 2.5),
                step: float = 0.1) -> go.Figure:
    """A canvas for clicking points in: an invisible lattice of click targets (trace 0) under the points.

    Plotly only reports clicks on data points, so the lattice turns a click anywhere into the nearest
    lattice point; a box selection reports its corners.
    """
    lo, hi = bounds
    ticks = np.round(np.arange(lo, hi + step / 2, step), 6)
    gx, gy = np.meshgrid(ticks, ticks)
    fig = go.Figure(go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", name="canvas", showlegend=False,
                               marker=dict(size=7, color="rgba(0,0,0,0)"), hoverinfo="none"))
    if len(points):
        p = np.asarray(points, dtype=np.float64)
        _class_points(fig, p[:, :2], p[:, 2].astype(int), "point", size=8)
    # No dragmode here: Streamlit only turns a click into a point selection while dragmode is not
    # "select"/"lasso" (it then sets clickmode "event+select"); the box tool stays in the toolbar.
    fig.update_layout(height=360, margin=_MARGIN, legend=dict(orientation="h", y=-0.05), plot_bgcolor="#fafafa")
    _square_axes(fig, [lo, hi], [lo, hi])
    return fig


# --- live training curves ------------------------------------------------------------------------

def curves_figure(series: dict[str, np.ndarray], metric: str, height: int = 430) -> go.Figure:
    """Loss, accuracy or R^2, and solver work (NFE per step, wall time per epoch) against epoch, stacked."""
    metric_title = "accuracy" if metric == "accuracy" else "R²"
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.09,
                        subplot_titles=("loss: train ── test ┄┄", f"{metric_title}: train ── test ┄┄",
                                        "solver: NFE/step (fwd, bwd), s/epoch"),
                        specs=[[{}], [{}], [{"secondary_y": True}]])
    e = series["epoch"]
    mode = "lines+markers" if len(e) < 30 else "lines"
    lines = [("train_loss", "train loss", 1, "#333", "solid"), ("test_loss", "test loss", 1, "#333", "dot"),
             ("train_metric", f"train {metric_title}", 2, "#0877bd", "solid"),
             ("test_metric", f"test {metric_title}", 2, "#0877bd", "dot"),
             ("nfe_forward_per_step", "NFE forward / step", 3, "#2ca02c", "solid"),
             ("nfe_backward_per_step", "NFE backward / step", 3, "#9467bd", "solid")]
    for key, name, row, colour, dash in lines:
        fig.add_trace(go.Scatter(x=e, y=series[key], name=name, mode=mode, line=dict(color=colour, dash=dash),
                                 marker=dict(size=4)), row=row, col=1)
    fig.add_trace(go.Scatter(x=e, y=series["wall_time"], name="wall time / epoch (s)", mode="lines",
                             line=dict(color="#f59322", dash="dash")), row=3, col=1, secondary_y=True)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    if metric == "accuracy":
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=2, col=1)
    fig.update_yaxes(rangemode="tozero", row=3, col=1, secondary_y=False)
    fig.update_yaxes(rangemode="tozero", row=3, col=1, secondary_y=True, showgrid=False, ticksuffix=" s")
    fig.update_xaxes(title_text="epoch", row=3, col=1)
    fig.update_xaxes(tick0=0, dtick=max(1, math.ceil(len(e) / 6)))  # whole epochs only
    fig.update_annotations(font_size=11)
    fig.update_layout(height=height, margin=dict(l=8, r=8, t=24, b=8), uirevision="curves", showlegend=False,
                      hovermode="x unified")
    return fig


# --- what the circuit computes over the input plane ----------------------------------------------

def boundary_figure(xs: np.ndarray, ys: np.ndarray, probs: np.ndarray, x_train: np.ndarray,
                    y_train: np.ndarray, x_test: np.ndarray | None = None, y_test: np.ndarray | None = None,
                    discretise: bool = False, title: str = "") -> go.Figure:
    """Decision regions: P(class 1) for two classes, colours mixed by probability for more
    (``discretise``: hard class of the largest probability). Test points are hollow."""
    k = probs.shape[-1]
    fig = go.Figure()
    if k == 2:
        z = probs[..., 1]
        if discretise:
            z = (z > 0.5).astype(np.float64)
        fig.add_trace(go.Heatmap(x=xs, y=ys, z=z, zmin=0, zmax=1, colorscale=DIVERGING, opacity=0.85,
                                 colorbar=dict(title="P(1)", thickness=10, len=0.8),
                                 hovertemplate="x1=%{x:.2f}<br>x2=%{y:.2f}<br>P(class 1)=%{z:.2f}<extra></extra>"))
    else:
        weights = probs
        if discretise:
            weights = (probs == probs.max(-1, keepdims=True)).astype(np.float64)
            weights /= weights.sum(-1, keepdims=True)
        palette = np.stack([_rgb(class_colour(c)) for c in range(k)])
        rgb = 0.55 * (weights @ palette) + 0.45 * 255
        dx = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
        dy = float(ys[1] - ys[0]) if len(ys) > 1 else 1.0
        fig.add_trace(go.Image(z=np.clip(rgb, 0, 255).astype(np.uint8), x0=float(xs[0]), dx=dx, y0=float(ys[0]),
                               dy=dy, hoverinfo="skip"))
    _class_points(fig, x_train, y_train, "train")
    if x_test is not None and y_test is not None:
        _class_points(fig, x_test, y_test, "test", test=True)
    fig.update_layout(height=420, margin=_MARGIN, title=dict(text=title, font=dict(size=13)),
                      legend=dict(orientation="h", y=-0.08, font=dict(size=10)), uirevision="boundary")
    _square_axes(fig, xs, ys)
    return fig


def regression_curve_figure(xs: np.ndarray, pred: np.ndarray, x_train: np.ndarray, y_train: np.ndarray,
                            x_test: np.ndarray | None = None, y_test: np.ndarray | None = None,
                            title: str = "") -> go.Figure:
    """A 1-D regression: data points and the circuit's read-out voltage against the input."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x_train[:, 0], y=np.asarray(y_train)[:, 0], mode="markers", name="train",
                             marker=dict(size=5, color="#0877bd", opacity=0.6)))
    if x_test is not None and y_test is not None:
        fig.add_trace(go.Scatter(x=x_test[:, 0], y=np.asarray(y_test)[:, 0], mode="markers", name="test",
                                 marker=dict(size=6, color="white", line=dict(color="#0877bd", width=1.5))))
    for j in range(pred.shape[1]):
        fig.add_trace(go.Scatter(x=xs[:, 0], y=pred[:, j], mode="lines", name=f"circuit output {j}",
                                 line=dict(color="#f59322", width=3)))
    fig.update_layout(height=420, margin=_MARGIN, title=dict(text=title, font=dict(size=13)),
                      xaxis_title="input voltage", yaxis_title="output", uirevision="curve",
                      legend=dict(orientation="h", y=-0.15))
    fig.update_xaxes(range=[float(xs[0, 0]), float(xs[-1, 0])])
    return fig


def regression_surface_figure(xs: np.ndarray, ys: np.ndarray, pred: np.ndarray, x_train: np.ndarray,
                              y_train: np.ndarray, x_test: np.ndarray | None = None,
                              y_test: np.ndarray | None = None, title: str = "") -> go.Figure:
    """A 2-D regression: the predicted surface as a heatmap with the data coloured on the same scale."""
    y_all = np.asarray(y_train)[:, 0]
    lim = float(max(np.abs(y_all).max(), 1e-9))
    fig = go.Figure(go.Heatmap(x=xs, y=ys, z=pred[..., 0], zmin=-lim, zmax=lim, colorscale=DIVERGING,
                               colorbar=dict(title="output", thickness=10, len=0.8)))
    sets = [("train", x_train, y_all, False)]
    if x_test is not None and y_test is not None:
        sets.append(("test", x_test, np.asarray(y_test)[:, 0], True))
    for name, x, y, hollow in sets:
        fig.add_trace(go.Scatter(x=x[:, 0], y=x[:, 1], mode="markers", name=name, marker=dict(
            size=6, color=y, cmin=-lim, cmax=lim, colorscale=DIVERGING,
            line=dict(width=1.5 if hollow else 0.6, color="black" if hollow else "white"))))
    fig.update_layout(height=420, margin=_MARGIN, title=dict(text=title, font=dict(size=13)),
                      legend=dict(orientation="h", y=-0.08), uirevision="surface")
    _square_axes(fig, xs, ys)
    return fig


def node_curves_figure(xs: np.ndarray, volts: np.ndarray, roles: Sequence[str], max_nodes: int = 16) -> go.Figure:
    """For a 1-D input: each node's voltage at T against the input voltage."""
    fig = go.Figure()
    for i in range(min(volts.shape[-1], max_nodes)):
        fig.add_trace(go.Scatter(x=xs[:, 0], y=volts[:, i], mode="lines", name=f"node {i + 1} · {roles[i]}",
                                 line=dict(width=3 if "out" in roles[i] else 1.5)))
    fig.update_layout(height=300, margin=_MARGIN, xaxis_title="input voltage", yaxis_title="v(T)",
                      uirevision="node-curves")
    return fig
