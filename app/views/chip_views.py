"""Figures for the Chip page: pure functions, data in, plotly figures out.

The numbers come from ``kirchhoff_core.chip`` (an ``Inference`` is a plain record of one transient);
nothing here simulates anything or touches session state. Voltage colours follow the Train page:
negative orange, positive blue, 0 V light grey.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from kirchhoff_core.chip import Inference, codes_to_volts
from views.animation import add_animation

DIVERGING = [[0.0, "#f59322"], [0.5, "#e8eaeb"], [1.0, "#0877bd"]]
DIE_FILL = "#2b3a42"
RAIL = "#8a9ba8"
WIRE = "rgba(210, 220, 228, 0.35)"
MAX_WIRES = 1500  # node pairs drawn on the die; above this only the pads are drawn
MAX_RING = 96  # pads on one ring; more nodes go on a grid
_MARGIN = dict(l=8, r=8, t=36, b=8)
_PALETTE = qualitative.Plotly


# --- die view --------------------------------------------------------------------------------------

def die_layout(num_nodes: int, inputs: Sequence[int], outputs: Sequence[int]) -> dict[int, tuple[float, float]]:
    """Pad position of every node 1..num_nodes on a unit die: on a ring (inputs on the left, next to
    the DAC; read-outs on the right, next to the ADC; hidden nodes above and below) so that every
    wire is a chord that crosses no pad, or on a grid when there are too many nodes for one ring."""
    nodes = list(range(1, num_nodes + 1))
    ins = [n for n in inputs if n not in outputs]
    outs = list(outputs)
    hidden = [n for n in nodes if n not in ins and n not in outs]
    if num_nodes > MAX_RING:
        cols = math.ceil(math.sqrt(num_nodes))
        order = ins + hidden + outs
        rows = math.ceil(num_nodes / cols)
        return {n: (0.12 + 0.76 * (i // rows) / max(cols - 1, 1), 0.88 - 0.76 * (i % rows) / max(rows - 1, 1))
                for i, n in enumerate(order)}

    def arc(group: list[int], centre: float, span: float) -> list[tuple[int, float]]:
        if not group:
            return []
        step = span / len(group)
        return [(n, centre + span / 2 - step * (i + 0.5)) for i, n in enumerate(group)]

    share = 2 * math.pi / max(num_nodes, 1)
    span_in, span_out = share * len(ins), share * len(outs)
    top = hidden[: (len(hidden) + 1) // 2]
    bottom = hidden[(len(hidden) + 1) // 2:]
    rest = 2 * math.pi - span_in - span_out
    top_span = rest * len(top) / max(len(hidden), 1)
    angles = arc(ins, math.pi, span_in) + arc(outs[::-1], 0.0, span_out)
    # top: from the inputs' end (left) clockwise over the top to the outputs' start (right)
    angles += arc(top, math.pi - span_in / 2 - top_span / 2, top_span)
    angles += arc(bottom[::-1], math.pi + span_in / 2 + (rest - top_span) / 2, rest - top_span)
    radius = 0.34
    return {n: (0.5 + radius * math.cos(a), 0.5 + radius * math.sin(a)) for n, a in angles}


def _wire(p: tuple[float, float], q: tuple[float, float], bend: float = 0.12, points: int = 10):
    """A slightly bent wire from p to q (quadratic Bézier), so parallel chords stay apart."""
    (x0, y0), (x1, y1) = p, q
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    dx, dy = x1 - x0, y1 - y0
    cx, cy = mx - bend * dy, my + bend * dx
    t = np.linspace(0.0, 1.0, points)
    xs = (1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t ** 2 * x1
    ys = (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t ** 2 * y1
    return xs.tolist(), ys.tolist()


def _frame_indices(n_points: int, max_frames: int) -> list[int]:
    if n_points <= max_frames:
        return list(range(n_points))
    idx = np.unique(np.round(np.linspace(0, n_points - 1, max_frames)).astype(int))
    return idx.tolist()


def die_figure(times_ns: np.ndarray, volts: np.ndarray, pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
               inputs: Sequence[int], outputs: Sequence[int], v_range: float | None = None, max_frames: int = 60,
               height: int = 470) -> go.Figure:
    """The circuit laid out as a die: pads (nodes) coloured by voltage, wires (devices between node
    pairs; ``pairs`` = ``Circuit.node_pairs()``: arrays a < b and device counts, a = 0 for ground), stubs
    to the ground rail for nodes with devices to ground,
    DAC and ADC blocks beside the input and read-out pads. Plotly frames animate the pad colours over
    physical time (play / pause and a time slider play in the browser). The colour range is fixed
    (``v_range`` or the largest |v|), so colours are comparable between frames."""
    n_nodes = volts.shape[1]
    pos = die_layout(n_nodes, inputs, outputs)
    ground_devices = [int(b) for a, b in zip(*pairs[:2]) if a == 0]
    finite = volts[np.isfinite(volts)]
    lim = float(v_range) if v_range else float(max(np.abs(finite).max() if finite.size else 1.0, 1e-6))
    fig = go.Figure()
    # die, ground rail, converter blocks
    fig.add_shape(type="rect", x0=0, y0=0, x1=1, y1=1, fillcolor=DIE_FILL, line=dict(color="#111", width=2),
                  layer="below")
    fig.add_shape(type="rect", x0=0.06, y0=0.06, x1=0.94, y1=0.94, line=dict(color=RAIL, width=3),
                  layer="below")
    fig.add_annotation(x=0.5, y=0.06, text="GND rail", showarrow=False, yshift=-9,
                       font=dict(size=10, color=RAIL))
    for x0, label in ((-0.07, "DAC"), (0.93, "ADC")):  # converter blocks on the die's edges
        fig.add_shape(type="rect", x0=x0, y0=0.43, x1=x0 + 0.14, y1=0.57, fillcolor="#e8eaeb",
                      line=dict(color="#555"))
        fig.add_annotation(x=x0 + 0.07, y=0.5, text=label, showarrow=False, font=dict(size=10, color="#333"))
    # wires between pads
    wx: list = []
    wy: list = []
    drawn = [(int(a), int(b)) for a, b in zip(*pairs[:2]) if a in pos and b in pos]
    if len(drawn) <= MAX_WIRES:
        for a, b in drawn:
            xs, ys = _wire(pos[a], pos[b])
            wx += xs + [None]
            wy += ys + [None]
        for n in ground_devices:  # a straight stub outwards from the pad to the ground rail
            if n in pos:
                x, y = pos[n]
                k = 0.44 / max(abs(x - 0.5), abs(y - 0.5), 1e-9)
                wx += [x, 0.5 + (x - 0.5) * k, None]
                wy += [y, 0.5 + (y - 0.5) * k, None]
    else:
        fig.add_annotation(x=0.5, y=0.97, showarrow=False, font=dict(size=10, color=RAIL),
                           text=f"{len(drawn)} wired node pairs: too many to draw")
    fig.add_trace(go.Scatter(x=wx, y=wy, mode="lines", line=dict(color=WIRE, width=1.2), hoverinfo="skip",
                             showlegend=False))
    # converter connections
    cx: list = []
    cy: list = []
    for nodes, xb in ((inputs, 0.07), (outputs, 0.93)):
        if len(nodes) > 16:  # a bus of many lines hides the die; the pads' gold rims mark them
            continue
        for n in nodes:
            if n in pos:
                cx += [pos[n][0], xb, None]
                cy += [pos[n][1], 0.5, None]
    fig.add_trace(go.Scatter(x=cx, y=cy, mode="lines", line=dict(color="#c9a227", width=1.5, dash="dot"),
                             hoverinfo="skip", showlegend=False))
    # pads
    nodes = list(range(1, n_nodes + 1))
    px = [pos[n][0] for n in nodes]
    py = [pos[n][1] for n in nodes]
    roles = ["input" if n in inputs else "read-out" if n in outputs else "hidden" for n in nodes]
    # about three quarters of the spacing between neighbouring pads on a ~300 px die
    spacing_px = 300 * (2 * math.pi * 0.34 / n_nodes if n_nodes <= MAX_RING else 0.76 / math.sqrt(n_nodes))
    size = int(np.clip(0.75 * spacing_px, 4, 30))
    edge = ["#c9a227" if r != "hidden" else "#111" for r in roles]
    frames_at = _frame_indices(len(times_ns), max_frames)

    def pad_marker(k: int) -> dict:
        v = volts[k]
        absent = ~np.isfinite(v)
        return dict(color=np.where(absent, 0.0, v).tolist(), opacity=np.where(absent, 0.25, 1.0).tolist())

    def hover(k: int) -> list[str]:
        return [f"node {n} ({r})<br>{'—' if not np.isfinite(v) else f'{v:+.4f} V'}<br>t = {times_ns[k]:.3g} ns"
                for n, r, v in zip(nodes, roles, volts[k])]

    last = frames_at[-1]
    fig.add_trace(go.Scatter(
        x=px, y=py, mode="markers+text" if n_nodes <= 64 else "markers", text=[str(n) for n in nodes],
        textfont=dict(size=11 if n_nodes <= 32 else 8, color="#111"), hovertext=hover(last),
        hoverinfo="text", showlegend=False, name="pads",
        marker=dict(symbol="square", size=size, cmin=-lim, cmax=lim, colorscale=DIVERGING,
                    line=dict(color=edge, width=2),
                    colorbar=dict(title="V", thickness=8, len=0.75, x=1.0, xpad=4), **pad_marker(last))))
    pad_trace = len(fig.data) - 1
    fig.frames = [go.Frame(name=f"{times_ns[k]:.4g}", traces=[pad_trace],
                           data=[go.Scatter(marker=pad_marker(k), hovertext=hover(k))]) for k in frames_at]
    fig.update_layout(
        height=height, margin=dict(l=4, r=4, t=34, b=96), plot_bgcolor="white",
        title=dict(text="Die: pads coloured by node voltage", font=dict(size=13)),
        xaxis=dict(range=[-0.08, 1.08], visible=False, fixedrange=True),
        yaxis=dict(range=[-0.02, 1.02], visible=False, scaleanchor="x", fixedrange=True))
    add_animation(fig, [f.name for f in fig.frames], [f"{times_ns[k]:.2f}" for k in frames_at], frame_ms=80,
                  play_label="▶ Play", pause_label="❚❚ Pause", from_start=True, active=len(frames_at) - 1,
                  menu=dict(pad=dict(t=0, r=4), font=dict(size=11)),
                  slider=dict(pad=dict(t=34, b=0, l=0, r=0), ticklen=3, font=dict(size=8, color="rgba(0,0,0,0)"),
                              currentvalue=dict(prefix="t = ", suffix=" ns", xanchor="right", offset=6,
                                                font=dict(size=12))))
    return fig


# --- oscilloscope ----------------------------------------------------------------------------------

def scope_figure(inf: Inference, adc: tuple[int, float] | None = None, supply: float | None = None,
                 nodes: Sequence[int] | None = None, height: int = 470) -> go.Figure:
    """Oscilloscope of the read-out nodes over physical time: the chip's trace (solid) beside the ideal
    circuit's (dashed, same colour), the sampling instant (vertical line), the read-out through the ADC
    (diamond, labelled with its code and voltage) and, when they are few enough to see, the ADC's code
    levels as faint horizontal lines. ``nodes`` adds other nodes (thin) to the read-outs."""
    fig = go.Figure()
    t = inf.times_ns
    shown = list(inf.outputs) + [n for n in (nodes or []) if n not in inf.outputs]
    for j, n in enumerate(shown):
        colour = _PALETTE[j % len(_PALETTE)]
        is_out = n in inf.outputs
        label = f"v{n}" + (" (read-out)" if is_out else "")
        fig.add_trace(go.Scatter(x=t, y=inf.volts[:, n - 1], mode="lines", name=f"{label} chip",
                                 legendgroup=label, line=dict(color=colour, width=2.5 if is_out else 1.2)))
        fig.add_trace(go.Scatter(x=t, y=inf.ideal[:, n - 1], mode="lines", name=f"{label} ideal",
                                 legendgroup=label, line=dict(color=colour, width=1.5, dash="dash")))
    finite = np.concatenate([inf.volts[np.isfinite(inf.volts[:, 0])][:, [n - 1 for n in shown]].ravel(),
                             inf.ideal[:, [n - 1 for n in shown]].ravel(), inf.readout])
    finite = finite[np.isfinite(finite)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    pad = 0.08 * max(hi - lo, 0.05)
    lo, hi = lo - pad, hi + pad
    if adc is not None:
        bits, rng = adc
        levels = codes_to_volts(np.arange(2 ** bits), bits, rng) if bits <= 16 else np.zeros(0)
        visible = levels[(levels >= lo) & (levels <= hi)]
        if 0 < len(visible) <= 40:
            for level in visible:
                fig.add_hline(y=float(level), line=dict(color="rgba(120,120,120,0.25)", width=1))
    for j, n in enumerate(inf.outputs):
        colour = _PALETTE[j % len(_PALETTE)]
        code = "" if inf.codes is None else f"code {int(inf.codes[j])} → "
        fig.add_trace(go.Scatter(
            x=[inf.t_sample_ns], y=[inf.readout[j]], mode="markers", name=f"v{n} read-out",
            marker=dict(symbol="diamond", size=12, color=colour, line=dict(color="black", width=1)),
            hovertemplate=f"v{n} read-out: {code}{inf.readout[j]:+.4f} V<extra></extra>", showlegend=False))
        fig.add_annotation(x=inf.t_sample_ns, y=float(inf.readout[j]), text=f"{code}{inf.readout[j]:+.3f} V",
                           showarrow=True, arrowhead=0, ax=-70, ay=-22 if j % 2 == 0 else 22,
                           font=dict(size=11, color=colour), bgcolor="rgba(255,255,255,0.85)")
    fig.add_vline(x=inf.t_sample_ns, line=dict(color="#d62728", dash="dot", width=1.5),
                  annotation_text=f"sample @ {inf.t_sample_ns:.3g} ns", annotation_position="top left",
                  annotation_font=dict(size=11, color="#d62728"))
    for b in inf.boundaries_ns[1:-1]:
        fig.add_vline(x=b, line=dict(color="grey", dash="dot", width=1))
    if supply is not None:
        for s in (-supply, supply):
            fig.add_hline(y=s, line=dict(color="#d62728", width=1, dash="dashdot"))
    x_hi = max(float(t[-1]), inf.t_sample_ns) * 1.04
    fig.update_layout(height=height, margin=_MARGIN, title=dict(text="Oscilloscope: read-out nodes",
                                                              font=dict(size=13)),
                      xaxis=dict(title="time (ns)", range=[0, x_hi]), yaxis=dict(title="voltage (V)", range=[lo, hi]),
                      legend=dict(orientation="h", y=-0.18, font=dict(size=10)), hovermode="closest")
    return fig


# --- Monte Carlo -----------------------------------------------------------------------------------

def mc_histogram(values: np.ndarray, ideal: float, metric: str, resolution: float | None = None,
                 height: int = 330) -> go.Figure:
    """How K chip instances score: bars per distinct accuracy (``resolution`` = 1 / test size) or a
    histogram of R², the ideal circuit's score as a vertical line and the mean as a dotted one."""
    values = np.asarray(values, dtype=np.float64)
    fig = go.Figure()
    is_acc = metric == "accuracy"
    if is_acc and resolution:
        vals, counts = np.unique(np.round(values / resolution).astype(int), return_counts=True)
        fig.add_trace(go.Bar(x=vals * resolution, y=counts, width=resolution * 0.85, marker_color="#0877bd",
                             name="chips", hovertemplate="accuracy %{x:.1%}: %{y} chip(s)<extra></extra>"))
    else:
        fig.add_trace(go.Histogram(x=values, nbinsx=min(30, max(5, len(values) // 2)), marker_color="#0877bd",
                                   name="chips"))
    fmt = (lambda v: f"{v:.1%}") if is_acc else (lambda v: f"{v:.3f}")
    mean = float(values.mean())
    close = abs(mean - ideal) < (resolution or 1e-3) / 2
    fig.add_vline(x=ideal, line=dict(color="#d62728", width=2),
                  annotation_text=f"ideal {fmt(ideal)}" + (f" · mean {fmt(mean)}" if close else ""),
                  annotation_position="top left", annotation_font=dict(color="#d62728", size=11))
    if not close:
        fig.add_vline(x=mean, line=dict(color="#333", width=1.5, dash="dot"), annotation_text=f"mean {fmt(mean)}",
                      annotation_position="top right", annotation_font=dict(size=11))
    span_lo = min(float(values.min()), ideal)
    span_hi = max(float(values.max()), ideal)
    margin = max((span_hi - span_lo) * 0.15, (resolution or 0.01) * 3)
    fig.update_layout(height=height, margin=_MARGIN, bargap=0.05, showlegend=False,
                      title=dict(text=f"{'Test accuracy' if is_acc else 'Test R²'} of {len(values)} chips",
                                 font=dict(size=13)),
                      xaxis=dict(title="test accuracy" if is_acc else "test R²",
                                 tickformat=".0%" if is_acc else None,
                                 range=[span_lo - margin, min(span_hi + margin, 1.0 + (resolution or 0.01))
                                        if is_acc else span_hi + margin]),
                      yaxis=dict(title="chips", rangemode="tozero"))
    return fig


def robustness_figure(panels: Sequence[dict], metric: str, height: int = 330) -> go.Figure:
    """Side-by-side robustness curves on a shared y axis. Each panel: ``title``, ``x_title``, ``x``
    (values swept), ``mean``, ``p5``, ``p95``, ``worst`` (per value) and ``ideal``; with ``labels`` the
    values are drawn evenly spaced and labelled (for uneven sweeps such as 0, 1, 2, 5, 10, 20, 50 %).
    The band is the 5-95 % range over the chips, the dotted line the worst chip."""
    fig = make_subplots(rows=1, cols=max(len(panels), 1), subplot_titles=[p["title"] for p in panels],
                        horizontal_spacing=0.06, shared_yaxes=True)
    is_acc = metric == "accuracy"
    lows = []
    for i, p in enumerate(panels, start=1):
        x = np.arange(len(p["x"]), dtype=np.float64) if "labels" in p else np.asarray(p["x"], dtype=np.float64)
        fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]),
                                 y=np.concatenate([np.asarray(p["p95"]), np.asarray(p["p5"])[::-1]]),
                                 fill="toself", fillcolor="rgba(8,119,189,0.15)", line=dict(width=0),
                                 name="5-95 % of chips", hoverinfo="skip", showlegend=i == 1), row=1, col=i)
        fig.add_trace(go.Scatter(x=x, y=p["mean"], mode="lines+markers", name="mean", line=dict(color="#0877bd"),
                                 showlegend=i == 1), row=1, col=i)
        fig.add_trace(go.Scatter(x=x, y=p["worst"], mode="lines+markers", name="worst chip",
                                 line=dict(color="#f59322", dash="dot"), marker=dict(size=5),
                                 showlegend=i == 1), row=1, col=i)
        fig.add_trace(go.Scatter(x=[x.min(), x.max()], y=[p["ideal"]] * 2, mode="lines", name="ideal",
                                 line=dict(color="#d62728", dash="dash"), showlegend=i == 1), row=1, col=i)
        fig.update_xaxes(title_text=p["x_title"], row=1, col=i)
        if "labels" in p:
            fig.update_xaxes(tickvals=x.tolist(), ticktext=list(p["labels"]), row=1, col=i)
        else:
            fig.update_xaxes(tickvals=list(p["x"]), row=1, col=i)
        lows += [float(np.min(p["worst"])), float(np.min(p["p5"])), float(p["ideal"])]
    if is_acc:
        low = max(0.0, min(lows) - 0.05)
        fig.update_yaxes(range=[low, 1.02], tickformat=".0%")
    fig.update_yaxes(title_text="test accuracy" if is_acc else "test R²", row=1, col=1)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=height, margin=dict(l=8, r=8, t=30, b=8),
                      legend=dict(orientation="h", y=-0.25, font=dict(size=10)))
    return fig
