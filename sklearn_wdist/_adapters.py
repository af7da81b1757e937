"""What the aeon and sktime adapters share (their ``__init__`` signatures aside).

Both frameworks read an estimator's parameters from its explicit ``__init__``
signature, so each adapter spells out the embedder's parameters; everything
else lives here once. All but ``warm_start``: both frameworks reset an
estimator before every ``fit``, so a fit could never continue the last one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._embedder import WassersteinSequenceEmbedder
from ._validation import LABEL_FREE_HINT

# The line of an adapter's docstring that stands for the embedder's parameters.
PARAMETERS_MARKER = "    <the embedder's parameters: _adapters.EMBEDDER_PARAMETERS>\n"

# The embedder's parameters as both adapters document them, in signature
# order; ``{optimizer}`` is each adapter's own entry (their defaults differ).
EMBEDDER_PARAMETERS = """\
    encoder : torch.nn.Module, default=None
        Per-step encoder mapping ``(batch, C, T)`` to ``(batch, K, T')``;
        ``None`` builds the default convolutional encoder.
    n_features : int, default=4
        Learned per-step features of the default encoder.
    hidden_channels : int, default=64
        Width of the default encoder's hidden convolutions.
    architecture : {"conv", "dilated"}, default="dilated"
        Plain or dilated residual convolutions.
    n_layers : int or "auto", default="auto"
        Convolution blocks of the default encoder.
    kernel_size : int, default=3
        Temporal width of the convolutions.
    readout : {"last", "all"}, default="last"
        Which blocks of the ``"dilated"`` encoder the learned features read.
    dropout : float, default=0.0
        Dropout probability in the default encoder.
    include_input : bool, default=True
        Append the (whitened) input channels to the learned features.
    include_differences : {"multiscale"} or bool, default="multiscale"
        With ``include_input``, also append the channels' increments at lags
        1, 2, 4, ... up to an eighth of the median training length
        (``"multiscale"``), their first differences only (``True``), or none.
    input_row_weighting : {"auto", "total", "within_class"} or None, \
default="auto"
        Weight of each kept input row in the distance, from its spread over
        all pairs of training sequences against the learned rows'
        (``"total"``) or within the training classes (``"within_class"``);
        ``"auto"``: ``"total"``, or ``"within_class"`` with ``pooling="mean"``.
    input_gating : {"anova"} or None, default="anova"
        Gate of each input channel on its way into the learned layers, from a
        one-way analysis of variance of its quantiles across the training
        classes.
    normalize_output : bool, default=True
        Standardise every learned feature with batch statistics.
    input_whitening : {"auto", "within_class", "total"} or None, default="auto"
        Linear whitening of the input channels.
    crop_fraction : float or "auto", default="auto"
        Random-crop augmentation (``"auto"``: none with labels, 0.5 without).
    scale_std : float or "auto", default="auto"
        Random-scaling augmentation (``"auto"``: none with labels, 0.1
        without).
    jitter_std : float or "auto", default="auto"
        Gaussian-noise augmentation (``"auto"``: none with labels, 0.05
        without).
    n_quantiles : int, default=16
        Number of quantile levels ``M``.
    quantile_method : {"linear", "inverted_cdf"}, default="linear"
        Empirical quantile definition.
    pooling : {"quantile", "mean"}, default="quantile"
        ``"mean"`` gives the mean-pooled vector baseline.
    p : {1, 2}, default=1
        Order of the Wasserstein distance; ``metric_`` is ``"manhattan"`` for
        1 and ``"euclidean"`` for 2: give it to the k-NN that follows.
    margin : float or "soft", default=1.0
        Triplet margin.
    mining : {"batch_hard", "batch_all", "semi_hard"}, default="batch_hard"
        Triplet mining inside each batch.
    loss : torch.nn.Module, default=None
        Training loss; ``None`` builds the Wasserstein triplet loss.
    miner : callable, default=None
        A pytorch-metric-learning miner, with such a ``loss``.
    classes_per_batch : int, default=8
        Classes per batch.
    samples_per_class : int, default=4
        Series per class in a batch.
    pretraining : {"label-free"} or None, default=None
        With labels, ``"label-free"`` trains as without labels first, then on
        the labelled triplets (twice the training time).
    max_epochs : int, default=30
        Number of training epochs.
    lr : float, default=1e-3
        Learning rate.
{optimizer}    weight_decay : float, default=0.0
        Weight decay.
    optimizer_kwargs : dict, default=None
        Further keyword arguments of the optimizer.
    early_stopping : bool or "auto", default=False
        Stop on the retrieval score of held-out series; ``"auto"`` only when
        labelled classes can spare them.
    validation_fraction : float, default=0.2
        Fraction held out for early stopping.
    validation_split : {"stratified", "classes"}, default="stratified"
        Hold out series of every class, or whole classes.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    device : str, default="cpu"
        Torch device.
    n_threads : int or None, default=1
        Intra-op threads PyTorch may use, from 1 to 1024.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks.
    verbose : int, default=0
        ``1`` prints skorch's per-epoch table.
    random_state : int, RandomState instance or None, default=None
        Seeds everything random in training; an int gives the same embedding
        on the same machine.
"""

OPTIMIZER_ENTRIES = {
    "class": """\
    optimizer : type of torch.optim.Optimizer, default=torch.optim.Adam
        Optimizer class.
""",
    "none": """\
    optimizer : type of torch.optim.Optimizer or None, default=None
        Optimizer class; ``None`` means ``torch.optim.Adam``, the embedder's
        default (sktime admits no class as a default value).
""",
}


def document_embedder_parameters(optimizer: str):
    """Class decorator: put the embedder's parameters in the adapter's docstring.

    ``optimizer`` names the adapter's own entry (``"class"``: the embedder's
    default, ``torch.optim.Adam``; ``"none"``: ``None`` standing for it).
    """
    entries = EMBEDDER_PARAMETERS.replace("{optimizer}", OPTIMIZER_ENTRIES[optimizer])

    def decorate(cls):
        if cls.__doc__ is None:  # docstrings stripped (python -OO)
            return cls
        if cls.__doc__.count(PARAMETERS_MARKER) != 1:
            raise ValueError(f"{cls.__name__}'s docstring has no parameter marker.")
        cls.__doc__ = cls.__doc__.replace(PARAMETERS_MARKER, entries)
        return cls

    return decorate


def build_embedder(params: dict[str, Any]) -> WassersteinSequenceEmbedder:
    """Return a new embedder from the adapter's parameters of the same names."""
    names = WassersteinSequenceEmbedder().get_params(deep=False)
    return WassersteinSequenceEmbedder(
        **{name: value for name, value in params.items() if name in names}
    )


