"""Input preprocessing: centring and whitening in float64, then the cast to float32.

The network runs in float32, whose 24-bit mantissa cannot hold a small signal on
a large offset (timestamps, pressures, coordinates: ``x + 1e8``). Channels are
therefore centred (and whitened) in float64 first, and cast last.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.covariance import ledoit_wolf_shrinkage

# Time steps used to estimate the covariance; beyond this a random subset is used
# (the C x C estimate has long converged, and memory stays bounded).
_MAX_STEPS = 200_000
# Relative eigenvalue below which a direction counts as without variation.
_DEGENERATE = 1e-10
# A single channel whose largest deviation lies in this range is whitened in
# its own unit; outside it (where squares would overflow or underflow) in a
# power-of-two unit near that deviation.
_SAFE_LOW, _SAFE_HIGH = 2.0**-300, 2.0**300


def fit_whitening(
    sequences: list[np.ndarray],
    codes: np.ndarray,
    kind: str,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and symmetric whitening matrix of the channels of ``sequences``.

    Parameters
    ----------
    sequences : list of ndarray of shape (n_channels, n_timepoints_i)
        Training sequences.
    codes : ndarray of shape (n_sequences,)
        Integer class codes.
    kind : {"within_class", "total"}
        ``"within_class"`` estimates the covariance of the time steps after
        subtracting the mean of their class (the variation that does not tell
        classes apart); ``"total"`` after subtracting the overall mean.
    rng : numpy.random.Generator
        Draws the subset of time steps when there are more than 200,000.

    Returns
    -------
    mean : ndarray of shape (n_channels,)
        Mean of all time steps.
    matrix : ndarray of shape (n_channels, n_channels)
        ``R ** (-1/2) @ diag(1 / s)``: ``s`` holds the channels' standard
        deviations around the centres and ``R`` is the Ledoit-Wolf shrunk
        correlation of the standardised steps, whose inverse square root is
        symmetric, so each channel keeps its identity as far as possible
        (ZCA-cor whitening, Kessy, Lewin and Strimmer, The American
        Statistician 72, 2018). It follows the units: a channel measured in
        units ``c`` times larger gets a column ``c`` times smaller, and the
        whitened steps are the same. Directions without any variation in the
        standardised steps get the average variance instead of their shrunk
        one; a channel without any variation around the centres is taken in a
        power-of-two unit near its largest deviation from the mean (when no
        channel varies around the centres, the matrix is the diagonal of those
        units' inverses; the identity when every channel is constant). A
        channel constant over the steps (of a class) has that value as its
        mean (centre), not a neighbour of it rounded from the sum.

    Raises
    ------
    ValueError
        If a channel's largest deviation is below float64's normal range, too
        small to be scaled up.
    """
    n_channels = sequences[0].shape[0]
    lengths = np.array([s.shape[1] for s in sequences])
    # Means from per-sequence sums: no copy of all the steps is made.
    sums = np.stack([s.sum(axis=1, dtype=np.float64) for s in sequences])
    maxima = np.stack([s.max(axis=1) for s in sequences]).astype(np.float64)
    minima = np.stack([s.min(axis=1) for s in sequences]).astype(np.float64)
    mean = _exact_if_constant(sums.sum(axis=0) / lengths.sum(), maxima, minima)
    if kind == "within_class":
        # Per class, over the sequences grouped by class once (a mask per
        # class was quadratic: label-free fits make every sequence a class).
        # A lone sequence's sums are its class's; larger classes add their
        # rows with the same NumPy reduction as ever, so the centres keep
        # every bit.
        _, inverse = np.unique(codes, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(inverse, kind="stable")
        bounds = np.flatnonzero(np.diff(inverse[order])) + 1
        class_sums = sums.copy()
        class_lengths = lengths.astype(np.float64)
        class_maxima, class_minima = maxima.copy(), minima.copy()
        for members in np.split(order, bounds):
            if members.size > 1:
                class_sums[members] = sums[members].sum(axis=0)
                class_lengths[members] = lengths[members].sum()
                class_maxima[members] = maxima[members].max(axis=0)
                class_minima[members] = minima[members].min(axis=0)
        centres = np.where(
            class_maxima == class_minima,
            class_maxima,
            class_sums / class_lengths[:, None],
        )
    else:
        centres = np.broadcast_to(mean, (len(codes), n_channels))
    # The covariance is estimated on at most _MAX_STEPS steps, drawn before
    # anything is copied, so memory stays bounded whatever the input size.
    total = int(lengths.sum())
    if total > _MAX_STEPS:
        chosen = np.sort(rng.choice(total, _MAX_STEPS, replace=False))
        ends = np.cumsum(lengths)
        parts = np.split(chosen, np.searchsorted(chosen, ends[:-1]))
        picks = [
            part - (end - n) for part, end, n in zip(parts, ends, lengths, strict=True)
        ]
    else:
        picks = [slice(None)] * len(sequences)
    centred = np.concatenate(
        [
            s[:, pick].astype(np.float64) - centre[:, None]
            for s, pick, centre in zip(sequences, picks, centres, strict=True)
        ],
        axis=1,
    )
    # Largest deviation of each channel from its overall mean, over all steps.
    peaks = np.maximum(maxima.max(axis=0) - mean, mean - minima.min(axis=0))
    if n_channels == 1 and _SAFE_LOW < peaks[0] < _SAFE_HIGH:
        # One channel: whitening only rescales it, and ordinary values keep the
        # plain computation (the same matrix, bit for bit, as without units).
        units = np.ones(1)
    else:
        # Each channel in a power-of-two unit near its largest deviation from
        # the mean (an exact rescaling): squares then neither overflow nor
        # underflow, and a channel constant within every class keeps a scale
        # of its own.
        units = np.where(peaks > 0, np.ldexp(1.0, np.frexp(peaks)[1]), 1.0)
        centred /= units[:, None]
    empirical = centred @ centred.T / centred.shape[1]
    if n_channels > 1:
        # Shrink the correlation, not the covariance: the Ledoit-Wolf target
        # (a multiple of the identity) would otherwise be set by the channels
        # in the largest units and crush those in small ones, and the result
        # would depend on each channel's unit.
        spread = np.sqrt(np.diag(empirical))
        still = spread == 0  # no variation around the centres
        spread[still] = 1.0  # constant channels stay zero
        centred /= spread[:, None]
        empirical /= np.outer(spread, spread)
        units = units * spread
    average = np.trace(empirical) / n_channels
    if average <= 0.0:  # no channel varies around the centres
        # Each channel in its power-of-two unit (one channel included, which
        # the plain computation above left in its own unit).
        units = np.where(peaks > 0, np.ldexp(1.0, np.frexp(peaks)[1]), 1.0)
        with np.errstate(over="ignore", divide="ignore"):  # refused below
            return mean, _finite(np.diag(1.0 / units), peaks)
    # Ledoit-Wolf: (1 - a) * empirical + a * average * I, which has the
    # eigenvectors of the empirical covariance (correlation).
    shrinkage = ledoit_wolf_shrinkage(centred.T, assume_centered=True)
    eigenvalues, eigenvectors = np.linalg.eigh(empirical)
    shrunk = (1.0 - shrinkage) * eigenvalues + shrinkage * average
    # A direction with no variation around the class means in training has no
    # estimate of its spread; the small shrunk variance would give it a huge
    # gain and amplify any offset seen later. It gets the average variance.
    degenerate = eigenvalues <= _DEGENERATE * eigenvalues.max()
    shrunk[degenerate] = average
    root = (eigenvectors * shrunk**-0.5) @ eigenvectors.T
    if n_channels > 1 and still.any():
        # A still channel's row and column of the correlation are exactly 0,
        # so its direction is an eigenvector on its own, of a degenerate
        # eigenvalue: gain average ** -0.5 and no mixing. eigh, given other
        # eigenvalues near it, mixes it with them at rounding level (1e-17),
        # which made the channel vary after whitening and its rows weigh 1e12.
        root[still, :] = 0.0
        root[:, still] = 0.0
        root[still, still] = average**-0.5
    with np.errstate(over="ignore", divide="ignore"):  # refused below
        return mean, _finite(root / units[None, :], peaks)


def _exact_if_constant(
    means: np.ndarray, maxima: np.ndarray, minima: np.ndarray
) -> np.ndarray:
    """``means`` with the value itself for every channel constant over the steps.

    The mean of a constant 0.1 rounds to a neighbour of 0.1; the steps would
    then deviate from it by a rounding error, which the whitening would take
    for the channel's spread and scale up by about 1e16.
    """
    highest, lowest = maxima.max(axis=0), minima.min(axis=0)
    return np.where(highest == lowest, highest, means)


def _finite(matrix: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Return ``matrix``; refuse channels too small to be scaled up in float64."""
    if np.isfinite(matrix).all():
        return matrix
    smallest = peaks[peaks > 0].min()
    raise ValueError(
        f"X: a channel deviates from its mean by at most {smallest:.3g}, below "
        f"float64's normal range ({np.finfo(np.float64).tiny:.3g}), so the "
        "whitening cannot bring it to a unit scale; multiply the data by a "
        "large constant."
    )


def channel_means(sequences: list[np.ndarray]) -> np.ndarray:
    """Mean of every channel over all time steps, in float64, without copying."""
    sums = np.stack([s.sum(axis=1, dtype=np.float64) for s in sequences])
    return sums.sum(axis=0) / sum(s.shape[1] for s in sequences)


def to_network_input(
    sequences: list[np.ndarray],
    mean: np.ndarray | None,
    matrix: np.ndarray | None,
    name: str = "X",
    indices=None,
) -> list[np.ndarray]:
    """Return ``matrix @ (x - mean)`` for every sequence, as float32.

    The arithmetic is done in the input's precision or float64, whichever is
    wider, and rounded to float32 once, at the end. ``mean=None`` passes the
    values unchanged; ``matrix=None`` only centres. ``indices`` are the
    positions of ``sequences`` in the caller's collection, for error messages.

    Raises
    ------
    ValueError
        If a value lies beyond the float32 range after preprocessing.
    """
    limit = np.finfo(np.float32).max
    out = []
    positions = range(len(sequences)) if indices is None else indices
    for index, sequence in zip(positions, sequences, strict=True):
        values = sequence
        if mean is not None:
            values = sequence.astype(np.float64) - mean[:, None]
            if matrix is not None:
                values = matrix @ values
        if values.dtype != np.float32 and np.abs(values).max() > limit:
            raise ValueError(
                f"{name}[{index}] has values beyond the float32 range "
                f"(|x| > {limit:.3g}) after centring; rescale the data."
            )
        out.append(np.ascontiguousarray(values, dtype=np.float32))
    return out


_FLOAT64_NOISE = 1e-12

# Fewer float32 steps than this across a channel's range is a warning: its
# variation reaches the network quantised to so few levels (8 bits).
_MIN_FLOAT32_LEVELS = 256


def check_float32_resolution(sequences: list[np.ndarray], name: str = "X") -> None:
    """Refuse or warn about channels whose variation float32 cannot hold.

    Without centring (a user encoder with ``input_whitening=None``) the values
    reach the network as they are, cast to float32, which keeps 24 bits: a
    channel at 1e9 that varies by 10 becomes constant, and every sequence
    looks alike. The resolution is that of float32 near the channel's largest
    magnitude over the training sequences; a spread below 1e-12 of the
    values is float64 rounding and counts as constant.

    Raises
    ------
    ValueError
        If a channel varies in the input but not once cast to float32.

    Warns
    -----
    UserWarning
        If float32 resolves a channel's range into fewer than 256 steps.
    """
    lows = np.min([s.min(axis=1) for s in sequences], axis=0).astype(np.float64)
    highs = np.max([s.max(axis=1) for s in sequences], axis=0).astype(np.float64)
    spread = highs - lows
    magnitude = np.maximum(np.abs(lows), np.abs(highs))
    # A spread below 1e-12 of the values (about 4500 float64 steps) is
    # float64 arithmetic (a constant read through a unit conversion carries a
    # few dozen steps of it), not a measurement: no sensor resolves 12 digits.
    varies = spread > _FLOAT64_NOISE * magnitude
    # The float32 step near the channel's largest magnitude.
    step = np.spacing(magnitude.astype(np.float32)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = np.where(varies, spread / step, np.inf)
    remedy = (
        "Centre the data first (subtract each channel's mean), or let the "
        "embedder do it with input_whitening='total'."
    )
    # Rounding is monotonic: both ends on one float32 make every value so.
    collapsed = varies & (lows.astype(np.float32) == highs.astype(np.float32))
    if collapsed.any():
        channel = int(np.flatnonzero(collapsed)[0])
        raise ValueError(
            f"{name}'s channel {channel} varies by {spread[channel]:.3g} "
            f"around {magnitude[channel]:.3g}, but is constant in float32, "
            f"in which the network runs: it would see nothing of it. {remedy}"
        )
    quantised = np.flatnonzero(steps < _MIN_FLOAT32_LEVELS)
    if quantised.size:
        channel = int(quantised[0])
        warnings.warn(
            f"{name}'s channel {channel} varies by {spread[channel]:.3g} around "
            f"{magnitude[channel]:.3g}: float32, in which the network runs, "
            f"resolves that range into about {max(1, int(steps[channel]))} "
            f"steps ({quantised.size} channel(s) affected). {remedy}",
            UserWarning,
            stacklevel=4,  # this function, fit, scikit-learn's fit wrapper, caller
        )


def check_training_input_range(
    sequences: list[np.ndarray], inputs: list[np.ndarray], name: str = "X"
) -> None:
    """Refuse training input that vanishes in float32.

    Without whitening (``input_whitening=None``, or a user encoder) centred
    values below float32's smallest normal number (about 1.2e-38) become zero
    or lose their precision in the cast, and every sequence would look alike.

    Raises
    ------
    ValueError
        If the sequences vary but none of their network inputs reaches
        float32's normal range.
    """
    tiny = np.finfo(np.float32).tiny
    if max(float(np.abs(values).max(initial=0.0)) for values in inputs) >= tiny:
        return
    if any(np.ptp(sequence, axis=1).max(initial=0.0) > 0 for sequence in sequences):
        raise ValueError(
            f"{name} varies only below float32's smallest normal number "
            f"({tiny:.3g}) after centring: the network, which runs in float32, "
            "would see every sequence as the same. Rescale the data, or keep "
            "the input whitening (input_whitening='auto' or 'within_class')."
        )
