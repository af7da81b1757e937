"""Inputs and situations real users bring: every case a clear error or a right answer.

One section per failure class: interrupts, precision, non-finite models, label
identity, layouts and containers, threads and processes, units, unfitted use,
and unclear parameters. References are independent of the code under test
(NumPy arithmetic, serial runs, scikit-learn's own errors).
"""

import os
import signal
import threading
import time
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import torch
from joblib import Parallel, delayed
from scipy.spatial.distance import cdist
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback, EarlyStopping
from torch import nn

from sklearn_wdist import (
    WassersteinDistanceTransformer,
    WassersteinSequenceEmbedder,
    _training,
    check_precomputed_distances,
    check_sequences,
    distances_to_affinity,
    from_tslearn,
    pairwise_wasserstein,
    pairwise_wasserstein_chunked,
)
from sklearn_wdist._training import torch_threads
from sklearn_wdist.metrics import mean_average_precision_at_r, precision_at_1
from sklearn_wdist.nn import (
    MetricLearningLoss,
    QuantileWassersteinDistance,
    WassersteinTripletLoss,
)

TINY = dict(n_features=4, hidden_channels=8, n_layers=1, n_quantiles=4, max_epochs=3)


def _data(seed=0, n_per_class=8, length=20, n_channels=2):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], n_per_class)
    X = rng.normal(size=(len(y), n_channels, length))
    X[y == 1] *= 2.5
    X[y == 2] += 1.5
    return X, y


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)


def _snapshot(model, X):
    return model.net_, model.transform(X), len(model.history_)


def _assert_unchanged(model, X, snapshot):
    net, embeddings, n_epochs = snapshot
    assert model.net_ is net
    assert len(model.history_) == n_epochs
    np.testing.assert_array_equal(model.transform(X), embeddings)


# --------------------------------------------------------------------------- #
# 1. Interrupts: the interrupt propagates, the previous fitted state is untouched
# --------------------------------------------------------------------------- #
class InterruptAt(Callback):
    def __init__(self, hook, epoch=2):
        self.hook = hook
        self.epoch = epoch

    def _maybe(self, net):
        if len(net.history) >= self.epoch:
            raise KeyboardInterrupt

    def on_batch_end(self, net, **kwargs):
        if self.hook == "batch":
            self._maybe(net)

    def on_epoch_end(self, net, **kwargs):
        if self.hook == "epoch":
            self._maybe(net)


class SigintAt(Callback):
    """Send a real SIGINT to this process in the middle of an epoch."""

    def __init__(self, wait=2.0):
        self.wait = wait

    def on_batch_end(self, net, **kwargs):
        if len(net.history) >= 2:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(self.wait)  # the signal arrives while we wait


@pytest.mark.parametrize("hook", ["batch", "epoch"])
def test_interrupt_from_a_callback_propagates_and_keeps_the_previous_model(data, hook):
    X, y = data
    model = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)
    snapshot = _snapshot(model, X)
    model.set_params(callbacks=[InterruptAt(hook)], max_epochs=6, random_state=1)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    _assert_unchanged(model, X, snapshot)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers can only be installed from the main thread",
)
def test_real_sigint_propagates_and_keeps_the_previous_model(data):
    X, y = data
    model = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)
    snapshot = _snapshot(model, X)
    # Python's own Ctrl-C handler, whatever the test runner inherited: a shell
    # without job control starts background jobs with SIGINT ignored (and an
    # ignored SIGINT is rightly left ignored by fit, see the next test).
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        model.set_params(callbacks=[SigintAt()], max_epochs=6)
        with pytest.raises(KeyboardInterrupt):
            model.fit(X, y)
        _assert_unchanged(model, X, snapshot)
        # The caller's handler is back in place.
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers can only be installed from the main thread",
)
def test_ignored_sigint_stays_ignored_during_fit(data):
    X, y = data
    inherited = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        model = WassersteinSequenceEmbedder(
            **{**TINY, "max_epochs": 3}, callbacks=[SigintAt(wait=0.2)], random_state=0
        )
        model.fit(X, y)  # the SIGINTs sent by the callback change nothing
        assert len(model.history_) == 3
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, inherited)


class RecordConstant(Callback):
    def on_epoch_end(self, net, **kwargs):
        net.history.record("constant", 1.0)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers can only be installed from the main thread",
)
@pytest.mark.parametrize("inherited", ["ignore", "handled"])
def test_a_sigint_that_does_not_interrupt_leaves_early_stopping_alone(data, inherited):
    # The SIGINT was counted whatever the inherited handler did: early
    # stopping after it was taken for a Ctrl-C and fit discarded the model.
    X, y = data
    received = []
    handler = signal.SIG_IGN if inherited == "ignore" else received.append
    before = signal.signal(signal.SIGINT, lambda signum, frame: handler(signum))
    if inherited == "ignore":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        stop = EarlyStopping(monitor="constant", patience=1, sink=lambda *a, **k: None)
        model = WassersteinSequenceEmbedder(
            **{**TINY, "max_epochs": 10},
            callbacks=[SigintAt(wait=0.2), RecordConstant(), stop],
            random_state=0,
        ).fit(X, y)
        assert len(model.history_) == 2  # one best epoch, then patience 1
        assert np.isfinite(model.transform(X)).all()
        # The callback signals at every batch end from the second epoch on.
        assert (len(received) > 0) == (inherited == "handled")
    finally:
        signal.signal(signal.SIGINT, before)


def test_interrupted_first_fit_leaves_the_estimator_unfitted(data):
    X, y = data
    model = WassersteinSequenceEmbedder(**TINY, callbacks=[InterruptAt("batch", 1)])
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        model.transform(X)


def test_interrupt_during_early_stopping_validation_still_propagates(data):
    X, y = _data(n_per_class=10)
    model = WassersteinSequenceEmbedder(
        **TINY,
        early_stopping=True,
        validation_fraction=0.3,
        callbacks=[InterruptAt("epoch", 1)],
    )
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    assert not hasattr(model, "net_")


def test_skorch_early_stopping_still_ends_training_normally(data):
    X, y = data

    class Constant(Callback):
        def on_epoch_end(self, net, **kwargs):
            net.history.record("constant", 1.0)

    stop = EarlyStopping(monitor="constant", patience=2, sink=lambda *a, **k: None)
    model = WassersteinSequenceEmbedder(
        **{**TINY, "max_epochs": 20}, callbacks=[Constant(), stop], random_state=0
    ).fit(X, y)
    assert len(model.history_) == 3  # one best epoch, then patience 2
    assert np.isfinite(model.transform(X)).all()


