"""Toy and small real data sets for training KirchhoffNets, plus user-drawn points.

Every set is generated from code or scikit-learn's bundled data (no network), is fully determined
by its arguments, and comes back already split into train and test parts. 2-D classification sets
are centred and isotropically scaled to span about [-2, 2], a range where the circuits' voltages
stay in the devices' interesting region; the affine map is kept so plots can show raw coordinates.
"""

from __future__ import annotations

import csv
import io
import math
import pathlib
from dataclasses import dataclass, field
from functools import lru_cache
from numbers import Integral, Real
from typing import Callable, Sequence

import numpy as np
import torch
from sklearn.datasets import load_digits, make_blobs, make_circles, make_moons
from sklearn.model_selection import train_test_split

MIN_SAMPLES = 10
MAX_SAMPLES = 100_000
SPAN = 2.0  # 2-D classification inputs are scaled so that max |x| == SPAN
CSV_COLUMNS = ("x1", "x2", "label")


@dataclass
class Dataset:
    """A train/test split ready for training; ``raw = x * x_scale + x_offset`` undoes scaling."""

    name: str
    task: str  # "classification" or "regression"
    x_train: np.ndarray  # float64 (n, d)
    y_train: np.ndarray  # int64 (n,) or float64 (n, d_out)
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int  # 0 for regression
    x_offset: np.ndarray = field(default_factory=lambda: np.zeros(1))  # broadcast to (d,)
    x_scale: float = 1.0

    def __post_init__(self) -> None:
        self.x_offset = np.broadcast_to(np.asarray(self.x_offset, np.float64), (self.n_features,)).copy()
        self.x_scale = float(self.x_scale)

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_outputs(self) -> int:
        """Read-out nodes a network needs: one logit per class, or one voltage per target."""
        return self.n_classes if self.task == "classification" else int(self.y_train.shape[1])

    def to_raw(self, x: np.ndarray) -> np.ndarray:
        """Map model-space inputs back to the coordinates the set was generated in."""
        return np.asarray(x) * self.x_scale + self.x_offset

    def from_raw(self, raw: np.ndarray) -> np.ndarray:
        """Map raw coordinates into model space (inverse of :meth:`to_raw`)."""
        return (np.asarray(raw) - self.x_offset) / self.x_scale

    def tensors(self, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, ...]:
        """(x_train, y_train, x_test, y_test) as fresh tensors; class labels stay ``long``."""
        y_dtype = torch.long if self.task == "classification" else dtype
        return (torch.tensor(self.x_train, dtype=dtype), torch.tensor(self.y_train, dtype=y_dtype),
                torch.tensor(self.x_test, dtype=dtype), torch.tensor(self.y_test, dtype=y_dtype))


@dataclass(frozen=True)
class Option:
    """A set-specific knob; integer-valued when its default is an int."""

    default: float
    low: float
    high: float
    help: str


Generator = Callable[..., tuple[np.ndarray, np.ndarray]]  # (n, noise, seed, **options) -> (x, y)


@dataclass(frozen=True)
class DatasetSpec:
    """What a UI needs to offer a set, and the function that draws it."""

    name: str
    task: str
    n_features: int
    default_noise: float
    description: str
    generate: Generator
    options: dict[str, Option] = field(default_factory=dict)
    max_samples: int = MAX_SAMPLES


# --- generators: raw (x, y), balanced classes so that stratified splits always work ---------------

def _moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return make_moons(n, noise=noise, random_state=seed)


def _circles(n: int, noise: float, seed: int, factor: float) -> tuple[np.ndarray, np.ndarray]:
    return make_circles(n, noise=noise, factor=factor, random_state=seed)


def _xor(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    signs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]])[np.arange(n) % 4]
    x = rng.uniform(0, 1, (n, 2)) * signs
    return x + noise * rng.standard_normal((n, 2)), (signs.prod(1) < 0).astype(np.int64)


