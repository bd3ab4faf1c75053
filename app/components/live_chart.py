"""A plotly chart that a playing page redraws in place.

``st.plotly_chart`` derives its element's id from the figure, so every changed figure is a new chart
in the browser: a full ``Plotly.newPlot`` on a new element. On the Train page, playing, that cost
the browser ~0.35 of a CPU core for the decision boundary and the curves, as much as a training
worker gets on a 2-core class server with the students' browsers beside it. This Streamlit
component (``assets/live_chart/index.html``) keeps one frame per key and hands it each new figure,
which it draws with ``Plotly.react``: only what changed is redrawn, and a figure re-sent unchanged by a
tick costs nothing.

Plotly.js comes from the installed plotly package (the same version that wrote the figure), copied
with the page into a folder the component serves; nothing is fetched from the network."""

from __future__ import annotations

import functools
import hashlib
import shutil
import tempfile
from pathlib import Path

import plotly
import plotly.graph_objects as go
import plotly.io as pio
import streamlit.components.v1 as components

PAGE = Path(__file__).resolve().parents[2] / "assets" / "live_chart" / "index.html"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _served_folder() -> Path:
    """The component's folder: its page and plotly.js, under a name that changes with either."""
    page = PAGE.read_bytes()
    tag = hashlib.sha256(page + plotly.__version__.encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"kirchhoff_live_chart_{tag}"
    if not (folder / "index.html").exists():
        staging = Path(tempfile.mkdtemp(prefix="kirchhoff_live_chart_"))
        shutil.copyfile(PLOTLY_JS, staging / "plotly.min.js")
        (staging / "index.html").write_bytes(page)
        try:
            staging.rename(folder)
        except OSError:  # another server process made it first
            shutil.rmtree(staging, ignore_errors=True)
    return folder


@functools.cache
def _component():
    return components.declare_component("live_chart", path=str(_served_folder()))


def spec(fig: go.Figure) -> str:
    """The figure as the component takes it: plotly JSON without the template (the frame follows the
    page's theme instead, as ``st.plotly_chart`` does)."""
    d = fig.to_plotly_json()
    layout = {k: v for k, v in d.get("layout", {}).items() if k != "template"}
    return pio.to_json({"data": d.get("data", []), "layout": layout}, validate=False)


def live_chart(figure: go.Figure, key: str) -> None:
    """Draw ``figure`` in the frame kept under ``key``."""
    _component()(spec=spec(figure), key=key, default=None)
