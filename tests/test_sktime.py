"""The sktime adapter: sktime's estimator checks, k-NN pipelines, parameters."""

from __future__ import annotations

import importlib
import inspect
import sys

import numpy as np
import pytest

pytest.importorskip(
    "sktime", reason="the sktime adapter needs sktime (pip install sktime)"
)

import pandas as pd
import torch
from scipy.spatial.distance import cdist
from sklearn.neighbors import KNeighborsClassifier
from sktime.classification.compose import SklearnClassifierPipeline
from sktime.classification.distance_based import KNeighborsTimeSeriesClassifier
from sktime.datatypes import convert_to
from sktime.exceptions import NotFittedError
from sktime.utils.estimator_checks import check_estimator

from sklearn_wdist import WassersteinSequenceEmbedder
from sklearn_wdist.datasets import load_japanese_vowels
from sklearn_wdist.sktime import WassersteinEmbeddingTransformer

TINY = WassersteinEmbeddingTransformer.get_test_params()[0]


def _df_list(X):
    """Our (n_channels, n_timepoints_i) arrays as sktime's df-list mtype."""
    return [pd.DataFrame(x.T) for x in X]


def _unequal_panel(make, **kwargs):
    """The toy collection of ``make`` (the ``unequal_sequences`` fixture) as df-list."""
    X, y = make(**kwargs)
    return _df_list(X), y


def test_sktime_check_estimator():
    results = check_estimator(
        WassersteinEmbeddingTransformer, raise_exceptions=True, verbose=False
    )
    assert results
    assert set(results.values()) == {"PASSED"}, results


def test_parameters_mirror_the_embedder():
    adapter = inspect.signature(WassersteinEmbeddingTransformer).parameters
    embedder = inspect.signature(WassersteinSequenceEmbedder).parameters
    # Both frameworks reset an estimator before each fit: no warm start.
    assert set(adapter) == (set(embedder) - {"warm_start"}) | {"use_labels"}
    for name, parameter in embedder.items():
        if name == "warm_start":
            continue
        if name == "optimizer":  # sktime admits no class as a default
            assert adapter[name].default is None
            continue
        assert adapter[name].default == parameter.default, name
    built = WassersteinEmbeddingTransformer(n_features=3)._build_embedder()
    assert built.get_params() == {
        **WassersteinSequenceEmbedder().get_params(),
        "n_features": 3,
    }
    sgd = WassersteinEmbeddingTransformer(optimizer=torch.optim.SGD)
    assert sgd._build_embedder().optimizer is torch.optim.SGD


def test_tags_declare_a_collection_to_table_transformer():
    tags = WassersteinEmbeddingTransformer.get_class_tags()
    assert tags["scitype:transform-input"] == "Series"
    assert tags["scitype:transform-output"] == "Primitives"
    assert tags["scitype:instancewise"] is False
    assert tags["fit_is_empty"] is False
    assert tags["requires_y"] is False
    assert tags["capability:unequal_length"] is True
    assert tags["capability:multivariate"] is True


@pytest.mark.parametrize(("p", "scipy_metric"), [(2, "euclidean"), (1, "cityblock")])
def test_transform_is_one_row_per_series_and_isometric(
    p, scipy_metric, unequal_sequences
):
    X, y = _unequal_panel(unequal_sequences)
    transformer = WassersteinEmbeddingTransformer(**{**TINY, "p": p}).fit(X, y)
    np.testing.assert_array_equal(transformer.embedder_.classes_, ["a", "b"])
    assert transformer.metric_ == {2: "euclidean", 1: "manhattan"}[p]
    embeddings = transformer.transform(X)
    assert isinstance(embeddings, pd.DataFrame)
    assert embeddings.shape == (len(X), transformer.n_features_out_)
    assert list(embeddings.columns) == list(
        transformer.embedder_.get_feature_names_out()
    )
    np.testing.assert_array_equal(
        embeddings.to_numpy(),
        transformer.embedder_.transform([frame.to_numpy().T for frame in X]),
    )
    # Another Panel mtype of the same series gives the same rows.
    multiindex = convert_to(X, to_type="pd-multiindex")
    np.testing.assert_array_equal(
        transformer.transform(multiindex).to_numpy(), embeddings.to_numpy()
    )
    expected = cdist(embeddings.to_numpy()[:4], embeddings, metric=scipy_metric)
    distances = transformer.pairwise_distances(multiindex, X)[:4]
    np.testing.assert_allclose(distances, expected, rtol=1e-5, atol=1e-6)


