"""Tests for the pairwise Wasserstein distance helpers."""

import math
import warnings
from fractions import Fraction

import numpy as np
import ot
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from joblib import parallel_config, register_parallel_backend
from joblib._parallel_backends import ThreadingBackend
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from scipy.spatial.distance import cdist
from scipy.stats import wasserstein_distance
from sklearn import config_context

from sklearn_wdist import (
    WassersteinDistanceTransformer,
    WassersteinKNeighborsTransformer,
    check_precomputed_distances,
    distances_to_affinity,
    pairwise_wasserstein,
    pairwise_wasserstein_chunked,
    pairwise_wasserstein_exact,
)
from sklearn_wdist._pairwise import _TILE

CDIST_METRIC = {1: "cityblock", 2: "euclidean"}


def _levels(n_quantiles):
    return (np.arange(n_quantiles) + 0.5) / n_quantiles


def _embed(Q, p):
    """Flatten (n, K, M) quantiles and scale them as the embedder's transform."""
    n, n_features, n_quantiles = Q.shape
    return Q.reshape(n, n_features * n_quantiles) * n_quantiles ** (-1 / p)


def _random_quantiles(rng, n, n_features, n_quantiles):
    loc = rng.normal(size=(n, n_features, 1))
    scale = rng.uniform(0.5, 2.0, size=(n, n_features, 1))
    return np.sort(loc + scale * rng.normal(size=(n, n_features, n_quantiles)), axis=2)


def _random_features(rng, n, n_features, lengths):
    """Per-step features (K, T_i) with different distributions per sequence."""
    out = []
    for i in range(n):
        T = lengths[i % len(lengths)]
        shape = rng.uniform(0.5, 3.0, size=(n_features, 1))
        out.append(
            rng.normal(size=(n_features, 1)) + rng.gamma(shape, size=(n_features, T))
        )
    return out


def _grid_embedding(features, n_quantiles, p, method="linear"):
    Q = np.stack(
        [
            np.quantile(h, _levels(n_quantiles), axis=1, method=method).T
            for h in features
        ]
    )
    return _embed(Q, p)


# --------------------------------------------------------------------------- #
# Agreement with scipy and POT
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("symmetric", [False, True])
def test_matches_cdist(p, dtype, symmetric):
    # Sizes above the tile size exercise several tiles and ragged edges.
    rng = np.random.default_rng(0)
    A = (rng.normal(size=(_TILE + 44, 48)) + 3.0).astype(dtype)
    B = None if symmetric else (rng.normal(size=(_TILE + 13, 48)) * 2).astype(dtype)
    D = pairwise_wasserstein(A, B, p=p)
    expected = cdist(A, A if B is None else B, CDIST_METRIC[p])
    assert D.dtype == dtype
    assert D.shape == expected.shape
    rtol = 1e-10 if dtype == np.float64 else 1e-6
    assert_allclose(D, expected, rtol=rtol, atol=0)


@pytest.mark.parametrize("p", [1, 2])
def test_mixed_precision_returns_float64(p):
    rng = np.random.default_rng(1)
    A = rng.normal(size=(5, 4)).astype(np.float32)
    B = rng.normal(size=(3, 4))
    assert pairwise_wasserstein(A, B, p=p).dtype == np.float64
    assert pairwise_wasserstein(A.astype(int), p=p).dtype == np.float64


def test_near_duplicates_keep_relative_precision():
    # Two far-apart, very tight clusters: the GEMM form alone would lose every
    # significant digit of the within-cluster distances.
    rng = np.random.default_rng(2)
    centres = np.where(np.arange(40)[:, None] < 20, 1e4, -1e4) * np.ones((1, 64))
    A = centres + 1e-6 * rng.normal(size=(40, 64))
    B = np.vstack([A[:5], A[25:30] + 1e-9])
    D = pairwise_wasserstein(A, B, p=2)
    expected = cdist(A, B)
    assert_allclose(D, expected, rtol=1e-8, atol=0)
    # Identical rows are at distance exactly zero, not sqrt(rounding error).
    assert_array_equal(D[np.arange(5), np.arange(5)], 0.0)
    D_sym = pairwise_wasserstein(A, p=2)
    assert_allclose(D_sym, cdist(A, A), rtol=1e-8, atol=0)


