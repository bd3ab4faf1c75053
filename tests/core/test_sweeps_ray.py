"""Sweeps on a real local Ray: the command line end to end (Optuna), ASHA stopping hopeless learning
rates, a failed trial that does not stop the sweep, and a background sweep (``SweepProcess``, what a
page uses) polled live, stopped partway with Ctrl-C and resumed. (A driver killed with SIGKILL and
resumed is tested on the two-node cluster, test_sweeps_cluster.py.)

One in-process Ray (2 CPUs, loopback only, no dashboard) serves the in-process sweeps; the
background sweep runs its own Ray in its own process group, ended by group id whatever happens.
Run times are bounded by pytest-timeout; nothing here asserts on time.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from kirchhoff_core.cli import main
from kirchhoff_core.io import load_circuit
from kirchhoff_core.sweeps import SearchSpace, SweepError, SweepProcess, SweepSpec, load_sweep, run_sweep
from kirchhoff_core.sweeps.records import trial_dir
from kirchhoff_core.sweeps.runner import ray_session

# Ray reads this when it is first imported: a local Ray then takes 127.0.0.1 as its node address and
# binds its servers there (ray_session sets it too, but the Optuna test may import Ray first).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="module")
def ray_local():
    """One private Ray for the module; the sweeps below find it initialised and leave it running."""
    with ray_session(workers=2):
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


def test_asha_stops_hopeless_learning_rates_and_a_failed_trial_does_not_stop_the_sweep(ray_local, tmp_path):
    # ReLU2 devices: read out at T = 1 they learn (the hopeless learning rates stay at the initial 67 %),
    # at T = 50 the circuit blows up. One trial at a time in grid order, the good learning rates first,
    # so the hopeless ones fall below the median of those that reached the first rung before them.
    spec = SweepSpec(space=SearchSpace.parse(["kind=ShiftRelu2", "lr=0.05,0.02,1e-5,3e-6", "T=1,50"]), search="grid",
                     epochs=4, samples=200, chips=0, early_stopping="asha", grace_period=1, reduction_factor=2)
    sweep = run_sweep(spec, tmp_path / "asha", workers=1)
    runs = {t.params["lr"]: t for t in sweep.trials if t.params["T"] == 1}
    for lr in (1e-5, 3e-6):
        assert runs[lr].state == "stopped" and runs[lr].epochs_done < spec.epochs
    assert runs[0.05].state == "finished" and runs[0.05].epochs_done == spec.epochs
    blown = [t for t in sweep.trials if t.params["T"] == 50]
    assert len(blown) == 4 and all(t.state == "failed" and "blew up" in t.error for t in blown)
    assert sweep.state == "finished" and sweep.best().params["lr"] in (0.05, 0.02)
    assert sweep.status["counts"]["failed"] == 4


def _wait(job: SweepProcess, condition, seconds: float = 240):
    """Poll the background sweep's folder (as a page would) until ``condition(state)``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = job.state()
        except SweepError:  # the folder is still being written
            state = None
        if state is not None and condition(state):
            return state
        assert job.alive, job.log_tail()
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {job.log_tail()}")


def _end_group(job: SweepProcess) -> None:
    """Whatever is left of the background sweep's process group (Ray shares its driver's fate)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(job.process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    os.killpg(job.process.pid, signal.SIGKILL)


def _spec(trials: int) -> SweepSpec:
    return SweepSpec(space=SearchSpace.parse(["lr=1e-3:1e-1:log", "num_nodes=4,6"]), search="random", trials=trials,
                     epochs=3, samples=200, early_stopping="none", chips=0)


def test_background_sweep_stopped_partway_then_resumed(ray_local, tmp_path, capsys):
    out = tmp_path / "stopped"
    job = SweepProcess.start(_spec(5), out, workers=1)  # what a page does: a sweep in its own process
    try:
        live = _wait(job, lambda s: sum(t.done for t in s.trials) >= 2)
        assert live.running and live.state == "running" and len(live.rows()) == 5
        assert job.stop() == 130  # Ctrl-C: the driver shuts Ray down and records the interruption
        stopped_at = time.time()
    finally:
        _end_group(job)

    before = job.state()
    kept = {t.index: (trial_dir(out, t.index) / "trial.json").read_bytes() for t in before.trials if t.done}
    assert before.state == "interrupted" and before.status["state"] == "interrupted" and 2 <= len(kept) < 5
    assert {t.state for t in before.trials} <= {"finished", "interrupted", "pending"}
    assert "interrupted:" in job.log_tail() and f"kirchhoff sweep resume {out}" in job.log_tail()

    assert main(["sweep", "resume", str(out), "--quiet"]) == 0
    after = load_sweep(out)
    assert after.state == "finished" and [t.state for t in after.trials] == ["finished"] * 5
    for index, blob in kept.items():  # finished trials were kept as they were ...
        assert (trial_dir(out, index) / "trial.json").read_bytes() == blob
    rerun = [t for t in after.trials if t.index not in kept]  # ... and only the rest ran, from scratch
    assert len(rerun) == 5 - len(kept)
    assert all(t.started > stopped_at and t.epochs_done == 3 and t.node_id == ray_local for t in rerun)
    assert all(after.trials[i].node_id != ray_local for i in kept)
    assert "re-train it with:" in capsys.readouterr().out
