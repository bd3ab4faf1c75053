"""``kirchhoff view``: the network view of a circuit as an HTML file (run in-process through ``cli.main``)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from cli_driver import run_in_process as run
from kirchhoff_core.cli_common import SIMULATE_RTOL
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.netview import ROLE_COLOURS
from kirchhoff_core.solvers import SolverConfig

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/core/conftest.py (so is circuit_file)




def nodes(html: str) -> dict[int, dict]:
    return {n["id"]: n for n in json.loads(re.search(r"nodes = new vis\.DataSet\((\[.*?\])\);", html, re.S).group(1))}


def test_view_by_role_and_by_voltage(capsys, circuit_file, tmp_path):
    path, circuit = circuit_file
    code, out, err = run(capsys, "view", path, "-o", tmp_path / "role.html")
    assert code == 0 and out == "" and "6 nodes, 15 of 15 node pairs, coloured by role" in err
    html = (tmp_path / "role.html").read_text()
    by_id = nodes(html)
    assert sorted(by_id) == list(range(6)) and by_id[1]["color"] == ROLE_COLOURS["input"]
    assert "window.kirchhoffSettled = true" in html and not re.search(r"<script[^>]+https?://", html)

    # a list that starts with a negative number, slice 1 at a time inside it
    code, _, err = run(capsys, "view", path, "-o", tmp_path / "v.html", "--inputs", "-0.5,1", "--slice", "1",
                       "--time", "1.5", "--no-ground", "--max-edges", "4")
    assert code == 0 and "4 of 10 node pairs, coloured by voltage at t = 1.5" in err
    model = KirchhoffNet(circuit, SolverConfig(rtol=SIMULATE_RTOL, atol=SIMULATE_RTOL), dtype=torch.float64)
    expected = model.trajectory(torch.tensor([[-0.5, 1.0]], dtype=torch.float64), [1.5])[0, 0].detach().numpy()
    by_id = nodes((tmp_path / "v.html").read_text())
    assert 0 not in by_id  # --no-ground
    shown = [float(re.search(r": ([-+][\d.e+-]+) V", by_id[n]["title"]).group(1)) for n in range(1, 6)]
    np.testing.assert_allclose(shown, expected, rtol=1e-3, atol=1e-4)  # the titles print 4 significant digits


@pytest.mark.parametrize("argv, message", [
    (["--time", "0.5"], "--time: colouring by voltage needs --inputs"),
    (["--inputs", "0.5"], "input: the circuit has 2 input node(s)"),
    (["--inputs", "1e9,0"], "x1: 1e+09 V is outside the accepted range"),
    (["--inputs", "0.5,x"], "--inputs: expected comma-separated numbers"),
    (["--inputs", "-1,1", "--time", "1.5"], "time: slice 0 runs over t in [0, 1], got 1.5"),
    (["--inputs", "-1,1", "--slice", "1", "--time", "1"], "time: slice 1 runs over t in (1, 2], got 1"),
    (["--slice", "2"], "--slice: the circuit has slices 0..1"),
    (["--max-edges", "0"], "max_edges: must be in [1, 100000]"),
])
def test_bad_input_is_one_error_line_and_writes_nothing(capsys, circuit_file, tmp_path, argv, message):
    path, _ = circuit_file
    code, out, err = run(capsys, "view", path, "-o", tmp_path / "x.html", *argv)
    assert code == 2 and out == "" and err.startswith("error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "x.html").exists()


def test_output_path_and_missing_file(capsys, circuit_file, tmp_path):
    path, _ = circuit_file
    code, _, err = run(capsys, "view", path, "-o", tmp_path)
    assert code == 2 and err.startswith("error: --out:") and "folder" in err
    code, _, err = run(capsys, "view", tmp_path / "missing.json", "-o", tmp_path / "m.html")
    assert code == 2 and "missing.json: no such file" in err