def test_near_duplicates_beside_a_far_row_keep_their_distance():
    # Centring on the mean rounds every value to the precision of the far row;
    # the near pair's distance must come from the rows as given.
    A = np.array([[1.0], [1.0 + 1e-12], [1e6]])
    expected = cdist(A, A)
    assert expected[0, 1] > 0
    assert_allclose(pairwise_wasserstein(A, p=2), expected, rtol=1e-8, atol=0)
    assert_allclose(
        pairwise_wasserstein(A[:1], A[1:], p=2), expected[:1, 1:], rtol=1e-8, atol=0
    )
    rng = np.random.default_rng(4)
    rows = rng.normal(size=(6, 8))
    X = np.vstack([rows, rows + 1e-9 * rng.normal(size=(6, 8)), np.full((1, 8), 1e4)])
    assert_allclose(pairwise_wasserstein(X, p=2), cdist(X, X), rtol=1e-8, atol=0)


@pytest.mark.parametrize("largest", [2.0**1023, np.finfo(np.float64).max])
def test_values_near_the_largest_float_do_not_overflow(largest):
    # cdist squares the raw values and overflows itself: scaled reference.
    scale = 2.0**1000
    A = np.array([[largest], [0.0], [largest / 3]])
    expected = cdist(A / scale, A / scale) * scale
    assert np.isfinite(expected).all()
    assert_allclose(pairwise_wasserstein(A, p=2), expected, rtol=1e-12, atol=0)
    B = np.array([[-largest / 4], [largest / 4]])
    expected = cdist(B / scale, B / scale) * scale
    assert_allclose(pairwise_wasserstein(B, p=2), expected, rtol=1e-12, atol=0)


def test_the_unit_of_the_scaling_covers_both_operands():
    # A small A against a huge B: a unit taken from A alone overflows.
    A = np.array([[0.0], [1.0]])
    B = np.array([[1e300], [-1e300]])
    scale = 2.0**1000
    expected = cdist(A / scale, B / scale) * scale
    assert_allclose(pairwise_wasserstein(A, B, p=2), expected, rtol=1e-12, atol=0)


def test_moderately_close_rows_far_from_the_origin_keep_their_digits():
    # Distances about 1e-4 of the rows' norm: above the tightest cluster of the
    # test above, but the Gram form would still lose five digits of them.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(12, 16))
    A = np.vstack([X + 100, X + 100 + 1e-3 * rng.normal(size=X.shape)])
    A = np.vstack([A, -A])
    assert_allclose(pairwise_wasserstein(A, p=2), cdist(A, A), rtol=1e-8, atol=0)


@pytest.mark.parametrize("scale", [1e-300, 1e-160, 1e160, 1e300])
def test_extreme_magnitudes_neither_overflow_nor_underflow(scale):
    # Squared norms of such values overflow or underflow in float64.
    rng = np.random.default_rng(9)
    A, B = rng.normal(size=(6, 5)), rng.normal(size=(4, 5))
    D = pairwise_wasserstein(A * scale, B * scale, p=2)
    assert_allclose(D, cdist(A, B) * scale, rtol=1e-12, atol=0)


