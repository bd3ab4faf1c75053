"""Figures for the Trajectories page: pure functions, arrays in, plotly figures out.

The animated figures carry plotly frames with a Play / Pause menu and a time slider, so they play
in the browser without a single Streamlit rerun. Axis and colour ranges are fixed over all frames
(nothing jumps), frame counts stay small (the page passes at most ~60), and only the heatmap
animation asks for ``redraw``. The numbers come from ``kirchhoff_core.trajectories``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from views.animation import add_animation
from views.circuit_view import ROLE_STYLE
from views.train_views import DIVERGING, class_colour

EDGE_LEVELS = ("#cfd8e3", "#9fb3c8", "#6b8cb0", "#3a6593", "#0b3c73")
"""Edge colours from the weakest to the strongest net current (one line trace per level)."""


def _finite_range(values: np.ndarray, pad: float = 0.06, floor: float = 1e-6) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return -1.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    span = max(hi - lo, floor)
    return lo - pad * span, hi + pad * span


def _time_label(t: float) -> str:
    return f"{t:.3g}"


def _plain(value):
    """numpy arrays and scalars as lists and floats, recursively (frame data skips plotly's validation)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _trace(kind: str, **props) -> dict:
    """A trace as a plain dict, e.g. ``_trace("scatter", x=..., y=...)``."""
    return {"type": kind, **_plain(props)}


class AnimatedFigure(go.Figure):
    """A figure whose animation frames stay plain dicts, added only by ``to_dict``.

    plotly validates every property of every frame trace as it builds ``go.Frame`` objects: 3 s for
    the 40-frame circuit animation, longer than the simulation. The frames here are built from
    already-checked values, so they skip that step; ``st.plotly_chart`` serialises via ``to_dict``.
    """

    def __init__(self, base: go.Figure, frames: list[dict]):
        super().__init__(base.to_dict(), _validate=False)
        self._plain_frames = frames

    @property
    def plain_frames(self) -> list[dict]:
        return self._plain_frames

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["frames"] = self._plain_frames
        return out

    def to_plotly_json(self) -> dict:
        return self.to_dict()


def _frames(names: Sequence[str], data: Sequence[list[dict]], traces: list[int]) -> list[dict]:
    return [{"name": n, "data": d, "traces": traces} for n, d in zip(names, data)]


# --- picking an input ------------------------------------------------------------------------------

def picker_figure(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, task: str,
                  selected: np.ndarray | None = None, height: int = 380) -> go.Figure:
    """The dataset to click an input in. Trace 0 holds the test points in test-set order (a click
    reports its index), trace 1 the training points; the chosen input is a black star."""
    fig = go.Figure()
    one_d = x_test.shape[1] == 1
    y_te = np.asarray(y_test)
    y_tr = np.asarray(y_train)
    if one_d:
        xs_te, ys_te = x_test[:, 0], y_te.reshape(len(y_te), -1)[:, 0]
        xs_tr, ys_tr = x_train[:, 0], y_tr.reshape(len(y_tr), -1)[:, 0]
    else:
        xs_te, ys_te, xs_tr, ys_tr = x_test[:, 0], x_test[:, 1], x_train[:, 0], x_train[:, 1]
    if task == "classification":
        colour_te: object = [class_colour(c) for c in y_te]
        colour_tr: object = [class_colour(c) for c in y_tr]
        hover = "test #%{customdata[0]} · class %{customdata[1]}<br>x1=%{x:.3f}<br>x2=%{y:.3f}<extra></extra>"
        custom = np.stack([np.arange(len(y_te)), y_te], axis=1)
    else:
        colour_te = "#0877bd" if one_d else y_te.reshape(len(y_te), -1)[:, 0]
        colour_tr = "#0877bd" if one_d else y_tr.reshape(len(y_tr), -1)[:, 0]
        hover = ("test #%{customdata[0]}<br>x=%{x:.3f}<br>y=%{y:.3f}<extra></extra>" if one_d else
                 "test #%{customdata[0]} · target %{customdata[1]:.3f}<br>x1=%{x:.3f}<br>x2=%{y:.3f}<extra></extra>")
        custom = np.stack([np.arange(len(y_te)), y_te.reshape(len(y_te), -1)[:, 0]], axis=1)
    scale = {} if task == "classification" or one_d else dict(colorscale=DIVERGING)
    fig.add_trace(go.Scatter(x=xs_te, y=ys_te, mode="markers", name="test points (click one)", customdata=custom,
                             hovertemplate=hover,
                             marker=dict(size=8, color=colour_te, line=dict(width=1, color="white"), **scale)))
    fig.add_trace(go.Scatter(x=xs_tr, y=ys_tr, mode="markers", name="training points", hoverinfo="skip",
                             marker=dict(size=4, color=colour_tr, opacity=0.25, **scale)))
    if selected is not None:
        sel = np.asarray(selected, dtype=np.float64).reshape(-1)
        if one_d:
            fig.add_vline(x=float(sel[0]), line=dict(color="black", dash="dot", width=1.5))
        else:
            fig.add_trace(go.Scatter(x=[sel[0]], y=[sel[1]], mode="markers", name="chosen input", hoverinfo="skip",
                                     marker=dict(symbol="star", size=17, color="black",
                                                 line=dict(width=1.5, color="white"))))
    fig.update_layout(height=height, margin=dict(l=8, r=8, t=8, b=8), plot_bgcolor="#fafafa",
                      legend=dict(orientation="h", y=-0.08, font=dict(size=11)), clickmode="event+select",
                      xaxis_title="x" if one_d else None, yaxis_title="target" if one_d else None)
    if not one_d:
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


# --- the circuit thinking: voltages, currents and read-out over time --------------------------------

def _edge_frame(pos: dict[int, tuple[float, float]], a: np.ndarray, b: np.ndarray, amps: np.ndarray,
                i_max: float) -> tuple[list[dict], dict]:
    """Line traces (one per current level) and the arrow-marker trace for one frame."""
    levels = len(EDGE_LEVELS)
    lines = [dict(x=[], y=[]) for _ in range(levels)]
    arrows: dict[str, list] = {"x": [], "y": [], "angle": [], "size": [], "color": [], "text": []}
    for u, v, i in zip(a.tolist(), b.tolist(), np.asarray(amps, dtype=np.float64).tolist()):
        mag = abs(i) / i_max if i_max > 0 else 0.0
        k = min(levels - 1, int(mag * levels))
        (x0, y0), (x1, y1) = pos[u], pos[v]
        lines[k]["x"] += [x0, x1, None]
        lines[k]["y"] += [y0, y1, None]
        frm, to = (u, v) if i >= 0 else (v, u)
        (fx, fy), (tx, ty) = pos[frm], pos[to]
        dx, dy = tx - fx, ty - fy
        arrows["x"].append(fx + 0.55 * dx)
        arrows["y"].append(fy + 0.55 * dy)
        arrows["angle"].append((math.degrees(math.atan2(dx, dy)) + 180.0) % 360.0 - 180.0)  # plotly's [-180, 180)
        arrows["size"].append(0.0 if mag < 0.02 else 6.0 + 10.0 * mag)
        arrows["color"].append(EDGE_LEVELS[k])
        arrows["text"].append(f"{frm} → {to}: {abs(i):.3g} (net current of the pair)")
    return lines, arrows


def watch_figure(times: np.ndarray, volts: np.ndarray, frames: Sequence[int], positions: dict[int, tuple[float, float]],
                 roles: Sequence[str], boundaries: Sequence[float], outputs: Sequence[int],
                 pair_frames: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
                 readout: np.ndarray | None = None, readout_title: str = "softmax of the read-outs",
                 winner: tuple[int, float] | None = None, max_lines: int = 40, height: int = 620) -> go.Figure:
    """The animated 'watch the circuit think' figure.

    Left: the circuit at the frame's instant, nodes coloured by voltage, node pairs drawn with
    width and colour following the net current and an arrow in its direction. Right: every node's
    v(t) (read-outs thick, in their class colours) and the read-out panel (softmax or voltages),
    both with slice boundaries and a cursor at the frame's time. ``frames`` index ``times``.
    """
    times = np.asarray(times, dtype=np.float64)
    volts = np.asarray(volts, dtype=np.float64)
    frames = [int(f) for f in frames]
    width = volts.shape[1]
    t_end = float(boundaries[-1])
    spacing = 0.13  # room for the voltage colour bar between the circuit and the curves
    fig = make_subplots(rows=2, cols=2, specs=[[{"rowspan": 2}, {}], [None, {}]], column_widths=[0.44, 0.56],
                        row_heights=[0.56, 0.44], horizontal_spacing=spacing, vertical_spacing=0.15,
                        subplot_titles=("circuit at the frame's time", "node voltages v(t)", readout_title))
    out_index = {n: k for k, n in enumerate(outputs)}
    # Static: every node's v(t), read-outs first so they are never the ones left out.
    order = [n - 1 for n in outputs if n <= width] + [i for i in range(width) if i + 1 not in out_index]
    shown_hidden = shown_input = False
    for i in order[:max_lines]:
        role = roles[i]
        n = i + 1
        if n in out_index:
            line, name = dict(color=class_colour(out_index[n]), width=3.5), f"node {n} (read-out {out_index[n]})"
            legend = True
        elif "input" in role:
            line, name = dict(color=ROLE_STYLE["input"][1], width=1.8, dash="dash"), "input nodes"
            legend = not shown_input
            shown_input = True
        else:
            line, name, legend = dict(color="#9e9e9e", width=1.2), "hidden nodes", not shown_hidden
            shown_hidden = True
        fig.add_trace(go.Scatter(x=times, y=volts[:, i], mode="lines", line=line, name=name, showlegend=legend,
                                 legendgroup=name,
                                 hovertemplate=f"node {n}<br>t=%{{x:.3f}}<br>v=%{{y:.3f}} V<extra></extra>"),
                      row=1, col=2)
    v_lo, v_hi = _finite_range(volts[:, order[:max_lines]])
    ro = None
    if readout is not None:
        ro = np.asarray(readout, dtype=np.float64)
        for k in range(ro.shape[1]):
            fig.add_trace(go.Scatter(x=times, y=ro[:, k], mode="lines", line=dict(color=class_colour(k), width=2.5),
                                     name=f"read-out {k}", showlegend=False,
                                     hovertemplate=f"read-out {k}<br>t=%{{x:.3f}}<br>%{{y:.3f}}<extra></extra>"),
                          row=2, col=2)
    r_lo, r_hi = (0.0, 1.0) if ro is None or "softmax" in readout_title else _finite_range(ro)
    # Static ground symbol.
    gx, gy = positions[0]
    fig.add_trace(go.Scatter(x=[gx], y=[gy], mode="markers+text", text=["0"], textfont=dict(color="white", size=11),
                             marker=dict(symbol="square", size=22, color="black"), hovertext=["node 0: ground (0 V)"],
                             hoverinfo="text", showlegend=False), row=1, col=1)
    # Animated traces, in this order: edge levels, arrows, nodes, v cursor, read-out cursor.
    i_max = 0.0
    if pair_frames is not None:
        i_max = max((float(np.abs(p[2]).max()) for p in pair_frames if len(p[2])), default=0.0)
    v_lim = max(float(np.nanmax(np.abs(volts))) if np.isfinite(volts).any() else 1.0, 1e-6)
    node_xy = np.array([positions[n] for n in range(1, width + 1)])
    border = [ROLE_STYLE.get(r, ROLE_STYLE["hidden"])[1] for r in roles]

    def frame_traces(f: int) -> list[dict]:
        p = frames[f]
        out: list[dict] = []
        if pair_frames is not None:
            a, b, amps = pair_frames[f]
            lines, arrows = _edge_frame(positions, a, b, amps, i_max)
            for k, ln in enumerate(lines):
                out.append(_trace("scatter", x=ln["x"], y=ln["y"], mode="lines", hoverinfo="skip", showlegend=False,
                                  opacity=0.8, line=dict(width=0.8 + 1.5 * k, color=EDGE_LEVELS[k])))
            out.append(_trace("scatter", x=arrows["x"], y=arrows["y"], mode="markers", hovertext=arrows["text"],
                              hoverinfo="text", showlegend=False,
                              marker=dict(symbol="triangle-up", size=arrows["size"], angle=arrows["angle"],
                                          color=arrows["color"], line=dict(width=0))))
        v = volts[p]
        present = np.isfinite(v)
        out.append(_trace(
            "scatter", x=node_xy[:, 0], y=node_xy[:, 1], mode="markers+text",
            text=[str(n) for n in range(1, width + 1)],
            textfont=dict(size=11, color="#111"), showlegend=False,
            hovertext=[f"node {n} ({roles[n - 1]}): " + (f"{v[n - 1]:.3f} V" if present[n - 1] else "not in this slice")
                       for n in range(1, width + 1)], hoverinfo="text",
            marker=dict(size=26 if width <= 30 else 16, color=np.where(present, v, 0.0), cmin=-v_lim, cmax=v_lim,
                        colorscale=DIVERGING, opacity=np.where(present, 1.0, 0.25), showscale=True,
                        line=dict(width=3, color=border),
                        colorbar=dict(title=dict(text="v (V)", side="top"), thickness=10, len=0.5,
                                      x=0.44 * (1 - spacing) + 0.005, xanchor="left", y=0.5))))
        t = float(times[p])
        out.append(_trace("scatter", x=[t, t], y=[v_lo, v_hi], mode="lines", line=dict(color="black", width=1),
                          hoverinfo="skip", showlegend=False))
        if ro is not None:
            out.append(_trace("scatter", x=[t] * ro.shape[1], y=ro[p], mode="markers", hoverinfo="skip",
                              showlegend=False, marker=dict(size=9, color=[class_colour(k) for k in range(ro.shape[1])],
                                                            line=dict(width=1, color="black"))))
        return out

    first = frame_traces(0)
    start = len(fig.data)
    n_edge = len(EDGE_LEVELS) + 1 if pair_frames is not None else 0
    for j, tr in enumerate(first):
        if j < n_edge + 1:
            fig.add_trace(tr, row=1, col=1)
        elif j == n_edge + 1:
            fig.add_trace(tr, row=1, col=2)
        else:
            fig.add_trace(tr, row=2, col=2)
    # Edges under the nodes: plotly draws in trace order, and the edges come first among the animated.
    animated = list(range(start, len(fig.data)))
    names = [f"f{f}" for f in range(len(frames))]
    frame_data = [first] + [frame_traces(f) for f in range(1, len(frames))]
    for b in boundaries[1:-1]:
        for row in (1, 2):
            fig.add_vline(x=float(b), line=dict(color="#666", dash="dot", width=1), row=row, col=2)
    if len(boundaries) > 2:
        fig.add_annotation(x=float(boundaries[1]), y=v_hi, xref="x2", yref="y2", text="slice boundary",
                           showarrow=False, xanchor="left", yanchor="top", font=dict(size=10, color="#666"))
    if winner is not None and ro is not None and np.isfinite(winner[1]):
        fig.add_vline(x=float(winner[1]), line=dict(color=class_colour(winner[0]), dash="dash", width=1.5),
                      row=2, col=2)
        fig.add_annotation(x=float(winner[1]), y=r_hi, xref="x3", yref="y3", yanchor="top", showarrow=False,
                           xanchor="left" if winner[1] < 0.6 * t_end else "right",
                           text=f" class {winner[0]} leads from t = {winner[1]:.3g} ", font=dict(size=11),
                           bgcolor="rgba(255,255,255,0.8)")
    xy = np.array(list(positions.values()))
    lo, hi = xy.min(0), xy.max(0)
    pad = 0.12 * float(max((hi - lo).max(), 1e-6))
    fig.update_xaxes(visible=False, range=[lo[0] - pad, hi[0] + pad], row=1, col=1)
    fig.update_yaxes(visible=False, range=[lo[1] - pad, hi[1] + pad], scaleanchor="x", scaleratio=1, row=1, col=1)
    fig.update_xaxes(range=[0, t_end], row=1, col=2)
    fig.update_yaxes(range=[v_lo, v_hi], title_text="V", row=1, col=2)
    fig.update_xaxes(range=[0, t_end], title_text="t (model time units)", row=2, col=2)
    fig.update_yaxes(range=[r_lo - (0.03 if ro is not None and "softmax" in readout_title else 0), r_hi + (
        0.03 if ro is not None and "softmax" in readout_title else 0)], row=2, col=2)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=70, b=90), plot_bgcolor="white",
                      legend=dict(orientation="h", x=0.5, xanchor="left", y=1.05, yanchor="bottom",
                                  font=dict(size=11)),
                      hovermode="closest")
    add_animation(fig, names, [_time_label(times[p]) for p in frames], redraw=False, y=-0.06)
    return AnimatedFigure(fig, _frames(names, frame_data, animated))


