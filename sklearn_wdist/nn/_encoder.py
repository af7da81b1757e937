"""The default per-step encoder: 1-D convolutions that ignore padded steps."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from ._masking import lengths_to_mask


def difference_lags(include_differences: bool | Sequence[int]) -> tuple[int, ...]:
    """Return the lags of an encoder's difference rows: ``True`` is ``(1,)``.

    Raises ``ValueError`` unless ``include_differences`` is a bool or a
    sequence of distinct positive integers.

    Examples
    --------
    >>> difference_lags(True), difference_lags(False), difference_lags([1, 4])
    ((1,), (), (1, 4))
    """
    if isinstance(include_differences, (bool, np.bool_)):
        return (1,) if include_differences else ()
    if isinstance(include_differences, str) or not isinstance(
        include_differences, Iterable
    ):
        raise ValueError(
            "include_differences must be a bool or a sequence of difference "
            f"lags, got {include_differences!r}."
        )
    lags = tuple(include_differences)
    if not all(
        isinstance(lag, numbers.Integral) and not isinstance(lag, (bool, np.bool_))
        for lag in lags
    ):
        raise ValueError(f"difference lags must be integers, got {lags!r}.")
    lags = tuple(int(lag) for lag in lags)
    if any(lag < 1 for lag in lags) or len(set(lags)) != len(lags):
        raise ValueError(f"difference lags must be distinct and >= 1, got {lags!r}.")
    return lags


def multiscale_difference_lags(
    length: float, fraction: float = 0.125
) -> tuple[int, ...]:
    """Return the lags 1, 2, 4, ... up to ``fraction`` of a (median) length.

    The increments ``x[t] - x[t - L]`` at these lags describe how a signal
    changes over a few steps and up to an eighth of its length (with the
    default ``fraction``); lag 1 is always there.

    Parameters
    ----------
    length : float
        The (median) sequence length.
    fraction : float, default=0.125
        The longest lag is the largest power of two at most
        ``fraction * length``.

    Returns
    -------
    lags : tuple of int
        ``(1, 2, 4, ...)``, at least ``(1,)``.

    Examples
    --------
    >>> [multiscale_difference_lags(n) for n in (15, 100, 251)]
    [(1,), (1, 2, 4, 8), (1, 2, 4, 8, 16)]
    """
    lags, lag = [1], 2
    while lag <= length * fraction:
        lags.append(lag)
        lag *= 2
    return tuple(lags)


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """Batch normalisation over the valid steps of a padded batch.

    In training mode the batch statistics are taken over the valid steps only, so
    padding never shifts them; in evaluation mode the running statistics are used,
    so a sequence's output does not depend on the rest of its batch. Padded steps
    are set to zero on output.

    A channel that never varied over the valid steps of a training batch (all
    training sequences of length one, a sensor stuck during training) is
    centred but not scaled, as scikit-learn's ``StandardScaler`` does with
    zero variance: dividing by its vanishing running variance would blow up any
    variation it shows later by up to ``eps ** -0.5``. "Never varied" means a
    batch standard deviation of at most 64 machine epsilons of the input dtype,
    relative to the channel's root mean square, i.e. rounding error, in every
    training batch. The flags are the buffer ``varied``; modules saved before
    it existed scale every channel. A channel that varied in some batches and
    not in others is scaled by its running variance, as in
    :class:`torch.nn.BatchNorm1d`.

    Parameters
    ----------
    num_features : int
        Number of channels.
    **kwargs
        Passed to :class:`torch.nn.BatchNorm1d`: ``eps``, ``momentum`` (a
        float, or ``None`` for the cumulative average of the batch
        statistics) and ``affine``. Without running statistics
        (``track_running_stats=False``) batch statistics are used in both modes.

    Examples
    --------
    >>> import torch
    >>> norm = MaskedBatchNorm1d(2)
    >>> x = torch.randn(3, 2, 5)
    >>> mask = lengths_to_mask(torch.tensor([5, 2, 4]), 5)
    >>> norm(x, mask).shape
    torch.Size([3, 2, 5])
    """

    def __init__(self, num_features: int, *args, **kwargs) -> None:
        super().__init__(num_features, *args, **kwargs)
        if self.track_running_stats:
            self.register_buffer(
                "varied",
                torch.zeros(
                    num_features, dtype=torch.bool, device=self.running_mean.device
                ),
            )
        else:
            self.register_buffer("varied", None)

    def reset_running_stats(self) -> None:
        """Reset the running statistics and the ``varied`` flags."""
        super().reset_running_stats()
        # Also called by BatchNorm1d.__init__, before the flags exist.
        if self._buffers.get("varied") is not None:
            self.varied.zero_()

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        # Pickled before the flags existed: every channel is scaled, as then.
        if self.track_running_stats and "varied" not in self._buffers:
            self.register_buffer("varied", torch.ones_like(self.running_mean).bool())

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # A full state saved before the flags existed (it has the running
        # statistics but no flags): every channel is scaled, as then. A partial
        # load (strict=False) without statistics leaves the flags alone.
        key = prefix + "varied"
        if (
            self.track_running_stats
            and key not in state_dict
            and prefix + "running_mean" in state_dict
        ):
            state_dict[key] = torch.ones_like(self.varied)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Normalise ``x`` of shape (batch, channels, time) on the steps in ``mask``.

        ``mask`` is boolean, ``(batch, 1, time)`` or ``(batch, channels,
        time)``. Padded steps may hold anything, NaN included: they are
        zeroed before any statistic is taken.
        """
        valid = mask.expand_as(x)
        x = x.masked_fill(~valid, 0.0)
        if self.training or self.running_mean is None:
            # Valid steps per channel (a full-shape mask may differ by channel).
            count = valid.sum(dim=(0, 2)).to(x.dtype).clamp(min=1.0)
            mean = x.sum(dim=(0, 2)) / count
            centred = (x - mean[None, :, None]).masked_fill(~valid, 0.0)
            var = centred.pow(2).sum(dim=(0, 2)) / count
            scaled = _varies(mean, var)
            if self.track_running_stats and self.running_mean is not None:
                with torch.no_grad():
                    unbiased = var * count / (count - 1).clamp(min=1.0)
                    self.num_batches_tracked += 1
                    # momentum=None: the cumulative average, as in BatchNorm1d.
                    weight = (
                        1.0 / float(self.num_batches_tracked)
                        if self.momentum is None
                        else self.momentum
                    )
                    self.running_mean.lerp_(mean, weight)
                    self.running_var.lerp_(unbiased, weight)
                    self.varied |= scaled
        else:  # running statistics, so flags (__setstate__ adds old modules')
            mean, var, scaled = self.running_mean, self.running_var, self.varied
        scale = torch.where(scaled, torch.rsqrt(var + self.eps), torch.ones_like(var))
        out = (x - mean[None, :, None]) * scale[None, :, None]
        if self.affine:
            out = out * self.weight[None, :, None] + self.bias[None, :, None]
        return out.masked_fill(~valid, 0.0)


