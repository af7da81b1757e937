"""Differentiable quantile pooling over the valid steps of padded sequences."""

from __future__ import annotations

import numbers

import torch
from torch import nn

from ._masking import lengths_to_mask


def quantile_levels(n_quantiles: int) -> torch.Tensor:
    """Mid-point quantile levels ``tau_m = (m - 1/2) / M`` for ``m = 1..M``.

    Parameters
    ----------
    n_quantiles : int
        Number of levels ``M``.

    Returns
    -------
    levels : torch.Tensor of shape (n_quantiles,), dtype float64

    Examples
    --------
    >>> quantile_levels(4)
    tensor([0.1250, 0.3750, 0.6250, 0.8750], dtype=torch.float64)
    """
    return (torch.arange(n_quantiles, dtype=torch.float64) + 0.5) / n_quantiles


QUANTILE_METHODS = ("linear", "inverted_cdf")


def check_quantile_method(method: str, name: str = "method") -> None:
    """Refuse an interpolation other than :data:`QUANTILE_METHODS`."""
    if method not in QUANTILE_METHODS:
        raise ValueError(f"{name} must be one of {QUANTILE_METHODS}, got {method!r}.")


def mean_pooling(features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean of each feature over the valid steps, shaped like one quantile.

    The vector-embedding baseline: ``(batch, K, T)`` to ``(batch, K, 1)``, so the
    same distances and losses apply (with one level, ``d_2`` is the Euclidean
    distance between mean vectors).

    Parameters
    ----------
    features : torch.Tensor of shape (batch, n_features, time)
    lengths : torch.Tensor of shape (batch,)

    Returns
    -------
    means : torch.Tensor of shape (batch, n_features, 1)

    Examples
    --------
    >>> import torch
    >>> mean_pooling(torch.tensor([[[1.0, 3.0, 100.0]]]), torch.tensor([2]))
    tensor([[[2.]]])
    """
    _check_lengths(lengths, features)
    mask = lengths_to_mask(lengths, features.shape[-1])
    total = features.masked_fill(~mask, 0.0).sum(dim=-1, keepdim=True)
    return total / lengths.to(features.dtype)[:, None, None]


def _check_lengths(lengths: torch.Tensor, features: torch.Tensor) -> None:
    """Refuse lengths outside ``1..time``: pooling would read steps not there.

    Skipped while the model is traced for export (a value test cannot be
    recorded in a graph); the exported graph derives the lengths itself.
    """
    if torch.compiler.is_compiling() or torch.jit.is_tracing():
        return
    if lengths.shape != features.shape[:1]:
        raise ValueError(
            f"lengths must have shape ({features.shape[0]},), one per sequence; "
            f"got {tuple(lengths.shape)}."
        )
    if bool(((lengths < 1) | (lengths > features.shape[-1])).any()):
        raise ValueError(
            f"lengths must lie in 1..{features.shape[-1]} (the time axis of "
            f"features); got {lengths.tolist()}."
        )


def quantile_pooling(
    features: torch.Tensor,
    lengths: torch.Tensor,
    n_quantiles: int,
    method: str = "linear",
) -> torch.Tensor:
    """Empirical quantile functions of each feature over the valid steps.

    For a sequence with ``n`` valid steps and ``method="linear"`` the quantile at
    level ``tau`` is taken at the virtual index ``tau * (n - 1)`` of the sorted
    values, interpolating linearly between the two neighbouring order
    statistics: ``numpy.quantile(..., method="linear")``. With
    ``method="inverted_cdf"`` it is the order statistic ``ceil(n * tau)``
    (with ``n * tau`` in floating point, as ``numpy.quantile(...,
    method="inverted_cdf")`` computes it: where ``n * tau`` is a whole number
    its rounding may pick the next order statistic), the exact quantile
    function of the empirical distribution (a step function), so
    the distance between such embeddings converges to the exact Wasserstein
    distance between the empirical distributions as ``n_quantiles`` grows; the
    linear form converges to the distance between piecewise-linear
    interpolations of them instead, which differs by ``O(1/n)``. Sorting and
    gathering keep both differentiable with respect to ``features``.

    Parameters
    ----------
    features : torch.Tensor of shape (batch, n_features, time)
        Per-step features; steps at or beyond a sequence's length are ignored.
    lengths : torch.Tensor of shape (batch,)
        Valid length of each sequence, at least 1.
    n_quantiles : int
        Number of quantile levels ``M`` (see :func:`quantile_levels`).
    method : {"linear", "inverted_cdf"}, default="linear"
        How quantiles between order statistics are taken, as in
        :func:`numpy.quantile`.

    Returns
    -------
    quantiles : torch.Tensor of shape (batch, n_features, n_quantiles)
        Each row is a non-decreasing quantile function.

    Examples
    --------
    >>> import torch
    >>> h = torch.tensor([[[3.0, 1.0, 2.0, 99.0]]])
    >>> quantile_pooling(h, torch.tensor([3]), 2)
    tensor([[[1.5000, 2.5000]]])
    """
    _check_n_quantiles(n_quantiles)
    check_quantile_method(method)
    _check_lengths(lengths, features)
    batch, n_features, n_timepoints = features.shape
    mask = lengths_to_mask(lengths, n_timepoints)
    # Padded steps sort to the end and are never gathered.
    ordered = features.masked_fill(~mask, float("inf")).sort(dim=-1).values
    # torch.sort puts NaN after every value, padding's inf included, so a NaN
    # at a valid step would never be gathered; as in numpy.quantile, such a
    # feature gets NaN quantiles (which the finiteness checks then report).
    # Padded steps hold inf, so the last sorted step is NaN exactly then.
    has_nan = ordered[..., -1:].isnan()
    # Positions in float64 on the features' device, except on Apple's MPS,
    # which has no float64: there on the CPU, and only the indices and
    # fractions go to the device.
    device = features.device
    work = torch.device("cpu") if device.type == "mps" else device
    levels = quantile_levels(n_quantiles).to(work)
    last = (lengths.detach().to(work, torch.float64) - 1.0)[:, None]
    shape = (batch, n_features, n_quantiles)
    if method == "inverted_cdf":
        rank = (levels[None, :] * (last + 1.0)).ceil() - 1.0
        index = rank.clamp(min=0.0).minimum(last).long().to(device)
        quantiles = ordered.gather(-1, index[:, None, :].expand(shape))
        return quantiles.masked_fill(has_nan, float("nan"))
    position = levels[None, :] * last
    lower = position.floor()
    fraction = (position - lower).to(device, features.dtype)[:, None, :]
    lower_index = lower.long().to(device)
    upper_index = torch.minimum(lower_index + 1, last.long().to(device))
    low = ordered.gather(-1, lower_index[:, None, :].expand(shape))
    high = ordered.gather(-1, upper_index[:, None, :].expand(shape))
    return (low + fraction * (high - low)).masked_fill(has_nan, float("nan"))


def _check_n_quantiles(n_quantiles) -> None:
    if isinstance(n_quantiles, bool) or not isinstance(n_quantiles, numbers.Integral):
        raise TypeError(
            f"n_quantiles must be an integer, got {type(n_quantiles).__name__}."
        )
    if n_quantiles < 1:
        raise ValueError(f"n_quantiles must be at least 1, got {n_quantiles}.")


class QuantilePooling(nn.Module):
    """Module form of :func:`quantile_pooling`.

    Parameters
    ----------
    n_quantiles : int
        Number of quantile levels ``M``.
    method : {"linear", "inverted_cdf"}, default="linear"
        See :func:`quantile_pooling`.

    Examples
    --------
    >>> import torch
    >>> pool = QuantilePooling(5)
    >>> pool(torch.randn(2, 3, 7), torch.tensor([7, 4])).shape
    torch.Size([2, 3, 5])
    """

    def __init__(self, n_quantiles: int, method: str = "linear") -> None:
        super().__init__()
        _check_n_quantiles(n_quantiles)
        check_quantile_method(method)
        self.n_quantiles = n_quantiles
        self.method = method

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Quantiles of ``features`` over the first ``lengths`` steps."""
        return quantile_pooling(features, lengths, self.n_quantiles, self.method)