def _spirals(n: int, noise: float, seed: int, turns: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    r = np.sqrt(rng.uniform(0, 1, n))  # sqrt: even density along the arm
    t = 2 * np.pi * turns * r + np.pi * y
    x = np.c_[r * np.cos(t), r * np.sin(t)]
    return x + noise * rng.standard_normal((n, 2)), y


def _blobs(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    return make_blobs(n, centers=classes, cluster_std=noise, random_state=seed)


def _checkerboard(n: int, noise: float, seed: int, cells: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    parity = np.add.outer(np.arange(cells), np.arange(cells)) % 2
    x = np.empty((n, 2))
    for k in (0, 1):  # pick a random cell of the right colour, then a point inside it
        own = np.argwhere(parity == k)
        cell = own[rng.integers(len(own), size=(y == k).sum())]
        x[y == k] = (cell + rng.uniform(0, 1, cell.shape)) * (2 / cells) - 1
    return x + noise * rng.standard_normal((n, 2)), y


def _sine(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, (n, 1))
    return x, np.sin(x) + noise * rng.standard_normal((n, 1))


def _sine2d(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, (n, 2))
    y = np.sin(x[:, :1]) * np.cos(x[:, 1:])
    return x, y + noise * rng.standard_normal((n, 1))


@lru_cache(maxsize=1)
def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    data = load_digits()
    return data.data / 16.0, data.target


def _digits(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = _digits_raw()
    rng = np.random.default_rng(seed)
    keep = _stratified_subset(y, n, rng)
    x = x[keep] + noise * rng.standard_normal((n, x.shape[1]))
    return np.clip(x, 0.0, 1.0), y[keep]


def _stratified_subset(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of n samples with class proportions as in y (works for any n, unlike sklearn)."""
    perm = rng.permutation(len(y))
    rank = np.empty(len(y))
    for c in np.unique(y):
        members = y[perm] == c
        rank[members] = np.arange(members.sum()) / members.sum()
    return np.sort(perm[np.argsort(rank, kind="stable")[:n]])


DATASETS: dict[str, DatasetSpec] = {s.name: s for s in [
    DatasetSpec("moons", "classification", 2, 0.1,
                "Two interleaving half circles, the classic non-linear toy.", _moons),
    DatasetSpec("circles", "classification", 2, 0.06,
                "A small circle inside a larger one; needs a closed decision boundary.", _circles,
                {"factor": Option(0.5, 0.1, 0.9, "inner radius relative to the outer one")}),
    DatasetSpec("xor", "classification", 2, 0.05,
                "Four quadrants labelled by the sign of x1*x2; no linear separator exists.", _xor),
    DatasetSpec("spirals", "classification", 2, 0.05,
                "Two interleaved spirals; hard for shallow models.", _spirals,
                {"turns": Option(1.5, 0.5, 3.0, "how many turns each arm makes")}),
    DatasetSpec("blobs", "classification", 2, 1.0,
                "Gaussian clusters, one per class; noise is the cluster standard deviation.", _blobs,
                {"classes": Option(3, 2, 8, "number of clusters / classes")}),
    DatasetSpec("checkerboard", "classification", 2, 0.0,
                "Uniform points in a square coloured like a checkerboard.", _checkerboard,
                {"cells": Option(4, 2, 10, "cells per side of the board")}),
    DatasetSpec("sine", "regression", 1, 0.05,
                "y = sin(x) on [-pi, pi] with Gaussian noise on y.", _sine),
    DatasetSpec("sine2d", "regression", 2, 0.05,
                "y = sin(x1) cos(x2) on [-pi, pi]^2 with Gaussian noise on y.", _sine2d),
    DatasetSpec("digits", "classification", 64, 0.0,
                "8x8 handwritten digits (scikit-learn), pixels in [0, 1], 10 classes.", _digits,
                max_samples=1797),
]}


# --- validation and the shared splitter ----------------------------------------------------------

def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return int(value)


def _check_real(name: str, value: object, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) \
            or not low <= value <= high:
        bounds = f"at least {low}" if high == math.inf else f"from {low} to {high}"
        raise ValueError(f"{name} must be a finite number {bounds}, got {value!r}")
    return float(value)


def _check_split_args(test_fraction: object, seed: object) -> tuple[float, int]:
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, Real) \
            or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    return float(test_fraction), _check_int("seed", seed, 0, 2**32 - 1)


def _check_options(spec: DatasetSpec, options: dict[str, object]) -> dict[str, float]:
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        valid = ", ".join(spec.options) or "none"
        raise ValueError(f"unknown option {unknown[0]!r} for {spec.name!r} (valid options: {valid})")
    checked = {}
    for key, opt in spec.options.items():
        value = options.get(key, opt.default)
        if isinstance(opt.default, int):
            checked[key] = _check_int(key, value, int(opt.low), int(opt.high))
        else:
            checked[key] = _check_real(key, value, opt.low, opt.high)
    return checked


def _split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int,
           stratify: bool) -> tuple[np.ndarray, ...]:
    """Seeded train/test split, stratified for classes, with errors a user can act on."""
    n = len(x)
    n_test = round(test_fraction * n)
    if not 1 <= n_test <= n - 1:
        raise ValueError(f"test_fraction={test_fraction!r} leaves {n_test} of {n} samples for "
                         "testing; both train and test need at least one")
    if stratify:
        classes, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            raise ValueError(f"class {classes[counts.argmin()]} has only {counts.min()} sample; "
                             "each class needs at least 2 (increase n_samples or add points)")
        if min(n_test, n - n_test) < len(classes):
            raise ValueError(f"test_fraction={test_fraction!r} gives {n_test} test and "
                             f"{n - n_test} train samples, but a stratified split needs at least "
                             f"one per class ({len(classes)}) in each; increase n_samples or "
                             "add points")
    return tuple(train_test_split(x, y, test_size=n_test, random_state=seed,
                                  stratify=y if stratify else None))


def _make(name: str, task: str, x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int,
          rescale: bool) -> Dataset:
    x = np.asarray(x, np.float64)
    offset, scale = np.zeros(x.shape[1]), 1.0
    if rescale:
        offset = x.mean(0)
        scale = float(np.abs(x - offset).max()) / SPAN
        x = (x - offset) / scale
    classification = task == "classification"
    y = np.asarray(y, np.int64 if classification else np.float64)
    x_tr, x_te, y_tr, y_te = _split(x, y, test_fraction, seed, stratify=classification)
    n_classes = len(np.unique(y)) if classification else 0
    return Dataset(name, task, x_tr, y_tr, x_te, y_te, n_classes, offset, scale)


def make_dataset(name: str, n_samples: int | None = None, noise: float | None = None,
                 test_fraction: float = 0.2, seed: int = 0, path: str | pathlib.Path | None = None,
                 **options: float) -> Dataset:
    """Draw a registered set; ``noise=None`` uses the set's default, options as in ``DATASETS``;
    ``n_samples=None``: 500. "mnist" and "fashion-mnist" read the IDX files in the folder ``path``
    instead (``images.load_image_dataset``: their own split, ``n_samples`` None = all)."""
    from .images import IMAGE_SETS, load_image_dataset

    if isinstance(name, str) and name in IMAGE_SETS:
        if options or noise is not None:
            raise ValueError(f"{name}: takes no noise or options, got {sorted(options) or ['noise']}")
        return load_image_dataset(name, path, n_samples, seed)
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown dataset name {name!r}; valid names: {', '.join([*DATASETS, *IMAGE_SETS])}")
    if path is not None:
        raise ValueError(f"path: only the image sets ({', '.join(IMAGE_SETS)}) are read from files; "
                         f"{name!r} is generated")
    spec = DATASETS[name]
    n = _check_int("n_samples", 500 if n_samples is None else n_samples, MIN_SAMPLES, spec.max_samples)
    noise = spec.default_noise if noise is None else _check_real("noise", noise, 0.0)
    test_fraction, seed = _check_split_args(test_fraction, seed)
    x, y = spec.generate(n, noise, seed, **_check_options(spec, options))
    rescale = spec.task == "classification" and spec.n_features == 2
    return _make(name, spec.task, x, y, test_fraction, seed, rescale)


# --- user points ---------------------------------------------------------------------------------

def _points_dataset(rows: Sequence[Sequence[object]], where: Sequence[str], test_fraction: float,
                    seed: int) -> Dataset:
    """Validate (x1, x2, label) rows; ``where[i]`` names row i in messages ("row 5", "point 3")."""
    test_fraction, seed = _check_split_args(test_fraction, seed)
    if not MIN_SAMPLES <= len(rows) <= MAX_SAMPLES:
        raise ValueError(f"need between {MIN_SAMPLES} and {MAX_SAMPLES} points, got {len(rows)}")
    x = np.empty((len(rows), 2))
    y = np.empty(len(rows), np.int64)
    for i, row in enumerate(rows):
        if len(row) != 3:
            raise ValueError(f"{where[i]}: expected x1, x2, label, got {len(row)} values")
        try:
            x1, x2, label = (float(v) for v in row)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"{where[i]}: values must be numbers, got {list(row)!r}") from None
        if not all(map(math.isfinite, (x1, x2, label))):
            raise ValueError(f"{where[i]}: values must be finite (no NaN or inf), got {list(row)!r}")
        if label != int(label) or label < 0:
            raise ValueError(f"{where[i]}: label must be a non-negative integer, got {row[2]!r}")
        x[i], y[i] = (x1, x2), int(label)
    present = np.unique(y)
    if len(present) < 2:
        raise ValueError(f"need at least 2 classes, got only label {present[0]}")
    missing = sorted(set(range(present[-1] + 1)) - set(present.tolist()))
    if missing:
        raise ValueError(f"labels must be 0..{present[-1]} with every class present; "
                         f"missing: {', '.join(map(str, missing))}")
    return _make("custom", "classification", x, y, test_fraction, seed, rescale=False)


def points_to_dataset(points: Sequence[tuple[float, float, int]], test_fraction: float = 0.2,
                      seed: int = 0) -> Dataset:
    """Dataset from clicked points, already in plot coordinates (so not rescaled)."""
    return _points_dataset(list(points), [f"point {i + 1}" for i in range(len(points))],
                           test_fraction, seed)


def load_points_csv(source: str | bytes | pathlib.Path, test_fraction: float = 0.2,
                    seed: int = 0) -> Dataset:
    """Dataset from CSV with header x1,x2,label; ``str`` is CSV text, a ``Path`` is read from disk.

    Messages count rows as a spreadsheet does (the header is row 1) so users can find them.
    """
    data = source.read_bytes() if isinstance(source, pathlib.Path) else source
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError("the file is not UTF-8 text; save it as a plain CSV file") from None
    try:
        rows, where = _read_points_csv(data.lstrip("\ufeff"))
    except csv.Error as err:
        raise ValueError(f"the file is not a readable CSV: {err}") from None
    return _points_dataset(rows, where, test_fraction, seed)


def _read_points_csv(text: str) -> tuple[list[list[str]], list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""))  # "": csv handles \r, \r\n, \n
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"missing column(s) {', '.join(missing)}; the header must name "
                         f"{', '.join(CSV_COLUMNS)} (found: {', '.join(header) or 'nothing'})")
    cols = [header.index(c) for c in CSV_COLUMNS]
    rows, where = [], []
    for line, fields in enumerate(reader, start=2):
        if not any(f.strip() for f in fields):
            continue  # blank lines are harmless
        if len(rows) == MAX_SAMPLES:
            raise ValueError(f"too many rows: at most {MAX_SAMPLES} points are allowed")
        if len(fields) < len(header):
            raise ValueError(f"row {line}: expected {len(header)} values, got {len(fields)}")
        rows.append([fields[c].strip() for c in cols])
        where.append(f"row {line}")
    return rows, where
