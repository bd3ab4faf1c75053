"""Figures for the Sweep page: pure functions, a sweep's rows and curves in, plotly figures out.

The rows are ``SweepState.rows()`` (one dict per trial, best first) and the curves
``SweepState.curves()`` (one row per trial and epoch); the page says which hyperparameters to show,
which of them are on a log scale, and what the objective is called. Stopped-early trials are drawn
dashed and ended with a cross, failed ones in red; categorical hyperparameters become numbered
axes with their names as tick labels.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative, sample_colorscale
from plotly.subplots import make_subplots

STATE_LABELS = {"stopped": "stopped early", "finished": "finished", "failed": "failed", "running": "running",
                "pending": "pending", "interrupted": "interrupted"}
STATE_SYMBOLS = {"finished": "circle", "stopped": "x", "running": "circle-open", "interrupted": "diamond-open"}
FAILED = "#d62728"
SCALE = [[0.0, "#3b0f70"], [0.35, "#1f6fb2"], [0.7, "#2aa876"], [1.0, "#e08a00"]]
"""Purple through blue and green to orange: every end stays visible on white (Viridis' yellow does not)."""
PALETTE = qualitative.Plotly
_MARGIN = dict(l=8, r=8, t=36, b=8)


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


def is_percent(objective_label: str) -> bool:
    """Accuracies are shown as percentages."""
    return objective_label == "test accuracy"


def objective_text(value: float | None, objective_label: str) -> str:
    return "—" if value is None else f"{value:.1%}" if is_percent(objective_label) else f"{value:.4g}"


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _text(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _is_numeric(values: Sequence[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(_number(v) for v in present)


def axis(values: Sequence[Any], log: bool = False) -> tuple[np.ndarray, list[float] | None, list[str] | None]:
    """Values as numbers for an axis: (numbers, tick values, tick labels). Numbers stay numbers (as
    log10 when ``log``, labelled with the real values); names become 0, 1, 2, ... in sorted order."""
    if _is_numeric(values):
        x = np.array([v if v is not None else np.nan for v in values], dtype=np.float64)
        if not log:
            distinct = sorted({float(v) for v in x if np.isfinite(v)})
            if 1 <= len(distinct) <= 8:  # a few values: tick exactly those
                return x, distinct, [f"{v:g}" for v in distinct]
            return x, None, None
        x = np.log10(np.where(x > 0, x, np.nan))
        lo, hi = np.nanmin(x), np.nanmax(x)
        ticks = np.arange(math.floor(lo), math.ceil(hi) + 1, dtype=np.float64)
        return x, ticks.tolist(), [f"{10 ** t:g}" for t in ticks]
    names = sorted({_text(v) for v in values if v is not None})
    code = {n: i for i, n in enumerate(names)}
    x = np.array([code[_text(v)] if v is not None else np.nan for v in values], dtype=np.float64)
    return x, list(map(float, range(len(names)))), names


def colours(values: Sequence[Any], log: bool = False) -> tuple[list[str], dict[str, str] | None]:
    """A colour per value: a Viridis scale for numbers (log-spaced when ``log``), a palette for names
    (returned as name -> colour for the legend)."""
    if _is_numeric(values):
        x, _, _ = axis(values, log)
        lo, hi = np.nanmin(x), np.nanmax(x)
        span = hi - lo if hi > lo else 1.0
        where = [0.5 if not np.isfinite(v) else float((v - lo) / span) for v in x]
        return sample_colorscale(SCALE, where), None
    names = sorted({_text(v) for v in values})
    legend = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    return [legend[_text(v)] for v in values], legend


def _hover(row: dict[str, Any], names: Sequence[str]) -> str:
    return "<br>".join([f"trial {row['trial']} ({state_label(row['state'])})",
                        *(f"{n} = {_text(row.get(n))}" for n in names)])


def curves_figure(curves: pd.DataFrame, names: Sequence[str], colour_by: str | None, log: bool,
                  objective_label: str, percent: bool = False, height: int = 380) -> go.Figure:
    """Every trial's objective against epoch, overlaid; coloured by ``colour_by`` (a hyperparameter);
    stopped-early trials dashed and ending in a cross, failed ones red and dotted (``percent``: the
    objective is an accuracy)."""
    fig = go.Figure()
    if curves.empty:
        fig.update_layout(title="Learning curves (no epoch reported yet)", height=height, margin=_MARGIN)
        return fig
    trials = [g for _, g in curves.groupby("trial", sort=True)]
    firsts = [g.iloc[0].to_dict() for g in trials]
    by = [f.get(colour_by) for f in firsts] if colour_by else [None] * len(firsts)
    palette, legend = colours(by, log) if colour_by else (["#0877bd"] * len(firsts), None)
    shown: set[str] = set()
    for g, first, colour, value in zip(trials, firsts, palette, by):
        state = first["state"]
        failed = state == "failed"
        group = _text(value) if legend else None
        fig.add_trace(go.Scatter(
            x=g["epoch"], y=g["objective"], mode="lines+markers", name=group or f"trial {first['trial']}",
            legendgroup=group, showlegend=bool(group) and group not in shown,
            line=dict(color=FAILED if failed else colour, width=2, dash="dot" if failed else
                      "dash" if state == "stopped" else "solid"),
            marker=dict(size=[4] * (len(g) - 1) + [11 if state in ("stopped", "failed") else 5],
                        symbol=["circle"] * (len(g) - 1) + ["x" if state in ("stopped", "failed") else "circle"]),
            hovertemplate=_hover(first, names) + "<br>epoch %{x}: %{y:.4g}<extra></extra>"))
        if group:
            shown.add(group)
    if colour_by and legend is None:  # a colour bar for a numeric hyperparameter
        x, ticks, labels = axis(by, log)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                                 marker=dict(colorscale=SCALE, cmin=float(np.nanmin(x)), cmax=float(np.nanmax(x)),
                                             color=[float(np.nanmin(x))], showscale=True,
                                             colorbar=dict(title=colour_by, thickness=12, tickvals=ticks,
                                                           ticktext=labels))))
    fig.update_layout(title=f"Learning curves: {objective_label} per epoch" + (f", colour = {colour_by}"
                                                                              if colour_by else ""),
                      height=height, margin=_MARGIN, xaxis_title="epoch", yaxis_title=objective_label,
                      legend=dict(title=colour_by), hovermode="closest")
    fig.update_xaxes(tick0=1, dtick=max(1, math.ceil(int(curves["epoch"].max()) / 10)))
    if percent:
        fig.update_yaxes(tickformat=".0%")
    return fig


def parallel_figure(rows: Sequence[dict[str, Any]], names: Sequence[str], log_names: set[str],
                    objective_label: str, mode: str, percent: bool = False, height: int = 380) -> go.Figure:
    """One line per trial with an objective through an axis per hyperparameter and the objective,
    coloured by the objective (the best at the bright end)."""
    scored = [r for r in rows if _number(r.get("objective"))]
    dims = []
    for name in names:
        values, ticks, labels = axis([r.get(name) for r in scored], name in log_names)
        d = dict(label=f"{name} (log)" if ticks is not None and name in log_names else name, values=values)
        if ticks is not None:
            d.update(tickvals=ticks, ticktext=labels)
        dims.append(d)
    objective = [r["objective"] for r in scored]
    dims.append(dict(label=objective_label, values=objective, **({"tickformat": ".0%"} if percent else {})))
    line = dict(color=objective, colorscale=SCALE, reversescale=mode == "min")
    fig = go.Figure(go.Parcoords(dimensions=dims, line=line, labelangle=0, labelside="bottom"))
    fig.update_layout(title=f"Parallel coordinates: {len(scored)} trial(s) with a result, orange = best",
                      height=height, margin=dict(l=60, r=60, t=60, b=48))
    return fig


def scatter_figure(rows: Sequence[dict[str, Any]], names: Sequence[str], log_names: set[str],
                   objective_label: str, percent: bool = False, height: int = 320) -> go.Figure:
    """The objective against each hyperparameter, one panel each; the marker says the trial's state."""
    cols = max(1, min(3, len(names)))
    n_rows = max(1, math.ceil(len(names) / cols))
    fig = make_subplots(rows=n_rows, cols=cols, subplot_titles=[f"{objective_label} vs {n}" for n in names],
                        horizontal_spacing=0.07, vertical_spacing=0.18)
    scored = [r for r in rows if _number(r.get("objective"))]
    for i, name in enumerate(names):
        r, c = i // cols + 1, i % cols + 1
        numeric = _is_numeric([row.get(name) for row in scored])
        for state in dict.fromkeys(row["state"] for row in scored):
            pts = [row for row in scored if row["state"] == state]
            xs = [row.get(name) if numeric else _text(row.get(name)) for row in pts]
            fig.add_trace(go.Scatter(
                x=xs, y=[row["objective"] for row in pts], mode="markers", name=state_label(state),
                legendgroup=state, showlegend=i == 0,
                marker=dict(size=9, symbol=STATE_SYMBOLS.get(state, "circle"), line=dict(width=1.5),
                            color=PALETTE[list(STATE_SYMBOLS).index(state) % len(PALETTE)]
                            if state in STATE_SYMBOLS else "#888"),
                hovertext=[_hover(row, names) for row in pts], hoverinfo="text+y"), row=r, col=c)
        if numeric and name in log_names:
            fig.update_xaxes(type="log", row=r, col=c)
        elif not numeric:
            fig.update_xaxes(type="category", categoryorder="category ascending", row=r, col=c)
    if percent:
        fig.update_yaxes(tickformat=".0%")
    fig.update_annotations(font_size=12)
    fig.update_layout(height=height * n_rows, margin=_MARGIN, legend=dict(orientation="h", y=-0.12))
    return fig
