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


@pytest.fixture(scope="module")
def circuit_file(tmp_path_factory):
    """A saved two-slice circuit (5 nodes, 2 inputs, 2 read-outs) for the CLI commands that read one."""
    from kirchhoff_core.generators import generate
    from kirchhoff_core.io import save_circuit

    path = tmp_path_factory.mktemp("cli") / "c.json"
    circuit = generate("fully_connected", num_nodes=5, n_inputs=2, n_outputs=2, num_slices=2, seed=4)
    save_circuit(circuit, path)
    return path, circuit


def pytest_terminal_summary(terminalreporter) -> None:
    fuzz = next((m for name, m in sys.modules.items() if name.endswith("test_fuzz") and hasattr(m, "CASES")), None)
    if fuzz is not None and fuzz.CASES:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(fuzz.CASES.items()))
        terminalreporter.write_line(f"fuzz suite: {sum(fuzz.CASES.values())} cases ({detail})")
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(fuzz.OUTCOMES.items()))
        terminalreporter.write_line(f"fuzz outcomes: {outcomes}")
