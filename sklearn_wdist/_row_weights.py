"""Weights of the kept input rows from their spread within the training classes.

See ``input_row_weighting`` of :class:`~sklearn_wdist.WassersteinSequenceEmbedder`.
"""

from __future__ import annotations

import numpy as np
import torch


def kept_row_weights(module) -> torch.Tensor | None:
    """Return the ``kept_row_weights`` buffer of a module's encoder, if any."""
    encoder = getattr(module, "encoder", None)
    buffers = getattr(encoder, "_buffers", {})
    return buffers.get("kept_row_weights")


def within_class_spread(
    quantiles: np.ndarray, codes: np.ndarray, p: int, max_members: int = 64
) -> np.ndarray:
    """Mean ``W_p ** p`` of each row over ordered pairs of one class.

    ``quantiles`` has shape (n_sequences, n_rows, M); the row distance is
    ``mean_m |q_a[m] - q_b[m]| ** p``. For ``p=2`` every pair enters, through
    ``sum_{a != b} |q_a - q_b| ** 2 = 2 n sum_a |q_a - mean| ** 2``; for
    ``p=1`` at most ``max_members`` evenly spaced members of each class.
    Classes of one sequence have no pairs; with none at all, zeros.
    """
    values = quantiles.astype(np.float64)
    total = np.zeros(values.shape[1])
    pairs = 0
    for code in np.unique(codes):
        members = values[codes == code]
        n = len(members)
        if n < 2:
            continue
        if p == 2:
            centred = members - members.mean(axis=0)
            total += 2 * n * np.square(centred).mean(axis=2).sum(axis=0)
        else:
            if n > max_members:
                members = members[np.linspace(0, n - 1, max_members).astype(int)]
                n = max_members
            for a in range(n - 1):
                gaps = np.abs(members[a + 1 :] - members[a]).mean(axis=2)
                total += 2 * gaps.sum(axis=0)
        pairs += n * (n - 1)
    return total / max(pairs, 1)


def spread_weights(spread: np.ndarray, p: int) -> np.ndarray:
    """``(mean(s) / s_k) ** (1/p)`` for rows with spread, 1 for the others.

    A row that never varies within a class (spread at rounding level, below
    ``1e-12`` of the largest) keeps weight 1, and so does every row when
    none varies.
    """
    varies = spread > 1e-12 * max(float(spread.max(initial=0.0)), np.finfo(float).tiny)
    factors = np.ones(len(spread))
    if varies.any():
        reference = spread[varies].mean()
        factors[varies] = (reference / spread[varies]) ** (1.0 / p)
    return factors


def spread_sample(
    codes: np.ndarray, max_members: int = 256, max_classes: int = 256
) -> np.ndarray:
    """Return the indices of the training sequences that estimate the spread.

    Every class with at least two sequences, or ``max_classes`` of them evenly
    spaced in label order, each with at most ``max_members`` evenly spaced
    members: a bounded embedding pass on millions of sequences, and all of
    them on small data. Deterministic, so it needs no random state.
    """
    classes, counts = np.unique(codes, return_counts=True)
    classes = classes[counts >= 2]
    if len(classes) > max_classes:
        classes = classes[np.linspace(0, len(classes) - 1, max_classes).astype(int)]
    picks = []
    for code in classes:
        members = np.flatnonzero(codes == code)
        if len(members) > max_members:
            members = members[np.linspace(0, len(members) - 1, max_members).astype(int)]
        picks.append(members)
    return np.sort(np.concatenate(picks)) if picks else np.empty(0, dtype=int)
