"""The ``kirchhoff`` command, run as a real process: ``python -m kirchhoff_core ...``.

Importing torch + scikit-learn costs ~5 s of CPU per process, so the processes are started at once
from one fixture (side by side, one BLAS/OpenMP thread each so they do not oversubscribe the
cores) and each test reads its own result. simulate, train and an error exit each get their own
process; everything else (generate, info, ``--help`` of every subcommand and topology, bad usage)
runs in one child process that executes the module's ``__main__`` once per command line, exactly
as ``python -m`` does, capturing each run's exit status, stdout and stderr (an uncaught exception
is reported with its traceback, as the interpreter would).
"""

from __future__ import annotations

import csv
import io as pyio
import json
import os
import pathlib
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from cli_driver import DRIVER, run
from kirchhoff_core import io
from kirchhoff_core.circuit import Circuit, Slice
from kirchhoff_core.cli_common import SIMULATE_RTOL
from kirchhoff_core.devices import KINDS
from kirchhoff_core.generators import GENERATORS, generate
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig

ROOT = pathlib.Path(__file__).resolve().parents[2]
INPUTS = "0.5,-1.0"
TIMES = "0,0.25,0.5,1.0"



def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "kirchhoff_core", *args]


# --- files the commands read ---------------------------------------------------------------------

def simulate_circuit() -> Circuit:
    """Two slices: width 4 (0.5 s) then width 3 (0.5 s); mixed device kinds; 2 inputs."""
    rng = np.random.default_rng(42)
    kinds = sorted(KINDS)

    def recs(width, n):
        out = []
        for j in range(n):
            k = kinds[j % len(kinds)]
            s, d = (int(v) for v in rng.choice(width + 1, size=2, replace=False))
            out.append({"src": s, "dst": d, "kind": k, "params": (0.6 * rng.normal(size=KINDS[k].n_params)).tolist()})
        return out

    return Circuit(4, [Slice.from_devices(0.5, recs(4, 12)), Slice.from_devices(0.5, recs(3, 9), num_nodes=3)],
                   inputs=[1, 2], outputs=[3], capacitance=[1.0, 0.5, 2.0, 1.5], name="sim").validate()


def blowup_circuit() -> Circuit:
    edges = [(1, 2), (2, 3), (3, 1), (1, 0), (2, 0), (3, 0)]
    recs = [{"src": s, "dst": d, "kind": "Conductance", "params": [1e6]} for s, d in edges]  # very stiff
    return Circuit(3, [Slice.from_devices(1.0, recs)], [1, 2], [3]).validate()


def _bad_docs() -> dict[str, str]:
    base = json.loads(io.dumps_circuit(simulate_circuit()))
    out = {}
    for name, mutate in {
        "params_number": lambda d: d["slices"][0]["devices"][0].update(params=5),
        "weights_string": lambda d: d.update(weights="w.safetensors"),
        "inputs_nested": lambda d: d.update(inputs=[[1], 2]),
        "schema_v9": lambda d: d.update(schema_version=9),
    }.items():
        d = json.loads(json.dumps(base))
        mutate(d)
        out[name] = json.dumps(d)
    return out


HELP = [["--help"], ["generate", "--help"], ["train", "--help"], ["simulate", "--help"], ["info", "--help"]] + \
       [["generate", name, "--help"] for name in GENERATORS]

