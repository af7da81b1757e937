"""Masks for batches of padded, variable-length sequences."""

from __future__ import annotations

import torch


def lengths_to_mask(lengths: torch.Tensor, n_timepoints: int) -> torch.Tensor:
    """Boolean mask of the valid steps of a padded batch.

    Parameters
    ----------
    lengths : torch.Tensor of shape (batch,)
        Number of valid (leading) steps of each sequence.
    n_timepoints : int
        Padded length of the batch.

    Returns
    -------
    mask : torch.Tensor of shape (batch, 1, n_timepoints), dtype bool
        ``True`` on valid steps. The singleton axis broadcasts over channels.

    Examples
    --------
    >>> import torch
    >>> lengths_to_mask(torch.tensor([1, 3]), 3).int()
    tensor([[[1, 0, 0]],
    <BLANKLINE>
            [[1, 1, 1]]], dtype=torch.int32)
    """
    steps = torch.arange(n_timepoints, device=lengths.device)
    return (steps[None, :] < lengths[:, None])[:, None, :]
