"""Shared fixtures for the app tests: a fresh ``AppTest`` of the whole app (navigation included)."""

from __future__ import annotations

import pathlib
import sys

import pytest
from streamlit.testing.v1 import AppTest

APP_DIR = pathlib.Path(__file__).resolve().parents[2] / "app"
APP_FILE = APP_DIR / "streamlit_app.py"
if str(APP_DIR) not in sys.path:  # the app's own modules (state, uploads, views) for direct tests
    sys.path.insert(0, str(APP_DIR))


@pytest.fixture
def app() -> AppTest:
    """The app, not yet run; generous timeout since pages build circuits and torch models."""
    return AppTest.from_file(str(APP_FILE), default_timeout=60)
