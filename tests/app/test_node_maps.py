"""The Train page's node maps as one PNG: the colours follow the diverging scale, the picture is the
right way up, and the shared and per-node scales are what the titles say."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from views.node_maps import NAN_RGB, STOPS, diverging_rgb
from views.node_maps import draw as node_maps


def test_the_scale_runs_orange_grey_blue_and_clips():
    rgb = diverging_rgb(np.array([-2.0, -1.0, 0.0, 1.0, 2.0, np.nan]), 1.0)
    assert rgb.dtype == np.uint8
    assert (rgb[0] == STOPS[0]).all() and (rgb[1] == STOPS[0]).all()  # -lim and beyond: orange
    assert (rgb[2] == STOPS[1]).all()  # zero: grey
    assert (rgb[3] == STOPS[2]).all() and (rgb[4] == STOPS[2]).all()  # +lim and beyond: blue
    assert tuple(rgb[5]) == NAN_RGB
    half = diverging_rgb(np.array([0.5]), 1.0)[0]
    assert (half == np.rint((STOPS[1] + STOPS[2]) / 2)).all()


def _picture(tiles) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(tiles.png)).convert("RGB"))


def test_one_map_per_node_the_right_way_up():
    # node 1 rises with x2 (rows, upwards), node 2 with x1 (columns): 40 x 40 grid, 2 nodes
    ys, xs = np.meshgrid(np.linspace(-1, 1, 40), np.linspace(-1, 1, 40), indexing="ij")
    volts = np.stack([ys, xs], axis=-1)
    tiles = node_maps(volts, ["in", "out 0"], shared=True, tile=80)
    pic = _picture(tiles)
    assert tiles.titles == ("1 · in", "2 · out 0") and tiles.limits == (1.0, 1.0)
    top = 18  # the title row above each map
    first, second = pic[top:top + 80, :80], pic[top:top + 80, 90:170]
    assert (first[0, 40] == STOPS[2]).all() and (first[-1, 40] == STOPS[0]).all()  # blue at the top (x2 = +1)
    assert (second[40, -1] == STOPS[2]).all() and (second[40, 0] == STOPS[0]).all()  # blue on the right (x1 = +1)


def test_shared_and_own_scales():
    rng = np.random.default_rng(0)
    volts = rng.normal(size=(10, 10, 3)) * np.array([1.0, 10.0, 0.1])
    big = [float(np.abs(volts[..., i]).max()) for i in range(3)]
    shared = node_maps(volts, ["in", "hidden", "out 0"], shared=True)
    assert shared.limits == pytest.approx([max(big)] * 3) and shared.titles == ("1 · in", "2", "3 · out 0")
    own = node_maps(volts, ["in", "hidden", "out 0"], shared=False)
    assert own.limits == pytest.approx(big)
    assert own.titles == tuple(t + f" ±{b:.2g} V" for t, b in zip(shared.titles, big))
    # the faint node 3 reaches the scale's ends on its own scale, not on the shared one
    assert (_picture(own) == STOPS[0].astype(np.uint8)).all(-1).any()
    assert _picture(shared).shape[0] > _picture(own).shape[0]  # the shared scale bar under the maps


def test_more_nodes_than_shown_and_a_flat_map():
    tiles = node_maps(np.zeros((5, 5, 30)), ["hidden"] * 30, max_nodes=24)
    assert len(tiles.titles) == 24 and all(lim > 0 for lim in tiles.limits)
    assert _picture(tiles).size
