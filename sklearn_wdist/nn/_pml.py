"""Adapter: pytorch-metric-learning losses and miners on quantile embeddings.

pytorch-metric-learning (PML) is an optional extra. This module imports nothing
from it at import time; it is imported lazily, only to check the distance of a
loss or miner that comes from PML.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ._distances import check_order

_PML = "pytorch_metric_learning"


def from_metric_learning(obj: Any) -> bool:
    """Whether ``obj``'s class, or one of its bases, is defined by PML."""
    return any(cls.__module__.partition(".")[0] == _PML for cls in type(obj).__mro__)


def _check_distance(owner: Any, name: str, p: int) -> None:
    """Check that a PML loss or miner measures the learned distance ``d_p``.

    Rows of the scaled quantiles are ``d_p`` apart in the plain ``l_p`` norm,
    so the PML object must use ``LpDistance(p=p, normalize_embeddings=False)``
    with ``power=1``. Objects that do not come from PML are not checked: their
    distance, if any, is theirs to define.
    """
    # Wrappers (MultipleLosses, CrossBatchMemory, SelfSupervisedLoss) hold
    # their losses and miners as submodules, each with its own distance.
    parts = owner.modules() if isinstance(owner, nn.Module) else [owner]
    for part in parts:
        if from_metric_learning(part):
            distance = getattr(part, "distance", None)
            if distance is not None:
                _check_lp_distance(distance, name, p)


def _check_lp_distance(distance: Any, name: str, p: int) -> None:
    """Refuse a PML distance other than ``LpDistance(p, unnormalised, power 1)``."""
    from pytorch_metric_learning.distances import LpDistance

    fix = (
        f"pass distance=LpDistance(p={p}, normalize_embeddings=False) to the "
        f"{name}, so that its distance is the learned Wasserstein distance d_{p}"
    )
    if not isinstance(distance, LpDistance):
        raise ValueError(
            f"The {name} uses {type(distance).__name__}, not LpDistance: {fix}."
        )
    if distance.normalize_embeddings:
        raise ValueError(
            f"The {name}'s LpDistance normalises the embeddings "
            "(normalize_embeddings=True, PML's default), which is not the learned "
            f"distance: {fix}."
        )
    if distance.p != p:
        raise ValueError(
            f"The {name}'s LpDistance has p={distance.p!r} but this loss has "
            f"p={p}: {fix}."
        )
    if distance.power != 1:
        raise ValueError(
            f"The {name}'s LpDistance has power={distance.power!r}, which returns "
            f"d_{p} ** {distance.power!r}, not d_{p}: {fix}."
        )


