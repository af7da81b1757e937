"""Weights of the kept input rows from their spread over training pairs.

See ``input_row_weighting`` of :class:`~sklearn_wdist.WassersteinSequenceEmbedder`.
``"within_class"``: the spread of row ``k`` is the mean of its ``W_p ** p``
distance over all ordered pairs of distinct training sequences of one class.
Large data are estimated from a bounded, evenly spaced sample of each class,
whose mean pair spread then counts for all ``N_c (N_c - 1)`` pairs of the
class. ``"total"``: the mean over all ordered pairs of (a bounded, evenly
spaced sample of) the training sequences, and the kept rows are put on the
learned rows' mean spread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch


def encoder_buffer(module, name: str) -> torch.Tensor | None:
    """Return the buffer ``name`` of a module's encoder, if it has one."""
    encoder = getattr(module, "encoder", None)
    return getattr(encoder, "_buffers", {}).get(name)


def kept_row_weights(module) -> torch.Tensor | None:
    """Return the ``kept_row_weights`` buffer of a module's encoder, if any."""
    return encoder_buffer(module, "kept_row_weights")


def pair_spread(members: np.ndarray, p: int) -> np.ndarray:
    """Mean ``W_p ** p`` of each row over ordered pairs of distinct ``members``.

    ``members`` has shape (n >= 2, n_rows, M); the row distance is
    ``mean_m |q_a[m] - q_b[m]| ** p``. Every pair enters, through closed
    forms: for ``p=2``, ``sum_{a != b} |q_a - q_b| ** 2 = 2 n sum_a |q_a -
    mean| ** 2``; for ``p=1``, with the members' values at each level sorted,
    ``x_(1) <= ... <= x_(n)``, ``sum_{a != b} |x_a - x_b| = 2 sum_i (2 i - n -
    1) x_(i)``.
    """
    values = np.asarray(members, dtype=np.float64)
    n = len(values)
    # Centred first: the sums then cancel no large offset.
    centred = values - values.mean(axis=0)
    if p == 2:
        return 2.0 * np.square(centred).mean(axis=2).sum(axis=0) / (n - 1)
    ranks = 2.0 * np.arange(1, n + 1) - n - 1
    total = 2.0 * np.tensordot(ranks, np.sort(centred, axis=0), axes=(0, 0))
    return total.mean(axis=1) / (n * (n - 1))


def within_class_spread(
    classes: Iterable[tuple[np.ndarray, int]], p: int, n_rows: int
) -> np.ndarray:
    """Mean ``W_p ** p`` of each row over the ordered same-class pairs.

    ``classes`` yields ``(members, size)``: quantiles of (a sample of) one
    class's sequences and the number of sequences in the whole class, whose
    ``size * (size - 1)`` pairs the sample's mean pair spread stands for.
    Classes with fewer than two members are skipped; with none left, zeros.
    """
    total, pairs = np.zeros(n_rows), 0
    for members, size in classes:
        if len(members) < 2:
            continue
        total += pair_spread(members, p) * size * (size - 1)
        pairs += size * (size - 1)
    return total / max(pairs, 1)


# A row varies when its spread, as a distance, exceeds this share of the
# row's largest magnitude: float32 keeps about 7 significant digits, so rows
# that differ only in their last bits (the differences of a ramp, say) count
# as constant.
_ROUNDING = 1e-6


def row_magnitudes(quantiles: np.ndarray) -> np.ndarray:
    """Largest absolute value of each row of (n, n_rows, M) quantiles."""
    return np.abs(np.asarray(quantiles, dtype=np.float64)).max(axis=(0, 2))


def rounding_magnitudes(
    magnitude: np.ndarray, sources: tuple[np.ndarray, np.ndarray] | None
) -> np.ndarray:
    """Each kept row's magnitude, or its source's if that rounds it more.

    ``sources``: ``(source rows, gains)`` as the encoder's
    ``kept_row_sources`` gives them; a row computed from another carries
    that row's rounding times the gain. ``None`` keeps ``magnitude``.
    """
    if sources is None:
        return magnitude
    rows, gains = sources
    return np.maximum(magnitude, gains * magnitude[rows])


def rows_that_vary(spread: np.ndarray, p: int, magnitude: np.ndarray) -> np.ndarray:
    """Return which rows vary by more than float32 rounding of their values.

    ``spread ** (1/p)``, a distance, must exceed ``1e-6`` of the row's
    largest magnitude (and 0).
    """
    return (spread > 0) & (spread ** (1.0 / p) > _ROUNDING * magnitude)


