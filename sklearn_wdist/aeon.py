"""aeon adapter: the learned Wasserstein embedding as an aeon collection transformer.

:class:`WassersteinEmbeddingTransformer` wraps
:class:`~sklearn_wdist.WassersteinSequenceEmbedder` in aeon's
``BaseCollectionTransformer`` interface: aeon checks and converts the input
(equal-length ``numpy3D`` or unequal-length ``np-list`` and every type aeon
converts to these), and the output is tabular, one row per series. It passes
``aeon.testing.estimator_checking.check_estimator``.

k-NN on the learned distance, fast: aeon's ``KNeighborsTimeSeriesClassifier``
calls a ``distance`` callable once per pair of series (aeon 1.6 has no
precomputed or whole-matrix hook), which would embed both series again for
every pair. Because the Manhattan (``p=1``, the default) or Euclidean (``p=2``) distance
between rows of ``transform`` *is* the learned distance, the fast route is
``ClassifierPipeline(WassersteinEmbeddingTransformer(...),
KNeighborsClassifier(metric="manhattan"))``: every series is embedded once and
scikit-learn's k-NN searches the rows. For a distance matrix between raw
series, use :meth:`WassersteinEmbeddingTransformer.pairwise_distances`.

This module needs aeon (``pip install aeon``).
"""

from __future__ import annotations

try:
    import aeon  # noqa: F401
    from aeon.transformations.collection import BaseCollectionTransformer
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "sklearn_wdist.aeon needs aeon (1.0 or later), which is not installed: "
        "pip install aeon"
    ) from error

import numpy as np
import torch

from ._adapters import (
    build_embedder,
    document_embedder_parameters,
    fit_embedder,
    tiny_parameter_sets,
)
from ._embedder import WassersteinSequenceEmbedder
from ._validation import _is_dataframe, check_sequences

__all__ = ["WassersteinEmbeddingTransformer"]


