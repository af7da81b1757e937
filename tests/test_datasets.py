"""Tests of sklearn_wdist.datasets: the synthetic generator and the shipped loader."""

from __future__ import annotations

import numpy as np
import pytest

from sklearn_wdist.datasets import load_japanese_vowels, make_shape_sequences

# ---------------------------------------------------------------------------
# make_shape_sequences
# ---------------------------------------------------------------------------


def _class_values(X, y, label, channel):
    return np.concatenate([x[channel] for x, c in zip(X, y, strict=True) if c == label])


def _excess_kurtosis(values):
    centred = values - values.mean()
    return np.mean(centred**4) / np.mean(centred**2) ** 2 - 3.0


def test_shape_sequences_shapes_and_dtypes():
    X, y = make_shape_sequences(
        n_sequences_per_class=7,
        n_classes=3,
        n_channels=4,
        length=(10, 25),
        random_state=0,
    )
    assert isinstance(X, list)
    assert len(X) == len(y) == 21
    for x in X:
        assert x.dtype == np.float32
        assert x.ndim == 2 and x.shape[0] == 4
        assert 10 <= x.shape[1] <= 25
        assert np.isfinite(x).all()
    assert len({x.shape[1] for x in X}) > 1  # lengths vary
    assert y.dtype.kind == "U"
    assert y.tolist() == ["gaussian"] * 7 + ["uniform"] * 7 + ["bimodal"] * 7


def test_shape_sequences_fixed_length_and_all_classes():
    X, y = make_shape_sequences(
        n_sequences_per_class=2, n_classes=5, n_channels=1, length=8, random_state=1
    )
    assert {x.shape for x in X} == {(1, 8)}
    assert set(y) == {"gaussian", "uniform", "bimodal", "skewed", "laplace"}


def test_shape_sequences_seeding():
    first = make_shape_sequences(n_sequences_per_class=5, random_state=3)
    again = make_shape_sequences(n_sequences_per_class=5, random_state=3)
    other = make_shape_sequences(n_sequences_per_class=5, random_state=4)
    assert all(np.array_equal(a, b) for a, b in zip(first[0], again[0], strict=True))
    np.testing.assert_array_equal(first[1], again[1])
    assert any(
        a.shape != b.shape or not np.array_equal(a, b)
        for a, b in zip(first[0], other[0], strict=True)
    )
    rng = np.random.RandomState(3)
    from_instance = make_shape_sequences(n_sequences_per_class=5, random_state=rng)
    assert all(
        np.array_equal(a, b) for a, b in zip(first[0], from_instance[0], strict=True)
    )


def test_shape_sequences_same_moments_different_shapes():
    X, y = make_shape_sequences(
        n_sequences_per_class=150,
        n_classes=5,
        n_channels=2,
        length=(60, 100),
        random_state=0,
    )
    kurtosis = {}
    for label in np.unique(y):
        for channel in range(2):
            values = _class_values(X, y, label, channel).astype(np.float64)
            assert abs(values.mean()) < 0.05, (label, channel)
            assert abs(values.var() - 1.0) < 0.1, (label, channel)
        kurtosis[label] = _excess_kurtosis(_class_values(X, y, label, 0))
    # Theoretical excess kurtosis: 0, -1.2, about -1.31, 6 and 3.
    assert abs(kurtosis["gaussian"]) < 0.3
    assert abs(kurtosis["uniform"] + 1.2) < 0.1
    assert abs(kurtosis["bimodal"] + 1.31) < 0.1
    assert kurtosis["skewed"] > 4.0
    assert 2.0 < kurtosis["laplace"] < 4.5
    skewed = _class_values(X, y, "skewed", 0)
    assert np.mean(skewed**3) > 1.5  # skewness 2 (mean 0, variance 1)
    # The bimodal class has few values near its mean, the gaussian many.
    near_zero = {
        label: np.mean(np.abs(_class_values(X, y, label, 0)) < 0.25)
        for label in ("gaussian", "bimodal")
    }
    assert near_zero["bimodal"] < 0.5 * near_zero["gaussian"]


def test_shape_sequences_mean_pooling_is_uninformative():
    """Per-sequence means overlap across classes: no class is set apart."""
    X, y = make_shape_sequences(
        n_sequences_per_class=100, n_classes=4, length=(60, 100), random_state=0
    )
    means = np.array([x.mean(axis=1) for x in X])
    class_means = np.array([means[y == c].mean(axis=0) for c in np.unique(y)])
    spread = means.std(axis=0)
    assert np.all(np.abs(class_means) < 0.5 * spread)


