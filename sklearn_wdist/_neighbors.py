"""Sparse k-nearest-neighbour graphs of embeddings under the learned distance.

:class:`WassersteinKNeighborsTransformer` is scikit-learn's
:class:`~sklearn.neighbors.KNeighborsTransformer` for the output of
``WassersteinSequenceEmbedder.transform``: the same parameters where they apply,
the same CSR graph and the same self-inclusion convention, with the ``W_p``
distance of the embedder (Euclidean for ``p=2``, Manhattan for ``p=1``). The
search is exact (chunked top-k, never an ``n x n`` matrix) or approximate with
FAISS, an optional dependency, for millions of sequences.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from numbers import Integral
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from scipy.sparse import csr_array
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import Tags, check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._docs import DocumentationLinkMixin
from ._pairwise import euclidean_norms, pairwise_wasserstein, power_of_two_unit
from ._validation import (
    check_embedding_order,
    check_int,
    check_n_jobs,
    check_working_memory,
    embedding_order,
    resolve_order,
)

try:  # scikit-learn >= 1.9 returns the sparse interface chosen in its config.
    from sklearn.utils._sparse import _align_api_if_sparse
except ImportError:  # Older versions always return a csr_matrix.
    from scipy.sparse import csr_matrix as _align_api_if_sparse

__all__ = ["AUTO_BRUTE_MAX_SAMPLES", "WassersteinKNeighborsTransformer"]

#: ``algorithm="auto"`` searches exactly below this many fitted samples.
AUTO_BRUTE_MAX_SAMPLES = 50_000

# Query rows handled by one brute-force task; for p=1, one tile row of
# pairwise_wasserstein, so that no distance tile is computed twice.
_ROWS_PER_TASK = 512

# Bytes per entry of a block during the brute-force top-k: the float64 score and,
# at worst, argpartition's index and a boolean mask over the whole block.
_BYTES_PER_ENTRY = 17
# Queries may reach 2**this times the fitted rows' unit: the p=2 ranking
# squares them, and squares past ~2**1023 overflow.
_QUERY_RANGE_EXPONENT = 480
# With p=1 nothing is squared: the queries in the fitted rows' unit, and the
# sums of their differences over up to 2**20 dimensions, stay below float64's
# largest value (2**1024).
_P1_QUERY_RANGE_EXPONENT = 1000


def _copy_block_rows(n_dims: int, itemsize: int) -> int:
    """Rows of a converted copy that fit in a quarter of ``working_memory``.

    Never fewer than ``_ROWS_PER_TASK``: a tiny working memory still makes
    blocks worth a call.
    """
    budget = check_working_memory(None) * 2**20 / 4
    return max(_ROWS_PER_TASK, int(budget // (itemsize * max(n_dims, 1))))


# Columns per group of the brute-force pre-selection (see _candidate_columns).
_GROUP = 32

# Inverted lists of the "ivf" index per square root of the number of samples.
# A query costs about n_lists centroid distances plus n_probe * n / n_lists
# sample distances, so the number of lists grows as sqrt(n); the factor 2 gives
# a higher recall at a given n_probe than 4 (FAISS's lower end), at about the
# same time (fewer, longer lists to scan; quicker training and assignment).
_LISTS_PER_ROOT = 2

# FAISS's k-means warns below 39 training points per centroid; fewer inverted
# lists for small data sets keep it quiet and the lists well trained.
_MIN_POINTS_PER_LIST = 39

# The k-means of the "ivf" index is trained on a random subsample of at most
# this many samples per list (FAISS advises 39 to 256), for this many
# iterations (FAISS's default is 25): its cost, about iterations x training
# samples x lists, then grows linearly with n instead of as n^1.5. Longer
# training barely changes the recall of a search.
_TRAIN_POINTS_PER_LIST = 64
_KMEANS_ITERATIONS = 10

# Links per node of the HNSW graph (FAISS's usual default, "HNSW32").
_HNSW_LINKS = 32

_METRICS = {1: "manhattan", 2: "euclidean"}


def _import_faiss() -> ModuleType:
    """Import FAISS, or raise an ImportError naming the optional dependency."""
    try:
        import faiss
    except ImportError as error:
        raise ImportError(
            "algorithm='faiss' needs the optional dependency faiss-cpu, which is "
            "not installed: pip install 'sklearn-wdist[faiss]' (or pip install "
            "faiss-cpu). algorithm='brute' is exact and needs nothing more."
        ) from error
    return faiss


@contextmanager
def _faiss_threads(faiss: ModuleType, n_jobs: int | None) -> Iterator[None]:
    """Run FAISS with ``n_jobs`` OpenMP threads (its own default when None)."""
    if n_jobs is None:
        yield
        return
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(effective_n_jobs(n_jobs))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _n_lists(n_samples: int) -> int:
    """Return the number of inverted lists of the ``"ivf"`` index."""
    return max(
        1,
        min(
            round(_LISTS_PER_ROOT * math.sqrt(n_samples)),
            n_samples // _MIN_POINTS_PER_LIST,
        ),
    )


def _warn_working_memory(working_memory: float, needed_bytes: float) -> None:
    warnings.warn(
        f"Could not adhere to working_memory={working_memory} MiB: the smallest "
        f"unit of work needs {needed_bytes / 2**20:.3g} MiB.",
        UserWarning,
        stacklevel=4,
    )


def _sort_rows(
    distances: np.ndarray, indices: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row by distance, then by index."""
    order = np.lexsort((indices, distances), axis=-1)
    return (
        np.take_along_axis(distances, order, axis=1),
        np.take_along_axis(indices, order, axis=1),
    )


