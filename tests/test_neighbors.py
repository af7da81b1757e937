"""WassersteinKNeighborsTransformer: scikit-learn's k-NN graph on embeddings."""

import pickle
import sys
import warnings

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn import config_context
from sklearn.cluster import DBSCAN, SpectralClustering
from sklearn.datasets import make_blobs, make_s_curve
from sklearn.manifold import TSNE, Isomap
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import KNeighborsClassifier, KNeighborsTransformer
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

import sklearn_wdist._neighbors as neighbors_module
from sklearn_wdist import WassersteinKNeighborsTransformer, WassersteinSequenceEmbedder
from sklearn_wdist._distance_transformer import WassersteinDistanceTransformer
from sklearn_wdist._validation import record_embedding_order

# These tests hand the distance steps plain arrays, whose trained order
# p="auto" cannot know: its fallback warning is expected here (it has its own
# test, test_neighbors.py::test_auto_order_warns_when_it_falls_back).
pytestmark = pytest.mark.filterwarnings("ignore:p='auto' cannot tell:UserWarning")


METRICS = {1: "manhattan", 2: "euclidean"}


def _sklearn(p, **params):
    return KNeighborsTransformer(metric=METRICS[p], algorithm="brute", **params)


def _reference(queries, fitted, k, p):
    """Exact k nearest rows by distance, then by index, from scipy's cdist."""
    distances = cdist(queries, fitted, METRICS[p].replace("manhattan", "cityblock"))
    index = np.broadcast_to(np.arange(fitted.shape[0]), distances.shape)
    order = np.lexsort((index, distances), axis=-1)[:, :k]
    return np.take_along_axis(distances, order, axis=1), order


def _assert_same_graph(ours, theirs):
    """Same CSR layout and values; indices equal where distances are not tied."""
    assert type(ours) is type(theirs)
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype == np.float64
    np.testing.assert_array_equal(ours.indptr, theirs.indptr)
    # scikit-learn's GEMM-based self-distance is ~1e-8, ours exactly 0.
    np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-7, atol=1e-6)
    width = np.diff(ours.indptr)[0]
    distances = ours.data.reshape(-1, width)
    tied = np.zeros(distances.shape, dtype=bool)
    if (ours.data != 1).any():  # not a connectivity graph
        close = np.isclose(distances[:, 1:], distances[:, :-1], rtol=1e-9, atol=0)
        tied[:, 1:] |= close
        tied[:, :-1] |= close
    assert tied.mean() < 0.01
    np.testing.assert_array_equal(
        ours.indices.reshape(-1, width)[~tied],
        theirs.indices.reshape(-1, width)[~tied],
    )


@pytest.fixture(scope="module")
def random_embeddings():
    rng = np.random.default_rng(0)
    return rng.normal(size=(1500, 6)), rng.normal(size=(70, 6))


# --------------------------------------------------------------------------- #
# The same graph as scikit-learn's exact KNeighborsTransformer
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("mode", ["distance", "connectivity"])
def test_graph_matches_sklearn(random_embeddings, p, mode):
    X, Y = random_embeddings
    ours = WassersteinKNeighborsTransformer(n_neighbors=6, p=p, mode=mode)
    theirs = _sklearn(p, n_neighbors=6, mode=mode)
    _assert_same_graph(ours.fit_transform(X), theirs.fit_transform(X))
    _assert_same_graph(ours.transform(Y), theirs.transform(Y))
    for graph_mode in ("distance", "connectivity"):
        _assert_same_graph(
            ours.kneighbors_graph(mode=graph_mode),
            theirs.kneighbors_graph(mode=graph_mode),
        )
        _assert_same_graph(
            ours.kneighbors_graph(Y, 3, mode=graph_mode),
            theirs.kneighbors_graph(Y, 3, mode=graph_mode),
        )


@pytest.mark.parametrize("p", [1, 2])
def test_kneighbors_matches_sklearn(random_embeddings, p):
    X, Y = random_embeddings
    ours = WassersteinKNeighborsTransformer(n_neighbors=4, p=p).fit(X)
    theirs = _sklearn(p, n_neighbors=4).fit(X)
    for query in (None, Y):
        distances, indices = ours.kneighbors(query)
        expected_distances, expected_indices = theirs.kneighbors(query)
        np.testing.assert_allclose(distances, expected_distances, rtol=1e-7)
        np.testing.assert_array_equal(indices, expected_indices)
        np.testing.assert_array_equal(
            ours.kneighbors(query, 2, return_distance=False), expected_indices[:, :2]
        )


def test_self_inclusion_convention(random_embeddings):
    X, _ = random_embeddings
    X = X[:40]
    transformer = WassersteinKNeighborsTransformer(n_neighbors=3)
    graph = transformer.fit_transform(X)
    # "distance" mode: n_neighbors + 1 per row, the sample first at an explicit 0.
    assert graph.nnz == 40 * 4
    np.testing.assert_array_equal(graph.indices.reshape(40, 4)[:, 0], np.arange(40))
    assert (graph.data.reshape(40, 4)[:, 0] == 0).all()
    connectivity = transformer.set_params(mode="connectivity").transform(X)
    assert connectivity.nnz == 40 * 3
    assert (connectivity.data == 1).all()
    # Without X the sample is not its own neighbour.
    indices = transformer.kneighbors(return_distance=False)
    assert indices.shape == (40, 3)
    assert (indices != np.arange(40)[:, None]).all()
    assert transformer.get_feature_names_out().shape == (40,)


