"""The Wasserstein triplet loss on quantile embeddings."""

from __future__ import annotations

import numbers

import torch
from torch import nn
from torch.nn import functional

from ._distances import QuantileWassersteinDistance
from ._miners import batch_all_triplets, batch_hard_triplets, semi_hard_triplets


class WassersteinTripletLoss(nn.Module):
    """Triplet loss on the quantile Wasserstein distance, mined inside the batch.

    For a mined triplet (anchor ``a``, positive ``p``, negative ``n``) the loss is
    ``max(0, d(a, p) - d(a, n) + margin)``, or ``log(1 + exp(d(a, p) - d(a, n)))``
    with the soft margin; the batch loss is the mean over the mined triplets (for
    ``"batch_all"``: over the triplets with positive loss).

    Parameters
    ----------
    p : {1, 2}, default=2
        Order of the Wasserstein distance ``d_p``.
    margin : float or "soft", default=1.0
        Hard margin, or ``"soft"`` for the soft-margin (softplus) form.
    mining : {"batch_hard", "batch_all", "semi_hard"}, default="batch_hard"
        How triplets are chosen inside a batch.
    distance : QuantileWassersteinDistance, optional
        Distance object; by default ``QuantileWassersteinDistance(p)``.

    Examples
    --------
    >>> import torch
    >>> loss = WassersteinTripletLoss(margin=0.5)
    >>> quantiles = torch.randn(6, 4, 8).sort(dim=-1).values.requires_grad_()
    >>> value = loss(quantiles, torch.tensor([0, 0, 1, 1, 2, 2]))
    >>> value.backward()
    >>> bool(torch.isfinite(quantiles.grad).all())
    True
    """

    def __init__(
        self,
        p: int = 2,
        margin: float | str = 1.0,
        mining: str = "batch_hard",
        distance: QuantileWassersteinDistance | None = None,
    ) -> None:
        super().__init__()
        if mining not in ("batch_hard", "batch_all", "semi_hard"):
            raise ValueError(
                "mining must be 'batch_hard', 'batch_all' or 'semi_hard', "
                f"got {mining!r}."
            )
        if not (isinstance(margin, str) and margin == "soft"):
            # NaN fails ">= 0"; bool is no margin.
            if (
                isinstance(margin, bool)
                or not isinstance(margin, numbers.Real)
                or not margin >= 0
            ):
                raise ValueError(
                    f"margin must be a non-negative float or 'soft', got {margin!r}."
                )
            margin = float(margin)  # a NumPy scalar from a parameter grid
        self.distance = (
            distance if distance is not None else QuantileWassersteinDistance(p)
        )
        self.margin = margin
        self.mining = mining

    def mine(
        self, distances: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the indices ``(anchor, positive, negative)`` of the triplets."""
        if self.mining == "batch_hard":
            return batch_hard_triplets(distances, labels)
        if self.mining == "semi_hard":
            return semi_hard_triplets(distances, labels)
        margin = None if self.margin == "soft" else float(self.margin)
        return batch_all_triplets(distances, labels, margin)

    def forward(self, quantiles: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean triplet loss of a batch.

        Parameters
        ----------
        quantiles : torch.Tensor of shape (B, K, M)
            Quantile embeddings.
        labels : torch.Tensor of shape (B,)
            Integer class labels.

        Returns
        -------
        loss : torch.Tensor, scalar
            Zero, still attached to the graph, when no triplet is mined.
        """
        distances = self.distance.matrix(quantiles)
        anchor, positive, negative = self.mine(distances.detach(), labels)
        if anchor.numel() == 0:
            return distances.sum() * 0.0
        gap = distances[anchor, positive] - distances[anchor, negative]
        if self.margin == "soft":
            return functional.softplus(gap).mean()
        return torch.relu(gap + float(self.margin)).mean()
