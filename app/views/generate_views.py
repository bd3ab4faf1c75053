"""Figures for the Generate page: pure functions, arrays in, plotly figures out.

The numbers come from ``kirchhoff_core.flow_analysis`` (densities on a grid, frames of the flow,
vector fields); nothing here evaluates a circuit or touches session state. Densities are drawn as
p (not log p) from white to blue on one colour scale shared by every panel of a figure, samples in
the house orange, the vector field as short dark arrows.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from views.animation import add_animation

DENSITY_SCALE = [[0.0, "#ffffff"], [0.25, "#c6dbef"], [0.6, "#0877bd"], [1.0, "#08306b"]]
"""White (zero density) through the house blue to dark blue."""
SAMPLE_COLOUR = "#f59322"
TARGET_COLOUR = "#7f7f7f"
ARROW_COLOUR = "#333333"
_MARGIN = dict(l=8, r=8, t=36, b=8)


def density_zmax(*densities: np.ndarray, quantile: float = 0.995) -> float:
    """Top of the shared colour scale: a high quantile of all values (one spike would wash out the
    rest), never below a tenth of the largest value and never zero."""
    vals = np.concatenate([np.asarray(d, dtype=np.float64).ravel() for d in densities])
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return 1.0
    top = max(float(np.quantile(vals, quantile)), 0.1 * float(vals.max()))
    return top if top > 0 else 1.0


def _fix_axes(fig: go.Figure, box: float, row=None, col=None, ticks: bool = True) -> None:
    """Fixed square window: no autoscale jumps between frames, x and y to scale."""
    fig.update_xaxes(range=[-box, box], showgrid=False, zeroline=False, showticklabels=ticks, constrain="domain",
                     row=row, col=col)
    fig.update_yaxes(range=[-box, box], showgrid=False, zeroline=False, showticklabels=ticks, constrain="domain",
                     row=row, col=col)


def _heatmap(xs: np.ndarray, ys: np.ndarray, p: np.ndarray, zmax: float, name: str, coloraxis: str | None = None,
             opacity: float = 1.0) -> go.Heatmap:
    kw = dict(coloraxis=coloraxis) if coloraxis else dict(colorscale=DENSITY_SCALE, zmin=0.0, zmax=zmax,
                                                          colorbar=dict(title="p", thickness=12, len=0.8))
    return go.Heatmap(x=xs, y=ys, z=np.nan_to_num(np.asarray(p, dtype=np.float64), nan=0.0, posinf=zmax),
                      zsmooth="best", name=name, opacity=opacity, hovertemplate=f"{name}<br>x1=%{{x:.2f}}<br>x2=%{{y:.2f}}"
                      "<br>p=%{z:.3g}<extra></extra>", **kw)


def _points(x: np.ndarray, name: str, colour: str, size: float = 3.5, opacity: float = 0.8,
            legend: bool = False, gl: bool = False) -> go.Scatter | go.Scattergl:
    x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    return (go.Scattergl if gl else go.Scatter)(x=x[:, 0], y=x[:, 1], mode="markers", name=name, showlegend=legend,
                      marker=dict(size=size, color=colour, opacity=opacity, line=dict(width=0)),
                      hovertemplate=f"{name}<br>x1=%{{x:.2f}}<br>x2=%{{y:.2f}}<extra></extra>")


# --- side by side: target density, model density, samples -------------------------------------------

def overview_figure(xs: np.ndarray, ys: np.ndarray, target_p: np.ndarray, model_logp: np.ndarray,
                    samples: np.ndarray, box: float, target_samples: np.ndarray | None = None,
                    titles: Sequence[str] = ("target density", "model density (exact log-likelihood)",
                                             "model samples"),
                    height: int = 340) -> go.Figure:
    """Three square panels: the target's density, the model's density exp(log p) on the same
    colour scale, and samples from the model (over faint target samples, if given)."""
    model_p = np.exp(np.clip(np.asarray(model_logp, dtype=np.float64), -700, 700))
    zmax = density_zmax(target_p, model_p)
    fig = make_subplots(rows=1, cols=3, subplot_titles=list(titles), horizontal_spacing=0.04)
    fig.add_trace(_heatmap(xs, ys, target_p, zmax, "target", "coloraxis"), row=1, col=1)
    fig.add_trace(_heatmap(xs, ys, model_p, zmax, "model", "coloraxis"), row=1, col=2)
    if target_samples is not None and len(target_samples):
        fig.add_trace(_points(target_samples, "target samples", TARGET_COLOUR, size=3, opacity=0.35, legend=True),
                      row=1, col=3)
    fig.add_trace(_points(samples, "model samples", SAMPLE_COLOUR, legend=True), row=1, col=3)
    for c in (1, 2, 3):
        _fix_axes(fig, box, row=1, col=c, ticks=c == 1)
    # One scaleanchor per panel keeps each square without tying the panels' zoom together.
    for c, (xa, ya) in enumerate((("x", "y"), ("x2", "y2"), ("x3", "y3")), start=1):
        fig.update_yaxes(scaleanchor=xa, row=1, col=c)
    fig.update_layout(height=height, margin=_MARGIN, plot_bgcolor="#ffffff",
                      coloraxis=dict(colorscale=DENSITY_SCALE, cmin=0.0, cmax=zmax,
                                     colorbar=dict(title="p", thickness=12, len=0.8)),
                      legend=dict(orientation="h", x=1.0, xanchor="right", y=-0.02, yanchor="top"))
    fig.update_annotations(font_size=13)
    return fig


# --- vector fields ------------------------------------------------------------------------------------

def quiver_segments(xs: np.ndarray, ys: np.ndarray, u: np.ndarray, v: np.ndarray, scale: float,
                    head: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Arrows as one polyline with NaN breaks (plotly has no quiver trace): a shaft from each grid
    point along (u, v) * scale and two barbs of ``head`` times the shaft's length at its tip."""
    gx, gy = np.meshgrid(np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64))
    dx, dy = np.asarray(u, dtype=np.float64) * scale, np.asarray(v, dtype=np.float64) * scale
    x0, y0 = gx.ravel(), gy.ravel()
    x1, y1 = x0 + dx.ravel(), y0 + dy.ravel()
    ang = np.arctan2(dy.ravel(), dx.ravel())
    length = np.hypot(dx.ravel(), dy.ravel()) * head
    barbs = []
    for turn in (np.pi - 0.45, np.pi + 0.45):
        barbs.append((x1 + length * np.cos(ang + turn), y1 + length * np.sin(ang + turn)))
    nan = np.full_like(x0, np.nan)
    px = np.stack([x0, x1, barbs[0][0], x1, barbs[1][0], nan], axis=1).ravel()
    py = np.stack([y0, y1, barbs[0][1], y1, barbs[1][1], nan], axis=1).ravel()
    return px, py