def test_duplicates_hiding_the_sample_keep_ties_in_index_order():
    # Five copies of one point and n_neighbors=2: for the later copies, the
    # sample is not among the first 3 candidates; its neighbours are the first
    # two other copies, ties going to the smaller index (scikit-learn drops
    # the first candidate instead and gives [1, 2]). Distances are the same.
    X = np.vstack([np.zeros((5, 2)), np.arange(10.0).reshape(5, 2) + 1])
    ours = WassersteinKNeighborsTransformer(n_neighbors=2, p=2).fit(X)
    distances, indices = ours.kneighbors()
    expected, _ = _sklearn(2, n_neighbors=2).fit(X).kneighbors()
    np.testing.assert_allclose(distances, expected)
    np.testing.assert_array_equal(indices[:5], [[1, 2], [0, 2], [0, 1], [0, 1], [0, 1]])
    # The brute-force reference: every other sample by (distance, index).
    for i in range(len(X)):
        gaps = np.linalg.norm(X - X[i], axis=1)
        others = [j for j in np.lexsort((np.arange(len(X)), gaps)) if j != i]
        np.testing.assert_array_equal(indices[i], others[:2])


@pytest.mark.parametrize("p", [1, 2])
def test_ties_broken_by_index(p):
    rng = np.random.default_rng(1)
    X = rng.integers(0, 3, size=(2000, 2)).astype(float)
    Y = rng.integers(0, 3, size=(50, 2)).astype(float)
    distances, indices = (
        WassersteinKNeighborsTransformer(n_neighbors=7, p=p).fit(X).kneighbors(Y)
    )
    expected_distances, expected_indices = _reference(Y, X, 7, p)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances)


@pytest.mark.parametrize("p", [1, 2])
def test_ties_whose_mean_rounds_are_still_ties(p):
    # A mean of these rows (e.g. 11/15) is not a binary fraction: rows centred
    # on it made the equal distances to rows 5 and 10 differ in the last
    # place, and the tie went to 10 (a pipeline then predicted another class
    # than KNeighborsClassifier on the same distance).
    X = np.array(
        [[1, 1, 1], [0, 2, 1], [0, 2, 2], [0, 1, 2], [0, 1, 0], [2, 1, 1], [1, 0, 2],
         [0, 0, 0], [0, 0, 1], [1, 0, 1], [1, 2, 1], [1, 0, 1], [1, 0, 0], [2, 0, 0],
         [1, 2, 1]],
        dtype=float,
    )  # fmt: skip
    queries = np.array([[2.0, 2.0, 1.0], [0.5, 1.5, 1.0], [1.0, 1.0, 0.5]])
    transformer = WassersteinKNeighborsTransformer(n_neighbors=4, p=p).fit(X)
    distances, indices = transformer.kneighbors(queries)
    expected_distances, expected_indices = _reference(queries, X, 4, p)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_array_equal(distances, expected_distances)
    assert indices[0, :2].tolist() == [5, 10]
    y = np.arange(15) % 2
    pipeline = make_pipeline(
        WassersteinKNeighborsTransformer(n_neighbors=1, p=p),
        KNeighborsClassifier(n_neighbors=1, metric="precomputed"),
    ).fit(X, y)
    direct = KNeighborsClassifier(
        n_neighbors=1, metric=["manhattan", "euclidean"][p - 1], algorithm="brute"
    ).fit(X, y)
    np.testing.assert_array_equal(pipeline.predict(queries), direct.predict(queries))


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("shift", [0.0, 1e8], ids=["centred", "far from the origin"])
def test_exact_on_hard_data(p, shift):
    # Two tight clusters far apart: the p=2 ranking by ||f||^2 - 2 q.f loses
    # many digits and every near-tie is rechecked from exact differences.
    rng = np.random.default_rng(2)
    X = shift + np.vstack(
        [
            1e4 + 1e-3 * rng.normal(size=(600, 5)),
            -1e4 + 1e-3 * rng.normal(size=(600, 5)),
        ]
    )
    Y = X[::7] + 1e-4 * rng.normal(size=X[::7].shape)
    distances, indices = (
        WassersteinKNeighborsTransformer(n_neighbors=5, p=p).fit(X).kneighbors(Y)
    )
    expected_distances, expected_indices = _reference(Y, X, 5, p)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-6)


@pytest.mark.parametrize("p", [1, 2])
def test_values_near_the_largest_float_are_searched(p):
    # The rows are scaled by a power of two above their largest magnitude;
    # 2**1024, the next one up from these values, is no float.
    X = np.array([[8.99e307, 0.0], [0.0, 1.0], [4e307, 2.0], [-1e307, 3.0]])
    distances, indices = (
        WassersteinKNeighborsTransformer(n_neighbors=2, p=p).fit(X).kneighbors()
    )
    scale = 2.0**1000  # cdist itself overflows on such values
    expected_distances, expected_indices = _reference(X / scale, X / scale, 3, p)
    np.testing.assert_array_equal(indices, expected_indices[:, 1:])
    np.testing.assert_allclose(distances, expected_distances[:, 1:] * scale, rtol=1e-12)