def test_pd_multiindex_rows_keep_their_instance_labels(unequal_sequences):
    X, y = _unequal_panel(unequal_sequences)
    transformer = WassersteinEmbeddingTransformer(**TINY).fit(X, y)
    expected = transformer.transform(X)
    assert list(expected.index) == list(range(len(X)))  # df-list: numbered
    names = [f"subject-{k}" for k in range(len(X))][::-1]  # not sorted
    frames = [
        frame.set_axis(pd.MultiIndex.from_product([[name], frame.index]))
        for name, frame in zip(names, X, strict=True)
    ]
    panel = pd.concat(frames)
    panel.index.names = ["recording", "time"]
    embeddings = transformer.transform(panel)
    assert list(embeddings.index) == names
    assert embeddings.index.name == "recording"
    np.testing.assert_array_equal(embeddings.to_numpy(), expected.to_numpy())
    # Fewer instances in another order: each label still names its own series.
    subset = pd.concat([frames[3], frames[0], frames[5]])
    subset.index.names = ["recording", "time"]
    picked = transformer.transform(subset)
    assert list(picked.index) == [names[3], names[0], names[5]]
    np.testing.assert_array_equal(picked.to_numpy(), expected.to_numpy()[[3, 0, 5]])


def test_nested_cells_are_read_in_time_order_as_the_embedder_reads_them(
    unequal_sequences,
):
    # sktime converted nested_univ to df-list by position, so a cell stored
    # newest first (s[::-1], valid nested_univ) was read backwards.
    X, y = unequal_sequences(n_channels=2)
    nested = pd.DataFrame(
        {c: [pd.Series(x[k])[::-1] for x in X] for k, c in enumerate("uv")}
    )
    transformer = WassersteinEmbeddingTransformer(**TINY)
    embedder = transformer._build_embedder()
    expected = embedder.fit(X, y).transform(X)
    embeddings = transformer.fit(nested, y).transform(nested)
    np.testing.assert_array_equal(embeddings.to_numpy(), expected)
    np.testing.assert_allclose(
        transformer.pairwise_distances(nested), embedder.pairwise_distances(X)
    )


@pytest.mark.parametrize("layout", ["df-list", "pd-multiindex", "nested_univ"])
def test_channels_named_in_fit_must_keep_their_names_and_order(
    unequal_sequences, layout
):
    # sktime hands the embedder arrays, so the adapter checks the names.
    X, y = _unequal_panel(unequal_sequences)
    named = [frame.set_axis(["acc", "gyro"], axis=1) for frame in X]
    swapped = [frame[["gyro", "acc"]] for frame in named]
    renamed = [frame.set_axis(["acc", "temp"], axis=1) for frame in named]
    as_layout = (
        (lambda panel: panel)
        if layout == "df-list"
        else (lambda panel: convert_to(panel, to_type=layout))
    )
    transformer = WassersteinEmbeddingTransformer(**TINY).fit(as_layout(named), y)
    np.testing.assert_array_equal(transformer.channel_names_, ["acc", "gyro"])
    expected = transformer.transform(as_layout(named)).to_numpy()
    # Unnamed panels are read by position.
    np.testing.assert_array_equal(transformer.transform(X).to_numpy(), expected)
    for wrong in (swapped, renamed):
        with pytest.raises(ValueError, match=r"fitted on \['acc', 'gyro'\]"):
            transformer.transform(as_layout(wrong))
        with pytest.raises(ValueError, match=r"X2 has the channels"):
            transformer.pairwise_distances(as_layout(named), as_layout(wrong))


def test_every_series_of_a_df_list_must_have_the_fitted_channels(
    unequal_sequences,
):
    # Only the first frame's columns were checked: later frames with swapped
    # channels were embedded as if they were not.
    X, y = _unequal_panel(unequal_sequences)
    named = [frame.set_axis(["acc", "gyro"], axis=1) for frame in X]
    transformer = WassersteinEmbeddingTransformer(**TINY).fit(named, y)
    mixed = [named[0], *(frame[["gyro", "acc"]] for frame in named[1:])]
    with pytest.raises(ValueError, match="series 1 has"):
        transformer.transform(mixed)
    with pytest.raises(ValueError, match="series 1 has"):
        WassersteinEmbeddingTransformer(**TINY).fit(mixed, y)