def fit_embedder(adapter, sequences, y) -> None:
    """Fit ``adapter.embedder_`` and record the attributes both adapters expose."""
    if not isinstance(adapter.use_labels, bool | np.bool_):
        # "False" or 0 would otherwise decide by truthiness, silently.
        raise TypeError(
            f"use_labels must be a bool, got {adapter.use_labels!r} of type "
            f"{type(adapter.use_labels).__name__}."
        )
    labels = y if adapter.use_labels else None
    try:
        adapter.embedder_ = adapter._build_embedder().fit(sequences, labels)
    except ValueError as error:
        if labels is None or LABEL_FREE_HINT not in str(error):
            raise
        # A pipeline passes its target to every transformer, a regression
        # target too: each value is then a class of one.
        raise ValueError(
            str(error).replace(
                LABEL_FREE_HINT,
                "If y is not class labels (a regression target, say), pass "
                "use_labels=False to train without it.",
            )
        ) from error
    adapter.metric_ = adapter.embedder_.metric_
    adapter.n_features_out_ = len(adapter.embedder_.get_feature_names_out())


def tiny_parameter_sets() -> list[dict[str, Any]]:
    """Tiny settings for the frameworks' estimator checks: labelled and not.

    The labelled setting pre-trains without labels first, so that the checks
    run both training stages.
    """
    tiny = {
        "n_features": 2,
        "hidden_channels": 4,
        "n_layers": 1,
        "n_quantiles": 4,
        "max_epochs": 1,
        "random_state": 0,
    }
    return [
        {**tiny, "pretraining": "label-free"},
        {**tiny, "use_labels": False, "architecture": "dilated", "p": 2},
    ]