@pytest.mark.parametrize(
    ("scores", "best_epoch"),
    [([0.5, 0.7, 0.6, 0.6, 0.9], 2), ([0.5, 0.7, 0.7, 0.6, 0.6, 0.9], 3)],
    ids=["declining", "tie-keeps-later"],
)
def test_builtin_early_stopping_keeps_the_best_weights(
    data, monkeypatch, scores, best_epoch
):
    X, y = _data(n_per_class=10)
    settings = dict(
        **{**TINY, "max_epochs": 40},
        early_stopping=True,
        n_iter_no_change=2,
        validation_fraction=0.3,
        random_state=0,
    )

    def scripted(values):
        remaining = iter(values)
        return lambda *args, **kwargs: next(remaining)

    monkeypatch.setattr(_training, "retrieval_score", scripted(scores))
    model = WassersteinSequenceEmbedder(**settings).fit(X, y)
    # Stopped after patience 2 past the best epoch (a tie is a new best).
    assert len(model.history_) == best_epoch + 2
    assert model.history_[:, "valid_map_at_r"] == scores[: best_epoch + 2]
    # The same, as scikit-learn-style attributes (epochs counted from 1).
    assert model.n_iter_ == best_epoch + 2
    np.testing.assert_array_equal(model.validation_scores_, scores[: best_epoch + 2])
    assert model.best_epoch_ == best_epoch
    assert model.best_validation_score_ == scores[best_epoch - 1]
    # The weights kept are those of the best epoch: a fit that ends there.
    monkeypatch.setattr(_training, "retrieval_score", scripted(scores))
    reference = WassersteinSequenceEmbedder(
        **{**settings, "max_epochs": best_epoch}
    ).fit(X, y)
    np.testing.assert_array_equal(model.transform(X), reference.transform(X))


@pytest.mark.parametrize("early_stopping", [True, "auto"])
def test_early_stopping_with_no_epoch_to_run(data, early_stopping):
    X, y = _data(n_per_class=10)
    model = WassersteinSequenceEmbedder(
        **{**TINY, "max_epochs": 0},
        early_stopping=early_stopping,
        validation_fraction=0.3,
        random_state=0,
    ).fit(X, y)
    assert len(model.history_) == 0
    assert np.isfinite(model.transform(X)).all()
    assert model.n_iter_ == 0
    assert model.validation_scores_ is None
    assert model.best_epoch_ is None and model.best_validation_score_ is None


# --------------------------------------------------------------------------- #
# 2. Precision: centre and whiten in float64, cast last
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("offset", [1e6, 1e8, -3e9])
@pytest.mark.parametrize("input_whitening", ["auto", None])
def test_large_offsets_keep_the_signal(data, offset, input_whitening):
    X, y = data
    plain = WassersteinSequenceEmbedder(
        **TINY, input_whitening=input_whitening, random_state=0
    ).fit(X, y)
    shifted = WassersteinSequenceEmbedder(
        **TINY, input_whitening=input_whitening, random_state=0
    ).fit(X + offset, y)
    # What the encoder sees: the centred signal, to float32 precision. A cast to
    # float32 first would have left steps of 8 (at 1e8) to 256 (at 3e9).
    for a, b in zip(
        plain._network_input(X), shifted._network_input(X + offset), strict=True
    ):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(
        shifted.whitening_mean_, plain.whitening_mean_ + offset, rtol=1e-12
    )
    # Both models learn from the same inputs up to rounding.
    np.testing.assert_allclose(
        plain.transform(X), shifted.transform(X + offset), atol=0.05
    )


# The classes are far apart in float64 units, so nothing trains (and fit says
# so); this test is about the input before the encoder.
@pytest.mark.filterwarnings("ignore:The training loss was 0:UserWarning")
def test_float64_input_is_not_rounded_before_centring():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 6)
    # Classes differ by 1e-3 on an offset of 1e5: invisible in float32
    # (spacing 0.0078 there), plain in float64.
    X = 1e5 + rng.normal(scale=1e-4, size=(12, 1, 30))
    X[y == 1] += 1e-3
    model = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)
    inputs = model._network_input(X)
    means = np.array([s.mean() for s in inputs])
    assert means[y == 1].min() > means[y == 0].max()


def test_values_beyond_float32_are_rejected_naming_the_sequence(data):
    X, y = data
    big = X.copy()
    big[3, 0, 0] = 1e39
    with pytest.raises(ValueError, match=r"X\[3\] has values beyond the float32"):
        WassersteinSequenceEmbedder(**TINY).fit(big, y)


def test_user_encoder_without_whitening_gets_values_unchanged(data):
    X, y = data
    model = WassersteinSequenceEmbedder(
        encoder=nn.Conv1d(2, 3, 3), n_quantiles=4, max_epochs=1, random_state=0
    ).fit(X, y)
    assert model.whitening_mean_ is None
    np.testing.assert_array_equal(model._network_input(X)[0], X[0].astype("float32"))


# --------------------------------------------------------------------------- #
# 3. Non-finite models: FloatingPointError, previous model kept
# --------------------------------------------------------------------------- #
class Overflow(nn.Module):
    """Finite weights whose output overflows float32 for inputs above ~1e13."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 3, 1)

    def forward(self, x):
        return self.conv(x) * x[:, :1] ** 2


class PoisonWeights(Callback):
    """Make the last optimiser step diverge: a NaN weight after the last batch."""

    def __init__(self, target="weight"):
        self.target = target

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == net.max_epochs:
            encoder = net.module_.encoder
            with torch.no_grad():
                if self.target == "weight":
                    encoder.head.weight[0, 0] = float("nan")
                else:
                    norm = next(
                        m
                        for m in encoder.modules()
                        if getattr(m, "running_var", None) is not None
                        and m is not encoder.input_norm
                    )
                    norm.running_var[0] = float("inf")


@pytest.mark.parametrize("target", ["weight", "buffer"])
def test_non_finite_weights_after_training_raise_and_keep_the_model(data, target):
    X, y = data
    model = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)
    snapshot = _snapshot(model, X)
    model.set_params(callbacks=[PoisonWeights(target)])
    with pytest.raises(FloatingPointError, match="NaN or infinity in the model"):
        model.fit(X, y)
    _assert_unchanged(model, X, snapshot)


def test_activations_that_overflow_on_training_data_raise(data):
    X, y = data
    model = WassersteinSequenceEmbedder(
        encoder=Overflow(), n_quantiles=4, max_epochs=1, random_state=0
    )
    with pytest.raises(FloatingPointError):
        model.fit(X * 1e17, y)
    assert not hasattr(model, "net_")


def test_huge_inputs_without_whitening_raise_instead_of_returning_nan(data):
    X, y = data
    model = WassersteinSequenceEmbedder(
        **TINY, input_whitening=None, random_state=0
    ).fit(X, y)
    snapshot = _snapshot(model, X)
    with pytest.raises(FloatingPointError):
        WassersteinSequenceEmbedder(**TINY, input_whitening=None).fit(X * 1e37, y)
    _assert_unchanged(model, X, snapshot)


def test_transform_output_that_overflows_raises(data):
    X, y = data
    model = WassersteinSequenceEmbedder(
        encoder=Overflow(), n_quantiles=4, max_epochs=1, random_state=0
    ).fit(X, y)
    assert np.isfinite(model.transform(X)).all()
    with pytest.raises(FloatingPointError, match="overflowed"):
        model.transform(X * 1e17)
    with pytest.raises(FloatingPointError, match="overflowed"):
        model.step_features(X[:2] * 1e17)


class LogOfShifted(nn.Module):
    """NaN features at any step whose first channel is below -3."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 3, 1)

    def forward(self, x):
        return self.conv(x) * torch.log(x[:, :1] + 3.0)


