"""``kirchhoff trajectory`` and ``kirchhoff readout-sweep`` (run in-process through ``cli.main``)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch

from cli_driver import run_in_process as run
from kirchhoff_core.cli_common import SIMULATE_RTOL
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.train import Trainer


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/core/conftest.py (so is circuit_file)




def test_trajectory_prints_the_transient_as_csv(capsys, circuit_file):
    path, circuit = circuit_file
    code, out, _ = run(capsys, "trajectory", str(path), "--inputs", "0.5,-1.0", "--points", "20", "--currents")
    assert code == 0
    frame = pd.read_csv(io.StringIO(out))
    assert len(frame) == 2 * 21 and list(frame["slice"].unique()) == [0, 1]
    assert frame[["v1", "v2"]].iloc[0].tolist() == [0.5, -1.0]
    model = KirchhoffNet(circuit, SolverConfig(rtol=SIMULATE_RTOL, atol=SIMULATE_RTOL), dtype=torch.float64)
    with torch.no_grad():
        expected = model(torch.tensor([[0.5, -1.0]], dtype=torch.float64))[0].numpy()
    np.testing.assert_allclose(frame[["v4", "v5"]].iloc[-1], expected, atol=1e-9)
    assert sum(c.startswith("i_s1_") for c in frame.columns) == circuit.slices[1].num_devices


def test_readout_sweep_ends_at_the_trainers_metric(capsys, circuit_file):
    path, circuit = circuit_file
    code, out, err = run(capsys, "readout-sweep", str(path), "--samples", "100", "--times", "5")
    assert code == 0
    frame = pd.read_csv(io.StringIO(out))
    assert list(frame.columns) == ["t", "metric", "loss"] and len(frame) == 5
    data = make_dataset("moons", n_samples=100, seed=0)
    trainer = Trainer(KirchhoffNet(circuit, SolverConfig(rtol=1e-6, atol=1e-6), dtype=torch.float64), data)
    loss, acc = trainer.evaluate(trainer.x_test, trainer.y_test)
    assert frame["metric"].iloc[-1] == pytest.approx(acc, abs=1e-6)
    assert frame["loss"].iloc[-1] == pytest.approx(loss, abs=1e-5)
    assert frame["loss"].iloc[0] == pytest.approx(np.log(2), abs=1e-6)  # read-outs still at 0 V
    assert "best at t =" in err


@pytest.mark.parametrize("argv, message", [
    (["trajectory", "{c}", "--inputs", "0.5"], "input: the circuit has 2 input node(s)"),
    (["trajectory", "{c}", "--inputs", "0.5,nan"], "--inputs: must be finite numbers"),
    (["trajectory", "{c}", "--inputs", "0,0", "--points", "0"], "--points: must be in"),
    (["readout-sweep", "{c}", "--times", "1"], "--times: must be in"),
    (["readout-sweep", "{c}", "--dataset", "blobs"], "outputs: the dataset 'blobs' has 3 classes"),
    (["trajectory", "missing.json", "--inputs", "0,0"], "missing.json: no such file"),
])
def test_bad_input_is_one_error_line(capsys, circuit_file, argv, message):
    path, _ = circuit_file
    code, out, err = run(capsys, *[a.replace("{c}", str(path)) for a in argv])
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and "Traceback" not in err
