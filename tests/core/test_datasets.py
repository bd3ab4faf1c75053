"""Tests for kirchhoff_core.datasets: shapes, determinism, splits, scaling, validation, CSV input."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest
import torch
from sklearn.datasets import make_moons

from kirchhoff_core.datasets import (
    DATASETS, MAX_SAMPLES, Dataset, load_points_csv, make_dataset, points_to_dataset,
)

CLASSIFICATION_2D = [n for n, s in DATASETS.items() if s.task == "classification" and s.n_features == 2]
N = 200


def all_x(d: Dataset) -> np.ndarray:
    return np.concatenate([d.x_train, d.x_test])


def all_y(d: Dataset) -> np.ndarray:
    return np.concatenate([d.y_train, d.y_test])


def same(a: Dataset, b: Dataset) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k))
               for k in ("x_train", "y_train", "x_test", "y_test"))


# --- every set ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DATASETS)
def test_shapes_dtypes_and_classes(name):
    spec = DATASETS[name]
    d = make_dataset(name, n_samples=N)
    assert (d.name, d.task) == (name, spec.task)
    assert d.x_train.shape == (160, spec.n_features) and d.x_test.shape == (40, spec.n_features)
    assert d.x_train.dtype == d.x_test.dtype == np.float64
    assert d.n_features == spec.n_features
    if spec.task == "classification":
        assert d.y_train.shape == (160,) and d.y_test.shape == (40,)
        assert d.y_train.dtype == d.y_test.dtype == np.int64
        expected = {"blobs": 3, "digits": 10}.get(name, 2)
        assert d.n_classes == d.n_outputs == expected
        assert set(np.unique(d.y_train)) == set(np.unique(d.y_test)) == set(range(expected))
    else:
        assert d.y_train.shape == (160, 1) and d.y_test.shape == (40, 1)
        assert d.y_train.dtype == np.float64
        assert d.n_classes == 0 and d.n_outputs == 1
    assert spec.description.endswith(".") and spec.default_noise >= 0


@pytest.mark.parametrize("name", DATASETS)
def test_same_arguments_same_arrays_other_seed_other_arrays(name):
    a = make_dataset(name, n_samples=N, seed=3)
    assert same(a, make_dataset(name, n_samples=N, seed=3))
    b = make_dataset(name, n_samples=N, seed=4)
    assert not same(a, b)
    assert not np.array_equal(np.sort(all_x(a), 0), np.sort(all_x(b), 0))  # the data, not just the split


@pytest.mark.parametrize("name", DATASETS)
def test_tensors(name):
    d = make_dataset(name, n_samples=50)
    xt, yt, xs, ys = d.tensors(torch.float32)
    assert xt.dtype == xs.dtype == torch.float32 and xt.shape == d.x_train.shape
    assert yt.dtype == ys.dtype == (torch.long if d.task == "classification" else torch.float32)
    assert torch.equal(ys, torch.as_tensor(d.y_test).to(ys.dtype))
    assert d.tensors()[0].dtype == torch.float64


# --- splits ------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, fraction, n_test", [(500, 0.2, 100), (10, 0.2, 2), (101, 0.5, 50),
                                                 (30, 0.1, 3)])
def test_split_sizes(n, fraction, n_test):
    d = make_dataset("moons", n_samples=n, test_fraction=fraction)
    assert (len(d.x_test), len(d.x_train)) == (n_test, n - n_test)
    assert len(d.y_test) == n_test


def test_split_is_stratified_and_disjoint():
    d = make_dataset("blobs", n_samples=600, classes=6, test_fraction=0.25)
    assert np.array_equal(np.bincount(d.y_test), [25] * 6)
    assert np.array_equal(np.bincount(d.y_train), [75] * 6)
    rows = {tuple(r) for r in all_x(d)}
    assert len(rows) == 600  # no sample lands in both parts


def test_split_depends_on_seed_only_through_seed():
    a = make_dataset("sine", n_samples=100, seed=1, test_fraction=0.3)
    assert len(a.x_test) == 30
    assert same(a, make_dataset("sine", n_samples=100, seed=1, test_fraction=0.3))


# --- scaling of 2-D classification sets --------------------------------------------------------

@pytest.mark.parametrize("name", CLASSIFICATION_2D)
def test_2d_sets_span_about_minus_two_to_two(name):
    d = make_dataset(name, n_samples=400)
    x = all_x(d)
    assert np.abs(x).max() == pytest.approx(2.0)
    assert np.allclose(x.mean(0), 0.0, atol=1e-12)
    assert np.ptp(x, axis=0).max() > 3.0  # centred, so the larger axis covers most of [-2, 2]
    assert d.x_offset.shape == (2,) and d.x_scale > 0


def test_affine_map_recovers_raw_coordinates():
    d = make_dataset("moons", n_samples=300, noise=0.1, seed=7)
    raw, _ = make_moons(300, noise=0.1, random_state=7)
    got = d.to_raw(all_x(d))
    assert np.allclose(np.sort(got, axis=0), np.sort(raw, axis=0))
    assert np.allclose(d.from_raw(got), all_x(d))
    assert np.allclose(d.x_offset, raw.mean(0))


def test_scaling_is_isotropic():
    d = make_dataset("circles", n_samples=400, noise=0.0, factor=0.5)
    radii = np.sort(np.linalg.norm(all_x(d), axis=1))
    assert radii[0] == pytest.approx(1.0) and radii[-1] == pytest.approx(2.0)  # still circles


def test_regression_and_digits_are_not_rescaled():
    for name in ("sine", "sine2d", "digits"):
        d = make_dataset(name, n_samples=100)
        assert d.x_scale == 1.0 and not d.x_offset.any()


# --- set-specific content ----------------------------------------------------------------------

def test_xor_labels_follow_sign_of_product():
    d = make_dataset("xor", n_samples=200, noise=0.0)
    raw = d.to_raw(all_x(d))
    assert np.array_equal(all_y(d), (raw[:, 0] * raw[:, 1] < 0).astype(int))
    assert np.bincount(all_y(d)).tolist() == [100, 100]


@pytest.mark.parametrize("cells", [2, 4, 5])
def test_checkerboard_labels_follow_cells(cells):
    d = make_dataset("checkerboard", n_samples=400, noise=0.0, cells=cells)
    raw = d.to_raw(all_x(d))
    assert raw.min() >= -1 - 1e-12 and raw.max() <= 1 + 1e-12
    cell = np.floor((raw + 1) * cells / 2).astype(int)
    assert np.array_equal(all_y(d), cell.sum(1) % 2)


def test_spirals_are_two_balanced_arms():
    d = make_dataset("spirals", n_samples=300, noise=0.0)
    assert np.bincount(all_y(d)).tolist() == [150, 150]
    raw = d.to_raw(all_x(d))
    assert np.linalg.norm(raw, axis=1).max() <= 1 + 1e-12


@pytest.mark.parametrize("k", [2, 5, 8])
def test_blobs_classes_option(k):
    d = make_dataset("blobs", n_samples=400, classes=k)
    assert d.n_classes == k and set(all_y(d)) == set(range(k))


def test_noise_changes_data_and_default_is_used():
    base = make_dataset("moons", n_samples=N)
    assert same(base, make_dataset("moons", n_samples=N, noise=0.1))
    assert not same(base, make_dataset("moons", n_samples=N, noise=0.3))


@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_sine_targets(noise):
    d = make_dataset("sine", n_samples=2000, noise=noise)
    x, y = all_x(d), np.concatenate([d.y_train, d.y_test])
    assert x.min() >= -math.pi and x.max() <= math.pi and np.ptp(x) > 6.0
    resid = y[:, 0] - np.sin(x[:, 0])
    assert resid.std() == pytest.approx(noise, abs=0.01)
    assert np.abs(resid).max() <= 5 * noise + 1e-12


def test_sine2d_targets():
    d = make_dataset("sine2d", n_samples=2000, noise=0.0)
    x, y = all_x(d), np.concatenate([d.y_train, d.y_test])
    assert np.allclose(y[:, 0], np.sin(x[:, 0]) * np.cos(x[:, 1]))
    noisy = make_dataset("sine2d", n_samples=2000, noise=0.05)
    resid = noisy.y_train[:, 0] - np.sin(noisy.x_train[:, 0]) * np.cos(noisy.x_train[:, 1])
    assert resid.std() == pytest.approx(0.05, abs=0.01)


def test_digits_content():
    d = make_dataset("digits", n_samples=1797)
    x = all_x(d)
    assert d.n_features == 64 and d.n_classes == 10
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.allclose(x * 16, np.round(x * 16))  # exact /16 scaling of the 0..16 pixels
    assert len(x) == 1797 and len({tuple(r) for r in x}) > 1700


@pytest.mark.parametrize("n", [100, 1790])
def test_digits_subset_is_stratified(n):
    counts = np.bincount(all_y(make_dataset("digits", n_samples=n)))
    assert counts.sum() == n and len(counts) == 10 and np.ptp(counts) <= 9
    if n == 100:
        assert counts.tolist() == [10] * 10


def test_digits_pixel_noise_stays_in_unit_range():
    clean = make_dataset("digits", n_samples=200)
    noisy = make_dataset("digits", n_samples=200, noise=0.2)
    assert not np.array_equal(clean.x_train, noisy.x_train)
    assert noisy.x_train.min() >= 0.0 and noisy.x_train.max() <= 1.0


# --- validation of make_dataset ----------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    ({"name": "nope"}, ["name", "'nope'", "moons", "digits"]),
    ({"n_samples": 5}, ["n_samples", "5"]),
    ({"n_samples": 100_001}, ["n_samples", "100001"]),
    ({"n_samples": 50.5}, ["n_samples", "50.5"]),
    ({"n_samples": True}, ["n_samples", "True"]),
    ({"name": "digits", "n_samples": 1798}, ["n_samples", "1797", "1798"]),
    ({"noise": -0.1}, ["noise", "-0.1"]),
    ({"noise": float("nan")}, ["noise", "nan"]),
    ({"noise": float("inf")}, ["noise", "inf"]),
    ({"noise": "0.1"}, ["noise", "'0.1'"]),
    ({"test_fraction": 0.0}, ["test_fraction", "0.0"]),
    ({"test_fraction": 1.0}, ["test_fraction", "1.0"]),
    ({"test_fraction": -0.2}, ["test_fraction", "-0.2"]),
    ({"test_fraction": float("nan")}, ["test_fraction", "nan"]),
    ({"n_samples": 10, "test_fraction": 0.01}, ["test_fraction", "0.01", "0 of 10"]),
    ({"n_samples": 10, "test_fraction": 0.99}, ["test_fraction", "0.99"]),
    ({"name": "blobs", "n_samples": 12, "test_fraction": 0.1}, ["test_fraction", "n_samples"]),
    ({"name": "blobs", "n_samples": 10, "classes": 8}, ["class", "n_samples"]),
    ({"seed": -1}, ["seed", "-1"]),
    ({"seed": 1.5}, ["seed", "1.5"]),
    ({"colour": 3}, ["option", "'colour'", "none"]),
    ({"name": "blobs", "clases": 3}, ["'clases'", "classes"]),
    ({"name": "blobs", "classes": 9}, ["classes", "9", "8"]),
    ({"name": "blobs", "classes": 3.0}, ["classes", "3.0"]),
    ({"name": "checkerboard", "cells": 1}, ["cells", "1"]),
    ({"name": "circles", "factor": 1.0}, ["factor", "1.0"]),
    ({"name": "spirals", "turns": float("inf")}, ["turns", "inf"]),
])
def test_make_dataset_validation(kwargs, words):
    kwargs = {"name": "moons", **kwargs}
    with pytest.raises(ValueError) as err:
        make_dataset(**kwargs)
    for word in words:
        assert word in str(err.value)


def test_options_have_sane_bounds():
    for spec in DATASETS.values():
        for key, opt in spec.options.items():
            assert opt.low <= opt.default <= opt.high and opt.help
            make_dataset(spec.name, n_samples=100, **{key: opt.low})
            make_dataset(spec.name, n_samples=100, **{key: opt.high})


# --- user points -------------------------------------------------------------------------------

POINTS = [(0.1 * i, -0.2 * i, i % 3) for i in range(30)]


def csv_text(points=POINTS, header="x1,x2,label") -> str:
    return "\n".join([header] + [",".join(map(str, p)) for p in points]) + "\n"


def test_points_to_dataset_keeps_coordinates():
    d = points_to_dataset(POINTS, seed=1)
    assert (d.name, d.task, d.n_classes, d.n_features) == ("custom", "classification", 3, 2)
    assert d.x_scale == 1.0 and d.x_offset.tolist() == [0.0, 0.0]
    assert len(d.x_test) == 6 and np.bincount(d.y_test).tolist() == [2, 2, 2]
    got = {(round(a, 9), round(b, 9), int(c)) for (a, b), c in zip(all_x(d), all_y(d))}
    assert got == {(round(a, 9), round(b, 9), c) for a, b, c in POINTS}
    assert d.y_train.dtype == np.int64 and d.x_train.dtype == np.float64


def test_csv_from_text_bytes_and_path_match_points(tmp_path: pathlib.Path):
    ref = points_to_dataset(POINTS, seed=2)
    path = tmp_path / "pts.csv"
    path.write_text(csv_text())
    for source in (csv_text(), csv_text().encode(), path):
        assert same(load_points_csv(source, seed=2), ref)


def test_csv_tolerates_bom_case_spaces_extra_columns_blank_lines_and_float_labels():
    lines = ["\ufeff note , X2 ,Label, x1 "]
    lines += [f"a{i}, {b} ,{c}.0,{a}" for i, (a, b, c) in enumerate(POINTS)]
    lines.insert(5, "")
    d = load_points_csv(("\r\n".join(lines)).encode("utf-8"), seed=2)
    assert same(d, points_to_dataset(POINTS, seed=2))
    assert same(load_points_csv(csv_text().replace("\n", "\r"), seed=2), d)  # old Mac endings


def test_csv_test_fraction_and_seed():
    a = load_points_csv(csv_text(), test_fraction=0.5, seed=0)
    assert len(a.x_test) == 15
    assert not same(a, load_points_csv(csv_text(), test_fraction=0.5, seed=1))


def replace_row(i: int, row: str) -> str:
    lines = csv_text().splitlines()
    lines[i] = row
    return "\n".join(lines)


@pytest.mark.parametrize("source, words", [
    (b"x1,x2,label\n\xff\xfe\x00,1,0\n", ["UTF-8"]),
    ("", ["missing", "x1", "x2", "label", "nothing"]),
    (csv_text(header="x1,x2,class"), ["missing", "label", "found: x1, x2, class"]),
    (csv_text(header="a,b,label"), ["x1, x2"]),
    (replace_row(3, "0.5,abc,1"), ["row 4", "abc", "number"]),
    (replace_row(5, "nan,0.5,1"), ["row 6", "finite", "nan"]),
    (replace_row(2, "0.5,-inf,1"), ["row 3", "finite", "inf"]),
    (replace_row(7, "0.5,0.5,1.5"), ["row 8", "label", "1.5"]),
    (replace_row(7, "0.5,0.5,-1"), ["row 8", "label", "-1"]),
    (replace_row(4, "0.5,0.5"), ["row 5", "3 values", "got 2"]),
    (csv_text([(0.1 * i, 0.0, 1) for i in range(20)]), ["2 classes", "1"]),
    (csv_text([(0.1 * i, 0.0, 2 * (i % 2)) for i in range(20)]), ["0..2", "missing: 1"]),
    (csv_text(POINTS[:9]), ["between 10", "got 9"]),
    (csv_text([(i, 0, 0) for i in range(19)] + [(9, 9, 1)]), ["class 1", "only 1"]),
    ("x1,x2,label\n" + "0,0,0\n" * MAX_SAMPLES + "1,1,1\n", ["too many rows", str(MAX_SAMPLES)]),
    ("x1,x2,label\n" + "1" * 200_000, ["not a readable CSV", "field limit"]),
])
def test_csv_errors(source, words):
    with pytest.raises(ValueError) as err:
        load_points_csv(source)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("kwargs, word", [({"test_fraction": 0}, "test_fraction"),
                                          ({"test_fraction": 0.01}, "test_fraction"),
                                          ({"seed": -3}, "seed")])
def test_csv_split_argument_errors(kwargs, word):
    with pytest.raises(ValueError, match=word):
        load_points_csv(csv_text(), **kwargs)


def test_points_errors_name_the_point():
    bad = POINTS[:2] + [(float("nan"), 0.0, 1)] + POINTS[3:]
    with pytest.raises(ValueError, match="point 3"):
        points_to_dataset(bad)
    with pytest.raises(ValueError, match="point 2: expected"):
        points_to_dataset(POINTS[:1] + [(0.0, 1.0)] + POINTS[2:])
    with pytest.raises(ValueError, match=f"got {MAX_SAMPLES + 2}"):
        points_to_dataset([(0.0, 0.0, 0), (1.0, 1.0, 1)] * (MAX_SAMPLES // 2 + 1))