class MetricLearningLoss(nn.Module):
    """A metric-learning loss on the flattened, scaled quantile embeddings.

    Quantile embeddings ``Q`` of shape ``(B, K, M)`` are flattened and scaled,
    ``E = Q.reshape(B, K * M) * M ** (-1 / p)``, so that the plain Euclidean
    (``p=2``) or Manhattan (``p=1``) distance between rows of ``E`` is exactly the
    learned Wasserstein distance ``d_p`` (see
    :class:`~sklearn_wdist.nn.QuantileWassersteinDistance`). The wrapped loss, for
    example any loss of pytorch-metric-learning (PML), then trains on ``d_p``:
    the miner, if given, is called as ``miner(E, labels)`` and the loss as
    ``loss(E, labels, indices)``, or ``loss(E, labels)`` without a miner.

    PML is an optional dependency; this class imports it only to check the
    distance of a PML loss or miner.

    Parameters
    ----------
    loss : torch.nn.Module
        Callable module ``loss(embeddings, labels[, indices_tuple])`` returning a
        scalar, such as ``pytorch_metric_learning.losses.TripletMarginLoss``. It
        is registered as a submodule, so its parameters (proxies, class weights)
        move and train with this module.
    miner : callable, optional
        ``miner(embeddings, labels)`` returning an index tuple, such as
        ``pytorch_metric_learning.miners.BatchHardMiner``. Without a miner the
        loss forms its own tuples (all triplets for PML's ``TripletMarginLoss``).
    p : {1, 2}, default=2
        Order of the Wasserstein distance ``d_p``.

    Raises
    ------
    TypeError
        If ``loss`` is not a callable ``torch.nn.Module``, ``miner`` is neither
        None nor callable, or ``p`` is not an int.
    ValueError
        If ``p`` is not 1 or 2, or a PML loss or miner does not use
        ``LpDistance(p=p, normalize_embeddings=False)`` with ``power=1``: PML's
        default distance normalises the embeddings, which is not ``d_p``.

    See Also
    --------
    WassersteinTripletLoss : The package's own triplet loss on ``d_p``.

    Notes
    -----
    With PML installed (``pip install sklearn-wdist[pml]``), a batch-hard
    triplet loss on ``d_2`` reads::

        from pytorch_metric_learning import distances, losses, miners, reducers

        distance = distances.LpDistance(p=2, normalize_embeddings=False)
        loss = MetricLearningLoss(
            losses.TripletMarginLoss(
                margin=0.5, distance=distance, reducer=reducers.MeanReducer()
            ),
            miner=miners.BatchHardMiner(distance=distance),
            p=2,
        )

    which equals ``WassersteinTripletLoss(p=2, margin=0.5, mining="batch_hard")``.
    PML losses with their own parameters take ``embedding_size=K * M``.

    Examples
    --------
    Any module taking ``(embeddings, labels)`` works; here the mean distance
    between rows of ``E``, which is the mean Wasserstein distance ``d_2``:

    >>> import torch
    >>> from sklearn_wdist.nn import MetricLearningLoss, QuantileWassersteinDistance
    >>> class MeanDistance(torch.nn.Module):
    ...     def forward(self, embeddings, labels):
    ...         return torch.cdist(embeddings, embeddings).mean()
    >>> loss = MetricLearningLoss(MeanDistance(), p=2)
    >>> quantiles = torch.randn(4, 3, 8, dtype=torch.float64).sort(dim=-1).values
    >>> value = loss(quantiles, torch.tensor([0, 0, 1, 1]))
    >>> expected = QuantileWassersteinDistance(p=2).matrix(quantiles).mean()
    >>> bool(torch.isclose(value, expected))
    True
    """

    def __init__(
        self,
        loss: nn.Module,
        miner: Callable[..., Any] | None = None,
        p: int = 2,
    ) -> None:
        super().__init__()
        if not (isinstance(loss, nn.Module) and callable(loss)):
            raise TypeError(
                "loss must be a callable torch.nn.Module taking (embeddings, "
                f"labels[, indices_tuple]), got {type(loss).__name__}."
            )
        if miner is not None and not callable(miner):
            raise TypeError(
                "miner must be None or a callable taking (embeddings, labels), "
                f"got {type(miner).__name__}."
            )
        self.p = check_order(p)
        _check_distance(loss, "loss", self.p)
        if miner is not None:
            _check_distance(miner, "miner", self.p)
        self.loss = loss
        self.miner = miner

    def embed(self, quantiles: torch.Tensor) -> torch.Tensor:
        """Flatten and scale quantile embeddings: ``Q.reshape(B, -1) * M**(-1/p)``.

        Parameters
        ----------
        quantiles : torch.Tensor of shape (B, K, M)
            Quantile embeddings.

        Returns
        -------
        embeddings : torch.Tensor of shape (B, K * M)
            Rows whose ``l_p`` distance is the Wasserstein distance ``d_p``.
        """
        if quantiles.ndim != 3:
            raise ValueError(
                "quantiles must have shape (B, K, M), got shape "
                f"{tuple(quantiles.shape)}."
            )
        n_quantiles = quantiles.shape[-1]
        return quantiles.reshape(quantiles.shape[0], -1) * n_quantiles ** (
            -1.0 / self.p
        )

    def forward(self, quantiles: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Loss of a batch, computed on the flattened, scaled quantiles.

        Parameters
        ----------
        quantiles : torch.Tensor of shape (B, K, M)
            Quantile embeddings.
        labels : torch.Tensor of shape (B,)
            Integer class labels.

        Returns
        -------
        loss : torch.Tensor, scalar
            Whatever the wrapped loss returns.
        """
        embeddings = self.embed(quantiles)
        if self.miner is None:
            return self.loss(embeddings, labels)
        indices = self.miner(embeddings, labels)
        return self.loss(embeddings, labels, indices)
