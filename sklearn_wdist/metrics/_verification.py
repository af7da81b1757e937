"""Pair verification scores over a square distance matrix.

Every unordered pair ``{i, j}`` (``i < j``) is a trial: *genuine* when both
items have the same label, *impostor* otherwise. A pair is accepted as genuine
when its distance is at most a threshold, i.e. the trial's score is
``-distances[i, j]``. Only the strict upper triangle of the matrix is read.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import auc, roc_curve

from .._validation import check_distances_and_labels
from ._retrieval import _row_chunks, check_label_counts

__all__ = ["equal_error_rate", "genuine_impostor_distances", "pair_roc_auc"]


def _split_pairs(
    matrix: np.ndarray, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the distances of the same-label and different-label pairs ``i < j``.

    Both arrays list the pairs in row-major order of ``(i, j)``.
    """
    n_samples = matrix.shape[0]
    columns = np.arange(n_samples)
    genuine, impostor = [], []
    for rows in _row_chunks(n_samples):
        upper = columns[None, :] > rows[:, None]
        block = matrix[rows][upper]
        same = (codes[rows][:, None] == codes[None, :])[upper]
        genuine.append(block[same])
        impostor.append(block[~same])
    return np.concatenate(genuine), np.concatenate(impostor)


def _checked_split_pairs(
    distances: ArrayLike, labels: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Validate the inputs and return the genuine and impostor pair distances."""
    matrix, codes = check_distances_and_labels(distances, labels, read="upper")
    check_label_counts(
        codes,
        "labels",
        "items",
        all_unique="there is no genuine (same-label) pair",
        one_label="there is no impostor (different-label) pair",
    )
    return _split_pairs(matrix, codes)


def _roc(distances: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Return the ROC points (FPR, TPR) of the pair trials, score ``-distance``."""
    genuine, impostor = _checked_split_pairs(distances, labels)
    # The ROC curve does not depend on the order of the trials. roc_curve sorts
    # the scores with a stable (run-detecting) sort, so handing it two already
    # sorted runs replaces one large O(m log m) argsort by a linear merge.
    genuine.sort()
    impostor.sort()
    scores = np.concatenate((-genuine[::-1], -impostor[::-1]))
    is_genuine = np.zeros(scores.size, dtype=bool)
    is_genuine[: genuine.size] = True
    del genuine, impostor
    fpr, tpr, _ = roc_curve(is_genuine, scores, pos_label=True)
    return fpr, tpr


def genuine_impostor_distances(
    distances: ArrayLike, labels: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Distances of the same-label and different-label pairs.

    Parameters
    ----------
    distances : array-like of shape (n_samples, n_samples)
        Finite, non-negative distances; ``n_samples >= 2``. Only the strict
        upper triangle (``distances[i, j]`` with ``i < j``) is read.
    labels : array-like of shape (n_samples,)
        Hashable class label of each item (integers, strings, ...). At least
        one label must occur twice and at least two labels must differ.

    Returns
    -------
    genuine : ndarray of shape (n_genuine,)
        ``distances[i, j]`` for the pairs ``i < j`` with equal labels, in
        row-major order of ``(i, j)``.
    impostor : ndarray of shape (n_impostor,)
        ``distances[i, j]`` for the pairs ``i < j`` with different labels, in
        row-major order of ``(i, j)``.

    Raises
    ------
    ValueError
        If there is no genuine pair or no impostor pair.

    See Also
    --------
    equal_error_rate : Verification error where both error rates agree.
    pair_roc_auc : Probability that a genuine pair is nearer than an impostor.

    References
    ----------
    .. [1] A. K. Jain, A. Ross and S. Prabhakar, "An introduction to biometric
       recognition", IEEE Transactions on Circuits and Systems for Video
       Technology, 14(1):4-20, 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_wdist.metrics import genuine_impostor_distances
    >>> distances = np.array([[0.0, 1.0, 2.0],
    ...                       [1.0, 0.0, 3.0],
    ...                       [2.0, 3.0, 0.0]])
    >>> genuine, impostor = genuine_impostor_distances(distances, [0, 0, 1])
    >>> genuine
    array([1.])
    >>> impostor
    array([2., 3.])
    """
    return _checked_split_pairs(distances, labels)


def equal_error_rate(distances: ArrayLike, labels: ArrayLike) -> float:
    """Equal error rate (EER) of same-label verification by thresholding distances.

    Every pair ``i < j`` is accepted as same-label when
    ``distances[i, j] <= t``. The false accept rate ``FAR(t)`` is the fraction
    of impostor (different-label) pairs accepted, the false reject rate
    ``FRR(t)`` the fraction of genuine (same-label) pairs rejected. The EER is
    the common value of the two rates where they are equal.

    Parameters
    ----------
    distances : array-like of shape (n_samples, n_samples)
        Finite, non-negative distances; ``n_samples >= 2``. Only the strict
        upper triangle (``distances[i, j]`` with ``i < j``) is read.
    labels : array-like of shape (n_samples,)
        Hashable class label of each item (integers, strings, ...). At least
        one label must occur twice and at least two labels must differ.

    Returns
    -------
    eer : float
        Equal error rate, in ``[0, 1]``; 0 when every genuine pair is nearer
        than every impostor pair.

    Raises
    ------
    ValueError
        If there is no genuine pair or no impostor pair.

    See Also
    --------
    pair_roc_auc : Area under the same ROC curve.
    genuine_impostor_distances : The pair distances themselves.
    sklearn.metrics.roc_curve : The ROC points used here.

    Notes
    -----
    The ROC curve is computed with :func:`sklearn.metrics.roc_curve` on the
    scores ``-distances[i, j]``. Its points ``(FPR_k, TPR_k)``, one per
    distinct distance plus the origin, satisfy ``FAR = FPR`` and
    ``FRR = 1 - TPR``; joined by straight segments they form a piecewise-linear
    curve from ``(0, 0)`` to ``(1, 1)`` (the collinear points that
    ``roc_curve`` drops do not change it) along which
    ``g = FPR + TPR - 1 = FAR - FRR`` is non-decreasing from -1 to 1. With
    ``k`` the first point where ``g_k >= 0``, the EER is

    ``EER = FPR_{k-1} + a * (FPR_k - FPR_{k-1})``, with
    ``a = -g_{k-1} / (g_k - g_{k-1})``,

    the false accept rate where the segment from point ``k - 1`` to point
    ``k`` crosses ``FAR = FRR`` (``EER = FPR_k`` when ``g_k = 0``). This is
    the intersection of the ROC curve, as drawn by linear interpolation, with
    the line ``TPR = 1 - FPR``. Ties in distance are handled as a single
    threshold, so tied genuine and impostor pairs move the curve along a
    diagonal segment.

    References
    ----------
    .. [1] A. K. Jain, A. Ross and S. Prabhakar, "An introduction to biometric
       recognition", IEEE Transactions on Circuits and Systems for Video
       Technology, 14(1):4-20, 2004.
    .. [2] T. Fawcett, "An introduction to ROC analysis", Pattern Recognition
       Letters, 27(8):861-874, 2006.

    Examples
    --------
    Genuine pairs at distances 1 and 3, impostor pairs at 2, 4, 5 and 6: at
    ``t = 2`` ``(FAR, FRR) = (1/4, 1/2)``, at ``t = 3`` ``(1/4, 0)``; the rates
    cross halfway, at ``1/4``.

    >>> import numpy as np
    >>> from sklearn_wdist.metrics import equal_error_rate
    >>> distances = np.array([[0.0, 1.0, 2.0, 4.0],
    ...                       [1.0, 0.0, 5.0, 6.0],
    ...                       [2.0, 5.0, 0.0, 3.0],
    ...                       [4.0, 6.0, 3.0, 0.0]])
    >>> equal_error_rate(distances, ["a", "a", "b", "b"])
    0.25
    """
    fpr, tpr = _roc(distances, labels)
    gap = fpr + tpr - 1.0  # FAR - FRR; non-decreasing, gap[0] = -1, gap[-1] = 1
    k = int(np.argmax(gap >= 0.0))  # k >= 1 since gap[0] = -1
    if gap[k] == 0.0:
        return float(fpr[k])
    fraction = -gap[k - 1] / (gap[k] - gap[k - 1])
    return float(fpr[k - 1] + fraction * (fpr[k] - fpr[k - 1]))


def pair_roc_auc(distances: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve of same-label verification by distance.

    Every pair ``i < j`` is a trial with score ``-distances[i, j]``, positive
    when both items have the same label. The AUC is the probability that a
    random genuine (same-label) pair is nearer than a random impostor
    (different-label) pair, counting ties as one half.

    Parameters
    ----------
    distances : array-like of shape (n_samples, n_samples)
        Finite, non-negative distances; ``n_samples >= 2``. Only the strict
        upper triangle (``distances[i, j]`` with ``i < j``) is read.
    labels : array-like of shape (n_samples,)
        Hashable class label of each item (integers, strings, ...). At least
        one label must occur twice and at least two labels must differ.

    Returns
    -------
    auc : float
        Area under the ROC curve, in ``[0, 1]``.

    Raises
    ------
    ValueError
        If there is no genuine pair or no impostor pair.

    See Also
    --------
    equal_error_rate : Error rate where the same ROC curve crosses FAR = FRR.
    sklearn.metrics.roc_auc_score : The same area for arbitrary scores.

    Notes
    -----
    The area is computed by the trapezoidal rule on the points of
    :func:`sklearn.metrics.roc_curve`, as :func:`sklearn.metrics.roc_auc_score`
    does.

    References
    ----------
    .. [1] J. A. Hanley and B. J. McNeil, "The meaning and use of the area
       under a receiver operating characteristic (ROC) curve", Radiology,
       143(1):29-36, 1982.
    .. [2] T. Fawcett, "An introduction to ROC analysis", Pattern Recognition
       Letters, 27(8):861-874, 2006.

    Examples
    --------
    Genuine pairs at distances 1 and 3, impostor pairs at 2, 4, 5 and 6: of
    the 8 (genuine, impostor) combinations only (3, 2) is misordered.

    >>> import numpy as np
    >>> from sklearn_wdist.metrics import pair_roc_auc
    >>> distances = np.array([[0.0, 1.0, 2.0, 4.0],
    ...                       [1.0, 0.0, 5.0, 6.0],
    ...                       [2.0, 5.0, 0.0, 3.0],
    ...                       [4.0, 6.0, 3.0, 0.0]])
    >>> pair_roc_auc(distances, ["a", "a", "b", "b"])
    0.875
    """
    fpr, tpr = _roc(distances, labels)
    return float(auc(fpr, tpr))