def test_a_nan_feature_at_one_step_is_reported_not_dropped(data):
    # Sorting puts NaN after everything, so the quantiles used to skip it.
    X, y = data
    X = np.clip(np.asarray(X), -2.0, None)
    model = WassersteinSequenceEmbedder(
        encoder=LogOfShifted(), n_quantiles=4, max_epochs=1, random_state=0
    ).fit(X, y)
    poisoned = X.copy()
    poisoned[1, 0, 3] = -4.0  # one step of one sequence
    with pytest.raises(FloatingPointError):
        model.transform(poisoned)
    with pytest.raises(FloatingPointError):
        WassersteinSequenceEmbedder(
            encoder=LogOfShifted(), n_quantiles=4, max_epochs=1, random_state=0
        ).fit(poisoned, y)


def test_lr_overflowing_float32_is_rejected_before_training(data):
    X, y = data
    with pytest.raises(ValueError, match="lr=1e\\+300 cannot be used"):
        WassersteinSequenceEmbedder(**TINY, lr=1e300).fit(X, y)


# --------------------------------------------------------------------------- #
# 4. Label identity: one policy everywhere
# --------------------------------------------------------------------------- #
def _mixed_labels(y):
    names = {0: 1, 1: "1", 2: 2.5}
    return [names[int(v)] for v in y]


def test_one_and_string_one_are_two_classes_in_fit(data):
    X, y = data
    model = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, _mixed_labels(y))
    assert len(model.classes_) == 3
    assert {repr(c) for c in model.classes_} == {"1", "'1'", "2.5"}


@pytest.mark.parametrize("container", [list, tuple, np.array, pd.Series])
def test_score_treats_mixed_labels_like_fit(fitted, data, container):
    X, y = data
    labels = _mixed_labels(y)
    if container is np.array:
        labels = np.array(labels, dtype=object)
    else:
        labels = container(labels)
    assert fitted.score(X, labels) == fitted.score(X, y)


@pytest.mark.parametrize(
    "function", [mean_average_precision_at_r, precision_at_1], ids=lambda f: f.__name__
)
def test_metrics_treat_mixed_labels_like_fit(data, function):
    X, y = data
    D = np.abs(X.mean(axis=(1, 2))[:, None] - X.mean(axis=(1, 2))[None, :])
    assert function(D, _mixed_labels(y)) == function(D, y)
    # 1 and "1" stay apart: merging them, as a common string dtype would,
    # changes the score.
    merged = [str(v) for v in _mixed_labels(y)]
    assert function(D, merged) != function(D, y)


@pytest.mark.parametrize(
    "bad",
    [
        lambda y: [None, *list(y[1:])],
        lambda y: np.r_[np.nan, y[1:].astype(float)],
        lambda y: [float("nan"), *list(y[1:])],
        lambda y: pd.Series(["a"] * (len(y) - 1) + [pd.NA], dtype="string"),
        # Infinity is refused from a list as from an array.
        lambda y: [float("inf"), *list(y[1:].astype(float))],
        lambda y: np.r_[np.inf, y[1:].astype(float)],
        # Values unequal to themselves would each make a class of their own.
        lambda y: np.array([np.datetime64("NaT"), *list(y[1:])], dtype=object),
        lambda y: [complex("nan"), *list(y[1:])],
        lambda y: [Decimal("NaN"), *list(y[1:])],
        lambda y: [Decimal("sNaN"), *list(y[1:])],
    ],
    ids=[
        "None",
        "nan-array",
        "nan-list",
        "pandas-NA",
        "inf-list",
        "inf-array",
        "NaT-object",
        "complex-nan",
        "decimal-nan",
        "decimal-snan",
    ],
)
def test_missing_labels_are_rejected_naming_y(data, bad):
    X, y = data
    with pytest.raises(ValueError, match=r"y"):
        WassersteinSequenceEmbedder(**TINY).fit(X, bad(y))


def test_missing_labels_are_rejected_by_score_and_metrics(fitted, data):
    X, y = data
    labels = [None, *list(y[1:])]
    with pytest.raises(ValueError, match=r"y\[0\] is None"):
        fitted.score(X, labels)
    with pytest.raises(ValueError, match=r"labels\[0\] is None"):
        mean_average_precision_at_r(np.ones((len(y), len(y))) - np.eye(len(y)), labels)


def test_unhashable_labels_are_a_type_error(data):
    X, y = data
    labels = [{"class": int(v)} for v in y]
    with pytest.raises(TypeError, match="not hashable"):
        WassersteinSequenceEmbedder(**TINY).fit(X, labels)


def test_categorical_labels_work(data):
    X, y = data
    labels = pd.Categorical(np.array(["a", "b", "c"])[y])
    model = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, labels)
    assert list(model.classes_) == ["a", "b", "c"]


# --------------------------------------------------------------------------- #
# 5. Layouts and containers
# --------------------------------------------------------------------------- #
def test_channels_last_array_warns_naming_from_tslearn(fitted):
    X = np.random.default_rng(0).normal(size=(24, 20, 2))  # tslearn layout
    with pytest.warns(UserWarning, match="from_tslearn"):
        WassersteinSequenceEmbedder(**TINY).fit(X, np.repeat([0, 1, 2], 8))


def test_a_model_of_many_channels_does_not_warn_at_every_short_window():
    # Fitted on 30 channels, every transform of windows shorter than 30
    # steps warned that the data might be channels-last.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 30, 40))
    y = np.repeat([0, 1], 6)
    model = WassersteinSequenceEmbedder(**TINY).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.transform(X[:, :, :10])
        model.transform(list(X[:, :, :10]))
    # Windows of 60 steps stored channels-last show 60 "channels": warned.
    long_windows = rng.normal(size=(4, 60, 30))
    with pytest.warns(UserWarning, match="from_tslearn"), pytest.raises(ValueError):
        model.transform(long_windows)


def test_channels_first_array_does_not_warn(fitted, data):
    X, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted.transform(X)


def test_from_tslearn_reads_the_channels_last_layout(fitted, data):
    X, _ = data
    np.testing.assert_array_equal(
        fitted.transform(from_tslearn(X.transpose(0, 2, 1))), fitted.transform(X)
    )


class ReluInPlace(nn.Module):
    """A user encoder that takes the lengths and writes to its input."""

    accepts_lengths = True

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 3, 1)

    def forward(self, x, lengths):
        return self.conv(torch.relu_(x))


def test_an_encoder_writing_to_its_input_never_changes_the_callers_arrays(data):
    X, y = data
    X = np.asarray(X, dtype=np.float32)  # passed on without a copy
    before = X.copy()
    model = WassersteinSequenceEmbedder(
        encoder=ReluInPlace(), n_quantiles=4, max_epochs=1, random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(X, before)
    X.flags.writeable = False
    model.transform(X)
    model.step_features(list(X[:3]))
    np.testing.assert_array_equal(X, before)


class StridedWithLengths(nn.Module):
    """A user encoder that halves the time axis but claims to honour lengths."""

    accepts_lengths = True

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 3, 2, stride=2)

    def forward(self, x, lengths):
        return self.conv(x)


