"""Visualisations of fitted embedders, in scikit-learn's ``Display`` style.

Each display holds the data it plots; ``from_estimator`` computes that data
from a fitted :class:`~sklearn_wdist.WassersteinSequenceEmbedder` and plots it,
and ``plot(ax=None, **kwargs)`` draws (or redraws) it, returning the display
with the matplotlib artists as attributes (``ax_`` or ``axes_``, ``figure_``,
the lines). matplotlib is imported only when something is plotted.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Number
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.validation import check_is_fitted

from ._validation import check_label_order, check_labels, wrapper_hint

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["QuantileFunctionDisplay", "TrainingHistoryDisplay"]

_VALID_KEY = "valid_map_at_r"
_DEFAULT_N_SEQUENCES = 5
_DEFAULT_N_FEATURES = 4


def _line_kwargs(defaults: dict[str, Any], user: dict[str, Any] | None) -> dict:
    """Merge ``Line2D`` keyword arguments, the user's winning, aliases resolved.

    ``c="red"`` from the user replaces a default ``color``: both are normalised
    to their full names first, so matplotlib never sees the pair.
    """
    from matplotlib.cbook import normalize_kwargs
    from matplotlib.lines import Line2D

    return {
        **normalize_kwargs(defaults, Line2D),
        **normalize_kwargs(user or {}, Line2D),
    }


def _numeric_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a float array, refusing what is not real numbers by name."""
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{name} must be a regular array: {error}") from None
    if array.dtype == object and all(
        item is None
        or (
            isinstance(item, Number)  # Decimal and Fraction too
            and not isinstance(item, bool | complex | np.complexfloating)
        )
        for item in array.ravel()
    ):
        return (
            np.array([np.nan if v is None else v for v in array.ravel()])
            .reshape(array.shape)
            .astype(float)
        )  # None marks a missing value, as NaN does
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(
            f"{name} must hold real numbers; got an array of dtype {array.dtype}."
        )
    return array.astype(float)


def _history_column(history, key: str) -> np.ndarray:
    """One per-epoch record of a skorch History as floats, NaN where missing."""
    return np.asarray(
        [np.nan if row.get(key) is None else float(row[key]) for row in history],
        dtype=float,
    )


