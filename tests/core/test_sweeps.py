"""Sweeps without a Ray runtime: the space syntax, bad input, seeded proposals (grid, random and
Optuna's searcher driven directly), the folder a serial sweep writes, and the re-train command."""

from __future__ import annotations

import io
import json
import math
import os
import shlex
import time
import zipfile

import pytest

from kirchhoff_core.limits import MAX_DEVICES
from kirchhoff_core.cli import main
from kirchhoff_core.io import load_checkpoint, load_circuit
from kirchhoff_core.sweeps import (MAX_TRIALS, PRESETS, SearchSpace, SweepError, SweepProcess, SweepSpec,
                                   check_space, hyperparameters, load_space_file, load_sweep, load_trial, preset_of,
                                   preset_spec, run_serial, sweep_archive, train_command)
from kirchhoff_core.sweeps.records import trial_dir
from kirchhoff_core.sweeps.search import make_optuna_searcher

# Ray reads this when it is first imported: a local Ray then takes 127.0.0.1 as its node address and
# binds its servers there (ray_session sets it too, but the Optuna test may import Ray first).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

pytestmark = pytest.mark.timeout(300)


def space(*items: str, task: str = "supervised") -> SearchSpace:
    return SearchSpace.parse(list(items), task)


# --- the space syntax ---------------------------------------------------------------------------

def test_cli_syntax_ranges_lists_and_counts():
    s = space("lr=1e-3:1e-1:log", "num_nodes=4,6,8", "repeats=1/1,2/2", "T=0.5:2:4", "kind=ShiftTanh2")
    lr, nodes, reps, t, kind = (s.dimensions[n] for n in ("lr", "num_nodes", "repeats", "T", "kind"))
    assert (lr.low, lr.high, lr.log, lr.discrete) == (1e-3, 0.1, True, False)
    assert nodes.values == (4, 6, 8) and reps.values == ((1, 1), (2, 2)) and kind.values == ("ShiftTanh2",)
    assert t.grid_values() == [0.5, 1.0, 1.5, 2.0]
    assert space("lr=1e-3:1e-1:log:3").dimensions["lr"].grid_values() == pytest.approx([1e-3, 1e-2, 1e-1])
    assert space("num_nodes=4:12:3").dimensions["num_nodes"].grid_values() == [4, 8, 12]
    # describe() writes the same syntax back
    assert SearchSpace.parse(s.describe()).to_json() == s.to_json()


def test_space_file_yaml_and_json(tmp_path):
    yml = tmp_path / "space.yaml"
    yml.write_text("lr: {low: 1e-3, high: 1e-1, log: true}\nnum_nodes: [4, 6]\nrepeats: ['1/1', [2, 2]]\n"
                   "optimizer: adam\nT: '0.5:2:3'\n")
    s = load_space_file(yml)
    assert s.dimensions["lr"].low == 1e-3 and s.dimensions["lr"].log  # YAML reads 1e-3 as text
    assert s.dimensions["repeats"].values == ((1, 1), (2, 2)) and s.dimensions["optimizer"].values == ("adam",)
    js = tmp_path / "space.json"
    js.write_text(json.dumps({"space": s.to_json()}))
    assert load_space_file(js).to_json() == s.to_json()


@pytest.mark.parametrize("item, message", [
    ("lr=1e-1:1e-3", "inverted"),
    ("lr=0.01:0.01", "empty"),
    ("lr=", "no values"),
    ("lr", "expected NAME=VALUES"),
    ("learning_rate=0.1", "unknown hyperparameter 'learning_rate'"),
    ("lr=0:1:log", "above 0"),
    ("lr=-1:1e-2", "out of range"),
    ("num_nodes=4,5000", "out of range"),
    ("num_nodes=4.5", "cannot read '4.5' as int"),
    ("optimizer=adam:sgd", "only makes sense for numbers"),
    ("optimizer=adagrad", "unknown value 'adagrad'"),
    ("repeats=1/1/1", "two integers"),
    ("lr=1e-3:1e-1:lg", "cannot read"),
    ("lr=1e-3:1e-1:1000", "count of points"),
])
def test_bad_space_items_name_the_problem(item, message):
    with pytest.raises(SweepError, match=message):
        space(item)


