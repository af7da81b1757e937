"""sktime adapter: the learned Wasserstein embedding as an sktime transformer.

:class:`WassersteinEmbeddingTransformer` wraps
:class:`~sklearn_wdist.WassersteinSequenceEmbedder` in sktime's
``BaseTransformer`` interface as a collection-to-tabular ("Series" to
"Primitives") transformation: ``transform`` returns one row per series, and
``fit`` learns from all series of the panel together (it is not
instance-wise). sktime checks and converts the input: ``numpy3D``, ``pd-multiindex``,
``nested_univ`` and ``pd_multiindex_hier`` panels reach the embedder as they
are (a frame's steps are read in time order, as the embedder reads them), all
others as ``df-list`` (which holds unequal lengths). Channels named in ``fit`` (string
columns) must keep their names and order in later calls. It passes
``sktime.utils.estimator_checks.check_estimator``.

k-NN on the learned distance, fast: the Manhattan (``p=1``, the default) or
Euclidean (``p=2``) distance between rows of ``transform`` *is* the learned
distance, so
``WassersteinEmbeddingTransformer(...) * KNeighborsClassifier(metric="manhattan")``
(an sktime ``SklearnClassifierPipeline``) embeds every series once and lets
scikit-learn's k-NN search the rows; the embedder is fitted inside the
pipeline, so cross-validation stays honest. sktime's own
``KNeighborsTimeSeriesClassifier`` also accepts a whole-matrix callable
``distance(X, X2) -> ndarray``: the ``pairwise_distances`` method of a
transformer fitted beforehand, with ``distance_mtype="pd-multiindex"`` (one
call per ``predict``, not one per pair of series).

This module needs sktime (``pip install sktime``).
"""

from __future__ import annotations

try:
    import sktime  # noqa: F401
    from sktime.transformations.base import BaseTransformer
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "sklearn_wdist.sktime needs sktime, which is not installed: pip install sktime"
    ) from error

import numpy as np
import pandas as pd
import torch

from ._adapters import (
    build_embedder,
    document_embedder_parameters,
    fit_embedder,
    tiny_parameter_sets,
)
from ._embedder import WassersteinSequenceEmbedder
from ._validation import (
    _from_dataframe,
    compare_channel_names,
    multiindex_instances,
    string_names,
)

__all__ = ["WassersteinEmbeddingTransformer"]


def _collapse_hierarchy(X):
    """Return a ``pd_multiindex_hier`` frame as a ``pd-multiindex`` one.

    Every leaf series (all index levels but the last, time) becomes one
    instance, labelled by the tuple of its levels; other input is returned
    as it is.
    """
    if (
        isinstance(X, pd.DataFrame)
        and isinstance(X.index, pd.MultiIndex)
        and X.index.nlevels > 2
    ):
        keys = pd.Index(X.index.droplevel(-1).to_flat_index(), tupleize_cols=False)
        times = X.index.get_level_values(-1)
        return X.set_axis(pd.MultiIndex.from_arrays([keys, times]), axis=0)
    return X


def _instances(X, collapsed):
    """Return the row labels of ``transform``: instances or leaf series, in order.

    ``collapsed`` is ``_collapse_hierarchy(X)``; leaf series keep the names of
    ``X``'s index levels.
    """
    instances = multiindex_instances(collapsed)
    if collapsed is not X:
        return pd.MultiIndex.from_tuples(instances, names=X.index.names[:-1])
    return instances


def _to_sequences(X) -> np.ndarray | list[np.ndarray]:
    """Convert sktime's inner types for the embedder.

    ``numpy3D`` passes through; a ``pd-multiindex`` frame is read as the
    embedder reads one (instances in order of first appearance, each one's
    steps in time order), a ``pd_multiindex_hier`` frame likewise with every
    leaf series an instance; ``df-list`` frames hold one series each.
    """
    if isinstance(X, np.ndarray):
        return X
    if isinstance(X, pd.DataFrame):
        return _from_dataframe(_collapse_hierarchy(X), "X")
    if isinstance(X, list) and all(isinstance(frame, pd.DataFrame) for frame in X):
        # One (n_timepoints_i, n_channels) frame per series, rows in time order.
        return [frame.to_numpy().T for frame in X]
    raise TypeError(
        f"X reached the transformer as {type(X).__name__}, which it cannot read; "
        "pass a sktime Panel or Hierarchical (numpy3D, df-list, nested_univ, "
        "pd-multiindex, pd_multiindex_hier)."
    )


def _channel_names(X) -> np.ndarray | None:
    """Channel names of a ``pd-multiindex`` or ``df-list`` panel, or None.

    They count as names when every column is a string, as for the embedder's
    ``feature_names_in_``; ``numpy3D`` panels have none. The frames of a
    ``df-list`` must all have the same columns in the same order (the series
    are read by position).
    """
    if isinstance(X, pd.DataFrame):
        return string_names(X.columns)
    if isinstance(X, list) and X and isinstance(X[0], pd.DataFrame):
        first = list(X[0].columns)
        for index, frame in enumerate(X[1:], start=1):
            if list(frame.columns) != first:
                raise ValueError(
                    f"X's series have different columns: series 0 has {first}, "
                    f"series {index} has {list(frame.columns)}; every series "
                    "needs the same channels in the same order."
                )
        return string_names(X[0].columns)
    return None