def _hypot_reference(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Euclidean distances from halves and math.hypot: no over- or underflow."""
    return np.array([[math.hypot(*(a / 2 - b / 2)) * 2 for b in B] for a in A])


@pytest.mark.parametrize("largest", [1e155, 1e162, 1e200, 1e300])
def test_small_rows_beside_a_huge_one_keep_their_distances(largest):
    # One value sets the unit of the squares: the differences of the other rows
    # fall far below it, where their squares underflowed to 0 (distinct rows
    # at distance 0, neighbours in index order).
    rng = np.random.default_rng(11)
    X = rng.normal(size=(20, 4))
    X[0, 0], X[1, 2] = largest, -largest
    expected = _hypot_reference(X, X)
    assert_allclose(pairwise_wasserstein(X, p=2), expected, rtol=1e-12, atol=0)
    assert_allclose(
        WassersteinDistanceTransformer(p=2).fit(X).transform(X[2:]),
        expected[2:],
        rtol=1e-12,
        atol=0,
    )
    blocks = pairwise_wasserstein_chunked(X, p=2, working_memory=1e-3)
    assert_array_equal(np.vstack(list(blocks)), pairwise_wasserstein(X, p=2))
    distances, indices = (
        WassersteinKNeighborsTransformer(n_neighbors=3, p=2).fit(X).kneighbors(X[2:])
    )
    order = np.argsort(expected[2:], axis=1, kind="stable")[:, :3]
    assert_array_equal(indices, order)
    assert_allclose(
        distances, np.take_along_axis(expected[2:], order, 1), rtol=1e-12, atol=0
    )


def test_exact_small_differences_beside_a_huge_value_keep_their_distance():
    # W_2^2 of [0, 1] against [1, 2] is 1, computed in the unit of 1e200.
    features = [np.array([[0.0, 1.0]]), np.array([[1.0, 2.0]]), np.full((1, 2), 1e200)]
    D = pairwise_wasserstein_exact(features, p=2)
    assert_allclose(D[0, 1], 1.0, rtol=1e-14)
    assert_allclose(D[:2, 2], [1e200, 1e200], rtol=1e-14)
    # A second feature that does not move between the two adds nothing.
    still = [np.vstack([f, np.zeros((1, 2))]) for f in features]
    assert_allclose(pairwise_wasserstein_exact(still, p=2)[0, 1], 1.0, rtol=1e-14)
    # Differences of a few units in the last place, far below the largest
    # value: the recomputation divides by a power of two, exactly.
    rng = np.random.default_rng(13)
    base = rng.normal(size=6) * 2.0**-350
    moved = base + np.spacing(base) * rng.integers(1, 5, size=6)
    pair = [np.vstack([base, np.zeros(6)]), np.vstack([moved, np.zeros(6)])]
    difference = np.sort(base) - np.sort(moved)
    largest = np.abs(difference).max()
    expected = largest * np.sqrt(np.mean((difference / largest) ** 2))
    D = pairwise_wasserstein_exact([*pair, np.ones((2, 6))], p=2)
    assert_allclose(D[0, 1], expected, rtol=1e-14)
    rng = np.random.default_rng(12)
    features = _random_features(rng, 5, 3, lengths=[4, 7])
    features[0][1, 0] = 1e250
    reference = pairwise_wasserstein_exact(features[1:], p=2)  # no huge value
    assert_allclose(
        pairwise_wasserstein_exact(features, p=2)[1:, 1:], reference, rtol=1e-12
    )


def test_chunked_blocks_do_not_see_later_changes_to_the_inputs():
    for p in (1, 2):
        A = np.arange(8.0).reshape(4, 2)
        expected = pairwise_wasserstein(A, p=p)
        blocks = pairwise_wasserstein_chunked(A, p=p, working_memory=64 / 2**20)
        first = next(blocks)
        A[:] = np.nan
        assert_array_equal(np.vstack([first, *blocks]), expected)


def test_a_working_memory_beyond_any_machine_counts_as_one_exbibyte():
    A = np.arange(8.0).reshape(4, 2)
    expected = pairwise_wasserstein(A, p=2)
    neighbours = WassersteinKNeighborsTransformer(n_neighbors=2, p=2).fit(A)
    expected_neighbours = neighbours.kneighbors(A)
    assert_array_equal(pairwise_wasserstein(A, p=2, working_memory=1e308), expected)
    with config_context(working_memory=1e308):
        assert_array_equal(pairwise_wasserstein(A, p=2), expected)
        blocks = list(pairwise_wasserstein_chunked(A, p=2))
        found = neighbours.kneighbors(A)
    assert len(blocks) == 1
    assert_array_equal(blocks[0], expected)
    for got, want in zip(found, expected_neighbours, strict=True):
        assert_array_equal(got, want)


@pytest.mark.parametrize("p", [1, 2])
def test_matches_pot_and_scipy_on_quantile_samples(p):
    rng = np.random.default_rng(3)
    n_features, n_quantiles = 3, 20
    Qa = _random_quantiles(rng, 6, n_features, n_quantiles)
    Qb = _random_quantiles(rng, 4, n_features, n_quantiles)
    D = pairwise_wasserstein(_embed(Qa, p), _embed(Qb, p), p=p)

    # ot.wasserstein_1d with uniform weights returns W_p^p for each feature.
    expected = np.array(
        [
            [
                sum(ot.wasserstein_1d(qa[k], qb[k], p=p) for k in range(n_features))
                ** (1 / p)
                for qb in Qb
            ]
            for qa in Qa
        ]
    )
    assert_allclose(D, expected, rtol=1e-10)
    if p == 1:
        expected_scipy = np.array(
            [
                [
                    sum(wasserstein_distance(qa[k], qb[k]) for k in range(n_features))
                    for qb in Qb
                ]
                for qa in Qa
            ]
        )
        assert_allclose(D, expected_scipy, rtol=1e-10)


# --------------------------------------------------------------------------- #
# Exact mode
# --------------------------------------------------------------------------- #
def _exact_p2_numpy(u, v):
    """W_2^2 between two 1-D empirical distributions, from their step quantiles.

    Both quantile functions are constant between consecutive points of the union
    of {i / n} and {j / m}; evaluating them at the midpoints is exact.
    """
    n, m = u.size, v.size
    breaks = np.union1d(np.arange(n + 1) / n, np.arange(m + 1) / m)
    mid = (breaks[1:] + breaks[:-1]) / 2
    qu = np.sort(u)[np.floor(mid * n).astype(int)]
    qv = np.sort(v)[np.floor(mid * m).astype(int)]
    return np.sum(np.diff(breaks) * (qu - qv) ** 2)


def _brute_force_exact(features_a, features_b, p):
    out = np.empty((len(features_a), len(features_b)))
    for i, ha in enumerate(features_a):
        for j, hb in enumerate(features_b):
            if p == 1:
                out[i, j] = sum(
                    wasserstein_distance(ha[k], hb[k]) for k in range(ha.shape[0])
                )
            else:
                out[i, j] = math.sqrt(
                    sum(_exact_p2_numpy(ha[k], hb[k]) for k in range(ha.shape[0]))
                )
    return out


@pytest.mark.parametrize("p", [1, 2])
def test_exact_matches_brute_force(p):
    rng = np.random.default_rng(4)
    features_a = _random_features(rng, 5, 3, lengths=[7, 12, 7, 30])
    features_b = _random_features(rng, 4, 3, lengths=[9, 7])
    D = pairwise_wasserstein_exact(features_a, features_b, p=p)
    assert_allclose(D, _brute_force_exact(features_a, features_b, p), rtol=1e-10)

    D_sym = pairwise_wasserstein_exact(features_a, p=p)
    assert_array_equal(D_sym, D_sym.T)
    assert_array_equal(np.diag(D_sym), 0.0)
    assert_allclose(D_sym, _brute_force_exact(features_a, features_a, p), atol=1e-12)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("scale", [1e-300, 1e-170, 1e160, 1e300])
def test_exact_at_extreme_magnitudes_scales_with_the_data(p, scale):
    # W_p is homogeneous: scaled data give scaled distances. The p-th powers
    # of such values overflow or underflow in float64.
    rng = np.random.default_rng(6)
    features_a = _random_features(rng, 3, 2, lengths=[5, 8])
    features_b = _random_features(rng, 2, 2, lengths=[6])
    expected = _brute_force_exact(features_a, features_b, p) * scale
    D = pairwise_wasserstein_exact(
        [h * scale for h in features_a], [h * scale for h in features_b], p=p
    )
    assert_allclose(D, expected, rtol=1e-10, atol=0)
    D_sym = pairwise_wasserstein_exact([h * scale for h in features_a], p=p)
    expected_sym = _brute_force_exact(features_a, features_a, p) * scale
    assert_allclose(D_sym, expected_sym, rtol=1e-10, atol=1e-12 * scale)


def test_exact_scaling_changes_no_bit_in_the_normal_range():
    # The unit is a power of two: dividing by it is exact, and the costs and
    # their roots scale exactly, so ordinary data give POT's unscaled figures.
    rng = np.random.default_rng(7)
    features = [h * 1e3 for h in _random_features(rng, 4, 3, lengths=[9, 11])]
    for p in (1, 2):
        D = pairwise_wasserstein_exact(features, p=p)
        for i, ha in enumerate(features):
            for j, hb in enumerate(features):
                if i == j:
                    continue
                u, v = np.sort(ha, axis=1).T, np.sort(hb, axis=1).T
                # Pairs stacked side by side, as the engine calls POT.
                if u.shape == v.shape:
                    cost = ot.wasserstein_1d(u, v, p=p, require_sort=False).sum()
                    assert D[i, j] == (cost if p == 1 else math.sqrt(cost))


def test_exact_accepts_3d_array_and_parallel_matches_serial():
    rng = np.random.default_rng(5)
    H = np.stack(_random_features(rng, 6, 2, lengths=[15]))
    D = pairwise_wasserstein_exact(H, p=2)
    assert_array_equal(pairwise_wasserstein_exact(list(H), p=2, n_jobs=2), D)
    with parallel_config(backend="threading"):
        assert_array_equal(pairwise_wasserstein_exact(H, H, p=2, n_jobs=2), D)


@pytest.mark.parametrize("p", [1, 2])
def test_grid_distance_equals_exact_on_a_fine_enough_grid(p):
    # With the empirical ("inverted_cdf") quantiles and M a multiple of every
    # length, each grid cell lies inside one step of both quantile functions, so
    # the midpoint rule is exact.
    rng = np.random.default_rng(6)
    features = _random_features(rng, 4, 2, lengths=[6, 10, 15])
    exact = pairwise_wasserstein_exact(features, p=p)
    E = _grid_embedding(features, 2 * 30, p, method="inverted_cdf")
    assert_allclose(pairwise_wasserstein(E, p=p), exact, atol=1e-12)


@pytest.mark.parametrize("method", ["linear", "inverted_cdf"])
@pytest.mark.parametrize("p", [1, 2])
def test_grid_distance_converges_to_exact(p, method):
    # Quantiles on M levels (either quantile_method of the embedder) approach the
    # exact distance between the empirical distributions as M grows. With
    # "linear" the limit is off by the interpolation bias, O(1/T): long sequences
    # keep it below the grid error up to M=512.
    rng = np.random.default_rng(7)
    features = _random_features(rng, 5, 2, lengths=[3000, 4000])
    exact = pairwise_wasserstein_exact(features, p=p)
    errors = []
    for n_quantiles in (8, 64, 512):
        E = _grid_embedding(features, n_quantiles, p, method=method)
        D = pairwise_wasserstein(E, p=p)
        errors.append(np.max(np.abs(D - exact)) / np.max(exact))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-3


# --------------------------------------------------------------------------- #
# Metric axioms
# --------------------------------------------------------------------------- #
_finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def _embeddings(draw):
    n = draw(st.integers(2, 6))
    dims = draw(st.integers(1, 6))
    return draw(arrays(np.float64, (n, dims), elements=_finite))


@settings(max_examples=60, deadline=None)
@given(E=_embeddings(), p=st.sampled_from([1, 2]))
def test_metric_axioms(E, p):
    D = pairwise_wasserstein(E, p=p)
    assert_array_equal(D, D.T)
    assert_array_equal(np.diag(D), 0.0)
    assert np.all(D >= 0)
    tol = 1e-9 * (1.0 + D.max())
    # D[i, k] <= D[i, j] + D[j, k] for all i, j, k.
    assert np.all(D[:, None, :] <= D[:, :, None] + D[None, :, :] + tol)
    # Passing B explicitly gives the same values up to rounding.
    assert_allclose(pairwise_wasserstein(E, E, p=p), D, rtol=1e-7, atol=tol)


# --------------------------------------------------------------------------- #
# Chunking and parallelism
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def two_collections():
    rng = np.random.default_rng(8)
    return rng.normal(size=(2 * _TILE + 37, 24)), rng.normal(size=(_TILE + 5, 24))


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("symmetric", [False, True])
def test_chunked_generator_equals_full(two_collections, p, symmetric):
    A, B = two_collections
    B = None if symmetric else B
    full = pairwise_wasserstein(A, B, p=p)
    n_cols = full.shape[1]
    # 100 rows per block: not aligned with the tiles, many blocks.
    blocks = list(
        pairwise_wasserstein_chunked(A, B, p=p, working_memory=100 * 8 * n_cols / 2**20)
    )
    assert len(blocks) == math.ceil(A.shape[0] / 100)
    assert {b.shape[0] for b in blocks[:-1]} == {100}
    assert_array_equal(np.vstack(blocks), full)
    # Default working memory: one block.
    assert_array_equal(np.vstack(list(pairwise_wasserstein_chunked(A, B, p=p))), full)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("symmetric", [False, True])
def test_working_memory_and_n_jobs_do_not_change_the_result(
    two_collections, p, symmetric
):
    A, B = two_collections
    B = None if symmetric else B
    full = pairwise_wasserstein(A, B, p=p)
    assert_array_equal(pairwise_wasserstein(A, B, p=p, n_jobs=2), full)
    # The smallest task (one tile) still exceeds this budget: many tasks, a warning.
    with pytest.warns(UserWarning, match="working_memory"):
        tiny = pairwise_wasserstein(A, B, p=p, n_jobs=2, working_memory=0.01)
    assert_array_equal(tiny, full)
    if symmetric:
        assert_array_equal(full, full.T)
        assert_array_equal(np.diag(full), 0.0)


def test_process_backend_gives_the_same_result(two_collections):
    A, B = two_collections
    with parallel_config(backend="loky", n_jobs=2):
        D = pairwise_wasserstein(A, B, p=2)
    assert_array_equal(D, pairwise_wasserstein(A, B, p=2))


class _NoGeneratorBackend(ThreadingBackend):
    """Thread backend that cannot stream results, like Ray's; counts its tasks."""

    supports_return_generator = False
    n_submitted = 0

    def submit(self, func, callback=None):
        type(self).n_submitted += 1
        return super().submit(func, callback=callback)


def test_joblib_backend_context_is_honoured(two_collections):
    A, _ = two_collections
    register_parallel_backend("wdist_test_no_generator", _NoGeneratorBackend)
    _NoGeneratorBackend.n_submitted = 0
    with parallel_config(backend="wdist_test_no_generator", n_jobs=2):
        D = pairwise_wasserstein(A, p=2)
    assert _NoGeneratorBackend.n_submitted > 0
    assert_array_equal(D, pairwise_wasserstein(A, p=2))


def test_single_row_chunks_warn_when_a_row_does_not_fit():
    A = np.arange(12.0).reshape(6, 2)
    with pytest.warns(UserWarning, match="working_memory"):
        blocks = list(pairwise_wasserstein_chunked(A, p=2, working_memory=1e-6))
    assert len(blocks) == 6
    assert_array_equal(np.vstack(blocks), pairwise_wasserstein(A, p=2))


def test_chunked_validates_before_iterating():
    with pytest.raises(ValueError, match="A contains NaN"):
        pairwise_wasserstein_chunked(np.array([[np.nan]]))


# --------------------------------------------------------------------------- #
# Affinities
# --------------------------------------------------------------------------- #
def test_distances_to_affinity():
    D = np.array([[0.0, 1.0, 3.0], [1.0, 0.0, 2.0], [3.0, 2.0, 0.0]])
    # Median of the off-diagonal entries is 2.
    assert_allclose(distances_to_affinity(D), np.exp(-(D**2) / 8))
    assert_allclose(distances_to_affinity(D, sigma=1.0), np.exp(-(D**2) / 2))
    assert_array_equal(distances_to_affinity(np.zeros((3, 3))), np.ones((3, 3)))
    # Far points underflow to 0 without a warning, also where the square of
    # the scaled distance overflows.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert distances_to_affinity(np.array([[0.0, 1e6]]), sigma=1.0)[0, 1] == 0.0
        far = np.array([[0.0, 1e200]])
        assert distances_to_affinity(far, sigma=1.0)[0, 1] == 0.0
        far32 = np.array([[0.0, 1e20]], dtype=np.float32)
        assert distances_to_affinity(far32, sigma=1.0)[0, 1] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_distances_to_affinity_bandwidth_near_the_largest_float(dtype):
    # The median of 2e38 and 3e38 (or of 1e308 and 1.5e308) is finite even
    # though their sum is not in float32 (float64): the affinities still fall.
    largest = float(np.finfo(dtype).max)
    D = np.array([[0.0, 0.6 * largest, 0.9 * largest]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        affinity = distances_to_affinity(D)
    expected = np.exp(-((np.array([0.0, 0.6, 0.9]) / 0.75) ** 2) / 2)
    assert_allclose(affinity[0], expected, rtol=1e-5)


def test_distances_to_affinity_sigma_may_be_any_real_number():
    D = np.array([[0.0, 1.0], [1.0, 0.0]])
    expected = distances_to_affinity(D, sigma=0.5)
    assert_array_equal(distances_to_affinity(D, sigma=Fraction(1, 2)), expected)
    assert_array_equal(distances_to_affinity(D, sigma=np.float32(0.5)), expected)
    with pytest.raises(ValueError, match="sigma"):
        distances_to_affinity(D, sigma=10**400)  # beyond any float


@pytest.mark.parametrize(
    ("sigma", "error", "match"),
    [
        (0.0, ValueError, "sigma"),
        (-1.0, ValueError, "sigma"),
        (np.inf, ValueError, "sigma"),
        ("1", TypeError, "sigma"),
        (True, TypeError, "sigma"),
    ],
)
def test_distances_to_affinity_bad_sigma(sigma, error, match):
    with pytest.raises(error, match=match):
        distances_to_affinity(np.zeros((2, 2)), sigma=sigma)


# --------------------------------------------------------------------------- #
# Bad input
# --------------------------------------------------------------------------- #
_GOOD = np.zeros((3, 2))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"A": np.zeros(3)}, ValueError, "A must be a 2-D array"),
        ({"A": np.zeros((2, 2, 2))}, ValueError, "A must be a 2-D array"),
        ({"A": np.zeros((0, 2))}, ValueError, "A must have at least one sample"),
        ({"A": np.zeros((2, 0))}, ValueError, "A must have at least one sample"),
        ({"A": np.array([[1.0, np.nan]])}, ValueError, "A contains NaN or infinity"),
        ({"A": np.array([[1.0, np.inf]])}, ValueError, "A contains NaN or infinity"),
        ({"A": np.array([["a", "b"]])}, TypeError, "A must contain real numbers"),
        ({"A": np.array([[1j]])}, ValueError, "Complex data not supported"),
        ({"A": np.array([["a"]], dtype=object)}, TypeError, "A must contain real"),
        ({"A": [[1.0], [1.0, 2.0]]}, ValueError, "A could not be converted"),
        ({"A": sparse.csr_matrix(_GOOD)}, TypeError, "A must be a dense array"),
        ({"B": np.zeros((2, 3))}, ValueError, "A and B must have the same number"),
        ({"B": np.array([[np.nan, 0.0]])}, ValueError, "B contains NaN"),
        ({"B": np.zeros(2)}, ValueError, "B must be a 2-D array"),
        ({"p": 3}, ValueError, "p must be 1, 2 or 'auto', got 3"),
        ({"p": 0}, ValueError, "p must be 1, 2 or 'auto'"),
        ({"p": 2.0}, TypeError, "p must be 1, 2 or 'auto'"),
        ({"p": True}, TypeError, "p must be 1, 2 or 'auto'"),
        ({"p": "AUTO"}, TypeError, "p must be 1, 2 or 'auto', got 'AUTO'"),
        ({"n_jobs": 0}, ValueError, "n_jobs must be None or a non-zero int"),
        ({"n_jobs": 1.5}, TypeError, "n_jobs must be None or an int"),
        ({"n_jobs": True}, TypeError, "n_jobs must be None or an int"),
        ({"working_memory": 0}, ValueError, "working_memory must be"),
        ({"working_memory": -1.0}, ValueError, "working_memory must be"),
        ({"working_memory": np.nan}, ValueError, "working_memory must be"),
        ({"working_memory": "1"}, TypeError, "working_memory must be"),
    ],
)
def test_pairwise_wasserstein_bad_input(kwargs, error, match):
    args = {"A": _GOOD, "B": None} | kwargs
    with pytest.raises(error, match=match):
        pairwise_wasserstein(args.pop("A"), args.pop("B"), **args)