def test_hierarchical_panels_give_one_row_per_leaf_series(unequal_sequences):
    # A pd_multiindex_hier frame after a panel fit reached the adapter as
    # sktime's VectorizedDF and was read as one series per group (2 rows for
    # 16 series); fitted on one, it trained one embedder per group.
    X, y = _unequal_panel(unequal_sequences)
    panel = convert_to(X, to_type="pd-multiindex")
    hierarchy = pd.concat({"g1": panel, "g2": 3 * panel}, names=["group"])
    n_series = len(X)
    transformer = WassersteinEmbeddingTransformer(**TINY).fit(panel, y)
    rows = transformer.transform(hierarchy)
    assert rows.shape[0] == 2 * n_series
    assert rows.index.names == ["group", *panel.index.names[:1]]
    assert rows.index[0] == ("g1", panel.index.get_level_values(0)[0])
    np.testing.assert_allclose(
        rows.to_numpy()[:n_series], transformer.transform(panel).to_numpy(), atol=1e-6
    )
    fitted = WassersteinEmbeddingTransformer(**TINY).fit(hierarchy, np.tile(y, 2))
    assert isinstance(fitted.embedder_, WassersteinSequenceEmbedder)  # one model
    assert fitted.transform(hierarchy).shape[0] == 2 * n_series


def test_a_transformer_pickled_before_the_channel_names_still_transforms(
    unequal_sequences,
):
    import pickle

    X, y = _unequal_panel(unequal_sequences)
    transformer = WassersteinEmbeddingTransformer(**TINY).fit(X, y)
    expected = transformer.transform(X)
    del transformer.channel_names_  # as fitted before the attribute existed
    restored = pickle.loads(pickle.dumps(transformer))
    np.testing.assert_array_equal(restored.transform(X), expected)
    assert restored.pairwise_distances(X).shape == (len(X), len(X))


def test_labels_are_used_only_when_given_and_allowed(unequal_sequences):
    X, y = _unequal_panel(unequal_sequences)
    label_free = WassersteinEmbeddingTransformer(**TINY, use_labels=False).fit(X, y)
    assert not hasattr(label_free.embedder_, "classes_")
    without_y = WassersteinEmbeddingTransformer(**TINY).fit(X)
    np.testing.assert_array_equal(
        label_free.transform(X).to_numpy(), without_y.transform(X).to_numpy()
    )
    continuous = np.random.default_rng(0).normal(size=len(X))
    with pytest.raises(ValueError, match="fewer than 2 sequences"):
        WassersteinEmbeddingTransformer(**TINY).fit(X, continuous)
    WassersteinEmbeddingTransformer(**TINY, use_labels=False).fit(X, continuous)


def test_single_series_is_fitted_on_its_two_halves():
    series = pd.DataFrame(np.random.default_rng(0).normal(size=(11, 2)))
    transformer = WassersteinEmbeddingTransformer(**TINY).fit(series)
    assert transformer.transform(series).shape == (1, transformer.n_features_out_)
    with pytest.raises(ValueError, match="single series of one time point"):
        WassersteinEmbeddingTransformer(**TINY).fit(series.iloc[:1])


def test_not_fitted(unequal_sequences):
    X, _ = _unequal_panel(unequal_sequences)
    transformer = WassersteinEmbeddingTransformer(**TINY)
    for method in (transformer.transform, transformer.pairwise_distances):
        with pytest.raises(NotFittedError):
            method(X)


def test_japanese_vowels_knn_routes():
    """Both fast routes: a classifier pipeline and a whole-matrix callable."""
    X_train, y_train = load_japanese_vowels(split="train")
    X_test, y_test = load_japanese_vowels(split="test")
    X_train, X_test = _df_list(X_train), _df_list(X_test[::4])
    y_test = y_test[::4]
    params = dict(n_features=4, hidden_channels=16, max_epochs=2, random_state=0)
    pipeline = WassersteinEmbeddingTransformer(**params) * KNeighborsClassifier(
        n_neighbors=1, metric="manhattan"
    )
    assert isinstance(pipeline, SklearnClassifierPipeline)
    assert pipeline.get_tag("capability:unequal_length")
    predictions = pipeline.fit(X_train, y_train).predict(X_test)
    assert np.mean(predictions == y_test) > 0.8  # 9 speakers: chance is 0.11
    # sktime's k-NN with the fitted transformer's whole-matrix distance.
    fitted = WassersteinEmbeddingTransformer(**params).fit(X_train, y_train)
    calls = []

    def distance(X, X2=None):
        calls.append(X2 is not None)
        return fitted.pairwise_distances(X, X2)

    knn = KNeighborsTimeSeriesClassifier(
        n_neighbors=1, distance=distance, distance_mtype="pd-multiindex"
    )
    np.testing.assert_array_equal(
        knn.fit(X_train, y_train).predict(X_test), predictions
    )
    assert calls == [True]  # one matrix for all test series, not one per pair


def test_import_without_sktime_names_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sktime", None)  # import sktime now fails
    monkeypatch.delitem(sys.modules, "sklearn_wdist.sktime")
    with pytest.raises(ImportError, match="pip install sktime"):
        importlib.import_module("sklearn_wdist.sktime")