# (argv, fragment of the one error line, file that must not have been written)
BAD = [
    (["generate", "nosuch", "--out", "x1.json"], "invalid choice: 'nosuch'", "x1.json"),
    (["generate", "chain", "--num-nodes", "0", "--out", "x2.json"], "num_nodes=0 is out of range", "x2.json"),
    (["generate", "ring", "--num-nodes", "2", "--out", "x3.json"], "num_nodes=2 is out of range [3", "x3.json"),
    (["generate", "random_graph", "--p", "1.5", "--out", "x4.json"], "p=1.5 is out of range", "x4.json"),
    (["generate", "fully_connected", "--num-nodes", "5000", "--out", "x5.json"], "num_nodes=5000 is out of range",
     "x5.json"),
    (["generate", "chain", "--num-nodes", "abc", "--out", "x6.json"], "num_nodes: cannot read 'abc'", "x6.json"),
    (["generate", "custom", "--edges", "1-2, 2-2", "--out", "x7.json"], "self-loop at node 2", "x7.json"),
    (["generate", "chain", "--kind", "Diode", "--out", "x8.json"], "'Diode' is not one of", "x8.json"),
    (["generate", "chain", "--num-nodes", "4", "--inputs", "9", "--out", "x9.json"], "inputs: node 9 does not exist",
     "x9.json"),
    (["generate", "chain", "--num-nodes", "4"], "--out", None),
    (["simulate", "sim.json", "--inputs", "0.5"], "inputs: expected 2 value(s)", None),
    (["simulate", "sim.json", "--inputs", "0.5,-1,2"], "inputs: expected 2 value(s)", None),
    (["simulate", "sim.json", "--inputs", "a,b"], "--inputs: expected comma-separated numbers", None),
    (["simulate", "sim.json", "--inputs", "nan,1"], "NaN or infinity", None),
    (["simulate", "sim.json", "--inputs", INPUTS, "--times", "0,5"], "times: must be finite and lie in [0, 1]", None),
    (["simulate", "sim.json", "--inputs", INPUTS, "--method", "rk45"], "invalid choice: 'rk45'", None),
    (["simulate", "sim.json", "--inputs", INPUTS, "--rtol", "2"], "rtol: must be in (0, 1)", None),
    (["simulate", "blowup.json", "--inputs", INPUTS, "--max-nfe", "200"], "max_nfe=200", None),
    (["simulate", "missing.json", "--inputs", INPUTS], "no such file", None),
    (["info", "missing.json"], "no such file", None),
    (["info", "malformed.json"], "malformed JSON at line 1", None),
    (["info", "upload.pkl"], "never unpickles", None),
    (["info", "model.pt"], "never unpickles", None),
    (["info", "latin1.json"], "not UTF-8", None),
    (["info", "params_number.json"], "params: must be a list", None),
    (["info", "weights_string.json"], "weights: must be an object", None),
    (["info", "inputs_nested.json"], "is not a node number", None),
    (["info", "schema_v9.json"], "schema_version", None),
    (["info", "sep.json"], ".safetensors not found next to sep.json", None),
    (["train", "--topology", "nosuch", "--epochs", "1", "--samples", "40", "--out", "tx"], "unknown generator 'nosuch'",
     None),
    (["train", "--dataset", "nosuch"], "invalid choice: 'nosuch'", None),
    (["nosuch"], "invalid choice: 'nosuch'", None),
    ([], "required: command", None),
]

