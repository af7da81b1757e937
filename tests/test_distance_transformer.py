"""Tests for WassersteinDistanceTransformer as a scikit-learn pipeline step."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.cluster import (
    DBSCAN,
    HDBSCAN,
    AgglomerativeClustering,
    SpectralClustering,
)
from sklearn.manifold import MDS, TSNE
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

from sklearn_wdist import distances_to_affinity, pairwise_wasserstein
from sklearn_wdist._distance_transformer import WassersteinDistanceTransformer
from sklearn_wdist._validation import record_embedding_order

# These tests hand the distance steps plain arrays, whose trained order
# p="auto" cannot know: its fallback warning is expected here (it has its own
# test, test_neighbors.py::test_auto_order_warns_when_it_falls_back).
pytestmark = pytest.mark.filterwarnings("ignore:p='auto' cannot tell:UserWarning")


# No check is expected to fail; a failure would be listed here with its reason.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [WassersteinDistanceTransformer(), WassersteinDistanceTransformer(p=1)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


class QuantileEmbedderStandIn(TransformerMixin, BaseEstimator):
    """Untrained stand-in for WassersteinSequenceEmbedder.

    Maps sequences (n, C, T) to their per-channel quantile functions at levels
    (m - 1/2) / M, flattened and scaled by M ** (-1 / p), like the real
    embedder's transform, which also records the order of its output (so that
    the distance step's ``p="auto"`` finds it).
    """

    def __init__(self, n_quantiles=16, p=2):
        self.n_quantiles = n_quantiles
        self.p = p

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = np.asarray(X, dtype=float)
        levels = (np.arange(self.n_quantiles) + 0.5) / self.n_quantiles
        Q = np.moveaxis(np.quantile(X, levels, axis=2), 0, -1)
        embeddings = Q.reshape(len(X), -1) * self.n_quantiles ** (-1 / self.p)
        record_embedding_order(embeddings, self.p)
        return embeddings


def _make_sequences(n_per_class=12, n_timepoints=400, seed=0):
    """Three classes of 2-channel sequences with the same mean and different shapes.

    Gaussian with standard deviation 1, Gaussian with standard deviation 3, and a
    balanced mixture of two narrow modes at -2.5 and 2.5. A mean-pooled embedding
    cannot tell them apart; their quantile functions are far apart.
    """
    rng = np.random.default_rng(seed)
    X, y = [], []
    half = n_timepoints // 2
    for label in range(3):
        for _ in range(n_per_class):
            shape = (2, n_timepoints)
            if label == 0:
                x = rng.normal(0.0, 1.0, size=shape)
            elif label == 1:
                x = rng.normal(0.0, 3.0, size=shape)
            else:
                modes = np.repeat([[-2.5, 2.5]], half, axis=0).T.reshape(1, -1)
                x = rng.permuted(np.repeat(modes, 2, axis=0), axis=1)
                x = x + rng.normal(0.0, 0.2, size=shape)
            X.append(x)
            y.append(label)
    return np.array(X), np.array(["gaussian", "wide", "bimodal"])[y]


@pytest.fixture(scope="module")
def sequences():
    return _make_sequences()


@pytest.fixture(scope="module")
def distances(sequences):
    X, y = sequences
    E = QuantileEmbedderStandIn().fit_transform(X)
    return WassersteinDistanceTransformer().fit_transform(E), y


def _pipeline(**knn_params):
    return make_pipeline(
        QuantileEmbedderStandIn(),
        WassersteinDistanceTransformer(),
        KNeighborsClassifier(metric="precomputed", **knn_params),
    )


# --------------------------------------------------------------------------- #
# Transformer behaviour
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("p", [1, 2])
def test_fit_transform_and_transform(p):
    rng = np.random.default_rng(0)
    E, E_query = rng.normal(size=(30, 8)), rng.normal(size=(7, 8))
    transformer = WassersteinDistanceTransformer(p=p)
    D = transformer.fit_transform(E)
    assert D.shape == (30, 30)
    assert_array_equal(D, D.T)
    assert_array_equal(np.diag(D), 0.0)
    assert_array_equal(D, pairwise_wasserstein(E, p=p))
    D_again = transformer.transform(E)
    assert_allclose(D_again, D, rtol=1e-12)
    # Identical rows are recomputed exactly: zero, not rounding noise.
    assert_array_equal(np.diag(D_again), 0.0)
    assert_array_equal(
        transformer.transform(E_query), pairwise_wasserstein(E_query, E, p=p)
    )
    assert_array_equal(transformer.reference_embeddings_, E)
    assert transformer.n_features_in_ == 8
    names = transformer.get_feature_names_out()
    assert names.shape == (30,)
    assert names[0] == "wassersteindistancetransformer0"


def test_reference_embeddings_are_copied():
    E = np.zeros((3, 2))
    transformer = WassersteinDistanceTransformer().fit(E)
    E[0, 0] = 10.0
    assert_array_equal(transformer.transform(np.zeros((1, 2))), np.zeros((1, 3)))


def test_float32_is_preserved():
    E = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    transformer = WassersteinDistanceTransformer()
    assert transformer.fit_transform(E).dtype == np.float32
    assert transformer.transform(E).dtype == np.float32
    assert transformer.transform(E.astype(np.float64)).dtype == np.float64


def test_n_jobs_gives_the_same_distances():
    E = np.random.default_rng(2).normal(size=(300, 5))
    serial = WassersteinDistanceTransformer().fit(E)
    parallel = WassersteinDistanceTransformer(n_jobs=2).fit(E)
    assert_array_equal(parallel.transform(E[:40]), serial.transform(E[:40]))
    assert_array_equal(clone(parallel).fit_transform(E), serial.fit_transform(E))


def test_pickle_round_trip():
    E = np.random.default_rng(3).normal(size=(6, 4))
    transformer = WassersteinDistanceTransformer(p=1).fit(E)
    restored = pickle.loads(pickle.dumps(transformer))
    assert_array_equal(restored.transform(E[:2]), transformer.transform(E[:2]))


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"p": 3}, InvalidParameterError, "'p' parameter"),
        ({"p": "2"}, InvalidParameterError, "'p' parameter"),
        ({"p": True}, TypeError, "p must be 1, 2 or 'auto', got True"),
        ({"n_jobs": 1.5}, InvalidParameterError, "'n_jobs' parameter"),
        ({"n_jobs": 0}, ValueError, "n_jobs must be None or a non-zero int"),
    ],
)
def test_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        WassersteinDistanceTransformer(**params).fit(np.zeros((2, 2)))


def test_bad_input():
    transformer = WassersteinDistanceTransformer().fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="X has 3 features, but"):
        transformer.transform(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        transformer.transform(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="Found array with dim 3"):
        WassersteinDistanceTransformer().fit(np.zeros((2, 2, 2)))


# --------------------------------------------------------------------------- #
# Pipelines and model selection
# --------------------------------------------------------------------------- #
def test_pipeline_with_precomputed_knn(sequences):
    X, y = sequences
    train = np.arange(len(y)) % 3 != 0
    model = _pipeline(n_neighbors=3).fit(X[train], y[train])
    assert model.predict(X[~train]).shape == (int((~train).sum()),)
    assert model.score(X[~train], y[~train]) == 1.0
    assert model.predict_proba(X[~train]).shape == (int((~train).sum()), 3)


def test_pipeline_with_a_generic_first_step():
    rng = np.random.default_rng(4)
    X = np.vstack([rng.normal(size=(10, 5)), rng.normal(size=(10, 5)) + 6.0])
    y = np.repeat([0, 1], 10)
    model = make_pipeline(
        StandardScaler(),
        WassersteinDistanceTransformer(p=1),
        KNeighborsClassifier(n_neighbors=3, metric="precomputed"),
    )
    assert model.fit(X, y).score(X, y) == 1.0


def test_cross_val_score_in_parallel(sequences):
    X, y = sequences
    scores = cross_val_score(_pipeline(n_neighbors=3), X, y, cv=3, n_jobs=2)
    assert scores.shape == (3,)
    assert np.all(scores == 1.0)


def test_grid_search_over_embedder_and_classifier(sequences):
    X, y = sequences
    search = GridSearchCV(
        _pipeline(),
        {
            "quantileembedderstandin__n_quantiles": [4, 16],
            "kneighborsclassifier__n_neighbors": [1, 5],
        },
        cv=3,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_score_ == 1.0
    assert search.predict(X[:3]).shape == (3,)


# --------------------------------------------------------------------------- #
# Clustering and manifold learning on the distances
# --------------------------------------------------------------------------- #
def test_clusters_are_well_separated(distances):
    # Guards the premise of the clustering tests below.
    D, y = distances
    same = y[:, None] == y[None, :]
    assert D[same].max() < 0.5 * D[~same].min()


@pytest.mark.parametrize(
    "clusterer",
    [
        DBSCAN(eps=1.3, min_samples=3, metric="precomputed"),
        HDBSCAN(min_cluster_size=5, metric="precomputed", copy=True),
        AgglomerativeClustering(n_clusters=3, metric="precomputed", linkage="average"),
        AgglomerativeClustering(n_clusters=3, metric="precomputed", linkage="complete"),
    ],
    ids=["dbscan", "hdbscan", "agglomerative-average", "agglomerative-complete"],
)
def test_clustering_on_precomputed_distances(distances, clusterer):
    D, y = distances
    labels = clone(clusterer).fit_predict(D)
    assert adjusted_rand_score(y, labels) == 1.0


def test_spectral_clustering_on_affinities(distances):
    D, y = distances
    affinity = distances_to_affinity(D)
    spectral = SpectralClustering(n_clusters=3, affinity="precomputed", random_state=0)
    assert adjusted_rand_score(y, spectral.fit_predict(affinity)) == 1.0


def test_tsne_on_precomputed_distances(distances):
    D, _ = distances
    tsne = TSNE(
        n_components=2,
        metric="precomputed",
        init="random",
        perplexity=10.0,
        method="exact",  # 36 points: the exact gradient is cheap
        max_iter=250,
        random_state=0,
    )
    Z = tsne.fit_transform(D)
    assert Z.shape == (len(D), 2)
    assert np.all(np.isfinite(Z))


def test_mds_on_precomputed_distances(distances):
    D, _ = distances
    # scikit-learn 1.8+: metric="precomputed" replaces dissimilarity="precomputed".
    mds = MDS(
        n_components=2, metric="precomputed", init="classical_mds", random_state=0
    )
    Z = mds.fit_transform(D)
    assert Z.shape == (len(D), 2)
    assert np.all(np.isfinite(Z))
