"""`kirchhoff train` says the guard rails' warnings (the Train page's settings check) on stderr, as
`warning: ...` lines, before the first epoch — and nothing for a sound set-up."""

from __future__ import annotations

import os
import subprocess
import sys

TIMEOUT = 300


def _train(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}
    cmd = [sys.executable, "-m", "kirchhoff_core", "train", "--dataset", "moons", "--samples", "60", "--epochs", "1",
           "--out", str(tmp_path / "run"), "--quiet", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env)


def test_a_diverging_learning_rate_is_warned_about_before_training(tmp_path):
    p = _train(tmp_path, "--lr", "5")
    assert p.returncode == 0, p.stderr
    warnings = [line for line in p.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "A learning rate of 5 with adam" in warnings[0] and "Try 0.01" in warnings[0]
    assert p.stderr.index("warning: ") < p.stderr.index("training ")  # said before training starts


def test_a_read_out_time_far_off_is_warned_about(tmp_path):
    p = _train(tmp_path, "--topo", "duration=0.001")
    assert p.returncode == 0, p.stderr
    assert "warning: Read-out time T = 0.001 is only" in p.stderr and "Try T ≈" in p.stderr


def test_the_preset_trains_without_a_warning(tmp_path):
    p = _train(tmp_path)
    assert p.returncode == 0, p.stderr
    assert "warning:" not in p.stderr