GEN_DRIVER = [  # (argv, file, expected nodes, devices, parameters, slices)
    (["generate", "grid", "--rows", "2", "--cols", "3", "--out", "grid.json"], "grid.json", 6, 26, 78, 1),
    (["generate", "layered", "--layer-sizes", "2,3,2", "--ground-links", "false", "--kind", "Conductance",
      "--out", "layered.json"], "layered.json", 7, 24, 24, 1),
    (["generate", "ring", "--num-nodes", "4", "--repeats", "2,0", "--num-slices", "3", "--out", "ring.json"],
     "ring.json", 4, 48, 144, 3),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Start every process at once; tests wait on the ones they need."""
    d = tmp_path_factory.mktemp("cli")
    sim = simulate_circuit()
    io.save_circuit(sim, d / "sim.json")
    io.save_circuit(blowup_circuit(), d / "blowup.json")
    io.save_circuit(sim, d / "sep.json", weights="safetensors")[1].unlink()
    (d / "malformed.json").write_text('{"num_nodes": 3, "inputs": [1,')
    (d / "upload.pkl").write_bytes(pickle.dumps({"num_nodes": 3}, protocol=4))
    buf = pyio.BytesIO()
    torch.save({"w": torch.zeros(3)}, buf)
    (d / "model.pt").write_bytes(buf.getvalue())
    (d / "latin1.json").write_bytes(b'{"name": "caf\xe9"}')
    for name, text in _bad_docs().items():
        (d / f"{name}.json").write_text(text)

    jobs = {
        "driver": [sys.executable, "-c", DRIVER, json.dumps(HELP + [b[0] for b in BAD] + [g[0] for g in GEN_DRIVER]
                                                             + list(IN_DRIVER.values()))],
        "train": cli("train", "--dataset", "moons", "--epochs", "2", "--out", "trained", "--quiet"),
        "simulate": cli("simulate", "sim.json", "--inputs", INPUTS, "--times", TIMES),
        "bad_json": cli("info", "malformed.json"),
    }
    pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
    futures = {name: pool.submit(run, cmd, d) for name, cmd in jobs.items()}
    yield d, futures
    pool.shutdown(wait=True)


# commands run through the driver whose results the tests below read by name
IN_DRIVER = {
    "gen_chain": ["generate", "chain", "--num-nodes", "5", "--out", "chain.json"],
    "help": ["--help"],
    "gen_fc": ["generate", "fully_connected", "--num-nodes", "3", "--repeats", "1,2", "--kind", "ShiftRelu1",
               "--num-slices", "2", "--inputs", "1,2", "--outputs", "3", "--out", "fc.json"],
    "info": ["info", "sim.json"],
    "help_fc": ["generate", "fully_connected", "--help"],
    "bad_topology": ["generate", "nosuch_topology", "--out", "never.json"],
}


def result(runs, name) -> subprocess.CompletedProcess:
    if name in IN_DRIVER:
        r = driver_results(runs)[tuple(IN_DRIVER[name])]
        return subprocess.CompletedProcess(r["argv"], r["code"], r["stdout"], r["stderr"])
    return runs[1][name].result()


def driver_results(runs) -> dict[tuple, dict]:
    p = result(runs, "driver")
    assert p.returncode == 0, p.stderr
    return {tuple(r["argv"]): r for r in json.loads(p.stdout)}


def assert_ok(p: subprocess.CompletedProcess) -> None:
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr


def assert_usage_error(code: int, stdout: str, stderr: str, fragment: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert code == 2, (code, stderr)
    lines = [line for line in stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, stderr
    assert fragment in lines[0], lines[0]
    assert stdout == ""


# --- generate ------------------------------------------------------------------------------------

def test_generate_chain(runs):
    p = result(runs, "gen_chain")
    assert_ok(p)
    # 4 links x (1 forward + 1 backward) + one device each way between every node and ground
    assert p.stdout.strip() == "wrote chain.json: 5 nodes, 18 devices, 54 parameters, 1 slice(s)"
    c = io.load_circuit(runs[0] / "chain.json")
    assert c.num_nodes == 5 and c.num_devices == 18 and len(c.slices) == 1
    assert c.inputs == [1, 2] and c.outputs == [4, 5]
    pairs = sorted(zip(c.slices[0].src.tolist(), c.slices[0].dst.tolist()))
    want = sorted([(i, i + 1) for i in range(1, 5)] + [(i + 1, i) for i in range(1, 5)]
                  + [(n, 0) for n in range(1, 6)] + [(0, n) for n in range(1, 6)])
    assert pairs == want
    assert set(c.slices[0].kind.tolist()) == {"ShiftTanh2"}
    assert c.meta["generator"] == "chain" and c.meta["params"]["num_nodes"] == 5
    # identical to the library's generator with the same arguments
    ref = generate("chain", num_nodes=5)
    assert np.array_equal(ref.slices[0].params, c.slices[0].params)


def test_generate_fully_connected_with_common_options(runs):
    p = result(runs, "gen_fc")
    assert_ok(p)
    m = 4  # nodes 0..3, every ordered pair, 1 + 2 devices per pair and direction
    per_slice = m * (m - 1) * 3
    assert p.stdout.strip() == (f"wrote fc.json: 3 nodes, {2 * per_slice} devices, {2 * per_slice * 2} parameters, "
                                "2 slice(s)")
    c = io.load_circuit(runs[0] / "fc.json")
    assert [s.num_devices for s in c.slices] == [per_slice, per_slice]
    assert c.inputs == [1, 2] and c.outputs == [3]
    assert {k for s in c.slices for k in s.kind.tolist()} == {"ShiftRelu1"}
    assert not np.array_equal(c.slices[0].params, c.slices[1].params)  # each slice initialised on its own


def test_generate_more_topologies(runs):
    res = driver_results(runs)
    for argv, fname, nodes, devices, params, slices in GEN_DRIVER:
        r = res[tuple(argv)]
        assert r["code"] == 0 and "Traceback" not in r["stderr"], r["stderr"]
        assert r["stdout"].strip() == (f"wrote {fname}: {nodes} nodes, {devices} devices, {params} parameters, "
                                       f"{slices} slice(s)")
        c = io.load_circuit(runs[0] / fname)
        assert (c.num_nodes, c.num_devices, c.num_parameters, len(c.slices)) == (nodes, devices, params, slices)
    layered = io.load_circuit(runs[0] / "layered.json")
    assert layered.inputs == [1, 2] and layered.outputs == [6, 7]
    assert 0 not in layered.slices[0].src and 0 not in layered.slices[0].dst  # no ground links


# --- simulate ------------------------------------------------------------------------------------

def test_simulate_csv_matches_python_api(runs):
    p = result(runs, "simulate")
    assert_ok(p)
    rows = list(csv.reader(p.stdout.splitlines()))
    assert rows[0] == ["t", "v1", "v2", "v3", "v4"]
    times = [0.0, 0.25, 0.5, 1.0]
    assert len(rows) == 1 + len(times)
    table = np.array([[float(v) for v in r] for r in rows[1:]])
    assert table[:, 0].tolist() == times
    assert table[0, 1:].tolist() == [0.5, -1.0, 0.0, 0.0]  # inputs charged, the rest at 0 V
    # node 4 exists only in the first slice (t <= 0.5); after that it is NaN
    assert np.isnan(table[:, 4]).tolist() == [False, False, False, True]
    assert np.isfinite(table[:, 1:4]).all()

    model = KirchhoffNet(io.load_circuit(runs[0] / "sim.json"), SolverConfig(rtol=SIMULATE_RTOL, atol=SIMULATE_RTOL),
                         dtype=torch.float64)
    with torch.no_grad():
        want = model.trajectory(torch.tensor([[0.5, -1.0]], dtype=torch.float64), times)[:, 0, :].numpy()
    np.testing.assert_allclose(table[:, 1:], want, rtol=0, atol=1e-12, equal_nan=True)
    assert not np.allclose(table[3, 1:4], table[0, 1:4])  # the circuit did move


# --- info ----------------------------------------------------------------------------------------

def test_info(runs):
    p = result(runs, "info")
    assert_ok(p)
    info = json.loads(p.stdout)
    c = simulate_circuit()
    n_params = sum(KINDS[k].n_params for s in c.slices for k in s.kind.tolist())
    assert info["nodes"] == 4 and info["devices"] == 12 + 9 and info["parameters"] == n_params
    assert info["slices"] == 2 and info["T"] == 1.0 and info["durations"] == [0.5, 0.5]
    assert info["name"] == "sim" and info["inputs"] == [1, 2] and info["outputs"] == [3]


# --- train ---------------------------------------------------------------------------------------

def test_train(runs):
    p = result(runs, "train")
    assert_ok(p)
    lines = p.stdout.strip().splitlines()
    assert lines[0] == "epoch,train_loss,test_loss,train_metric,test_metric,nfe_forward,nfe_backward,wall_time"
    table = [r for r in csv.reader(lines[1:])]
    assert [r[0] for r in table] == ["1", "2"] and all(len(r) == 8 for r in table)
    values = np.array([[float(v) for v in r] for r in table])
    assert np.isfinite(values).all()
    assert (values[:, 1:3] > 0).all() and ((0 <= values[:, 3:5]) & (values[:, 3:5] <= 1)).all()
    assert (values[:, 5] > 0).all()
    assert "%|" not in p.stderr  # --quiet: no progress bar

    circuit, extra = io.load_checkpoint(runs[0] / "trained" / "circuit.json")
    training = extra["training"]
    assert training["dataset"]["name"] == "moons"
    assert [h["epoch"] for h in training["history"]] == [1, 2]
    for h, row in zip(training["history"], values):
        assert abs(h["train_loss"] - row[1]) <= 5e-7 and abs(h["test_metric"] - row[4]) <= 5e-7
    assert {"lr", "optimizer", "batch_size"} <= set(training["config"])
    assert training["solver"]["method"] == "dopri5"
    assert len(circuit.inputs) == 2 and len(circuit.outputs) == 2
    # the preset's circuit, with trained parameters: same devices, different values
    init = generate(circuit.meta["generator"], **{k: v for k, v in circuit.meta["params"].items()
                                                  if k in {p.name for p in GENERATORS[circuit.meta["generator"]].params}
                                                  or k in ("inputs", "outputs", "seed", "kind")})
    assert np.array_equal(init.slices[0].src, circuit.slices[0].src)
    assert np.array_equal(init.slices[0].dst, circuit.slices[0].dst)
    assert not np.array_equal(init.slices[0].params, circuit.slices[0].params)


# --- help ----------------------------------------------------------------------------------------

def test_top_level_help(runs):
    p = result(runs, "help")
    assert_ok(p)
    assert p.stdout.startswith("usage: kirchhoff")
    for cmd in ("generate", "train", "simulate", "info"):
        assert cmd in p.stdout


def test_generate_fully_connected_help(runs):
    p = result(runs, "help_fc")
    assert_ok(p)
    assert p.stdout.startswith("usage: kirchhoff generate fully_connected")
    for flag in ("--num-nodes", "--repeats", "--include-ground", "--kind", "--num-slices", "--seed", "--out"):
        assert flag in p.stdout


def test_help_of_every_subcommand_and_topology(runs):
    res = driver_results(runs)
    for argv in HELP:
        r = res[tuple(argv)]
        assert r["code"] == 0 and r["stderr"] == "", (argv, r["stderr"])
        assert r["stdout"].startswith("usage: kirchhoff"), argv
        if argv[0] == "generate" and len(argv) == 3:
            spec = GENERATORS[argv[1]]
            for p in spec.params:
                assert "--" + p.name.replace("_", "-") in r["stdout"], (argv, p.name)
            assert "--out" in r["stdout"]
    assert "--inputs" in res[("simulate", "--help")]["stdout"]
    assert "--dataset" in res[("train", "--help")]["stdout"]


def test_console_script_is_installed():
    script = pathlib.Path(sys.executable).with_name("kirchhoff")
    if not script.exists():
        pytest.skip("no console script next to this interpreter")
    text = script.read_text(errors="replace")
    assert "kirchhoff_core.cli" in text and "main" in text


# --- bad usage -----------------------------------------------------------------------------------

def test_bad_usage_real_process(runs):
    p = result(runs, "bad_json")
    assert_usage_error(p.returncode, p.stdout, p.stderr, "malformed JSON at line 1")
    assert len(p.stderr.splitlines()) == 1  # nothing but the error line
    assert p.stderr.startswith("error: circuit: malformed JSON")


def test_unknown_topology(runs):
    p = result(runs, "bad_topology")
    assert_usage_error(p.returncode, p.stdout, p.stderr, "invalid choice: 'nosuch_topology'")
    assert not (runs[0] / "never.json").exists()


@pytest.mark.parametrize("argv, fragment, not_written", BAD, ids=[" ".join(b[0])[:60] or "(none)" for b in BAD])
def test_bad_usage(runs, argv, fragment, not_written):
    r = driver_results(runs)[tuple(argv)]
    assert_usage_error(r["code"], r["stdout"], r["stderr"], fragment)
    if not_written:
        assert not (runs[0] / not_written).exists()
