"""The aeon adapter: aeon's estimator checks, k-NN pipelines, parameters."""

from __future__ import annotations

import importlib
import inspect
import sys

import numpy as np
import pytest

pytest.importorskip("aeon", reason="the aeon adapter needs aeon (pip install aeon)")

import joblib
import torch
from aeon.classification.compose import ClassifierPipeline
from aeon.regression.compose import RegressorPipeline
from aeon.testing.estimator_checking import check_estimator
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline

from sklearn_wdist import WassersteinSequenceEmbedder
from sklearn_wdist.aeon import WassersteinEmbeddingTransformer
from sklearn_wdist.datasets import load_japanese_vowels

TINY = WassersteinEmbeddingTransformer._get_test_params()[0]
# aeon hashes every attribute with joblib before and after transform. The
# fitted embedder's skorch net keeps the torch.Generator that seeded training
# (iterator_train__generator); pickling a generator pickles a fresh state
# tensor, whose legacy storage key is a memory address, so two hashes of the
# same untouched embedder differ. The check then reports 'embedder_' changed
# although transform changed nothing; test_transform_leaves_fitted_state_unchanged
# checks the same contract without the unstable hash.
STATE_CHECK = "check_non_state_changing_method"


def _fingerprint(value, depth=0):
    """Hash ``value``'s state; torch generators by their state, not their pickle."""
    if isinstance(value, torch.Generator):
        return ("torch.Generator", value.get_state().numpy().tobytes())
    if isinstance(value, BaseEstimator) and depth < 3:
        return {
            name: _fingerprint(attribute, depth + 1)
            for name, attribute in vars(value).items()
        }
    try:
        return joblib.hash(value)
    except Exception:  # unhashable, as for aeon's check: compare by identity
        return ("identity", id(value))


def test_aeon_check_estimator():
    results = check_estimator(WassersteinEmbeddingTransformer, raise_exceptions=True)
    assert results
    assert set(results.values()) == {"PASSED"}, results


def test_aeon_state_check_is_stable():
    # aeon compares joblib hashes of the fitted state before and after
    # transform; run it a few times, as a hash that varied between calls made
    # it fail intermittently.
    for _ in range(3):
        results = check_estimator(
            WassersteinEmbeddingTransformer, checks_to_run=STATE_CHECK
        )
        assert set(results.values()) == {"PASSED"}, results


@pytest.mark.parametrize("params", WassersteinEmbeddingTransformer._get_test_params())
def test_transform_leaves_fitted_state_unchanged(params, unequal_sequences):
    X, y = unequal_sequences()
    X_before = [x.copy() for x in X]
    transformer = WassersteinEmbeddingTransformer(**params).fit(X, y)
    before = _fingerprint(transformer)
    first = transformer.transform(X)
    transformer.get_fitted_params()
    transformer.pairwise_distances(X[:3], X)
    assert _fingerprint(transformer) == before
    np.testing.assert_array_equal(transformer.transform(X), first)
    for x, x_before in zip(X, X_before, strict=True):
        np.testing.assert_array_equal(x, x_before)


def test_parameters_mirror_the_embedder():
    adapter = inspect.signature(WassersteinEmbeddingTransformer).parameters
    embedder = inspect.signature(WassersteinSequenceEmbedder).parameters
    # Both frameworks reset an estimator before each fit: no warm start.
    assert set(adapter) == (set(embedder) - {"warm_start"}) | {"use_labels"}
    for name, parameter in embedder.items():
        if name == "warm_start":
            continue
        assert adapter[name].default == parameter.default, name
    transformer = WassersteinEmbeddingTransformer(n_features=3, margin="soft", p=1)
    built = transformer._build_embedder()
    assert built.get_params() == {
        **WassersteinSequenceEmbedder().get_params(),
        "n_features": 3,
        "margin": "soft",
        "p": 1,
    }


def test_labels_are_used_only_when_given_and_allowed(unequal_sequences):
    X, y = unequal_sequences()
    supervised = WassersteinEmbeddingTransformer(**TINY).fit(X, y)
    np.testing.assert_array_equal(supervised.embedder_.classes_, ["a", "b"])
    label_free = WassersteinEmbeddingTransformer(**TINY, use_labels=False).fit(X, y)
    assert not hasattr(label_free.embedder_, "classes_")
    without_y = WassersteinEmbeddingTransformer(**TINY).fit(X)
    assert not hasattr(without_y.embedder_, "classes_")
    np.testing.assert_array_equal(label_free.transform(X), without_y.transform(X))
    # A regression target makes every value a class of one: the refusal
    # points to use_labels=False.
    target = np.linspace(0.0, 1.0, len(y))
    with pytest.raises(ValueError, match="pass use_labels=False"):
        WassersteinEmbeddingTransformer(**TINY).fit(X, target)
    WassersteinEmbeddingTransformer(**TINY, use_labels=False).fit(X, target)
    # Truthiness would decide a string or a number silently.
    for use_labels in ("False", 0, None):
        adapter = WassersteinEmbeddingTransformer(**TINY, use_labels=use_labels)
        with pytest.raises(TypeError, match="use_labels must be a bool"):
            adapter.fit(X, y)


