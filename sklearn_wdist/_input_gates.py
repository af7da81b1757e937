"""Gates of the input channels from a one-way analysis of variance per channel.

See ``input_gating`` of :class:`~sklearn_wdist.WassersteinSequenceEmbedder`.
Each sequence is summarised, channel by channel, by the quantiles of its
values and of its first differences at ``n_levels`` evenly spaced levels. For
each channel, ``F`` is the ratio of the between-class mean square to the
within-class mean square of these summaries, each summed over the levels. A
channel's share is ``1 - F_crit / F`` clipped to ``[0, 1]``, the larger of
that of its values and that of its differences, where ``F_crit`` is the
``1 - significance`` quantile of the F distribution with ``K - 1`` and
``n - K`` degrees of freedom (``K`` classes, ``n`` sequences): a channel opens
only as far as its class differences exceed what sampling noise gives. The
levels' sums of squares are correlated (conservative) and the larger of two
tests is taken (liberal), so ``significance`` is a nominal level, not the
rate at which a channel without class effect opens. The gates are the shares
divided by the largest one.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ._row_weights import class_samples

# Sequences of each class summarised (evenly spaced): the analysis of a large
# class runs on this sample of it.
_SAMPLED_MEMBERS = 256


def _summaries(sequences: list[np.ndarray], levels: np.ndarray):
    """Quantiles of values and of first differences, shape (n, n_levels, C).

    The slopes are ``None`` when a sequence has a single step (it has no
    difference, and a stand-in value could pass for a class effect).
    """
    values, slopes = [], []
    for x in sequences:
        x = np.asarray(x, dtype=np.float64)
        values.append(np.quantile(x, levels, axis=1))
        if slopes is not None and x.shape[1] > 1:
            slopes.append(np.quantile(np.diff(x, axis=1), levels, axis=1))
        else:
            slopes = None
    return np.stack(values), None if slopes is None else np.stack(slopes)


def anova_f(summaries: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """Per-channel ``F`` of a one-way ANOVA, sums of squares summed over levels.

    ``summaries`` has shape (n, n_levels, C); ``groups`` index its rows class
    by class. A channel constant over every sequence has ``F = 0`` (its
    values are compared with the first sequence's, so rounding cannot make
    class means differ); one constant within each class but not across has
    ``F = inf``.
    """
    summaries = summaries - summaries[:1]
    sizes = np.array([len(g) for g in groups], dtype=np.float64)
    means = np.stack([summaries[g].mean(axis=0) for g in groups])
    grand = summaries.mean(axis=0)
    between = (sizes[:, None, None] * (means - grand) ** 2).sum(axis=0)
    within = sum(
        ((summaries[g] - mean) ** 2).sum(axis=0)
        for g, mean in zip(groups, means, strict=True)
    )
    between = between.sum(axis=0) / max(len(groups) - 1, 1)
    within = within.sum(axis=0) / max(len(summaries) - len(groups), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = between / within
    ratio[between <= 0] = 0.0
    return ratio


def fit_input_gates(
    sequences: list[np.ndarray],
    codes: np.ndarray,
    n_levels: int = 16,
    significance: float = 0.05,
) -> np.ndarray | None:
    """Gates in ``[0, 1]`` of the channels of ``sequences`` (labelled ``codes``).

    Parameters
    ----------
    sequences : list of ndarray of shape (C, T_i)
        Training sequences as the encoder receives them.
    codes : ndarray of shape (n_sequences,)
        Integer class of each sequence; every class has at least two.
    n_levels : int, default=16
        Number of quantile levels summarising each sequence.
    significance : float, default=0.05
        Share of channels without any class effect whose gate would open;
        ``F_crit`` is the ``1 - significance`` quantile of ``F(K - 1, n - K)``.

    Returns
    -------
    gates : ndarray of shape (C,) or None
        The largest gate is 1. ``None`` when no channel's class differences
        exceed ``F_crit`` (every share is 0): then nothing is gated. A class
        of more than 256 sequences enters through 256 of them, evenly spaced;
        with a single-step sequence among them, only the values count (not
        the slopes).
    """
    codes = np.asarray(codes)
    levels = (np.arange(n_levels) + 0.5) / n_levels
    groups, picked = [], []
    # Every class (each has at least two sequences), a large one thinned.
    for members, _ in class_samples(codes, _SAMPLED_MEMBERS, max_classes=len(codes)):
        groups.append(np.arange(len(picked), len(picked) + len(members)))
        picked.extend(members.tolist())
    values, slopes = _summaries([sequences[i] for i in picked], levels)
    critical = stats.f.ppf(1 - significance, len(groups) - 1, len(picked) - len(groups))
    with np.errstate(divide="ignore"):
        shares = 1.0 - critical / anova_f(values, groups)
        if slopes is not None:
            shares = np.maximum(shares, 1.0 - critical / anova_f(slopes, groups))
    shares = np.clip(np.nan_to_num(shares, nan=0.0, neginf=0.0), 0.0, 1.0)
    if shares.max() <= 0.0:
        return None
    return shares / shares.max()