def test_bad_space_files(tmp_path):
    with pytest.raises(SweepError, match="no such file"):
        load_space_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: [0.1\n")
    with pytest.raises(SweepError, match="not valid YAML"):
        load_space_file(bad)
    bad.write_text("lr: {low: 0.1}\n")
    with pytest.raises(SweepError, match="low, high"):
        load_space_file(bad)
    bad.write_text("- lr\n")
    with pytest.raises(SweepError, match="expected a mapping"):
        load_space_file(bad)


def test_bad_sweeps_fail_before_any_work():
    with pytest.raises(SweepError, match=f"at most {MAX_TRIALS:,} per sweep, got 10,000"):
        SweepSpec(space=space("lr=1e-3:1e-1:log"), trials=10_000)
    with pytest.raises(SweepError, match="exceeds the limit"):
        SweepSpec(space=space("lr=1e-3:1:log:20", "num_nodes=2:50:20", "T=0.1:5:5"), search="grid")
    with pytest.raises(SweepError, match="grid search needs a list of values or a range with a count"):
        SweepSpec(space=space("lr=1e-3:1e-1:log"), search="grid")
    with pytest.raises(SweepError, match="layer_sizes: not a parameter of the fully_connected topology"):
        SweepSpec(space=space("layer_sizes=2/4/2"))
    with pytest.raises(SweepError, match="--task generate needs a 2-D target"):
        SweepSpec(space=space("lr=0.01", task="generate"), task="generate", dataset="moons_3d")
    with pytest.raises(SweepError, match="unknown hyperparameter 'num_nodes'"):
        space("num_nodes=2,3", task="generate")
    # the generator refuses the largest corner of the space (800 million devices) ...
    with pytest.raises(SweepError, match="cannot be built .*num_nodes=2000.*exceeds the limit"):
        check_space(SweepSpec(space=space("num_nodes=4:2000", "repeats=1/1,100/100")))
    # ... or the smallest: 1 node cannot hold 2 inputs and 2 read-outs
    with pytest.raises(SweepError, match="cannot be built .*num_nodes=1"):
        check_space(SweepSpec(space=space("num_nodes=1,8")))
    with pytest.raises(SweepError, match="digits.*cannot be built|cannot be built.*digits"):
        check_space(SweepSpec(space=space("dataset=moons,digits", "num_nodes=8", "topology=fully_connected")))
    check_space(SweepSpec(space=space("num_nodes=4:8", "repeats=1/1,2/2", "T=0.5:2")))  # a fine one passes


def test_catalogue_is_what_a_page_needs():
    cat = hyperparameters()
    assert {"lr", "batch_size", "optimizer", "weight_decay", "mismatch", "topology", "num_nodes", "repeats",
            "num_slices", "kind", "T", "method", "rtol", "dataset", "noise"} <= set(cat)
    assert cat["lr"].type is float and cat["lr"].low == 0 and cat["optimizer"].choices
    assert {"lr", "repeats", "num_slices", "kind", "T", "dataset"} <= set(hyperparameters("generate"))


# --- the same seed proposes the same configurations ------------------------------------------

def test_grid_and_random_proposals_are_seeded():
    s = space("lr=1e-3:1e-1:log:3", "num_nodes=4,6")
    grid = SweepSpec(space=s, search="grid").proposals()
    assert len(grid) == 6 and grid == SweepSpec(space=s, search="grid", seed=7).proposals()
    assert grid[0] == {"lr": 1e-3, "num_nodes": 4} and grid[1] == {"lr": 1e-3, "num_nodes": 6}
    r = space("lr=1e-3:1e-1:log", "num_nodes=4:12", "optimizer=adam,sgd")
    a, b = (SweepSpec(space=r, trials=20, seed=3).proposals() for _ in range(2))
    c = SweepSpec(space=r, trials=20, seed=4).proposals()
    assert a == b and a != c
    assert all(1e-3 <= p["lr"] <= 0.1 and 4 <= p["num_nodes"] <= 12 and isinstance(p["num_nodes"], int) for p in a)
    assert len({p["num_nodes"] for p in a}) > 3 and len({p["optimizer"] for p in a}) == 2
    assert SweepSpec(space=space("lr=0.01,0.02"), trials=12).notes()[0].startswith("the space has only 2 distinct")
    assert SweepSpec(space=r, trials=20).notes() == []


def _optuna_sequence(seed: int, n: int = 14) -> list[dict]:
    """Drive the sweep's Optuna searcher (as Ray Tune would, one trial at a time) on a fixed
    objective; past TPE's 10 random start-up trials the proposals depend on the results."""
    spec = SweepSpec(space=space("lr=1e-4:1:log", "num_nodes=2:12", "repeats=1/1,2/2"), search="optuna",
                     trials=n, seed=seed)
    searcher = make_optuna_searcher(spec, list(range(n)))
    out = []
    for k in range(n):
        trial = searcher.suggest(f"t{k}")["trial"]
        p = trial["params"]
        out.append(trial)
        score = -abs(math.log10(p["lr"]) + 2) - abs(p["num_nodes"] - 8) / 4 - sum(p["repeats"]) / 10
        searcher.on_trial_complete(f"t{k}", {"objective": score})
    return out


def test_optuna_proposals_are_seeded():
    a, b, c = _optuna_sequence(0), _optuna_sequence(0), _optuna_sequence(1)
    assert a == b and a != c
    assert [t["index"] for t in a] == list(range(14))
    assert all(isinstance(t["params"]["repeats"], tuple) for t in a)


# --- a serial sweep: the folder, a failed trial, the re-train command ---------------------------

def test_serial_sweep_records_every_trial_and_keeps_going_past_a_blow_up(tmp_path, capsys):
    # ReLU2 devices read out at T = 50 blow up (non-finite voltage); tanh devices do not
    spec = SweepSpec(space=space("kind=ShiftRelu2,ShiftTanh2", "T=50"), search="grid", epochs=2, samples=100,
                     early_stopping="none", chips=3)
    sweep = run_serial(spec, tmp_path / "sw")
    failed, ok = sweep.trials
    assert failed.state == "failed" and "SolverError" in failed.error and "blew up" in failed.error
    assert ok.state == "finished" and ok.epochs_done == 2 and ok.metrics["chips"] == 3
    assert 0 <= ok.metrics["chip_metric"] <= 1 and ok.metrics["nfe"] > 0 and ok.metrics["parameters"] > 0
    for name in ("config.json", "trial.json"):
        assert (trial_dir(tmp_path / "sw", 0) / name).is_file()
    circuit = load_circuit(trial_dir(tmp_path / "sw", 1) / "circuit.json")
    assert circuit.stats()["T"] == pytest.approx(50.0)
    assert sweep.best().index == 1 and sweep.state == "finished"
    table = sweep.table()
    assert list(table["trial"]) == [1, 0] and list(table["state"]) == ["finished", "failed"]
    # the command line: every trial failing is an error, and the table is printed first
    assert main(["sweep", "--serial", "--early-stopping", "none", "--space", "kind=ShiftRelu2", "--space", "T=50",
                 "--search", "grid", "--epochs", "1", "--samples", "100", "--quiet", "--out",
                 str(tmp_path / "all")]) == 2
    out, err = capsys.readouterr()
    assert "failed" in out and err.strip().splitlines()[-1].startswith("error: all 1 trial(s) failed; the first: "
                                                                         "SolverError")
    assert "Traceback" not in err


def test_retrain_command_reproduces_the_trial(tmp_path, capsys):
    spec = SweepSpec(space=space("lr=0.02", "num_nodes=5", "repeats=1/2", "T=1.5", "batch_size=16"), search="grid",
                     epochs=2, samples=120, early_stopping="none", chips=0, seed=3)
    sweep = run_serial(spec, tmp_path / "sw")
    trial = load_trial(tmp_path / "sw", 0)
    assert trial.record.state == "finished" and trial.settings["train"]["lr"] == 0.02
    assert trial.circuit.num_nodes == 5 and trial.extra["training"]["history"][-1]["epoch"] == 2
    assert trial.train_config().batch_size == 16 and trial.solver_config().rtol == 1e-3
    assert len(trial.dataset().x_train) == 96  # what "Open in Train" needs: circuit, settings, data
    command = train_command(trial.settings, out=str(tmp_path / "again"))
    assert command.startswith("kirchhoff train ") and "--topo repeats=1,2" in command
    assert main(shlex.split(command)[1:] + ["--quiet"]) == 0
    again, extra = load_checkpoint(tmp_path / "again" / "circuit.json")
    assert extra["training"]["history"][-1]["test_metric"] == sweep.trials[0].objective
    assert [s.params.tolist() for s in again.slices] == [s.params.tolist() for s in trial.circuit.slices]


def test_generative_sweep_minimises_the_held_out_nll(tmp_path):
    spec = SweepSpec(space=space("lr=1e-3,1e-2", "batch_size=32", "repeats=1/1", task="generate"), task="generate",
                     dataset="8gaussians", search="grid", epochs=2, steps_per_epoch=2, eval_size=200,
                     early_stopping="none")
    sweep = run_serial(spec, tmp_path / "gen")
    assert spec.mode == "min" and spec.objective_label == "held-out NLL"
    assert [t.state for t in sweep.trials] == ["finished"] * 2
    for t in sweep.trials:
        assert t.objective == t.epochs[-1]["test_loss"] and t.epochs[-1]["metric"] == "nll" and math.isfinite(t.objective)
        assert "chip_metric" not in t.metrics and t.metrics["nfe"] > 0
    best = load_trial(tmp_path / "gen", sweep.best().index)
    assert best.circuit.num_nodes == 2 and best.dataset() is None and best.train_config().task == "generate"
    assert train_command(best.settings).startswith("kirchhoff train --task generate --dataset 8gaussians")


def test_show_and_folder_guards(tmp_path, capsys):
    folder = tmp_path / "sw"
    spec = SweepSpec(space=space("lr=0.01,0.03"), search="grid", epochs=1, samples=100, early_stopping="none",
                     chips=0)
    run_serial(spec, folder)
    assert main(["sweep", "show", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "re-train it with:" in out and out.count("finished") >= 2
    # the same sweep again resumes (nothing left to run); another sweep in the same folder is refused
    assert run_serial(spec, folder).counts()["finished"] == 2
    with pytest.raises(SweepError, match="holds a different sweep"):
        run_serial(spec.replace(epochs=2), folder)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match="not empty and holds no sweep"):
        run_serial(spec, tmp_path / "other")
    assert main(["sweep", "show", str(tmp_path / "other")]) == 2
    assert "error: " in capsys.readouterr().err
    with pytest.raises(SweepError, match="needs Ray"):
        run_serial(spec.replace(early_stopping="asha"), tmp_path / "x")


def test_a_crashed_driver_reads_as_interrupted(tmp_path):
    """A driver that died without a word (SIGKILL, power cut) leaves status.json saying running; a
    reader on the same host sees its pid gone and calls the sweep and its running trials interrupted."""
    import subprocess
    import sys

    from kirchhoff_core.sweeps.records import STATUS_FILE, TRIAL_FILE, read_json, write_json

    folder = tmp_path / "sw"
    run_serial(SweepSpec(space=space("lr=0.01,0.02"), search="grid", epochs=1, samples=100, early_stopping="none",
                         chips=0), folder)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    status = read_json(folder / STATUS_FILE)
    write_json(folder / STATUS_FILE, {**status, "state": "running", "pid": int(dead.stdout)})
    trial = read_json(trial_dir(folder, 1) / TRIAL_FILE)
    write_json(trial_dir(folder, 1) / TRIAL_FILE, {**trial, "state": "running"})
    sweep = load_sweep(folder)
    assert not sweep.running and sweep.state == "interrupted"
    assert [t.state for t in sweep.trials] == ["finished", "interrupted"]


@pytest.mark.parametrize("argv, message", [
    (["--space", "lr=1e-1:1e-3"], "inverted"),
    (["--space", "lr=0.1:0.1"], "empty"),
    (["--space", "speed=3"], "unknown hyperparameter 'speed'"),
    (["--space", "lr=1e-3:1e-1:log", "--trials", "10000"], "at most 1,000 per sweep"),
    (["--space", "num_nodes=8:2000", "--space", "repeats=50/50"], f"exceeds the limit of {MAX_DEVICES:,}"),
    (["--space", "lr=0.01", "--address", "127.0.0.1:9"], "cannot reach a Ray cluster at 127.0.0.1:9"),
    (["--space", "lr=0.01", "--address", "nowhere"], "expected HOST:PORT"),
    ([], "give at least one hyperparameter"),
    (["--preset", "lr-too-small-too-large", "--space", "lr=0.1"], "fixes the space"),
])
def test_cli_bad_input_is_one_error_line(tmp_path, capsys, argv, message):
    assert main(["sweep", *argv, "--out", str(tmp_path / "sw"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "sw" / "trials").exists()  # nothing ran


def test_presets_are_valid_sweeps():
    for name, preset in PRESETS.items():
        spec = preset_spec(name)
        assert spec.search == "grid" and spec.early_stopping == "none" and 2 <= spec.n_trials <= 6
        assert len(preset.lesson) > 80 and preset.title
        check_space(spec)
    with pytest.raises(SweepError, match="unknown preset"):
        preset_spec("no-such")


def test_a_preset_is_recognised_by_its_spec():
    for name, preset in PRESETS.items():
        assert preset_of(preset_spec(name)) is preset
        assert preset_of(preset_spec(name, seed=4, epochs=2, samples=100)) is preset  # what the CLI lets change
    assert preset_of(SweepSpec(space=space("lr=1e-4,1e-3"), search="grid", early_stopping="none")) is None


def test_the_download_holds_table_curves_records_and_circuits(tmp_path):
    spec = SweepSpec(space=space("num_nodes=3,4"), search="grid", epochs=1, samples=60, early_stopping="none", chips=0)
    run_serial(spec, tmp_path / "sw")
    blob = sweep_archive(tmp_path / "sw")
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        names = set(z.namelist())
        assert {"sw/table.csv", "sw/curves.csv", "sw/sweep.json", "sw/status.json", "sw/proposals.json",
                "sw/trials/trial_0001/circuit.json", "sw/trials/trial_0001/trial.json"} <= names
        assert not any(n.startswith("sw/ray/") for n in names)
        table = z.read("sw/table.csv").decode().splitlines()
        z.extractall(tmp_path / "unzipped")
    assert table[0].startswith("trial,state,objective") and len(table) == 3
    again = load_sweep(tmp_path / "unzipped" / "sw")  # the download reads back as the sweep it was
    assert [t.state for t in again.trials] == ["finished", "finished"]
    assert load_trial(tmp_path / "unzipped" / "sw", 1).circuit.num_nodes == 4
    with pytest.raises(SweepError, match="not a sweep folder"):
        sweep_archive(tmp_path / "unzipped")


def test_a_background_serial_sweep_is_interrupted_without_waiting(tmp_path):
    # Trials long enough (tens of epochs) that the Ctrl-C lands while trials remain, not as the driver exits.
    spec = SweepSpec(space=space("num_nodes=3,4,5,6"), search="grid", epochs=40, samples=200, early_stopping="none",
                     chips=0)
    with pytest.raises(SweepError, match="serial"):
        SweepProcess.start(spec.replace(early_stopping="asha"), tmp_path / "asha", serial=True)
    job = SweepProcess.start(spec, tmp_path / "sw", serial=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and job.alive and not any(t.done for t in job.state().trials):
            time.sleep(0.5)
        assert job.interrupt()  # returns at once; the driver shuts down on its own
        while time.monotonic() < deadline and job.alive:
            time.sleep(0.2)
        assert job.returncode == 130 and not job.interrupt()
    finally:
        job.stop(timeout_s=5)
    state = job.state()
    assert state.state == "interrupted" and state.status["address"] == "serial"
    assert 1 <= sum(t.done for t in state.trials) < 4
