"""The exact reference: Wasserstein distances between empirical distributions.

:func:`pairwise_wasserstein_exact` compares the per-time-step feature
distributions of two sequences exactly with POT's 1-D solver, without a quantile
grid. It returns ``W_p``, never ``W_p^p``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import ot
from joblib import delayed, effective_n_jobs
from scipy import sparse

from ._pairwise import parallel_generator, power_of_two_unit
from ._validation import as_numeric_array, check_finite, check_n_jobs, check_p

__all__ = ["pairwise_wasserstein_exact"]

# Element budget of one call to ``ot.wasserstein_1d``; POT builds several
# temporaries of this size.
_EXACT_BATCH_ELEMENTS = 1 << 20


def _check_feature_sequences(
    features: Any, name: str, n_features: int | None = None
) -> list[np.ndarray]:
    """Validate a collection of (K, T_i) arrays; return them sorted along time.

    The returned arrays are transposed to (T_i, K), the layout POT expects.
    """
    if sparse.issparse(features) or isinstance(features, (str, bytes)):
        raise TypeError(
            f"{name} must be a list of 2-D arrays of shape (n_features, "
            f"n_timepoints), got {type(features).__name__}."
        )
    if isinstance(features, np.ndarray):
        if features.ndim != 3:
            raise ValueError(
                f"{name} given as an array must be 3-D (n_sequences, n_features, "
                f"n_timepoints), got shape {features.shape}."
            )
    elif not isinstance(features, Sequence):
        raise TypeError(
            f"{name} must be a list of 2-D arrays of shape (n_features, "
            f"n_timepoints), got {type(features).__name__}."
        )
    if len(features) == 0:
        raise ValueError(f"{name} must contain at least one sequence.")
    out = []
    for i, h in enumerate(features):
        item = f"{name}[{i}]"
        arr = as_numeric_array(h, item)
        if arr.ndim != 2:
            raise ValueError(
                f"{item} must be a 2-D array of shape (n_features, n_timepoints), "
                f"got shape {arr.shape}."
            )
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise ValueError(
                f"{item} must have at least one feature and one time step, got "
                f"shape {arr.shape}."
            )
        if n_features is None:
            n_features = arr.shape[0]
        elif arr.shape[0] != n_features:
            raise ValueError(
                f"{item} has {arr.shape[0]} features, expected {n_features} like "
                "the other sequences."
            )
        arr = arr.astype(np.float64)
        check_finite(arr, item)
        out.append(np.ascontiguousarray(np.sort(arr, axis=1).T))
    return out


def _scaling_unit(sorted_values: list[np.ndarray]) -> float:
    """Return the power of two of the largest magnitude, at least ``2**-1000``.

    A unit that is a normal float leaves only values that are themselves
    subnormal, or scaled up from below ``2**-1000``, short of precision.
    """
    largest = max(float(np.abs(values).max()) for values in sorted_values)
    return max(power_of_two_unit(largest), 2.0**-1000) if largest > 0 else 1.0


# W_2^2 costs (in the data's unit) below this have lost precision to underflow,
# or may have: those features are computed again at a scale of their own.
_UNDERFLOW_COST = 2.0**-800
# Smallest scale a feature is divided by (its values lie in [-2, 2)), so that
# the division cannot overflow.
_SMALLEST_SCALE = 2.0**-900


def _pair_w2(
    u: np.ndarray, v: np.ndarray, cost: np.ndarray, n_pairs: int
) -> np.ndarray:
    """``W_2`` of every pair from its per-feature ``W_2^2`` costs.

    ``u``, ``v`` and ``cost`` hold one column per (pair, feature), pair-major. A
    feature whose cost may have underflowed (a difference far below the values'
    unit) is computed again from ``u / s`` and ``v / s``, ``s`` the power of
    two at most its ``W_1`` distance (an exact division): the scaled
    differences are then at most twice the longer sequence's length, so their
    squares neither overflow nor underflow. Such a pair's moving features are
    summed relative to its largest scale, multiplied back after the root.
    Other pairs get ``sqrt(sum of costs)`` as computed.
    """
    costs = cost.reshape(n_pairs, -1)
    distances = np.sqrt(costs.sum(axis=1))
    redo = costs < _UNDERFLOW_COST
    if not redo.any():
        return distances
    columns = np.flatnonzero(redo.ravel())
    w1 = ot.wasserstein_1d(u[:, columns], v[:, columns], p=1, require_sort=False)
    # Each feature's cost and the scale it is in: 1 as computed, 0 for a
    # feature that does not move (it adds nothing, whatever its scale).
    scales = np.ones_like(costs)
    scaled_costs = costs.copy()
    still = columns[w1 == 0]
    scales.ravel()[still] = scaled_costs.ravel()[still] = 0.0
    moved = columns[w1 > 0]
    # A power of two at most W_1: the division is exact.
    _, exponents = np.frexp(np.maximum(w1[w1 > 0], _SMALLEST_SCALE))
    scale = np.ldexp(0.5, exponents)
    scaled_costs.ravel()[moved] = ot.wasserstein_1d(
        u[:, moved] / scale, v[:, moved] / scale, p=2, require_sort=False
    )
    scales.ravel()[moved] = scale
    pairs = np.flatnonzero(redo.any(axis=1))
    largest = scales[pairs].max(axis=1)
    relative = scales[pairs] / np.where(largest > 0, largest, 1.0)[:, None]
    distances[pairs] = largest * np.sqrt(
        (scaled_costs[pairs] * relative**2).sum(axis=1)
    )
    return distances


def _exact_rows(
    rows: range,
    sorted_a: list[np.ndarray],
    groups: list[tuple[np.ndarray, np.ndarray]],
    p: int,
    symmetric: bool,
    n_cols: int,
) -> tuple[range, np.ndarray]:
    """Compute the ``W_p`` of every pair of ``rows``.

    That is the sum of per-feature ``W_1`` (p=1) or the root of the sum of
    per-feature ``W_2^2`` (p=2). Only the upper part is filled when
    ``symmetric``.
    """
    n_features = sorted_a[0].shape[1]
    block = np.zeros((len(rows), n_cols))
    for out_row, i in enumerate(rows):
        u_one = sorted_a[i]
        for idx, stacked in groups:
            # In the symmetric case only columns j > i are computed.
            first = int(np.searchsorted(idx, i, side="right")) if symmetric else 0
            per_call = max(
                1,
                _EXACT_BATCH_ELEMENTS
                // ((u_one.shape[0] + stacked.shape[0]) * n_features),
            )
            for g0 in range(first, idx.size, per_call):
                g1 = min(g0 + per_call, idx.size)
                u = np.tile(u_one, (1, g1 - g0))
                v = stacked[:, g0 * n_features : g1 * n_features]
                # Returns W_p^p for every (pair, feature) column; inputs are
                # already sorted along time.
                cost = ot.wasserstein_1d(u, v, p=p, require_sort=False)
                block[out_row, idx[g0:g1]] = (
                    cost.reshape(g1 - g0, -1).sum(axis=1)
                    if p == 1
                    else _pair_w2(u, v, cost, g1 - g0)
                )
    return rows, block


def pairwise_wasserstein_exact(
    features_a: Any,
    features_b: Any = None,
    *,
    p: int = 1,
    n_jobs: int | None = None,
) -> np.ndarray:
    """Exact Wasserstein distances between empirical feature distributions.

    Each sequence is given by its per-time-step features ``H`` of shape
    ``(K, T_i)``. For every feature ``k`` the empirical distribution of
    ``H[k, :]`` over time is compared exactly with POT's
    :func:`ot.wasserstein_1d` (which returns ``W_p^p``), without a quantile grid,
    and the features are combined as ``d_p = (sum_k W_p^p(k)) ** (1 / p)``. The
    result is ``W_p``, not ``W_p^p``. It serves as a reference:
    :func:`pairwise_wasserstein` on quantile embeddings converges to it as the
    number of quantiles grows when the quantiles are the empirical ones
    (``numpy.quantile(method="inverted_cdf")``), and to within ``O(1 / T)`` with
    linearly interpolated quantiles (numpy's default ``method="linear"``).

    Parameters
    ----------
    features_a : list of array-like of shape (K, T_i)
        Per-step features of the query sequences; lengths may differ. A 3-D
        array of shape ``(n_sequences, K, T)`` is accepted too.
    features_b : list of array-like of shape (K, T_j), default=None
        Per-step features of the reference sequences. If None, ``features_b =
        features_a`` and the result is exactly symmetric with a zero diagonal.
    p : {1, 2}, default=1
        Order of the Wasserstein distance; ``1`` is the embedder's default
        order.
    n_jobs : int, default=None
        Number of joblib jobs over rows. ``None`` means 1 unless in a
        :func:`joblib.parallel_config` context.

    Returns
    -------
    distances : ndarray of shape (n_sequences_a, n_sequences_b)
        ``W_p`` distances in float64.

    See Also
    --------
    pairwise_wasserstein : Fast distances on quantile embeddings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_wdist import pairwise_wasserstein_exact
    >>> H = [np.array([[0.0, 1.0]]), np.array([[2.0, 3.0, 4.0]])]
    >>> pairwise_wasserstein_exact(H, p=1)
    array([[0. , 2.5],
           [2.5, 0. ]])
    """
    p = check_p(p)
    n_jobs = check_n_jobs(n_jobs)
    sorted_a = _check_feature_sequences(features_a, "features_a")
    symmetric = features_b is None
    if symmetric:
        sorted_b = sorted_a
    else:
        sorted_b = _check_feature_sequences(
            features_b, "features_b", n_features=sorted_a[0].shape[1]
        )

    # The sorted values are divided by a power of two: p-th powers of values
    # beyond ~1e154 overflow and below ~1e-154 underflow, where POT would return
    # nan or 0. The division is exact, the costs scale by the unit's p-th power
    # and their roots by the unit: ordinary data give the same bits.
    unit = _scaling_unit(sorted_a if symmetric else sorted_a + sorted_b)
    for values in sorted_a if symmetric else sorted_a + sorted_b:
        values /= unit

    # Sequences of equal length are stacked side by side so that one call to POT
    # handles many pairs.
    lengths = np.array([h.shape[0] for h in sorted_b])
    groups = []
    for length in np.unique(lengths):
        idx = np.flatnonzero(lengths == length)
        groups.append((idx, np.concatenate([sorted_b[j] for j in idx], axis=1)))

    n_rows, n_cols = len(sorted_a), len(sorted_b)
    n_tasks = min(n_rows, effective_n_jobs(n_jobs))
    # No thread preference: POT's numpy backend runs a Python loop per feature
    # (searchsorted), which holds the GIL, so processes scale better.
    parallel = parallel_generator(n_jobs)
    # Rows are dealt out in turn: in the symmetric case the first rows have the
    # most columns above the diagonal.
    tasks = (
        delayed(_exact_rows)(
            range(t, n_rows, n_tasks), sorted_a, groups, p, symmetric, n_cols
        )
        for t in range(n_tasks)
    )
    out = np.zeros((n_rows, n_cols))
    for rows, block in parallel(tasks):
        out[rows.start : rows.stop : rows.step] = block
    if symmetric:
        out += out.T
    out *= unit
    return out