@pytest.mark.parametrize("p", [1, 2])
def test_working_memory_and_n_jobs_do_not_change_the_graph(random_embeddings, p):
    X, Y = random_embeddings
    transformer = WassersteinKNeighborsTransformer(n_neighbors=5, p=p).fit(X)
    expected = transformer.transform(Y)
    # 5 MiB: blocks of 512 fitted samples, so three blocks are merged.
    with config_context(working_memory=5):
        chunked = transformer.transform(Y)
    parallel = transformer.set_params(n_jobs=2).transform(np.vstack([Y] * 10))
    np.testing.assert_array_equal(chunked.indices, expected.indices)
    np.testing.assert_array_equal(chunked.data, expected.data)
    np.testing.assert_array_equal(parallel[:70].indices, expected.indices)
    with pytest.warns(UserWarning, match="working_memory"):
        with config_context(working_memory=0.5):
            transformer.transform(Y[:2])


def test_float32_embeddings_give_float64_graph(random_embeddings):
    X, Y = random_embeddings
    graph = WassersteinKNeighborsTransformer(p=2).fit(X.astype(np.float32))
    graph = graph.transform(Y.astype(np.float32))
    assert graph.dtype == np.float64
    expected_distances, expected_indices = _reference(
        Y.astype(np.float32).astype(np.float64),
        X.astype(np.float32).astype(np.float64),
        6,
        2,
    )
    np.testing.assert_array_equal(graph.indices.reshape(70, 6), expected_indices)
    np.testing.assert_allclose(graph.data.reshape(70, 6), expected_distances)


def test_fitted_embeddings_are_copied(random_embeddings):
    X, Y = random_embeddings
    X = X[:30].copy()
    transformer = WassersteinKNeighborsTransformer(n_neighbors=2).fit(X)
    expected = transformer.transform(Y)
    X[:] = 0
    graph = transformer.transform(Y)
    np.testing.assert_array_equal(graph.indices, expected.indices)
    np.testing.assert_array_equal(graph.data, expected.data)


# --------------------------------------------------------------------------- #
# Bad input
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"n_neighbors": True}, TypeError, "n_neighbors"),
        ({"n_neighbors": 2.5}, ValueError, "n_neighbors"),
        ({"n_neighbors": 0}, ValueError, "n_neighbors"),
        ({"mode": "weights"}, ValueError, "mode"),
        ({"algorithm": "kd_tree"}, ValueError, "algorithm"),
        ({"p": 3}, ValueError, "'p' parameter"),
        ({"p": True}, TypeError, "p must be 1, 2 or 'auto', got True"),
        ({"n_jobs": 0}, ValueError, "n_jobs"),
        ({"faiss_index": "pq"}, ValueError, "faiss_index"),
        ({"n_probe": 0}, ValueError, "n_probe"),
    ],
)
def test_bad_parameters(params, error, match):
    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(error, match=match):
        WassersteinKNeighborsTransformer(**params).fit(X)


def test_too_many_neighbours():
    X = np.random.default_rng(0).normal(size=(6, 3))
    transformer = WassersteinKNeighborsTransformer(n_neighbors=6).fit(X)
    # "distance" mode asks for n_neighbors + 1 = 7 > 6 fitted samples.
    with pytest.raises(ValueError, match=r"n_neighbors=6 needs at least 7 fitted"):
        transformer.transform(X)
    with pytest.raises(ValueError, match="n_neighbors < n_samples_fit"):
        transformer.kneighbors()
    with pytest.raises(ValueError, match="n_neighbors must be an int >= 1"):
        transformer.kneighbors(X, 0)
    with pytest.raises(TypeError, match="n_neighbors must be an int"):
        transformer.kneighbors(X, True)
    with pytest.raises(ValueError, match="Unsupported mode"):
        transformer.kneighbors_graph(X, 2, mode="weights")
    assert transformer.set_params(mode="connectivity").transform(X).nnz == 36


def test_bad_embeddings():
    X = np.random.default_rng(0).normal(size=(10, 3))
    transformer = WassersteinKNeighborsTransformer(n_neighbors=2)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        transformer.fit(bad)
    transformer.fit(X)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        transformer.transform(bad)
    with pytest.raises(ValueError, match="X has 4 features"):
        transformer.transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="2D array"):
        transformer.transform(np.zeros(3))


