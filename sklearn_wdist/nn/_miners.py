"""Triplet mining inside a batch, from a distance matrix and labels.

Every miner takes a ``(B, B)`` distance matrix and ``(B,)`` integer labels and
returns three index tensors ``(anchor, positive, negative)``. Miners work on
detached distances: they choose triplets, the loss differentiates through them.
Ties are broken towards the lowest index.
"""

from __future__ import annotations

import torch


def _class_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def batch_hard_triplets(
    distances: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One triplet per anchor: its farthest positive and its nearest negative.

    Anchors without a positive or without a negative in the batch are skipped.

    Parameters
    ----------
    distances : torch.Tensor of shape (B, B)
    labels : torch.Tensor of shape (B,)

    Returns
    -------
    anchor, positive, negative : torch.Tensor of shape (n_triplets,)

    Examples
    --------
    >>> import torch
    >>> d = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 0.5], [2.0, 0.5, 0.0]])
    >>> batch_hard_triplets(d, torch.tensor([0, 0, 1]))
    (tensor([0, 1]), tensor([1, 0]), tensor([2, 2]))
    """
    with torch.no_grad():
        positive_mask, negative_mask = _class_masks(labels)
        valid = positive_mask.any(dim=1) & negative_mask.any(dim=1)
        neg_inf = torch.tensor(-float("inf"), device=distances.device)
        pos_inf = torch.tensor(float("inf"), device=distances.device)
        positive = torch.where(positive_mask, distances, neg_inf).argmax(dim=1)
        negative = torch.where(negative_mask, distances, pos_inf).argmin(dim=1)
        anchor = torch.nonzero(valid).flatten()
        return anchor, positive[anchor], negative[anchor]


def _all_triplet_mask(labels: torch.Tensor) -> torch.Tensor:
    positive_mask, negative_mask = _class_masks(labels)
    return positive_mask[:, :, None] & negative_mask[:, None, :]


def batch_all_triplets(
    distances: torch.Tensor, labels: torch.Tensor, margin: float | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every valid triplet whose loss is positive.

    With a hard margin these are the triplets with
    ``d(a, p) - d(a, n) + margin > 0``; with the soft margin (``margin=None``) the
    loss of every triplet is positive and all of them are returned.

    Parameters
    ----------
    distances : torch.Tensor of shape (B, B)
    labels : torch.Tensor of shape (B,)
    margin : float or None
        The hard margin, or ``None`` for the soft margin.

    Returns
    -------
    anchor, positive, negative : torch.Tensor of shape (n_triplets,)

    Examples
    --------
    >>> import torch
    >>> d = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 0.5], [2.0, 0.5, 0.0]])
    >>> batch_all_triplets(d, torch.tensor([0, 0, 1]), margin=0.1)
    (tensor([1]), tensor([0]), tensor([2]))
    """
    with torch.no_grad():
        mask = _all_triplet_mask(labels)
        if margin is not None:
            violation = distances[:, :, None] - distances[:, None, :] + margin
            mask = mask & (violation > 0)
        anchor, positive, negative = torch.nonzero(mask, as_tuple=True)
        return anchor, positive, negative


def semi_hard_triplets(
    distances: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One triplet per anchor-positive pair, with a semi-hard negative.

    For each pair ``(a, p)`` the negative is the nearest one that is farther from
    the anchor than the positive, ``d(a, n) > d(a, p)`` (FaceNet's semi-hard
    negative). When every negative is closer than the positive, the farthest
    negative is used, the least violating choice.

    Parameters
    ----------
    distances : torch.Tensor of shape (B, B)
    labels : torch.Tensor of shape (B,)

    Returns
    -------
    anchor, positive, negative : torch.Tensor of shape (n_triplets,)

    Examples
    --------
    >>> import torch
    >>> d = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 0.5], [2.0, 0.5, 0.0]])
    >>> semi_hard_triplets(d, torch.tensor([0, 0, 1]))
    (tensor([0, 1]), tensor([1, 0]), tensor([2, 2]))
    """
    with torch.no_grad():
        positive_mask, negative_mask = _class_masks(labels)
        has_negative = negative_mask.any(dim=1)
        anchor, positive = torch.nonzero(
            positive_mask & has_negative[:, None], as_tuple=True
        )
        to_negatives = distances[anchor]  # (n_pairs, B)
        is_negative = negative_mask[anchor]
        farther = is_negative & (to_negatives > distances[anchor, positive][:, None])
        pos_inf = torch.tensor(float("inf"), device=distances.device)
        neg_inf = torch.tensor(-float("inf"), device=distances.device)
        nearest_farther = torch.where(farther, to_negatives, pos_inf).argmin(dim=1)
        farthest = torch.where(is_negative, to_negatives, neg_inf).argmax(dim=1)
        negative = torch.where(farther.any(dim=1), nearest_farther, farthest)
        return anchor, positive, negative