@pytest.mark.parametrize("pooling", ["mean", "quantile"])
def test_an_encoder_with_lengths_must_keep_the_time_axis(data, pooling):
    # Its output went to pooling with the input's lengths: wrong means with
    # mean pooling, an index error with quantile pooling.
    X, y = data
    model = WassersteinSequenceEmbedder(
        encoder=StridedWithLengths(), pooling=pooling, max_epochs=1, random_state=0
    )
    with pytest.raises(ValueError, match="must keep the batch and time axes"):
        model.fit(X, y)


def test_pooling_refuses_lengths_beyond_the_time_axis():
    from sklearn_wdist.nn import mean_pooling, quantile_pooling

    features = torch.ones(1, 1, 3)
    for lengths in ([5], [0]):
        with pytest.raises(ValueError, match=r"lengths must lie in 1\.\.3"):
            mean_pooling(features, torch.tensor(lengths))
        with pytest.raises(ValueError, match=r"lengths must lie in 1\.\.3"):
            quantile_pooling(features, torch.tensor(lengths), 4)


def test_feature_names_out_checks_the_input_names():
    index = pd.MultiIndex.from_product([range(6), range(10)])
    frame = pd.DataFrame(
        np.random.default_rng(0).normal(size=(60, 2)), index=index, columns=["a", "b"]
    )
    model = WassersteinSequenceEmbedder(**TINY).fit(frame, np.repeat([0, 1], 3))
    names = model.get_feature_names_out()
    np.testing.assert_array_equal(model.get_feature_names_out(["a", "b"]), names)
    with pytest.raises(ValueError, match="input_features is not equal"):
        model.get_feature_names_out(["x", "y"])


def _nested_univ(X):
    return pd.DataFrame(
        {f"dim_{c}": [pd.Series(x[c]) for x in X] for c in range(np.shape(X[0])[0])}
    )


def _multiindex(X):
    frames = []
    for i, x in enumerate(X):
        index = pd.MultiIndex.from_product([[i], range(x.shape[1])])
        frames.append(pd.DataFrame(x.T, index=index))
    return pd.concat(frames)


def test_sktime_nested_univ_equals_the_array(fitted, data):
    X, _ = data
    np.testing.assert_array_equal(
        fitted.transform(_nested_univ(X)), fitted.transform(X)
    )


def test_sktime_pd_multiindex_equals_the_array(fitted, data):
    X, _ = data
    np.testing.assert_array_equal(fitted.transform(_multiindex(X)), fitted.transform(X))


@pytest.mark.parametrize("layout", ["pd-multiindex", "nested_univ", "series"])
def test_labels_indexed_by_the_instances_in_another_order_are_refused(
    fitted, data, layout
):
    # Labels are matched by position: a Series indexed by the frame's own
    # instances, in another order, paired every sequence with another's label.
    X, y = data
    frame = {
        "pd-multiindex": _multiindex,
        "nested_univ": _nested_univ,
        "series": lambda X: pd.Series(list(X)),
    }[layout](X)
    labels = pd.Series(y, index=range(len(y)))
    shuffled = labels.iloc[::-1]
    with pytest.raises(ValueError, match="indexed by the sequences of X, but in"):
        WassersteinSequenceEmbedder(**TINY).fit(frame, shuffled)
    with pytest.raises(ValueError, match="indexed by the sequences of X, but in"):
        fitted.score(frame, shuffled)
    # In X's order, or with an index of their own, labels go by position.
    assert np.isfinite(fitted.score(frame, labels))
    assert np.isfinite(fitted.score(frame, shuffled.reset_index(drop=True)))
    # pandas' default index says nothing, even when the instances are 0..n-1
    # in another order.
    renamed = (
        frame.rename(index=dict(enumerate(np.arange(len(y))[::-1])), level=0)
        if layout == "pd-multiindex"
        else frame.set_axis(np.arange(len(y))[::-1], axis=0)
    )
    assert np.isfinite(fitted.score(renamed, pd.Series(y)))


def test_unequal_length_pd_multiindex_keeps_each_sequence(fitted, data):
    X, _ = data
    ragged = [x[:, : 10 + i % 5] for i, x in enumerate(X)]
    frame = _multiindex(ragged).sample(frac=1.0, random_state=0).sort_index(level=0)
    np.testing.assert_array_equal(fitted.transform(frame), fitted.transform(ragged))


def test_pd_multiindex_rows_out_of_time_order_are_read_in_time_order(fitted, data):
    # Long-format rows (from a database, a shuffle, a merge) need not be
    # sorted: the time level orders each sequence's steps, not the row order.
    X, _ = data
    ragged = [x[:, : 10 + i % 5] for i, x in enumerate(X)]
    frame = _multiindex(ragged)
    frame.index = frame.index.set_levels(frame.index.levels[1] * 0.5, level=1)
    shuffled = frame.sample(frac=1.0, random_state=0)
    assert not shuffled.index.is_monotonic_increasing
    # Sequences come in the order in which their instances first appear.
    first_seen = shuffled.index.get_level_values(0).unique()
    assert list(first_seen) != sorted(first_seen)
    expected = [ragged[i] for i in first_seen]
    np.testing.assert_array_equal(
        fitted.transform(shuffled), fitted.transform(expected)
    )
    for got, want in zip(check_sequences(shuffled), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_pd_multiindex_with_a_repeated_or_missing_time_is_rejected(fitted, data):
    X, _ = data
    frame = _multiindex(X[:3])
    repeated = pd.concat([frame, frame.iloc[[25]]])
    with pytest.raises(ValueError, match=r"two rows for instance 1 at time 5;"):
        fitted.transform(repeated)
    times = frame.index.get_level_values(1).to_numpy(dtype=float)
    times[7] = np.nan
    frame.index = pd.MultiIndex.from_arrays([frame.index.get_level_values(0), times])
    with pytest.raises(ValueError, match=r"missing time index value at row 7"):
        fitted.transform(frame)


def _one_sequence_with_times(times):
    index = pd.MultiIndex.from_arrays([[0, 0, 0], times])
    return pd.DataFrame({"a": [10.0, 20.0, 30.0]}, index=index)


def test_categorical_time_levels_follow_their_values_not_their_codes():
    # Categories [3, 1, 2]: sorting by code put time 3 first.
    frame = _one_sequence_with_times(pd.Categorical([1, 2, 3], categories=[3, 1, 2]))
    np.testing.assert_array_equal(check_sequences(frame)[0], [[10.0, 20.0, 30.0]])


def test_a_text_time_among_numbers_is_refused():
    frame = _one_sequence_with_times(pd.Index([10, "2", 3], dtype=object))
    with pytest.raises(TypeError, match="time index values that are strings"):
        check_sequences(frame)


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "boolean"])
def test_pandas_missing_values_are_reported_as_missing(dtype):
    values = [1, pd.NA, 1, 0] if dtype != "boolean" else [True, pd.NA, True, False]
    frame = pd.DataFrame({"a": values, "b": values}, dtype=dtype).T  # 2 sequences
    with pytest.raises(ValueError, match="contains NaN"):
        check_sequences(frame)
    square = pd.DataFrame([[0, 1], [1, pd.NA]], dtype="Float64")
    with pytest.raises(ValueError, match="NaN or infinity"):
        check_precomputed_distances(square)