class TrainingHistoryDisplay:
    """Training curve: loss per epoch, and the validation MAP@R when recorded.

    It is recommended to use :meth:`from_estimator` to create the display from
    a fitted :class:`~sklearn_wdist.WassersteinSequenceEmbedder`. All
    parameters are stored as attributes.

    Parameters
    ----------
    epochs : array-like of shape (n_epochs,)
        Epoch numbers (skorch counts from 1).
    train_loss : array-like of shape (n_epochs,)
        Mean training loss of every epoch.
    valid_score : array-like of shape (n_epochs,), default=None
        Validation MAP@R of every epoch (recorded when early stopping held
        sequences out), NaN for epochs without one; ``None`` plots the loss
        alone.
    best_epoch : int, "latest" or None, default="latest"
        The epoch to mark on the validation curve. ``"latest"``: the latest
        epoch with the highest finite ``valid_score``, the one whose weights
        early stopping keeps in a single fit (a score equal to the best
        counts as a new best); ``None``: no marker. :meth:`from_estimator`
        passes the estimator's own ``best_epoch_``.

    Attributes
    ----------
    line_ : matplotlib.lines.Line2D
        The training loss curve.
    valid_line_ : matplotlib.lines.Line2D or None
        The validation MAP@R curve, on :attr:`valid_ax_`; ``None`` without
        ``valid_score``.
    best_marker_ : matplotlib.lines.Line2D or None
        Marker at ``best_epoch`` on the validation curve; ``None`` without a
        validation curve, without a finite score or with ``best_epoch=None``.
    best_epoch_ : int or None
        The epoch :attr:`best_marker_` marks.
    ax_ : matplotlib.axes.Axes
        Axes with the loss curve.
    valid_ax_ : matplotlib.axes.Axes or None
        Twin axes (sharing the epoch axis) with the validation curve.
    figure_ : matplotlib.figure.Figure
        Figure containing the curves.

    See Also
    --------
    QuantileFunctionDisplay : The learned quantile functions of sequences.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_wdist import TrainingHistoryDisplay
    >>> display = TrainingHistoryDisplay(
    ...     epochs=[1, 2, 3, 4],
    ...     train_loss=[0.9, 0.7, 0.6, 0.55],
    ...     valid_score=[0.40, 0.52, 0.50, 0.52],
    ... ).plot()
    >>> display.best_epoch_
    4
    >>> display.line_.get_ydata()
    array([0.9 , 0.7 , 0.6 , 0.55])
    """

    def __init__(
        self,
        epochs: ArrayLike,
        train_loss: ArrayLike,
        valid_score: ArrayLike | None = None,
        best_epoch: int | str | None = "latest",
    ) -> None:
        self.epochs = epochs
        self.train_loss = train_loss
        self.valid_score = valid_score
        self.best_epoch = best_epoch

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        ax: Axes | None = None,
        valid_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> TrainingHistoryDisplay:
        """Plot the training history of a fitted embedder.

        Parameters
        ----------
        estimator : WassersteinSequenceEmbedder
            A fitted embedder (or any fitted estimator with a skorch
            ``history_``). Its per-epoch ``train_loss`` is plotted, and
            ``valid_map_at_r`` when early stopping held sequences out in its
            fit, marked at its ``best_epoch_`` (the epoch whose weights early
            stopping kept; without that attribute, the latest best score).
        ax : matplotlib.axes.Axes, default=None
            Axes to plot the loss on; ``None`` creates a figure.
        valid_kwargs : dict, default=None
            Keyword arguments of the validation curve's ``plot`` call.
        **kwargs : dict
            Keyword arguments of the loss curve's ``plot`` call.

        Returns
        -------
        display : TrainingHistoryDisplay

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If ``estimator`` is not fitted.
        TypeError
            If it has no ``history_`` and is no embedder (an aeon or sktime
            adapter or a Pipeline is pointed to its embedder).
        ValueError
            If its history records no epoch.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn_wdist import (
        ...     TrainingHistoryDisplay, WassersteinSequenceEmbedder)
        >>> rng = np.random.default_rng(0)
        >>> y = np.repeat([0, 1, 2, 3], 10)
        >>> X = rng.normal(size=(40, 2, 20)) * (1 + y[:, None, None])
        >>> embedder = WassersteinSequenceEmbedder(
        ...     n_features=2, hidden_channels=8, n_layers=1, n_quantiles=4,
        ...     max_epochs=2, early_stopping=True, validation_split="classes",
        ...     random_state=0,
        ... ).fit(X, y)
        >>> display = TrainingHistoryDisplay.from_estimator(embedder)
        >>> display.line_.get_xdata()
        array([1, 2])
        >>> display.valid_line_ is not None
        True
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        if getattr(estimator, "history_", None) is None:
            # No history to read: an embedder that is not fitted, or a wrapper
            # (adapter, Pipeline) to point to its embedder.
            _check_embedder(estimator, cls.__name__)
        check_is_fitted(estimator)
        history = getattr(estimator, "history_", None)
        if not history:
            raise ValueError(
                f"{type(estimator).__name__} has no recorded training epochs "
                "(its history_ is empty or missing); there is nothing to plot."
            )
        epochs = np.asarray([row["epoch"] for row in history], dtype=int)
        train_loss = _history_column(history, "train_loss")
        valid_score = _history_column(history, _VALID_KEY)
        if np.isnan(valid_score).all():
            valid_score = None
        display = cls(
            epochs=epochs,
            train_loss=train_loss,
            valid_score=valid_score,
            best_epoch=getattr(estimator, "best_epoch_", "latest"),
        )
        return display.plot(ax=ax, valid_kwargs=valid_kwargs, **kwargs)

    def plot(
        self,
        ax: Axes | None = None,
        *,
        valid_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> TrainingHistoryDisplay:
        """Plot the curves.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to plot the loss on; ``None`` creates a figure. The validation
            curve goes on a twin axes sharing its epoch axis.
        valid_kwargs : dict, default=None
            Keyword arguments of the validation curve's ``plot`` call.
        **kwargs : dict
            Keyword arguments of the loss curve's ``plot`` call.

        Returns
        -------
        display : TrainingHistoryDisplay
            ``self``, with the artists as attributes.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        epochs = np.asarray(self.epochs)
        if epochs.dtype == bool or not np.issubdtype(epochs.dtype, np.number):
            raise TypeError(
                f"epochs must hold numbers; got an array of dtype {epochs.dtype}."
            )
        train_loss = _numeric_array(self.train_loss, "train_loss")
        if epochs.ndim != 1 or train_loss.shape != epochs.shape:
            raise ValueError(
                "epochs and train_loss must be 1-D and of the same length; got "
                f"shapes {epochs.shape} and {train_loss.shape}."
            )
        valid_score = None
        if self.valid_score is not None:
            valid_score = _numeric_array(self.valid_score, "valid_score")
            if valid_score.shape != epochs.shape:
                raise ValueError(
                    "valid_score must have one value per epoch; got shape "
                    f"{valid_score.shape} for {epochs.size} epochs."
                )
        best_epoch = self.best_epoch
        if not (
            best_epoch is None
            or (isinstance(best_epoch, str) and best_epoch == "latest")
            or (
                isinstance(best_epoch, Integral)
                and not isinstance(best_epoch, bool)
                and best_epoch in epochs
            )
        ):
            raise ValueError(
                "best_epoch must be 'latest', None or one of the epochs "
                f"{epochs.tolist()}; got {best_epoch!r}."
            )

        if ax is None:
            _, ax = plt.subplots(layout="constrained")
        (self.line_,) = ax.plot(
            epochs,
            train_loss,
            **_line_kwargs({"color": "C0", "label": "training loss"}, kwargs),
        )
        ax.set(xlabel="epoch", ylabel="training loss")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        handles = [self.line_]

        self.valid_ax_ = self.valid_line_ = self.best_marker_ = None
        self.best_epoch_ = None
        if valid_score is not None:
            self.valid_ax_ = ax.twinx()
            (self.valid_line_,) = self.valid_ax_.plot(
                epochs,
                valid_score,
                **_line_kwargs(
                    {"color": "C1", "label": "validation MAP@R"}, valid_kwargs
                ),
            )
            self.valid_ax_.set_ylabel("validation MAP@R")
            handles.append(self.valid_line_)
            best = self._best_position(epochs, valid_score)
            if best is not None:
                self.best_epoch_ = epochs[best].item()
                (self.best_marker_,) = self.valid_ax_.plot(
                    epochs[best : best + 1],
                    valid_score[best : best + 1],
                    linestyle="none",
                    marker="*",
                    markersize=12,
                    color=self.valid_line_.get_color(),
                    label=f"best epoch ({self.best_epoch_})",
                )
                handles.append(self.best_marker_)
        # The twin axes is drawn over ax: a legend there stays on top.
        (self.valid_ax_ or ax).legend(handles=handles, loc="best")

        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _best_position(self, epochs: np.ndarray, valid_score: np.ndarray):
        """Index of the epoch to mark, or ``None`` for no marker."""
        if self.best_epoch is None or not np.isfinite(valid_score).any():
            return None
        if isinstance(self.best_epoch, str):  # "latest" of equal best scores
            finite = np.isfinite(valid_score)
            best = valid_score[finite].max()
            return int(np.flatnonzero(finite & (valid_score == best))[-1])
        position = int(np.flatnonzero(epochs == self.best_epoch)[0])
        return position if np.isfinite(valid_score[position]) else None