def arrow_scale(xs: np.ndarray, fields: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """One scale for all fields: the fastest arrow spans 0.9 grid spacings."""
    speed = max((float(np.nanmax(np.hypot(u, v))) for u, v in fields), default=0.0)
    spacing = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    return 0.9 * spacing / speed if speed > 0 and np.isfinite(speed) else 0.0


def _arrows(px: np.ndarray, py: np.ndarray, name: str = "dv/dt", gl: bool = False) -> go.Scatter | go.Scattergl:
    return (go.Scattergl if gl else go.Scatter)(x=px, y=py, mode="lines", name=name, showlegend=False, hoverinfo="skip",
                      line=dict(color=ARROW_COLOUR, width=1))


def vector_field_figure(xs: np.ndarray, ys: np.ndarray, u: np.ndarray, v: np.ndarray, box: float,
                        title: str, density: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                        height: int = 380) -> go.Figure:
    """One slice's dv/dt as arrows (length proportional to speed, the fastest 0.9 grid spacings),
    over an optional density heatmap (xs, ys, p)."""
    fig = go.Figure()
    if density is not None:
        dx, dy, p = density
        fig.add_trace(_heatmap(dx, dy, p, density_zmax(p), "density", opacity=0.55))  # arrows stay readable
    px, py = quiver_segments(xs, ys, u, v, arrow_scale(xs, [(u, v)]))
    fig.add_trace(_arrows(px, py))
    _fix_axes(fig, box)
    fig.update_yaxes(scaleanchor="x")
    fig.update_layout(title=dict(text=title, font_size=13), height=height, margin=_MARGIN, plot_bgcolor="#ffffff")
    return fig


# --- the flow animation ---------------------------------------------------------------------------------

def flow_animation_figure(xs: np.ndarray, ys: np.ndarray, times: Sequence[float], log_density: np.ndarray,
                          points: np.ndarray, box: float, slice_of_frame: Sequence[int],
                          fields: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None = None,
                          frame_ms: int = 180, height: int = 580) -> go.Figure:
    """Samples flowing from N(0, I) at t = 0 to the model at t = T over the density p_t morphing
    underneath, with the running slice's vector field, as plotly frames (play / pause + slider).

    ``log_density``: (K, R, R) log p_t on the grid (xs, ys); ``points``: (K, n, 2); ``slice_of_frame``:
    the slice index running at each frame's time; ``fields``: per slice index (qx, qy, u, v) for the
    arrows (all on one scale). Axes and the colour scale are fixed over all frames; every frame
    redraws the heatmap (``redraw: True``).

    Arrows and samples are WebGL traces on purpose: plotly.js "transitions" SVG scatter traces
    between frames by replotting only the animatable traces, which wipes the heatmap until the
    frame's redraw; with only non-animatable traces every frame is one full redraw, so the density
    stays on screen while the animation plays."""
    times = [float(t) for t in times]
    k = len(times)
    logp = np.asarray(log_density, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64)
    if logp.shape[0] != k or pts.shape[0] != k or len(slice_of_frame) != k:
        raise ValueError(f"need one density, point set and slice per frame: {k} times, {logp.shape[0]} densities, "
                         f"{pts.shape[0]} point sets, {len(slice_of_frame)} slices")
    dens = np.exp(np.clip(logp, -700, 700))
    zmax = density_zmax(dens)
    fields = fields or {}
    scale = arrow_scale(next(iter(fields.values()))[0], [(f[2], f[3]) for f in fields.values()]) if fields else 0.0
    arrows = {i: quiver_segments(qx, qy, u, v, scale) for i, (qx, qy, u, v) in fields.items()}
    empty = (np.array([np.nan]), np.array([np.nan]))

    def traces(j: int) -> list:
        ax, ay = arrows.get(int(slice_of_frame[j]), empty)
        return [_heatmap(xs, ys, dens[j], zmax, "p_t", opacity=0.8),
                _arrows(ax, ay, "dv/dt of the running slice", gl=True),
                _points(pts[j], "samples", SAMPLE_COLOUR, size=4, opacity=0.85, gl=True)]

    def title(j: int) -> str:
        return f"t = {times[j]:.2f} of {times[-1]:.2f} · slice {int(slice_of_frame[j]) + 1}"

    fig = go.Figure(data=traces(0), frames=[
        go.Frame(data=traces(j), name=str(j), traces=[0, 1, 2], layout=dict(title=dict(text=title(j))))
        for j in range(k)])
    # Buttons and slider sit below the x tick labels (plotly's own animation layout: y = 0, padded down).
    fig.update_layout(title=dict(text=title(0), font_size=14), height=height, margin=dict(l=8, r=8, t=40, b=96),
                      plot_bgcolor="#ffffff")
    add_animation(fig, [str(j) for j in range(k)], [f"{t:.2f}" for t in times], redraw=True, frame_ms=frame_ms, y=0,
                  menu=dict(pad=dict(t=58, r=8)), slider=dict(x=0.2, len=0.8, pad=dict(t=36, b=0)))
    _fix_axes(fig, box)
    fig.update_yaxes(scaleanchor="x")
    return fig


# --- training curves -------------------------------------------------------------------------------------

def paper_note(reference: float | None, floor: float | None, points: int | None) -> str | None:
    """Why the paper's NLL can sit below the entropy line, when it does (None otherwise)."""
    if reference is None or floor is None or reference >= floor:
        return None
    fixed = f"one fixed set of {points:,} points" if points else "one fixed set of points"
    return (f"The paper's {reference:.3f} is below the entropy {floor:.3f} because it is a training loss: the NLL on "
            f"{fixed} the circuit saw at every epoch, which a model can fit more tightly than any model fits fresh "
            "samples. The held-out curve here uses fresh samples, so the red line is its floor.")


def curves_figure(steps: np.ndarray, train: np.ndarray, eval_steps: np.ndarray, held_out: np.ndarray,
                  metric: str, reference: float | None = None, baseline: float | None = None,
                  floor: float | None = None, height: int = 300, reference_points: int | None = None) -> go.Figure:
    """Batch loss and held-out metric (NLL in nats, or the KL estimate) against optimiser step, with
    the paper's final training NLL (on its fixed set of ``reference_points`` samples), the
    Gaussian-fit NLL and the target's entropy (the lowest NLL any model can reach on fresh data) as
    lines when given."""
    label = "NLL (nats)" if metric == "nll" else "KL estimate (nats)"
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=steps, y=train, mode="lines", name="batch", line=dict(color="#9ecae1", width=1.5)))
    fig.add_trace(go.Scatter(x=eval_steps, y=held_out, mode="lines+markers", name="held-out",
                             line=dict(color="#0877bd", width=2), marker=dict(size=5)))
    if reference is not None:
        fixed = f"{reference_points:,} fixed" if reference_points else "its fixed"
        fig.add_hline(y=reference, line=dict(color="#2ca02c", dash="dash", width=1),
                      annotation_text=f"paper {reference:.3f} (training loss)", annotation_position="top right",
                      annotation_hovertext=(f"The paper's final training NLL: on the {fixed} training points, seen "
                                            "every epoch, so it can go below the entropy of fresh samples"))
    if baseline is not None:
        fig.add_hline(y=baseline, line=dict(color="#7f7f7f", dash="dot", width=1),
                      annotation_text=f"Gaussian fit {baseline:.3f}", annotation_position="bottom right")
    if floor is not None:
        fig.add_hline(y=floor, line=dict(color="#d62728", dash="dot", width=1),
                      annotation_text=f"best possible (entropy) {floor:.3f}", annotation_position="bottom left")
    finite = np.concatenate([np.asarray(train, dtype=float), np.asarray(held_out, dtype=float)])
    finite = finite[np.isfinite(finite)]
    if finite.size:  # the first steps can be far above the rest; keep the interesting part in view
        lo = min([float(finite.min())] + [v for v in (reference, baseline, floor) if v is not None])
        hi = float(np.quantile(finite, 0.95))
        pad = 0.08 * max(hi - lo, 0.1)
        fig.update_yaxes(range=[lo - pad, hi + pad])
    fig.update_layout(height=height, margin=dict(l=8, r=8, t=28, b=8), xaxis_title="step", yaxis_title=label,
                      legend=dict(orientation="h", y=1.08, x=0), plot_bgcolor="#fafafa")
    return fig