def _varies(mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """Channels whose standard deviation exceeds the rounding error of their values.

    Rounding error is taken as 64 machine epsilons of the root mean square
    ``sqrt(var + mean ** 2)``, so the test does not depend on the data's scale
    (and an all-zero channel never varies).
    """
    tolerance = (64 * torch.finfo(var.dtype).eps) ** 2
    return var > tolerance * (var + mean.square())


def reset_encoder_parameters(
    encoder: nn.Module, generator: torch.Generator | None = None
) -> None:
    """(Re-)initialise the convolutions and normalisations of an encoder.

    Convolutions get PyTorch's default initialisation (uniform He initialisation
    with ``a = sqrt(5)``, uniform biases in ``+-1/sqrt(fan_in)``), drawn from
    ``generator`` instead of the global generator; normalisation layers start
    from zero mean and unit variance. This also makes a module built on the
    ``"meta"`` device usable after ``to_empty``.

    Parameters
    ----------
    encoder : torch.nn.Module
        The encoder; every ``Conv1d`` and ``BatchNorm1d`` inside is reset.
    generator : torch.Generator, optional
        Source of the random weights, on the module's device.
    """
    for module in encoder.modules():
        if isinstance(module, nn.Conv1d):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
            if module.bias is not None:
                fan_in = module.weight.shape[1] * module.weight.shape[2]
                bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
        elif isinstance(module, nn.BatchNorm1d):
            module.reset_parameters()


class SeededDropout(nn.Dropout):
    """Dropout that draws its masks from a private generator when one is set.

    ``torch.nn.Dropout`` draws from PyTorch's global generator, which threads
    share and which belongs to the caller. While ``generator`` is set (the
    estimator sets it for the duration of a fit), masks come from it instead, so
    fits with the same ``random_state`` are identical in threads and the
    caller's global generator is never advanced. Without a generator it behaves
    exactly like :class:`torch.nn.Dropout`.

    Examples
    --------
    >>> import torch
    >>> dropout = SeededDropout(0.5)
    >>> dropout.generator = torch.Generator().manual_seed(0)
    >>> dropout(torch.ones(2, 4)).shape
    torch.Size([2, 4])
    """

    generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Zero each element with probability ``p`` and rescale the rest."""
        if not self.training or self.p == 0.0 or self.generator is None:
            return super().forward(x)
        if self.p == 1.0:  # everything dropped, as torch's Dropout gives (not 0/0)
            return torch.zeros_like(x)
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p, generator=self.generator)
        return x * keep / (1.0 - self.p)

    def __getstate__(self) -> dict:
        # A generator is a training-time loan, never part of a saved model.
        state = self.__dict__.copy()
        state.pop("generator", None)
        return state


class MaskedEncoder(nn.Module):
    """Shared frame of the built-in encoders: input and output of the layers.

    The input channels are normalised over valid steps; a subclass's
    ``hidden(inputs, mask)`` computes ``hidden_width`` features per step (zero
    on padded steps); a 1x1 convolution projects them to ``n_features``,
    optionally standardised (``normalize_output``) and followed by the
    normalised input channels (``include_input``) and their standardised first
    differences, or increments at several lags (``include_differences``).

    Parameters
    ----------
    in_channels : int
        Number of input channels ``C``.
    n_features : int
        Number of learned output features ``K`` (per step).
    hidden_width : int
        Number of features ``hidden`` returns.
    include_input : bool
        Append the normalised input channels to the output features.
    normalize_output : bool
        Standardise each learned feature with batch statistics.
    include_differences : bool or sequence of int, default=False
        Also append the first difference of each normalised input channel
        (``x[t] - x[t-1]``, zero at a sequence's first step), standardised with
        batch statistics. Needs ``include_input``. A sequence of lags ``L``
        appends the increments ``x[t] - x[max(t - L, 0)]`` at each lag, lag
        after lag (``True`` is ``(1,)``).

    Attributes
    ----------
    kept_row_weights : torch.Tensor of shape (n_kept,)
        Buffer of factors for the kept rows (input channels, then their
        differences), ones after (re-)initialisation.
        :class:`~sklearn_wdist.WassersteinSequenceEmbedder` sets them after
        training (``input_row_weighting``); pooled quantiles scale with them.
    input_gates : torch.Tensor of shape (in_channels,)
        Buffer of factors by which the normalised input channels are scaled
        on their way into ``hidden`` (the kept rows are not scaled), ones after
        (re-)initialisation. :class:`~sklearn_wdist.WassersteinSequenceEmbedder`
        sets them from the training data before training (``input_gating``).
        A subclass that overrides ``forward`` must apply them itself.
    """

    accepts_lengths = True

    def __init__(
        self,
        in_channels: int,
        n_features: int,
        hidden_width: int,
        include_input: bool,
        normalize_output: bool,
        include_differences: bool | Sequence[int] = False,
    ) -> None:
        super().__init__()
        lags = difference_lags(include_differences)
        if lags and not include_input:
            raise ValueError(
                "include_differences appends differences to the kept input "
                "channels; it needs include_input=True."
            )
        self.include_input = include_input
        self.difference_lags = lags
        self.input_norm = MaskedBatchNorm1d(in_channels, affine=False)
        self.head = nn.Conv1d(hidden_width, n_features, 1)
        self.output_norm = (
            MaskedBatchNorm1d(n_features, affine=False) if normalize_output else None
        )
        self.difference_norm = (
            MaskedBatchNorm1d(in_channels * len(lags), affine=False) if lags else None
        )
        kept = (int(include_input) + len(lags)) * in_channels
        self.out_features = n_features + kept
        # Weights of the kept rows (input channels, then their differences) in
        # the output; ones unless set after training (see kept_row_weights).
        self.register_buffer("kept_row_weights", torch.ones(kept))
        # Factors of the input channels the hidden layers see; ones unless set
        # from the training data (see input_gates).
        self.register_buffer("input_gates", torch.ones(in_channels))

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        device = self.input_norm.running_mean.device
        # Pickled before the kept rows had weights: they weigh 1, as then.
        if "kept_row_weights" not in self._buffers:
            n_lags = len(self._lags())
            kept = (int(self.include_input) + n_lags) * self.input_norm.num_features
            self.register_buffer("kept_row_weights", torch.ones(kept, device=device))
        # Pickled before the input channels had gates: every channel passes.
        if "input_gates" not in self._buffers:
            n_channels = self.input_norm.num_features
            self.register_buffer("input_gates", torch.ones(n_channels, device=device))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # A full state saved before these buffers existed (it has the input
        # statistics but not them): they are ones, as then. A partial load
        # (strict=False) without them leaves them alone.
        if prefix + "input_norm.running_mean" in state_dict:
            for name in ("kept_row_weights", "input_gates"):
                if prefix + name not in state_dict:
                    state_dict[prefix + name] = torch.ones_like(getattr(self, name))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _lags(self) -> tuple[int, ...]:
        # A module pickled before the lags were stored had lag 1 or none.
        lags = getattr(self, "difference_lags", None)
        if lags is None:
            lags = (1,) if getattr(self, "difference_norm", None) is not None else ()
        return lags

    def kept_row_sources(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each kept row's float32 rounding comes from.

        Returns ``(sources, gains)``: the kept input row each kept row is
        computed from (itself for an input row; its channel for a difference
        row) and the factor by which that row's rounding error reaches it. A
        difference of two normalised steps carries the rounding of both, and
        the difference normalisation scales it by its inverse standard
        deviation (a difference that never varied is only centred). So a row
        of constant differences, small beside the values they are taken
        from, is not mistaken for a row that varies.
        """
        n_channels = self.input_norm.num_features
        lags = self._lags()
        sources = np.tile(np.arange(n_channels), 1 + len(lags))
        gains = np.ones(sources.size)
        if lags:
            norm = self.difference_norm
            varied = getattr(norm, "varied", None)  # None: saved before the flags
            if varied is None:
                varied = torch.ones_like(norm.running_var, dtype=torch.bool)
            scale = torch.where(
                varied,
                torch.rsqrt(norm.running_var + norm.eps),
                torch.ones_like(norm.running_var),
            )
            gains[n_channels:] = 2.0 * scale.detach().cpu().double().numpy()
        return sources, gains

    def hidden(self, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-step hidden features of normalised inputs (zero on padded steps)."""
        raise NotImplementedError

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """(Re-)initialise every weight; see :func:`reset_encoder_parameters`.

        Parameters
        ----------
        generator : torch.Generator, optional
            Source of the random weights, on the module's device.
        """
        reset_encoder_parameters(self, generator)
        self.kept_row_weights.fill_(1.0)
        self.input_gates.fill_(1.0)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-step features of a padded batch.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, in_channels, time)
            Sequences padded at the end.
        lengths : torch.Tensor of shape (batch,)
            Valid length of each sequence.

        Returns
        -------
        features : torch.Tensor of shape (batch, out_features, time)
            Zero on padded steps.
        """
        mask = lengths_to_mask(lengths, x.shape[-1])
        inputs = self.input_norm(x, mask)
        gated = inputs * self.input_gates[None, :, None]
        features = self.head(self.hidden(gated, mask)).masked_fill(~mask, 0.0)
        if self.output_norm is not None:
            features = self.output_norm(features, mask)
        if not self.include_input:
            return features
        kept = [inputs]
        lags = self._lags()
        if lags:
            # Step max(t - L, 0) of a valid step t is valid (padding is at the
            # end); the first step's difference is zero. Padded steps are
            # zeroed by the normalisation.
            steps = torch.arange(inputs.shape[-1], device=inputs.device)
            increments = [
                inputs - inputs[..., (steps - lag).clamp_min(0)] for lag in lags
            ]
            kept.append(self.difference_norm(torch.cat(increments, dim=1), mask))
        kept = torch.cat(kept, dim=1) * self.kept_row_weights[None, :, None]
        return torch.cat([features, kept], dim=1)


class ConvEncoder(MaskedEncoder):
    """A stack of 1-D convolutions giving learned features at every time step.

    Each block is a ``'same'``-padded convolution, a :class:`MaskedBatchNorm1d` and
    a ReLU; a final 1x1 convolution projects to ``n_features`` (with
    ``n_layers=0`` the encoder is that linear projection of the normalised input
    channels alone). Padded steps are
    zeroed before every convolution, so a valid step sees exactly what it would see
    if its sequence were processed alone: the output on valid steps does not depend
    on padding. When ``include_input`` is true the (normalised) raw channels are
    appended to the learned features, so the distribution of the raw signal is
    always part of the embedding. When ``normalize_output`` is true the learned
    features pass through a :class:`MaskedBatchNorm1d` without affine parameters:
    every feature has zero mean and unit variance over the valid steps of a
    training batch, so the network cannot meet the triplet margin by inflating
    the scale of its output, and learned and raw features weigh alike.

    Parameters
    ----------
    in_channels : int
        Number of input channels ``C``.
    n_features : int, default=32
        Number of learned output features ``K`` (per step).
    hidden_channels : int, default=64
        Width of the hidden convolutions.
    n_layers : int, default=3
        Number of convolution blocks before the projection.
    kernel_size : int, default=5
        Temporal width of each convolution.
    dropout : float, default=0.0
        Dropout probability after each block (training only).
    include_input : bool, default=False
        Append the normalised input channels to the output features, which then
        has ``n_features + in_channels`` rows (``n_features + (1 + L) *
        in_channels`` with ``L`` difference lags, ``include_differences``).
    normalize_output : bool, default=False
        Standardise each learned feature with batch statistics (running
        statistics at inference).
    include_differences : bool or sequence of int, default=False
        Also append each normalised input channel's first difference
        (``x[t] - x[t-1]``, zero at the first step), standardised: the
        distribution of the signal's slopes. Needs ``include_input``. A
        sequence of lags appends the increments at each lag instead (see
        :class:`MaskedEncoder`).

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
    >>> encoder = ConvEncoder(3, n_features=8)
    >>> features = encoder(torch.randn(2, 3, 20), torch.tensor([20, 11]))
    >>> features.shape
    torch.Size([2, 8, 20])
    """

    def __init__(
        self,
        in_channels: int,
        n_features: int = 32,
        hidden_channels: int = 64,
        n_layers: int = 3,
        kernel_size: int = 5,
        dropout: float = 0.0,
        include_input: bool = False,
        normalize_output: bool = False,
        include_differences: bool | Sequence[int] = False,
    ) -> None:
        width = hidden_channels if n_layers > 0 else in_channels
        super().__init__(
            in_channels,
            n_features,
            width,
            include_input,
            normalize_output,
            include_differences,
        )
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        width = in_channels
        for _ in range(n_layers):
            self.convs.append(
                nn.Conv1d(width, hidden_channels, kernel_size, padding="same")
            )
            self.norms.append(MaskedBatchNorm1d(hidden_channels))
            width = hidden_channels
        self.dropout = SeededDropout(dropout)
        self.receptive_field = 1 + n_layers * (kernel_size - 1)

    def hidden(self, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Convolution blocks; padded steps are zero before every convolution."""
        hidden = inputs
        for conv, norm in zip(self.convs, self.norms, strict=True):
            hidden = self.dropout(torch.relu(norm(conv(hidden), mask)))
        return hidden