class QuantileFunctionDisplay:
    """Learned quantile functions of sequences, one panel per feature.

    A :class:`~sklearn_wdist.WassersteinSequenceEmbedder` summarises every
    per-step feature ``k`` of a sequence by its quantile function
    ``Q[k, m]`` at the levels ``tau_m``; the learned distance compares these
    functions. This display draws them: the level ``tau`` on the x axis, the
    quantile on the y axis, one line per sequence, coloured by label when
    labels are given.

    It is recommended to use :meth:`from_estimator` to create the display. All
    parameters are stored as attributes.

    Parameters
    ----------
    quantile_levels : array-like of shape (n_quantiles,)
        The levels ``tau_m``, increasing in [0, 1] (the embedder's lie in
        (0, 1); 0 and 1 are the minimum and maximum).
    quantiles : array-like of shape (n_sequences, n_features, n_quantiles)
        ``quantiles[i, k, m]``: quantile ``tau_m`` of feature ``k`` over the
        steps of sequence ``i`` (unscaled, i.e. :meth:`transform
        <sklearn_wdist.WassersteinSequenceEmbedder.transform>` divided by
        ``embedding_scale_``).
    labels : array-like of shape (n_sequences,), default=None
        Labels colouring the lines, one colour per distinct label, with a
        legend; ``None`` gives every sequence its own colour.
    feature_names : list of str, default=None
        Panel titles, one per feature; ``None`` numbers them.

    Attributes
    ----------
    lines_ : ndarray of matplotlib.lines.Line2D, shape (n_sequences, n_features)
        ``lines_[i, k]`` is the quantile function of sequence ``i``, feature
        ``k``.
    axes_ : ndarray of matplotlib.axes.Axes, shape (n_features,)
        One axes per feature.
    figure_ : matplotlib.figure.Figure
        Figure containing the axes.

    See Also
    --------
    TrainingHistoryDisplay : Loss and validation score per training epoch.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_wdist import QuantileFunctionDisplay
    >>> levels = np.array([0.125, 0.375, 0.625, 0.875])
    >>> quantiles = np.sort(np.random.default_rng(0).normal(size=(3, 2, 4)), axis=2)
    >>> display = QuantileFunctionDisplay(levels, quantiles, labels=["a", "a", "b"])
    >>> display.plot().lines_.shape
    (3, 2)
    """

    def __init__(
        self,
        quantile_levels: ArrayLike,
        quantiles: ArrayLike,
        labels: ArrayLike | None = None,
        *,
        feature_names: Sequence[str] | None = None,
    ) -> None:
        self.quantile_levels = quantile_levels
        self.quantiles = quantiles
        self.labels = labels
        self.feature_names = feature_names

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        *,
        indices: ArrayLike | None = None,
        features: ArrayLike | None = None,
        labels: ArrayLike | None = None,
        ax: Axes | Sequence[Axes] | np.ndarray | None = None,
        **kwargs: Any,
    ) -> QuantileFunctionDisplay:
        """Plot the learned quantile functions of some sequences.

        Parameters
        ----------
        estimator : WassersteinSequenceEmbedder
            A fitted embedder with ``pooling="quantile"``.
        X : array-like or list of arrays
            Sequences, as for :meth:`transform
            <sklearn_wdist.WassersteinSequenceEmbedder.transform>`.
        indices : array-like of int, default=None
            Which sequences of ``X`` to plot; ``None``: the first five (or all,
            if fewer).
        features : array-like of int, default=None
            Which embedding features ``k`` to plot, one panel each; ``None``:
            the first four (or all, if fewer). With the built-in encoder and
            ``include_input=True`` the features after the ``n_features``
            learned ones are the whitened input channels, then (with
            ``include_differences``) their increments at each lag of
            ``difference_lags_``, lag after lag, each scaled by its factor in
            ``input_row_weights_``.
        labels : array-like of shape (n_sequences,), default=None
            Labels of *all* sequences of ``X`` (such as ``y``); those of the
            plotted ones colour the lines.
        ax : matplotlib.axes.Axes or array-like of Axes, default=None
            One axes per plotted feature (a single axes for one feature);
            ``None`` creates a figure with a row of panels.
        **kwargs : dict
            Keyword arguments of every line's ``plot`` call.

        Returns
        -------
        display : QuantileFunctionDisplay

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If ``estimator`` is not fitted.
        TypeError
            If it is no :class:`~sklearn_wdist.WassersteinSequenceEmbedder`
            (an aeon or sktime adapter or a Pipeline is pointed to its
            embedder).
        ValueError
            If it was fitted with ``pooling="mean"`` (one mean per feature, no
            quantile function), or ``indices``, ``features`` or ``labels`` do
            not fit.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn_wdist import (
        ...     QuantileFunctionDisplay, WassersteinSequenceEmbedder)
        >>> rng = np.random.default_rng(0)
        >>> y = np.repeat([0, 1], 10)
        >>> X = rng.normal(size=(20, 2, 20)) * (1 + y[:, None, None])
        >>> embedder = WassersteinSequenceEmbedder(
        ...     n_features=2, hidden_channels=8, n_layers=1, n_quantiles=4,
        ...     max_epochs=1, random_state=0,
        ... ).fit(X, y)
        >>> display = QuantileFunctionDisplay.from_estimator(
        ...     embedder, X, indices=[0, 1, 10, 11], labels=y)
        >>> display.quantiles.shape  # 4 sequences, 4 features, 4 levels
        (4, 4, 4)
        >>> display.lines_[0, 0].get_xdata()
        array([0.125, 0.375, 0.625, 0.875])
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        _check_embedder(estimator, cls.__name__)
        if getattr(estimator, "pooling_", "quantile") == "mean":
            raise ValueError(
                f"{type(estimator).__name__} was fitted with pooling='mean': its "
                "embedding is one mean per feature, not a quantile function, so "
                "there is nothing to plot. Fit it with pooling='quantile'."
            )
        # Read and checked as transform reads X (a pd-multiindex frame has
        # one row per step, not per sequence; channel names must be those of
        # fit), then index the sequences.
        sequences = estimator._checked_sequences(X, "X")
        n_sequences = len(sequences)
        indices = _check_indices(
            indices, n_sequences, _DEFAULT_N_SEQUENCES, "indices", "sequences in X"
        )
        n_features = int(estimator.n_embedding_features_)
        features = _check_indices(
            features, n_features, _DEFAULT_N_FEATURES, "features", "features"
        )
        if labels is not None:
            check_label_order(X, labels, name="labels")
            # The package's label policy: 1 and "1" are two classes.
            classes, codes = check_labels(
                labels, n_sequences, name="labels", samples_name="X"
            )
            labels = classes[codes[indices]]

        levels = np.asarray(estimator.quantile_levels_)
        # An array whatever set_output asks transform for.
        embeddings = estimator._embedded([sequences[i] for i in indices], "X")
        quantiles = embeddings.reshape(len(indices), n_features, levels.size)
        quantiles = quantiles / estimator.embedding_scale_
        names = [_feature_name(estimator, k) for k in features]
        display = cls(
            quantile_levels=levels,
            quantiles=quantiles[:, features, :],
            labels=labels,
            feature_names=names,
        )
        return display.plot(ax=ax, **kwargs)

    def plot(
        self,
        ax: Axes | Sequence[Axes] | np.ndarray | None = None,
        **kwargs: Any,
    ) -> QuantileFunctionDisplay:
        """Plot the quantile functions.

        Parameters
        ----------
        ax : matplotlib.axes.Axes or array-like of Axes, default=None
            One axes per feature (a single axes when there is one feature);
            ``None`` creates a figure with a row of panels.
        **kwargs : dict
            Keyword arguments of every line's ``plot`` call (``color`` replaces
            the colouring by label).

        Returns
        -------
        display : QuantileFunctionDisplay
            ``self``, with the artists as attributes.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        levels = _numeric_array(self.quantile_levels, "quantile_levels")
        quantiles = _numeric_array(self.quantiles, "quantiles")
        if quantiles.ndim != 3 or levels.shape != (quantiles.shape[2],):
            raise ValueError(
                "quantiles must have shape (n_sequences, n_features, n_quantiles) "
                "and quantile_levels shape (n_quantiles,); got "
                f"{quantiles.shape} and {levels.shape}."
            )
        if not (np.all((levels >= 0) & (levels <= 1)) and np.all(np.diff(levels) > 0)):
            raise ValueError(
                "quantile_levels must be increasing and in [0, 1]; got "
                f"{levels.tolist()}."
            )
        n_sequences, n_features, _ = quantiles.shape
        names = self.feature_names
        if names is None:
            names = [f"feature {k}" for k in range(n_features)]
        if isinstance(names, str):
            raise TypeError(
                f"feature_names must be a list of str, one per feature; got the "
                f"str {names!r}."
            )
        if len(names) != n_features:
            raise ValueError(
                f"feature_names has {len(names)} entries for {n_features} features."
            )

        # Labels first: a refusal leaves no figure behind.
        if self.labels is None:
            colors = [f"C{i % 10}" for i in range(n_sequences)]
            legend_labels = [None] * n_sequences
        else:
            classes, codes = check_labels(
                self.labels, n_sequences, name="labels", samples_name="quantiles"
            )
            colors = _class_colors(codes, len(classes))
            # One legend entry per label: its first sequence; repr where two
            # classes would print alike (1 and "1").
            texts = [str(c) for c in classes]
            if len(set(texts)) < len(texts):
                texts = [repr(c) for c in classes]
            first = {code: i for i, code in reversed(list(enumerate(codes)))}
            legend_labels = [
                texts[code] if first[code] == i else None
                for i, code in enumerate(codes)
            ]

        if ax is None:
            _, axes = plt.subplots(
                1,
                n_features,
                figsize=(3.2 * n_features, 3.0),
                squeeze=False,
                layout="constrained",
            )
            axes = axes.ravel()
        else:
            axes = np.ravel(np.asarray(ax, dtype=object))
            if axes.size != n_features:
                raise ValueError(
                    f"ax must hold one axes per feature ({n_features}); got "
                    f"{axes.size}."
                )

        lines = np.empty((n_sequences, n_features), dtype=object)
        for k, axes_k in enumerate(axes):
            for i in range(n_sequences):
                defaults = {"color": colors[i], "marker": "o", "markersize": 3}
                if k == 0 and legend_labels[i] is not None:
                    defaults["label"] = legend_labels[i]
                (lines[i, k],) = axes_k.plot(
                    levels, quantiles[i, k], **_line_kwargs(defaults, kwargs)
                )
            axes_k.set(xlabel=r"quantile level $\tau$", title=names[k])
        axes[0].set_ylabel("quantile")
        if self.labels is not None or "label" in kwargs:
            axes[0].legend(fontsize="small", loc="best")

        self.lines_ = lines
        self.axes_ = axes
        self.figure_ = axes[0].figure
        return self


