"""Tests of sklearn_wdist.metrics against plain-Python reference implementations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial.distance import cdist

from sklearn_wdist.metrics import (
    _retrieval,
    equal_error_rate,
    genuine_impostor_distances,
    knn_loo_accuracy,
    mean_average_precision_at_r,
    pair_roc_auc,
    precision_at_1,
)

# ---------------------------------------------------------------------------
# Brute-force references: plain Python loops over lists, no numpy tricks.
# ---------------------------------------------------------------------------


def ref_ranking(dist, i):
    """Other items of query i, nearest first, equal distances by index."""
    n = len(dist)
    return sorted((j for j in range(n) if j != i), key=lambda j: (dist[i][j], j))


def ref_retrieval_ranking(dist, labels, i):
    """Other items of query i, nearest first; in a tie other labels first."""
    n = len(dist)
    return sorted(
        (j for j in range(n) if j != i),
        key=lambda j: (dist[i][j], labels[j] == labels[i], j),
    )


def ref_precision_at_1(dist, labels):
    """Over the queries with another item of their label (Musgrave et al.)."""
    hits, scored = 0, 0
    for i in range(len(dist)):
        if sum(1 for j in range(len(dist)) if j != i and labels[j] == labels[i]):
            scored += 1
            if labels[ref_retrieval_ranking(dist, labels, i)[0]] == labels[i]:
                hits += 1
    return hits / scored


def ref_map_at_r_of_queries(dist, labels, n_queries):
    """MAP@R of queries 0..n_queries-1 only, each ranking every other item."""
    aps = []
    for i in range(n_queries):
        others = [j for j in range(len(labels)) if j != i]
        r = sum(1 for j in others if labels[j] == labels[i])
        if r == 0:
            continue
        ranking = ref_retrieval_ranking(dist, labels, i)[:r]
        n_rel, ap = 0, 0.0
        for rank, j in enumerate(ranking, start=1):
            if labels[j] == labels[i]:
                n_rel += 1
                ap += n_rel / rank
        aps.append(ap / r)
    return sum(aps) / len(aps) if aps else float("nan")


def ref_map_at_r(dist, labels):
    return ref_map_at_r_of_queries(dist, labels, len(dist))


def ref_knn(dist, labels, k):
    correct = 0
    for i in range(len(dist)):
        neighbours = ref_ranking(dist, i)[:k]
        counts = {}
        for j in neighbours:
            counts[labels[j]] = counts.get(labels[j], 0) + 1
        best = max(counts.values())
        # first label in ranking order among those with the most votes
        predicted = next(labels[j] for j in neighbours if counts[labels[j]] == best)
        if predicted == labels[i]:
            correct += 1
    return correct / len(dist)


def ref_pairs(dist, labels):
    genuine, impostor = [], []
    for i in range(len(dist)):
        for j in range(i + 1, len(dist)):
            (genuine if labels[i] == labels[j] else impostor).append(dist[i][j])
    return genuine, impostor


def ref_auc(dist, labels):
    genuine, impostor = ref_pairs(dist, labels)
    total = 0.0
    for g in genuine:
        for m in impostor:
            total += 1.0 if g < m else 0.5 if g == m else 0.0
    return total / (len(genuine) * len(impostor))


def ref_eer(dist, labels):
    """Sweep every distinct threshold t (accept if d <= t), interpolate the cross."""
    genuine, impostor = ref_pairs(dist, labels)
    points = [(0.0, 1.0)]  # (FAR, FRR) for a threshold below every distance
    for t in sorted(set(genuine) | set(impostor)):
        far = sum(1 for m in impostor if m <= t) / len(impostor)
        frr = sum(1 for g in genuine if g > t) / len(genuine)
        points.append((far, frr))
    for (far0, frr0), (far1, frr1) in itertools.pairwise(points):
        if far1 - frr1 >= 0:
            if far1 == frr1:
                return far1
            # FAR - FRR is linear along the segment; find where it is zero
            a = (frr0 - far0) / ((far1 - frr1) - (far0 - frr0))
            return far0 + a * (far1 - far0)
    raise AssertionError("no crossing")  # pragma: no cover


# ---------------------------------------------------------------------------
# Random cases
# ---------------------------------------------------------------------------

LAYOUTS = ["balanced3", "two", "imbalanced", "singletons", "strings", "many"]


def make_labels(layout, n, rng):
    if layout == "balanced3":
        return np.arange(n) % 3
    if layout == "two":
        return rng.integers(0, 2, size=n)
    if layout == "imbalanced":
        labels = np.zeros(n, dtype=int)
        labels[: n // 5] = 1
        labels[n // 5 : n // 5 + 2] = 2
        labels[-1] = 3  # a singleton class
        return rng.permutation(labels)
    if layout == "singletons":
        labels = rng.integers(0, 4, size=n)
        labels[:5] = [10, 11, 12, 13, 14]
        return labels
    if layout == "strings":
        return np.array(["cat", "dog", "emu", "fox"])[rng.integers(0, 4, size=n)]
    if layout == "many":
        return rng.integers(0, n // 2, size=n)
    raise ValueError(layout)


def make_distances(kind, n, labels, rng):
    """Distances of random points; classes are shifted apart a little."""
    codes = np.unique(labels, return_inverse=True)[1]
    points = rng.normal(size=(n, 3)) + codes[:, None] * 0.7
    dist = cdist(points, points)
    if kind == "continuous":
        return dist
    if kind == "rounded":  # many ties
        return np.round(dist, 0)
    if kind == "integer":  # asymmetric integer matrix, ties everywhere
        return rng.integers(0, 4, size=(n, n))
    raise ValueError(kind)


CASES = [
    (layout, kind, seed)
    for layout in LAYOUTS
    for kind in ["continuous", "rounded", "integer"]
    for seed in range(3)
]


@pytest.fixture(params=CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}")
def case(request):
    layout, kind, seed = request.param
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 45))
    labels = make_labels(layout, n, rng)
    dist = make_distances(kind, n, labels, rng)
    return dist, labels


def as_lists(dist, labels):
    return [[float(v) for v in row] for row in dist], list(labels)


def test_precision_at_1_matches_reference(case):
    dist, labels = case
    expected = ref_precision_at_1(*as_lists(dist, labels))
    assert precision_at_1(dist, labels) == pytest.approx(expected, abs=1e-12)


def test_map_at_r_matches_reference(case):
    dist, labels = case
    expected = ref_map_at_r(*as_lists(dist, labels))
    assert mean_average_precision_at_r(dist, labels) == pytest.approx(
        expected, abs=1e-12
    )


@pytest.mark.parametrize("k", [1, 2, 3, 4, 7, 12])
def test_knn_matches_reference(case, k):
    dist, labels = case
    expected = ref_knn(*as_lists(dist, labels), k)
    assert knn_loo_accuracy(dist, labels, n_neighbors=k) == pytest.approx(
        expected, abs=1e-12
    )


def test_knn_all_other_items(case):
    dist, labels = case
    k = len(labels) - 1
    expected = ref_knn(*as_lists(dist, labels), k)
    assert knn_loo_accuracy(dist, labels, n_neighbors=k) == pytest.approx(expected)


def test_pair_roc_auc_matches_reference(case):
    dist, labels = case
    expected = ref_auc(*as_lists(dist, labels))
    assert pair_roc_auc(dist, labels) == pytest.approx(expected, abs=1e-12)


def test_equal_error_rate_matches_threshold_sweep(case):
    dist, labels = case
    expected = ref_eer(*as_lists(dist, labels))
    assert equal_error_rate(dist, labels) == pytest.approx(expected, abs=1e-12)


def test_genuine_impostor_distances_match_reference(case):
    dist, labels = case
    genuine, impostor = genuine_impostor_distances(dist, labels)
    ref_genuine, ref_impostor = ref_pairs(*as_lists(dist, labels))
    np.testing.assert_array_equal(genuine, ref_genuine)
    np.testing.assert_array_equal(impostor, ref_impostor)


@pytest.mark.parametrize("chunk", [2, 1000])
@pytest.mark.parametrize("n_queries", [1, 5, 17, 30])
def test_map_at_r_of_leading_items_matches_reference(
    monkeypatch, case, n_queries, chunk
):
    # Early stopping ranks held-out queries among held-out and training items.
    dist, labels = case
    n_queries = min(n_queries, len(labels))
    codes = np.unique(labels, return_inverse=True)[1]
    monkeypatch.setattr(_retrieval, "_CHUNK_ELEMENTS", chunk * len(labels))
    rows = np.asarray(dist, dtype=float)[:n_queries]
    got = _retrieval.map_at_r_of_leading_items(rows, codes)
    expected = ref_map_at_r_of_queries(*as_lists(dist, labels), n_queries)
    if np.isnan(expected):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(expected, abs=1e-12)
    if n_queries == len(labels) and not np.isnan(expected):
        assert got == pytest.approx(mean_average_precision_at_r(dist, labels))


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_row_chunking_does_not_change_scores(monkeypatch, chunk):
    rng = np.random.default_rng(5)
    n = 57
    labels = make_labels("imbalanced", n, rng)
    dist = make_distances("rounded", n, labels, rng)
    lists = as_lists(dist, labels)
    # _CHUNK_ELEMENTS // n rows per block: blocks of 1, 7 and 64 rows
    monkeypatch.setattr(_retrieval, "_CHUNK_ELEMENTS", chunk * n)
    assert precision_at_1(dist, labels) == pytest.approx(ref_precision_at_1(*lists))
    assert mean_average_precision_at_r(dist, labels) == pytest.approx(
        ref_map_at_r(*lists)
    )
    assert knn_loo_accuracy(dist, labels, 5) == pytest.approx(ref_knn(*lists, 5))
    assert pair_roc_auc(dist, labels) == pytest.approx(ref_auc(*lists))
    assert equal_error_rate(dist, labels) == pytest.approx(ref_eer(*lists))


@pytest.mark.parametrize("k", [1, 3, 10, 30, 45, 59])
def test_sorted_neighbors_orders_by_distance_then_index(k):
    rng = np.random.default_rng(k)
    n = 60
    block = rng.integers(0, 5, size=(8, n)).astype(float)
    rows = np.arange(8) * 7
    block[np.arange(8), rows] = np.inf
    got = _retrieval._sorted_neighbors(block, k)
    for q, i in enumerate(rows):
        others = [j for j in range(n) if j != i]
        expected = sorted(others, key=lambda j: (block[q, j], j))[:k]
        assert got[q].tolist() == expected


# ---------------------------------------------------------------------------
# Hand-computed cases
# ---------------------------------------------------------------------------

# labels a a a b b
#      0   1   2   3   4
HAND = np.array(
    [
        [0, 4, 1, 2, 7],
        [4, 0, 6, 3, 5],
        [1, 6, 0, 8, 9],
        [2, 3, 8, 0, 10],
        [7, 5, 9, 10, 0],
    ],
    dtype=float,
)
HAND_LABELS = ["a", "a", "a", "b", "b"]


def test_map_at_r_hand_computed():
    # q0 (a, R=2): ranking 2(a) 3(b) | 1 4  -> (1/1 + 0) / 2          = 0.5
    # q1 (a, R=2): ranking 3(b) 0(a) | 4 2  -> (0 + 1/2) / 2          = 0.25
    # q2 (a, R=2): ranking 0(a) 1(a) | 3 4  -> (1/1 + 2/2) / 2        = 1.0
    # q3 (b, R=1): ranking 0(a) | 1 2 4     -> 0
    # q4 (b, R=1): ranking 1(a) | 0 2 3     -> 0
    # MAP@R = (0.5 + 0.25 + 1 + 0 + 0) / 5 = 0.35
    assert mean_average_precision_at_r(HAND, HAND_LABELS) == pytest.approx(0.35)


def test_precision_and_knn_hand_computed():
    # nearest others: 0->2 (a, hit) 1->3 (b) 2->0 (a, hit) 3->0 (a) 4->1 (a)
    assert precision_at_1(HAND, HAND_LABELS) == pytest.approx(0.4)
    # 3-NN: 0: a b a -> a (hit); 1: b a b -> b; 2: a a b -> a (hit);
    #       3: a a a -> a; 4: a a a -> a
    assert knn_loo_accuracy(HAND, HAND_LABELS, n_neighbors=3) == pytest.approx(0.4)


def test_map_at_r_skips_singleton_queries():
    # item 4 is alone in class c and is left out; the others are perfect
    dist = np.array(
        [
            [0, 1, 5, 5, 0.5],
            [1, 0, 5, 5, 0.5],
            [5, 5, 0, 1, 0.5],
            [5, 5, 1, 0, 0.5],
            [0.5, 0.5, 0.5, 0.5, 0],
        ]
    )
    labels = ["a", "a", "b", "b", "c"]
    # item 4 is nearer than the class mate for every query: AP@R = 0 each
    assert mean_average_precision_at_r(dist, labels) == pytest.approx(0.0)
    dist[:, 4] = dist[4, :] = 9.0
    dist[4, 4] = 0.0
    assert mean_average_precision_at_r(dist, labels) == pytest.approx(1.0)


def test_verification_hand_computed():
    # labels a a b b; genuine pairs (0,1)=1, (2,3)=3;
    # impostor pairs (0,2)=2, (0,3)=4, (1,2)=5, (1,3)=6
    # t=1: FAR 0,   FRR 1/2;  t=2: FAR 1/4, FRR 1/2;  t=3: FAR 1/4, FRR 0
    # FAR - FRR goes -1/4 -> +1/4 between t=2 and t=3: halfway, FAR = 1/4
    # AUC: genuine 1 beats all 4 impostors, genuine 3 beats 3 of 4 -> 7/8
    dist = np.array(
        [[0, 1, 2, 4], [1, 0, 5, 6], [2, 5, 0, 3], [4, 6, 3, 0]], dtype=float
    )
    labels = ["a", "a", "b", "b"]
    assert equal_error_rate(dist, labels) == pytest.approx(0.25)
    assert pair_roc_auc(dist, labels) == pytest.approx(0.875)


def test_equal_error_rate_interpolates_between_roc_points():
    # labels a a b: genuine pair (0,1) = 2; impostor pairs (0,2) = 1, (1,2) = 3.
    # accept d <= t:  t<1: FAR 0, FRR 1;  t=1: FAR 1/2, FRR 1;  t=2: FAR 1/2, FRR 0
    # FAR - FRR goes -1/2 -> +1/2 between t=1 and t=2 (FAR constant 1/2 there),
    # so the crossing is halfway, at FAR = FRR = 1/2.
    dist = np.array([[0, 2, 1], [2, 0, 3], [1, 3, 0]], dtype=float)
    assert equal_error_rate(dist, ["a", "a", "b"]) == pytest.approx(0.5)
    # genuine 1 and 2 (classes a and b), impostors 1.5, 3, 3, 3 ->
    # t=1: FAR 0, FRR 1/2; t=1.5: FAR 1/4, FRR 1/2; t=2: FAR 1/4, FRR 0.
    # crossing on the last segment (FAR constant) -> EER = 1/4
    dist = np.array(
        [[0, 1, 1.5, 3], [1, 0, 3, 3], [1.5, 3, 0, 2], [3, 3, 2, 0]], dtype=float
    )
    assert equal_error_rate(dist, ["a", "a", "b", "b"]) == pytest.approx(0.25)
    # a genuine/impostor tie moves the ROC curve diagonally: genuine 1 and 2,
    # impostors 2, 2, 3, 3. t=1: FAR 0, FRR 1/2; t=2: FAR 1/2, FRR 0;
    # FAR - FRR from -1/2 to 1/2 -> crossing halfway, FAR = 1/4
    dist = np.array(
        [[0, 1, 2, 3], [1, 0, 2, 3], [2, 2, 0, 2], [3, 3, 2, 0]], dtype=float
    )
    assert equal_error_rate(dist, ["a", "a", "b", "b"]) == pytest.approx(0.25)


def test_perfect_separation():
    rng = np.random.default_rng(0)
    labels = np.repeat(["x", "y", "z"], [4, 5, 6])
    codes = np.unique(labels, return_inverse=True)[1]
    # within-class distances in [0, 1), between-class distances in [2, 3)
    dist = rng.uniform(0, 1, size=(15, 15)) + 2.0 * (codes[:, None] != codes)
    dist = (dist + dist.T) / 2
    assert precision_at_1(dist, labels) == 1.0
    assert mean_average_precision_at_r(dist, labels) == 1.0
    assert knn_loo_accuracy(dist, labels, n_neighbors=3) == 1.0
    assert pair_roc_auc(dist, labels) == 1.0
    assert equal_error_rate(dist, labels) == 0.0


def test_inverted_separation():
    labels = np.array([0, 0, 1, 1])
    # same-class pairs far, different-class pairs near
    dist = np.where(labels[:, None] == labels, 5.0, 1.0)
    np.fill_diagonal(dist, 0.0)
    assert precision_at_1(dist, labels) == 0.0
    assert mean_average_precision_at_r(dist, labels) == 0.0
    assert pair_roc_auc(dist, labels) == 0.0
    assert equal_error_rate(dist, labels) == 1.0


def test_constant_distances():
    # every pair tied: AUC 1/2, ROC is the diagonal, EER 1/2; a tie is no
    # success for retrieval, so a collapsed embedding retrieves nothing
    labels = np.array([0, 1, 0, 1, 0, 1])
    dist = np.ones((6, 6))
    assert pair_roc_auc(dist, labels) == pytest.approx(0.5)
    assert equal_error_rate(dist, labels) == pytest.approx(0.5)
    assert precision_at_1(dist, labels) == 0.0
    assert mean_average_precision_at_r(dist, labels) == 0.0


def test_ties_count_against_the_query():
    # query 0 has items 1 and 2 at the same distance.
    dist = np.array([[0, 1, 1], [1, 0, 2], [1, 2, 0]], dtype=float)
    # labels a b a: q0 ties 1 (b) with 2 (a): miss; q1 is alone in b (not
    # scored); q2 -> 0 (a, hit)
    assert precision_at_1(dist, ["a", "b", "a"]) == pytest.approx(1 / 2)
    # labels a a b: q0 ties 1 (a) with 2 (b): miss; q1 -> 0 (a, hit)
    assert precision_at_1(dist, ["a", "a", "b"]) == pytest.approx(1 / 2)
    # MAP@R for labels a b a: q0 ranks 1 (b) first, q2 ranks 0 (a) first
    assert mean_average_precision_at_r(dist, ["a", "b", "a"]) == pytest.approx(0.5)


def test_retrieval_scores_do_not_depend_on_the_order_of_the_items():
    # Ranking ties by index favoured data sorted by class: a collapsed
    # embedding scored 0.25 on sorted labels and less shuffled.
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 6)
    dist = rng.integers(0, 3, size=(24, 24)).astype(float)  # many ties
    dist = dist + dist.T
    for _ in range(5):
        order = rng.permutation(24)
        shuffled = dist[np.ix_(order, order)]
        for func in (precision_at_1, mean_average_precision_at_r):
            assert func(shuffled, labels[order]) == pytest.approx(func(dist, labels))


def test_knn_vote_ties_go_to_nearest_label():
    # query 0 ranks items 1..5 in index order with labels c a b b a:
    # a and b have 2 votes each, a appears first (rank 2) -> predict a.
    n = 6
    dist = np.tile(np.arange(n, dtype=float), (n, 1))
    dist = np.abs(dist - dist.T)
    labels = ["a", "c", "a", "b", "b", "a"]
    neighbours_of_0 = ref_ranking(dist.tolist(), 0)[:5]
    assert neighbours_of_0 == [1, 2, 3, 4, 5]
    # predictions with k=5 (each query votes over all others):
    # q0: c a b b a -> a,b tie at 2, a first -> a  (hit)
    # q1 (c): 0(a) 2(a) 3(b) 4(b) 5(a) -> a (3 votes)  (miss)
    # q2 (a): 1 3 (d=1), 0 4 (d=2), 5 -> c b a b a -> a/b tie, b first (miss)
    # q3 (b): 2 4, 1 5, 0 -> a b c a a -> a (miss)
    # q4 (b): 3 5, 2, 1, 0 -> b a a c a -> a (miss)
    # q5 (a): 4 3 2 1 0 -> b b a c a -> a/b tie, b first -> b (miss)
    assert knn_loo_accuracy(dist, labels, n_neighbors=5) == pytest.approx(1 / 6)
    assert ref_knn(dist.tolist(), labels, 5) == pytest.approx(1 / 6)
    # k=2: q0: c a -> c (nearest wins the tie, miss); q1: a a (miss);
    # q2: c b -> c (miss); q3: a b -> a (miss); q4: b a -> b (hit); q5: b b (miss)
    assert knn_loo_accuracy(dist, labels, n_neighbors=2) == pytest.approx(1 / 6)


# ---------------------------------------------------------------------------
# Label handling
# ---------------------------------------------------------------------------


ALL_FUNCTIONS = [
    precision_at_1,
    mean_average_precision_at_r,
    knn_loo_accuracy,
    equal_error_rate,
    pair_roc_auc,
]


@pytest.mark.parametrize("func", ALL_FUNCTIONS)
def test_string_labels_match_integer_labels(func):
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 3, size=30)
    names = np.array(["red", "green", "blue"])[codes]
    points = rng.normal(size=(30, 2)) + codes[:, None]
    dist = cdist(points, points)
    assert func(dist, names) == func(dist, codes)
    assert func(dist, list(names)) == func(dist, codes)


@pytest.mark.parametrize("func", ALL_FUNCTIONS)
def test_unsortable_mixed_labels(func):
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 3, size=20)
    mixed = np.array([(1, 2), "x", frozenset({3})], dtype=object)[codes]
    points = rng.normal(size=(20, 2))
    dist = cdist(points, points)
    assert func(dist, mixed) == func(dist, codes)


@pytest.mark.parametrize("func", ALL_FUNCTIONS)
@pytest.mark.parametrize(
    "names",
    [["a", b"a", "b"], [2**53 + 1, float(2**53), 2**53 + 3]],
    ids=["str beside bytes", "large int beside float"],
)
def test_labels_a_common_dtype_would_merge_stay_apart(func, names):
    # NumPy would turn b"a" into a str and 2**53 + 1 into the float 2**53:
    # three Python classes, not two (and no KeyError on the way).
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 3, size=20)
    labels = [names[code] for code in codes]
    points = rng.normal(size=(20, 2)) + codes[:, None]
    dist = cdist(points, points)
    assert func(dist, labels) == func(dist, codes)


@pytest.mark.parametrize("func", ALL_FUNCTIONS)
def test_list_and_integer_inputs(func):
    dist = [[0, 1, 3, 4], [1, 0, 2, 5], [3, 2, 0, 1], [4, 5, 1, 0]]
    labels = [0, 0, 1, 1]
    assert func(dist, labels) == func(np.asarray(dist, dtype=float), labels)
    assert func(np.asarray(dist, dtype=np.float32), labels) == func(dist, labels)


def test_input_is_not_modified():
    rng = np.random.default_rng(0)
    dist = rng.uniform(size=(10, 10))
    before = dist.copy()
    labels = np.arange(10) % 2
    for func in ALL_FUNCTIONS:
        func(dist, labels)
    np.testing.assert_array_equal(dist, before)


def test_returns_python_float():
    dist = np.array([[0, 1, 3, 4], [1, 0, 2, 5], [3, 2, 0, 1], [4, 5, 1, 0]])
    for func in ALL_FUNCTIONS:
        assert type(func(dist, [0, 0, 1, 1])) is float


# ---------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------

GOOD = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0]], dtype=float)
GOOD_LABELS = [0, 0, 1]


@pytest.mark.parametrize("func", ALL_FUNCTIONS)
@pytest.mark.parametrize(
    ("distances", "error", "match"),
    [
        (np.zeros(3), ValueError, "distances must be a 2-D"),
        (np.zeros((3, 3, 1)), ValueError, "distances must be a 2-D"),
        (np.zeros((3, 4)), ValueError, "distances must be a square"),
        (np.zeros((1, 1)), ValueError, "distances must describe at least 2"),
        (np.zeros((0, 0)), ValueError, "distances must not be empty"),
        (np.where(np.eye(3) > 0, 0, np.nan), ValueError, "distances must be finite"),
        (np.where(np.eye(3) > 0, 0, np.inf), ValueError, "distances must be finite"),
        (GOOD - 1.5, ValueError, "distances must be non-negative"),
        (GOOD.astype(str), TypeError, "distances must contain real numbers"),
        (GOOD.astype(complex), ValueError, "Complex data not supported"),
        (GOOD > 1, TypeError, "distances must contain real numbers"),
        (np.array([[0, "a"], ["a", 0]], dtype=object), TypeError, "distances"),
        (sp.csr_matrix(GOOD), TypeError, "distances must be a dense array"),
        ([[0, 1, 2], [1, 0]], ValueError, "distances could not be converted"),
        (
            [[0, 10**400, 1], [10**400, 0, 1], [1, 1, 0]],
            ValueError,
            "distances has a value too large for float64",
        ),
    ],
    ids=[
        "1d",
        "3d",
        "not-square",
        "one-item",
        "empty",
        "nan",
        "inf",
        "negative",
        "strings",
        "complex",
        "bool",
        "object",
        "sparse",
        "ragged",
        "huge-int",
    ],
)
def test_bad_distances(func, distances, error, match):
    with pytest.raises(error, match=match):
        func(distances, GOOD_LABELS)


@pytest.mark.parametrize("func", ALL_FUNCTIONS)
@pytest.mark.parametrize(
    ("labels", "match"),
    [
        ([0, 1], "labels has 2 labels but distances has 3 rows"),
        ([0, 1, 1, 0], "labels has 4 labels"),
        ([[0], [0], [1]], "labels must be 1-D"),
        (0, "labels must be 1-D"),
    ],
)
def test_bad_labels(func, labels, match):
    with pytest.raises(ValueError, match=match):
        func(GOOD, labels)


def test_distances_are_checked_before_labels():
    with pytest.raises(ValueError, match="distances"):
        precision_at_1(np.zeros((3, 4)), [0, 1])


@pytest.mark.parametrize(
    ("n_neighbors", "error", "match"),
    [
        (0, ValueError, "n_neighbors must satisfy"),
        (-1, ValueError, "n_neighbors must satisfy"),
        (3, ValueError, "n_neighbors must satisfy 1 <= n_neighbors < n_samples = 3"),
        (1.0, TypeError, "n_neighbors must be an integer"),
        ("2", TypeError, "n_neighbors must be an integer"),
        (True, TypeError, "n_neighbors must be an integer"),
        (None, TypeError, "n_neighbors must be an integer"),
    ],
)
def test_bad_n_neighbors(n_neighbors, error, match):
    with pytest.raises(error, match=match):
        knn_loo_accuracy(GOOD, GOOD_LABELS, n_neighbors=n_neighbors)


def test_numpy_integer_n_neighbors_accepted():
    assert knn_loo_accuracy(GOOD, GOOD_LABELS, n_neighbors=np.int64(2)) == (
        knn_loo_accuracy(GOOD, GOOD_LABELS, n_neighbors=2)
    )


def test_map_at_r_needs_a_repeated_label():
    with pytest.raises(ValueError, match="labels must contain at least one class"):
        mean_average_precision_at_r(GOOD, ["a", "b", "c"])


@pytest.mark.parametrize(
    "func", [equal_error_rate, pair_roc_auc, genuine_impostor_distances]
)
def test_verification_needs_genuine_and_impostor_pairs(func):
    with pytest.raises(ValueError, match=r"labels .*no genuine"):
        func(GOOD, ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"labels .*no impostor"):
        func(GOOD, ["a", "a", "a"])


@pytest.mark.parametrize("wrap", [lambda v: (v,), lambda v: (v, "x")])
def test_tuples_are_labels_whatever_their_length(wrap):
    # A list of 1-tuples looked like a column vector to NumPy.
    dist = np.array([[0, 1, 4, 5], [1, 0, 2, 6], [4, 2, 0, 3], [5, 6, 3, 0.0]])
    plain = mean_average_precision_at_r(dist, [1, 1, 2, 2])
    assert mean_average_precision_at_r(dist, [wrap(v) for v in (1, 1, 2, 2)]) == plain
    with pytest.raises(ValueError, match="labels must be 1-D"):
        mean_average_precision_at_r(dist, [[1], [1], [2], [2]])  # lists: a column


def test_masked_labels_are_refused_and_dates_stay_dates():
    from sklearn_wdist._validation import check_labels

    with pytest.raises(ValueError, match="masked values"):
        check_labels(np.ma.array(["a", "b", "a", "b"], mask=[0, 0, 0, 1]), 4)
    for dtype in ("datetime64[ns]", "datetime64[D]", "timedelta64[ns]"):
        y = np.array([1, 2, 1], dtype="int64").astype(dtype)
        classes, codes = check_labels(y, 3)
        assert classes.dtype == y.dtype
        np.testing.assert_array_equal(classes[codes], y)
    with pytest.raises(ValueError, match=r"y\[1\] is NaT"):
        check_labels(np.array(["2020-01-01", "NaT"], dtype="datetime64[ns]"), 2)


@pytest.mark.parametrize(
    "func", [precision_at_1, mean_average_precision_at_r, knn_loo_accuracy]
)
def test_one_label_is_refused_not_scored_perfect(func):
    # A fold holding one class scored 1.0 whatever the distances.
    with pytest.raises(ValueError, match="at least two distinct classes"):
        func(GOOD, ["a", "a", "a"])


@pytest.mark.parametrize(
    "labels", [{1, 2, 3}, {0: "a", 1: "a", 2: "b"}, (v for v in "aab")]
)
def test_unordered_or_one_shot_labels_are_refused_by_type(labels):
    # A set, dict or generator became a 0-d array: "got shape ()".
    with pytest.raises(TypeError, match="labels must be a 1-D array-like"):
        mean_average_precision_at_r(GOOD, labels)


def test_all_unique_labels_leave_nothing_to_retrieve():
    # Precision at 1 scores queries with another item of their label, as
    # MAP@R; a k-NN classifier misclassifies every item.
    with pytest.raises(ValueError, match="unique, so precision at 1 is undefined"):
        precision_at_1(GOOD, ["a", "b", "c"])
    assert knn_loo_accuracy(GOOD, ["a", "b", "c"], n_neighbors=2) == 0.0


def test_lone_queries_are_left_out_of_precision_at_1():
    points = np.array([0.0, 0.1, 5.0, 5.1, 20.0])
    dist = np.abs(points[:, None] - points[None, :])
    labels = ["a", "a", "b", "b", "c"]  # a perfect embedding
    assert precision_at_1(dist, labels) == 1.0
    assert mean_average_precision_at_r(dist, labels) == 1.0


@pytest.mark.parametrize("func", [precision_at_1, mean_average_precision_at_r])
def test_an_infinite_diagonal_is_ignored_by_retrieval(func):
    # Setting the diagonal to inf is the usual way to exclude self-matches.
    dist = np.array([[0, 1, 4, 5], [1, 0, 2, 6], [4, 2, 0, 3], [5, 6, 3, 0.0]])
    labels = ["a", "a", "b", "b"]
    marked = dist.copy()
    np.fill_diagonal(marked, np.inf)
    assert func(marked, labels) == func(dist, labels)
    np.fill_diagonal(marked, np.nan)
    assert func(marked, labels) == func(dist, labels)
    np.fill_diagonal(marked, -1.0)
    assert func(marked, labels) == func(dist, labels)
    marked[0, 1] = -1.0  # read: refused
    with pytest.raises(ValueError, match="non-negative"):
        func(marked, labels)


def test_the_region_read_is_checked():
    from sklearn_wdist._validation import check_distance_matrix

    with pytest.raises(ValueError, match="read must be one of"):
        check_distance_matrix(np.zeros((2, 2)), read="diagonal")


@pytest.mark.parametrize("func", [equal_error_rate, pair_roc_auc])
def test_verification_reads_only_the_strict_upper_triangle(func):
    rng = np.random.default_rng(1)
    points = rng.normal(size=8)
    dist = np.abs(points[:, None] - points[None, :])
    labels = [0, 0, 1, 1, 2, 2, 0, 1]
    upper_only = np.triu(dist, k=1)
    upper_only[np.tril_indices(8)] = np.nan
    assert func(upper_only, labels) == func(dist, labels)
    upper_only[0, 1] = np.nan
    with pytest.raises(ValueError, match="strict upper triangle"):
        func(upper_only, labels)


@pytest.mark.parametrize("p", [1, 2])
def test_scoring_from_row_blocks_equals_the_whole_matrix_to_the_last_bit(p):
    # The embedder's score and its validation scoring read the distances in
    # row blocks (n x n distances held at once took 1.5 GB at n = 20000).
    import warnings

    import sklearn

    from sklearn_wdist import pairwise_wasserstein
    from sklearn_wdist._training import retrieval_score
    from sklearn_wdist.metrics._retrieval import map_at_r_of_leading_items

    rng = np.random.default_rng(p)
    embeddings = rng.integers(0, 3, size=(300, 4)).astype(float)  # many ties
    codes = rng.integers(0, 6, size=300)
    gallery, gallery_codes = rng.normal(size=(40, 4)), rng.integers(0, 6, size=40)
    items = np.concatenate([embeddings, gallery])
    item_codes = np.concatenate([codes, gallery_codes])
    whole = map_at_r_of_leading_items(
        pairwise_wasserstein(embeddings, items, p=p), item_codes
    )
    for working_memory in (0.01, 0.3, 1024):
        with sklearn.config_context(working_memory=working_memory):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a row above 0.01 MiB
                blocks = retrieval_score(embeddings, codes, p, gallery, gallery_codes)
        assert blocks == whole
