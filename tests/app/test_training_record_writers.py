"""Every writer of a trained circuit (``kirchhoff train``, ``kirchhoff train --task generate``, the
Train page's and the Generate page's downloads) writes its ``training`` section in the one schema,
and the one reader (``io.TrainingRecord.from_dict``, through ``io.load_trained``) reads it back; a
circuit downloaded from Generate is one "Load pretrained" takes."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import app_test as app_test_module
from streamlit.runtime.media_file_manager import MediaFileManager

APP_DIR = pathlib.Path(__file__).resolve().parents[2] / "app"
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

from kirchhoff_core import cli  # noqa: E402
from state import SESSION_KEY  # noqa: E402
from kirchhoff_core.io import TRAINING_VERSION, TrainingRecord, load_trained, parse_json  # noqa: E402


@pytest.fixture
def downloads(monkeypatch) -> list[MediaFileManager]:
    """The media file managers AppTest makes, recorded so a deferred download can be generated."""
    managers: list[MediaFileManager] = []
    make = app_test_module.MediaFileManager

    def recording(*args, **kwargs) -> MediaFileManager:
        managers.append(make(*args, **kwargs))
        return managers[-1]

    monkeypatch.setattr(app_test_module, "MediaFileManager", recording)
    return managers


def download(at: AppTest, managers: list[MediaFileManager], key: str) -> str:
    """What pressing the download button ``key`` delivers (its data is made on click)."""
    button = next(b for b in at.get("download_button") if b.proto.id.endswith(key))
    file_id = button.proto.deferred_file_id
    entry = next(m._deferred_callables[file_id] for m in reversed(managers) if file_id in m._deferred_callables)
    data = entry["callable"]()
    return data.decode() if isinstance(data, bytes) else data


def read_back(text: str, tmp_path: pathlib.Path, name: str) -> TrainingRecord:
    path = tmp_path / name
    path.write_text(text)
    doc = parse_json(text)
    assert doc["training"]["version"] == TRAINING_VERSION
    return load_trained(path)[1]


def open_page(page: str, monkeypatch=None, assets: pathlib.Path | None = None) -> AppTest:
    if assets is not None:
        monkeypatch.setenv("KIRCHHOFF_GENERATIVE_ASSETS", str(assets))
    at = AppTest.from_file(str(APP_DIR / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def test_cli_train_writes_the_schema(tmp_path):
    out = tmp_path / "sup"
    assert cli.main(["train", "--dataset", "moons", "--samples", "100", "--epochs", "2", "--quiet",
                     "--out", str(out)]) == 0
    _, record = load_trained(out / "circuit.json")
    assert record.task == "supervised" and record.dataset["name"] == "moons" and record.target is None
    assert record.steps == 2 and [h["epoch"] for h in record.history] == [1, 2]
    assert record.config["lr"] > 0 and record.solver["method"] == "dopri5"
    assert record.result["test_metric"] == record.history[-1]["test_metric"]


def test_cli_generative_writes_the_schema(tmp_path):
    out = tmp_path / "gen"
    assert cli.main(["train", "--task", "generate", "--dataset", "8gaussians", "--steps", "4", "--log-every", "2",
                     "--batch-size", "32", "--eval-size", "50", "--topo", "repeats=1,1", "--topo", "num_slices=1",
                     "--quiet", "--out", str(out)]) == 0
    _, record = load_trained(out / "circuit.json")
    assert (record.task, record.target, record.steps) == ("generate", "8gaussians", 4)
    assert [h["step"] for h in record.history] == [2, 4] and record.extra == {"trace": "exact"}
    assert record.result["nll"] == record.history[-1]["test_loss"] and record.config["eval_size"] == 50


def test_train_page_download_writes_the_schema(downloads, tmp_path):
    at = open_page("train")
    at.button(key="train_step").click().run()
    assert not at.exception
    record = read_back(download(at, downloads, "train_download"), tmp_path, "train.json")
    assert record.task == "supervised" and record.dataset["name"] == "moons"
    assert record.steps == 1 and [h["epoch"] for h in record.history] == [1]
    assert record.config["optimizer"] == "adam" and record.extra["settings"]["dataset"] == "moons"


def test_generate_page_download_writes_the_schema_and_loads_as_pretrained(downloads, monkeypatch, tmp_path):
    at = open_page("generate", monkeypatch, tmp_path / "none")
    at.button(key="gen_step").click().run()
    assert not at.exception
    text = download(at, downloads, "gen_download")
    record = read_back(text, tmp_path, "flow.json")
    trainer = at.session_state[SESSION_KEY].generate.trainer
    assert (record.task, record.target, record.steps) == ("generate", "moons", 1)
    assert [h["step"] for h in record.history] == [1] and record.config["eval_size"] == trainer.config.eval_size
    nll = record.result["nll"]
    assert nll == pytest.approx(at.session_state[SESSION_KEY].generate.evals[-1][1])

    # Saved as the pretrained circuit for moons, "Load pretrained" takes it and says what it read.
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "moons.json").write_text(text)
    at = open_page("generate", monkeypatch, assets)
    at.button(key="gen_pretrained").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(f"(1 steps, held-out NLL {nll:.3f} on {trainer.config.eval_size:,} samples)" in i.value
               for i in at.info), [i.value for i in at.info]
    loaded = at.session_state[SESSION_KEY].generate.trainer.flow.to_circuit()
    saved = trainer.flow.to_circuit()
    np.testing.assert_array_equal(np.concatenate([s.params.ravel() for s in loaded.slices]),
                                  np.concatenate([s.params.ravel() for s in saved.slices]))