@pytest.mark.parametrize(
    "X", [(np.ones((2, 3)) for _ in range(2)), map(np.ones, [(2, 3)]), set()]
)
def test_one_shot_iterators_and_sets_are_refused_with_a_hint(X):
    with pytest.raises(TypeError, match=r"pass a list \(e.g. list\(X\)\)"):
        check_sequences(X)


def test_the_expected_channel_count_and_squareness_are_checked():
    with pytest.raises(TypeError, match="n_channels must be an int"):
        check_sequences([np.ones((1, 3))], n_channels="1")
    with pytest.raises(TypeError, match="square must be True, False or None"):
        check_precomputed_distances([[0.0, 1.0], [1.0, 0.0]], square="no")


def test_a_column_named_toarray_is_no_sparse_matrix():
    index = pd.MultiIndex.from_arrays([[0, 0, 1, 1], [0, 1, 0, 1]])
    frame = pd.DataFrame({"toarray": [1.0, 2.0, 3.0, 4.0]}, index=index)
    sequences = check_sequences(frame)
    np.testing.assert_array_equal(sequences[1], [[3.0, 4.0]])


def test_pd_multiindex_times_as_text_are_refused_not_sorted_as_text(fitted, data):
    # "10" sorts before "2": read as text, the steps came out of time order.
    X, _ = data
    frame = _multiindex(X[:3])
    times = frame.index.get_level_values(1).astype(str)
    frame.index = pd.MultiIndex.from_arrays([frame.index.get_level_values(0), times])
    with pytest.raises(TypeError, match=r"time index values that are strings"):
        fitted.transform(frame)
    categorical = frame.copy()
    categorical.index = pd.MultiIndex.from_arrays(
        [frame.index.get_level_values(0), pd.Categorical(times)]
    )
    with pytest.raises(TypeError, match=r"time index values that are strings"):
        fitted.transform(categorical)
    numeric = frame.copy()
    numeric.index = pd.MultiIndex.from_arrays(
        [frame.index.get_level_values(0), pd.to_numeric(times)]
    )
    np.testing.assert_array_equal(fitted.transform(numeric), fitted.transform(X[:3]))


@pytest.mark.parametrize("exact", [False, True])
def test_pairwise_distances_names_y_when_y_is_wrong(fitted, data, exact):
    X, _ = data
    three_channels = np.random.default_rng(0).normal(size=(2, 3, 20))
    with pytest.raises(ValueError, match=r"Y\[0\] has 3 channel"):
        fitted.pairwise_distances(X[:2], three_channels, exact=exact)
    with_nan = X[:2].copy()
    with_nan[1, 0, 4] = np.nan
    with pytest.raises(ValueError, match=r"Y\[1\]"):
        fitted.pairwise_distances(X[:2], with_nan, exact=exact)
    with pytest.raises(ValueError, match=r"X\[1\]"):
        fitted.pairwise_distances(with_nan, X[:2], exact=exact)


def _named(frame, names):
    return frame.set_axis(names, axis=1)


@pytest.mark.parametrize("layout", [_multiindex, _nested_univ])
def test_channels_named_in_fit_must_keep_their_names_and_order(data, layout):
    X, y = data
    frame = _named(layout(X), ["acc", "gyro"])
    model = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(frame, y)
    np.testing.assert_array_equal(model.feature_names_in_, ["acc", "gyro"])
    expected = model.transform(X)  # arrays are read by position
    np.testing.assert_array_equal(model.transform(frame), expected)
    with pytest.raises(ValueError, match=r"channels \['gyro', 'acc'\]"):
        model.transform(frame[["gyro", "acc"]])
    with pytest.raises(ValueError, match=r"fitted on \['acc', 'gyro'\]"):
        model.transform(_named(frame, ["acc", "temp"]))
    model.set_params(warm_start=True, max_epochs=1)
    with pytest.raises(ValueError, match=r"channels \['gyro', 'acc'\]"):
        model.fit(frame[["gyro", "acc"]], y)
    refit = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(frame, y).fit(X, y)
    assert not hasattr(refit, "feature_names_in_")
    # Columns that are not all strings give no names, as in scikit-learn.
    unnamed = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(
        _named(layout(X), [0, 1]), y
    )
    assert not hasattr(unnamed, "feature_names_in_")


def test_ragged_time_first_items_get_a_hint_to_transpose(data):
    X, _ = data
    items = [x[:, : 10 + i % 5].T for i, x in enumerate(X)]  # (T_i, 2)
    with pytest.raises(ValueError, match=r"X\[1\] has 11 channel.*\[item.T for"):
        check_sequences(items)
    # Items of several widths, or with fewer rows than columns (channels
    # first), are not one time-first layout: no hint.
    for items in ([np.zeros((2, 5)), np.zeros((3, 6))], [np.ones((3, 50))] * 2):
        items = [items[0], np.zeros((items[1].shape[0] + 1, items[1].shape[1]))]
        with pytest.raises(ValueError, match=r"X\[1\] has \d channel") as error:
            check_sequences(items)
        assert "item.T" not in str(error.value)


def test_a_list_of_channels_last_items_warns(data):
    X, _ = data
    items = [x.T for x in X]  # sktime's df-list layout: (n_timepoints, n_channels)
    with pytest.warns(UserWarning, match=r"every item of X has shape \(20, 2\)"):
        check_sequences(items)
    with pytest.warns(UserWarning, match="item.T"):
        check_sequences([pd.DataFrame(x) for x in items])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_sequences([x for x in X])  # channels first
        check_sequences([x[:, : 10 + i % 5] for i, x in enumerate(X)])  # ragged


def test_from_tslearn_on_channels_first_data_warns(data):
    X, _ = data
    with pytest.warns(UserWarning, match=r"pass it without from_tslearn"):
        from_tslearn(X)  # (n, 2, 20): already channels first
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_tslearn(X.transpose(0, 2, 1))


def test_nested_univ_and_multiindex_are_accepted_by_fit(data):
    X, y = data
    a = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(_nested_univ(X), y)
    b = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_nested_univ_with_misaligned_channels_is_rejected(fitted, data):
    X, _ = data
    frame = _nested_univ(X)
    frame.iat[1, 1] = pd.Series(np.zeros(5))
    with pytest.raises(ValueError, match=r"X\.iloc\[1\] has channels of different"):
        fitted.transform(frame)


def test_three_level_multiindex_is_rejected(fitted):
    index = pd.MultiIndex.from_product([[0, 1], [0], range(5)])
    with pytest.raises(ValueError, match="3-level MultiIndex"):
        fitted.transform(pd.DataFrame(np.zeros((10, 2)), index=index))


def test_dataframe_mixing_series_and_scalars_is_rejected(fitted, data):
    X, _ = data
    frame = _nested_univ(X)
    frame.iat[0, 0] = 3.0
    with pytest.raises(TypeError, match="mixing series cells and scalars"):
        fitted.transform(frame)


def test_plain_numeric_dataframe_is_univariate_rows():
    X = np.random.default_rng(0).normal(size=(12, 15))
    y = np.repeat([0, 1], 6)
    a = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(pd.DataFrame(X), y)
    b = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_empty_dataframe_is_rejected(fitted):
    with pytest.raises(ValueError, match="X is empty"):
        fitted.transform(pd.DataFrame({"dim_0": []}))


