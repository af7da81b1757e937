"""Gaussian affinities from distance matrices, for spectral clustering."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

from ._pairwise import power_of_two_unit
from ._validation import check_distance_matrix

__all__ = ["distances_to_affinity"]


def distances_to_affinity(D: Any, *, sigma: float | None = None) -> np.ndarray:
    """Gaussian affinities ``exp(-D**2 / (2 * sigma**2))`` from distances.

    Turns a distance matrix (for example from :func:`pairwise_wasserstein` or
    ``WassersteinDistanceTransformer``) into the similarity matrix expected by
    ``SpectralClustering(affinity="precomputed")``.

    Parameters
    ----------
    D : array-like of shape (n_query, n_reference)
        Non-negative distances.
    sigma : float, default=None
        Bandwidth of the Gaussian kernel, in the units of ``D``. If None, the
        median of the positive distances is used (a self-distance matrix's zero
        diagonal has no say), so the bandwidth follows the geometry: ``D`` and
        ``c * D`` give the same affinities for any ``c > 0``. When every distance
        is zero all affinities are 1, whatever the bandwidth.

    Returns
    -------
    affinity : ndarray of shape (n_query, n_reference)
        Values in ``[0, 1]``; 1 for zero distance.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_wdist import distances_to_affinity
    >>> distances_to_affinity(np.array([[0.0, 1.0], [1.0, 0.0]]))
    array([[1.        , 0.60653066],
           [0.60653066, 1.        ]])
    """
    D = check_distance_matrix(D, name="D")
    if sigma is None:
        # Zeros (a self-distance matrix's diagonal, duplicates) carry no
        # scale: a median over them would fall back on a constant that depends
        # on the unit of D. A square block is not assumed to hold self-distances:
        # the distances between A and A reversed have a positive diagonal.
        values = D[D > 0]
        if values.size == 0:
            return np.ones(D.shape, dtype=D.dtype)
        # In a power-of-two unit near the largest distance (an exact scaling):
        # the median adds the two middle values, whose sum overflows near the
        # largest float, and sigma = inf would make every affinity 1.
        unit = power_of_two_unit(float(values.max()))
        sigma = float(np.median(values / unit)) * unit
    elif isinstance(sigma, bool) or not isinstance(sigma, Real):
        raise TypeError(f"sigma must be None or a positive number, got {sigma!r}.")
    else:
        try:
            sigma = float(sigma)  # a Fraction or Decimal would make object arrays
        except OverflowError:
            sigma = math.inf
        if not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(
                f"sigma must be None or a positive, finite number, got {sigma!r}."
            )
    # Far points get affinity 0: the square may overflow to inf, exp to 0.
    with np.errstate(under="ignore", over="ignore"):
        return np.exp(-np.square(D / sigma) / 2.0)