def test_chunked_bad_input():
    with pytest.raises(ValueError, match="p must be 1, 2 or 'auto'"):
        pairwise_wasserstein_chunked(_GOOD, p=3)
    with pytest.raises(TypeError, match="working_memory"):
        pairwise_wasserstein_chunked(_GOOD, working_memory=[1])


_H = [np.zeros((2, 3)), np.ones((2, 4))]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"features_a": []}, ValueError, "features_a must contain at least one"),
        ({"features_a": np.zeros((2, 3))}, ValueError, "features_a given as an array"),
        ({"features_a": "abc"}, TypeError, "features_a must be a list"),
        ({"features_a": 3.0}, TypeError, "features_a must be a list"),
        ({"features_a": [np.zeros(3)]}, ValueError, r"features_a\[0\] must be a 2-D"),
        ({"features_a": [np.zeros((2, 0))]}, ValueError, r"features_a\[0\] must have"),
        (
            {"features_a": [np.zeros((2, 3)), np.zeros((3, 3))]},
            ValueError,
            r"features_a\[1\] has 3 features",
        ),
        (
            {"features_a": [np.array([[np.nan]])]},
            ValueError,
            r"features_a\[0\] contains NaN",
        ),
        (
            {"features_a": [np.array([["x"]])]},
            TypeError,
            r"features_a\[0\] must contain real",
        ),
        (
            {"features_b": [np.zeros((3, 3))]},
            ValueError,
            r"features_b\[0\] has 3 features, expected 2",
        ),
        (
            {"features_b": [np.array([[np.inf], [0.0]])]},
            ValueError,
            r"features_b\[0\] contains",
        ),
        ({"p": 3}, ValueError, "p must be 1 or 2"),
        ({"n_jobs": "2"}, TypeError, "n_jobs"),
    ],
)
def test_exact_bad_input(kwargs, error, match):
    args = {"features_a": _H, "features_b": None} | kwargs
    with pytest.raises(error, match=match):
        pairwise_wasserstein_exact(
            args.pop("features_a"), args.pop("features_b"), **args
        )