def _check_embedder(estimator: Any, display: str) -> None:
    """Refuse anything but a fitted embedder, pointing wrappers to theirs."""
    from ._embedder import WassersteinSequenceEmbedder

    if not isinstance(estimator, WassersteinSequenceEmbedder):
        raise TypeError(
            f"{display} needs a fitted WassersteinSequenceEmbedder, got "
            f"{type(estimator).__name__}{wrapper_hint(estimator)}."
        )
    check_is_fitted(estimator)


def _class_colors(codes: np.ndarray, n_classes: int) -> list:
    """One colour per class: the colour cycle, or a colour map beyond ten."""
    if n_classes <= 10:
        return [f"C{code}" for code in codes]
    import matplotlib as mpl

    cmap = mpl.colormaps["tab20" if n_classes <= 20 else "turbo"]
    positions = codes / max(n_classes - 1, 1) if n_classes > 20 else codes / 20
    return [cmap(float(position)) for position in positions]


def _check_indices(
    indices: ArrayLike | None, size: int, n_default: int, name: str, what: str
) -> np.ndarray:
    """Validate integer positions into ``range(size)``; ``None``: the first few."""
    if indices is None:
        return np.arange(min(n_default, size))
    positions = np.asarray(indices)
    if positions.ndim == 0:
        positions = positions[None]
    if positions.dtype.kind == "b":  # True is an Integral: it would mean 1
        raise ValueError(
            f"{name} must be integer positions, not a boolean mask; pass "
            "np.flatnonzero(mask)."
        )
    if (
        positions.ndim != 1
        or positions.size == 0
        or not all(isinstance(i, Integral) for i in positions.tolist())
    ):
        raise ValueError(f"{name} must be a non-empty 1-D list of integers.")
    if positions.min() < -size or positions.max() >= size:
        raise ValueError(
            f"{name} must be positions in range({size}) (the {what}); got "
            f"{positions.tolist()}."
        )
    return positions % size


def _feature_name(estimator, k: int) -> str:
    """Panel title of embedding feature ``k``, naming the built-in input path."""
    n_learned = getattr(estimator, "n_features", None)
    n_channels = getattr(estimator, "n_features_in_", None)
    if (
        getattr(estimator, "user_encoder_", True)
        or not getattr(estimator, "include_input", False)
        or n_learned is None
        or n_channels is None
        or k < n_learned
    ):
        return f"feature {k}"
    # Set by fit, and by unpickling for models saved before it existed.
    lags = estimator.difference_lags_
    if estimator.n_embedding_features_ != n_learned + (1 + len(lags)) * n_channels:
        return f"feature {k}"
    lag, channel = divmod(k - n_learned, n_channels)
    if lag == 0:
        return f"feature {k} (input channel {channel})"
    if lags[lag - 1] == 1:
        return f"feature {k} (difference of input channel {channel})"
    return f"feature {k} (lag-{lags[lag - 1]} difference of input channel {channel})"