def _exact_distances(
    queries: np.ndarray, fitted: np.ndarray, indices: np.ndarray, p: int
) -> np.ndarray:
    """``W_p`` distances from each query row to the fitted rows it lists.

    ``indices`` has one row per query; the differences are formed explicitly,
    so there is no cancellation, and differences far below the rows' unit are
    scaled before they are squared, so they do not underflow.
    """
    difference = queries[:, None, :] - fitted[indices]
    if p == 1:
        return np.abs(difference).sum(axis=2)
    return euclidean_norms(difference)


def _candidate_columns(
    scores: np.ndarray, k: int, slack: np.ndarray | float
) -> np.ndarray | None:
    """Columns that may hold the ``k`` nearest of each row; None for all columns.

    The columns are cut into groups of ``_GROUP`` (columns ``j``, ``j + n``,
    ``j + 2n``, ... for ``n = n_cols // _GROUP``, and the last columns). The
    k-th smallest group minimum bounds the k-th smallest score of the row, so
    every score within ``slack`` of the latter lies in a group whose minimum is
    within ``slack`` of the former. One elementwise pass over the block then
    replaces a selection over all columns. Columns past the end of the last
    group are numbered ``-1``.
    """
    n_rows, n_cols = scores.shape
    n_strided = n_cols // _GROUP
    main = n_strided * _GROUP
    minima = scores[:, :main].reshape(n_rows, _GROUP, n_strided).min(axis=1)
    if main < n_cols:
        tail = scores[:, main:].min(axis=1, keepdims=True)
        minima = np.hstack((minima, tail))
    n_groups = minima.shape[1]
    if 2 * k >= n_groups:
        return None
    bound = np.partition(minima, k - 1, axis=1)[:, k - 1 : k] + slack
    n_candidates = int(np.count_nonzero(minima <= bound, axis=1).max())
    if 2 * n_candidates >= n_groups:
        return None
    groups = np.argpartition(minima, n_candidates - 1, axis=1)[:, :n_candidates]
    members = np.where(
        groups[:, :, None] < n_strided,
        groups[:, :, None] + n_strided * np.arange(_GROUP),
        main + np.arange(_GROUP),
    ).reshape(n_rows, -1)
    members[members >= n_cols] = -1
    return members


