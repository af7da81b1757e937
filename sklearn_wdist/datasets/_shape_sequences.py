"""Synthetic sequences whose classes differ only in the shape of their values."""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
from scipy.signal import lfilter
from scipy.special import ndtr, ndtri
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from .._validation import check_int

__all__ = ["make_shape_sequences"]

# Class labels of make_shape_sequences, in the order classes are added.
_SHAPE_NAMES = ("gaussian", "uniform", "bimodal", "skewed", "laplace")

# Bimodal class: equal mixture of N(-a, s^2) and N(a, s^2) with a^2 + s^2 = 1,
# so that the mean is 0 and the variance 1.
_BIMODAL_CENTRE = 0.9
_BIMODAL_SCALE = float(np.sqrt(1.0 - _BIMODAL_CENTRE**2))


def _bimodal_quantile_grid() -> tuple[np.ndarray, np.ndarray]:
    """CDF of the bimodal mixture on a fine grid, for inversion by interpolation."""
    reach = _BIMODAL_CENTRE + 9.0 * _BIMODAL_SCALE
    x = np.linspace(-reach, reach, 8193)
    cdf = 0.5 * (
        ndtr((x - _BIMODAL_CENTRE) / _BIMODAL_SCALE)
        + ndtr((x + _BIMODAL_CENTRE) / _BIMODAL_SCALE)
    )
    return cdf, x


_BIMODAL_CDF, _BIMODAL_X = _bimodal_quantile_grid()


def _laplace_quantile(u: np.ndarray) -> np.ndarray:
    scale = 1.0 / np.sqrt(2.0)  # variance 2 * scale**2 = 1
    centred = u - 0.5
    return -scale * np.sign(centred) * np.log1p(-2.0 * np.abs(centred))


# Quantile functions of the five distributions, each with mean 0 and variance 1.
_QUANTILE_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gaussian": ndtri,
    "uniform": lambda u: np.sqrt(3.0) * (2.0 * u - 1.0),
    "bimodal": lambda u: np.interp(u, _BIMODAL_CDF, _BIMODAL_X),
    # Exponential(1) minus its mean: skewness 2.
    "skewed": lambda u: -np.log1p(-u) - 1.0,
    "laplace": _laplace_quantile,
}


def _check_length(length) -> tuple[int, int]:
    """Return ``(min_length, max_length)`` from an int or a pair of ints."""
    if isinstance(length, numbers.Integral) and not isinstance(length, bool):
        bounds = (int(length), int(length))
    elif (
        isinstance(length, tuple | list)
        and len(length) == 2
        and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in length
        )
    ):
        bounds = (int(length[0]), int(length[1]))
    else:
        raise ValueError(
            "length must be an int or a pair (min_length, max_length) of ints, "
            f"got {length!r}."
        )
    if not 1 <= bounds[0] <= bounds[1]:
        raise ValueError(
            f"length must satisfy 1 <= min_length <= max_length, got {length!r}."
        )
    return bounds


