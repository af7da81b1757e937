"""WassersteinSequenceEmbedder: the scikit-learn estimator around the skorch net.

``fit`` reads as its steps: check the settings, validate the data, split off
validation data, fit the input preprocessing, build the module, train, check the
trained model, record the fitted state. Torch code lives in ``nn/`` and
``_training.py``; every input check in ``_validation.py``.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
import numbers
import threading
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted
from skorch.callbacks import Callback, ProgressBar

from ._docs import DocumentationLinkMixin
from ._exact import pairwise_wasserstein_exact
from ._input_gates import fit_input_gates
from ._pairwise import pairwise_wasserstein
from ._row_weights import (
    encoder_buffer,
    fit_row_weights,
    fit_total_row_weights,
    kept_row_weights,
)
from ._training import (
    MAX_THREADS,
    AugmentingCollate,
    LatestBestEarlyStopping,
    RetrievalValidation,
    SequenceDataset,
    SequenceNet,
    StopOnNonFiniteLoss,
    TrainingInterrupted,
    check_finite_embeddings,
    check_finite_module,
    counting_sigint,
    embed_sequences,
    module_device,
    pad_batch,
    retrieval_score,
    seeded_dropout,
    sequence_step_features,
    stratified_sample,
    torch_threads,
)
from ._validation import (
    DEFAULT_ORDER,
    channel_names,
    check_channel_names,
    check_int,
    check_label_order,
    check_labels,
    check_sequences,
    check_training_labels,
    multiindex_instances,
    record_embedding_order,
)
from ._whitening import (
    channel_means,
    check_float32_resolution,
    check_training_input_range,
    fit_whitening,
    to_network_input,
)
from .metrics._retrieval import check_retrieval_labels
from .nn import (
    ClassBalancedBatchSampler,
    ConvEncoder,
    DilatedConvEncoder,
    MetricLearningLoss,
    QuantileEmbedding,
    QuantileWassersteinDistance,
    WassersteinTripletLoss,
    dilated_blocks_for_length,
    multiscale_difference_lags,
    quantile_levels,
)
from .nn._encoder import _varies
from .nn._pml import from_metric_learning

_VALIDATION_KEY = "valid_map_at_r"
# Names of the callbacks fit adds to the net: the first always, the others
# when sequences are held out. A user callback may not take one in use.
_OWN_CALLBACK_NAMES = ("stop_on_nonfinite", "valid_scoring", "early_stopping")


def _loss_order(loss: torch.nn.Module) -> int | None:
    """Return the Wasserstein order a loss of this package trains, if it has one."""
    if isinstance(loss, MetricLearningLoss):
        return loss.p
    distance = getattr(loss, "distance", None)
    if isinstance(distance, QuantileWassersteinDistance):
        return distance.p
    return None


# Training sequences whose embeddings are checked for NaN/inf after training.
_CHECKED_OUTPUTS = 256
# Early stopping scores at most this many held-out sequences, ranked among
# at most this many training sequences: a bounded pass on large data.
_VALIDATION_GALLERY = 1024
# Integer parameters: True/False are rejected there (p=True is not p=1).
_INTEGER_PARAMETERS = (
    "n_features",
    "hidden_channels",
    "kernel_size",
    "n_quantiles",
    "p",
    "classes_per_batch",
    "samples_per_class",
    "max_epochs",
    "n_iter_no_change",
)
# A user encoder, loss or miner may draw from torch's global generator (its own
# dropout, sampling); such fits are serialised so that threads cannot
# interleave their draws.
_GLOBAL_RNG_LOCK = threading.RLock()  # re-entrant: a fit inside a fit
# Quantile levels summarising each channel of a sequence for input_gating, and
# the share of channels without class effect whose gate would open.
_GATE_LEVELS = 16
_GATE_SIGNIFICANCE = 0.05
# Parameters that shape the module built by the first fit; a warm start keeps
# that module, so it refuses a change of any of them (and of p and pooling).
_STRUCTURAL_PARAMETERS = (
    "encoder",
    "n_features",
    "hidden_channels",
    "architecture",
    "n_layers",
    "kernel_size",
    "readout",
    "dropout",
    "include_input",
    "include_differences",
    "input_gating",
    "normalize_output",
    "input_whitening",
    "n_quantiles",
    "quantile_method",
)


def _start_input_statistics(norm, train_inputs: list[np.ndarray]) -> None:
    """Start the running statistics of the input at the training data's.

    The running variance starts at 1, but the network's input has the
    variance of the data: channels left in their own units any, and channels
    whitened within classes 1 plus the variance between classes (2 to 4 on
    JapaneseVowels). In a short fit the running variance, which evaluation
    uses, would still lean towards 1 and inflate (or shrink) every channel
    the training batches standardised.
    """
    # Sums sequence by sequence: no copy of all the steps. The inputs are
    # centred already, so the mean of the squares loses nothing to cancellation.
    count, total, squares = 0, 0.0, 0.0
    for values in train_inputs:
        steps = values.astype(np.float64)
        count += steps.shape[1]
        total = total + steps.sum(axis=1)
        squares = squares + np.einsum("ct,ct->c", steps, steps)
    mean = total / count
    variance = np.maximum(squares / count - mean**2, 0.0) * count / max(count - 1, 1)
    with torch.no_grad():
        norm.running_mean.copy_(torch.from_numpy(mean))
        norm.running_var.copy_(torch.from_numpy(variance))
        if getattr(norm, "varied", None) is not None:
            # As training batches would flag them (in the network's float32):
            # without it, a fit of no epoch centred the channels unscaled.
            norm.varied.copy_(_varies(norm.running_mean, norm.running_var))


def _median_length(sequences: list[np.ndarray]) -> float:
    """Median number of steps of (channels, steps) sequences."""
    return float(np.median([s.shape[-1] for s in sequences]))


def _same_parameter(current, fitted) -> bool:
    """Whether a structural parameter still has the value the module was built with."""
    if isinstance(current, torch.nn.Module) or isinstance(fitted, torch.nn.Module):
        return current is fitted
    return bool(current == fitted)


def _split_validation(labels: np.ndarray, fraction: float, rng: np.random.Generator):
    """Stratified split keeping at least two sequences of every class on each side.

    Classes too small to give two to each side stay entirely in training.
    """
    train, valid = [], []
    for code in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == code))
        n_valid = round(fraction * len(members))
        n_valid = min(max(n_valid, 2), len(members) - 2)
        if n_valid < 2:
            train.extend(members)
            continue
        valid.extend(members[:n_valid])
        train.extend(members[n_valid:])
    if len(np.unique(labels[valid])) < 2:
        # MAP@R over a single class is always 1: no signal to stop on.
        return np.arange(len(labels)), np.empty(0, dtype=int)
    return np.sort(np.asarray(train, dtype=int)), np.sort(np.asarray(valid, dtype=int))


def _split_validation_classes(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
):
    """Hold out whole classes: validation measures transfer to unseen classes.

    At least two classes go to each side (a triplet needs two classes, and
    MAP@R over a single class is trivially perfect); with fewer than four
    classes nothing is held out.
    """
    classes = np.unique(labels)
    n_valid = min(max(round(fraction * len(classes)), 2), len(classes) - 2)
    if n_valid < 2:
        return np.arange(len(labels)), np.empty(0, dtype=int)
    held_out = rng.choice(classes, n_valid, replace=False)
    in_valid = np.isin(labels, held_out)
    return np.flatnonzero(~in_valid), np.flatnonzero(in_valid)


# What "auto" means for each augmentation parameter: (name, with labels,
# without labels). Without labels the views of a sequence are its only
# positives; with labels, round 21 of BENCHMARKS.md found no gain.
_AUTO_AUGMENTATION = (
    ("crop_fraction", 1.0, 0.5),
    ("scale_std", 0.0, 0.1),
    ("jitter_std", 0.0, 0.05),
)
# The resolved (crop_fraction, scale_std, jitter_std) that leave every view as is.
_NO_AUGMENTATION = (1.0, 0.0, 0.0)


class WassersteinSequenceEmbedder(
    DocumentationLinkMixin, TransformerMixin, BaseEstimator
):
    """Learned distributional embedding of sequences, trained with a Wasserstein loss.

    A PyTorch encoder maps every time step of a sequence to ``K`` learned
    features; the embedding of the sequence is the empirical quantile function of
    each feature over its time steps, at ``M = n_quantiles`` levels. Sequences are
    compared with the distance ``d_p = (sum_k W_p^p(k)) ** (1/p)`` between these
    distributions, and the encoder is trained end to end with a triplet loss on
    ``d_p`` (class-balanced batches, in-batch mining). Training runs in a skorch
    :class:`~skorch.NeuralNet`.

    :meth:`transform` returns the flattened quantiles scaled by ``M ** (-1/p)``:
    the Euclidean (``p=2``) or Manhattan (``p=1``) distance between its rows *is*
    the learned Wasserstein distance ``d_p``, so any scikit-learn estimator with
    ``metric=self.metric_`` works on it directly.

    Parameters
    ----------
    encoder : torch.nn.Module, default=None
        Per-step encoder mapping ``(batch, C, T)`` to ``(batch, K, T')``. It is
        deep-copied at every ``fit`` and training starts from its current
        weights (so a pretrained encoder is fine-tuned, and the user's module is
        never modified). ``None`` builds the encoder ``architecture`` names (a
        :class:`~sklearn_wdist.nn.DilatedConvEncoder` by default, or a
        :class:`~sklearn_wdist.nn.ConvEncoder`) from the parameters below.
    n_features : int, default=4
        Number of learned per-step features of the default encoder (the
        encoder's output has ``K = n_features + n_channels`` features when
        ``include_input`` is true, ``n_features + (1 + L) * n_channels`` with
        ``L`` difference lags, ``include_differences``).
    hidden_channels : int, default=64
        Width of the default encoder's hidden convolutions.
    architecture : {"conv", "dilated"}, default="dilated"
        The default encoder's family. ``"conv"``: a stack of ``n_layers``
        convolutions (:class:`~sklearn_wdist.nn.ConvEncoder`), which sees
        ``1 + n_layers * (kernel_size - 1)`` steps. ``"dilated"``: ``n_layers``
        residual blocks of convolutions dilated 1, 2, 4, ...
        (:class:`~sklearn_wdist.nn.DilatedConvEncoder`), whose reach grows
        exponentially, for patterns spanning hundreds of steps.
    n_layers : int or "auto", default="auto"
        Number of convolution blocks of the default encoder. ``"auto"``: for
        ``"dilated"``, the fewest blocks whose receptive field covers the median
        training sequence length (at most 10, see
        :func:`~sklearn_wdist.nn.dilated_blocks_for_length`); for ``"conv"``, 2.
        A step within half a receptive field of either end of a sequence sees
        the padding beyond it, and with a long field such steps are a large
        share of every sequence. On long signals whose values change from one
        step to the next (appliance currents, for instance), compare the
        default with ``n_layers=2``: on one such validation set the automatic
        depth lost 28 points of 1-NN accuracy to it (``BENCHMARKS.md``,
        round 6).
    kernel_size : int, default=3
        Temporal width of the default encoder's convolutions.
    readout : {"last", "all"}, default="last"
        Which blocks of the ``"dilated"`` encoder its learned features read
        (ignored by ``"conv"``): ``"last"``, the last block, whose steps see the
        whole receptive field; ``"all"``, every block side by side, so features
        can mix patterns of every scale (see
        :class:`~sklearn_wdist.nn.DilatedConvEncoder`).
    dropout : float, default=0.0
        Dropout probability in the default encoder.
    include_input : bool, default=True
        Append the (whitened, standardised) input channels to the learned
        per-step features of the default encoder: the distribution of the raw
        signal is then part of the embedding, a residual path that keeps what the
        untrained raw-quantile distance already knows. It matters most for
        classes never seen in training (see ``BENCHMARKS.md``).
    include_differences : {"multiscale"} or bool, default="multiscale"
        With ``include_input``, also append each kept input channel's first
        difference (``x[t] - x[t-1]``, zero at a sequence's first step),
        standardised: the distribution of the signal's slopes joins that of
        its values, as delta features do in speech. ``"multiscale"``: the
        increments ``x[t] - x[max(t - L, 0)]`` at the lags ``L`` = 1, 2, 4,
        ... up to an eighth of the median training length
        (:func:`~sklearn_wdist.nn.multiscale_difference_lags`), each
        standardised: how the signal changes over a few steps and over
        longer stretches. Ignored when ``include_input=False``. Chosen on
        validation data (``BENCHMARKS.md``, rounds 7 and 15).
    input_row_weighting : {"auto", "total", "within_class"} or None, \
default="auto"
        How the kept input rows (the channels and their differences, see
        ``include_input``) weigh in the distance; set after training.
        ``"auto"``: ``"total"`` with ``pooling="quantile"``,
        ``"within_class"`` with ``pooling="mean"`` (see below).
        ``"total"``: each kept row ``k`` that varies is scaled by
        ``(s_L / s_k) ** (1/p)``, where ``s_k`` is the mean of its
        ``W_p ** p`` distance over all ordered pairs of (at most 256 evenly
        spaced) training sequences and ``s_L`` the mean of that spread over the
        learned rows: every kept row then sets sequences apart as much as a
        learned feature does on average, however much or little its own
        values differ from sequence to sequence (channels normalised per
        sequence, say, differ little in distribution and would otherwise count
        for little beside features trained to set sequences apart). The
        learned rows are left alone; without learned rows (or none that
        varies) the kept rows are put on their own mean spread. With
        ``pooling="mean"`` a kept row is one number per sequence, and the
        means of the increment rows (``(x[end] - x[start]) / n`` in effect at
        lag 1) hardly differ between sequences: ``"total"`` scales that noise
        up, which is why ``"auto"`` does not use it there (``BENCHMARKS.md``,
        round 19).
        ``"within_class"``: each kept row ``k`` is scaled by
        ``(mean(s) / s_k) ** (1/p)``, where ``s_k`` is the mean of that row's
        ``W_p ** p`` distance over all ordered pairs of training sequences of
        one class (estimated from at most 256 evenly spaced sequences of each
        of at most 256 classes) and the mean runs over the kept rows that vary
        within a class (the others keep weight 1): rows that vary a lot within
        a class weigh less, rows that stay put more; the kept rows together
        keep their share of the distance. Without labels (``fit(X)``) it
        weighs nothing. The factors are not bounded in either rule. Training,
        and early stopping's validation score, see every kept row at weight
        1. ``None``: every kept row weighs 1. With an encoder without kept
        rows nothing is weighted. ``"total"`` was chosen on validation data
        (``BENCHMARKS.md``, round 18), where it replaced ``"within_class"``
        (round 8); with mean pooling ``"within_class"`` stays (round 19).
    input_gating : {"anova"} or None, default="anova"
        Scale each (whitened, standardised) input channel on its way into the
        learned layers of the encoder (a built-in one, or a user
        :class:`~sklearn_wdist.nn.MaskedEncoder`) by a gate in ``[0, 1]``,
        fitted on the training sequences before training: channels whose
        class differences sampling noise explains are closed. ``"anova"``:
        each training sequence is summarised per channel by 16 quantiles of
        its values and 16 of its first differences; ``F`` is the one-way
        analysis of variance ratio of the between-class to the within-class
        mean square of these summaries (summed over the levels; of at most 256
        evenly spaced sequences per class); the channel's share is
        ``1 - F_crit / F`` clipped to ``[0, 1]`` (the larger of values' and
        differences'), where ``F_crit`` is the 95% quantile of the F
        distribution with ``K - 1`` and ``n - K`` degrees of freedom (``K``
        classes, ``n`` sequences). The levels' sums of squares are not
        independent, nor are the two tests, so this is not an exact 5% test:
        a channel without any class effect opened in 0.9% to 1.4% of
        simulated cases for independent noise of 30 to 100 steps, 4.2% for
        random walks and 8.9% for sequences of 2 steps (two classes of ten;
        ``benchmarks/gate_null_rate.py``). The gates are the shares divided
        by the largest. When no channel passes (one channel with weak class
        differences, say), nothing is gated. The kept input rows
        (``include_input``) are not gated, so the raw-signal distribution
        stays whole. ``None``: the gates are left as the encoder has them
        (every channel passes, for a built-in encoder). Without labels
        (``fit(X)``), or with an encoder without the buffer ``input_gates``
        (see :class:`~sklearn_wdist.nn.MaskedEncoder`), nothing is gated. A
        real but weak channel may be closed next to strong ones (the kept
        rows still carry it); for classes never seen in training, compare
        ``None``. Chosen on validation data (``BENCHMARKS.md``,
        rounds 11 and 12): it changes little where every channel carries
        something, and keeps most of the accuracy when channels that carry
        nothing are added.
    normalize_output : bool, default=True
        Standardise every learned feature of the default encoder with batch
        statistics, so that the triplet margin cannot be met by scaling the
        output up, and learned and raw features weigh alike.
    input_whitening : {"auto", "within_class", "total"} or None, default="auto"
        Linear whitening of the input channels, fitted in ``fit`` (on the
        training part only when ``early_stopping`` holds data out) and applied
        to every sequence before the encoder. ``"within_class"`` multiplies the
        centred channels by an inverse square root of ``Sigma_w``, the
        covariance of the time steps around the mean of their class, as in
        within-class covariance normalisation for speaker verification: the
        channels are decorrelated along the directions in which sequences of
        one class vary. ``"total"`` uses the covariance around the overall
        mean. ``Sigma_w`` is estimated in each channel's own standard
        deviation (a Ledoit-Wolf shrunk correlation, whose symmetric inverse
        square root follows, ZCA-cor whitening), so the result does not depend
        on the unit of any channel, within float32's range (every value is
        checked against 3.4e38 before any preprocessing). ``None`` passes the
        channels unchanged: the built-in encoder then standardises each in its
        own unit (its running statistics start at the training data's), which
        works for channels whose standard deviation is not far below 0.01 (the
        normalisation's ``eps`` is 1e-5), and a fit whose centred values all
        lie below float32's normal range (1.2e-38) is refused.
        ``"auto"`` means ``"within_class"`` for the built-in encoder and
        ``None`` for a user ``encoder`` (which may expect its own input scale);
        a user encoder then gets the values as they are, in float32, and a
        channel whose variation float32 cannot hold near its values (1e9 + a
        signal of 30) is refused, one resolved into fewer than 256 float32
        steps warned about: centre such data, or set ``"total"``.
        The built-in encoder standardises each (whitened) channel again, so
        what it keeps is the decorrelation, not the per-direction weights; with
        one channel whitening only rescales it, which that standardisation
        undoes.
    crop_fraction : float in (0, 1] or "auto", default="auto"
        Training augmentation: each training sequence is replaced by a random
        contiguous crop keeping between ``crop_fraction`` and all of its steps
        (a crop should have the feature distribution of its sequence). ``1.0``
        never crops. ``"auto"``: no crops with labels, ``0.5`` without
        (``fit(X)``), where crops of a sequence are its only positives
        (``0.5`` did better than ``0.8`` on validation data without labels,
        ``BENCHMARKS.md``, round 18).
    scale_std : float or "auto", default="auto"
        Training augmentation: each training sequence is multiplied by
        ``exp(s)``, ``s ~ N(0, scale_std**2)``, with ``scale_std`` at most 10
        (beyond, the factors overflow float32). ``"auto"``: ``0`` (none)
        with labels, ``0.1`` without (``fit(X)``), where the scaled views of
        a sequence are its positives; on validation data that helped without
        labels and not with them (``BENCHMARKS.md``, round 21).
    jitter_std : float or "auto", default="auto"
        Training augmentation: Gaussian noise with standard deviation
        ``jitter_std`` times each channel's standard deviation is added to
        every step, with ``jitter_std`` at most 100. ``"auto"``: ``0`` with
        labels, ``0.05`` without, as for ``scale_std``.
    n_quantiles : int, default=16
        Number of quantile levels ``M``, at ``tau_m = (m - 1/2) / M``.
    quantile_method : {"linear", "inverted_cdf"}, default="linear"
        ``"linear"`` interpolates between order statistics
        (``numpy.quantile``'s default); ``"inverted_cdf"`` takes the empirical
        quantile function itself, whose distance converges to the exact
        Wasserstein distance of :meth:`pairwise_distances` (``exact=True``) as
        ``n_quantiles`` grows.
    pooling : {"quantile", "mean"}, default="quantile"
        ``"mean"`` pools each feature to its mean over time instead of its
        quantile function: the vector-embedding baseline trained the same way
        (``transform`` then has ``K`` columns and ``n_quantiles`` is unused).
    p : {1, 2}, default=1
        Order of the Wasserstein distance, trained and measured. ``1`` makes
        the Manhattan distance between :meth:`transform` rows the learned one
        (``metric_ == "manhattan"``), ``2`` the Euclidean distance. Give
        estimators that search the embeddings ``metric=metric_``: their default
        Euclidean metric on ``p=1`` embeddings is a different distance. The
        default was chosen on validation data (``benchmarks/select_defaults.py``,
        round 19 in ``BENCHMARKS.md``): ``p=1`` ranked higher on four of five
        seeds, mostly on classes not seen in training. The Manhattan distance
        has no matrix-product shortcut: exact neighbour search over many
        embeddings is several times faster with ``p=2``.
    margin : float or "soft", default=1.0
        Triplet margin, or ``"soft"`` for the soft-margin loss
        ``log(1 + exp(d(a, p) - d(a, n)))``. When every training triplet
        meets the margin from the start (classes far apart under the
        initial encoder), the loss is 0 and the encoder does not train:
        ``fit`` then warns. The soft margin always has a gradient.
    mining : {"batch_hard", "batch_all", "semi_hard"}, default="batch_hard"
        Triplet mining inside each batch.
    loss : torch.nn.Module, default=None
        Training loss, called as ``loss(quantiles, labels)`` on a batch of
        quantile embeddings ``(B, K, M)`` (means ``(B, K, 1)`` with
        ``pooling="mean"``) and integer class codes ``(B,)``, returning a
        scalar. ``None`` builds
        ``WassersteinTripletLoss(p=p, margin=margin, mining=mining)``. A
        Wasserstein loss of this package must train the same order as ``p``
        (the loss classes default to ``p=2``; the embedder to 1): one of
        another order is refused before training. A loss on another
        distance, e.g. ``WassersteinTripletLoss(
        distance=QuantileEnergyDistance())``, trains the encoder for that
        distance; ``transform`` still returns the scaled quantiles, whose
        ``metric_`` distance is then the ``p``-Wasserstein distance, not the
        trained one. A pytorch-metric-learning loss (optional extra ``pml``)
        is accepted directly: it is applied to the ``transform`` rows, whose
        ``LpDistance(p=p, normalize_embeddings=False)`` is the learned
        distance (see :class:`~sklearn_wdist.nn.MetricLearningLoss`, which
        checks that the loss measures that distance). Label-free training
        (``fit(X)``, ``pretraining``), where every sequence is a class of its
        own, refuses a loss with per-class trainable parameters (any
        trainable tensor of more than one element: class proxies, weights or
        margins, e.g. ``ProxyNCALoss``). Deep-copied at every ``fit``.
    miner : callable, default=None
        A pytorch-metric-learning miner, used with a pytorch-metric-learning
        ``loss`` (which then receives the mined index tuples). Deep-copied at
        every ``fit``.
    classes_per_batch : int, default=8
        Number of classes ``P`` per batch (capped at the number of classes).
    samples_per_class : int, default=4
        Sequences ``S`` per class in a batch.
    pretraining : {"label-free"} or None, default=None
        With labels, ``"label-free"`` first trains the encoder for
        ``max_epochs`` epochs as ``fit(X)`` would (each training sequence its
        own class, its views cropped, scaled and jittered as ``crop_fraction``,
        ``scale_std`` and ``jitter_std`` give without labels), then for
        ``max_epochs`` epochs on the labelled triplets with a fresh optimizer:
        self-supervised pre-training, then fine-tuning, at twice the training
        time. Both stages train with ``loss`` and ``miner``. The input
        whitening and gates are the labelled fit's, and
        held-out sequences (``early_stopping``) are not trained on. User
        ``callbacks`` see the labelled training only; the pre-training's
        record is ``pretraining_history_``. Its batches, views and dropout
        masks come from a random stream of its own, derived from
        ``random_state``. Ignored by ``fit(X)``, which is label-free already,
        and by a warm start, which continues a trained encoder.
    max_epochs : int, default=30
        Number of epochs (at most, with early stopping); an epoch draws about
        ``n_sequences`` sequences.
    lr : float, default=1e-3
        Learning rate.
    optimizer : type of torch.optim.Optimizer, default=torch.optim.Adam
        Optimizer class.
    weight_decay : float, default=0.0
        Weight decay passed to the optimizer (not passed to an optimizer
        without the parameter, such as ``torch.optim.Rprop``, which then
        refuses a non-zero value).
    optimizer_kwargs : dict, default=None
        Further keyword arguments of the optimizer, e.g. ``{"momentum": 0.9}``
        for ``torch.optim.SGD`` (``lr`` and ``weight_decay`` have their own
        parameters).
    warm_start : bool, default=False
        When true and the estimator is fitted, ``fit`` continues training the
        current model for ``max_epochs`` more epochs (the optimizer's state
        and a loss's own trained parameters kept, with today's ``lr``,
        ``weight_decay`` and ``optimizer_kwargs``; ``history_`` extended) on
        the data given, instead of starting anew. ``optimizer`` cannot
        change, nor ``loss`` to one whose trained parameters differ in names
        or shapes.
        The encoder, ``pooling``, ``p`` and the input preprocessing of the
        first fit are kept, so changing a parameter that shapes them
        (``encoder``, ``n_features``, ``hidden_channels``, ``architecture``,
        ``n_layers``, ``kernel_size``, ``readout``, ``dropout``,
        ``include_input``, ``include_differences``, ``input_gating``,
        ``normalize_output``, ``input_whitening``, ``n_quantiles``,
        ``quantile_method``, ``pooling``, ``p``) raises a ``ValueError``; the
        input gates of the first fit stay (none when it had no labels);
        ``classes_`` are those of the last fit.
    early_stopping : bool or "auto", default=False
        Hold out part of the training data, score it with MAP@R after every
        epoch (with ``validation_split="stratified"`` each held-out sequence
        ranks the other held-out ones and up to 1024 training sequences, as a
        nearest-neighbour classifier would), stop after ``n_iter_no_change``
        epochs without improvement and keep the best weights; a score equal
        to the best counts as the best, so a flat score never stops training
        and the later weights win. ``True`` refuses data it cannot split (no
        labels, too few sequences per class or, for
        ``validation_split="classes"``, fewer than four classes); ``"auto"``
        then trains on every sequence for ``max_epochs`` epochs instead, so
        one setting serves every fold of a cross-validation and ``fit(X)``
        without labels. The held-out
        sequences do not train: a fifth of each class, but at least two, so
        small classes give more (two of six). ``False`` (the default) trains
        every sequence for ``max_epochs``. Chosen on validation data
        (``BENCHMARKS.md``, round 11): with input gates, a fixed 30 epochs
        scored slightly higher than early stopping (patience 5) on clean data
        and on data with added noise channels, at about twice the fit time;
        early stopping had been the default of round 9 for its robustness to
        such channels, which the gates now give.
    validation_fraction : float, default=0.2
        Fraction held out when early stopping holds out sequences: of each
        class's sequences (at least two of a class on each side; smaller
        classes all train), or of the classes (see ``validation_split``).
        At most 1024 held-out sequences are scored (a stratified sample); with
        ``"stratified"`` the others train. With more than 512 classes that
        sample may hold a single sequence of a class, which has no positive
        to rank and is left out of the MAP@R.
    validation_split : {"stratified", "classes"}, default="stratified"
        ``"stratified"`` holds out sequences of every class; ``"classes"`` holds
        out whole classes (at least two), so early stopping tracks how well the
        distance transfers to classes never seen in training.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    device : str, default="cpu"
        Torch device to train on, e.g. ``"cuda"``; the fitted model embeds
        (``transform`` and the other methods) on the device its weights are
        on, that of ``fit``: setting ``device`` after ``fit`` moves nothing.
        To embed elsewhere, move the module, ``embedder.module_.to(...)``.
    n_threads : int or None, default=1
        Intra-op threads PyTorch may use during ``fit`` and ``transform``, from
        1 to 1024 (the global setting is restored afterwards). Triplet batches of short
        sequences are small, and more threads mostly add synchronisation
        overhead, badly so on a loaded machine; see ``BENCHMARKS.md``. ``None``
        keeps PyTorch's own setting in the calling thread.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks (learning-rate schedules, checkpoints, ...).
        When early stopping holds sequences out (``early_stopping=True``, or
        ``"auto"`` on data that can spare them) the validation MAP@R of every
        epoch is recorded in the history as ``valid_map_at_r`` with the flag
        ``valid_map_at_r_best``, so
        ``Checkpoint(monitor="valid_map_at_r_best")`` or
        ``EarlyStopping(monitor="valid_map_at_r", lower_is_better=False)``
        work; a callback monitoring a validation record that training does not
        produce (skorch's default ``valid_loss``) is refused before training.
        Callback instances are used as given, as skorch uses them: ``fit``
        initialises them and they keep their state afterwards (``net_``'s
        ``callbacks_`` lists them), so estimators sharing one instance share
        its state; fit those one at a time, or give each its own
        (:func:`sklearn.base.clone` does). A ``ProgressBar`` counts batches.
        The built-in early stopping ends training from the ``on_epoch_end`` of
        its last epoch, before the extra callbacks' ``on_epoch_end`` (and the
        verbose table) see that epoch, as
        skorch's own ``EarlyStopping`` does; ``history_`` records it.
    verbose : int, default=0
        ``1`` prints skorch's per-epoch table.
    random_state : int, RandomState instance or None, default=None
        Seeds the default encoder's weight initialisation, dropout, batch
        sampling and the validation split, through private generators: the
        caller's global torch generator is never used or changed. An int gives
        identical embeddings on the same machine, also for fits running in
        parallel threads or processes (for a user ``encoder``: given the same
        initial weights; its own random draws use torch's global generator,
        seeded and restored around the fit, and such fits run one at a time).

    Attributes
    ----------
    n_features_in_ : int
        Number of channels seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the channels seen in ``fit``; only defined when ``X`` was a
        ``pd-multiindex`` or ``nested_univ`` DataFrame whose columns are all
        strings. Later calls with such a frame must name the same channels in
        the same order (a ``ValueError`` otherwise); arrays are read by
        position.
    classes_ : ndarray
        Class labels seen in ``fit``; only defined after a fit with labels.
    quantile_levels_ : ndarray of shape (n_quantiles,)
        The levels ``tau_m`` (the single level 0.5 when ``pooling="mean"``).
    whitening_mean_ : ndarray of shape (`n_features_in_`,) or None
        Channel means of the training steps, subtracted in float64 from every
        sequence before whitening and before the cast to the network's float32,
        so a small signal on a large offset keeps its precision. ``None`` when
        the channels are passed unchanged (a user ``encoder`` without
        whitening).
    whitening_matrix_ : ndarray of shape (`n_features_in_`, `n_features_in_`) or None
        The whitening matrix applied to every centred sequence (``None``
        without whitening).
    p_ : int
        The order ``p`` the model was trained with; later ``set_params`` calls
        do not change what ``transform`` and the distances mean.
    pooling_ : str
        The pooling the model was trained with.
    embedding_scale_ : float
        The factor ``M ** (-1/p_)`` applied to the quantiles by ``transform``.
    input_row_weights_ : ndarray of shape (n_kept_rows,) or None
        The factors of the kept input rows (``input_row_weighting``), in the
        encoder's buffer ``kept_row_weights``; ``None`` when none were fitted.
    input_gates_ : ndarray of shape (`n_features_in_`,) or None
        The gates of the input channels (``input_gating``), in the encoder's
        buffer ``input_gates``; ``None`` when none were fitted.
    user_encoder_ : bool
        Whether the encoder was the user's ``encoder`` (deep-copied).
    receptive_field_ : int or None
        Number of input steps that one step's learned features depend on, for
        the built-in encoders (``None`` for a user ``encoder``).
    difference_lags_ : tuple of int or None
        The lags of the built-in encoder's difference rows, lag after lag:
        those of :func:`~sklearn_wdist.nn.multiscale_difference_lags` for the
        median training length with ``include_differences="multiscale"``,
        ``(1,)`` for ``True``, ``()`` without them (or without
        ``include_input``); ``None`` for a user ``encoder``.
    n_embedding_features_ : int
        Number of per-step features ``K`` produced by the encoder.
    metric_ : {"euclidean", "manhattan"}
        The metric on :meth:`transform` output that equals the learned distance.
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the
        :class:`~sklearn_wdist.nn.QuantileEmbedding`.
    module_ : torch.nn.Module
        The trained :class:`~sklearn_wdist.nn.QuantileEmbedding`, the same
        object as ``net_.module_``.
    history_ : skorch.History
        Per-epoch and per-batch training record.
    pretraining_history_ : skorch.History or None
        The record of the label-free pre-training (``pretraining``) of the
        fit that built the model; ``None`` when it had none. A warm start
        keeps it.
    n_iter_ : int
        Number of epochs in ``history_``: those of this fit, and of the
        earlier fits it continued (``warm_start``).
    validation_scores_ : ndarray of shape (`n_iter_`,) or None
        The held-out MAP@R of every epoch in ``history_`` (the
        ``valid_map_at_r`` records; NaN for an epoch of a fit that held
        nothing out, or whose score was not finite); ``None`` when no epoch
        held sequences out.
    best_epoch_ : int or None
        The epoch (1-based position in ``history_``) whose weights the
        built-in early stopping kept in the last fit: its best held-out
        score, the latest of equal ones. ``None`` when that fit held nothing
        out or no score was finite (the weights are those of its last
        epoch). A warm start that trains no epoch keeps the value of the fit
        before. A user callback that loads other weights (``Checkpoint`` with
        ``LoadInitState``, a second ``EarlyStopping(load_best=True)``) is not
        reflected here.
    best_validation_score_ : float or None
        The held-out MAP@R of ``best_epoch_``; ``None`` with it.

    See Also
    --------
    WassersteinDistanceTransformer : Pipeline step turning embeddings into a
        distance matrix for ``metric="precomputed"`` estimators.
    pairwise_wasserstein : Distance matrix between two sets of embeddings.

    References
    ----------
    .. [1] A. Abdelwahab and N. Landwehr, "Deep Distributional Sequence
       Embeddings Based on a Wasserstein Loss", Neural Processing Letters, 2022.
    .. [2] A. Hermans, L. Beyer and B. Leibe, "In Defense of the Triplet Loss for
       Person Re-Identification", 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_wdist import WassersteinSequenceEmbedder
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2, 30)).astype("float32")
    >>> y = np.repeat([0, 1], 20)
    >>> X[y == 1] *= 1.5
    >>> embedder = WassersteinSequenceEmbedder(
    ...     n_features=4, n_quantiles=8, max_epochs=3, random_state=0)
    >>> embeddings = embedder.fit(X, y).transform(X)
    >>> embeddings.shape
    (40, 80)
    >>> embedder.metric_
    'manhattan'
    """

    _parameter_constraints: dict = {
        "encoder": [torch.nn.Module, None],
        "n_features": [Interval(numbers.Integral, 1, None, closed="left")],
        "hidden_channels": [Interval(numbers.Integral, 1, None, closed="left")],
        "architecture": [StrOptions({"conv", "dilated"})],
        "n_layers": [
            Interval(numbers.Integral, 0, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "kernel_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "readout": [StrOptions({"last", "all"})],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "include_input": ["boolean"],
        "include_differences": ["boolean", StrOptions({"multiscale"})],
        "input_row_weighting": [StrOptions({"auto", "total", "within_class"}), None],
        "input_gating": [StrOptions({"anova"}), None],
        "normalize_output": ["boolean"],
        "input_whitening": [StrOptions({"auto", "within_class", "total"}), None],
        "crop_fraction": [
            Interval(numbers.Real, 0, 1, closed="right"),
            StrOptions({"auto"}),
        ],
        "scale_std": [
            # exp(s) overflows float32 beyond s = 88: at 10, nine standard
            # deviations away.
            Interval(numbers.Real, 0, 10, closed="both"),
            StrOptions({"auto"}),
        ],
        "jitter_std": [
            # Noise a hundred times each channel's spread leaves nothing to
            # learn; far beyond, it overflows float32 mid-training.
            Interval(numbers.Real, 0, 100, closed="both"),
            StrOptions({"auto"}),
        ],
        "n_quantiles": [Interval(numbers.Integral, 1, None, closed="left")],
        "quantile_method": [StrOptions({"linear", "inverted_cdf"})],
        "pooling": [StrOptions({"quantile", "mean"})],
        "p": [Options(numbers.Integral, {1, 2})],
        "margin": [
            Interval(numbers.Real, 0, None, closed="left"),
            StrOptions({"soft"}),
        ],
        "mining": [StrOptions({"batch_hard", "batch_all", "semi_hard"})],
        "loss": [torch.nn.Module, None],
        "miner": [callable, None],
        "classes_per_batch": [Interval(numbers.Integral, 2, None, closed="left")],
        "samples_per_class": [Interval(numbers.Integral, 2, None, closed="left")],
        "pretraining": [StrOptions({"label-free"}), None],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "optimizer": [type],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "optimizer_kwargs": [dict, None],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "validation_split": [StrOptions({"stratified", "classes"})],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        # Far above a machine's cores PyTorch's thread pool fails.
        "n_threads": [Interval(numbers.Integral, 1, MAX_THREADS, closed="both"), None],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        encoder=None,
        n_features=4,
        hidden_channels=64,
        architecture="dilated",
        n_layers="auto",
        kernel_size=3,
        readout="last",
        dropout=0.0,
        include_input=True,
        include_differences="multiscale",
        input_row_weighting="auto",
        input_gating="anova",
        normalize_output=True,
        input_whitening="auto",
        crop_fraction="auto",
        scale_std="auto",
        jitter_std="auto",
        n_quantiles=16,
        quantile_method="linear",
        pooling="quantile",
        p=DEFAULT_ORDER,
        margin=1.0,
        mining="batch_hard",
        loss=None,
        miner=None,
        classes_per_batch=8,
        samples_per_class=4,
        pretraining=None,
        max_epochs=30,
        lr=1e-3,
        optimizer=torch.optim.Adam,
        weight_decay=0.0,
        optimizer_kwargs=None,
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.2,
        validation_split="stratified",
        n_iter_no_change=5,
        device="cpu",
        n_threads=1,
        callbacks=None,
        verbose=0,
        random_state=None,
    ):
        self.encoder = encoder
        self.n_features = n_features
        self.hidden_channels = hidden_channels
        self.architecture = architecture
        self.n_layers = n_layers
        self.kernel_size = kernel_size
        self.readout = readout
        self.dropout = dropout
        self.include_input = include_input
        self.include_differences = include_differences
        self.input_row_weighting = input_row_weighting
        self.input_gating = input_gating
        self.normalize_output = normalize_output
        self.input_whitening = input_whitening
        self.crop_fraction = crop_fraction
        self.scale_std = scale_std
        self.jitter_std = jitter_std
        self.n_quantiles = n_quantiles
        self.quantile_method = quantile_method
        self.pooling = pooling
        self.p = p
        self.margin = margin
        self.mining = mining
        self.loss = loss
        self.miner = miner
        self.classes_per_batch = classes_per_batch
        self.samples_per_class = samples_per_class
        self.pretraining = pretraining
        self.max_epochs = max_epochs
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.optimizer_kwargs = optimizer_kwargs
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_split = validation_split
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.n_threads = n_threads
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state

    def __setstate__(self, state):
        super().__setstate__(state)
        # Saved before these parameters existed: what that version did.
        self.__dict__.setdefault("include_differences", False)
        self.__dict__.setdefault("input_row_weighting", None)
        self.__dict__.setdefault("input_gating", None)
        self.__dict__.setdefault("pretraining", None)
        built = self.__dict__.get("_built_with")
        if built is not None:
            # What the older fit was built with: the values set just above.
            for name in ("include_differences", "input_gating"):
                built.setdefault(name, self.__dict__[name])
        if "net_" in self.__dict__:
            self.__dict__.setdefault("input_row_weights_", None)
            self.__dict__.setdefault("input_gates_", None)
            self.__dict__.setdefault("pretraining_history_", None)
            if "difference_lags_" not in self.__dict__:
                # As fit sets it: None for a user encoder, whatever its kind.
                encoder = getattr(self.net_.module_, "encoder", None)
                lags = getattr(encoder, "_lags", None)
                user = self.__dict__.get("encoder") is not None
                self.difference_lags_ = None if user or lags is None else lags()
            # Fitted before the training-length attributes: read the history.
            if "n_iter_" not in self.__dict__:
                self._record_training_length(self.net_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the encoder with the Wasserstein triplet loss.

        With labels, positives are sequences of the same class. Without
        (``fit(X)``), training is self-supervised: every sequence is its own
        class, its positives are random views of itself (crops, scaled and
        jittered: ``crop_fraction``, ``scale_std``, ``jitter_std``)
        and its negatives are views of the other sequences, the triplets of
        Franceschi et al. (2019) on the Wasserstein distance.

        A ``KeyboardInterrupt`` (Ctrl-C) during training propagates, and the
        estimator keeps the state it had before this call: a fitted model stays
        as it was, an unfitted one stays unfitted. So does a training run whose
        loss, weights or outputs turn NaN or infinite (``FloatingPointError``).
        skorch's ``EarlyStopping`` callback, which stops training by raising
        ``KeyboardInterrupt`` at the end of an epoch, still ends it normally.
        A fit whose training loss is exactly 0 in every epoch (so the encoder
        keeps its random initial weights; with ``pretraining``, in the epochs
        of both stages) warns with a ``UserWarning``.

        Parameters
        ----------
        X : array-like of shape (n_sequences, n_channels, n_timepoints), \
                (n_sequences, n_timepoints), list of (n_channels, n_timepoints_i) \
                or sktime DataFrame
            Training sequences.
        y : array-like of shape (n_sequences,), default=None
            Class labels (any hashable values, compared as Python values);
            every class needs at least two sequences, and there must be at least
            two classes. ``None`` trains without labels.

        Returns
        -------
        self : WassersteinSequenceEmbedder
            The fitted estimator.
        """
        device = self._check_settings()
        previous = self._warm_start_state()
        sequences = check_sequences(
            X, name="X", n_channels=None if previous is None else self.n_features_in_
        )
        if previous is not None:
            check_channel_names(getattr(self, "feature_names_in_", None), X, "X")
        if y is None:
            classes, codes = None, self._check_unsupervised(len(sequences))
        else:
            check_label_order(X, y)
            classes, codes = check_training_labels(y, len(sequences))
            if previous is not None:
                self._check_warm_start_classes(classes, previous)
        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        pretraining = None  # the views of this fit's label-free pre-training
        if y is not None and previous is None and self.pretraining is not None:
            pretraining_seed = _pretraining_seed(seed)
            pretraining = self._pretraining_augmentation(pretraining_seed)
        train_index, valid_index = self._split(codes, seed, supervised=y is not None)
        self._check_monitors(validating=len(valid_index) > 0)
        self._check_callback_names(validating=len(valid_index) > 0)
        if previous is None:
            mean, matrix = self._fit_preprocessing(sequences, codes, train_index, seed)
        else:  # the encoder was trained on this input space: keep it
            mean, matrix = self.whitening_mean_, self.whitening_matrix_
        inputs = to_network_input(sequences, mean, matrix, "X")
        train_inputs = [inputs[i] for i in train_index]
        check_training_input_range([sequences[i] for i in train_index], train_inputs)
        if mean is None:  # the values reach the network as they are
            check_float32_resolution([sequences[i] for i in train_index])
        train_codes = codes[train_index] if y is not None else None
        if previous is None:
            module = self._build_module(inputs[0].shape[0], train_inputs, seed)
            gates = self._fit_input_gates(module, train_inputs, train_codes)
        else:  # a copy: an interrupted warm start leaves the model as it was
            module = copy.deepcopy(self.net_.module_)
            gates = self.input_gates_
        kept_weights = kept_row_weights(module)
        if kept_weights is not None:  # training sees every kept row weigh 1
            kept_weights.fill_(1.0)
        n_embedding_features = self._probe(module, inputs, "X")
        # A warm start continues training: fresh batches, views and dropout
        # masks, not a replay of the first call's (the split above stays, so
        # held-out sequences stay held out).
        train_seed = (
            seed if previous is None else _continued_seed(seed, len(previous.history))
        )
        augmentation = self._augmentation(supervised=y is not None, seed=train_seed)
        if self.encoder is not None:
            if augmentation is not None:
                self._probe_crops(module, train_inputs, augmentation.crop_fraction)
            if pretraining is not None:
                self._probe_crops(
                    module,
                    train_inputs,
                    pretraining.crop_fraction,
                    "in the label-free pre-training (pretraining='label-free')",
                )
        pretraining_history = None
        if pretraining is not None:
            pretraining_history = self._pretrain(
                module, inputs, train_index, pretraining_seed, device, pretraining
            )
        elif previous is not None:  # the pre-training of the fit continued
            pretraining_history = self.pretraining_history_
        net = self._train(
            module,
            inputs,
            codes,
            (train_index, valid_index),
            train_seed,
            device,
            augmentation,
            supervised=y is not None,
            previous=previous,
        )
        self._check_trained(net, train_inputs)
        # A pre-training that had a loss gave the encoder what the labels did not.
        if pretraining is None or not _had_a_loss(pretraining_history):
            self._warn_if_no_training_signal(
                net,
                epochs_before=0 if previous is None else len(previous.history),
                pretraining_epochs=0
                if pretraining is None
                else len(pretraining_history),
            )
        row_weights = self._fit_input_row_weights(
            net.module_, train_inputs, train_codes
        )
        self._record_fit(
            net,
            classes,
            inputs[0].shape[0],
            mean,
            matrix,
            epochs_before=None if previous is None else len(previous.history),
        )
        self.input_row_weights_ = row_weights
        self.input_gates_ = gates
        self.pretraining_history_ = pretraining_history
        names = (
            channel_names(X)
            if previous is None
            else self.__dict__.get("feature_names_in_")
        )
        if names is not None:
            self.feature_names_in_ = names
        elif "feature_names_in_" in self.__dict__:
            del self.feature_names_in_  # a refit on unnamed channels
        if previous is None:  # what a warm start may not change
            self._built_with = {
                name: getattr(self, name) for name in _STRUCTURAL_PARAMETERS
            }
        self.n_embedding_features_ = n_embedding_features
        return self

    def _warm_start_state(self):
        """Return the net to continue from (warm start of a fitted model) or None.

        What the first fit decided stays: the encoder, the pooling, ``p`` and
        the input preprocessing; changing one of them needs a fresh fit.
        """
        if not self.warm_start or not hasattr(self, "net_"):
            return None
        changed = [
            name
            for name, fitted in (("p", self.p_), ("pooling", self.pooling_))
            if getattr(self, name) != fitted
        ]
        # Models fitted before the structure was recorded check p and pooling.
        built = getattr(self, "_built_with", {})
        changed += [
            name
            for name, fitted in built.items()
            if not _same_parameter(getattr(self, name), fitted)
        ]
        # The optimizer's state (Adam's moments) belongs to its class.
        optimizer = getattr(self.net_, "optimizer_", None)
        if optimizer is not None and type(optimizer) is not self.optimizer:
            changed.append("optimizer")
        # The loss's trained parameters (proxies, class weights) continue too.
        criterion = getattr(self.net_, "criterion_", None)
        if criterion is not None and _parameter_shapes(
            self._build_criterion()
        ) != _parameter_shapes(criterion):
            changed.append("loss (its trained parameters)")
        if changed:
            raise ValueError(
                f"warm_start=True continues the fitted model, whose "
                f"{', '.join(changed)} cannot change; set warm_start=False to "
                "train a new one."
            )
        return self.net_

    def _check_warm_start_classes(self, classes: np.ndarray, previous) -> None:
        """Refuse new classes for a loss whose trained parameters are per class.

        Class codes index the loss's proxies or class weights: with another
        set of classes, a continued fit would train one class's parameters
        with another's sequences.
        """
        if not _has_class_parameters(previous.criterion_):
            return
        before = getattr(self, "classes_", None)
        if before is not None and classes.tolist() == before.tolist():
            return
        seen = "no labels" if before is None else f"classes {before.tolist()!r}"
        raise ValueError(
            f"warm_start=True continues a loss with per-class parameters "
            f"trained on {seen}; y has classes {classes.tolist()!r}. Pass "
            "labels of the same classes, or set warm_start=False."
        )

    def _check_unsupervised(self, n_sequences: int) -> np.ndarray:
        """Check that ``fit(X)`` can train without labels; every sequence a class."""
        if self.early_stopping != "auto" and self.early_stopping:
            raise ValueError(
                "early_stopping=True scores held-out labelled sequences; fit(X) "
                "without y has none. Pass y, or set early_stopping='auto' (train "
                "every sequence when nothing can be held out) or False."
            )
        if n_sequences < 2:
            raise ValueError(
                f"fit(X) without labels needs at least 2 sequences (negatives "
                f"are other sequences), got {n_sequences}."
            )
        self._check_label_free("fit(X) without labels")
        return np.arange(n_sequences)

    def _check_label_free(self, training: str, alternative: str = "") -> None:
        """Refuse label-free training that cannot learn from its classes.

        Every sequence is a class of its own: its views must differ, and the
        loss must not hold parameters per class.
        """
        self._check_label_free_views(training, alternative)
        self._check_label_free_loss(training, alternative)

    def _check_label_free_views(self, training: str, alternative: str) -> None:
        """Refuse label-free training whose views of a sequence are all identical."""
        if self._augmentation_settings(supervised=False) == _NO_AUGMENTATION:
            raise ValueError(
                f"{training} learns that views of one sequence are close, but "
                "crop_fraction=1.0, scale_std=0 and jitter_std=0 make every view "
                f"identical. Use crop_fraction < 1 (or 'auto'){alternative}."
            )

    def _check_label_free_loss(self, training: str, alternative: str) -> None:
        """Refuse label-free training with a loss that learns per-class parameters.

        Label-free training makes every sequence a class of its own: a loss
        with per-class trainable parameters (the proxies or class weights of
        pytorch-metric-learning's ``ProxyNCALoss`` or ``ArcFaceLoss``, the
        per-class margins of ``MarginLoss(num_classes=...)``) would receive
        class codes it holds no parameters for, and fail or, worse, train on
        most sequences without a signal. Any trainable tensor of more than one
        element counts as such; a single learned scalar (a temperature,
        ``MarginLoss(learn_beta=True)``'s margin) does not.
        """
        if self.loss is None or not isinstance(self.loss, torch.nn.Module):
            return
        shapes = _class_parameter_shapes(self.loss)
        if shapes:
            raise ValueError(
                f"{training} makes every sequence a class of its own, but loss="
                f"{type(self.loss).__name__} trains tensors of shape "
                f"{', '.join(map(str, shapes))} (class proxies, weights or "
                "margins), which a class code per sequence does not fit. Use a "
                "loss without per-class parameters (loss=None, the Wasserstein "
                f"triplet loss, or a pair or triplet loss){alternative}."
            )

    def _augmentation_settings(self, supervised: bool) -> tuple[float, float, float]:
        """``(crop_fraction, scale_std, jitter_std)`` with ``"auto"`` resolved."""
        resolved = []
        for name, with_labels, without_labels in _AUTO_AUGMENTATION:
            value = getattr(self, name)
            if isinstance(value, str):  # "auto"
                value = with_labels if supervised else without_labels
            resolved.append(float(value))
        return tuple(resolved)

    def _augmentation(self, supervised: bool, seed: int) -> AugmentingCollate | None:
        settings = self._augmentation_settings(supervised)
        if settings == _NO_AUGMENTATION:
            return None
        return AugmentingCollate(*settings, seed + 2)

    def _pretraining_augmentation(self, seed: int) -> AugmentingCollate:
        """Return the views of the label-free pre-training (refused when identical)."""
        self._check_label_free("pretraining='label-free'", ", or pretraining=None")
        return self._augmentation(supervised=False, seed=seed)

    def _pretrain(self, module, inputs, train_index, seed, device, augmentation):
        """Train ``module`` in place as ``fit(X)`` would; return the record."""
        if self.verbose:
            print("Label-free pre-training (pretraining='label-free'):")
        net = self._train(
            module,
            inputs,
            np.arange(len(inputs)),  # every sequence its own class
            (train_index, np.empty(0, dtype=int)),
            seed,
            device,
            augmentation,
            supervised=False,
            user_callbacks=False,
        )
        self._check_trained(net, [inputs[i] for i in train_index])
        if self.verbose:
            print("Training on the labelled triplets:")
        return net.history

    @classmethod
    def _probe_crops(
        cls, module, train_inputs, crop_fraction: float, where: str = ""
    ) -> None:
        """Check that a user encoder accepts the shortest crop training can draw."""
        shortest = min(train_inputs, key=lambda s: s.shape[-1])
        kept = max(1, math.ceil(crop_fraction * shortest.shape[-1]))
        try:
            cls._probe(module, [shortest[:, :kept]], "X")
        except ValueError as error:
            where = f" {where}" if where else ""
            raise ValueError(
                f"crop_fraction={crop_fraction} crops sequences to {kept} steps"
                f"{where}, too short for the encoder; raise crop_fraction. ({error})"
            ) from error

    def _check_settings(self) -> torch.device:
        """Check what the parameter constraints cannot express; return the device."""
        for name in _INTEGER_PARAMETERS:
            check_int(getattr(self, name), name)
        if self.n_threads is not None:
            check_int(self.n_threads, "n_threads", minimum=1)
        if self.n_layers != "auto":
            check_int(self.n_layers, "n_layers")
        if not math.isfinite(self.weight_decay):
            raise ValueError(f"weight_decay must be finite, got {self.weight_decay!r}.")
        float32 = np.finfo(np.float32)
        for name in ("lr", "weight_decay"):
            value = getattr(self, name)
            if value > float(float32.max):
                raise ValueError(
                    f"{name}={value!r} cannot be used: the weights are float32, "
                    f"whose largest value is {float32.max:.3g}."
                )
            if 0 < value < float(float32.smallest_subnormal):
                raise ValueError(
                    f"{name}={value!r} cannot be used: the weights are float32, "
                    f"in which it is 0 (the smallest positive float32 is "
                    f"{float32.smallest_subnormal:.3g})."
                )
        if not issubclass(self.optimizer, torch.optim.Optimizer):
            raise TypeError(
                "optimizer must be a torch.optim.Optimizer subclass such as "
                f"torch.optim.Adam, got {self.optimizer!r}."
            )
        for index, entry in enumerate(self.callbacks or []):
            callback = (
                entry[1] if isinstance(entry, tuple) and len(entry) == 2 else entry
            )
            is_callback = isinstance(callback, Callback) or (
                isinstance(callback, type) and issubclass(callback, Callback)
            )
            if not is_callback or (
                isinstance(entry, tuple) and not isinstance(entry[0], str)
            ):
                raise TypeError(
                    f"callbacks[{index}] must be a skorch callback (an instance of "
                    "skorch.callbacks.Callback) or a (name, callback) tuple, got "
                    f"{entry!r}."
                )
        for key in self.optimizer_kwargs or {}:
            if not isinstance(key, str) or key in ("lr", "weight_decay", "params"):
                raise ValueError(
                    f"optimizer_kwargs has the key {key!r}; use the lr and "
                    "weight_decay parameters for those, and string keys only."
                )
        # The optimizer is built only after preprocessing and the module: a
        # trial on one parameter refuses its settings first.
        try:
            self.optimizer(
                [torch.zeros(1, requires_grad=True)],
                lr=self.lr,
                **self._optimizer_kwargs(),
            )
        except (TypeError, ValueError) as error:
            raise type(error)(
                f"optimizer {self.optimizer.__name__} refused lr={self.lr!r}, "
                f"weight_decay={self.weight_decay!r} or optimizer_kwargs="
                f"{self.optimizer_kwargs!r}: {error}"
            ) from error
        self._check_monitors(validating=bool(self.early_stopping))
        self._check_callback_names(validating=self.early_stopping is True)
        self._build_criterion()  # a loss or miner that cannot work fails here
        if self.encoder is not None:
            parameters = list(self.encoder.parameters())
            if not any(parameter.requires_grad for parameter in parameters):
                raise ValueError(
                    "encoder has no trainable parameters (none, or all with "
                    "requires_grad=False): there is nothing to train."
                )
        return _check_device(self.device)

    def _check_callback_names(self, validating: bool) -> None:
        """Refuse a user callback named like one the embedder adds to the net.

        ``stop_on_nonfinite`` is always added; the validation scoring and
        early stopping only when sequences are held out (``validating``).
        """
        taken = _OWN_CALLBACK_NAMES if validating else _OWN_CALLBACK_NAMES[:1]
        for index, entry in enumerate(self.callbacks or []):
            if isinstance(entry, tuple) and entry[0] in taken:
                raise ValueError(
                    f"callbacks[{index}] is named {entry[0]!r}, a name the "
                    "embedder gives its own callback in this fit "
                    f"({', '.join(map(repr, taken))}); choose another name."
                )

    def _check_monitors(self, validating: bool) -> None:
        """Refuse callbacks that monitor a validation record nobody writes.

        skorch's ``EarlyStopping()`` and ``Checkpoint()`` default to
        ``valid_loss``; training here records no validation loss, and the
        validation MAP@R only when sequences are held out (``early_stopping``
        true, or ``"auto"`` with data to hold out). Without this check they
        fail with a KeyError after the first epoch. Checked once from the
        parameters and again once the split is known, before any training.
        """
        recorded = {_VALIDATION_KEY, _VALIDATION_KEY + "_best"}
        for index, entry in enumerate(self.callbacks or []):
            callback = entry[1] if isinstance(entry, tuple) else entry
            monitor = _monitor(callback)
            if not isinstance(monitor, str) or not monitor.startswith("valid"):
                continue
            if monitor in recorded and validating:
                continue
            if monitor not in recorded:
                reason = (
                    "never: the validation score is valid_map_at_r (higher is "
                    "better), with its flag valid_map_at_r_best"
                )
            elif not self.early_stopping:
                reason = "only with early_stopping=True or 'auto'"
            else:
                cannot = (
                    "fewer than 4 classes"
                    if self.validation_split == "classes"
                    else "no 2 classes with 4 or more sequences each"
                )
                reason = (
                    "only when sequences are held out, and early_stopping='auto' "
                    f"holds none out here (no labels, or {cannot})"
                )
            raise ValueError(
                f"callbacks[{index}] ({_callback_name(callback)}) monitors "
                f"{monitor!r}, which training records {reason}. Use e.g. "
                "EarlyStopping(monitor='valid_map_at_r', lower_is_better=False) "
                "or Checkpoint(monitor='valid_map_at_r_best') with "
                "early_stopping=True."
            )

    def _split(
        self, codes: np.ndarray, seed: int, supervised: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the indices of the training and early-stopping sequences.

        ``early_stopping="auto"`` holds out only labelled data that can spare
        a validation set; otherwise every sequence trains.
        """
        everything = np.arange(len(codes)), np.empty(0, dtype=int)
        if not self.early_stopping or not supervised:
            return everything
        split = (
            _split_validation_classes
            if self.validation_split == "classes"
            else _split_validation
        )
        train_index, valid_index = split(
            codes, self.validation_fraction, np.random.default_rng(seed)
        )
        if len(valid_index) == 0 and self.early_stopping == "auto":
            return everything
        if len(valid_index) > _VALIDATION_GALLERY:
            kept = valid_index[
                stratified_sample(codes[valid_index], _VALIDATION_GALLERY)
            ]
            if self.validation_split == "stratified":
                # The rest would only be lost: they train. Held-out classes
                # stay out of training whole.
                spare = np.setdiff1d(valid_index, kept)
                train_index = np.sort(np.concatenate([train_index, spare]))
            valid_index = kept
        if len(valid_index) == 0:
            needs = (
                "at least 4 classes (2 to train on, 2 to validate)"
                if self.validation_split == "classes"
                else "at least 2 classes with 4 or more sequences each (2 to "
                "train on, 2 to validate)"
            )
            raise ValueError(
                f"early_stopping=True needs {needs}; y has not. Set "
                "early_stopping='auto' (train every sequence when nothing can be "
                "held out) or False."
            )
        return train_index, valid_index

    def _fit_preprocessing(self, sequences, codes, train_index, seed):
        """Channel mean and whitening matrix, fitted on the training part only.

        Held-out sequences must not shape what early stopping is scored with.
        The built-in encoder always gets centred input (its own normalisation
        would otherwise work on float32 values that may have lost the signal);
        a user encoder without whitening gets the values unchanged.
        """
        train = [sequences[i] for i in train_index]
        kind = self._whitening_kind()
        if kind is not None:
            return fit_whitening(
                train, codes[train_index], kind, np.random.default_rng(seed)
            )
        if self.encoder is None:
            return channel_means(train), None
        return None, None

    def _whitening_kind(self) -> str | None:
        if self.input_whitening == "auto":
            return "within_class" if self.encoder is None else None
        return self.input_whitening

    def _n_levels(self) -> int:
        return 1 if self.pooling == "mean" else self.n_quantiles

    def _resolved_n_layers(self, train_inputs: list[np.ndarray]) -> int:
        """Blocks of the built-in encoder; ``"auto"`` follows the training lengths."""
        if self.n_layers != "auto":
            return int(self.n_layers)
        if self.architecture == "conv":
            return 2
        return dilated_blocks_for_length(_median_length(train_inputs), self.kernel_size)

    def _difference_lags(self, train_inputs: list[np.ndarray]) -> tuple[int, ...]:
        """Lags of the built-in encoder's difference rows (none without input)."""
        if not (self.include_input and self.include_differences):
            return ()
        if self.include_differences == "multiscale":
            return multiscale_difference_lags(_median_length(train_inputs))
        return (1,)

    def _build_module(
        self, n_channels: int, train_inputs: list[np.ndarray], seed: int
    ) -> QuantileEmbedding:
        """Build the encoder and pooling; built-in weights from a private generator.

        The built-in encoder is created on the ``"meta"`` device (no memory, no
        random numbers) and initialised on the CPU from a generator seeded by
        ``random_state``, so the caller's global torch generator is never used
        and the initial weights are the same on every device.
        """
        if self.encoder is None:
            n_layers = self._resolved_n_layers(train_inputs)
            options = dict(
                n_features=self.n_features,
                hidden_channels=self.hidden_channels,
                kernel_size=self.kernel_size,
                dropout=self.dropout,
                include_input=self.include_input,
                normalize_output=self.normalize_output,
                include_differences=self._difference_lags(train_inputs),
            )
            with torch.device("meta"):
                if self.architecture == "dilated":
                    encoder = DilatedConvEncoder(
                        n_channels, n_blocks=n_layers, readout=self.readout, **options
                    )
                else:
                    encoder = ConvEncoder(n_channels, n_layers=n_layers, **options)
            encoder = encoder.to_empty(device="cpu")
            encoder.reset_parameters(torch.Generator().manual_seed(seed))
            _start_input_statistics(encoder.input_norm, train_inputs)
        else:
            encoder = copy.deepcopy(self.encoder)
        return QuantileEmbedding(
            encoder, self.n_quantiles, self.quantile_method, self.pooling
        )

    @staticmethod
    def _probe(module: QuantileEmbedding, sequences: list[np.ndarray], name: str):
        """Run the shortest sequence through the module to catch bad encoders early."""
        shortest = min(sequences, key=lambda s: s.shape[-1])
        # A copy: the input may be the caller's own float32 array (a user
        # encoder without whitening), which an in-place encoder would change.
        x = torch.tensor(shortest[None], device=module_device(module))
        try:
            return module.probe(x)
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from error

    def _build_criterion(self) -> torch.nn.Module:
        if self.loss is None:
            if self.miner is not None:
                raise ValueError(
                    "miner is used with a pytorch-metric-learning loss; with "
                    "loss=None the triplets come from mining="
                    f"{self.mining!r}. Pass a loss, or drop the miner."
                )
            return WassersteinTripletLoss(
                p=self.p, margin=self.margin, mining=self.mining
            )
        loss = copy.deepcopy(self.loss)
        trained = _loss_order(loss)
        if trained is not None and trained != self.p:
            raise ValueError(
                f"loss trains the p={trained} Wasserstein distance, but p={self.p!r}: "
                f"transform and metric_ would measure another distance than the "
                f"one trained. Build the loss with p={self.p!r} (e.g. "
                f"WassersteinTripletLoss(p={self.p!r}, ...)), or set p={trained}."
            )
        if self.miner is not None and trained is not None:
            # Neither takes mined index tuples: WassersteinTripletLoss mines its
            # own triplets and MetricLearningLoss holds its miner.
            raise ValueError(
                f"miner is given with loss={type(loss).__name__}, which does not "
                "take mined tuples: WassersteinTripletLoss mines its own triplets "
                "(mining=...), and MetricLearningLoss takes the miner itself "
                "(MetricLearningLoss(loss, miner=..., p=...)); or pass a "
                "pytorch-metric-learning loss with the miner."
            )
        if self.miner is not None or from_metric_learning(loss):
            return MetricLearningLoss(loss, miner=copy.deepcopy(self.miner), p=self.p)
        return loss

    def _build_net(
        self,
        module,
        train_codes,
        seed,
        validation,
        augmentation=None,
        n_batches=None,
        user_callbacks=True,
    ) -> SequenceNet:
        sampler = ClassBalancedBatchSampler(
            train_codes,
            classes_per_batch=self.classes_per_batch,
            samples_per_class=self.samples_per_class,
            n_batches=n_batches,
            seed=seed,
        )
        callbacks = [("stop_on_nonfinite", StopOnNonFiniteLoss())]
        if validation is not None:
            # Before user callbacks, so that they see this epoch's score.
            callbacks += [
                ("valid_scoring", validation),
                (
                    "early_stopping",
                    LatestBestEarlyStopping(
                        monitor=_VALIDATION_KEY,
                        lower_is_better=False,
                        patience=self.n_iter_no_change,
                        threshold=0.0,
                        load_best=True,
                    ),
                ),
            ]
        if user_callbacks:
            callbacks += [
                _count_batches(entry, len(sampler)) for entry in self.callbacks or []
            ]
        return SequenceNet(
            module=module,
            criterion=self._build_criterion(),
            optimizer=self.optimizer,
            **{f"optimizer__{k}": v for k, v in self._optimizer_kwargs().items()},
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=1,
            iterator_train__batch_sampler=sampler,
            iterator_train__batch_size=1,
            iterator_train__collate_fn=(
                pad_batch if augmentation is None else augmentation
            ),
            # DataLoader draws a base seed per epoch; from its own generator,
            # not the caller's global one.
            iterator_train__generator=torch.Generator().manual_seed(seed),
            train_split=None,
            callbacks=callbacks,
            verbose=self.verbose,
            device=self.device,
            # The module holds this package's classes, so the full unpickler is
            # needed when the net is loaded again.
            torch_load_kwargs={"weights_only": False},
        )

    def _optimizer_kwargs(self) -> dict:
        """Keyword arguments of the optimizer besides its parameters and ``lr``.

        ``weight_decay`` goes to optimizers that take it (Adam, SGD, ...); one
        without it (Rprop, LBFGS, ...) gets none, and refuses a non-zero one.
        """
        kwargs = dict(self.optimizer_kwargs or {})
        signature = inspect.signature(self.optimizer.__init__).parameters
        takes_it = "weight_decay" in signature or any(
            parameter.kind is inspect.Parameter.VAR_KEYWORD
            for parameter in signature.values()
        )
        if takes_it:
            kwargs["weight_decay"] = self.weight_decay
        elif self.weight_decay != 0:
            raise ValueError(
                f"weight_decay={self.weight_decay!r}, but optimizer "
                f"{self.optimizer.__name__} takes no weight_decay; leave it at 0."
            )
        return kwargs

    def _train(
        self,
        module,
        inputs,
        codes,
        split,
        seed,
        device,
        augmentation,
        supervised: bool = True,
        previous=None,
        user_callbacks: bool = True,
    ):
        """Run skorch's training loop under the interrupt and RNG contracts.

        With ``previous`` (a warm start), the new net starts from a copy of its
        optimizer state and history and continues them (``partial_fit``).
        ``user_callbacks=False`` leaves out the ``callbacks`` parameter's.
        """
        train_index, valid_index = split
        scale = self._n_levels() ** (-1.0 / self.p)
        validation = None
        if len(valid_index):
            # Held-out classes are scored among themselves: training classes
            # would only be distractors for classes never seen in training.
            gallery = np.empty(0, dtype=int)
            if self.validation_split == "stratified":
                gallery = train_index[
                    stratified_sample(codes[train_index], _VALIDATION_GALLERY)
                ]
            validation = RetrievalValidation(
                [inputs[i] for i in valid_index],
                codes[valid_index],
                self.p,
                scale,
                self.n_threads,
                _VALIDATION_KEY,
                gallery=[inputs[i] for i in gallery],
                gallery_codes=codes[gallery],
            )
        n_batches = None
        if not supervised:
            # Every sequence is a class of samples_per_class views, which the
            # augmentation makes different crops of it. An epoch still draws
            # about n_sequences views, as a labelled epoch does.
            n_batches = math.ceil(
                len(train_index) / (self.classes_per_batch * self.samples_per_class)
            )
            train_index = np.repeat(train_index, self.samples_per_class)
        net = self._build_net(
            module,
            codes[train_index],
            seed,
            validation,
            augmentation,
            n_batches,
            user_callbacks=user_callbacks,
        )
        train = SequenceDataset([inputs[i] for i in train_index], codes[train_index])
        dropout_generator = torch.Generator(device=device).manual_seed(seed + 1)
        with (
            counting_sigint(),
            torch_threads(self.n_threads),
            seeded_dropout(module, dropout_generator),
            self._user_modules_rng(seed),
        ):
            try:
                if previous is None:
                    net.fit(train, None)
                else:
                    net.initialize()
                    # The loss's own trained parameters (proxies, class
                    # weights) continue too, in place: the optimizer holds them.
                    net.criterion_.load_state_dict(
                        copy.deepcopy(previous.criterion_.state_dict())
                    )
                    # The state keeps the moments; the settings are today's,
                    # as the fresh optimizer has them (loading the state
                    # restores every setting of the previous fit, including
                    # ones today's optimizer_kwargs no longer pass).
                    today = [
                        {key: value for key, value in group.items() if key != "params"}
                        for group in net.optimizer_.param_groups
                    ]
                    net.optimizer_.load_state_dict(
                        copy.deepcopy(previous.optimizer_.state_dict())
                    )
                    for group, settings in zip(
                        net.optimizer_.param_groups, today, strict=True
                    ):
                        group.update(settings)
                    net.history = copy.deepcopy(previous.history)
                    net.partial_fit(train, None)
            except TrainingInterrupted as wrapped:
                interrupt = wrapped.__cause__
                raise interrupt.with_traceback(interrupt.__traceback__) from None
        return net

    @contextlib.contextmanager
    def _user_modules_rng(self, seed: int):
        """Seed torch's global generator for user modules, then restore it.

        A user ``encoder`` (dropout), ``loss`` or ``miner`` (sampling, such as
        pytorch-metric-learning's ``UniformHistogramMiner``) may draw random
        numbers from the global generator. Such fits hold a lock, so fits in
        threads cannot interleave their draws, and fork_rng gives the caller
        its generator state back.
        """
        if self.encoder is None and self.loss is None and self.miner is None:
            yield
            return
        devices = (
            list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        )
        with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    def _fit_input_gates(self, module, train_inputs, train_codes):
        """Set the input channels' gates (``input_gating``); return them.

        Without gating (``None``, or no labels) the encoder's buffer is left
        as it is: ones for a built-in encoder, the user's for a user encoder.
        """
        gates = encoder_buffer(module, "input_gates")
        if gates is None or self.input_gating is None or train_codes is None:
            return None
        factors = fit_input_gates(
            train_inputs, train_codes, _GATE_LEVELS, _GATE_SIGNIFICANCE
        )
        if factors is not None and gates.shape != factors.shape:
            raise ValueError(
                f"input_gating={self.input_gating!r}: the encoder's buffer "
                f"input_gates has shape {tuple(gates.shape)}, but the input "
                f"has {len(factors)} channels; set input_gating=None to leave "
                "it alone."
            )
        with torch.no_grad():
            gates.fill_(1.0)
            if factors is not None:
                gates.copy_(torch.as_tensor(factors, dtype=gates.dtype))
        return factors

    def _fit_input_row_weights(self, module, train_inputs, train_codes):
        """Set the kept rows' factors (``input_row_weighting``); return them.

        The spread is measured on the unweighted rows: the buffer is reset to
        ones first, whatever training or a callback left in it.
        """
        weights = kept_row_weights(module)
        if weights is None or len(weights) == 0:
            return None
        with torch.no_grad():
            weights.fill_(1.0)
        kind = self._row_weighting()
        if kind is None or (kind == "within_class" and train_codes is None):
            return None

        def embed(indices):
            chosen = [train_inputs[i] for i in indices]
            return embed_sequences(module, chosen, 1.0, self.n_threads)

        n_rows, n_levels, p = len(weights), self._n_levels(), int(self.p)
        # A user encoder may hold kept rows without saying where they come from.
        describe = getattr(module.encoder, "kept_row_sources", None)
        sources = describe() if callable(describe) else None
        if kind == "total":
            factors = fit_total_row_weights(
                embed, len(train_inputs), n_rows, n_levels, p, sources=sources
            )
        else:
            factors = fit_row_weights(
                embed, train_codes, n_rows, n_levels, p, sources=sources
            )
        if factors is not None:
            with torch.no_grad():
                weights.copy_(torch.as_tensor(factors, dtype=weights.dtype))
        return factors

    def _row_weighting(self) -> str | None:
        """Return the rule ``input_row_weighting`` names (``"auto"``: by pooling)."""
        if self.input_row_weighting == "auto":
            return "within_class" if self.pooling == "mean" else "total"
        return self.input_row_weighting

    def _check_trained(self, net, train_inputs: list[np.ndarray]) -> None:
        """NaN/inf in the weights, buffers or outputs: FloatingPointError."""
        check_finite_module(net.module_)
        picks = np.unique(
            np.linspace(0, len(train_inputs) - 1, _CHECKED_OUTPUTS).astype(int)
        )
        embeddings = embed_sequences(
            net.module_, [train_inputs[i] for i in picks], 1.0, self.n_threads
        )
        check_finite_embeddings(embeddings, "the training sequences")

    def _warn_if_no_training_signal(
        self, net, epochs_before: int, pretraining_epochs: int = 0
    ) -> None:
        """Warn when the training loss was exactly 0 in every epoch of this fit.

        ``pretraining_epochs``: the epochs of this fit's label-free
        pre-training, which the caller found without a loss as well.

        A hinge loss of 0 has no gradient: the encoder then keeps its random
        initial weights, and ``transform`` returns untrained learned features
        beside the kept input rows, which nothing else would tell the user.
        """
        epochs = net.history[epochs_before:]
        if not epochs or _had_a_loss(epochs):
            return
        if self.loss is None:
            cause = (
                f"every training triplet already met margin={self.margin!r} "
                "before training (the training classes are far apart under the "
                "initial encoder)"
            )
            remedy = "margin='soft' or a larger margin trains it"
        else:
            cause = "the loss given as `loss` was 0 on every batch"
            remedy = "a loss with a gradient on these data trains it"
        if pretraining_epochs:
            epochs_trained = (
                f"{len(epochs)} epochs of this fit and in the {pretraining_epochs} "
                "of its label-free pre-training"
            )
        else:
            epochs_trained = f"{len(epochs)} epochs of this fit"
        warnings.warn(
            f"The training loss was 0 in all {epochs_trained}: "
            f"{cause}, so the encoder received no gradient and its learned "
            f"features are those of its random initialisation; {remedy}.",
            UserWarning,
            stacklevel=4,  # this method, fit, scikit-learn's fit wrapper, caller
        )

    def _record_training_length(self, net, epochs_before: int | None = None) -> None:
        """Epochs trained, held-out scores and the epoch whose weights are kept.

        ``epochs_before``: the epochs of the fit a warm start continued
        (``None`` for a fresh fit). A warm start that trains no epoch keeps
        the weights, and so the best epoch, of the fit before.
        """
        history = net.history
        self.n_iter_ = len(history)
        scores = np.array(
            [epoch.get(_VALIDATION_KEY, np.nan) for epoch in history], dtype=float
        )
        scored = any(_VALIDATION_KEY in epoch for epoch in history)
        self.validation_scores_ = scores if scored else None
        if epochs_before == len(history) and hasattr(self, "best_epoch_"):
            return
        self.best_epoch_ = self.best_validation_score_ = None
        stopper = dict(net.callbacks_).get("early_stopping")
        # skorch's best_epoch_ is the history's "epoch" record, which skorch
        # numbers len(history) (so 1-based positions, across warm starts too);
        # 0 when no epoch of this fit scored (max_epochs=0, only NaN scores).
        if isinstance(stopper, LatestBestEarlyStopping) and stopper.best_epoch_:
            self.best_epoch_ = int(stopper.best_epoch_)
            self.best_validation_score_ = float(scores[self.best_epoch_ - 1])

    def _record_fit(
        self, net, classes, n_channels, mean, matrix, epochs_before=None
    ) -> None:
        """Everything later methods read: decided here, never re-derived."""
        # The DataLoader's generator only served this fit. A torch.Generator
        # pickles with a memory address in it, so keeping it would make the
        # fitted model's hash (joblib.hash, aeon's state checks) unstable.
        net.iterator_train__generator = None
        # Inference only from here on; see _training._inference.
        net.module_.eval()
        self.net_ = net
        self.history_ = net.history
        self._record_training_length(net, epochs_before)
        if classes is not None:
            self.classes_ = classes
        elif hasattr(self, "classes_"):
            del self.classes_  # a label-free refit has no classes
        self.n_features_in_ = n_channels
        self.whitening_mean_ = mean
        self.whitening_matrix_ = matrix
        self.p_ = int(self.p)
        self.pooling_ = self.pooling
        self.embedding_scale_ = self._n_levels() ** (-1.0 / self.p_)
        self.quantile_levels_ = quantile_levels(self._n_levels()).numpy()
        self.metric_ = "euclidean" if self.p_ == 2 else "manhattan"
        self.user_encoder_ = self.encoder is not None
        self.receptive_field_ = (
            None if self.encoder is not None else net.module_.encoder.receptive_field
        )
        self.difference_lags_ = (
            None if self.encoder is not None else net.module_.encoder._lags()
        )

    @property
    def module_(self) -> QuantileEmbedding:
        """The trained :class:`~sklearn_wdist.nn.QuantileEmbedding`."""
        check_is_fitted(self)
        return self.net_.module_

    # ---------------------------------------------------------------- embedding
    def _checked_sequences(self, X, name: str = "X") -> list[np.ndarray]:
        """Validate ``X`` against the fit (views of the caller's data, no copy)."""
        check_is_fitted(self)
        sequences = check_sequences(X, name=name, n_channels=self.n_features_in_)
        check_channel_names(getattr(self, "feature_names_in_", None), X, name)
        if self.user_encoder_:
            # The shortest sequence must pass the user's encoder before any
            # batch is embedded.
            shortest = int(np.argmin([s.shape[-1] for s in sequences]))
            self._probe(
                self.module_,
                self._preparer(name)([sequences[shortest]], [shortest]),
                name,
            )
        return sequences

    def _preparer(self, name: str):
        """Per-batch preprocessing: centring and whitening, then the cast."""
        mean, matrix = self.whitening_mean_, self.whitening_matrix_

        def prepare(chunk: list[np.ndarray], indices) -> list[np.ndarray]:
            return to_network_input(chunk, mean, matrix, name, indices)

        return prepare

    def _network_input(self, X, name: str = "X") -> list[np.ndarray]:
        """Return the sequences validated and preprocessed, as the encoder sees them."""
        sequences = self._checked_sequences(X, name)
        return self._preparer(name)(sequences, range(len(sequences)))

    def _embed(self, sequences: list[np.ndarray], name: str) -> np.ndarray:
        embeddings = embed_sequences(
            self.net_.module_,
            sequences,
            self.embedding_scale_,
            self.n_threads,
            prepare=self._preparer(name),
            verbose=self.verbose,
        )
        check_finite_embeddings(embeddings, name)
        return embeddings

    def transform(self, X):
        """Embed sequences: flattened quantile functions scaled by ``M ** (-1/p)``.

        Parameters
        ----------
        X : array-like of shape (n_sequences, n_channels, n_timepoints), \
                (n_sequences, n_timepoints), list of (n_channels, n_timepoints_i) \
                or sktime DataFrame
            Sequences with the channel count seen in ``fit``.

        Returns
        -------
        embeddings : ndarray of shape (n_sequences, K * n_quantiles), float32
            Row ``i`` holds ``Q_i[k, m] * M ** (-1/p)`` in row-major ``(k, m)``
            order; the ``metric_`` distance between rows is the learned ``d_p``.

        Raises
        ------
        FloatingPointError
            If the model's output overflows for some sequence.
        """
        embeddings = self._embedded(X, "X")
        instances = multiindex_instances(X)
        if (
            instances is not None
            and _get_output_config("transform", self)["dense"] == "pandas"
        ):
            # One row per sequence, labelled as the frame labels its sequences
            # (scikit-learn would take the frame's index: one row per step).
            import pandas as pd

            return pd.DataFrame(
                embeddings,
                index=instances,
                columns=self.get_feature_names_out(),
                copy=False,
            )
        return embeddings

    def step_features(self, X) -> list[np.ndarray]:
        """Per-step features ``h_t`` of each sequence, as the encoder outputs them.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences, as for :meth:`transform`.

        Returns
        -------
        features : list of ndarray of shape (K, n_timepoints_i')
            The valid steps of the encoder output, whose per-feature distributions
            the embedding summarises. With the built-in encoder and
            ``include_input=True`` the first ``n_features`` rows are the learned
            features, the next ``n_features_in_`` rows the whitened,
            standardised input channels and, with ``include_differences``,
            ``n_features_in_`` rows per lag of ``difference_lags_`` (lag after
            lag) with their standardised increments at that lag.
        """
        return self._step_features(X, "X")

    def _step_features(self, X, name: str) -> list[np.ndarray]:
        """:meth:`step_features` of ``X``, called ``name`` in messages."""
        features = sequence_step_features(
            self.module_,
            self._checked_sequences(X, name),
            self.n_threads,
            prepare=self._preparer(name),
        )
        for index, h in enumerate(features):
            check_finite_embeddings(h[None], f"{name}[{index}]")
        return features

    def _embedded(self, X, name: str) -> np.ndarray:
        """:meth:`transform` of ``X`` as an array, called ``name`` in messages."""
        embeddings = self._embed(self._checked_sequences(X, name), name)
        record_embedding_order(embeddings, self.p_)
        return embeddings

    def pairwise_distances(self, X, Y=None, *, exact=False, n_jobs=None):
        """Learned Wasserstein distances ``d_p`` between raw sequences.

        Parameters
        ----------
        X : array-like or list of arrays
            Query sequences.
        Y : array-like or list of arrays, optional
            Reference sequences; ``None`` means ``X`` (symmetric result with an
            exact zero diagonal).
        exact : bool, default=False
            ``False``: distance between the quantile embeddings (what the model
            was trained on). ``True``: exact ``W_p`` between the empirical
            per-step feature distributions, per feature, with POT's
            ``ot.wasserstein_1d`` (for ``pooling="mean"`` this is not the
            distance the model was trained on). With
            ``quantile_method="inverted_cdf"`` the
            quantile distance converges to it as ``n_quantiles`` grows; the
            linear form differs by ``O(1/n_timepoints)``.
        n_jobs : int, optional
            Parallel jobs (joblib).

        Returns
        -------
        distances : ndarray of shape (n_X, n_Y)
            ``d_p`` (a ``W_p``-type distance, not ``W_p^p``).
        """
        check_is_fitted(self)
        if exact:
            features_x = self._step_features(X, "X")
            features_y = None if Y is None else self._step_features(Y, "Y")
            return pairwise_wasserstein_exact(
                features_x, features_y, p=self.p_, n_jobs=n_jobs
            )
        embeddings_x = self._embedded(X, "X")
        embeddings_y = None if Y is None else self._embedded(Y, "Y")
        return pairwise_wasserstein(
            embeddings_x, embeddings_y, p=self.p_, n_jobs=n_jobs
        )

    def score(self, X, y):
        """Leave-one-out retrieval score: MAP@R of the learned distance.

        Every sequence queries all others; see
        :func:`sklearn_wdist.metrics.mean_average_precision_at_r`. Higher is
        better, so ``GridSearchCV`` can tune the embedder alone.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences.
        y : array-like of shape (n_sequences,)
            Their class labels (compared as Python values, as in ``fit``);
            classes with a single sequence act only as distractors.

        Returns
        -------
        score : float
            MAP@R in [0, 1].

        Raises
        ------
        ValueError
            If every label is unique (MAP@R is then undefined), or if all
            share one (MAP@R would be 1 whatever the distances).
        """
        check_is_fitted(self)
        sequences = self._checked_sequences(X)
        check_label_order(X, y)
        _, codes = check_labels(y, len(sequences), name="y")
        check_retrieval_labels(codes, "y", "sequences")
        embeddings = self._embed(sequences, "X")
        return retrieval_score(embeddings, codes, self.p_)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``"f{k}_q{m}"`` for feature ``k``, level ``m``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            The input channels' names; checked as scikit-learn checks them
            (they must equal ``feature_names_in_`` when the model has it, and
            number ``n_features_in_``), but the output names do not depend on
            them: every output column mixes all channels.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features)
        if self.pooling_ == "mean":
            names = [f"f{k}_mean" for k in range(self.n_embedding_features_)]
        else:
            names = [
                f"f{k}_q{m}"
                for k in range(self.n_embedding_features_)
                for m in range(len(self.quantile_levels_))
            ]
        return np.asarray(names, dtype=object)


def _monitor(callback):
    """Return the record a callback monitors; for a class, its default.

    skorch instantiates callbacks passed as classes with their defaults.
    """
    if not isinstance(callback, type):
        return getattr(callback, "monitor", None)
    try:
        parameter = inspect.signature(callback).parameters.get("monitor")
    except (TypeError, ValueError):  # no signature to read
        return None
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return None
    return parameter.default


def _callback_name(callback) -> str:
    return callback.__name__ if isinstance(callback, type) else type(callback).__name__


def _parameter_shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the entries of ``module``'s state."""
    return {name: tuple(value.shape) for name, value in module.state_dict().items()}


def _class_parameter_shapes(loss: torch.nn.Module) -> list[tuple[int, ...]]:
    """Shapes of a loss's trainable tensors of more than one element.

    Class proxies, class weights or per-class margins; a single learned
    scalar (a temperature, a shared margin) is not per class.
    """
    return [
        tuple(parameter.shape)
        for parameter in loss.parameters()
        if parameter.requires_grad and parameter.numel() > 1
    ]


def _has_class_parameters(loss) -> bool:
    return isinstance(loss, torch.nn.Module) and bool(_class_parameter_shapes(loss))


def _continued_seed(seed: int, epochs_before: int) -> int:
    """Seed of a warm start's training after ``epochs_before`` epochs.

    Derived from the fit's seed and the epochs already trained, so a loop of
    warm-started fits is as reproducible as one fit, and each call draws new
    batches, views and dropout masks instead of repeating the first call's.
    """
    state = np.random.SeedSequence([seed, epochs_before]).generate_state(1)[0]
    return int(state % np.iinfo(np.int32).max)


def _pretraining_seed(seed: int) -> int:
    """Return the seed of the label-free pre-training, derived from the fit's.

    The labelled stage draws its batches, dropout masks and views from
    ``seed``, ``seed + 1`` and ``seed + 2``; the pre-training draws its own
    from a stream spawned from ``seed``, so the two stages never repeat each
    other's random numbers.
    """
    (child,) = np.random.SeedSequence(seed).spawn(1)
    return int(child.generate_state(1)[0] % np.iinfo(np.int32).max)


def _had_a_loss(epochs) -> bool:
    """Whether any of these skorch history epochs had a training loss but 0.

    An epoch without a recorded loss counts as having one: nothing says that
    it did not train.
    """
    return any(epoch.get("train_loss") != 0.0 for epoch in epochs)


def _count_batches(entry, n_batches: int):
    """Return a ProgressBar that counts batches; other callbacks unchanged.

    skorch's ``ProgressBar`` guesses batches per epoch as sequences / batch
    size, but class-balanced batches come from a batch sampler (batch size 1
    to the DataLoader). A copy with the sampler's count is used instead.
    """
    name, callback = entry if isinstance(entry, tuple) else (None, entry)
    if isinstance(callback, ProgressBar) and callback.batches_per_epoch == "auto":
        callback = copy.copy(callback)
        callback.batches_per_epoch = n_batches
    return callback if name is None else (name, callback)


def _check_device(device) -> torch.device:
    """Resolve ``device`` to a torch device that exists on this machine."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device={device!r} is not a torch device (e.g. 'cpu', 'cuda', "
            f"'cuda:1'): {error}"
        ) from error
    if resolved.type == "cpu":
        return resolved
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available; "
                "use device='cpu'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
        return resolved
    if resolved.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(
                f"device={device!r} was requested but Apple's MPS backend is not "
                "available on this machine; use device='cpu'."
            )
        return resolved
    raise ValueError(f"device={device!r} is not supported: use 'cpu', 'cuda' or 'mps'.")
