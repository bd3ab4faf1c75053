"""The training section's one schema: round trip, the older writers' shapes, clear errors, and the
shipped pretrained circuits through ``generative.load_pretrained``."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from kirchhoff_core.generative import flow_preset, load_pretrained
from kirchhoff_core.io import CircuitFileError, TrainingRecord, load_checkpoint, load_trained, save_circuit

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_round_trip_through_a_file(tmp_path):
    rec = TrainingRecord(task="density", target="U2", config={"lr": 1e-3}, solver={"method": "dopri5"}, steps=7,
                         history=[{"step": 7, "train_loss": 1.5, "test_loss": float("nan")}], result={"kl": 0.3},
                         extra={"trace": "exact"})
    save_circuit(flow_preset("U2").circuit(), tmp_path / "c.json", training=rec)
    _, back = load_trained(tmp_path / "c.json")
    assert back == TrainingRecord(**{**rec.__dict__, "history": [{"step": 7, "train_loss": 1.5, "test_loss": None}]})
    assert TrainingRecord.from_dict(json.loads(json.dumps(back.to_dict()))) == back


OLD_SHAPES = {
    "kirchhoff train": ({"dataset": {"name": "moons"}, "train": {"lr": 0.01}, "solver": {"method": "dopri5"},
                         "history": [{"epoch": 1}, {"epoch": 2}]},
                        dict(task="supervised", dataset={"name": "moons"}, config={"lr": 0.01}, steps=2)),
    "kirchhoff train --task generate": ({"task": "generate", "target": "8gaussians", "config": {"lr": 0.003},
                                         "solver": {}, "trace": "exact", "history": [{"step": 3}, {"step": 6}]},
                                        dict(task="generate", target="8gaussians", steps=6, extra={"trace": "exact"})),
    "Train page": ({"config": {"dataset": "moons", "lr": 0.02}, "epoch": 3, "history": []},
                   dict(task="supervised", config=None, steps=3, extra={"settings": {"dataset": "moons", "lr": 0.02}})),
    "Generate page": ({"task": "generate", "target": "moons", "settings": {"lr": 5e-3}, "steps": 4, "history": []},
                      dict(task="generate", target="moons", steps=4, extra={"settings": {"lr": 5e-3}})),
    "generative_repro": ({"task": "generate", "target": "moons", "seed": 0, "config": {"eval_size": 10}, "solver": {},
                          "result": {"steps": 40, "nll": 1.1}, "log": [{"step": 20}, {"step": 40}]},
                         dict(task="generate", target="moons", steps=40, history=[{"step": 20}, {"step": 40}],
                              result={"steps": 40, "nll": 1.1}, extra={"seed": 0})),
    "a bare target": ({"target": "circles"}, dict(task="generate", target="circles", steps=0)),
}


@pytest.mark.parametrize("writer", sorted(OLD_SHAPES))
def test_the_shapes_written_before_the_schema(writer):
    doc, want = OLD_SHAPES[writer]
    rec = TrainingRecord.from_dict(doc)
    for key, value in want.items():
        assert getattr(rec, key) == value, (writer, key)


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "assets").glob("*/*.json")))
def test_every_shipped_file_reads(name):
    path = next((ROOT / "assets").glob(f"*/{name}"))
    circuit, record = load_trained(path)
    _, extra = load_checkpoint(path)
    assert (record is None) == ("training" not in extra)
    if record is not None and record.target is not None:  # the generative assets
        assert record.target == path.stem and record.steps == extra["training"]["result"]["steps"] > 0
        assert record.history == extra["training"]["log"] and record.result["nll"] > 0


@pytest.mark.parametrize("doc, message", [
    ([], "training: must be an object"),
    ({"version": 1, "task": "classify"}, "training.task"),
    ({"version": 1, "steps": -1}, "training.steps"),
    ({"version": 1, "steps": True}, "training.steps"),
    ({"version": 1, "history": [1, 2]}, "training.history"),
    ({"version": 1, "config": "fast"}, "training.config"),
    ({"version": 1, "result": None}, "training.result"),
    ({"version": 2}, "training.version"),
])
def test_bad_sections_name_the_field(doc, message):
    with pytest.raises(CircuitFileError, match=message):
        TrainingRecord.from_dict(doc)


def test_unknown_keys_are_kept_in_extra():
    rec = TrainingRecord.from_dict({"version": 1, "task": "generate", "target": "moons", "note": "hi"})
    assert rec.extra == {"note": "hi"}


def test_load_pretrained_reads_the_shipped_flow_and_refuses_the_wrong_one(monkeypatch, tmp_path):
    p = load_pretrained("twomoon")  # a reference alias: the file is moons.json
    assert p.path == ROOT / "assets" / "generative" / "moons.json" and p.training.target == "moons"
    assert p.training.steps > 0 and p.training.result["nll"] > 0 and len(p.circuit.slices) > 0
    monkeypatch.setenv("KIRCHHOFF_GENERATIVE_ASSETS", str(tmp_path))
    with pytest.raises(FileNotFoundError):
        load_pretrained("moons")
    save_circuit(flow_preset("moons").circuit(), tmp_path / "moons.json",
                 training=TrainingRecord(task="generate", target="circles"))
    with pytest.raises(ValueError, match="moons.json: trained for 'circles', not 'moons'"):
        load_pretrained("moons")
    save_circuit(flow_preset("moons").circuit(num_nodes=3), tmp_path / "moons.json")
    with pytest.raises(ValueError, match="moons.json: circuit: a flow needs every slice to have 2 node"):
        load_pretrained("moons")
    c = flow_preset("moons").circuit(seed=3)
    save_circuit(c, tmp_path / "moons.json")  # no training section: still usable
    p = load_pretrained("moons")
    assert p.training == TrainingRecord(task="generate", target="moons")
    np.testing.assert_array_equal(p.circuit.slices[0].params, c.slices[0].params)
    with pytest.raises(ValueError, match="unknown target"):
        load_pretrained("nothing")
