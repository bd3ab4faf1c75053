"""The live chart component's Python side: what it sends the frame and the folder it serves."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go

from apptest_helpers import open_page, plotly_array
from components import live_chart


def test_the_spec_is_the_figure_without_its_template():
    fig = go.Figure(go.Heatmap(z=np.arange(6.0).reshape(2, 3)), layout=dict(title="epoch 3", height=420))
    spec = json.loads(live_chart.spec(fig))
    assert "template" not in spec["layout"]  # the frame follows the page's theme instead
    assert spec["layout"]["title"]["text"] == "epoch 3" and spec["layout"]["height"] == 420
    np.testing.assert_array_equal(plotly_array(spec["data"][0]["z"]).reshape(2, 3), np.arange(6.0).reshape(2, 3))


def test_the_served_folder_has_the_page_and_plotly_js():
    folder = live_chart._served_folder()
    assert (folder / "index.html").read_bytes() == live_chart.PAGE.read_bytes()
    assert (folder / "plotly.min.js").stat().st_size == live_chart.PLOTLY_JS.stat().st_size
    assert live_chart._served_folder() == folder  # made once, then found


def test_the_train_page_draws_its_live_charts_in_frames_kept_by_key():
    at = open_page("app_pages/train.py")
    at.button(key="train_step").click().run()
    frames = [c.proto for c in at.get("component_instance") if c.proto.component_name.endswith("live_chart")]
    titles = [json.loads(json.loads(f.json_args)["spec"])["layout"].get("title", {}).get("text") for f in frames]
    assert len(frames) == 2 and "epoch 1" in titles  # the boundary and the curves
    at.button(key="train_step").click().run()
    again = [c.proto for c in at.get("component_instance") if c.proto.component_name.endswith("live_chart")]
    assert [f.id for f in again] == [f.id for f in frames]  # the same frames, given the next drawing
    assert "epoch 2" in [json.loads(json.loads(f.json_args)["spec"])["layout"].get("title", {}).get("text")
                         for f in again]
