"""An encoder followed by quantile pooling: sequences to quantile embeddings."""

from __future__ import annotations

import torch
from torch import nn

from ._pooling import (
    _check_n_quantiles,
    check_quantile_method,
    mean_pooling,
    quantile_pooling,
)


class QuantileEmbedding(nn.Module):
    """Map padded sequences to per-feature quantile functions.

    Encoders that declare ``accepts_lengths = True`` (such as
    :class:`~sklearn_wdist.nn.ConvEncoder`) receive the padded batch and the valid
    lengths and must keep their output on valid steps independent of padding. Any
    other module mapping ``(batch, C, T)`` to ``(batch, K, T')`` is run on groups of
    equal-length sequences without padding, so its embeddings never see padding
    either. In training each such group is a batch of its own: statistics that
    the encoder takes over the batch (a :class:`torch.nn.BatchNorm1d`) come from
    the sequences of one length only, so with varied lengths they are often
    those of a single sequence. An encoder that normalises over the batch
    should accept the lengths and normalise over the valid steps of the whole
    batch, as :class:`~sklearn_wdist.nn.MaskedBatchNorm1d` does.

    Parameters
    ----------
    encoder : torch.nn.Module
        The per-step encoder.
    n_quantiles : int
        Number of quantile levels ``M``.
    quantile_method : {"linear", "inverted_cdf"}, default="linear"
        See :func:`~sklearn_wdist.nn.quantile_pooling`.
    pooling : {"quantile", "mean"}, default="quantile"
        ``"mean"`` replaces the quantile functions by the per-feature mean, shape
        ``(batch, K, 1)``: the vector-embedding baseline.

    Examples
    --------
    >>> import torch
    >>> from sklearn_wdist.nn import ConvEncoder
    >>> model = QuantileEmbedding(ConvEncoder(2, n_features=4), n_quantiles=8)
    >>> model(torch.randn(3, 2, 10), torch.tensor([10, 6, 3])).shape
    torch.Size([3, 4, 8])
    """

    def __init__(
        self,
        encoder: nn.Module,
        n_quantiles: int,
        quantile_method: str = "linear",
        pooling: str = "quantile",
    ) -> None:
        super().__init__()
        if pooling not in ("quantile", "mean"):
            raise ValueError(f"pooling must be 'quantile' or 'mean', got {pooling!r}.")
        _check_n_quantiles(n_quantiles)
        check_quantile_method(quantile_method, "quantile_method")
        self.pooling = pooling
        self.encoder = encoder
        self.n_quantiles = n_quantiles
        self.quantile_method = quantile_method

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self._checked_features(self.encoder(x), x)

    @staticmethod
    def _checked_features(features, x: torch.Tensor) -> torch.Tensor:
        """Return the encoder's output ``features`` for ``x`` after checking it."""
        if not isinstance(features, torch.Tensor) or features.ndim != 3:
            shape = getattr(features, "shape", type(features).__name__)
            raise ValueError(
                "encoder must map (batch, channels, time) to a 3-D tensor "
                f"(batch, features, time), got {shape}."
            )
        if features.shape[-1] < 1:
            raise ValueError(
                f"encoder returned no time steps for sequences of length "
                f"{x.shape[-1]}: the sequences are too short for the encoder."
            )
        return features

    def step_features(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-step features of a padded batch and their valid lengths.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, C, T)
        lengths : torch.Tensor of shape (batch,)

        Returns
        -------
        features : torch.Tensor of shape (batch, K, T')
            Padded at the end; only the first ``out_lengths[i]`` steps are valid.
        out_lengths : torch.Tensor of shape (batch,)
        """
        if getattr(self.encoder, "accepts_lengths", False):
            features = self._checked_features(self.encoder(x, lengths), x)
            if features.shape[0] != x.shape[0] or features.shape[-1] != x.shape[-1]:
                # Pooling reads the first lengths[i] steps of each row: they
                # must be the input's steps, one output step per input step.
                raise ValueError(
                    "an encoder with accepts_lengths = True must keep the batch "
                    f"and time axes (input {tuple(x.shape)}, output "
                    f"{tuple(features.shape)}); one that shortens sequences must "
                    "not declare accepts_lengths."
                )
            return features, lengths
        groups = []
        for length in torch.unique(lengths).tolist():
            index = torch.nonzero(lengths == length).flatten()
            group = x[index, :, :length]
            try:
                features = self.encoder(group)
            except ValueError as error:
                if not self.training:
                    raise
                raise ValueError(
                    f"the encoder failed in training on the {len(index)} "
                    f"sequence(s) of length {length} of this batch, which an "
                    "encoder without accepts_lengths sees as a batch of its own "
                    "(batch statistics, as in BatchNorm1d, are taken over it): "
                    f"{error}"
                ) from error
            groups.append((index, self._checked_features(features, group)))
        n_features = groups[0][1].shape[1]
        longest = max(features.shape[-1] for _, features in groups)
        out = x.new_zeros((x.shape[0], n_features, longest))
        out_lengths = torch.empty_like(lengths)
        for index, features in groups:
            out[index, :, : features.shape[-1]] = features
            out_lengths[index] = features.shape[-1]
        return out, out_lengths

    def probe(self, x: torch.Tensor) -> int:
        """Run one sequence through the encoder; return the number of features ``K``.

        Catches an encoder that cannot process the data before any training:
        the module is put in evaluation mode for the probe (batch statistics of
        a single sequence are meaningless) and restored afterwards.

        Parameters
        ----------
        x : torch.Tensor of shape (1, C, T)
            One sequence, typically the shortest of a collection.

        Returns
        -------
        n_features : int
            Number of per-step features of the encoder's output.

        Raises
        ------
        ValueError
            If the encoder fails on ``x`` or returns no valid output.
        """
        was_training = self.training
        if was_training:  # a module in evaluation mode is never switched
            self.eval()
        try:
            with torch.no_grad():
                lengths = torch.tensor([x.shape[-1]], device=x.device)
                features, _ = self.step_features(x, lengths)
        except RuntimeError as error:
            raise ValueError(
                f"the encoder cannot process a sequence of length {x.shape[-1]} "
                f"(too short?): {error}"
            ) from error
        finally:
            if was_training:
                self.train()
        return int(features.shape[1])

    def pool(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Pool per-step features ``(batch, K, T)`` as :meth:`forward` does."""
        if self.pooling == "mean":
            return mean_pooling(features, lengths)
        return quantile_pooling(
            features, lengths, self.n_quantiles, self.quantile_method
        )

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Quantiles ``(batch, K, n_quantiles)``, or means ``(batch, K, 1)``."""
        return self.pool(*self.step_features(x, lengths))
