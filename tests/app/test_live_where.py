"""The line a worker's page shows above its charts (starting, waiting in line, not available) keeps
one place on the page in every state, so a session taking its turns does not shift what follows."""

from __future__ import annotations

import sys

import pytest
from streamlit.testing.v1 import AppTest

import apptest_helpers  # noqa: F401 - puts the app's modules on the path


@pytest.fixture(autouse=True)
def _keep_main():
    """AppTest leaves its script as ``sys.modules["__main__"]``; a script from ``from_function`` has no
    import spec (the app's entry point sets one), so a worker process started by a later test would
    run it again as its main module. Put pytest's back."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def _page(state: str) -> None:
    import streamlit as st

    from kirchhoff_core.workers import Snapshot
    from live import _where

    _where(Snapshot(state=state, queue_position=2, error="the worker is gone"))
    st.metric("Epoch", 3)


@pytest.mark.parametrize("state", ["starting", "idle", "waiting", "training", "error", "stopped"])
def test_the_where_line_keeps_one_place_in_every_state(state):
    at = AppTest.from_function(_page, args=(state,), default_timeout=30).run()
    assert not at.exception
    first, second = (at.main.children[i] for i in (0, 1))
    assert second.type == "metric"  # the elements after the line stay where they are
    said = {"starting": at.caption, "waiting": at.info, "error": at.error, "stopped": at.error}.get(state)
    if said is None:
        assert first.type == "empty"
    else:
        assert len(said) == 1 and first.type == said[0].type
    if state == "waiting":
        assert "you are 2nd in line" in at.info[0].value
