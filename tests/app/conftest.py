"""Shared fixtures for the app tests: a fresh ``AppTest`` of the whole app (navigation included).
Importing ``apptest_helpers`` puts app/ on the path for the app's own modules (state, views, ...)."""

from __future__ import annotations

import pytest
from apptest_helpers import APP_DIR
from streamlit.testing.v1 import AppTest


@pytest.fixture
def app() -> AppTest:
    """The app, not yet run; generous timeout since pages build circuits and torch models."""
    return AppTest.from_file(str(APP_DIR / "streamlit_app.py"), default_timeout=60)
