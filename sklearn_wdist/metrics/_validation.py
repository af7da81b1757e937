"""Input checks shared by the retrieval and verification scores."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

__all__ = [
    "check_distance_matrix",
    "check_distances_and_labels",
    "check_n_neighbors",
    "encode_labels",
]


def check_distance_matrix(distances: ArrayLike) -> np.ndarray:
    """Validate a square matrix of pairwise distances.

    Parameters
    ----------
    distances : array-like of shape (n_samples, n_samples)
        Real-valued, finite, non-negative distances with ``n_samples >= 2``.

    Returns
    -------
    distances : ndarray of shape (n_samples, n_samples)
        The matrix as a floating-point array. Floating-point input keeps its
        dtype (and is not copied); integer input is converted to ``float64``.

    Raises
    ------
    TypeError
        If ``distances`` is sparse or not real-valued numeric.
    ValueError
        If ``distances`` is not 2-D and square, has fewer than two rows, or
        contains NaN, infinite or negative entries.
    """
    if sp.issparse(distances):
        raise TypeError(
            "distances must be a dense array; got a sparse matrix. "
            "Convert it with .toarray() first."
        )
    try:
        array = np.asarray(distances)
    except ValueError as exc:
        raise ValueError(
            f"distances could not be converted to a 2-D array: {exc}"
        ) from None
    kind = array.dtype.kind
    if kind == "O":
        if not all(
            isinstance(value, numbers.Real) and not isinstance(value, bool)
            for value in array.flat
        ):
            raise TypeError(
                "distances must contain real numbers; got an object array with "
                "non-numeric entries."
            )
        array = array.astype(np.float64)
    elif kind in "iu":
        array = array.astype(np.float64)
    elif kind != "f":
        raise TypeError(
            f"distances must contain real numbers; got dtype {array.dtype}."
        )
    if array.ndim != 2:
        raise ValueError(
            f"distances must be a 2-D square matrix; got {array.ndim} dimension(s) "
            f"with shape {array.shape}."
        )
    n_rows, n_cols = array.shape
    if n_rows != n_cols:
        raise ValueError(
            f"distances must be a square (n, n) matrix; got shape {array.shape}."
        )
    if n_rows < 2:
        raise ValueError(
            f"distances must describe at least 2 items; got shape {array.shape}."
        )
    if not np.isfinite(array).all():
        raise ValueError("distances must be finite; found NaN or infinite entries.")
    if (array < 0).any():
        raise ValueError(
            f"distances must be non-negative; found the value {array.min()!r}."
        )
    return array


def encode_labels(labels: ArrayLike, n_samples: int) -> np.ndarray:
    """Validate labels and map them to integer codes ``0, ..., n_classes - 1``.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Hashable class labels (integers, strings, ...); two items share a class
        when their labels compare equal.
    n_samples : int
        The number of items, i.e. the number of rows of the distance matrix.

    Returns
    -------
    codes : ndarray of shape (n_samples,), dtype intp
        Integer code of each label.

    Raises
    ------
    ValueError
        If ``labels`` is not 1-D or its length differs from ``n_samples``.
    """
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(
            f"labels must be a 1-D array; got {array.ndim} dimension(s) with "
            f"shape {array.shape}."
        )
    if array.shape[0] != n_samples:
        raise ValueError(
            f"labels has length {array.shape[0]} but distances has {n_samples} "
            "rows; they must match."
        )
    try:
        _, codes = np.unique(array, return_inverse=True)
    except TypeError:
        # Labels that cannot be sorted together (e.g. mixed objects): hash them.
        mapping: dict[object, int] = {}
        codes = np.fromiter(
            (mapping.setdefault(label, len(mapping)) for label in array.tolist()),
            dtype=np.intp,
            count=n_samples,
        )
    return np.asarray(codes, dtype=np.intp).reshape(n_samples)


def check_distances_and_labels(
    distances: ArrayLike, labels: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a square distance matrix and the labels of its items.

    Parameters
    ----------
    distances : array-like of shape (n_samples, n_samples)
        See :func:`check_distance_matrix`.
    labels : array-like of shape (n_samples,)
        See :func:`encode_labels`.

    Returns
    -------
    distances : ndarray of shape (n_samples, n_samples)
        The validated floating-point distance matrix.
    codes : ndarray of shape (n_samples,), dtype intp
        Integer class code of each item.
    """
    matrix = check_distance_matrix(distances)
    codes = encode_labels(labels, matrix.shape[0])
    return matrix, codes


def check_n_neighbors(n_neighbors: int, n_samples: int) -> int:
    """Validate the number of neighbours of a leave-one-out k-NN vote.

    Parameters
    ----------
    n_neighbors : int
        Requested number of neighbours.
    n_samples : int
        Number of items; each query has ``n_samples - 1`` candidates.

    Returns
    -------
    n_neighbors : int
        The value as a Python ``int``.

    Raises
    ------
    TypeError
        If ``n_neighbors`` is not an integer (booleans are rejected).
    ValueError
        If ``n_neighbors`` is not in ``[1, n_samples - 1]``.
    """
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral):
        raise TypeError(
            f"n_neighbors must be an integer; got {type(n_neighbors).__name__}."
        )
    n_neighbors = int(n_neighbors)
    if not 1 <= n_neighbors < n_samples:
        raise ValueError(
            f"n_neighbors must satisfy 1 <= n_neighbors < n_samples = {n_samples} "
            f"(leave-one-out leaves {n_samples - 1} candidates); got {n_neighbors}."
        )
    return n_neighbors