@document_embedder_parameters(optimizer="class")
class WassersteinEmbeddingTransformer(BaseCollectionTransformer):
    """aeon transformer: series to their learned Wasserstein embeddings.

    ``fit`` trains a :class:`~sklearn_wdist.WassersteinSequenceEmbedder` on the
    collection (with the labels ``y`` when given and ``use_labels`` is true,
    otherwise self-supervised); ``transform`` returns one row per series, the
    flattened quantile functions of the learned per-step features, scaled so
    that the Euclidean (``p=2``) or Manhattan (``p=1``) distance between rows
    is the learned Wasserstein distance (``metric_``).

    Series may be multivariate and of unequal length. Every parameter except
    ``use_labels`` is the embedder's parameter of the same name, passed on
    unchanged; see :class:`~sklearn_wdist.WassersteinSequenceEmbedder` for
    their full description.

    Parameters
    ----------
    use_labels : bool, default=True
        Train on the labels ``y`` that ``fit`` receives (aeon pipelines pass
        theirs to every transformer): positives are series of the same class.
        ``False`` trains without labels even when ``y`` is given (positives are
        random crops of the same series), e.g. in a regression pipeline, whose
        continuous targets are not classes. ``fit`` without ``y`` always trains
        without labels; so ``requires_y`` is false.
    <the embedder's parameters: _adapters.EMBEDDER_PARAMETERS>

    Attributes
    ----------
    embedder_ : WassersteinSequenceEmbedder
        The fitted embedder.
    metric_ : {"euclidean", "manhattan"}
        The metric on ``transform`` output that equals the learned distance;
        pass it to scikit-learn's ``KNeighborsClassifier(metric=...)``.
    n_features_out_ : int
        Number of columns of ``transform`` (``K * n_quantiles``).

    See Also
    --------
    sklearn_wdist.WassersteinSequenceEmbedder : The wrapped estimator.
    sklearn_wdist.sktime.WassersteinEmbeddingTransformer : The sktime adapter.

    Notes
    -----
    aeon tags: ``capability:multivariate`` and ``capability:unequal_length``
    are true; ``X_inner_type`` is ``["np-list", "numpy3D"]`` (both are what the
    embedder reads); ``output_data_type`` is ``"Tabular"``; ``requires_y`` is
    false (labels are optional, see ``use_labels``); missing values are
    refused by aeon before training, as the embedder refuses NaN;
    ``algorithm_type`` is ``"deeplearning"``. ``non_deterministic`` stays
    false: an int ``random_state`` gives the same embedding on the same
    machine, which aeon's ``check_fit_deterministic`` verifies. A pandas
    DataFrame (``pd-multiindex`` or ``nested_univ``) is read by the embedder's
    own reader, instances in order of first appearance (so ``y`` pairs with
    them by position, as in the embedder) and steps in time order, and aeon
    receives the list of series. Channels are read by position, as aeon's own
    estimators read them: a DataFrame whose columns come in another order
    than in ``fit`` is not refused here (the embedder and the sktime adapter
    refuse it).

    aeon's ``KNeighborsTimeSeriesClassifier`` is not the fast route here: it
    calls a ``distance`` callable once per pair of series. Use a
    ``ClassifierPipeline`` with scikit-learn's
    ``KNeighborsClassifier(metric=...)``, where the metric is ``"manhattan"``
    for ``p=1`` (the default) and ``"euclidean"`` for ``p=2`` (``metric_``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from aeon.classification.compose import ClassifierPipeline
    >>> from sklearn_wdist.aeon import WassersteinEmbeddingTransformer
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(size=(2, n)) for n in rng.integers(15, 25, size=20)]
    >>> y = np.repeat(["a", "b"], 10)
    >>> X = [x * 3.0 if label == "b" else x for x, label in zip(X, y)]
    >>> transformer = WassersteinEmbeddingTransformer(
    ...     n_features=2, n_quantiles=4, max_epochs=2, random_state=0)
    >>> transformer.fit_transform(X, y).shape
    (20, 32)
    >>> pipeline = ClassifierPipeline(
    ...     WassersteinEmbeddingTransformer(
    ...         n_features=2, n_quantiles=4, max_epochs=2, random_state=0),
    ...     KNeighborsClassifier(n_neighbors=1, metric="manhattan"))
    >>> float(pipeline.fit(X, y).score(X, y))
    1.0
    """

    _tags = {
        "output_data_type": "Tabular",
        "capability:multivariate": True,
        "capability:unequal_length": True,
        "X_inner_type": ["np-list", "numpy3D"],
        "requires_y": False,
        "fit_is_empty": False,
        "algorithm_type": "deeplearning",
    }

    def __init__(
        self,
        use_labels=True,
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
        p=1,
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
        self.use_labels = use_labels
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
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_split = validation_split
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.n_threads = n_threads
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state
        super().__init__()

    def _preprocess_collection(self, X, store_metadata=True):
        # aeon's pd-multiindex converter walks the sorted instance index
        # levels, unused ones included: labels would pair with series in
        # sorted order and a frame cut with .loc would fail. A DataFrame is
        # read with the embedder's own reader instead (instances in order of
        # appearance, steps in time order), and aeon checks the list of series.
        # aeon's fit, transform and fit_transform all start here (they may not
        # be overridden).
        return super()._preprocess_collection(
            _own_frames(X), store_metadata=store_metadata
        )

    def _build_embedder(self) -> WassersteinSequenceEmbedder:
        """Build a new embedder from this transformer's parameters of the same names."""
        return build_embedder(self.get_params(deep=False))

    def _fit(self, X, y=None):
        """Train the embedder on the collection.

        Parameters
        ----------
        X : ndarray of shape (n_cases, n_channels, n_timepoints) or list of \
                ndarray of shape (n_channels, n_timepoints_i)
            The series, as aeon converted them.
        y : ndarray of shape (n_cases,), default=None
            Class labels; used when ``use_labels`` is true.

        Returns
        -------
        self : WassersteinEmbeddingTransformer
            The fitted transformer.
        """
        fit_embedder(self, X, y)
        return self

    def _transform(self, X, y=None):
        """Embed the series.

        Parameters
        ----------
        X : ndarray of shape (n_cases, n_channels, n_timepoints) or list of \
                ndarray of shape (n_channels, n_timepoints_i)
            The series, as aeon converted them.
        y : ignored
            Present for aeon's interface.

        Returns
        -------
        Xt : ndarray of shape (n_cases, n_features_out_), float32
            The embeddings; the ``metric_`` distance between rows is the
            learned Wasserstein distance.
        """
        return self.embedder_.transform(X)

    def pairwise_distances(self, X, Y=None) -> np.ndarray:
        """Learned Wasserstein distances between two collections of series.

        Parameters
        ----------
        X : collection
            Query series, any aeon collection type.
        Y : collection, default=None
            Reference series; ``None`` means ``X`` (a symmetric matrix with an
            exactly zero diagonal).

        Returns
        -------
        distances : ndarray of shape (n_cases_X, n_cases_Y)
            The learned distance ``d_p`` (a ``W_p``-type distance, not
            ``W_p^p``), computed from each series' embedding once.
        """
        self._check_is_fitted()
        collections = []
        for Z in (X, Y):
            if Z is not None:
                Z = self._preprocess_collection(Z, store_metadata=False)
                self._check_shape(Z)
            collections.append(Z)
        return self.embedder_.pairwise_distances(*collections)

    @classmethod
    def _get_test_params(cls, parameter_set="default"):
        """Return tiny, fast parameter settings for aeon's estimator checks.

        Parameters
        ----------
        parameter_set : str, default="default"
            Name of the set of test parameters; there is only one.

        Returns
        -------
        params : list of dict
            A supervised setting (label-free pre-training first) and a
            self-supervised, dilated, ``p=2`` one.
        """
        return tiny_parameter_sets()


def _own_frames(X):
    """Read a pandas DataFrame as the embedder reads it; pass anything else on."""
    if _is_dataframe(X):
        return check_sequences(X, name="X")
    return X
