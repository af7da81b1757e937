"""The quantile Wasserstein distance between batches of quantile embeddings."""

from __future__ import annotations

import numbers
from typing import Any

import torch


def check_order(p: Any) -> int:
    """Return ``p`` as an int after checking it is 1 or 2 (no scikit-learn here)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Integral):
        raise TypeError(
            f"p must be an int, 1 or 2, got {p!r} of type {type(p).__name__}."
        )
    if p not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {p!r}.")
    return int(p)


def _safe_sqrt(squared: torch.Tensor, eps: float) -> torch.Tensor:
    """Square root whose gradient is zero, not NaN, at (near) zero.

    NaN propagates, so that a diverged model is reported rather than hidden.
    """
    vanishing = squared <= eps
    safe = torch.where(vanishing, torch.ones_like(squared), squared)
    return torch.where(vanishing, torch.zeros_like(squared), safe.sqrt())


class QuantileWassersteinDistance:
    """``d_p`` between quantile embeddings: ``(sum_k W_p^p(k)) ** (1/p)``.

    For quantile embeddings ``Q, Q'`` of shape ``(K, M)``,
    ``W_p^p(k) = (1/M) sum_m |Q[k, m] - Q'[k, m]|^p`` and the returned distance is
    ``d_p = (sum_k W_p^p(k)) ** (1/p)``: a ``W_p``-type distance, not its ``p``-th
    power. For ``p=2`` the square root is taken in a safe form whose gradient is
    zero, not NaN, where two embeddings coincide.

    Parameters
    ----------
    p : {1, 2}, default=2
        Order of the Wasserstein distance.
    eps : float, default=1e-12
        Squared distances at or below ``eps`` are treated as zero (``p=2``).

    Examples
    --------
    >>> import torch
    >>> distance = QuantileWassersteinDistance(p=1)
    >>> a = torch.tensor([[[0.0, 1.0]]])
    >>> b = torch.tensor([[[1.0, 3.0]]])
    >>> distance.matrix(a, b)
    tensor([[1.5000]])
    """

    def __init__(self, p: int = 2, eps: float = 1e-12) -> None:
        self.p = check_order(p)
        self.eps = eps

    def _reduce(self, difference: torch.Tensor) -> torch.Tensor:
        if self.p == 1:
            return difference.abs().mean(dim=-1).sum(dim=-1)
        return _safe_sqrt(difference.pow(2).mean(dim=-1).sum(dim=-1), self.eps)

    def pairwise(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Distances between corresponding rows: ``d(a[i], b[i])``.

        Parameters
        ----------
        a, b : torch.Tensor of shape (n, K, M)

        Returns
        -------
        distances : torch.Tensor of shape (n,)
        """
        return self._reduce(a - b)

    def matrix(self, a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        """All distances ``d(a[i], b[j])``; ``b`` defaults to ``a``.

        Parameters
        ----------
        a : torch.Tensor of shape (n_a, K, M)
        b : torch.Tensor of shape (n_b, K, M), optional

        Returns
        -------
        distances : torch.Tensor of shape (n_a, n_b)
        """
        if b is None:
            b = a
        return self._reduce(a[:, None] - b[None, :])


class QuantileEnergyDistance:
    """Energy distance between the distributions given by quantile embeddings.

    Each row ``Q[k]`` is read as ``M`` equally weighted samples of feature ``k``;
    per feature the (squared) energy distance is
    ``E(k) = 2 E|X - Y| - E|X - X'| - E|Y - Y'|``, which in one dimension is
    twice the Cramér distance ``integral (F - G)^2``. The returned distance is
    ``sqrt(sum_k E(k))``, a metric. It exists as the alternative to the
    Wasserstein distance for training the same quantile embeddings.

    Parameters
    ----------
    eps : float, default=1e-12
        Values at or below ``eps`` under the square root are treated as zero.

    Examples
    --------
    >>> import torch
    >>> distance = QuantileEnergyDistance()
    >>> a = torch.tensor([[[0.0, 1.0]]])
    >>> distance.matrix(a, a + 1.0)
    tensor([[1.]])
    """

    def __init__(self, eps: float = 1e-12) -> None:
        self.eps = eps

    @staticmethod
    def _mean_abs(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a[..., :, None] - b[..., None, :]).abs().mean(dim=(-2, -1))

    def pairwise(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Distances between corresponding rows of ``a`` and ``b`` (n, K, M)."""
        energy = 2 * self._mean_abs(a, b) - self._mean_abs(a, a) - self._mean_abs(b, b)
        return _safe_sqrt(energy.sum(dim=-1), self.eps)

    def matrix(self, a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        """All distances between rows of ``a`` and ``b`` (default ``a``)."""
        if b is None:
            b = a
        within_a = self._mean_abs(a, a).sum(dim=-1)
        within_b = self._mean_abs(b, b).sum(dim=-1)
        across = self._mean_abs(a[:, None], b[None, :]).sum(dim=-1)
        return _safe_sqrt(2 * across - within_a[:, None] - within_b[None, :], self.eps)