def _top_k(
    scores: np.ndarray,
    k: int,
    slack: np.ndarray | float,
    exact: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest columns of each row, by distance, then by column.

    Parameters
    ----------
    scores : ndarray of shape (n_rows, n_cols)
        Values increasing with the distance along each row, each within
        ``slack / 2`` of its exact value.
    k : int
        Number of neighbours; all columns when ``k >= n_cols``.
    slack : ndarray of shape (n_rows, 1) or float
        Twice the largest error of a score (0 for exact scores).
    exact : callable
        ``exact(rows, cols)`` returns the exact distances of the block rows
        ``rows`` (shape ``(m,)``) to their columns ``cols`` (shape ``(m, c)``).

    Returns
    -------
    distances, columns : ndarray of shape (n_rows, min(k, n_cols))
    """
    n_rows, n_cols = scores.shape
    rows = np.arange(n_rows)
    if k >= n_cols:
        columns = np.tile(np.arange(n_cols), (n_rows, 1))
        return _sort_rows(exact(rows, columns), columns)
    candidates = _candidate_columns(scores, k, slack)
    if candidates is None:
        candidate_scores = scores
    else:
        candidate_scores = np.take_along_axis(scores, candidates, axis=1)
        candidate_scores[candidates < 0] = np.inf
    local = np.argpartition(candidate_scores, k - 1, axis=1)[:, :k]
    bound = np.take_along_axis(candidate_scores, local, axis=1).max(axis=1)
    bound = (bound[:, None] + slack)[:, 0]
    columns = local if candidates is None else np.take_along_axis(candidates, local, 1)
    distances = exact(rows, columns)
    # A column scoring within the slack of the k-th one (a tie, or a rounding
    # error of the scores) may belong to the k nearest, and argpartition picks
    # arbitrarily among ties: such rows are redone from exact distances.
    crowded = np.count_nonzero(candidate_scores <= bound[:, None], axis=1) > k
    for row in np.flatnonzero(crowded):
        near = np.flatnonzero(candidate_scores[row] <= bound[row])
        if candidates is not None:
            near = candidates[row, near]
        near_distances = exact(rows[row : row + 1], near[None, :])[0]
        best = np.lexsort((near, near_distances))[:k]
        distances[row], columns[row] = near_distances[best], near[best]
    return _sort_rows(distances, columns)


def _entries(block: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Entries ``block[rows[i], cols[i, j]]``."""
    return block[rows[:, None], cols]


def _exact_row_distances(
    queries: np.ndarray, fitted: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Euclidean distances from ``queries[rows[i]]`` to ``fitted[cols[i, j]]``."""
    return _exact_distances(queries[rows], fitted, cols, 2)


def _brute_search_rows(
    queries: np.ndarray,
    fitted: np.ndarray,
    fitted_sq: np.ndarray | None,
    fitted_norm: float,
    k: int,
    p: int,
    span: int,
    centre: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest fitted rows of each query, ``span`` columns at a time.

    For ``p=2``, ``fitted_sq`` holds the squared norms of the fitted rows
    minus ``centre`` and ``fitted_norm`` the largest of those norms. The
    ranking uses ``||f - c||^2 - 2 (q - c).(f - c)``, one matrix product and
    one addition per entry: several times faster than the cancellation-safe
    distances of :func:`pairwise_wasserstein`, and centring keeps its rounding
    small. That rounding is bounded, so every candidate it could misplace is
    rechecked; the distances returned are computed from the rows as given
    (not centred), so equal distances stay equal and ties go to the smaller
    index.
    """
    if p == 2:
        centred_queries = queries - centre
        reach = fitted_norm + np.linalg.norm(centred_queries, axis=1)
        # A score is within (n_dims + 1) * eps * (|q| + |f|)^2 of its exact
        # value; two scores are compared, and a factor of 4 is kept in reserve.
        slack = 8 * queries.shape[1] * np.finfo(np.float64).eps * reach[:, None] ** 2
        scaled_queries = -2.0 * centred_queries
    best_distances = best_indices = None
    for start in range(0, fitted.shape[0], span):
        part = fitted[start : start + span]
        if p == 1:
            block = pairwise_wasserstein(
                queries,
                part,
                p=1,
                n_jobs=1,
                working_memory=_ROWS_PER_TASK * span * 8 / 2**20,
            )
            distances, indices = _top_k(block, k, 0.0, partial(_entries, block))
        else:
            block = scaled_queries @ (part - centre).T
            block += fitted_sq[start : start + span]
            exact = partial(_exact_row_distances, queries, part)
            distances, indices = _top_k(block, k, slack, exact)
        indices += start
        if best_distances is not None:
            distances, indices = _sort_rows(
                np.hstack((best_distances, distances)),
                np.hstack((best_indices, indices)),
            )
            distances, indices = distances[:, :k], indices[:, :k]
        best_distances, best_indices = distances, indices
    return best_distances, best_indices


class WassersteinKNeighborsTransformer(
    DocumentationLinkMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Sparse graph of the k nearest neighbours under the Wasserstein distance.

    scikit-learn's :class:`~sklearn.neighbors.KNeighborsTransformer` for the
    output of ``WassersteinSequenceEmbedder.transform``: the graph links each
    sequence to its nearest training sequences under the learned ``W_p``
    distance (the Euclidean distance between embeddings for ``p=2``, the
    Manhattan distance for ``p=1``), so that estimators accepting a sparse
    ``metric="precomputed"`` graph (k-NN, DBSCAN, TSNE, Isomap, spectral
    clustering with ``affinity="precomputed_nearest_neighbors"``) can follow it
    in a :class:`~sklearn.pipeline.Pipeline` and scale to data sets whose dense
    distance matrix would not fit in memory.

    The graph, its layout and its self-inclusion convention are those of
    scikit-learn: in ``"distance"`` mode each row holds ``n_neighbors + 1``
    neighbours, because a training sample is its own nearest neighbour, at an
    explicit distance of 0, when the training data are transformed;
    :meth:`kneighbors` and :meth:`kneighbors_graph` called without ``X`` leave
    each sample out of its own neighbours instead.

    Parameters
    ----------
    mode : {"distance", "connectivity"}, default="distance"
        Type of returned matrix: ``"connectivity"`` returns ones for the
        neighbours, ``"distance"`` their ``W_p`` distances (not ``W_p^p``).
    n_neighbors : int, default=5
        Number of neighbours of each sample in the transformed sparse graph. As
        in scikit-learn, each sample is considered its own neighbour, so one
        extra neighbour is computed in ``"distance"`` mode: the graph then holds
        ``n_neighbors + 1`` neighbours per row.
    algorithm : {"auto", "brute", "faiss"}, default="auto"
        Algorithm used to find the neighbours:

        - ``"brute"``: exact search, processing the queries in blocks sized by
          scikit-learn's ``working_memory`` setting and keeping the nearest
          neighbours of each block, so that no ``n x n`` matrix is ever held.
          Among equal distances the sample with the smaller index comes first.
        - ``"faiss"``: approximate search with `FAISS
          <https://github.com/facebookresearch/faiss>`_ (optional dependency
          ``faiss-cpu``), with the index chosen by ``faiss_index``. The
          neighbours found may miss some true ones; their distances are exact.
        - ``"auto"``: ``"brute"`` when fewer than
          ``AUTO_BRUTE_MAX_SAMPLES = 50_000`` samples are fitted or FAISS is not
          installed, ``"faiss"`` otherwise, with a ``UserWarning`` that the
          neighbours are approximate (pass ``"faiss"`` to choose it silently).
    p : {1, 2} or "auto", default="auto"
        Order of the Wasserstein distance. ``"auto"`` takes the ``p`` the
        embedder was trained with when ``fit`` is handed its ``transform`` output
        (or a view of it, or a DataFrame holding it without a copy, as
        ``set_output(transform="pandas")`` does), as inside a Pipeline, so that
        the distance is the learned one. For other arrays (embeddings saved and
        loaded, re-indexed, copied, or cached by ``Pipeline(memory=...)``) it
        warns and uses 1, the embedder's default: pass the embedder's ``p_``
        for those. An explicit ``p`` is refused for embeddings known to come
        from an embedder of another order.
    n_jobs : int, default=None
        Number of parallel jobs for the neighbour search. With ``"brute"``,
        joblib threads over blocks of queries (``None`` means 1 unless in a
        :func:`joblib.parallel_config` context; for ``p=2`` the BLAS library
        already uses several cores). With ``"faiss"``, the number of OpenMP
        threads of FAISS; ``None`` keeps FAISS's default (all cores).
    faiss_index : {"ivf", "hnsw"}, default="ivf"
        FAISS index used by ``algorithm="faiss"``:

        - ``"ivf"``: an inverted file (``IndexIVFFlat``) of
          ``round(2 * sqrt(n_samples_fit))`` lists (at most one per 39
          samples), whose centroids are found by 10 iterations of k-means on a
          random subsample of at most 64 samples per list; a query scans the
          ``n_probe`` lists nearest to it. Building takes time linear in
          ``n_samples_fit``, a search of all of them about ``n_samples_fit **
          1.5``. Suited to millions of samples.
        - ``"hnsw"``: a hierarchical navigable small-world graph
          (``IndexHNSWFlat``, 32 links per node), searched with a candidate list
          of ``ef_search``. No training, usually a higher recall at a given speed,
          but slower to build and larger in memory.
    n_probe : int, default=16
        Number of inverted lists a query scans with ``faiss_index="ivf"``: the
        recall/speed knob. The search time grows about linearly with it, and a
        value of at least the number of lists (``n_lists_``) scans every
        sample: exact up to FAISS's float32 ranking (the distances returned
        are exact, but candidates closer than float32 can tell apart may come
        in any order, and FAISS indexes the rows in float32 after subtracting
        their mean, so a tight cluster far smaller than the data's spread, say
        1e-9 of it, looks like one point and its members are found in any
        order, true neighbours left out; use ``algorithm="brute"`` for such
        data). On the ``p=2`` embeddings of
        ``benchmarks/scale.py`` (the default order then), recall@10 with the
        default was 0.998, 0.991, 0.985 and 0.969 for 10^4, 10^5, 2 * 10^5 and
        10^6 samples (0.96 with ``n_probe=12`` and 0.997 with 24 at 2 * 10^5):
        it falls slowly as ``n_samples_fit`` grows. With ``p=1`` (Manhattan)
        it is a little lower: 0.984 and 0.941 at 10^4 and 10^5 on a
        400-dimensional embedding where ``p=2`` gave 0.990 and 0.956, and
        0.993 at 10^5 with ``n_probe=32``. Read at search time, so it can be
        changed with ``set_params`` without refitting.
    ef_search : int, default=64
        Size of the candidate list of a query with ``faiss_index="hnsw"`` (at
        least the number of neighbours searched): the recall/speed knob of HNSW.
        Read at search time, like ``n_probe``.
    random_state : int, RandomState instance or None, default=None
        Seeds the training subsample and the k-means of the ``"ivf"`` index.
        Pass an int for a reproducible index. Unused by the other algorithms.

    Attributes
    ----------
    algorithm_ : {"brute", "faiss"}
        The algorithm used, after resolving ``"auto"``.
    p_ : int
        The order used: ``p``, or what ``"auto"`` resolved to in ``fit``.
    effective_metric_ : {"euclidean", "manhattan"}
        The distance between embeddings that equals ``W_p``.
    effective_metric_params_ : dict
        Additional keyword arguments of the metric: always empty.
    index_ : faiss.Index or None
        The FAISS index, or None when ``algorithm_ == "brute"``.
    n_lists_ : int or None
        Number of inverted lists of the ``"ivf"`` index, else None.
    n_training_samples_ : int or None
        Number of samples the k-means of the ``"ivf"`` index was trained on:
        ``min(n_samples_fit_, 64 * n_lists_)``, or 0 with one list (fewer
        than 78 samples), which needs no k-means; None without that index.
    n_features_in_ : int
        Number of embedding dimensions seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the embedding dimensions seen during ``fit``. Defined only
        when ``X`` has feature names that are all strings.
    n_samples_fit_ : int
        Number of samples in the fitted data.

    See Also
    --------
    sklearn.neighbors.KNeighborsTransformer : The same graph for other metrics.
    WassersteinDistanceTransformer : The dense matrix of all distances.
    pairwise_wasserstein : The same distances, as a dense matrix.

    Notes
    -----
    The exact search works on blocks of 512 queries by as many fitted samples
    as ``working_memory`` allows (``sklearn.get_config()["working_memory"]``
    MiB, set with :func:`sklearn.config_context`), so its memory does not grow
    with the square of the number of samples. For ``p=1`` a block holds the
    distances of :func:`pairwise_wasserstein`. For ``p=2`` it is ranked, as in
    scikit-learn, by ``||f||^2 - 2 q.f`` (one matrix product); the distances of
    the nearest candidates, and of every candidate within the bounded rounding
    error of that ranking, are then computed from differences, so that neither
    near-duplicates nor data far from the origin lose neighbours to
    cancellation. The graph is that of ``KNeighborsTransformer(metric=
    "euclidean")`` (``p=2``) or ``metric="manhattan"`` (``p=1``) with
    ``algorithm="brute"``, except that ties are always broken by index and that
    a sample's distance to itself is exactly 0. The fitted embeddings are kept
    as a float64 copy.

    Differences from :class:`~sklearn.neighbors.KNeighborsTransformer`: the
    metric is set by ``p`` (``metric``, ``metric_params`` and ``leaf_size`` do
    not apply), the input is a dense array of embeddings (not a sparse matrix),
    the fitted embeddings are copied, and the ``"ball_tree"`` and ``"kd_tree"``
    algorithms are replaced by ``"faiss"``.

    The ``"ivf"`` index has about ``2 * sqrt(n_samples_fit)`` lists because a
    query then compares itself with about ``2 * sqrt(n_samples_fit)``
    centroids and ``n_probe * sqrt(n_samples_fit) / 2`` samples, and training
    the k-means on a fixed number of samples per list keeps it linear in
    ``n_samples_fit``; the search of all samples dominates the time of
    :meth:`fit_transform`. The IVF search takes the queries in the order of
    their nearest list, so that consecutive queries scan mostly the same lists,
    still in the CPU caches; the neighbours found do not depend on this order.

    FAISS searches in float32 and may miss true neighbours; the distances of the
    neighbours it finds are recomputed exactly in float64, and a query for which
    it finds fewer than the requested number of neighbours is answered by the
    exact search. The HNSW index is built in parallel, so unless FAISS runs on
    one thread (``n_jobs=1``) it may differ slightly between fits. The FAISS
    index is serialised when the transformer is pickled.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_wdist import WassersteinKNeighborsTransformer
    >>> E = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 3.0], [4.0, 3.0]])
    >>> transformer = WassersteinKNeighborsTransformer(n_neighbors=1, p=2)
    >>> graph = transformer.fit_transform(E)
    >>> graph.toarray()
    array([[0., 1., 0., 0.],
           [1., 0., 0., 0.],
           [0., 2., 0., 0.],
           [0., 0., 4., 0.]])

    Each row stores ``n_neighbors + 1`` entries, the first being the sample
    itself at distance 0; without ``X``, :meth:`kneighbors` leaves it out:

    >>> graph.nnz
    8
    >>> distances, indices = transformer.kneighbors()
    >>> indices.ravel().tolist(), distances.ravel().tolist()
    ([1, 0, 1, 2], [1.0, 1.0, 2.0, 4.0])

    In a pipeline, after the embedder:

    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> model = make_pipeline(
    ...     FunctionTransformer(),  # stands in for WassersteinSequenceEmbedder
    ...     WassersteinKNeighborsTransformer(n_neighbors=2, p=1),
    ...     KNeighborsClassifier(n_neighbors=2, metric="precomputed"),
    ... )
    >>> model.fit(E, [0, 0, 1, 1]).predict(np.array([[0.0, 0.5], [4.0, 4.0]]))
    array([0, 1])
    """

    _parameter_constraints: ClassVar[dict] = {
        "mode": [StrOptions({"distance", "connectivity"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "algorithm": [StrOptions({"auto", "brute", "faiss"})],
        "p": [Options(Integral, {1, 2}), StrOptions({"auto"})],
        "n_jobs": [Integral, None],
        "faiss_index": [StrOptions({"ivf", "hnsw"})],
        "n_probe": [Interval(Integral, 1, None, closed="left")],
        "ef_search": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        mode="distance",
        n_neighbors=5,
        algorithm="auto",
        p="auto",
        n_jobs=None,
        faiss_index="ivf",
        n_probe=16,
        ef_search=64,
        random_state=None,
    ):
        self.mode = mode
        self.n_neighbors = n_neighbors
        self.algorithm = algorithm
        self.p = p
        self.n_jobs = n_jobs
        self.faiss_index = faiss_index
        self.n_probe = n_probe
        self.ef_search = ef_search
        self.random_state = random_state

    # ------------------------------------------------------------------ #
    # Fitting
    # ------------------------------------------------------------------ #
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> WassersteinKNeighborsTransformer:
        """Store the embeddings to search and, for FAISS, build the index.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings of the training sequences, e.g. the embedder's output.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : WassersteinKNeighborsTransformer
            The fitted transformer.
        """
        # The constraints above let booleans and n_jobs=0 through; the FAISS
        # knobs are read again at search time (set_params may change them).
        check_int(self.n_neighbors, "n_neighbors", minimum=1)
        check_int(self.n_probe, "n_probe", minimum=1)
        check_int(self.ef_search, "ef_search", minimum=1)
        check_n_jobs(self.n_jobs)
        # The order recorded on the caller's array, once the data passed: bad
        # input gets its error without a p="auto" warning first.
        validated = validate_data(self, X, dtype=[np.float64, np.float32])
        p = resolve_order(self.p, X)
        # Whether p_ is the fallback of p="auto", for later messages.
        self._p_guessed = self.p == "auto" and embedding_order(X) is None
        X = validated
        # The embeddings are kept in float64, divided by a power of two (which
        # changes no significant bit) so that squares neither overflow nor
        # underflow. This is a copy, so later changes to the caller's array do
        # not move the graph. They are not centred: centring rounds, so equal
        # distances would come out a unit in the last place apart and ties
        # would no longer go to the smaller index. The p=2 ranking and FAISS
        # centre block by block (distances are translation invariant, and
        # centring reduces their rounding).
        self._unit = power_of_two_unit(float(np.abs(X).max()))
        fitted = X.astype(np.float64)  # float32 / float64 is float32 in NumPy 1
        fitted /= self._unit
        self._centre = fitted.mean(axis=0)
        self._fit_X = fitted
        self._query_shift = None  # see __setstate__
        self._fit_sq = self._centred_squared_norms() if p == 2 else None
        self._fit_norm = 0.0 if p == 1 else float(np.sqrt(self._fit_sq.max()))
        self.p_ = p
        self.n_samples_fit_ = X.shape[0]
        self.effective_metric_ = _METRICS[p]
        self.effective_metric_params_ = {}
        self.algorithm_ = self._resolve_algorithm()
        self.index_ = None
        self.n_lists_ = None
        self.n_training_samples_ = None
        if self.algorithm_ == "faiss":
            self._build_faiss_index()
        return self

    def _resolve_algorithm(self) -> str:
        if self.algorithm != "auto":
            return self.algorithm
        if self.n_samples_fit_ < AUTO_BRUTE_MAX_SAMPLES:
            return "brute"
        try:
            _import_faiss()
        except ImportError:
            return "brute"
        warnings.warn(
            f"algorithm='auto' chose FAISS's approximate search for "
            f"{self.n_samples_fit_} samples (at least {AUTO_BRUTE_MAX_SAMPLES}): "
            "some true neighbours may be missed (recall@10 0.94 to 0.998 on "
            "learned embeddings, see n_probe; lower on unstructured data). Pass "
            "algorithm='faiss' to choose it and silence this warning, or "
            "algorithm='brute' for exact neighbours.",
            UserWarning,
            stacklevel=4,  # _resolve_algorithm, fit, scikit-learn's wrapper, caller
        )
        return "faiss"

    def _centred_squared_norms(self) -> np.ndarray:
        """Squared norms of the fitted rows minus their mean, block by block."""
        fitted = self._fit_X
        rows = _copy_block_rows(fitted.shape[1], np.dtype(np.float64).itemsize)
        norms = np.empty(fitted.shape[0])
        for start in range(0, fitted.shape[0], rows):
            block = fitted[start : start + rows] - self._centre
            norms[start : start + rows] = np.einsum("ij,ij->i", block, block)
        return norms

    def _build_faiss_index(self) -> None:
        faiss = _import_faiss()
        data = self._fit_X
        n_samples, n_dims = data.shape
        metric = faiss.METRIC_L2 if self.p_ == 2 else faiss.METRIC_L1
        with _faiss_threads(faiss, self.n_jobs):
            if self.faiss_index == "hnsw":
                index = faiss.index_factory(n_dims, f"HNSW{_HNSW_LINKS}", metric)
            else:
                n_lists = _n_lists(n_samples)
                index = faiss.index_factory(n_dims, f"IVF{n_lists},Flat", metric)
                self.n_lists_ = n_lists
                self.n_training_samples_ = self._train_ivf(index, n_lists)
            # FAISS copies what it is given: the float32 rows are made a block
            # at a time, so fitting holds the index and one block beside the
            # fitted embeddings, not a float32 copy of all of them as well.
            rows = _copy_block_rows(n_dims, np.dtype(np.float32).itemsize)
            for start in range(0, n_samples, rows):
                index.add(
                    (data[start : start + rows] - self._centre).astype(np.float32)
                )
        self.index_ = index

    def _train_ivf(self, index, n_lists: int) -> int:
        """Train the coarse quantizer of ``index``; return the samples used."""
        faiss = _import_faiss()
        data = self._fit_X
        n_samples, n_dims = data.shape
        ivf = faiss.extract_index_ivf(index)
        if n_lists == 1:
            # One list holds every sample wherever its centroid lies: no
            # k-means (FAISS's would warn on stderr about too few points).
            ivf.quantizer.add(np.zeros((1, n_dims), dtype=np.float32))
            ivf.is_trained = True
            return 0
        rng = check_random_state(self.random_state)
        ivf.cp.seed = int(rng.randint(2**31 - 1))
        ivf.cp.niter = _KMEANS_ITERATIONS
        # Fewer points per list than FAISS's own subsampling threshold (256):
        # the subsample drawn here is the whole training set.
        n_training = min(n_samples, _TRAIN_POINTS_PER_LIST * n_lists)
        training = (
            np.sort(rng.choice(n_samples, n_training, replace=False))
            if n_training < n_samples
            else slice(None)
        )
        index.train((data[training] - self._centre).astype(np.float32))
        return n_training

    # ------------------------------------------------------------------ #
    # Searching
    # ------------------------------------------------------------------ #
    def kneighbors(
        self, X: Any = None, n_neighbors: int | None = None, return_distance=True
    ) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
        """Find the nearest fitted samples of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            The query embeddings. If None, the neighbours of each fitted sample
            are returned, the sample itself not being its own neighbour (with
            more exact duplicates than neighbours, the duplicates with the
            smallest indices, where scikit-learn skips the first of them).
        n_neighbors : int, default=None
            Number of neighbours of each query; defaults to ``self.n_neighbors``.
        return_distance : bool, default=True
            Whether to return the distances.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            ``W_p`` distances to the neighbours, in increasing order (float64);
            only present if ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors)
            Indices of the neighbours among the fitted samples.
        """
        check_is_fitted(self)
        n_neighbors = check_int(
            self.n_neighbors if n_neighbors is None else n_neighbors,
            "n_neighbors",
            minimum=1,
        )
        query_is_train = X is None
        if query_is_train:
            queries = self._fit_X
            # One more neighbour: the sample itself, removed below.
            n_neighbors += 1
        else:
            check_embedding_order(
                X, self.p_, guessed=getattr(self, "_p_guessed", False)
            )
            # The queries are scaled in float64 one block at a time
            # (_search), so no float64 copy of all of them is ever made.
            queries = validate_data(
                self, X, dtype=[np.float64, np.float32], reset=False
            )

        n_samples_fit = self.n_samples_fit_
        if n_neighbors > n_samples_fit:
            if query_is_train:
                n_neighbors -= 1
                inequality = "n_neighbors < n_samples_fit"
            else:
                inequality = "n_neighbors <= n_samples_fit"
            raise ValueError(
                f"Expected {inequality}, but n_neighbors = {n_neighbors}, "
                f"n_samples_fit = {n_samples_fit}, n_samples = {queries.shape[0]}"
            )

        neigh_dist, neigh_ind = self._search(
            queries, n_neighbors, scaled=query_is_train
        )
        neigh_dist *= self._unit

        if query_is_train:
            # Drop each sample from its own neighbours. When duplicates with
            # smaller indices fill the list before it (ties go to the smaller
            # index), drop the last one instead: the rest are then the first
            # neighbours without the sample, ties in index order as documented
            # (scikit-learn drops the first, the one with the smallest index).
            n_queries = queries.shape[0]
            sample_mask = neigh_ind != np.arange(n_queries)[:, None]
            sample_mask[:, -1][np.all(sample_mask, axis=1)] = False
            neigh_ind = neigh_ind[sample_mask].reshape(n_queries, n_neighbors - 1)
            neigh_dist = neigh_dist[sample_mask].reshape(n_queries, n_neighbors - 1)
        if return_distance:
            return neigh_dist, neigh_ind
        return neigh_ind

    def kneighbors_graph(
        self, X: Any = None, n_neighbors: int | None = None, mode="connectivity"
    ) -> Any:
        """Compute the (weighted) graph of k-neighbours of the queries.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            The query embeddings. If None, the neighbours of each fitted sample,
            the sample itself not being its own neighbour.
        n_neighbors : int, default=None
            Number of neighbours of each query; defaults to ``self.n_neighbors``.
        mode : {"connectivity", "distance"}, default="connectivity"
            ``"connectivity"`` stores ones, ``"distance"`` the ``W_p`` distances.

        Returns
        -------
        graph : sparse matrix of shape (n_queries, n_samples_fit)
            CSR matrix whose row ``i`` holds the neighbours of query ``i`` in
            increasing distance (indices are not sorted). Its sparse interface
            (``csr_matrix`` or ``csr_array``) follows scikit-learn's
            ``sparse_interface`` setting where it has one.
        """
        check_is_fitted(self)
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        if mode == "connectivity":
            neigh_ind = self.kneighbors(X, n_neighbors, return_distance=False)
            data = np.ones(neigh_ind.size)
        elif mode == "distance":
            neigh_dist, neigh_ind = self.kneighbors(X, n_neighbors)
            data = np.ravel(neigh_dist)
        else:
            raise ValueError(
                'Unsupported mode, must be one of "connectivity", '
                f'or "distance" but got "{mode}" instead'
            )
        n_queries, width = neigh_ind.shape
        indptr = np.arange(0, n_queries * width + 1, width)
        graph = csr_array(
            (data, neigh_ind.ravel(), indptr), shape=(n_queries, self.n_samples_fit_)
        )
        return _align_api_if_sparse(graph)

    def _search(
        self, queries: np.ndarray, n_neighbors: int, scaled: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Search all queries, scaling them block by block.

        Queries that are not ``scaled`` (the caller's) become float64 copies
        one block at a time, a block taking at most a quarter of
        ``working_memory``, so the memory of a search is the output and a
        block, not a float64 copy of every query.
        """
        search = (
            self._faiss_kneighbors
            if self.algorithm_ == "faiss"
            else self._brute_kneighbors
        )
        if scaled:
            return search(queries, n_neighbors)
        n_queries, n_dims = queries.shape
        rows = _copy_block_rows(n_dims, np.dtype(np.float64).itemsize)
        neigh_dist = np.empty((n_queries, n_neighbors))
        neigh_ind = np.empty((n_queries, n_neighbors), dtype=np.intp)
        for start in range(0, n_queries, rows):
            block = queries[start : start + rows].astype(np.float64)
            peak = max(float(block.max(initial=0.0)), -float(block.min(initial=0.0)))
            # p=2 squares the queries in the fitted rows' unit; p=1 only sums
            # differences, which overflow only far beyond that.
            limit = _QUERY_RANGE_EXPONENT if self.p_ == 2 else _P1_QUERY_RANGE_EXPONENT
            if peak > 0 and math.frexp(peak)[1] - math.frexp(self._unit)[1] > limit:
                # In the fitted rows' unit such queries overflow the search.
                raise ValueError(
                    f"X has values up to {peak:.3g}, more than 2**"
                    f"{limit} times the fitted embeddings' "
                    f"largest (below {self._unit:.3g}); the search would "
                    "overflow. Fit and query embeddings of one scale."
                )
            block /= self._unit
            if self._query_shift is not None:  # rows pickled centred
                block -= self._query_shift
            stop = start + block.shape[0]
            neigh_dist[start:stop], neigh_ind[start:stop] = search(block, n_neighbors)
        return neigh_dist, neigh_ind

    def _brute_kneighbors(
        self, queries: np.ndarray, n_neighbors: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact search of scaled queries, one task per block of 512 of them."""
        working_memory = check_working_memory(None)
        budget = working_memory * 2**20
        # Per fitted column of a task: its block entries and, for p=2, its
        # centred float64 copy.
        column_bytes = _BYTES_PER_ENTRY * _ROWS_PER_TASK
        if self.p_ == 2:
            column_bytes += 8 * self._fit_X.shape[1]
        span = int(budget // column_bytes)
        span = max(_ROWS_PER_TASK, span - span % _ROWS_PER_TASK)
        if span * column_bytes > budget:
            _warn_working_memory(working_memory, span * column_bytes)
        tasks = (
            delayed(_brute_search_rows)(
                queries[start : start + _ROWS_PER_TASK],
                self._fit_X,
                self._fit_sq,
                self._fit_norm,
                n_neighbors,
                self.p_,
                span,
                self._centre,
            )
            for start in range(0, queries.shape[0], _ROWS_PER_TASK)
        )
        # Threads: the work is BLAS and NumPy loops that release the GIL.
        results = Parallel(n_jobs=self.n_jobs, prefer="threads")(tasks)
        return (
            np.vstack([distances for distances, _ in results]),
            np.vstack([indices for _, indices in results]),
        )

    def _faiss_kneighbors(
        self, queries: np.ndarray, n_neighbors: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """FAISS search of scaled queries, with exact distances.

        Queries for which FAISS finds too few neighbours are searched exactly.
        """
        faiss = _import_faiss()
        index = self.index_
        n_queries, n_dims = queries.shape
        if self.n_lists_ is not None:
            n_probe = check_int(self.n_probe, "n_probe", minimum=1)
            index.nprobe = min(n_probe, self.n_lists_)
            # A search block holds its centred float64 queries, their float32
            # copy (and its sorted copy), their n_probe nearest lists and the
            # neighbours found, each twice.
            search_row_bytes = 16 * n_dims + 24 * index.nprobe + 24 * n_neighbors
        else:
            ef_search = check_int(self.ef_search, "ef_search", minimum=1)
            index.hnsw.efSearch = max(ef_search, n_neighbors)
            search_row_bytes = 12 * n_dims + 12 * n_neighbors  # float64, float32
        budget = check_working_memory(None) * 2**20
        # Rows per chunk: the exact recomputation gathers n_neighbors embeddings
        # (and their differences to the query) per row.
        rows = max(1, int(budget // (16 * n_neighbors * n_dims)))
        block_rows = max(rows, int(budget // search_row_bytes))
        neigh_dist = np.empty((n_queries, n_neighbors))
        neigh_ind = np.empty((n_queries, n_neighbors), dtype=np.intp)
        with _faiss_threads(faiss, self.n_jobs):
            for block_start in range(0, n_queries, block_rows):
                block = queries[block_start : block_start + block_rows]
                found_block = self._faiss_search(block, n_neighbors)
                for start in range(0, block.shape[0], rows):
                    chunk = block[start : start + rows]
                    found = found_block[start : start + rows].astype(np.intp)
                    # FAISS marks missing neighbours with -1 (an IVF search whose
                    # scanned lists hold fewer samples than requested).
                    short = np.flatnonzero((found < 0).any(axis=1))
                    found[short] = 0
                    distances = _exact_distances(chunk, self._fit_X, found, self.p_)
                    distances, found = _sort_rows(distances, found)
                    if short.size:
                        distances[short], found[short] = self._brute_kneighbors(
                            chunk[short], n_neighbors
                        )
                    stop = block_start + start + chunk.shape[0]
                    neigh_dist[block_start + start : stop] = distances
                    neigh_ind[block_start + start : stop] = found
        return neigh_dist, neigh_ind

    def _faiss_search(self, queries: np.ndarray, n_neighbors: int) -> np.ndarray:
        """Return the neighbours FAISS finds for scaled queries (-1 for none).

        An IVF search visits the queries grouped by their nearest list: queries
        of the same list scan nearly the same lists, which then stay in the CPU
        caches from one query to the next. The neighbours found are those of a
        search in the given order.
        """
        index = self.index_
        queries = (queries - self._centre).astype(np.float32)  # as indexed
        if self.n_lists_ is None:
            return index.search(queries, n_neighbors)[1]
        list_distances, lists = index.quantizer.search(queries, index.nprobe)
        order = np.argsort(lists[:, 0], kind="stable")
        _, found = index.search_preassigned(
            queries[order], n_neighbors, lists[order], list_distances[order]
        )
        neighbours = np.empty_like(found)
        neighbours[order] = found
        return neighbours

    # ------------------------------------------------------------------ #
    # Transforming
    # ------------------------------------------------------------------ #
    def transform(self, X: Any) -> Any:
        """Compute the graph of nearest fitted samples of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query embeddings.

        Returns
        -------
        Xt : sparse matrix of shape (n_queries, n_samples_fit)
            ``Xt[i, j]`` is the weight of the edge from query ``i`` to fitted
            sample ``j``: its ``W_p`` distance, or 1 in ``"connectivity"`` mode.
            Only the neighbours have an explicit value; in ``"distance"`` mode
            each row has ``n_neighbors + 1`` of them, so a fitted sample keeps
            itself, at an explicit distance of 0 (among exact duplicates the
            smaller indices come first, so with more than ``n_neighbors + 1``
            copies of a sample its row may hold the first copies instead of
            the sample itself). CSR format.
        """
        check_is_fitted(self)
        add_one = self.mode == "distance"
        if self.n_neighbors + add_one > self.n_samples_fit_:
            raise ValueError(
                f"n_neighbors={self.n_neighbors} needs at least "
                f"{self.n_neighbors + add_one} fitted samples"
                + (
                    " in mode='distance', where each row also holds the sample itself"
                    if add_one
                    else ""
                )
                + f"; {self.n_samples_fit_} were fitted."
            )
        return self.kneighbors_graph(
            X, mode=self.mode, n_neighbors=self.n_neighbors + add_one
        )

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        """Fit to ``X``, then return the graph of its samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings of the training sequences.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        Xt : sparse matrix of shape (n_samples, n_samples)
            The graph of :meth:`transform`: each sample is its own first
            neighbour, at an explicit distance of 0 in ``"distance"`` mode
            (exact duplicates with smaller indices come before it, and with
            more than ``n_neighbors + 1`` copies they may fill its row).
        """
        return self.fit(X).transform(X)

    @property
    def _n_features_out(self) -> int:
        """Number of output columns, one per fitted sample."""
        return self.n_samples_fit_

    # ------------------------------------------------------------------ #
    # Pickling: FAISS indexes are C++ objects, stored as bytes.
    # ------------------------------------------------------------------ #
    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        if state.get("index_") is not None:
            state["index_"] = _import_faiss().serialize_index(state["index_"])
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        if isinstance(state.get("index_"), np.ndarray):
            state["index_"] = _import_faiss().deserialize_index(state["index_"])
        if "_p" in state:  # pickled before the order became the public p_
            state["p_"] = state.pop("_p")
        if "_fit_X" in state and "_query_shift" not in state:
            # Pickled when the fitted rows were kept centred: adding the centre
            # back would round them (a sample's distance to itself would no
            # longer be 0), so they stay as they are and the queries are
            # shifted the same way; FAISS indexed those rows. Under NumPy 1
            # they may be float32, which misranked p=2 neighbours.
            state["_fit_X"] = np.asarray(state["_fit_X"], dtype=np.float64)
            state["_query_shift"] = np.asarray(state["_centre"], dtype=np.float64)
            state["_centre"] = np.zeros_like(state["_query_shift"])
            refresh_norms = state.get("_fit_sq") is not None
        else:
            refresh_norms = False
        super().__setstate__(state)
        if refresh_norms:
            self._fit_sq = self._centred_squared_norms()
            self._fit_norm = float(np.sqrt(self._fit_sq.max()))

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags
