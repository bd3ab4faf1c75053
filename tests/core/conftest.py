"""Core test helpers: one torch thread for tiny solves, and the fuzz suite's case count in the run's
summary (recorded in docs/file-format.md)."""

from __future__ import annotations

import sys

import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny solves: extra torch threads only contend with each other (and other jobs) on a busy machine.
    Modules that want it: ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_terminal_summary(terminalreporter) -> None:
    fuzz = next((m for name, m in sys.modules.items() if name.endswith("test_fuzz") and hasattr(m, "CASES")), None)
    if fuzz is not None and fuzz.CASES:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(fuzz.CASES.items()))
        terminalreporter.write_line(f"fuzz suite: {sum(fuzz.CASES.values())} cases ({detail})")
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(fuzz.OUTCOMES.items()))
        terminalreporter.write_line(f"fuzz outcomes: {outcomes}")
