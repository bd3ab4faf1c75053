"""What the AppTest suites share: opening a page (with a link's query, or a prepared session) and
reading metrics, errors and plotly figures back from a run."""

from __future__ import annotations

import base64
import json
import pathlib
import sys
from typing import Callable

import numpy as np
from streamlit.testing.v1 import AppTest

APP_DIR = pathlib.Path(__file__).resolve().parents[2] / "app"
if str(APP_DIR) not in sys.path:  # the app's own modules (state, settings, views) for direct tests
    sys.path.insert(0, str(APP_DIR))

from state import SESSION_KEY, Session  # noqa: E402


def open_page(path: str, query: dict[str, str] | None = None, setup: Callable[[Session], None] | None = None,
              timeout: float = 120) -> AppTest:
    """The app opened on ``path`` (its entry point sets one torch thread, as in production), with a
    link's ``query``; ``setup(session)`` may change the session before the page first runs."""
    at = AppTest.from_file(str(APP_DIR / "streamlit_app.py"), default_timeout=timeout)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    if setup is not None:
        session = Session()
        setup(session)
        at.session_state[SESSION_KEY] = session
    at.switch_page(path)
    at.run()
    assert not at.exception, at.exception
    return at


def after_one_epoch(path: str) -> AppTest:
    """The app after one epoch on the Train page, switched to ``path``."""
    at = open_page("app_pages/train.py")
    at.button(key="train_step").click().run()
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def session(at: AppTest) -> Session:
    return at.session_state[SESSION_KEY]


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return values[0]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def errors(at: AppTest) -> str:
    return " | ".join(e.value for e in at.error)


def chart_specs(at: AppTest) -> list[dict]:
    """Every plotly figure on the page (as JSON): ``st.plotly_chart``'s and the live chart frames'
    (``components.live_chart``, which take the figure as their ``spec`` argument)."""
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    for c in at.get("component_instance"):
        if c.proto.component_name.endswith("live_chart"):
            specs.append(json.loads(json.loads(c.proto.json_args)["spec"]))
    return specs


def chart(at: AppTest, title_part: str) -> dict:
    """The plotly figure (as JSON) whose title or a subplot title contains ``title_part``."""
    for spec in chart_specs(at):
        layout = spec["layout"]
        titles = [layout.get("title", {}).get("text") or ""] + [a.get("text") or "" for a in layout.get("annotations", [])]
        if any(title_part in t for t in titles):
            return spec
    raise AssertionError(f"no chart titled {title_part!r}")


def plotly_array(value) -> np.ndarray:
    """A plotly array from figure JSON: a list, or plotly's typed-array form {dtype, bdata, shape}."""
    if isinstance(value, dict) and "bdata" in value:
        out = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return out.reshape([int(n) for n in str(shape).split(",")]) if shape else out
    return np.asarray(value, dtype=float)


def widget_keys(at: AppTest) -> set[str]:
    """Keys of every input widget and button on the page."""
    kinds = ("button", "number_input", "selectbox", "select_slider", "slider", "radio", "toggle", "text_input",
             "multiselect", "download_button", "file_uploader", "checkbox")
    return {w.key for kind in kinds for w in at.get(kind) if getattr(w, "key", None)}