# --------------------------------------------------------------------------- #
# 6. Threads and processes: private generators, identical results
# --------------------------------------------------------------------------- #
PARAMS = {**TINY, "dropout": 0.3, "random_state": 7}


def _fit_transform(X, y, params=PARAMS):
    return WassersteinSequenceEmbedder(**params).fit(X, y).transform(X)


def test_fits_in_threads_are_identical_to_a_serial_fit(data):
    X, y = data
    serial = _fit_transform(X, y)
    results = Parallel(n_jobs=3, backend="threading")(
        delayed(_fit_transform)(X, y) for _ in range(3)
    )
    for result in results:
        np.testing.assert_array_equal(result, serial)


def test_fit_in_another_process_is_identical(data):
    X, y = data
    serial = _fit_transform(X, y)
    (remote,) = Parallel(n_jobs=2, backend="loky")(
        delayed(_fit_transform)(X, y) for _ in range(1)
    )
    np.testing.assert_array_equal(remote, serial)


class NoisyEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 3, 3)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        return self.dropout(self.conv(x))


def test_user_encoder_with_global_dropout_is_identical_in_threads(data):
    X, y = data
    params = dict(encoder=NoisyEncoder(), n_quantiles=4, max_epochs=2, random_state=3)
    serial = _fit_transform(X, y, params)
    results = Parallel(n_jobs=2, backend="threading")(
        delayed(_fit_transform)(X, y, params) for _ in range(2)
    )
    for result in results:
        np.testing.assert_array_equal(result, serial)


class NoisyTripletLoss(WassersteinTripletLoss):
    """The triplet loss scaled by a draw from torch's global generator."""

    def forward(self, quantiles, labels):
        return super().forward(quantiles, labels) * (1 + torch.rand(()))


def test_user_loss_drawing_from_the_global_generator_is_seeded(data):
    # Such a loss (a sampling miner, say) drew from the caller's generator:
    # the fit then depended on the caller's seed and advanced it.
    X, y = data
    params = {**PARAMS, "loss": NoisyTripletLoss(p=1)}
    results = []
    for caller_seed in (1, 2):
        torch.manual_seed(caller_seed)
        state = torch.get_rng_state()
        results.append(_fit_transform(X, y, params))
        assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(results[0], results[1])
    threaded = Parallel(n_jobs=2, backend="threading")(
        delayed(_fit_transform)(X, y, params) for _ in range(2)
    )
    for result in threaded:
        np.testing.assert_array_equal(result, results[0])


def test_a_fit_with_a_user_loss_inside_another_does_not_deadlock(data):
    # Fits with user modules hold a lock around torch's global generator; a
    # callback fitting another such model in the same thread waited on it.
    X, y = data
    inner_params = {**TINY, "max_epochs": 1, "loss": NoisyTripletLoss(p=1)}

    class FitAnother(Callback):
        def on_epoch_end(self, net, **kwargs):
            WassersteinSequenceEmbedder(**inner_params).fit(X, y)

    outer = WassersteinSequenceEmbedder(
        **{**TINY, "max_epochs": 1},
        loss=NoisyTripletLoss(p=1),
        callbacks=[FitAnother()],
    )
    worker = threading.Thread(target=outer.fit, args=(X, y), daemon=True)
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "the nested fit waited on the outer one's lock"
    assert hasattr(outer, "net_")


@pytest.mark.parametrize("user_encoder", [False, True])
def test_the_callers_global_generator_is_untouched(data, user_encoder):
    X, y = data
    params = dict(PARAMS)
    if user_encoder:
        params = dict(encoder=NoisyEncoder(), n_quantiles=4, max_epochs=2)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    model = WassersteinSequenceEmbedder(**params).fit(X, y)
    model.transform(X)
    model.score(X, y)
    assert torch.equal(torch.get_rng_state(), state)


def test_thread_setting_is_restored_after_concurrent_fits(data):
    X, y = data
    before = torch.get_num_threads()
    Parallel(n_jobs=2, backend="threading")(
        delayed(_fit_transform)(X, y, {**PARAMS, "n_threads": 1}) for _ in range(2)
    )
    assert torch.get_num_threads() == before


def _count_in_a_new_thread() -> int:
    counts = []
    thread = threading.Thread(target=lambda: counts.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    return counts[0]


def test_overlapping_thread_blocks_leave_no_count_to_new_threads():
    # A thread started inside another thread's block inherits that block's
    # count; restoring what it found left that count to every later thread.
    before, counts = torch.get_num_threads(), []
    for n_threads in (1, None):
        events = {name: threading.Event() for name in ("a_in", "b_in", "a_done")}

        def first(events=events):
            with torch_threads(1):
                events["a_in"].set()
                events["b_in"].wait(10)

        def second(n_threads=n_threads, events=events):
            with torch_threads(n_threads):
                counts.append(torch.get_num_threads())
                events["b_in"].set()
                events["a_done"].wait(10)

        a = threading.Thread(target=first)
        a.start()
        assert events["a_in"].wait(10)
        b = threading.Thread(target=second)
        b.start()  # inherits the first block's count
        a.join()  # the first block ends while the second runs
        events["a_done"].set()
        b.join()
        assert torch.get_num_threads() == before
        assert _count_in_a_new_thread() == before
    # None leaves the thread's setting as it is: the count it inherited.
    assert counts == [1, 1]


def test_concurrent_transforms_of_one_model_are_right_and_leave_it_unchanged(data):
    X, y = data
    model = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)
    state = {k: v.clone() for k, v in model.module_.state_dict().items()}
    X = np.concatenate([X] * 40)  # several inference batches per call
    serial = model.transform(X)
    # Many threads share one fitted model, as a Dask worker or web server would.
    results = Parallel(n_jobs=4, backend="threading")(
        delayed(model.transform)(X) for _ in range(12)
    )
    for result in results:
        np.testing.assert_allclose(result, serial, rtol=1e-6, atol=1e-7)
    for name, value in model.module_.state_dict().items():
        assert torch.equal(value, state[name]), name


# --------------------------------------------------------------------------- #
# 7. Units: affinities follow the geometry
# --------------------------------------------------------------------------- #
def _distances_with_duplicates():
    rng = np.random.default_rng(0)
    points = np.repeat(rng.normal(size=(4, 3)), [8, 1, 1, 1], axis=0)
    return np.linalg.norm(points[:, None] - points[None], axis=-1)


@pytest.mark.parametrize("factor", [1e-9, 1e-3, 7.0, 1e6])
def test_affinities_do_not_depend_on_the_unit(factor):
    D = _distances_with_duplicates()
    # More than half of the off-diagonal distances are zero (duplicates).
    assert np.median(D[~np.eye(len(D), dtype=bool)]) == 0.0
    np.testing.assert_allclose(
        distances_to_affinity(D * factor), distances_to_affinity(D), rtol=1e-12
    )


def test_affinity_bandwidth_is_the_median_of_non_zero_distances():
    D = _distances_with_duplicates()
    positive = D[D > 0]
    sigma = np.median(positive)
    np.testing.assert_allclose(
        distances_to_affinity(D), np.exp(-(D**2) / (2 * sigma**2)), rtol=1e-12
    )


