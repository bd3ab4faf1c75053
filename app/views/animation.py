"""Play / Pause buttons and a frame slider for plotly figures that animate in the browser.

One helper for every animated figure (the trajectory watch, flow and read-out sweep, the chip's
die, the generative flow): the frames play without a Streamlit rerun. Figures differ only in where
the controls sit, their labels and whether frames redraw (heatmaps need it)."""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

FRAME_MS = 90
REDRAW_FRAME_MS = 250
"""Frames that redraw (heatmaps) need longer: at 90 ms headless chromium never finished one and the
heatmap stayed blank until the animation stopped."""


def _frame_args(redraw: bool, duration: int = 0, **extra) -> dict:
    return dict(frame=dict(duration=duration, redraw=redraw), transition=dict(duration=0), mode="immediate", **extra)


def add_animation(fig: go.Figure, names: Sequence[str], labels: Sequence[str], *, redraw: bool = False,
                  frame_ms: int | None = None, prefix: str = "t = ", y: float = -0.02, play_label: str = "Play",
                  pause_label: str = "Pause", from_start: bool = False, active: int = 0, menu: dict | None = None,
                  slider: dict | None = None) -> None:
    """A Play / Pause menu and a slider over the frames named ``names`` (slider labels ``labels``),
    under the plot by default. ``from_start``: Play runs every frame from the first rather than on
    from the slider's position; ``active``: the frame the slider shows first; ``menu`` / ``slider``:
    layout overrides (position, padding, fonts)."""
    frame_ms = frame_ms or (REDRAW_FRAME_MS if redraw else FRAME_MS)
    play = [list(names) if from_start else None, _frame_args(redraw, frame_ms, fromcurrent=not from_start)]
    menu_layout = dict(type="buttons", direction="left", showactive=False, x=0.0, y=y, xanchor="left", yanchor="top",
                       pad=dict(t=8, r=8), buttons=[dict(label=play_label, method="animate", args=play),
                                                    dict(label=pause_label, method="animate",
                                                         args=[[None], _frame_args(redraw)])])
    # By default the slider starts 135 px in (not at a fraction of the width), so the buttons never cover it.
    slider_layout = dict(active=active, x=0.0, y=y, len=1.0, xanchor="left", yanchor="top", pad=dict(t=0, b=0, l=135),
                         currentvalue=dict(prefix=prefix, font=dict(size=12)), transition=dict(duration=0),
                         steps=[dict(method="animate", label=lab, args=[[n], _frame_args(redraw)])
                                for n, lab in zip(names, labels)])
    fig.update_layout(updatemenus=[{**menu_layout, **(menu or {})}], sliders=[{**slider_layout, **(slider or {})}])