@pytest.mark.parametrize("trained", [1, 2])
def test_auto_order_follows_the_embeddings(trained):
    X = np.random.default_rng(0).normal(size=(10, 3))
    record_embedding_order(X, trained)  # as WassersteinSequenceEmbedder.transform
    other = 3 - trained
    # "auto" takes the trained order, from the array or from a view of its rows.
    for embeddings in (X, X[2:], X[::2]):
        transformer = WassersteinKNeighborsTransformer(n_neighbors=2).fit(embeddings)
        assert transformer.p_ == trained
        assert transformer.effective_metric_ == METRICS[trained]
        expected, _ = _reference(embeddings, embeddings, 2, trained)
        np.testing.assert_allclose(transformer.kneighbors(embeddings)[0], expected)
    # An explicit other order is refused, at fit and for queries.
    with pytest.raises(ValueError, match=rf"p={other}.*trained with p={trained}"):
        WassersteinKNeighborsTransformer(n_neighbors=2, p=other).fit(X[1:])
    # Arrays of unknown origin (a copy) fall back to the embedder's default, 1;
    # queries known to be of another order are then refused.
    transformer = WassersteinKNeighborsTransformer(n_neighbors=2).fit(X.copy())
    assert transformer.p_ == 1
    if trained == 2:
        with pytest.raises(ValueError, match="trained with p=2"):
            transformer.transform(X)
    else:
        transformer.transform(X)


def test_auto_order_warns_when_it_falls_back():
    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.warns(UserWarning, match=r"p='auto' cannot tell.*p=1"):
        transformer = WassersteinKNeighborsTransformer(n_neighbors=2).fit(X)
    assert transformer.p_ == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WassersteinKNeighborsTransformer(n_neighbors=2, p=2).fit(X)
        record_embedding_order(X, 2)
        assert WassersteinKNeighborsTransformer(n_neighbors=2).fit(X).p_ == 2


@pytest.mark.parametrize(
    "estimator",
    [WassersteinKNeighborsTransformer(n_neighbors=2), WassersteinDistanceTransformer()],
    ids=["k-NN graph", "distances"],
)
def test_bad_embeddings_get_their_error_without_an_order_warning(estimator):
    X = np.random.default_rng(0).normal(size=(10, 3))
    X[3, 1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="NaN"):
            estimator.fit(X)


def test_pickled_order_is_kept_and_checked():
    X = np.random.default_rng(0).normal(size=(20, 3))
    record_embedding_order(X, 2)
    transformer = WassersteinKNeighborsTransformer(n_neighbors=3).fit(X)
    loaded = pickle.loads(pickle.dumps(transformer))
    assert loaded.p_ == 2
    np.testing.assert_array_equal(
        loaded.transform(X).data, transformer.transform(X).data
    )
    queries = X[:4].copy()
    record_embedding_order(queries, 1)
    with pytest.raises(ValueError, match="trained with p=1"):
        loaded.transform(queries)
    # A transformer pickled when the fitted order was the private _p.
    state = transformer.__getstate__()
    state["_p"] = state.pop("p_")
    old = WassersteinKNeighborsTransformer.__new__(WassersteinKNeighborsTransformer)
    old.__setstate__(state)
    assert old.p_ == 2
    np.testing.assert_array_equal(old.transform(X).data, transformer.transform(X).data)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("p", [1, 2])
def test_a_transformer_pickled_with_centred_rows_loads(p, dtype):
    # Older versions kept the fitted rows minus their mean (in float32 under
    # NumPy 1 for float32 input). Loading keeps those rows and shifts the
    # queries alike: exact neighbours, each sample at distance 0 from itself
    # and from its duplicate, ties to the smaller index.
    rng = np.random.default_rng(0)
    X = 5.0 + rng.normal(size=(40, 3))
    X[20:30] = X[:10]  # duplicates: ties that any rounding would break
    transformer = WassersteinKNeighborsTransformer(n_neighbors=3, p=p).fit(X)
    state = transformer.__getstate__()
    centre = state["_fit_X"].mean(axis=0)
    state["_centre"] = centre.astype(dtype)
    state["_fit_X"] = (state["_fit_X"] - centre).astype(dtype)
    if p == 2:
        state["_fit_sq"] = np.einsum("ij,ij->i", state["_fit_X"], state["_fit_X"])
    del state["_query_shift"]
    old = WassersteinKNeighborsTransformer.__new__(WassersteinKNeighborsTransformer)
    old.__setstate__(state)
    queries = X[:12] if dtype is np.float64 else 5.0 + rng.normal(size=(12, 3))
    distances, indices = old.kneighbors(queries)
    expected_distances, expected_indices = _reference(queries, X, 3, p)
    np.testing.assert_array_equal(indices, expected_indices)
    if dtype is np.float64:
        np.testing.assert_array_equal(distances[:10, :2], 0.0)
    else:  # rows rounded to float32 long ago: near, not exact
        np.testing.assert_allclose(distances, expected_distances, rtol=1e-5)
    if dtype is np.float64:
        np.testing.assert_array_equal(old.kneighbors()[1], transformer.kneighbors()[1])


# --------------------------------------------------------------------------- #
# Feeding scikit-learn estimators, as its approximate nearest neighbours example
# --------------------------------------------------------------------------- #
CENTRES = np.array([[0, 0, 0, 0], [10, 10, 0, 0], [-10, 0, 10, 0]], dtype=float)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(150, centers=CENTRES, cluster_std=1.0, random_state=0)
    X_test, y_test = make_blobs(60, centers=CENTRES, cluster_std=1.5, random_state=1)
    return X, y, X_test, y_test