@document_embedder_parameters(optimizer="none")
class WassersteinEmbeddingTransformer(BaseTransformer):
    """sktime transformer: series to their learned Wasserstein embeddings.

    ``fit`` trains a :class:`~sklearn_wdist.WassersteinSequenceEmbedder` on the
    panel (with the class labels ``y`` when given and ``use_labels`` is true,
    otherwise self-supervised); ``transform`` returns a ``pd.DataFrame`` with
    one row per series, the flattened quantile functions of the learned
    per-step features, scaled so that the Euclidean (``p=2``) or Manhattan
    (``p=1``) distance between rows is the learned Wasserstein distance
    (``metric_``).

    Series may be multivariate and of unequal length. Every parameter except
    ``use_labels`` is the embedder's parameter of the same name, passed on
    unchanged; see :class:`~sklearn_wdist.WassersteinSequenceEmbedder` for
    their full description.

    Parameters
    ----------
    use_labels : bool, default=True
        Train on the class labels ``y`` that ``fit`` receives (sktime pipelines
        pass theirs to every transformer): positives are series of the same
        class. ``False`` trains without labels even when ``y`` is given
        (positives are random crops of the same series), e.g. in a regression
        pipeline, whose continuous targets are not classes. ``fit`` without
        ``y`` always trains without labels; so ``requires_y`` is false.
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
    channel_names_ : ndarray of str or None
        The channel names of the panel seen in ``fit`` (its columns, when all
        are strings; None for ``numpy3D``). ``transform`` and
        ``pairwise_distances`` refuse a panel whose channels are named
        otherwise or ordered otherwise.

    See Also
    --------
    sklearn_wdist.WassersteinSequenceEmbedder : The wrapped estimator.
    sklearn_wdist.aeon.WassersteinEmbeddingTransformer : The aeon adapter.

    Notes
    -----
    sktime tags: ``scitype:transform-input`` is ``"Series"`` and
    ``scitype:transform-output`` ``"Primitives"`` (one row per series);
    ``scitype:instancewise`` is false, because ``fit`` learns from all series
    together; ``X_inner_mtype`` is ``["df-list", "numpy3D", "pd-multiindex",
    "nested_univ", "pd_multiindex_hier"]`` (those input types are passed on as
    they are, and a frame's cells or rows are read in time order, by the
    embedder's rules: a time index of text is refused; every other
    panel is converted to ``df-list``, which holds unequal lengths);
    ``capability:unequal_length:removes`` is true, as the output is a table, so
    that sktime's ``SklearnClassifierPipeline``
    accepts unequal-length panels; ``y_inner_mtype`` is ``"numpy1D"`` and
    ``requires_y`` false (labels are optional, see ``use_labels``);
    ``capability:multivariate`` and ``capability:unequal_length`` are true;
    ``capability:random_state`` is true and ``property:randomness``
    ``"derandomized"``: an int ``random_state`` gives the same embedding on
    the same machine.

    A single series (sktime scitype ``"Series"``) cannot be fitted on its
    own: without labels, the negatives of the triplet loss are other series.
    It is fitted by cutting it into two halves in time, which then act as
    two series (the unlabelled training of Franceschi et al., 2019, also
    draws its series from one long series).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sktime.datatypes import convert_to
    >>> from sklearn_wdist.sktime import WassersteinEmbeddingTransformer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 2, 24))
    >>> y = np.repeat(["a", "b"], 10)
    >>> X[y == "b"] *= 3.0
    >>> X = convert_to(X, to_type="pd-multiindex")
    >>> transformer = WassersteinEmbeddingTransformer(
    ...     n_features=2, n_quantiles=4, max_epochs=2, random_state=0)
    >>> transformer.fit_transform(X, y).shape
    (20, 32)
    >>> pipeline = WassersteinEmbeddingTransformer(
    ...     n_features=2, n_quantiles=4, max_epochs=2, random_state=0
    ... ) * KNeighborsClassifier(n_neighbors=1, metric="manhattan")
    >>> type(pipeline).__name__
    'SklearnClassifierPipeline'
    >>> float((pipeline.fit(X, y).predict(X) == y).mean())
    1.0
    """

    _tags = {
        "authors": ["sklearn-wdist developers"],
        "maintainers": ["sklearn-wdist developers"],
        "scitype:transform-input": "Series",
        "scitype:transform-output": "Primitives",
        "scitype:transform-labels": "None",
        "scitype:instancewise": False,
        "X_inner_mtype": [
            "df-list",
            "numpy3D",
            "pd-multiindex",
            "nested_univ",
            "pd_multiindex_hier",
        ],
        "y_inner_mtype": "numpy1D",
        "requires_y": False,
        "fit_is_empty": False,
        "capability:multivariate": True,
        "capability:unequal_length": True,
        "capability:unequal_length:removes": True,
        "capability:missing_values": False,
        "capability:categorical_in_X": False,
        "capability:random_state": True,
        "property:randomness": "derandomized",
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
        optimizer=None,
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

    def _build_embedder(self) -> WassersteinSequenceEmbedder:
        """Build a new embedder from this transformer's parameters of the same names."""
        params = self.get_params(deep=False)
        if params["optimizer"] is None:
            params["optimizer"] = torch.optim.Adam
        return build_embedder(params)

    def _fit(self, X, y=None):
        """Train the embedder on the panel.

        Parameters
        ----------
        X : ndarray of shape (n_instances, n_channels, n_timepoints), list of \
                pd.DataFrame of shape (n_timepoints_i, n_channels), or \
                pd.DataFrame with an (instance, time) MultiIndex
            The series, as sktime passed them (``numpy3D``, ``df-list`` or
            ``pd-multiindex``).
        y : ndarray of shape (n_instances,), default=None
            Class labels; used when ``use_labels`` is true.

        Returns
        -------
        self : WassersteinEmbeddingTransformer
            The fitted transformer.
        """
        sequences = _to_sequences(X)
        if len(sequences) == 1 and (y is None or not self.use_labels):
            sequences = _halves(sequences[0])
        fit_embedder(self, sequences, y)
        # sktime hands the embedder arrays: the channel names are kept here.
        self.channel_names_ = _channel_names(X)
        return self

    def _transform(self, X, y=None):
        """Embed the series.

        Parameters
        ----------
        X : ndarray of shape (n_instances, n_channels, n_timepoints), list of \
                pd.DataFrame of shape (n_timepoints_i, n_channels), or \
                pd.DataFrame with an (instance, time) MultiIndex
            The series, as sktime passed them (``numpy3D``, ``df-list`` or
            ``pd-multiindex``).
        y : ignored
            Present for sktime's interface.

        Returns
        -------
        Xt : pd.DataFrame of shape (n_instances, n_features_out_)
            The embeddings (float32), one row per series, columns
            ``"f{k}_q{m}"``; the ``metric_`` distance between rows is the
            learned Wasserstein distance. A ``pd-multiindex`` panel's rows
            keep its instance labels, in order of first appearance; other
            panels' rows are numbered from 0.
        """
        compare_channel_names(
            getattr(self, "channel_names_", None), _channel_names(X), "X"
        )
        collapsed = _collapse_hierarchy(X)  # once: it copies a hierarchical frame
        embeddings = self.embedder_.transform(_to_sequences(collapsed))
        return pd.DataFrame(
            embeddings,
            index=_instances(X, collapsed),
            columns=list(self.embedder_.get_feature_names_out()),
        )

    def pairwise_distances(self, X, X2=None) -> np.ndarray:
        """Learned Wasserstein distances between two panels.

        This bound method of a fitted transformer is a whole-matrix
        ``distance`` for sktime's ``KNeighborsTimeSeriesClassifier`` (with
        ``distance_mtype="pd-multiindex"``), which then calls it once per
        ``predict``. Fit the transformer on training data only.

        Parameters
        ----------
        X : sktime Panel
            Query series (any sktime Panel mtype).
        X2 : sktime Panel, default=None
            Reference series; ``None`` means ``X`` (a symmetric matrix with an
            exactly zero diagonal).

        Returns
        -------
        distances : ndarray of shape (n_instances_X, n_instances_X2)
            The learned distance ``d_p`` (a ``W_p``-type distance, not
            ``W_p^p``), computed from each series' embedding once.
        """
        from sktime.datatypes import convert_to

        self.check_is_fitted()
        # Frames are read as transform reads them (steps in time order);
        # sktime's conversion to df-list would keep a cell's stored order.
        panels = [
            Z
            if Z is None or isinstance(Z, pd.DataFrame)
            else convert_to(Z, to_type="df-list")
            for Z in (X, X2)
        ]
        for panel, name in zip(panels, ("X", "X2"), strict=True):
            if panel is not None:
                compare_channel_names(
                    getattr(self, "channel_names_", None), _channel_names(panel), name
                )
        return self.embedder_.pairwise_distances(
            *(None if panel is None else _to_sequences(panel) for panel in panels)
        )

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Return tiny, fast parameter settings for sktime's estimator checks.

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


def _halves(sequence: np.ndarray) -> list[np.ndarray]:
    """Cut one (n_channels, n_timepoints) series into two halves in time."""
    if sequence.shape[-1] < 2:
        raise ValueError(
            "X holds a single series of one time point: fitting needs at least "
            "two series, or one series of at least 2 time points (cut in two)."
        )
    return np.array_split(sequence, 2, axis=-1)