# --- the whole test set moving through a 2-D projection -------------------------------------------

def flow_figure(times: np.ndarray, points: np.ndarray, labels: np.ndarray, task: str, axis_names: tuple[str, str],
                diagonal: str | None = None, height: int = 560) -> go.Figure:
    """Test points at each frame time in the plane of two nodes' voltages, (frames, samples, 2).

    ``diagonal`` labels the line v_x = v_y (for the two read-outs of a 2-class circuit it is the
    decision line: the class is whichever read-out is higher).
    """
    pts = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    x_lo, x_hi = _finite_range(pts[..., 0])
    y_lo, y_hi = _finite_range(pts[..., 1])
    fig = go.Figure()
    if diagonal:
        lo, hi = min(x_lo, y_lo), max(x_hi, y_hi)
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name=diagonal, hoverinfo="skip",
                                 line=dict(color="#444", dash="dash", width=1.2)))
    groups: list[tuple[str, np.ndarray, dict]] = []
    if task == "classification":
        for c in np.unique(labels):
            groups.append((f"class {int(c)}", np.flatnonzero(labels == c), dict(color=class_colour(c))))
    else:
        y = labels.reshape(len(labels), -1)[:, 0]
        lim = float(max(np.abs(y).max(), 1e-9))
        groups.append(("test points", np.arange(len(labels)),
                       dict(color=y, cmin=-lim, cmax=lim, colorscale=DIVERGING, showscale=True,
                            colorbar=dict(title=dict(text="target"), thickness=10))))

    def traces(f: int) -> list[dict]:
        return [_trace("scatter", x=pts[f, idx, 0], y=pts[f, idx, 1], mode="markers", name=name,
                       marker=dict(size=7, line=dict(width=0.6, color="white"), **style),
                       hovertemplate=f"{name}<br>{axis_names[0]}=%{{x:.3f}}<br>"
                                     f"{axis_names[1]}=%{{y:.3f}}<extra></extra>")
                for name, idx, style in groups]

    start = len(fig.data)
    for tr in traces(0):
        fig.add_trace(tr)
    animated = list(range(start, len(fig.data)))
    names = [f"f{f}" for f in range(len(times))]
    frame_data = [traces(f) for f in range(len(times))]
    fig.update_xaxes(range=[x_lo, x_hi], title_text=axis_names[0] + " (V)", zeroline=True, zerolinecolor="#ddd")
    fig.update_yaxes(range=[y_lo, y_hi], title_text=axis_names[1] + " (V)", zeroline=True, zerolinecolor="#ddd")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=110), plot_bgcolor="#fafafa",
                      legend=dict(orientation="h", y=1.06, x=0), hovermode="closest")
    add_animation(fig, names, [_time_label(t) for t in times], redraw=False, y=-0.16)
    return AnimatedFigure(fig, _frames(names, frame_data, animated))


