"""Sweeps on a real local Ray: the command line end to end (Optuna), ASHA stopping hopeless learning
rates, a failed trial that does not stop the sweep, and resume after the driver is killed.

One in-process Ray (2 CPUs, loopback only, no dashboard) serves every test here; the interrupted
sweep runs in a child process of its own, killed with SIGKILL partway and cleaned up by its process
group. Run times are bounded by pytest-timeout; nothing here asserts on time.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from kirchhoff_core.cli import main
from kirchhoff_core.io import load_circuit
from kirchhoff_core.sweeps import SearchSpace, SweepSpec, load_sweep, run_sweep
from kirchhoff_core.sweeps.records import trial_dir
from kirchhoff_core.sweeps.runner import ray_session

ROOT = pathlib.Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="module")
def ray_local():
    """One private Ray for the module; the sweeps below find it initialised and leave it running."""
    with ray_session(workers=2) as info:
        import ray

        yield ray.get_runtime_context().get_node_id()
    import ray

    assert not ray.is_initialized()


def test_cli_sweep_writes_table_folders_and_circuits(ray_local, tmp_path, capsys):
    out = tmp_path / "moons"
    argv = ["sweep", "--dataset", "moons", "--space", "lr=1e-3:1e-1:log", "--space", "num_nodes=4,6", "--trials", "6",
            "--search", "optuna", "--epochs", "2", "--samples", "200", "--chips", "4", "--out", str(out)]
    assert main(argv) == 0
    text, err = capsys.readouterr()
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("trial "))
    assert "test accuracy" in lines[header] and "num_nodes" in lines[header] and "lr" in lines[header]
    rows = lines[header + 1: header + 7]
    assert len(rows) == 6 and all(r.split()[1] in ("finished", "stopped") for r in rows)
    assert "re-train it with:" in text and "kirchhoff train --dataset moons" in text
    assert "error" not in err and "Traceback" not in err
    sweep = load_sweep(out)
    assert sweep.state == "finished" and len(sweep.trials) == 6
    for t in sweep.trials:
        folder = trial_dir(out, t.index)
        config = json.loads((folder / "config.json").read_text())
        assert config["params"] == {k: v for k, v in t.params.items()} and config["settings"]["epochs"] == 2
        circuit = load_circuit(folder / "circuit.json").validate()
        assert circuit.num_nodes == t.params["num_nodes"] and len(t.epochs) == t.epochs_done >= 1
        assert t.node_id == ray_local  # recorded per trial
    best = sweep.best()
    assert best.state == "finished" and best.metrics["chips"] == 4
    assert main(["sweep", "show", str(out)]) == 0
    assert capsys.readouterr().out.count("\n") >= 8


def test_asha_stops_hopeless_learning_rates_early(ray_local, tmp_path):
    # one trial at a time, the good learning rates first: the hopeless ones stay at 50 % accuracy and
    # fall below the median of the trials that reached the first rung before them
    spec = SweepSpec(space=SearchSpace.parse(["lr=0.05,0.02,1e-5,3e-6"]), search="grid", epochs=4, samples=200,
                     chips=0, early_stopping="asha", grace_period=1, reduction_factor=2)
    sweep = run_sweep(spec, tmp_path / "asha", workers=1)
    by_lr = {t.params["lr"]: t for t in sweep.trials}
    for lr in (1e-5, 3e-6):
        assert by_lr[lr].state == "stopped" and by_lr[lr].epochs_done < spec.epochs
    assert by_lr[0.05].state == "finished" and by_lr[0.05].epochs_done == spec.epochs
    assert sweep.best().params["lr"] in (0.05, 0.02)


def test_failed_trial_is_recorded_and_the_sweep_goes_on(ray_local, tmp_path):
    spec = SweepSpec(space=SearchSpace.parse(["kind=ShiftRelu2,ShiftTanh2", "T=50"]), search="grid", epochs=1,
                     samples=100, chips=0, early_stopping="none")
    sweep = run_sweep(spec, tmp_path / "blow")
    failed, ok = sweep.trials
    assert failed.state == "failed" and "blew up" in failed.error
    assert ok.state == "finished" and sweep.state == "finished"


def _done(folder: pathlib.Path) -> list[int]:
    try:
        return [t.index for t in load_sweep(folder).trials if t.done]
    except Exception:  # the folder is still being created
        return []


def test_resume_after_the_driver_is_killed(ray_local, tmp_path, capsys):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "kirchhoff_core", "sweep", "--space", "lr=1e-3:1e-1:log", "--space", "num_nodes=4,6",
           "--search", "random", "--trials", "5", "--epochs", "3", "--samples", "200", "--workers", "1",
           "--early-stopping", "none", "--chips", "0", "--quiet", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while len(_done(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)  # a crash: no handler runs
        killed_at = time.time()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        # Ray's processes share the driver's fate; anything left of this group is ended too
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.5)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stdout.close()

    before = load_sweep(out)
    kept = {t.index: (trial_dir(out, t.index) / "trial.json").read_bytes() for t in before.trials if t.done}
    assert before.state == "interrupted" and 2 <= len(kept) < 5
    assert {t.state for t in before.trials} <= {"finished", "interrupted", "pending"}

    assert main(["sweep", "resume", str(out), "--quiet"]) == 0
    after = load_sweep(out)
    assert after.state == "finished" and [t.state for t in after.trials] == ["finished"] * 5
    for index, blob in kept.items():  # finished trials were kept as they were ...
        assert (trial_dir(out, index) / "trial.json").read_bytes() == blob
    rerun = [t for t in after.trials if t.index not in kept]  # ... and only the rest ran, from scratch
    assert len(rerun) == 5 - len(kept)
    assert all(t.started > killed_at and t.epochs_done == 3 and t.node_id == ray_local for t in rerun)
    assert all(after.trials[i].node_id != ray_local for i in kept)
    assert "re-train it with:" in capsys.readouterr().out
