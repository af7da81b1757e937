"""TrainingHistoryDisplay and QuantileFunctionDisplay plot what the model holds."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_wdist import (  # noqa: E402
    QuantileFunctionDisplay,
    TrainingHistoryDisplay,
    WassersteinSequenceEmbedder,
)

TINY = dict(n_features=4, hidden_channels=8, n_layers=1, n_quantiles=4, random_state=0)


def _data(n_classes=4, per_class=10):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(n_classes), per_class)
    X = rng.normal(size=(len(y), 2, 20)) * (1.0 + y[:, None, None])
    return X.astype("float32"), y


@pytest.fixture(scope="module")
def fitted():
    """Four classes: validation_split="classes" holds two out."""
    X, y = _data()
    embedder = WassersteinSequenceEmbedder(
        **TINY, max_epochs=3, early_stopping=True, validation_split="classes"
    ).fit(X, y)
    return embedder, X, y


@pytest.fixture(scope="module")
def fitted_mean():
    X, y = _data(n_classes=2, per_class=8)
    embedder = WassersteinSequenceEmbedder(
        **TINY, max_epochs=1, pooling="mean", early_stopping=False
    )
    return embedder.fit(X, y), X, y


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------- history
def test_history_plots_the_recorded_values(fitted):
    embedder, _, _ = fitted
    history = embedder.history_
    display = TrainingHistoryDisplay.from_estimator(embedder)

    assert_array_equal(display.line_.get_xdata(), history[:, "epoch"])
    assert_array_equal(display.line_.get_ydata(), history[:, "train_loss"])
    assert display.valid_line_ is not None
    assert_array_equal(display.valid_line_.get_xdata(), history[:, "epoch"])
    assert_array_equal(display.valid_line_.get_ydata(), history[:, "valid_map_at_r"])
    assert display.line_.axes is display.ax_
    assert display.valid_line_.axes is display.valid_ax_
    assert display.valid_ax_.get_shared_x_axes().joined(display.ax_, display.valid_ax_)
    assert display.figure_ is display.ax_.figure


def test_history_marks_the_best_epoch(fitted):
    embedder, _, _ = fitted
    history = embedder.history_
    scores = np.asarray(history[:, "valid_map_at_r"])
    # The latest of equal best scores: the weights early stopping keeps.
    best = int(np.flatnonzero(scores == scores.max())[-1])
    display = TrainingHistoryDisplay.from_estimator(embedder)

    assert display.best_epoch_ == history[best, "epoch"]
    assert_array_equal(display.best_marker_.get_xdata(), [history[best, "epoch"]])
    assert_array_equal(display.best_marker_.get_ydata(), [scores[best]])
    # The last epoch flagged as best by skorch is the same one.
    flags = np.asarray(history[:, "valid_map_at_r_best"])
    assert np.flatnonzero(flags)[-1] == best


def test_history_latest_maximum_is_best_and_nan_skipped():
    display = TrainingHistoryDisplay(
        epochs=[1, 2, 3, 4],
        train_loss=[1.0, 0.5, 0.4, 0.3],
        valid_score=[np.nan, 0.7, 0.7, 0.6],
    ).plot()
    # Early stopping counts a tie as a new best: it keeps epoch 3's weights.
    assert display.best_epoch_ == 3
    assert_array_equal(display.best_marker_.get_xdata(), [3])
    assert_array_equal(display.best_marker_.get_ydata(), [0.7])


def test_displays_take_levels_at_the_ends_and_decimal_values():
    from decimal import Decimal

    display = QuantileFunctionDisplay([0.0, 0.5, 1.0], np.zeros((2, 1, 3))).plot()
    assert display.lines_.shape == (2, 1)
    history = TrainingHistoryDisplay([1, 2], [Decimal("0.5"), Decimal("0.25")]).plot()
    np.testing.assert_array_equal(history.line_.get_ydata(), [0.5, 0.25])


def test_history_latest_best_is_the_highest_finite_score():
    display = TrainingHistoryDisplay(
        [1, 2, 3], [1.0, 0.5, 0.4], valid_score=[0.1, np.inf, 0.2]
    ).plot()
    assert display.best_epoch_ == 3
    # None marks an epoch without a score, as NaN does.
    display = TrainingHistoryDisplay(
        [1, 2, 3], [1.0, 0.5, 0.4], valid_score=[None, 0.5, 0.4]
    ).plot()
    assert display.best_epoch_ == 2


@pytest.mark.parametrize(
    "args, error, match",
    [
        (([1, 2], ["a", "b"]), TypeError, "train_loss must hold real numbers"),
        ((["x", "y"], [1.0, 2.0]), TypeError, "epochs must hold numbers"),
        (([1, 2], [1.0, 2.0], [0.1, "a"]), TypeError, "valid_score must hold"),
        (([1, 2], [[1.0], [2.0, 3.0]]), ValueError, "train_loss must be a regular"),
    ],
)
def test_history_refuses_values_that_are_not_numbers(args, error, match):
    with pytest.raises(error, match=match):
        TrainingHistoryDisplay(*args).plot()


def test_history_marks_the_estimators_own_best_epoch(monkeypatch):
    from sklearn_wdist import _training

    scores = iter([0.5, 0.7, 0.7, 0.6, 0.6])
    monkeypatch.setattr(_training, "retrieval_score", lambda *a, **k: next(scores))
    X, y = _data()
    embedder = WassersteinSequenceEmbedder(
        **TINY, max_epochs=10, early_stopping=True, n_iter_no_change=2
    ).fit(X, y)
    display = TrainingHistoryDisplay.from_estimator(embedder)
    assert embedder.best_epoch_ == 3
    assert display.best_epoch_ == embedder.best_epoch_
    # A later fit that holds nothing out keeps no best epoch: no marker.
    embedder.set_params(warm_start=True, early_stopping=False, max_epochs=1)
    display = TrainingHistoryDisplay.from_estimator(embedder.fit(X, y))
    assert display.valid_line_ is not None
    assert display.best_marker_ is None and display.best_epoch_ is None


@pytest.mark.parametrize("best_epoch", [0, 5, 2.0, True, "first"])
def test_history_refuses_an_unknown_best_epoch(best_epoch):
    display = TrainingHistoryDisplay(
        epochs=[1, 2, 3, 4],
        train_loss=[1.0, 0.5, 0.4, 0.3],
        valid_score=[0.2, 0.7, 0.7, 0.6],
        best_epoch=best_epoch,
    )
    with pytest.raises(ValueError, match="best_epoch"):
        display.plot()


def test_history_marks_a_given_epoch_or_none():
    kwargs = dict(
        epochs=[1, 2, 3], train_loss=[1.0, 0.5, 0.4], valid_score=[0.2, 0.7, 0.5]
    )
    display = TrainingHistoryDisplay(**kwargs, best_epoch=np.int64(3)).plot()
    assert display.best_epoch_ == 3
    assert_array_equal(display.best_marker_.get_ydata(), [0.5])
    display = TrainingHistoryDisplay(**kwargs, best_epoch=None).plot()
    assert display.best_marker_ is None and display.best_epoch_ is None


def test_history_default_and_explicit_ax(fitted):
    embedder, _, _ = fitted
    first = TrainingHistoryDisplay.from_estimator(embedder)
    second = TrainingHistoryDisplay.from_estimator(embedder)
    assert first.figure_ is not second.figure_

    fig, ax = plt.subplots()
    display = TrainingHistoryDisplay.from_estimator(embedder, ax=ax)
    assert display.ax_ is ax
    assert display.figure_ is fig
    assert display.line_ in ax.get_lines()


def test_history_kwargs_go_to_the_lines(fitted):
    embedder, _, _ = fitted
    display = TrainingHistoryDisplay.from_estimator(
        embedder,
        c="red",
        linestyle="--",
        lw=3,
        label="loss",
        valid_kwargs={"color": "green", "marker": "s"},
    )
    assert display.line_.get_color() == "red"
    assert display.line_.get_linestyle() == "--"
    assert display.line_.get_linewidth() == 3
    assert display.line_.get_label() == "loss"
    assert display.valid_line_.get_color() == "green"
    assert display.valid_line_.get_marker() == "s"


def test_history_without_validation(fitted_mean):
    embedder, _, _ = fitted_mean
    display = TrainingHistoryDisplay.from_estimator(embedder)
    assert_array_equal(display.line_.get_ydata(), embedder.history_[:, "train_loss"])
    assert display.valid_line_ is None
    assert display.valid_ax_ is None
    assert display.best_marker_ is None
    assert display.best_epoch_ is None


def test_history_constructor_and_replot():
    display = TrainingHistoryDisplay([1, 2], [0.5, 0.25])
    assert display.plot() is display
    old_ax = display.ax_
    _, ax = plt.subplots()
    display.plot(ax=ax)
    assert display.ax_ is ax is not old_ax
    assert_array_equal(display.line_.get_ydata(), [0.5, 0.25])
    with pytest.raises(ValueError, match="same length"):
        TrainingHistoryDisplay([1, 2, 3], [0.5, 0.25]).plot()
    with pytest.raises(ValueError, match="one value per epoch"):
        TrainingHistoryDisplay([1, 2], [0.5, 0.25], valid_score=[0.1]).plot()


# ------------------------------------------------------------- quantiles
def _unscaled(embedder, X):
    """Q[i, k, m], as transform gives it for exactly these sequences."""
    embeddings = embedder.transform(X)
    n_levels = len(embedder.quantile_levels_)
    return embeddings.reshape(len(embeddings), -1, n_levels) / (
        embedder.embedding_scale_
    )


def test_quantiles_plot_the_transform(fitted):
    embedder, X, _ = fitted
    # The display transforms only the sequences it plots: the values are those
    # of transform(X[:5]) exactly. transform(X) agrees up to float32 rounding
    # (the batch size changes the kernels' summation order).
    expected = _unscaled(embedder, X[:5])
    np.testing.assert_allclose(
        expected, _unscaled(embedder, X)[:5], rtol=1e-5, atol=1e-7
    )
    display = QuantileFunctionDisplay.from_estimator(embedder, X)

    # Defaults: the first five sequences, the first four features.
    assert display.lines_.shape == (5, 4)
    assert display.axes_.shape == (4,)
    assert_array_equal(display.quantiles, expected[:5, :4])
    assert_array_equal(display.quantile_levels, embedder.quantile_levels_)
    for i in range(5):
        for k in range(4):
            line = display.lines_[i, k]
            assert line.axes is display.axes_[k]
            assert_array_equal(line.get_xdata(), embedder.quantile_levels_)
            assert_array_equal(line.get_ydata(), expected[i, k])
    assert display.figure_ is display.axes_[0].figure


def test_quantiles_are_non_decreasing(fitted):
    embedder, X, _ = fitted
    features = np.arange(embedder.n_embedding_features_)
    display = QuantileFunctionDisplay.from_estimator(
        embedder, X, indices=np.arange(len(X)), features=features
    )
    for line in display.lines_.ravel():
        assert np.all(np.diff(line.get_ydata()) >= 0)


def test_quantiles_chosen_sequences_features_and_labels(fitted):
    embedder, X, y = fitted
    indices, features = [0, 11, 25, 39, -1], [5, 1]
    expected = _unscaled(embedder, X[indices])
    display = QuantileFunctionDisplay.from_estimator(
        embedder, X, indices=indices, features=features, labels=y
    )
    assert_array_equal(display.labels, y[[0, 11, 25, 39, 39]])
    assert display.lines_.shape == (5, 2)
    for row in range(len(indices)):
        for col, k in enumerate(features):
            assert_array_equal(display.lines_[row, col].get_ydata(), expected[row, k])
    # The built-in encoder's last channels are the inputs: named in the title.
    assert display.axes_[0].get_title() == "feature 5 (input channel 1)"
    assert display.axes_[1].get_title() == "feature 1"
    # Then the first differences of the input channels.
    titles = QuantileFunctionDisplay.from_estimator(embedder, X, features=[6, 7])
    assert [ax.get_title() for ax in titles.axes_] == [
        "feature 6 (difference of input channel 0)",
        "feature 7 (difference of input channel 1)",
    ]
    # One colour per label, one legend entry per label.
    colors = [line.get_color() for line in display.lines_[:, 0]]
    assert colors[3] == colors[4]
    assert len(set(colors)) == 4
    legend = display.axes_[0].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == ["0", "1", "2", "3"]


def test_quantiles_name_the_lag_of_multiscale_difference_rows():
    X, y = _data(n_classes=2, per_class=8)  # 20 steps: lags 1 and 2
    embedder = WassersteinSequenceEmbedder(
        **TINY, max_epochs=1, include_differences="multiscale"
    ).fit(X, y)
    assert embedder.difference_lags_ == (1, 2)
    display = QuantileFunctionDisplay.from_estimator(
        embedder, X, indices=[0], features=[5, 6, 9]
    )
    assert [ax.get_title() for ax in display.axes_] == [
        "feature 5 (input channel 1)",
        "feature 6 (difference of input channel 0)",
        "feature 9 (lag-2 difference of input channel 1)",
    ]


def test_quantiles_explicit_ax(fitted):
    embedder, X, _ = fitted
    fig, axes = plt.subplots(2, 2)
    display = QuantileFunctionDisplay.from_estimator(embedder, X, indices=[0], ax=axes)
    assert_array_equal(display.axes_, axes.ravel())
    assert display.figure_ is fig
    assert display.lines_[0, 3] in axes[1, 1].get_lines()

    fig, ax = plt.subplots()
    display = QuantileFunctionDisplay.from_estimator(embedder, X, features=[2], ax=ax)
    assert display.axes_[0] is ax
    assert display.lines_.shape == (5, 1)

    with pytest.raises(ValueError, match="one axes per feature"):
        QuantileFunctionDisplay.from_estimator(embedder, X, ax=ax)


def test_quantiles_kwargs_go_to_every_line(fitted):
    embedder, X, y = fitted
    display = QuantileFunctionDisplay.from_estimator(
        embedder, X, labels=y, color="black", ls=":", marker="x"
    )
    for line in display.lines_.ravel():
        assert line.get_color() == "black"
        assert line.get_linestyle() == ":"
        assert line.get_marker() == "x"


def test_quantiles_constructor():
    levels = np.array([0.25, 0.75])
    quantiles = np.array([[[0.0, 1.0]], [[2.0, 3.0]]])
    display = QuantileFunctionDisplay(levels, quantiles, feature_names=["f"]).plot()
    assert_array_equal(display.lines_[1, 0].get_ydata(), [2.0, 3.0])
    assert display.axes_[0].get_title() == "f"
    with pytest.raises(ValueError, match="n_quantiles"):
        QuantileFunctionDisplay(levels[:1], quantiles).plot()
    with pytest.raises(ValueError, match="labels"):
        QuantileFunctionDisplay(levels, quantiles, labels=[0]).plot()


@pytest.mark.parametrize(
    "levels, quantiles, names, error, match",
    [
        ([0.75, 0.25], np.zeros((1, 1, 2)), None, ValueError, "increasing"),
        ([-1.0, 5.0], np.zeros((1, 1, 2)), None, ValueError, r"in \[0, 1\]"),
        ([0.25, 0.75], np.full((1, 1, 2), "a"), None, TypeError, "quantiles must"),
        ([0.25, 0.75], [[[1, 2]], [[1]]], None, ValueError, "quantiles must be"),
        ([0.25, 0.75], np.zeros((1, 2, 2)), "ab", TypeError, "feature_names"),
    ],
)
def test_quantiles_constructor_refuses_bad_values(
    levels, quantiles, names, error, match
):
    display = QuantileFunctionDisplay(levels, quantiles, feature_names=names)
    with pytest.raises(error, match=match):
        display.plot()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"indices": [40]}, "indices"),
        ({"indices": []}, "indices"),
        ({"indices": [0.5]}, "indices"),
        ({"features": [10]}, "features"),  # 4 + 2 * 3 rows (lags 1 and 2)
        ({"labels": [0, 1]}, "labels"),
    ],
)
def test_quantiles_bad_arguments(fitted, kwargs, match):
    embedder, X, _ = fitted
    with pytest.raises(ValueError, match=match):
        QuantileFunctionDisplay.from_estimator(embedder, X, **kwargs)


def test_quantiles_refuse_what_transform_refuses(as_pd_multiindex):
    # The display read a frame's channels by position and its labels by
    # position whatever their index: swapped channels and a reversed label
    # Series were plotted silently.
    pd = pytest.importorskip("pandas")
    X, y = _data()
    names = [f"rec{i}" for i in range(len(X))]
    frame = as_pd_multiindex(X, names, columns=["u", "v"])
    labels = pd.Series(y, index=names)
    embedder = WassersteinSequenceEmbedder(**TINY, max_epochs=1).fit(frame, labels)
    with pytest.raises(ValueError, match=r"channels \['v', 'u'\]"):
        QuantileFunctionDisplay.from_estimator(embedder, frame[["v", "u"]])
    with pytest.raises(ValueError, match="labels is indexed by the sequences of X"):
        QuantileFunctionDisplay.from_estimator(
            embedder, frame, indices=[0, 1], labels=labels.iloc[::-1]
        )
    display = QuantileFunctionDisplay.from_estimator(
        embedder, frame, indices=[0, 11], labels=labels
    )
    assert [line.get_label() for line in display.lines_[:, 0]] == ["0", "1"]


def test_mean_pooling_is_refused(fitted_mean):
    embedder, X, _ = fitted_mean
    with pytest.raises(ValueError, match="pooling='mean'"):
        QuantileFunctionDisplay.from_estimator(embedder, X)


@pytest.mark.parametrize("display", [TrainingHistoryDisplay, QuantileFunctionDisplay])
def test_unfitted_estimator(display):
    X, _ = _data(n_classes=2, per_class=2)
    embedder = WassersteinSequenceEmbedder(**TINY)
    args = () if display is TrainingHistoryDisplay else (X,)
    with pytest.raises(NotFittedError):
        display.from_estimator(embedder, *args)


def test_quantile_display_reads_x_as_transform_does(fitted):
    import pandas as pd

    embedder, X, y = fitted
    # A pd-multiindex frame has one row per step: 40 sequences, 800 rows.
    frame = pd.concat(
        [
            pd.DataFrame(x.T, index=pd.MultiIndex.from_product([[i], range(20)]))
            for i, x in enumerate(X)
        ]
    )
    expected = QuantileFunctionDisplay.from_estimator(
        embedder, X, indices=[0, 9], labels=y
    )
    display = QuantileFunctionDisplay.from_estimator(
        embedder, frame, indices=[0, 9], labels=y
    )
    np.testing.assert_allclose(display.quantiles, expected.quantiles, rtol=1e-6)
    assert_array_equal(display.labels, expected.labels)


@pytest.mark.parametrize("argument", ["indices", "features"])
def test_quantile_display_refuses_boolean_masks(fitted, argument):
    embedder, X, _ = fitted
    mask = np.zeros(len(X) if argument == "indices" else 4, dtype=bool)
    mask[[1, 3]] = True
    with pytest.raises(ValueError, match=f"{argument} must be integer positions"):
        QuantileFunctionDisplay.from_estimator(embedder, X, **{argument: mask})


def test_quantile_display_reads_embeddings_whatever_the_output_setting(fitted):
    embedder, X, _ = fitted
    expected = QuantileFunctionDisplay.from_estimator(embedder, X).quantiles
    embedder.set_output(transform="pandas")
    try:
        got = QuantileFunctionDisplay.from_estimator(embedder, X).quantiles
    finally:
        embedder.set_output(transform="default")
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("display", ["quantiles", "history"])
def test_displays_point_wrappers_to_their_embedder(fitted, display):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from sklearn_wdist.aeon import WassersteinEmbeddingTransformer

    embedder, X, _ = fitted
    pipeline = make_pipeline(embedder, FunctionTransformer())
    for wrapper, hint in (
        (WassersteinEmbeddingTransformer(), "embedder_"),
        (pipeline, r"pipeline\[0\]"),
    ):
        with pytest.raises(TypeError, match=hint):
            if display == "quantiles":
                QuantileFunctionDisplay.from_estimator(wrapper, X)
            else:
                TrainingHistoryDisplay.from_estimator(wrapper)


def test_history_display_reads_any_fitted_estimator_with_a_history(fitted):
    embedder, _, _ = fitted
    display = TrainingHistoryDisplay.from_estimator(embedder.net_)  # skorch net
    np.testing.assert_array_equal(
        display.line_.get_xdata(), np.arange(1, len(embedder.history_) + 1)
    )


def test_refused_labels_leave_no_figure_open():
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    display = QuantileFunctionDisplay([0.25, 0.75], np.zeros((3, 1, 2)), labels=[1, 2])
    with pytest.raises(ValueError, match="labels"):
        display.plot()
    assert len(plt.get_fignums()) == before


def test_more_than_ten_classes_get_distinct_colours():
    import matplotlib.colors as mcolors

    labels = np.arange(12)
    display = QuantileFunctionDisplay(
        [0.25, 0.75], np.zeros((12, 1, 2)), labels=labels
    ).plot()
    colors = {mcolors.to_hex(line.get_color()) for line in display.lines_[:, 0]}
    assert len(colors) == 12


def test_quantile_display_labels_follow_the_label_policy(fitted):
    embedder, X, _ = fitted
    labels = [1, "1"] + [0] * (len(X) - 2)
    display = QuantileFunctionDisplay.from_estimator(
        embedder, X, indices=[0, 1], labels=labels
    )
    # 1 and "1" are two classes: two colours, two legend entries that tell
    # them apart.
    colors = [line.get_color() for line in display.lines_[:, 0]]
    assert colors[0] != colors[1]
    legend = [text.get_text() for text in display.axes_[0].get_legend().get_texts()]
    assert sorted(legend) == ["'1'", "1"]
    with pytest.raises(ValueError, match=r"labels\[1\] is None"):
        QuantileFunctionDisplay.from_estimator(
            embedder, X, indices=[0, 1], labels=["a", None] + ["a"] * (len(X) - 2)
        )
