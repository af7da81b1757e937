"""Leave-one-out retrieval scores over a square distance matrix.

Every item is used in turn as a query; the other ``n - 1`` items form the
database it is ranked against. Items at equal distance from a query are
ranked so that every score here is deterministic: for MAP@R and precision
at 1, items of other classes come before the query's own class among them (a
tie is no success, and the score does not depend on the order of the items);
for the k-NN vote, by increasing index.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from numpy.typing import ArrayLike

from .._validation import check_distances_and_labels, check_n_neighbors

__all__ = ["knn_loo_accuracy", "mean_average_precision_at_r", "precision_at_1"]

# Rows of the distance matrix are processed in blocks of about this many
# entries, which bounds the temporary memory of the sorting steps.
_CHUNK_ELEMENTS = 2**22


def _row_chunks(n_samples: int, n_rows: int | None = None) -> Iterator[np.ndarray]:
    """Yield blocks of row indices covering ``range(n_rows)`` (all by default).

    A block holds about ``_CHUNK_ELEMENTS`` entries of rows ``n_samples`` long.
    """
    n_rows = n_samples if n_rows is None else n_rows
    step = max(1, _CHUNK_ELEMENTS // n_samples)
    for start in range(0, n_rows, step):
        yield np.arange(start, min(start + step, n_rows))


def _query_block(distances: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Copy ``distances[rows]`` with each query's own entry set to ``+inf``."""
    block = distances[rows]  # fancy indexing copies
    block[np.arange(rows.size), rows] = np.inf
    return block


