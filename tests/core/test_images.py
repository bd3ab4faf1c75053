"""MNIST-style IDX files the tests write themselves: the reader, its errors, and the mnist preset
trained through ``kirchhoff train --preset mnist --data-dir DIR`` on a tiny set."""

from __future__ import annotations

import csv
import gzip
import io
import pathlib

import numpy as np
import pytest

from kirchhoff_core.cli import main
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.images import read_idx
from kirchhoff_core.presets import build_circuit, preset_for

NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding: 0, 0, 0x08 (unsigned bytes), ndim, the sizes big-endian, the values."""
    head = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return head + array.astype(np.uint8).tobytes()


def write_set(folder: pathlib.Path, n_train: int = 40, n_test: int = 20, gz: bool = False,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Digit-like images: class c lights up column band c, so a circuit can learn them."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    first = None
    for part, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, (n, 28, 28))
        for i, c in enumerate(labels):
            images[i, 4:24, 2 + 2 * c: 4 + 2 * c] = 250
        for name, arr in zip(NAMES[part], (images, labels)):
            data = idx_bytes(arr)
            (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)
        first = first if first is not None else (images, labels)
    return first


@pytest.mark.parametrize("gz", [False, True])
def test_reads_idx_files_gzipped_or_not(tmp_path, gz):
    images, labels = write_set(tmp_path, gz=gz)
    d = make_dataset("mnist", path=tmp_path)
    assert d.x_train.shape == (40, 784) and d.x_test.shape == (20, 784) and d.n_classes == 10
    assert d.x_train.dtype == np.float32 and 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    np.testing.assert_allclose(d.x_train[3], images[3].reshape(-1) / 255.0, rtol=1e-6)  # row by row
    assert np.array_equal(d.y_train, labels)
    small = make_dataset("fashion-mnist", path=tmp_path, n_samples=20, seed=1)
    assert len(small.x_train) == 20 and len(small.x_test) == 20
    assert sorted(np.bincount(small.y_train)) == [2] * 10  # stratified


def test_the_dot_spelling_is_accepted(tmp_path):
    write_set(tmp_path)
    for p in tmp_path.iterdir():
        p.rename(tmp_path / p.name.replace("-idx", ".idx"))
    assert len(make_dataset("mnist", path=tmp_path).x_train) == 40


def test_missing_folder_and_files_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="give the folder with its IDX files"):
        make_dataset("mnist")
    with pytest.raises(ValueError, match="is not a folder"):
        make_dataset("mnist", path=tmp_path / "nowhere")
    write_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ValueError, match=r"no t10k-labels file; expected one of t10k-labels-idx1-ubyte"):
        make_dataset("mnist", path=tmp_path)


def test_truncated_files_are_clear_errors(tmp_path):
    write_set(tmp_path)
    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: truncated: the header promises 31,360 values "
                                         r"\(40, 28, 28\), the file holds 31,260"):
        make_dataset("mnist", path=tmp_path)
    f.write_bytes(f.read_bytes()[:10])
    with pytest.raises(ValueError, match="truncated: 10 bytes, shorter than its 16-byte header"):
        read_idx(f)
    g = tmp_path / "cut.gz"
    g.write_bytes(gzip.compress(idx_bytes(np.zeros((5, 28, 28))))[:-12])
    with pytest.raises(ValueError, match="cannot read it"):
        read_idx(g)


def test_wrong_magic_is_a_clear_error(tmp_path):
    write_set(tmp_path)
    f = tmp_path / "train-labels-idx1-ubyte"
    f.write_bytes(b"\x00\x00\x08\x03" + f.read_bytes()[4:])  # an image header on the labels
    with pytest.raises(ValueError, match=r"not an IDX labels file: the magic number is 0x00000803, expected 0x00000801"):
        make_dataset("mnist", path=tmp_path)
    png = tmp_path / "picture.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match="magic number is 0x89504e47"):
        read_idx(png)


def test_images_and_labels_must_match(tmp_path):
    write_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(7) % 10))
    with pytest.raises(ValueError, match="test images hold 20 images but the labels 7"):
        make_dataset("mnist", path=tmp_path)


def test_the_paper_image_presets():
    mnist = build_circuit(preset_for("mnist"))
    assert mnist.stats() == {"nodes": 834, "devices": 460_136, "parameters": 920_272, "slices": 2, "T": 2.0}
    assert mnist.inputs == list(range(1, 785)) and mnist.outputs == list(range(825, 835))
    p = preset_for("mnist")
    assert (p.train.optimizer, p.train.lr, p.train.batch_size) == ("adamw", 5e-4, 512)
    assert (p.solver.method, p.solver.rtol, p.solver.atol) == ("dopri5", 1e-3, 1e-3)
    svhn = preset_for("svhn")
    assert svhn.params["repeats"] == (1, 0) and svhn.params["num_slices"] == 3 and svhn.params["duration"] == 0.6


def test_cli_trains_the_mnist_preset_on_idx_files(tmp_path, capsys):
    """The whole path on a tiny set: the preset's circuit made small with --topo, on the CPU."""
    write_set(tmp_path / "data", n_train=40, n_test=20, gz=True)
    code = main(["train", "--preset", "mnist", "--data-dir", str(tmp_path / "data"), "--device", "cpu",
                 "--topo", "k=2", "--topo", "projection=10", "--epochs", "2", "--batch-size", "20", "--lr", "0.02",
                 "--quiet", "--out", str(tmp_path / "run")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "device: CPU" in err and "mnist: 40 train / 20 test samples" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(0.0 <= float(r["test_metric"]) <= 1.0 and float(r["wall_time"]) > 0 for r in rows)
    assert (tmp_path / "run" / "circuit.json").is_file()


def test_cli_image_errors(tmp_path, capsys):
    assert main(["train", "--preset", "mnist", "--quiet", "--out", str(tmp_path)]) == 2
    assert "error: --data-dir: mnist needs the folder with its IDX files" in capsys.readouterr().err
    assert main(["train", "--preset", "mnist", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["train", "--dataset", "moons", "--data-dir", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "error: --data-dir: only for mnist, fashion-mnist" in capsys.readouterr().err
    assert main(["train", "--preset", "nope", "--out", str(tmp_path)]) == 2
    assert "error: --preset: choose one of" in capsys.readouterr().err
