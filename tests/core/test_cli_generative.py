"""``kirchhoff train --task generate|density`` as a real process.

Importing torch costs seconds per process, so the three processes (a generate run, a density run,
and one child that runs every bad command line through the module's ``__main__``, as ``python -m``
does) start together from one fixture, one BLAS thread each. Circuits are shrunk with ``--topo`` so
each run takes a few seconds.
"""

from __future__ import annotations

import csv
import io as pyio
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from cli_driver import DRIVER, run
from kirchhoff_core import io
from kirchhoff_core.generative import CircuitFlow, FLOW_PRESETS
from kirchhoff_core.generators import generate
from kirchhoff_core.solvers import SolverConfig


GENERATE = ["train", "--task", "generate", "--dataset", "8gaussians", "--steps", "6", "--log-every", "3",
            "--batch-size", "64", "--eval-size", "300", "--topo", "repeats=3,3", "--topo", "num_slices=1",
            "--seed", "2", "--quiet", "--out", "gen"]
DENSITY = ["train", "--task", "density", "--potential", "U2", "--steps", "3", "--log-every", "1",
           "--batch-size", "32", "--eval-size", "100", "--topo", "num_slices=2", "--topo", "repeats=2,2",
           "--quiet", "--out", "den"]

# (argv, fragment of the one error line)
BAD = [
    (["train", "--task", "generate", "--dataset", "digits", "--out", "b1"], "--task generate needs a 2-D target"),
    (["train", "--task", "density", "--out", "b2"], "--task density needs one of ['U1', 'U2', 'U3', 'U4']"),
    (["train", "--task", "density", "--potential", "U9", "--out", "b3"], "unknown target 'U9'"),
    (["train", "--task", "generate", "--potential", "U1", "--out", "b4"], "--potential: only with --task density"),
    (["train", "--dataset", "moons", "--potential", "U1", "--out", "b5"], "--potential: only with --task density"),
    (["train", "--dataset", "8gaussians", "--epochs", "1", "--out", "b6"], "'8gaussians' is a generative target; add --task generate"),
    (["train", "--task", "generate", "--topology", "ring", "--out", "b7"], "--topology: generative runs use"),
    (["train", "--task", "generate", "--topo", "n_inputs=3", "--out", "b8"], "--topo: cannot set 'n_inputs'"),
    (["train", "--task", "generate", "--steps", "0", "--out", "b9"], "--steps: need at least 1"),
    (["train", "--task", "generate", "--circuit", "three.json", "--out", "b10"], "need a flow on 2 nodes"),
    (["train", "--task", "generate", "--optimizer", "sgd", "--out", "b11"], "generative runs use adam or adamw"),
    (["train", "--task", "classify", "--out", "b12"], "invalid choice: 'classify'"),
]



@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("cli_generative")
    io.save_circuit(generate("fully_connected", num_nodes=3, seed=0), work / "three.json")
    jobs = {"generate": [sys.executable, "-m", "kirchhoff_core", *GENERATE],
            "density": [sys.executable, "-m", "kirchhoff_core", *DENSITY],
            "bad": [sys.executable, "-c", DRIVER, json.dumps([argv for argv, _ in BAD])]}
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {k: pool.submit(run, cmd, work) for k, cmd in jobs.items()}
        done = {k: f.result() for k, f in futures.items()}
    return {"work": work, **done}


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(pyio.StringIO(text)))


def test_generate_run_prints_progress_and_saves_the_flow(runs):
    r, work = runs["generate"], runs["work"]
    assert r.returncode == 0, r.stderr
    rows = _csv(r.stdout)
    assert [int(row["step"]) for row in rows] == [3, 6]
    assert set(rows[0]) == {"step", "train_loss", "test_nll", "nfe_forward", "nfe_backward", "lr", "wall_time"}
    assert all(float(row["test_nll"]) > 0 and int(row["nfe_forward"]) > 0 for row in rows)
    assert "maximum likelihood" in r.stderr and "saved" in r.stderr
    circuit, extra = io.load_checkpoint(work / "gen" / "circuit.json")
    training = extra["training"]
    assert training["task"] == "generate" and training["target"] == "8gaussians"
    assert training["config"]["batch_size"] == 64 and training["config"]["seed"] == 2
    assert training["config"]["lr"] == FLOW_PRESETS["8gaussians"].lr
    assert [h["step"] for h in training["history"]] == [3, 6]
    assert circuit.num_nodes == 2 and len(circuit.slices) == 1 and circuit.slices[0].num_devices == 36
    # The saved circuit is the trained flow: its held-out NLL is what the last row printed.
    flow = CircuitFlow(circuit, SolverConfig(**training["solver"]))
    from kirchhoff_core.densities import sample_target
    import numpy as np
    x = torch.as_tensor(sample_target("8gaussians", 300, np.random.default_rng([2, 1])), dtype=torch.float32)
    with torch.no_grad():
        nll = -flow.log_prob(x).mean().item()
    assert nll == pytest.approx(float(rows[-1]["test_nll"]), abs=1e-4)


def test_density_run(runs):
    r, work = runs["density"], runs["work"]
    assert r.returncode == 0, r.stderr
    rows = _csv(r.stdout)
    assert [int(row["step"]) for row in rows] == [1, 2, 3] and "test_kl" in rows[0]
    assert "reverse KL" in r.stderr
    circuit, extra = io.load_checkpoint(work / "den" / "circuit.json")
    assert extra["training"]["target"] == "U2" and len(circuit.slices) == 2
    assert set(circuit.slices[0].kind) == {"ShiftTanh1"}  # the reference's density-matching device


def test_bad_command_lines_give_one_error_line(runs):
    r = runs["bad"]
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)
    work = runs["work"]
    for (argv, fragment), res in zip(BAD, results):
        assert res["code"] == 2, (argv, res)
        assert "Traceback" not in res["stderr"], (argv, res["stderr"])
        assert fragment in res["stderr"], (argv, res["stderr"])
        assert not (work / argv[-1] / "circuit.json").exists()