@validate_params(
    {
        "n_sequences_per_class": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_classes": [Interval(numbers.Integral, 1, len(_SHAPE_NAMES), closed="both")],
        "n_channels": [Interval(numbers.Integral, 1, None, closed="left")],
        "length": [Interval(numbers.Integral, 1, None, closed="left"), tuple, list],
        "autocorrelation": [Interval(numbers.Real, 0, 1, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_shape_sequences(
    n_sequences_per_class: int = 30,
    n_classes: int = 4,
    n_channels: int = 2,
    length: int | tuple[int, int] = (40, 120),
    *,
    autocorrelation: float = 0.5,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Sequences whose classes differ only in the shape of their value distribution.

    Every channel of every sequence is a stationary process whose values at each
    time step follow one distribution with mean 0 and variance 1. The classes
    differ in which distribution that is, and the class label is its name:

    - ``"gaussian"``: standard normal (excess kurtosis 0);
    - ``"uniform"``: uniform on ``[-sqrt(3), sqrt(3)]`` (excess kurtosis -1.2);
    - ``"bimodal"``: equal mixture of ``N(-0.9, 0.19)`` and ``N(0.9, 0.19)``
      (excess kurtosis about -1.3);
    - ``"skewed"``: exponential with rate 1, minus 1 (skewness 2, excess
      kurtosis 6);
    - ``"laplace"``: Laplace with scale ``1/sqrt(2)`` (excess kurtosis 3).

    Every class has the same mean and variance, so a classifier on mean-pooled
    values is near chance level, while anything that sees the distribution
    (quantiles, histograms, higher moments) can separate the classes.

    Temporal structure comes from a Gaussian copula: a latent Gaussian AR(1)
    process ``z_t = phi * z_{t-1} + sqrt(1 - phi**2) * e_t`` with unit variance
    is mapped through the standard normal CDF and the class's quantile
    function, ``x_t = F^-1(Phi(z_t))``. Neighbouring steps are correlated and the
    per-step distribution is exactly the class's. Channels are independent.

    Parameters
    ----------
    n_sequences_per_class : int, default=30
        Number of sequences of each class.
    n_classes : int, default=4
        Number of classes, from 1 to 5: the first ``n_classes`` distributions
        of the list above, in that order.
    n_channels : int, default=2
        Number of channels of every sequence.
    length : int or tuple of (int, int), default=(40, 120)
        Number of time steps of each sequence: a fixed length, or
        ``(min_length, max_length)`` from which each length is drawn uniformly
        (both ends included).
    autocorrelation : float, default=0.5
        Lag-one autocorrelation ``phi`` of the latent Gaussian process, in
        ``[0, 1)``; 0 gives independent steps.
    random_state : int, RandomState instance or None, default=None
        Seeds all the randomness; an int gives the same data on every call.

    Returns
    -------
    X : list of ndarray of shape (n_channels, n_timepoints_i), float32
        The ``n_classes * n_sequences_per_class`` sequences, grouped by class.
    y : ndarray of shape (n_classes * n_sequences_per_class,), str
        Class label of each sequence: the name of its distribution.

    See Also
    --------
    load_japanese_vowels : A small real data set of variable-length sequences.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_wdist.datasets import make_shape_sequences
    >>> X, y = make_shape_sequences(random_state=0)
    >>> len(X), X[0].shape[0], X[0].dtype
    (120, 2, dtype('float32'))
    >>> np.unique(y).tolist()
    ['bimodal', 'gaussian', 'skewed', 'uniform']

    The same mean and variance in every class (up to sampling noise), different
    shapes (excess kurtosis):

    >>> for name in ["gaussian", "uniform", "bimodal", "skewed"]:
    ...     values = np.concatenate([x.ravel() for x, c in zip(X, y) if c == name])
    ...     kurtosis = np.mean(values**4) / np.mean(values**2) ** 2 - 3
    ...     mean, var = abs(values.mean()), values.var()
    ...     print(f"{name:8s} mean {mean:.1f} var {var:.1f} kurtosis {kurtosis:+.1f}")
    gaussian mean 0.0 var 1.0 kurtosis +0.1
    uniform  mean 0.0 var 1.0 kurtosis -1.2
    bimodal  mean 0.0 var 1.0 kurtosis -1.3
    skewed   mean 0.1 var 1.1 kurtosis +7.2
    """
    # The constraints above let booleans through: True is no count of anything.
    n_sequences_per_class = check_int(n_sequences_per_class, "n_sequences_per_class")
    n_classes = check_int(n_classes, "n_classes")
    n_channels = check_int(n_channels, "n_channels")
    min_length, max_length = _check_length(length)
    rng = check_random_state(random_state)
    phi = float(autocorrelation)
    innovation_scale = np.sqrt(1.0 - phi**2)

    names = _SHAPE_NAMES[:n_classes]
    n_total = n_classes * n_sequences_per_class
    lengths = rng.randint(min_length, max_length + 1, size=n_total)
    X = []
    for index, n_timepoints in enumerate(lengths):
        quantile_function = _QUANTILE_FUNCTIONS[names[index // n_sequences_per_class]]
        noise = rng.standard_normal((n_channels, n_timepoints))
        # Scale the innovations, but start from a unit-variance draw so that the
        # latent process is stationary from its first step.
        drive = innovation_scale * noise
        drive[:, 0] = noise[:, 0]
        latent = lfilter([1.0], [1.0, -phi], drive, axis=-1)
        # Beyond 8 standard deviations (probability ~1e-15) Phi rounds to 1 and
        # the unbounded quantile functions would return inf.
        latent = np.clip(latent, -8.0, 8.0)
        X.append(quantile_function(ndtr(latent)).astype(np.float32))
    y = np.repeat(np.asarray(names), n_sequences_per_class)
    return X, y