def _sorted_neighbors(
    block: np.ndarray, k: int, demoted: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Return the ``k`` nearest columns of each row, nearest first.

    Columns are ordered by increasing distance, and equal distances by
    increasing column index; with ``demoted``, the columns of the query's own
    class come after the others among equal distances.

    Parameters
    ----------
    block : ndarray of shape (n_queries, n_samples)
        Distances from each query to every item, with the query's own entry
        set to ``+inf`` (all other entries finite).
    k : int
        Number of neighbours, ``1 <= k <= n_samples - 1``.
    demoted : (query_codes, codes), optional
        Class codes of the queries (n_queries,) and of the items (n_samples,).

    Returns
    -------
    neighbors : ndarray of shape (n_queries, k)
        Column indices of the nearest items.
    """
    n_samples = block.shape[1]
    if 3 * k < 2 * n_samples:
        # Keep only the candidates: every column at most as far as the k-th
        # nearest one (ties at the k-th distance included), then sort those.
        kth = np.partition(block, k - 1, axis=1)[:, k - 1]
        n_candidates = int(np.count_nonzero(block <= kth[:, None], axis=1).max())
        candidates = np.argpartition(block, n_candidates - 1, axis=1)
        candidates = candidates[:, :n_candidates]
        values = np.take_along_axis(block, candidates, axis=1)
        order = np.argsort(values, axis=1)
        index = np.take_along_axis(candidates, order, axis=1)
        sorted_values = np.take_along_axis(values, order, axis=1)
    else:
        index = np.argsort(block, axis=1)
        sorted_values = np.take_along_axis(block, index, axis=1)
    # The sort above is not stable. Number the runs of equal distances and sort
    # the integer keys (run, index): runs keep their place and the indices
    # inside each run become increasing.
    runs = np.zeros(sorted_values.shape, dtype=np.int64)
    np.cumsum(sorted_values[:, 1:] != sorted_values[:, :-1], axis=1, out=runs[:, 1:])
    if demoted is not None:  # (run, same class, index)
        query_codes, codes = demoted
        runs = 2 * runs + (codes[index] == query_codes[:, None])
    keys = runs * n_samples + index
    keys.sort(axis=1)
    keys %= n_samples
    return keys[:, :k]


def precision_at_1(distances: ArrayLike, labels: ArrayLike) -> float:
    """Leave-one-out precision at 1 of a square distance matrix.

    Each item is a query in turn; the score is the fraction of queries whose
    nearest *other* item has the same label, over the queries that have
    another item of their label (as in MAP@R and in Musgrave et al.; a query
    alone in its class has nothing to retrieve).

    Parameters
    ----------
    distances : array-like of shape (n_samples, n_samples)
        Finite, non-negative distances, ``distances[i, j]`` from query ``i``
        to item ``j``; ``n_samples >= 2``. The diagonal is ignored and the
        matrix need not be symmetric.
    labels : array-like of shape (n_samples,)
        Hashable class label of each item (integers, strings, ...). At least
        one label must occur twice.

    Returns
    -------
    score : float
        Precision at 1, in ``[0, 1]``.

    Raises
    ------
    ValueError
        If every label is unique, so that no query has another item of its
        label, or if all items share one label (the score would be 1).

    See Also
    --------
    mean_average_precision_at_r : Ranks all same-class items, not only the first.
    knn_loo_accuracy : Majority vote over ``n_neighbors`` nearest items.

    Notes
    -----
    A query scores only when an item of its label is strictly nearer than
    every item of another label: a tie at the smallest distance counts as a
    miss, whatever the order of the items (a collapsed embedding, all
    distances equal, scores 0). Without ties and without lone queries the
    score equals ``knn_loo_accuracy(distances, labels, n_neighbors=1)``.

    References
    ----------
    .. [1] K. Musgrave, S. Belongie and S.-N. Lim, "A Metric Learning Reality
       Check", European Conference on Computer Vision (ECCV), 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_wdist.metrics import precision_at_1
    >>> distances = np.array([[0.0, 1.0, 4.0, 5.0],
    ...                       [1.0, 0.0, 2.0, 6.0],
    ...                       [4.0, 2.0, 0.0, 3.0],
    ...                       [5.0, 6.0, 3.0, 0.0]])
    >>> precision_at_1(distances, ["a", "a", "b", "b"])
    0.75
    """
    matrix, codes = check_distances_and_labels(distances, labels)
    check_retrieval_labels(codes, "labels", "items", "precision at 1")
    n_samples = matrix.shape[0]
    scored = np.bincount(codes)[codes] > 1
    n_hits = 0
    for rows in _row_chunks(n_samples):
        rows = rows[scored[rows]]
        if rows.size == 0:
            continue
        block = _query_block(matrix, rows)  # a copy
        nearest = block.min(axis=1)
        # A hit: the nearest item is nearer than every item of another label.
        block[codes[None, :] == codes[rows][:, None]] = np.inf
        n_hits += int(np.count_nonzero(nearest < block.min(axis=1)))
    return n_hits / int(np.count_nonzero(scored))


def mean_average_precision_at_r(distances: ArrayLike, labels: ArrayLike) -> float:
    """Leave-one-out mean average precision at R (MAP@R).

    For a query with ``R`` other items of its class, rank the other items by
    distance and take the ``R`` nearest; with ``rel(i) = 1`` when the item at
    rank ``i`` shares the query's label (else 0) and ``P(i)`` the fraction of
    such items among ranks ``1..i``,

    ``AP@R = (1 / R) * sum_{i=1..R} P(i) * rel(i)``.

    MAP@R is the mean of ``AP@R`` over the queries with ``R >= 1``; queries
    that are alone in their class are left out.

    Parameters
    ----------
    distances : array-like of shape (n_samples, n_samples)
        Finite, non-negative distances, ``distances[i, j]`` from query ``i``
        to item ``j``; ``n_samples >= 2``. The diagonal is ignored and the
        matrix need not be symmetric.
    labels : array-like of shape (n_samples,)
        Hashable class label of each item (integers, strings, ...). At least
        one label must occur twice.

    Returns
    -------
    score : float
        MAP@R, in ``[0, 1]``; 1 exactly when, for every query, all items of its
        class are nearer than every item of another class.

    Raises
    ------
    ValueError
        If every label is unique, so that no query has ``R >= 1``, or if all
        items share one label (the score would be 1).

    See Also
    --------
    precision_at_1 : Checks only the nearest other item.

    Notes
    -----
    Among other items at equal distance from a query, those of other labels
    are ranked first (a tie is no success), then by increasing index, so the
    score does not depend on the order of the items; a collapsed embedding,
    all distances equal, scores 0.

    References
    ----------
    .. [1] K. Musgrave, S. Belongie and S.-N. Lim, "A Metric Learning Reality
       Check", European Conference on Computer Vision (ECCV), 2020.

    Examples
    --------
    Query 0 (class ``a``, ``R = 2``) ranks items 1 (``a``), 3 (``b``), 2
    (``a``): ``AP@R = (1/1 + 0) / 2 = 0.5``. The other queries rank their
    class first (``AP@R = 1``), so MAP@R ``= (0.5 + 4) / 5 = 0.9``.

    >>> import numpy as np
    >>> from sklearn_wdist.metrics import mean_average_precision_at_r
    >>> points = np.array([0.0, 1.0, 2.0, 5.0, 6.0])
    >>> distances = np.abs(points[:, None] - points[None, :])
    >>> labels = ["a", "a", "a", "b", "b"]
    >>> distances[0, 3] = 1.5
    >>> mean_average_precision_at_r(distances, labels)
    0.9
    """
    matrix, codes = check_distances_and_labels(distances, labels)
    check_retrieval_labels(codes, "labels", "items")
    return map_at_r_of_leading_items(matrix, codes)


def check_retrieval_labels(
    codes: np.ndarray, name: str, items: str, score: str = "MAP@R"
) -> None:
    """Refuse labels that make a retrieval score undefined or trivially 1.

    No label repeats: no query has ``R >= 1``. One label: every neighbour is
    relevant, whatever the distances.
    """
    check_label_counts(
        codes,
        name,
        items,
        all_unique=f"{score} is undefined",
        one_label=f"{score} would be 1 whatever the distances",
    )


def check_label_counts(
    codes: np.ndarray,
    name: str,
    items: str,
    *,
    all_unique: str | None,
    one_label: str,
) -> None:
    """Refuse labels that are all unique, or all one, saying what follows.

    ``all_unique`` and ``one_label`` complete the messages ("..., so
    <consequence>."); ``all_unique=None`` accepts unique labels.
    """
    counts = np.bincount(codes)
    if all_unique is not None and counts.max() < 2:
        raise ValueError(
            f"{name} must contain at least one class with two or more {items}; "
            f"every label is unique, so {all_unique}."
        )
    if counts.size < 2:
        raise ValueError(
            f"{name} must contain at least two distinct classes; all {items} "
            f"share one label, so {one_label}."
        )


def map_at_r_of_leading_items(matrix: np.ndarray, codes: np.ndarray) -> float:
    """MAP@R of the first ``n_queries`` items, ranked among all items.

    ``matrix`` has shape ``(n_queries, n_items)``, ``n_queries <= n_items``:
    row ``i`` holds the distances from item ``i`` to every item, whose integer
    class codes are ``codes`` (shape ``(n_items,)``). A square matrix gives
    :func:`mean_average_precision_at_r`; fewer rows score only those queries
    against every item (held-out queries among a training gallery). NaN when
    no query has another item of its class. No input checks: private.
    """
    return map_at_r_of_row_blocks([matrix], codes, matrix.shape[0])


def map_at_r_of_row_blocks(
    blocks: Iterable[np.ndarray], codes: np.ndarray, n_queries: int
) -> float:
    """MAP@R of the first ``n_queries`` items, from row blocks of distances.

    ``blocks`` yields consecutive row blocks of the distances from the first
    ``n_queries`` items to every item (as ``pairwise_wasserstein_chunked``
    does), so that the whole matrix is never held. The rows are
    scored in the same fixed chunks however they are cut into blocks, so the
    score is the same to the last bit as that of
    :func:`map_at_r_of_leading_items` on the stacked blocks. NaN when no
    query has another item of its class. No input checks.
    """
    n_items = len(codes)
    n_relevant = np.bincount(codes)[codes[:n_queries]] - 1
    scored = int(np.count_nonzero(n_relevant))
    if scored == 0:
        return float("nan")
    total = 0.0
    chunks = _row_chunks(n_items, n_queries)
    chunk, parts = next(chunks, None), []
    stop = 0
    for block in blocks:
        start, stop = stop, stop + block.shape[0]
        while chunk is not None:
            low, high = int(chunk[0]), int(chunk[-1]) + 1
            if max(low, start) < min(high, stop):
                parts.append(block[max(low, start) - start : min(high, stop) - start])
            if high > stop:
                break  # the rest of this chunk is in the next block
            rows_distances = parts[0] if len(parts) == 1 else np.concatenate(parts)
            total += _map_at_r_total(rows_distances, chunk, n_relevant, codes)
            chunk, parts = next(chunks, None), []
    return total / scored


def _map_at_r_total(
    distances: np.ndarray, rows: np.ndarray, n_relevant: np.ndarray, codes: np.ndarray
) -> float:
    """Sum of the average precisions at R of the queries ``rows``.

    ``distances`` holds their rows of the distance matrix (not modified);
    queries without another item of their class are skipped.
    """
    kept = n_relevant[rows] > 0
    if not kept.any():
        return 0.0
    rows = rows[kept]
    r = n_relevant[rows]
    max_r = int(r.max())
    queries = distances[kept]  # fancy indexing copies
    queries[np.arange(rows.size), rows] = np.inf  # the query itself
    neighbors = _sorted_neighbors(queries, max_r, demoted=(codes[rows], codes))
    ranks = np.arange(1, max_r + 1)
    relevant = codes[neighbors] == codes[rows][:, None]
    relevant &= ranks <= r[:, None]
    precision = np.cumsum(relevant, axis=1) / ranks
    return float(np.sum(np.sum(precision * relevant, axis=1) / r))


def knn_loo_accuracy(
    distances: ArrayLike, labels: ArrayLike, n_neighbors: int = 1
) -> float:
    """Leave-one-out accuracy of a k-nearest-neighbour classifier.

    Each item is classified by a majority vote among its ``n_neighbors``
    nearest *other* items; the score is the fraction classified correctly.

    Parameters
    ----------
    distances : array-like of shape (n_samples, n_samples)
        Finite, non-negative distances, ``distances[i, j]`` from query ``i``
        to item ``j``; ``n_samples >= 2``. The diagonal is ignored and the
        matrix need not be symmetric.
    labels : array-like of shape (n_samples,)
        Hashable class label of each item (integers, strings, ...).
    n_neighbors : int, default=1
        Number of voting neighbours, ``1 <= n_neighbors < n_samples``.

    Returns
    -------
    accuracy : float
        Leave-one-out accuracy, in ``[0, 1]``.

    Raises
    ------
    ValueError
        If all items share one label (every vote would be right).

    See Also
    --------
    precision_at_1 : The same score for ``n_neighbors=1`` without ties or
        lone queries.
    sklearn.neighbors.KNeighborsClassifier : k-NN classifier on new data.

    Notes
    -----
    Neighbours at equal distance from a query are ranked by increasing index;
    the ``n_neighbors`` nearest are the first ``n_neighbors`` in that ranking.
    Votes are unweighted. When several labels share the largest number of
    votes, the prediction is the tied label whose first occurrence in the
    ranking is nearest to the query; in particular the nearest neighbour's
    label wins whenever it is among the tied labels. (This differs from
    :class:`~sklearn.neighbors.KNeighborsClassifier`, which picks the smallest
    tied class.)

    References
    ----------
    .. [1] T. Cover and P. Hart, "Nearest neighbor pattern classification",
       IEEE Transactions on Information Theory, 13(1):21-27, 1967.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_wdist.metrics import knn_loo_accuracy
    >>> points = np.array([0.0, 1.0, 2.0, 3.0, 5.0])
    >>> distances = np.abs(points[:, None] - points[None, :])
    >>> labels = ["a", "a", "b", "b", "b"]
    >>> knn_loo_accuracy(distances, labels)
    0.8
    >>> knn_loo_accuracy(distances, labels, n_neighbors=3)
    0.4
    """
    matrix, codes = check_distances_and_labels(distances, labels)
    check_label_counts(
        codes,
        "labels",
        "items",
        all_unique=None,  # every vote is then wrong: a score, if a low one
        one_label="every vote would be right whatever the distances",
    )
    n_samples = matrix.shape[0]
    n_neighbors = check_n_neighbors(n_neighbors, n_samples)
    n_classes = int(codes.max()) + 1
    n_correct = 0
    for rows in _row_chunks(n_samples):
        neighbors = _sorted_neighbors(_query_block(matrix, rows), n_neighbors)
        votes_for = codes[neighbors]  # (n_queries, n_neighbors), nearest first
        offsets = np.arange(rows.size)[:, None] * n_classes
        votes = np.bincount(
            (votes_for + offsets).ravel(), minlength=rows.size * n_classes
        ).reshape(rows.size, n_classes)
        # Votes received by the label at each rank; the first rank holding a
        # label with the most votes gives the prediction.
        votes_at_rank = np.take_along_axis(votes, votes_for, axis=1)
        winner = np.argmax(votes_at_rank == votes_at_rank.max(axis=1)[:, None], 1)
        predicted = votes_for[np.arange(rows.size), winner]
        n_correct += int(np.count_nonzero(predicted == codes[rows]))
    return n_correct / n_samples