@pytest.mark.parametrize(("p", "scipy_metric"), [(2, "euclidean"), (1, "cityblock")])
def test_transform_is_isometric_to_pairwise_distances(
    p, scipy_metric, unequal_sequences
):
    X, y = unequal_sequences()
    transformer = WassersteinEmbeddingTransformer(**{**TINY, "p": p}).fit(X, y)
    assert transformer.metric_ == {2: "euclidean", 1: "manhattan"}[p]
    embeddings = transformer.transform(X)
    assert embeddings.shape == (len(X), transformer.n_features_out_)
    assert embeddings.dtype == np.float32
    np.testing.assert_array_equal(embeddings, transformer.embedder_.transform(X))
    expected = cdist(embeddings[:4], embeddings, metric=scipy_metric)
    distances = transformer.pairwise_distances(X[:4], X)
    np.testing.assert_allclose(distances, expected, rtol=1e-5, atol=1e-6)
    square = transformer.pairwise_distances(X)
    np.testing.assert_array_equal(np.diag(square), 0.0)
    np.testing.assert_array_equal(square, square.T)


def test_equal_length_numpy3d_input():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 3, 16))
    y = np.repeat([0, 1], 6)
    transformer = WassersteinEmbeddingTransformer(**TINY).fit(X, y)
    np.testing.assert_array_equal(
        transformer.transform(X), transformer.transform(list(X))
    )


def test_a_pd_multiindex_frame_is_read_as_the_embedder_reads_it(
    unequal_sequences, as_pd_multiindex
):
    # aeon's converter sorted the instances: y paired with other series, rows
    # came back sorted, and a frame cut with .loc raised a bare KeyError.

    X, y = unequal_sequences(n_channels=2)
    names = [f"s{i}" for i in np.random.default_rng(0).permutation(len(X))]
    frame = as_pd_multiindex(X, names, columns=["u", "v"])
    transformer = WassersteinEmbeddingTransformer(**TINY)
    embedder = transformer._build_embedder()
    expected = embedder.fit(X, y).transform(X)
    np.testing.assert_array_equal(transformer.fit_transform(frame, y), expected)
    np.testing.assert_array_equal(transformer.transform(frame), expected)
    part = frame.loc[[names[3], names[1]]]
    np.testing.assert_array_equal(transformer.transform(part), expected[[3, 1]])
    np.testing.assert_allclose(
        transformer.pairwise_distances(part, frame),
        transformer.pairwise_distances([X[3], X[1]], X),
    )


def test_pairwise_distances_checks_fit_and_channels(unequal_sequences):
    X, y = unequal_sequences(n_channels=2)
    transformer = WassersteinEmbeddingTransformer(**TINY)
    with pytest.raises(NotFittedError):
        transformer.pairwise_distances(X)
    transformer.fit(X, y)
    wrong_channels, _ = unequal_sequences(n_channels=3)
    with pytest.raises(ValueError, match="number of channels"):
        transformer.pairwise_distances(wrong_channels)
    with pytest.raises(ValueError, match="number of channels"):
        transformer.transform(wrong_channels)


def test_japanese_vowels_knn_pipeline():
    """The fast k-NN route: embed once, scikit-learn's k-NN on the rows."""
    X_train, y_train = load_japanese_vowels(split="train")
    X_test, y_test = load_japanese_vowels(split="test")
    X_test, y_test = X_test[::4], y_test[::4]
    params = dict(n_features=4, hidden_channels=16, max_epochs=2, random_state=0)
    aeon_pipeline = ClassifierPipeline(
        WassersteinEmbeddingTransformer(**params),
        KNeighborsClassifier(n_neighbors=1, metric="manhattan"),
    )
    aeon_pipeline.fit(X_train, y_train)
    assert aeon_pipeline.get_tag("capability:unequal_length")
    predictions = aeon_pipeline.predict(X_test)
    assert np.mean(predictions == y_test) > 0.8  # 9 speakers: chance is 0.11
    # The same steps in a scikit-learn Pipeline give the same predictions.
    sklearn_pipeline = make_pipeline(
        WassersteinEmbeddingTransformer(**params),
        KNeighborsClassifier(n_neighbors=1, metric="manhattan"),
    )
    sklearn_pipeline.fit(X_train, y_train)
    np.testing.assert_array_equal(sklearn_pipeline.predict(X_test), predictions)


def test_regression_pipeline_trains_without_labels(unequal_sequences):
    X, _ = unequal_sequences()
    target = np.random.default_rng(2).normal(size=len(X))
    pipeline = RegressorPipeline(
        WassersteinEmbeddingTransformer(**TINY, use_labels=False),
        KNeighborsRegressor(n_neighbors=2),
    )
    assert pipeline.fit(X, target).predict(X[:3]).shape == (3,)
    with pytest.raises(ValueError, match="fewer than 2 sequences"):
        RegressorPipeline(
            WassersteinEmbeddingTransformer(**TINY),
            KNeighborsRegressor(n_neighbors=2),
        ).fit(X, target)


def test_missing_values_are_refused_before_training(unequal_sequences):
    X, y = unequal_sequences()
    X[3][0, 5] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        WassersteinEmbeddingTransformer(**TINY).fit(X, y)


def test_import_without_aeon_names_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "aeon", None)  # import aeon now fails
    monkeypatch.delitem(sys.modules, "sklearn_wdist.aeon")
    with pytest.raises(ImportError, match="pip install aeon"):
        importlib.import_module("sklearn_wdist.aeon")