def spread_weights(
    spread: np.ndarray,
    p: int,
    magnitude: np.ndarray,
    reference: float | None = None,
) -> np.ndarray:
    """Return ``(reference / s_k) ** (1/p)``, by default the rows' mean spread.

    A row that does not vary beyond the rounding of its values (see
    :func:`rows_that_vary`; ``magnitude``: each row's largest absolute
    value) keeps weight 1, and so does every row when none varies. The
    factors are not bounded: a row that hardly varies is weighted up by as
    much as it is tight. ``reference``: the spread every varying row is put
    on (a positive number), instead of their mean.
    """
    varies = rows_that_vary(spread, p, magnitude)
    factors = np.ones(len(spread))
    if varies.any():
        if reference is None:
            reference = spread[varies].mean()
        factors[varies] = (reference / spread[varies]) ** (1.0 / p)
    return factors


def class_samples(
    codes: np.ndarray, max_members: int = 256, max_classes: int = 256
) -> list[tuple[np.ndarray, int]]:
    """Return ``(indices, class size)`` of the sequences that estimate the spread.

    Every class with at least two sequences, or ``max_classes`` of them evenly
    spaced in label order, each with at most ``max_members`` evenly spaced
    members: a bounded embedding pass on millions of sequences, and all of
    them on small data. Deterministic, so it needs no random state.
    """
    classes, counts = np.unique(codes, return_counts=True)
    keep = counts >= 2
    classes, counts = classes[keep], counts[keep]
    if len(classes) > max_classes:
        chosen = np.linspace(0, len(classes) - 1, max_classes).astype(int)
        classes, counts = classes[chosen], counts[chosen]
    samples = []
    for code, size in zip(classes, counts, strict=True):
        members = np.flatnonzero(codes == code)
        if len(members) > max_members:
            members = members[np.linspace(0, len(members) - 1, max_members).astype(int)]
        samples.append((members, int(size)))
    return samples


def fit_row_weights(
    embed: Callable[[np.ndarray], np.ndarray],
    codes: np.ndarray,
    n_rows: int,
    n_levels: int,
    p: int,
    sources: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray | None:
    """Weights of the last ``n_rows`` rows, one class sample embedded at a time.

    ``embed(indices)`` returns the flattened quantile embeddings (unweighted)
    of those training sequences. ``None`` when no class has two sequences.
    ``sources``: where the rows' rounding comes from (see
    :func:`rounding_magnitudes`).
    """
    samples = class_samples(codes)
    if not samples:
        return None

    magnitude = np.zeros(n_rows)

    def kept_quantiles():
        for indices, size in samples:
            quantiles = embed(indices).reshape(len(indices), -1, n_levels)
            kept = quantiles[:, quantiles.shape[1] - n_rows :]
            np.maximum(magnitude, row_magnitudes(kept), out=magnitude)
            yield kept, size

    spread = within_class_spread(kept_quantiles(), p, n_rows)
    return spread_weights(spread, p, rounding_magnitudes(magnitude, sources))


def fit_total_row_weights(
    embed: Callable[[np.ndarray], np.ndarray],
    n_sequences: int,
    n_rows: int,
    n_levels: int,
    p: int,
    max_members: int = 256,
    sources: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Weights that give each of the last ``n_rows`` rows the learned rows' spread.

    The spread of a row is its mean ``W_p ** p`` over the ordered pairs of
    at most ``max_members`` evenly spaced training sequences (all of them on
    small data), embedded at once by ``embed(indices)`` (flattened,
    unweighted quantile embeddings). Each kept row that varies is scaled to
    the mean spread of the rows before it (the learned features); with no
    learned rows, or none that varies, to the kept rows' own mean.
    ``sources``: where the kept rows' rounding comes from (see
    :func:`rounding_magnitudes`).
    """
    if n_sequences < 2:  # no pair to measure a spread on
        return np.ones(n_rows)
    size = min(n_sequences, max_members)
    indices = np.unique(np.linspace(0, n_sequences - 1, size).astype(int))
    quantiles = embed(indices).reshape(len(indices), -1, n_levels)
    spread = pair_spread(quantiles, p)
    magnitude = row_magnitudes(quantiles)
    n_learned = len(spread) - n_rows
    # Learned rows that vary only by rounding give no reference either.
    varies = rows_that_vary(spread[:n_learned], p, magnitude[:n_learned])
    reference = float(spread[:n_learned].mean()) if varies.any() else None
    kept = rounding_magnitudes(magnitude[n_learned:], sources)
    return spread_weights(spread[n_learned:], p, kept, reference)