# --- read too early, read too late -----------------------------------------------------------------

def _blend(probs: np.ndarray) -> np.ndarray:
    palette = np.stack([np.array([int(class_colour(c).lstrip("#")[i: i + 2], 16) for i in (0, 2, 4)], float)
                        for c in range(probs.shape[-1])])
    return np.clip(0.55 * (probs @ palette) + 0.45 * 255, 0, 255).astype(np.uint8)


def sweep_figure(times: np.ndarray, xs: np.ndarray | None, ys: np.ndarray | None, outs: np.ndarray | None,
                 task: str, metric: np.ndarray, metric_name: str, x_test: np.ndarray | None = None,
                 y_test: np.ndarray | None = None, boundaries: Sequence[float] = (), t_readout: float | None = None,
                 height: int | None = None) -> go.Figure:
    """Top (2-D inputs): the decision regions (or regression surface) if the circuit were read at
    each frame's time, animated, with the test points. Below: the test metric against the read-out
    time, with the chosen read-out time T marked and a cursor following the animation."""
    times = np.asarray(times, dtype=np.float64)
    metric = np.asarray(metric, dtype=np.float64)
    has_plane = outs is not None and xs is not None and ys is not None
    label = "accuracy" if metric_name == "accuracy" else "R²"
    if has_plane:
        fig = make_subplots(rows=2, cols=1, row_heights=[0.62, 0.38], vertical_spacing=0.13,
                            subplot_titles=("what the circuit would answer if read at the frame's time",
                                            f"test {label} against the read-out time"))
    else:
        fig = make_subplots(rows=1, cols=1, subplot_titles=(f"test {label} against the read-out time",))
    mrow = 2 if has_plane else 1
    fig.add_trace(go.Scatter(x=times, y=metric, mode="lines+markers", name=f"test {label}", showlegend=False,
                             line=dict(color="#0877bd", width=2.5), marker=dict(size=5),
                             hovertemplate=f"read at t=%{{x:.3f}}<br>{label}=%{{y:.3f}}<extra></extra>"),
                  row=mrow, col=1)
    if metric_name == "accuracy":
        m_lo, m_hi = 0.0, 1.02
    else:
        m_lo, m_hi = _finite_range(np.clip(metric, -1.0, 1.0))
        m_hi = max(m_hi, 1.0)
    for b in list(boundaries)[1:-1]:
        fig.add_vline(x=float(b), line=dict(color="#666", dash="dot", width=1), row=mrow, col=1)
    if t_readout is not None:
        fig.add_vline(x=float(t_readout), line=dict(color="#d62728", dash="dash", width=1.5), row=mrow, col=1,
                      annotation_text="T (the circuit's read-out)", annotation_position="bottom left",
                      annotation_font_size=11)

    k = outs.shape[-1] if has_plane else 0
    gx, gy = (xs, ys) if has_plane else (None, None)

    def plane(f: int) -> dict:
        o = outs[f]
        if task == "classification" and k == 2:
            return _trace("heatmap", x=gx, y=gy, z=o[..., 1], zmin=0, zmax=1, colorscale=DIVERGING, showscale=True,
                              colorbar=dict(title=dict(text="P(1)"), thickness=10, len=0.55, y=0.72),
                              hovertemplate="x1=%{x:.2f}<br>x2=%{y:.2f}<br>P(class 1)=%{z:.2f}<extra></extra>")
        if task == "classification":
            dx = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
            dy = float(ys[1] - ys[0]) if len(ys) > 1 else 1.0
            return _trace("image", z=_blend(o), x0=float(xs[0]), dx=dx, y0=float(ys[0]), dy=dy, hoverinfo="skip")
        lim = float(max(np.abs(np.asarray(y_test)).max(), 1e-9)) if y_test is not None else 1.0
        return _trace("heatmap", x=gx, y=gy, z=o[..., 0], zmin=-lim, zmax=lim, colorscale=DIVERGING,
                          colorbar=dict(title=dict(text="output"), thickness=10, len=0.55, y=0.72))

    def cursor(f: int) -> dict:
        t = float(times[f])
        y = metric[f] if np.isfinite(metric[f]) else None
        return _trace("scatter", x=[t], y=[y], mode="markers", marker=dict(size=13, color="#f59322",
                                                                     line=dict(width=1.5, color="black")),
                          hoverinfo="skip", showlegend=False)

    animated: list[int] = []
    if has_plane:
        fig.add_trace(plane(0), row=1, col=1)
        animated.append(len(fig.data) - 1)
        if x_test is not None and y_test is not None:
            if task == "classification":
                colour: object = [class_colour(c) for c in np.asarray(y_test)]  # hollow: visible on both regions
                fig.add_trace(go.Scatter(x=x_test[:, 0], y=x_test[:, 1], mode="markers", name="test points",
                                         showlegend=False, hoverinfo="skip",
                                         marker=dict(size=6, color="white", line=dict(width=1.5, color=colour))),
                              row=1, col=1)
            else:
                fig.add_trace(go.Scatter(x=x_test[:, 0], y=x_test[:, 1], mode="markers", showlegend=False,
                                         hoverinfo="skip",
                                         marker=dict(size=6, color="white", line=dict(width=1, color="black"))),
                              row=1, col=1)
        fig.update_xaxes(range=[float(xs[0]), float(xs[-1])], showgrid=False, zeroline=False, constrain="domain",
                         row=1, col=1)
        fig.update_yaxes(range=[float(ys[0]), float(ys[-1])], showgrid=False, zeroline=False, scaleanchor="x",
                         constrain="domain", row=1, col=1)
    fig.add_trace(cursor(0), row=mrow, col=1)
    animated.append(len(fig.data) - 1)
    names = [f"f{f}" for f in range(len(times))]
    frame_data = [([plane(f)] if has_plane else []) + [cursor(f)] for f in range(len(times))]
    t_end = float(times[-1])
    fig.update_xaxes(range=[-0.02 * t_end, 1.02 * t_end], title_text="read-out time t", row=mrow, col=1)
    fig.update_yaxes(range=[m_lo, m_hi], tickformat=".0%" if metric_name == "accuracy" else None, row=mrow, col=1)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=height or (680 if has_plane else 380), margin=dict(l=10, r=10, t=40, b=90),
                      plot_bgcolor="white")
    add_animation(fig, names, [_time_label(t) for t in times], redraw=has_plane, y=-0.08 if has_plane else -0.2)
    return AnimatedFigure(fig, _frames(names, frame_data, animated))