def test_shape_sequences_autocorrelation():
    X, _ = make_shape_sequences(
        n_sequences_per_class=50,
        n_classes=1,
        n_channels=1,
        length=200,
        autocorrelation=0.8,
        random_state=0,
    )
    lag_one = np.mean([np.corrcoef(x[0, :-1], x[0, 1:])[0, 1] for x in X])
    assert 0.7 < lag_one < 0.9
    X, _ = make_shape_sequences(
        n_sequences_per_class=50,
        n_classes=1,
        n_channels=1,
        length=200,
        autocorrelation=0.0,
        random_state=0,
    )
    lag_one = np.mean([np.corrcoef(x[0, :-1], x[0, 1:])[0, 1] for x in X])
    assert abs(lag_one) < 0.05


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_sequences_per_class": 0}, "n_sequences_per_class"),
        ({"n_sequences_per_class": 2.5}, "n_sequences_per_class"),
        ({"n_classes": 0}, "n_classes"),
        ({"n_classes": 6}, "n_classes"),
        ({"n_channels": 0}, "n_channels"),
        ({"length": 0}, "length"),
        ({"length": (10, 5)}, "length"),
        ({"length": (0, 5)}, "length"),
        ({"length": (5, 6, 7)}, "length"),
        ({"length": (5.0, 6)}, "length"),
        ({"length": "long"}, "length"),
        ({"autocorrelation": 1.0}, "autocorrelation"),
        ({"autocorrelation": -0.1}, "autocorrelation"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_shape_sequences_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_shape_sequences(**kwargs)


@pytest.mark.parametrize("name", ["n_sequences_per_class", "n_classes", "n_channels"])
def test_shape_sequences_refuse_booleans_as_counts(name):
    with pytest.raises(TypeError, match=f"{name} must be an int, got True"):
        make_shape_sequences(**{name: True})


# ---------------------------------------------------------------------------
# load_japanese_vowels
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "split, n_sequences, min_length, max_length",
    [("train", 270, 7, 26), ("test", 370, 7, 29), ("all", 640, 7, 29)],
)
def test_japanese_vowels_shapes(split, n_sequences, min_length, max_length):
    X, y = load_japanese_vowels(split=split)
    assert isinstance(X, list)
    assert len(X) == len(y) == n_sequences
    assert all(x.dtype == np.float32 and x.ndim == 2 for x in X)
    assert {x.shape[0] for x in X} == {12}
    lengths = [x.shape[1] for x in X]
    assert (min(lengths), max(lengths)) == (min_length, max_length)
    assert all(np.isfinite(x).all() for x in X)
    assert y.dtype.kind == "U"
    assert sorted(set(y)) == [str(k) for k in range(1, 10)]


def test_japanese_vowels_class_counts():
    _, y_train = load_japanese_vowels("train")
    _, y_test = load_japanese_vowels("test")
    _, counts = np.unique(y_train, return_counts=True)
    assert counts.tolist() == [30] * 9
    _, counts = np.unique(y_test, return_counts=True)
    assert counts.tolist() == [31, 35, 88, 44, 29, 24, 40, 50, 29]


def test_japanese_vowels_all_is_train_then_test():
    X_train, y_train = load_japanese_vowels("train")
    X_test, y_test = load_japanese_vowels("test")
    X_all, y_all = load_japanese_vowels("all")
    np.testing.assert_array_equal(y_all, np.concatenate([y_train, y_test]))
    assert all(
        np.array_equal(a, b) for a, b in zip(X_all, X_train + X_test, strict=True)
    )


def test_japanese_vowels_returns_independent_copies():
    X, y = load_japanese_vowels("train")
    X[0][:] = 0.0
    y[0] = "9"
    X_again, y_again = load_japanese_vowels("train")
    assert X_again[0].any()
    assert y_again[0] == "1"


def test_japanese_vowels_matches_aeon():
    aeon_datasets = pytest.importorskip("aeon.datasets")
    for split in ("train", "test"):
        X, y = load_japanese_vowels(split)
        X_aeon, y_aeon = aeon_datasets.load_classification(
            "JapaneseVowels", split=split
        )
        np.testing.assert_array_equal(y, np.asarray(y_aeon).astype(str))
        assert len(X) == len(X_aeon)
        for x, x_aeon in zip(X, X_aeon, strict=True):
            np.testing.assert_array_equal(x, np.asarray(x_aeon, dtype=np.float32))


@pytest.mark.parametrize("split", ["valid", "TRAIN", None, 1])
def test_japanese_vowels_bad_split(split):
    with pytest.raises(ValueError, match="split"):
        load_japanese_vowels(split=split)


def test_japanese_vowels_data_file_rebuilds_identically(tmp_path):
    pytest.importorskip("aeon.datasets")
    from sklearn_wdist.datasets import _japanese_vowels

    rebuilt = _japanese_vowels._build_data_file(tmp_path / "rebuilt.npz")
    with (
        np.load(rebuilt, allow_pickle=False) as new,
        np.load(_japanese_vowels._data_file(), allow_pickle=False) as shipped,
    ):
        assert sorted(new.files) == sorted(shipped.files)
        for key in shipped.files:
            np.testing.assert_array_equal(new[key], shipped[key])
            assert new[key].dtype == shipped[key].dtype
