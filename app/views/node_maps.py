"""Every node's voltage at T over the input plane as one picture: a grid of small square maps, drawn
as a PNG.

The Train page redraws these maps once a second while training plays. As a plotly figure (one
heatmap and one pair of axes per node) every redraw cost the server a ~170 kB message per tick and
the browser ~0.2 of a CPU core per playing session; a PNG of the same maps costs a few kB and an
image swap. Colours follow the Train page's heatmaps: orange negative, light grey zero, blue
positive."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from views.train_views import DIVERGING, _rgb

STOPS = np.stack([_rgb(colour) for _, colour in DIVERGING])
"""The Train page's diverging scale (``train_views.DIVERGING``) as RGB: orange, light grey, blue."""
NAN_RGB = (190, 190, 190)
_GAP, _LABEL, _BAR = 10, 18, 34  # pixels between maps, above each map for its title, for the scale bar


@dataclass(frozen=True)
class NodeMaps:
    """The picture and what it shows: each map's title and the |v| at its colour ends (one value for
    every map on a shared scale)."""

    png: bytes
    titles: tuple[str, ...]
    limits: tuple[float, ...]
    shared: bool


def diverging_rgb(z: np.ndarray, lim: float) -> np.ndarray:
    """Colours of ``z`` on the diverging scale from -lim (orange) to +lim (blue), as uint8 RGB; NaN grey."""
    t = np.clip((np.nan_to_num(z, nan=0.0) / max(lim, 1e-12) + 1.0), 0.0, 2.0)
    low = np.minimum(t.astype(np.int64), 1)
    w = (t - low)[..., None]
    rgb = STOPS[low] * (1.0 - w) + STOPS[low + 1] * w
    rgb[np.isnan(z)] = NAN_RGB
    return np.rint(rgb).astype(np.uint8)


def draw(volts: np.ndarray, roles: Sequence[str], shared: bool = True, cols: int | None = None,
         max_nodes: int = 24, tile: int = 140) -> NodeMaps:
    """``volts[j, i, n]``: node n+1's voltage at input (xs[i], ys[j]), ys increasing upwards in the
    picture. ``shared``: one colour scale for all maps (compare sizes, with a scale bar under them);
    else each map spans ±its own largest |v|, given in its title, so a small swing still shows."""
    n = min(volts.shape[-1], max_nodes)
    cols = max(1, min(cols or (4 if n <= 8 else 6), n))
    rows = max(1, math.ceil(n / cols))
    own = [float(max(np.nanmax(np.abs(volts[..., i])), 1e-9)) if volts.size else 1.0 for i in range(n)]
    lim = max(own, default=1.0)
    limits = tuple([lim] * n if shared else own)
    titles = tuple((f"{i + 1} · {roles[i]}" if roles[i] != "hidden" else f"{i + 1}")
                   + ("" if shared else f" ±{own[i]:.2g} V") for i in range(n))
    width = cols * tile + (cols - 1) * _GAP
    height = rows * (tile + _LABEL) + (rows - 1) * _GAP + (_BAR if shared else 0)
    picture = Image.new("RGB", (width, height), "white")
    pen, font = ImageDraw.Draw(picture), ImageFont.load_default(size=12)
    for i in range(n):
        x0, y0 = (i % cols) * (tile + _GAP), (i // cols) * (tile + _LABEL + _GAP)
        pen.text((x0 + tile / 2, y0 + _LABEL - 3), titles[i], fill="#333333", font=font, anchor="mb")
        rgb = diverging_rgb(np.flipud(volts[..., i]), limits[i])
        picture.paste(Image.fromarray(rgb).resize((tile, tile), Image.NEAREST), (x0, y0 + _LABEL))
    if shared:
        _scale_bar(pen, picture, lim, width, height, font)
    buf = io.BytesIO()
    picture.save(buf, format="PNG", optimize=False, compress_level=3)
    return NodeMaps(buf.getvalue(), titles, limits, shared)


def _scale_bar(pen: ImageDraw.ImageDraw, picture: Image.Image, lim: float, width: int, height: int,
               font: ImageFont.ImageFont) -> None:
    """The shared scale under the maps: -lim ... 0 ... +lim volts."""
    bar_w = min(width - 120, 320)
    x0, y0 = (width - bar_w) // 2, height - _BAR + 8
    ramp = diverging_rgb(np.linspace(-lim, lim, bar_w)[None, :].repeat(10, 0), lim)
    picture.paste(Image.fromarray(ramp), (x0, y0))
    pen.text((x0 - 6, y0 + 5), f"-{lim:.2g} V", fill="#333333", font=font, anchor="rm")
    pen.text((x0 + bar_w + 6, y0 + 5), f"+{lim:.2g} V", fill="#333333", font=font, anchor="lm")
    pen.text((x0 + bar_w / 2, y0 + 12), "0", fill="#333333", font=font, anchor="mt")