def test_a_square_cross_distance_block_keeps_its_diagonal():
    # A and A reversed: the distances sit on the diagonal. Dropped as if it
    # were a self-distance matrix, they left only zeros, and every affinity
    # was 1.
    A = np.array([[0.0], [3.0]])
    D = pairwise_wasserstein(A, A[::-1], p=1)
    assert D.tolist() == [[3.0, 0.0], [0.0, 3.0]]
    expected = np.where(D > 0, np.exp(-0.5), 1.0)
    np.testing.assert_allclose(distances_to_affinity(D), expected, rtol=1e-12)
    np.testing.assert_allclose(
        distances_to_affinity(np.hstack([D, D])), np.hstack([expected] * 2)
    )


def test_all_zero_distances_give_affinity_one():
    np.testing.assert_array_equal(
        distances_to_affinity(np.zeros((3, 3))), np.ones((3, 3))
    )


def test_explicit_bandwidth_scales_with_the_distances():
    D = _distances_with_duplicates()
    np.testing.assert_allclose(
        distances_to_affinity(D * 10, sigma=20.0),
        distances_to_affinity(D, sigma=2.0),
        rtol=1e-12,
    )


# --------------------------------------------------------------------------- #
# 8. Unfitted use
# --------------------------------------------------------------------------- #
UNFITTED_CALLS = {
    "transform": lambda m, X, y: m.transform(X),
    "step_features": lambda m, X, y: m.step_features(X),
    "pairwise_distances": lambda m, X, y: m.pairwise_distances(X),
    "pairwise_distances_exact": lambda m, X, y: m.pairwise_distances(X, exact=True),
    "score": lambda m, X, y: m.score(X, y),
    "get_feature_names_out": lambda m, X, y: m.get_feature_names_out(),
    "module_": lambda m, X, y: m.module_,
}


@pytest.mark.parametrize("call", list(UNFITTED_CALLS), ids=str)
def test_methods_before_fit_raise_not_fitted(data, call):
    X, y = data
    with pytest.raises(NotFittedError):
        UNFITTED_CALLS[call](WassersteinSequenceEmbedder(**TINY), X, y)


@pytest.mark.parametrize("call", ["transform", "pairwise_distances", "step_features"])
def test_methods_after_a_failed_first_fit_raise_not_fitted(data, call):
    X, y = data
    model = WassersteinSequenceEmbedder(**TINY)
    with pytest.raises(ValueError):
        model.fit(X, y[:-1])
    with pytest.raises(NotFittedError):
        UNFITTED_CALLS[call](model, X, y)


# --------------------------------------------------------------------------- #
# 9. Unclear parameters: a clear error naming the parameter, before any work
# --------------------------------------------------------------------------- #
class Parameterless(nn.Module):
    def forward(self, x):
        return x


def _frozen_encoder():
    encoder = nn.Conv1d(2, 3, 3)
    encoder.requires_grad_(False)
    return encoder


class Tripwire(Callback):
    """Fails the test if training starts."""

    def on_train_begin(self, net, **kwargs):
        raise AssertionError("training started despite a bad parameter")


@pytest.mark.parametrize("n_threads", [0, -1, 2.5, "4", True, 10**6])
def test_n_threads_set_after_fit_is_checked_by_transform(fitted, data, n_threads):
    # A million threads crashed the interpreter inside PyTorch.
    X, _ = data
    before = torch.get_num_threads()
    fitted.set_params(n_threads=n_threads)
    try:
        # The message fit's parameter check gives for the same value.
        match = r"'n_threads' parameter .*range \[1, 1024\] or None"
        with pytest.raises(ValueError, match=match):
            fitted.transform(X)
    finally:
        fitted.set_params(n_threads=1)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"encoder": Parameterless()}, ValueError, "encoder has no trainable"),
        ({"encoder": _frozen_encoder()}, ValueError, "encoder has no trainable"),
        ({"callbacks": [object()]}, TypeError, r"callbacks\[0\] must be a skorch"),
        ({"callbacks": ["print"]}, TypeError, r"callbacks\[0\] must be a skorch"),
        ({"callbacks": [("name", 3)]}, TypeError, r"callbacks\[0\] must be a skorch"),
        ({"callbacks": [(3, Tripwire())]}, TypeError, r"callbacks\[0\]"),
        ({"device": "mps"}, ValueError, "device='mps'"),
        ({"device": "meta"}, ValueError, "device='meta' is not supported"),
        ({"device": "cuda:7"}, ValueError, "device='cuda:7'"),
        ({"p": True}, TypeError, "p must be an int"),
        ({"n_layers": False}, TypeError, "n_layers must be an int"),
        ({"n_quantiles": np.True_}, (TypeError, ValueError), "n_quantiles"),
        ({"max_epochs": True}, TypeError, "max_epochs must be an int"),
        ({"n_threads": True}, TypeError, "n_threads must be an int"),
        ({"n_threads": 10**6}, ValueError, r"n_threads.*range \[1, 1024\]"),
        ({"lr": 1e39}, ValueError, "lr=1e\\+39 cannot be used"),
        ({"lr": 1e-300}, ValueError, "lr=1e-300 cannot be used.*in which it is 0"),
        # Overflowed mid-training, reported as a NaN loss blaming lr.
        ({"jitter_std": 1e39}, ValueError, "'jitter_std' parameter"),
        ({"scale_std": 11.0}, ValueError, "'scale_std' parameter"),
        ({"weight_decay": 1e40}, ValueError, "weight_decay=1e\\+40 cannot be used"),
        (
            {"early_stopping": True, "callbacks": [("early_stopping", Tripwire())]},
            ValueError,
            r"callbacks\[0\] is named 'early_stopping'",
        ),
        (
            {"callbacks": [("stop_on_nonfinite", Tripwire())]},
            ValueError,
            r"callbacks\[0\] is named 'stop_on_nonfinite'",
        ),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_bad_parameters_fail_before_training(data, params, error, match):
    X, y = data
    params = {"callbacks": [Tripwire()], **params}
    if "callbacks" in params and params["callbacks"][0] is not None:
        params["callbacks"] = [*params["callbacks"], Tripwire()]
    with pytest.raises(error, match=match):
        WassersteinSequenceEmbedder(**TINY).set_params(**params).fit(X, y)


def test_a_callback_may_take_a_validation_name_when_nothing_is_held_out(data):
    # Without held-out sequences the embedder adds no early stopping of its
    # own: a user's EarlyStopping named "early_stopping" worked, and must.
    from skorch.callbacks import EarlyStopping

    X, y = data
    stopper = EarlyStopping(monitor="train_loss", patience=1, threshold=10.0)
    model = WassersteinSequenceEmbedder(
        **{**TINY, "max_epochs": 5},
        early_stopping=False,
        callbacks=[("early_stopping", stopper)],
        random_state=0,
    ).fit(X, y)
    assert len(model.history_) < 5


@pytest.mark.parametrize(
    ("n_reference", "error", "match"),
    [
        (-1, ValueError, "n_reference must be an int >= 1"),
        (0, ValueError, "n_reference must be an int >= 1"),
        (True, TypeError, "n_reference must be an int"),
        (2.0, TypeError, "n_reference must be an int"),
    ],
)
def test_check_precomputed_distances_rejects_bad_n_reference(n_reference, error, match):
    with pytest.raises(error, match=match):
        check_precomputed_distances(np.zeros((2, 2)), n_reference=n_reference)


