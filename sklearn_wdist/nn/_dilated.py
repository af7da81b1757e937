"""A multi-scale encoder: residual blocks of exponentially dilated convolutions."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ._encoder import MaskedBatchNorm1d, MaskedEncoder, SeededDropout


def dilated_receptive_field(n_blocks: int, kernel_size: int) -> int:
    """Return how many input steps one output step of the dilated encoder sees.

    Block ``b`` (from 0) is a convolution of width ``kernel_size`` and dilation
    ``2 ** b``, which widens the field by ``(kernel_size - 1) * 2 ** b``.

    Examples
    --------
    >>> dilated_receptive_field(0, 3), dilated_receptive_field(3, 3)
    (1, 15)
    """
    return 1 + (kernel_size - 1) * (2**n_blocks - 1)


def dilated_blocks_for_length(
    length: float, kernel_size: int, max_blocks: int = 10
) -> int:
    """Fewest blocks whose receptive field covers ``length`` steps (at least one).

    Capped at ``max_blocks``: with ``kernel_size=3``, 10 blocks already see 2047
    steps, and every block costs a convolution over the whole sequence.

    Examples
    --------
    >>> [dilated_blocks_for_length(n, 3) for n in (3, 15, 16, 500, 10**5)]
    [1, 3, 4, 8, 10]
    """
    if kernel_size < 2:
        return 1
    needed = math.ceil(math.log2((length - 1) / (kernel_size - 1) + 1))
    return int(min(max(needed, 1), max_blocks))


class _ResidualBlock(nn.Module):
    def __init__(self, width: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(
            width, width, kernel_size, dilation=dilation, padding="same"
        )
        self.norm = MaskedBatchNorm1d(width)
        self.dropout = SeededDropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # Inputs are zero on padded steps, so 'same' padding and padding of
        # the batch look alike to every valid step; the normalisation zeroes
        # padded steps again.
        hidden = self.norm(self.conv(self.dropout(x)), mask)
        return torch.relu(x + hidden)


class DilatedConvEncoder(MaskedEncoder):
    """Residual blocks of dilated convolutions: features that see far in time.

    A 1x1 convolution lifts the (normalised) input channels to
    ``hidden_channels``; block ``b`` then applies a ``'same'``-padded
    convolution of dilation ``2 ** b`` and a :class:`MaskedBatchNorm1d`, with a
    residual connection and a ReLU; a 1x1 convolution
    projects to ``n_features``. The receptive field grows exponentially with
    the number of blocks (:func:`dilated_receptive_field`), so patterns spanning
    hundreds of steps are visible to every step's features at the cost of a few
    layers. As in :class:`ConvEncoder`, padded steps are zero before every
    convolution and normalisations use valid steps only, so the output on valid
    steps does not depend on padding; ``include_input`` and
    ``normalize_output`` mean the same.

    Parameters
    ----------
    in_channels : int
        Number of input channels ``C``.
    n_features : int, default=8
        Number of learned output features ``K`` (per step).
    hidden_channels : int, default=64
        Width of the residual blocks.
    n_blocks : int, default=4
        Number of residual blocks; see :func:`dilated_blocks_for_length` for a
        choice that follows the sequence lengths.
    kernel_size : int, default=3
        Temporal width of each convolution.
    dropout : float, default=0.0
        Dropout probability inside each block (training only).
    include_input : bool, default=False
        Append the normalised input channels to the output features.
    normalize_output : bool, default=False
        Standardise each learned feature with batch statistics.
    readout : {"last", "all"}, default="last"
        What the output projection reads. ``"last"``: the last block, whose
        steps see the whole receptive field. ``"all"``: the lifted input and
        the output of every block, side by side, so the learned features can
        mix patterns of every scale from a few steps up to the receptive field
        (``hidden_channels * (n_blocks + 1)`` projected rows).
    include_differences : bool or sequence of int, default=False
        Also append each normalised input channel's first difference,
        standardised, or a sequence of lags (see :class:`MaskedEncoder`).
        Needs ``include_input``.

    Attributes
    ----------
    accepts_lengths : bool
        ``True``: ``forward`` takes the valid lengths and honours them.
    out_features : int
        Number of per-step output features.
    receptive_field : int
        Number of input steps each output step depends on.

    Examples
    --------
    >>> import torch
    >>> encoder = DilatedConvEncoder(3, n_features=8, n_blocks=3)
    >>> encoder.receptive_field
    15
    >>> encoder(torch.randn(2, 3, 40), torch.tensor([40, 17])).shape
    torch.Size([2, 8, 40])
    """

    def __init__(
        self,
        in_channels: int,
        n_features: int = 8,
        hidden_channels: int = 64,
        n_blocks: int = 4,
        kernel_size: int = 3,
        dropout: float = 0.0,
        include_input: bool = False,
        normalize_output: bool = False,
        readout: str = "last",
        include_differences: bool | Sequence[int] = False,
    ) -> None:
        if readout not in ("last", "all"):
            raise ValueError(f"readout must be 'last' or 'all', got {readout!r}.")
        n_read = n_blocks + 1 if readout == "all" else 1
        super().__init__(
            in_channels,
            n_features,
            hidden_channels * n_read,
            include_input,
            normalize_output,
            include_differences,
        )
        self.readout = readout
        self.stem = nn.Conv1d(in_channels, hidden_channels, 1)
        self.blocks = nn.ModuleList(
            _ResidualBlock(hidden_channels, kernel_size, 2**block, dropout)
            for block in range(n_blocks)
        )
        self.receptive_field = dilated_receptive_field(n_blocks, kernel_size)

    def hidden(self, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Residual dilated blocks; padded steps are zero before every convolution."""
        hidden = self.stem(inputs).masked_fill(~mask, 0.0)
        # Every scale is kept only when the read-out needs it (inference
        # memory stays one block's output otherwise).
        scales = [hidden] if self.readout == "all" else None
        for block in self.blocks:
            hidden = block(hidden, mask)
            if scales is not None:
                scales.append(hidden)
        return hidden if scales is None else torch.cat(scales, dim=1)