@pytest.mark.parametrize(
    ("D", "kwargs", "error", "match"),
    [
        (np.zeros(3), {}, ValueError, "D must be a 2-D distance matrix"),
        (np.zeros((0, 0)), {}, ValueError, "D must not be empty"),
        (np.array([[0.0, np.nan]]), {}, ValueError, "D contains NaN or infinity"),
        (np.array([[0.0, -1e-3]]), {}, ValueError, "D must be non-negative"),
        (np.zeros((2, 3)), {"square": True}, ValueError, "D must be a square matrix"),
        (np.zeros((2, 3)), {"n_reference": 2}, ValueError, "D must have 2 columns"),
        (np.zeros((2, 3)), {"n_reference": 2.0}, TypeError, "n_reference"),
        (np.array([["a"]]), {}, TypeError, "D must contain real numbers"),
        (sparse.csr_matrix(np.eye(2)), {}, TypeError, "D must be a dense array"),
        (np.zeros(3), {"name": "distances"}, ValueError, "distances must be a 2-D"),
    ],
)
def test_check_precomputed_distances_bad_input(D, kwargs, error, match):
    with pytest.raises(error, match=match):
        check_precomputed_distances(D, **kwargs)


def test_check_precomputed_distances_accepts_valid_input():
    D = pairwise_wasserstein(np.arange(6.0).reshape(3, 2), p=2)
    assert check_precomputed_distances(D, square=True, n_reference=3) is D
    checked = check_precomputed_distances(D.astype(np.float32))
    assert checked.dtype == np.float32
    assert check_precomputed_distances([[0, 2]]).dtype == np.float64
