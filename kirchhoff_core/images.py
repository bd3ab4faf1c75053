"""MNIST and Fashion-MNIST from the standard IDX files in a folder the user gives (no download).

The four files are ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``
and ``t10k-labels-idx1-ubyte``, each optionally gzipped (``.gz``) and with ``.idx`` in place of
``-idx`` (both spellings circulate). An IDX file is a big-endian header (two zero bytes, a type
byte, 0x08 for unsigned bytes, the number of dimensions, then each dimension as a 32-bit size)
followed by the values; a missing file, a truncated one or a wrong magic number is a ValueError
that names the file and what was expected.

Pixels become voltages in [0, 1] (``/ 255``), flattened row by row, which is the node order of the
``mixed`` generator's 28 x 28 circuit (pixel at row r, column c is node 1 + 28 r + c).
"""

from __future__ import annotations

import gzip
import pathlib

import numpy as np

from .datasets import Dataset, _check_int, _stratified_subset

IMAGE_SETS = {
    "mnist": "handwritten digits 0-9, 28 x 28 grey pixels (60,000 train / 10,000 test)",
    "fashion-mnist": "Zalando's clothing images, 10 classes, 28 x 28 grey pixels (60,000 train / 10,000 test)",
}
_FILES = {("train", "images"): "train-images", ("train", "labels"): "train-labels",
          ("test", "images"): "t10k-images", ("test", "labels"): "t10k-labels"}
_MAGIC = {"images": (0x08, 3), "labels": (0x08, 1)}  # (type byte: unsigned byte, dimensions)


def _find(folder: pathlib.Path, stem: str, ndim: int) -> pathlib.Path:
    names = [f"{stem}{sep}idx{ndim}-ubyte{gz}" for sep in ("-", ".") for gz in ("", ".gz")]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise ValueError(f"{folder}: no {stem} file; expected one of {', '.join(names)} "
                     "(the standard MNIST / Fashion-MNIST IDX files, gzipped or not)")


def read_idx(path: pathlib.Path | str, kind: str = "images") -> np.ndarray:
    """The array in one IDX file (gzipped or not), checked against the header of an MNIST
    ``kind`` ("images": 3 dimensions, "labels": 1) and against its own length."""
    path = pathlib.Path(path)
    try:
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as e:  # unreadable, or a gzip stream cut short
        raise ValueError(f"{path}: cannot read it ({e}); the file may be truncated or not gzip data") from None
    type_byte, ndim = _MAGIC[kind]
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if magic != (type_byte << 8 | ndim):
        found = "nothing (the file is shorter than 4 bytes)" if magic is None else f"0x{magic:08x}"
        raise ValueError(f"{path}: not an IDX {kind} file: the magic number is {found}, expected "
                         f"0x{type_byte << 8 | ndim:08x} (unsigned bytes, {ndim} dimension(s))")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated: {len(raw)} bytes, shorter than its {header}-byte header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape))
    if len(raw) - header < size:
        raise ValueError(f"{path}: truncated: the header promises {size:,} values {shape}, the file holds "
                         f"{len(raw) - header:,}")
    if len(raw) - header > size:
        raise ValueError(f"{path}: {len(raw) - header - size:,} bytes after the {size:,} values the header "
                         "promises; not a well-formed IDX file")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _split(folder: pathlib.Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(_find(folder, _FILES[(part, "images")], 3), "images")
    labels = read_idx(_find(folder, _FILES[(part, "labels")], 1), "labels")
    if len(images) != len(labels):
        raise ValueError(f"{folder}: the {part} images hold {len(images):,} images but the labels "
                         f"{len(labels):,}; the files do not belong together")
    if len(labels) and labels.max() > 9:
        raise ValueError(f"{folder}: {part} labels must be 0-9, found {int(labels.max())}")
    return images, labels


def load_image_dataset(name: str, path: str | pathlib.Path | None, n_samples: int | None = None,
                       seed: int = 0) -> Dataset:
    """MNIST-style data from the IDX files in ``path``: the files' own train / test split, pixels in
    [0, 1] flattened row by row (float32, to halve the memory of 60,000 x 784 values).
    ``n_samples`` keeps a class-stratified subset (seeded) of that many training images, and of
    at most that many test images, for quick runs."""
    if name not in IMAGE_SETS:
        raise ValueError(f"unknown image set {name!r}; choose one of {', '.join(IMAGE_SETS)}")
    if path is None:
        raise ValueError(f"{name}: give the folder with its IDX files (path=..., or --data-dir on the "
                         "command line); nothing is downloaded")
    folder = pathlib.Path(path).expanduser()
    if not folder.is_dir():
        raise ValueError(f"{name}: {folder} is not a folder")
    parts = [_split(folder, part) for part in ("train", "test")]
    if n_samples is not None:
        n = _check_int("n_samples", n_samples, 10, len(parts[0][1]))
        rng = np.random.default_rng(seed)
        parts = [(x[keep], y[keep]) for x, y in parts
                 for keep in [_stratified_subset(y, min(n, len(y)), rng)]]
    (x_tr, y_tr), (x_te, y_te) = [(x.reshape(len(x), -1).astype(np.float32) / np.float32(255.0), y.astype(np.int64))
                                  for x, y in parts]
    return Dataset(name, "classification", x_tr, y_tr, x_te, y_te, n_classes=10)