@pytest.fixture(scope="module")
def fitted_manhattan(data):
    X, y = data
    return WassersteinSequenceEmbedder(**TINY, p=1, random_state=0).fit(X, y)


def test_p1_embeddings_into_a_p2_distance_step_are_refused(fitted_manhattan, data):
    X, _ = data
    embeddings = fitted_manhattan.transform(X)
    with pytest.raises(ValueError, match="trained with p=1"):
        WassersteinDistanceTransformer(p=2).fit(embeddings)
    step = WassersteinDistanceTransformer(p=2).fit(np.asarray(embeddings).copy())
    with pytest.raises(ValueError, match="trained with p=1"):
        step.transform(embeddings)
    # The matching order is accepted and gives the Manhattan distances.
    D = WassersteinDistanceTransformer(p=1).fit_transform(embeddings)
    np.testing.assert_allclose(
        D, np.abs(embeddings[:, None] - embeddings[None]).sum(-1), rtol=1e-5
    )


def test_p_mismatch_is_refused_inside_a_pipeline(data):
    X, y = data
    pipeline = make_pipeline(
        WassersteinSequenceEmbedder(**TINY, p=1, random_state=0),
        WassersteinDistanceTransformer(p=2),
        KNeighborsClassifier(n_neighbors=1, metric="precomputed"),
    )
    with pytest.raises(ValueError, match="trained with p=1"):
        pipeline.fit(X, y)
    pipeline.set_params(wassersteindistancetransformer__p=1).fit(X, y)
    assert pipeline.score(X, y) > 0.5


def test_pairwise_wasserstein_refuses_embeddings_of_another_order(
    fitted_manhattan, data
):
    X, _ = data
    embeddings = fitted_manhattan.transform(X)
    for view in (embeddings, embeddings[3:], embeddings[::2]):
        with pytest.raises(ValueError, match=r"p=2.*trained with p=1"):
            pairwise_wasserstein(view, p=2)
        with pytest.raises(ValueError, match=r"p=2.*B holds.*trained with p=1"):
            pairwise_wasserstein(view.copy(), view, p=2)
    np.testing.assert_allclose(
        pairwise_wasserstein(embeddings, p=1),
        cdist(embeddings.astype(np.float64), embeddings, "cityblock"),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("trained", [1, 2])
def test_pairwise_wasserstein_defaults_to_the_order_the_embeddings_tell(data, trained):
    # The default p="auto" measures the learned distance of a transform
    # output (or a view of it, as A or as B); a copy no longer tells its
    # order, so the embedder's default is used with a warning.
    X, y = data
    model = WassersteinSequenceEmbedder(**TINY, p=trained, random_state=0).fit(X, y)
    embeddings = model.transform(X)
    metric = {1: "cityblock", 2: "euclidean"}[trained]
    expected = cdist(embeddings.astype(np.float64), embeddings, metric)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learned = pairwise_wasserstein(embeddings)
        np.testing.assert_allclose(learned, expected, rtol=1e-5, atol=1e-6)
        chunks = np.vstack(list(pairwise_wasserstein_chunked(embeddings)))
        np.testing.assert_array_equal(chunks, learned)
        as_b = pairwise_wasserstein(embeddings[:3].copy(), embeddings[2:])
        np.testing.assert_allclose(as_b, expected[:3, 2:], rtol=1e-5, atol=1e-6)
    copied = embeddings[[0, 2, 1]]
    with pytest.warns(UserWarning, match=r"p=1, the embedder's default") as record:
        fallback = pairwise_wasserstein(copied)
    assert record[0].filename == __file__  # the warning names the caller
    np.testing.assert_allclose(
        fallback, cdist(copied.astype(np.float64), copied, "cityblock"), rtol=1e-5
    )


@pytest.mark.parametrize("output", ["default", "pandas"])
@pytest.mark.parametrize("p", [1, 2])
def test_auto_distance_step_follows_the_embedder_in_a_pipeline(data, p, output):
    """``p="auto"`` takes the embedder's order, so a grid over it needs no twin.

    With pandas output the step receives a DataFrame holding the embeddings
    without a copy, and still finds their order.
    """
    X, y = data
    pipeline = make_pipeline(
        WassersteinSequenceEmbedder(**TINY, p=p, random_state=0),
        WassersteinDistanceTransformer(),
        KNeighborsClassifier(n_neighbors=1, metric="precomputed"),
    )
    pipeline.set_output(transform=output).fit(X, y)
    embedder, step = pipeline.steps[0][1], pipeline.steps[1][1]
    assert step.p_ == p
    embeddings = np.asarray(embedder.transform(X), dtype=np.float64)
    metric = {1: "cityblock", 2: "euclidean"}[p]
    np.testing.assert_allclose(
        np.asarray(step.transform(embedder.transform(X[:5]))),
        cdist(embeddings[:5], embeddings, metric),
        rtol=1e-5,
        atol=1e-6,
    )


class MeanDistance(nn.Module):
    """A loss on any rows: their mean Euclidean distance."""

    def forward(self, embeddings, labels):
        return torch.cdist(embeddings, embeddings).mean()


@pytest.mark.parametrize("order", [1, 2])
def test_a_loss_of_another_order_is_refused_before_training(data, order):
    """A loss that trains W_q with q != p would leave metric_ measuring W_p."""
    X, y = data
    other = 3 - order
    for loss in (
        WassersteinTripletLoss(p=other, margin=0.5),
        WassersteinTripletLoss(distance=QuantileWassersteinDistance(other)),
        MetricLearningLoss(MeanDistance(), p=other),
    ):
        embedder = WassersteinSequenceEmbedder(**TINY, p=order, loss=loss)
        with pytest.raises(ValueError, match=rf"loss trains the p={other}.*p={order}"):
            embedder.fit(X, y)
        assert not hasattr(embedder, "module_")
    fitted = WassersteinSequenceEmbedder(
        **TINY, p=order, loss=WassersteinTripletLoss(p=order), random_state=0
    ).fit(X, y)
    assert fitted.metric_ == {1: "manhattan", 2: "euclidean"}[order]


def test_pairwise_wasserstein_refuses_a_dataframe_of_another_order(
    fitted_manhattan, data
):
    X, _ = data
    embeddings = fitted_manhattan.transform(X)
    frame = pd.DataFrame(embeddings, copy=False)
    with pytest.raises(ValueError, match=r"p=2.*trained with p=1"):
        pairwise_wasserstein(frame, p=2)


def test_distance_step_pickled_before_p_auto_still_transforms():
    E = np.random.default_rng(0).normal(size=(6, 4))
    step = WassersteinDistanceTransformer(p=2).fit(E)
    state = dict(step.__getstate__())
    del state["p_"]  # what a pickle of the time holds: p was always an int
    old = WassersteinDistanceTransformer.__new__(WassersteinDistanceTransformer)
    old.__setstate__(state)
    assert old.p_ == 2
    np.testing.assert_array_equal(old.transform(E[:2]), step.transform(E[:2]))
