"""Shared fixtures for the app tests: a fresh ``AppTest`` of the whole app (navigation included),
training in-process.
Importing ``apptest_helpers`` puts app/ on the path for the app's own modules (state, views, ...)."""

from __future__ import annotations

import pytest
from apptest_helpers import APP_DIR
from streamlit.testing.v1 import AppTest


@pytest.fixture(autouse=True)
def train_in_process(monkeypatch):
    """The pages train in the test's process: AppTest cannot fire the live timer that follows a
    worker (tests of the worker path set KIRCHHOFF_WORKERS themselves)."""
    monkeypatch.setenv("KIRCHHOFF_WORKERS", "0")


@pytest.fixture
def app() -> AppTest:
    """The app, not yet run; generous timeout since pages build circuits and torch models."""
    return AppTest.from_file(str(APP_DIR / "streamlit_app.py"), default_timeout=60)