@pytest.mark.parametrize("p", [1, 2])
def test_kneighbors_classifier(blobs, p):
    X, y, X_test, y_test = blobs
    models = [
        make_pipeline(transformer, KNeighborsClassifier(5, metric="precomputed"))
        for transformer in (
            WassersteinKNeighborsTransformer(n_neighbors=5, p=p),
            _sklearn(p, n_neighbors=5),
        )
    ]
    ours, theirs = (model.fit(X, y) for model in models)
    np.testing.assert_array_equal(ours.predict(X_test), theirs.predict(X_test))
    assert ours.score(X_test, y_test) == theirs.score(X_test, y_test) > 0.9


@pytest.mark.parametrize(("p", "eps"), [(1, 8.0), (2, 5.0)])
def test_dbscan(blobs, p, eps):
    X, y, _, _ = blobs
    labels = [
        make_pipeline(transformer, DBSCAN(eps=eps, metric="precomputed"))
        .fit(X)[-1]
        .labels_
        for transformer in (
            WassersteinKNeighborsTransformer(n_neighbors=30, p=p),
            _sklearn(p, n_neighbors=30),
        )
    ]
    assert len(set(labels[0])) == 3
    assert adjusted_rand_score(y, labels[0]) == 1.0
    np.testing.assert_array_equal(labels[0], labels[1])


@pytest.mark.parametrize("p", [1, 2])
def test_tsne(blobs, p):
    X, _, _, _ = blobs
    outputs = []
    for transformer in (
        WassersteinKNeighborsTransformer(n_neighbors=16, p=p),
        _sklearn(p, n_neighbors=16),
    ):
        # TSNE needs 3 * perplexity + 1 neighbours per sample.
        tsne = TSNE(metric="precomputed", init="random", perplexity=5, random_state=0)
        # Its many short OpenMP regions crawl when torch's OpenMP runtime is
        # loaded too (tens of seconds instead of one on two busy cores).
        with threadpool_limits(1, user_api="openmp"):
            outputs.append(make_pipeline(transformer, tsne).fit_transform(X))
    assert outputs[0].shape == (150, 2)
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-6)


@pytest.mark.parametrize("p", [1, 2])
def test_isomap(p):
    X, _ = make_s_curve(150, random_state=0)
    outputs = [
        make_pipeline(
            transformer, Isomap(n_neighbors=10, metric="precomputed")
        ).fit_transform(X)
        for transformer in (
            WassersteinKNeighborsTransformer(n_neighbors=10, p=p),
            _sklearn(p, n_neighbors=10),
        )
    ]
    assert outputs[0].shape == (150, 2)
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-8)


@pytest.mark.parametrize("p", [1, 2])
def test_spectral_clustering(blobs, p):
    X, y, _, _ = blobs
    labels = []
    for transformer in (
        WassersteinKNeighborsTransformer(n_neighbors=10, p=p),
        _sklearn(p, n_neighbors=10),
    ):
        model = make_pipeline(
            transformer,
            SpectralClustering(
                n_clusters=3,
                affinity="precomputed_nearest_neighbors",
                random_state=0,
            ),
        )
        with warnings.catch_warnings():
            # Three well-separated blobs: the graph has three components.
            warnings.filterwarnings("ignore", "Graph is not fully connected")
            labels.append(model.fit(X)[-1].labels_)
    assert adjusted_rand_score(y, labels[0]) == 1.0
    np.testing.assert_array_equal(labels[0], labels[1])


@pytest.mark.parametrize("output", ["default", "pandas"])
@pytest.mark.parametrize("p", [1, 2])
def test_after_the_embedder(p, output):
    """``p="auto"`` takes the embedder's order, with either output container."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 10)
    X = rng.normal(size=(30, 2, 20)) + y[:, None, None]
    embedder = WassersteinSequenceEmbedder(
        n_features=4,
        hidden_channels=8,
        n_layers=1,
        n_quantiles=4,
        max_epochs=2,
        p=p,
        random_state=0,
    )
    model = make_pipeline(
        embedder,
        WassersteinKNeighborsTransformer(n_neighbors=3),
        KNeighborsClassifier(n_neighbors=3, metric="precomputed"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the order is found: no fallback warning
        embedder.set_output(transform=output)  # the graph step stays sparse
        model.fit(X, y)
        predictions = model.predict(X[::4])
    assert predictions.shape == (8,)
    assert set(predictions) <= {0, 1, 2}
    assert model[1].n_features_in_ == embedder.transform(X[:1]).shape[1]
    assert model[1].p_ == p
    assert model[1].effective_metric_ == embedder.metric_
    E = np.asarray(embedder.transform(X), dtype=np.float64)
    expected, _ = _reference(E[::4], E, 3, p)
    distances, _ = model[1].kneighbors(embedder.transform(X[::4]))
    # The two transform calls batch differently: float32 rounding apart.
    np.testing.assert_allclose(distances, expected, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- #
# FAISS (optional)
# --------------------------------------------------------------------------- #
def test_missing_faiss(monkeypatch):
    X = np.random.default_rng(0).normal(size=(20, 3))
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss raises
    with pytest.raises(ImportError, match=r"faiss-cpu.*sklearn-wdist\[faiss\]"):
        WassersteinKNeighborsTransformer(algorithm="faiss").fit(X)
    monkeypatch.setattr(neighbors_module, "AUTO_BRUTE_MAX_SAMPLES", 10)
    transformer = WassersteinKNeighborsTransformer().fit(X)
    assert transformer.algorithm_ == "brute"
    assert transformer.index_ is None


def test_auto_is_brute_below_the_threshold(monkeypatch):
    X = np.random.default_rng(0).normal(size=(20, 3))
    transformer = WassersteinKNeighborsTransformer().fit(X)
    assert transformer.algorithm_ == "brute"
    assert neighbors_module.AUTO_BRUTE_MAX_SAMPLES == 50_000
    pytest.importorskip("faiss", reason="the optional dependency faiss-cpu")
    monkeypatch.setattr(neighbors_module, "AUTO_BRUTE_MAX_SAMPLES", 20)
    # An approximate search chosen for the user says so.
    with pytest.warns(UserWarning, match="chose FAISS's approximate search"):
        assert WassersteinKNeighborsTransformer(p=1).fit(X).algorithm_ == "faiss"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WassersteinKNeighborsTransformer(algorithm="faiss", p=1).fit(X)


def test_p1_queries_far_beyond_the_fitted_scale_are_searched():
    # Only p=2 squares: a p=1 query of 1e150 against zeros was refused as an
    # overflow.
    transformer = WassersteinKNeighborsTransformer(n_neighbors=1, p=1)
    distances, indices = transformer.fit(np.zeros((3, 2))).kneighbors([[1e150, 0.0]])
    assert distances.tolist() == [[1e150]] and indices.tolist() == [[0]]


@pytest.mark.parametrize("name", ["n_probe", "ef_search"])
def test_faiss_knobs_are_checked_before_the_index_is_built(monkeypatch, name):
    pytest.importorskip("faiss", reason="the optional dependency faiss-cpu")

    def no_index(self):
        raise AssertionError("the index was built before the parameter check")

    monkeypatch.setattr(
        WassersteinKNeighborsTransformer, "_build_faiss_index", no_index
    )
    X = np.random.default_rng(0).normal(size=(20, 3))
    transformer = WassersteinKNeighborsTransformer(algorithm="faiss", **{name: True})
    with pytest.raises(TypeError, match=f"{name} must be an int"):
        transformer.fit(X)


@pytest.fixture(scope="module")
def clustered():
    X, _ = make_blobs(3000, n_features=16, centers=10, random_state=0)
    Y, _ = make_blobs(200, n_features=16, centers=10, random_state=0)
    return X, Y + 0.1


def _recall(graph, expected):
    width = np.diff(expected.indptr)[0]
    found = graph.indices.reshape(-1, width)
    truth = expected.indices.reshape(-1, width)
    return (
        np.mean([len(set(a) & set(b)) for a, b in zip(found, truth, strict=True)])
        / width
    )


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("faiss_index", ["ivf", "hnsw"])
def test_faiss_recall(clustered, p, faiss_index):
    pytest.importorskip("faiss", reason="the optional dependency faiss-cpu")
    X, Y = clustered
    exact = WassersteinKNeighborsTransformer(n_neighbors=10, p=p, algorithm="brute")
    approximate = WassersteinKNeighborsTransformer(
        n_neighbors=10,
        p=p,
        algorithm="faiss",
        faiss_index=faiss_index,
        n_jobs=1,
        random_state=0,
    )
    graph, expected = approximate.fit_transform(X), exact.fit_transform(X)
    assert approximate.algorithm_ == "faiss"
    assert _recall(graph, expected) >= 0.9
    assert _recall(approximate.transform(Y), exact.transform(Y)) >= 0.9
    # Exact distances of the neighbours found, the sample itself at 0 first.
    rows = np.repeat(np.arange(3000), 11)
    truth = cdist(X, X, METRICS[p].replace("manhattan", "cityblock"))
    np.testing.assert_allclose(graph.data, truth[rows, graph.indices], atol=1e-12)
    assert (graph.indices.reshape(3000, 11)[:, 0] == np.arange(3000)).mean() > 0.99
    assert (np.diff(graph.data.reshape(3000, 11), axis=1) >= 0).all()
    indices = approximate.kneighbors(return_distance=False)
    assert indices.shape == (3000, 10)
    assert (indices != np.arange(3000)[:, None]).all()
    assert faiss_index in type(approximate.index_).__name__.lower()


def test_faiss_ivf_knobs(clustered):
    pytest.importorskip("faiss", reason="the optional dependency faiss-cpu")
    X, Y = clustered
    transformer = WassersteinKNeighborsTransformer(
        n_neighbors=5, algorithm="faiss", random_state=0
    ).fit(X)
    # 4 * sqrt(3000) = 219 lists, but at most one per 39 samples.
    assert transformer.n_lists_ == 3000 // 39
    exact = WassersteinKNeighborsTransformer(n_neighbors=5).fit(X).transform(Y)
    # Scanning every list is exact; n_probe is read at search time.
    graph = transformer.set_params(n_probe=transformer.n_lists_).transform(Y)
    np.testing.assert_array_equal(graph.indices, exact.indices)
    np.testing.assert_allclose(graph.data, exact.data, rtol=1e-12)
    # Same random_state, same index.
    again = WassersteinKNeighborsTransformer(
        n_neighbors=5, algorithm="faiss", random_state=0, n_probe=2
    ).fit(X)
    first = transformer.set_params(n_probe=2).transform(Y)
    np.testing.assert_array_equal(again.transform(Y).indices, first.indices)


@pytest.fixture(scope="module")
def many_clustered():
    """Enough samples that the IVF k-means trains on a subsample."""
    X, _ = make_blobs(20_000, n_features=8, centers=40, random_state=0)
    return X


def test_faiss_ivf_trains_on_a_seeded_subsample(many_clustered):
    pytest.importorskip("faiss", reason="the optional dependency faiss-cpu")
    X = many_clustered
    transformer = WassersteinKNeighborsTransformer(
        algorithm="faiss", random_state=0, n_jobs=1
    ).fit(X)
    # round(2 * sqrt(20_000)) lists, trained on 64 samples per list.
    assert transformer.n_lists_ == 283 == neighbors_module._n_lists(20_000)
    assert transformer.n_training_samples_ == 64 * 283 < 20_000
    centroids = transformer.index_.quantizer.reconstruct_n(0, 283)
    # The subsample and the k-means are seeded by random_state.
    again = WassersteinKNeighborsTransformer(
        algorithm="faiss", random_state=0, n_jobs=1
    ).fit(X)
    np.testing.assert_array_equal(
        again.index_.quantizer.reconstruct_n(0, 283), centroids
    )
    other = WassersteinKNeighborsTransformer(
        algorithm="faiss", random_state=1, n_jobs=1
    ).fit(X)
    assert not np.array_equal(other.index_.quantizer.reconstruct_n(0, 283), centroids)
    # Small data sets are trained on all samples, with at least 39 per list.
    small = WassersteinKNeighborsTransformer(algorithm="faiss", random_state=0)
    small.fit(X[:3000])
    assert small.n_training_samples_ == 3000 >= 39 * small.n_lists_
    # No IVF index, no training set.
    hnsw = WassersteinKNeighborsTransformer(algorithm="faiss", faiss_index="hnsw")
    assert hnsw.fit(X[:500]).n_training_samples_ is None
    assert WassersteinKNeighborsTransformer().fit(X[:500]).n_training_samples_ is None


@pytest.mark.parametrize("p", [1, 2])
def test_faiss_ivf_with_one_list_needs_no_k_means(p, capfd):
    # FAISS's k-means printed "please provide at least 39 training points" to
    # stderr, where warning filters cannot reach it.
    pytest.importorskip("faiss", reason="the optional dependency faiss-cpu")
    X = np.random.default_rng(0).normal(size=(30, 6))
    transformer = WassersteinKNeighborsTransformer(
        n_neighbors=5, p=p, algorithm="faiss", faiss_index="ivf"
    ).fit(X)
    assert (transformer.n_lists_, transformer.n_training_samples_) == (1, 0)
    brute = WassersteinKNeighborsTransformer(n_neighbors=5, p=p).fit(X)
    for got, expected in zip(transformer.kneighbors(), brute.kneighbors(), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert capfd.readouterr().err == ""


def test_faiss_ivf_default_recall(many_clustered):
    pytest.importorskip("faiss", reason="the optional dependency faiss-cpu")
    X = many_clustered
    rows = np.random.default_rng(0).choice(len(X), 500, replace=False)
    approximate = WassersteinKNeighborsTransformer(
        n_neighbors=10, algorithm="faiss", random_state=0
    ).fit(X)
    exact = WassersteinKNeighborsTransformer(n_neighbors=10, algorithm="brute")
    exact.fit(X)
    assert (
        _recall(
            approximate.kneighbors_graph(X[rows], n_neighbors=11),
            exact.kneighbors_graph(X[rows], n_neighbors=11),
        )
        >= 0.95
    )


def test_faiss_ivf_search_order_and_blocks(many_clustered):
    pytest.importorskip("faiss", reason="the optional dependency faiss-cpu")
    X = many_clustered
    transformer = WassersteinKNeighborsTransformer(
        n_neighbors=7, algorithm="faiss", random_state=0, n_probe=3
    ).fit(X)
    queries = transformer._fit_X[:3000]
    # Grouping the queries by list finds what FAISS finds in the given order.
    transformer.index_.nprobe = 3
    centred = (queries - transformer._centre).astype(np.float32)  # as indexed
    expected = transformer.index_.search(centred, 7)[1]
    found = transformer._faiss_search(queries, 7)
    np.testing.assert_array_equal(np.sort(found, axis=1), np.sort(expected, axis=1))
    # Many small search blocks give the same graph as one.
    graph = transformer.transform(X[:3000])
    with config_context(working_memory=0.1):
        blocked = transformer.transform(X[:3000])
    np.testing.assert_array_equal(blocked.indices, graph.indices)
    np.testing.assert_array_equal(blocked.data, graph.data)


def test_faiss_short_lists_fall_back_to_exact():
    pytest.importorskip("faiss", reason="the optional dependency faiss-cpu")
    X, _ = make_blobs(400, n_features=4, centers=8, random_state=0)
    # One probed list may hold fewer than 60 samples: FAISS returns -1 there.
    transformer = WassersteinKNeighborsTransformer(
        n_neighbors=60, algorithm="faiss", n_probe=1, p=2, random_state=0
    ).fit(X)
    distances, indices = transformer.kneighbors(X[:50])
    assert (indices >= 0).all()
    np.testing.assert_allclose(
        distances, cdist(X[:50], X)[np.arange(50)[:, None], indices], atol=1e-12
    )


@pytest.mark.parametrize("p", [1, 2])
def test_faiss_pickles(clustered, p):
    pytest.importorskip("faiss", reason="the optional dependency faiss-cpu")
    X, Y = clustered
    for faiss_index in ("ivf", "hnsw"):
        transformer = WassersteinKNeighborsTransformer(
            algorithm="faiss", faiss_index=faiss_index, p=p, random_state=0, n_jobs=1
        ).fit(X)
        loaded = pickle.loads(pickle.dumps(transformer))
        expected = transformer.transform(Y)
        graph = loaded.transform(Y)
        np.testing.assert_array_equal(graph.indices, expected.indices)
        np.testing.assert_array_equal(graph.data, expected.data)


# --------------------------------------------------------------------------- #
# scikit-learn's estimator checks
# --------------------------------------------------------------------------- #
@parametrize_with_checks([WassersteinKNeighborsTransformer()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("algorithm", ["brute", "faiss"])
@pytest.mark.parametrize("p", [1, 2])
def test_queries_scaled_block_by_block_give_the_same_graph(algorithm, p):
    if algorithm == "faiss":
        pytest.importorskip("faiss", reason="the optional dependency faiss-cpu")
    rng = np.random.default_rng(0)
    fitted = rng.normal(size=(3000, 6)) * 1e3 + 5e3
    queries = rng.normal(size=(3000, 6)) * 1e3 + 5e3
    model = WassersteinKNeighborsTransformer(
        n_neighbors=4, algorithm=algorithm, p=p, random_state=0
    ).fit(fitted)
    whole = model.kneighbors(queries)
    # A working memory this small cuts the queries into many blocks.
    with config_context(working_memory=0.05), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        blocks = model.kneighbors(queries)
    np.testing.assert_array_equal(blocks[1], whole[1])
    np.testing.assert_array_equal(blocks[0], whole[0])


@pytest.mark.parametrize("algorithm", ["brute", "faiss"])
def test_search_never_copies_all_queries_to_float64(algorithm):
    if algorithm == "faiss":
        pytest.importorskip("faiss", reason="the optional dependency faiss-cpu")
    import tracemalloc

    rng = np.random.default_rng(0)
    fitted = rng.normal(size=(1000, 32)).astype(np.float32)
    queries = rng.normal(size=(100_000, 32)).astype(np.float32)
    model = WassersteinKNeighborsTransformer(
        n_neighbors=2, algorithm=algorithm, random_state=0
    ).fit(fitted)
    with config_context(working_memory=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tracemalloc.start()
        try:
            distances, indices = model.kneighbors(queries)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    output = distances.nbytes + indices.nbytes
    float64_copy = queries.size * 8
    # The output and a few MiB of blocks: far below one float64 copy of all
    # queries (24 MiB here), which the search used to make.
    assert peak < output + float64_copy / 2


@pytest.mark.parametrize(
    ("p", "fitted_scale", "query_scale"),
    [(2, 1e-160, 1.0), (2, 1e-310, 1.0), (1, 1e-300, 1e10)],
)
def test_queries_far_beyond_the_fitted_scale_are_refused(p, fitted_scale, query_scale):
    # In the fitted rows' unit such queries overflow: inf distances, wrong
    # indices or a misleading "NaN or infinity" error before.
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    transformer = WassersteinKNeighborsTransformer(n_neighbors=2, p=p)
    transformer.fit(X * fitted_scale)
    limit = 480 if p == 2 else 1000
    with pytest.raises(ValueError, match=f"more than 2\\*\\*{limit} times the fitted"):
        transformer.kneighbors(np.array([[1.0, 0.0]]) * query_scale)
    # Within range, the distances are exact.
    near = WassersteinKNeighborsTransformer(n_neighbors=2, p=p).fit(X * 1e-100)
    distances, indices = near.kneighbors(np.array([[1.0, 0.0]]))
    expected_distances, expected_indices = _reference(
        np.array([[1.0, 0.0]]), X * 1e-100, 2, p
    )
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-12)


@pytest.mark.parametrize(
    "make", [WassersteinDistanceTransformer, WassersteinKNeighborsTransformer]
)
def test_a_p_auto_fallback_says_so_when_the_real_order_shows_up(make):
    # Fitted on a copy, p="auto" fell back to p=1 with a warning; given the
    # embedder's own p=2 output later, the error spoke of a p=1 the user never
    # set.
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(12, 8))
    record_embedding_order(embeddings, 2)
    with pytest.warns(UserWarning, match="p='auto' cannot tell"):
        transformer = make().fit(embeddings.copy())
    with pytest.raises(ValueError, match=r"p='auto' fell back to p=1 in fit.*Pass p=2"):
        transformer.transform(embeddings)
    explicit = make(p=1).fit(embeddings.copy())
    with pytest.raises(ValueError, match=r"^p=1, but X holds"):
        explicit.transform(embeddings)
