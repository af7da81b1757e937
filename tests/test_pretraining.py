"""``pretraining="label-free"``: label-free training first, then the labelled one."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_wdist import WassersteinSequenceEmbedder
from sklearn_wdist.nn import WassersteinTripletLoss

TINY = dict(n_features=4, hidden_channels=8, n_layers=2, n_quantiles=6, max_epochs=3)
PRETRAINED = dict(TINY, pretraining="label-free")


@pytest.fixture
def data():
    """Three classes of six two-channel sequences, 20 to 29 steps long."""
    rng = np.random.default_rng(0)
    X, y = [], []
    for label, (scale, shift) in enumerate([(1.0, 0.0), (2.0, 0.0), (1.0, 1.5)]):
        for _ in range(6):
            X.append(shift + scale * rng.normal(size=(2, rng.integers(20, 30))))
            y.append(label)
    return X, np.array(y)


class RecordingLoss(WassersteinTripletLoss):
    """The default triplet loss, recording the labels of every batch it scores.

    ``fit`` deep-copies its ``loss`` for each training stage, so the record is
    kept on the class, shared by the copies.
    """

    calls: list = []
    interrupt_at: int | None = None

    def forward(self, quantiles, labels):
        type(self).calls.append(labels.tolist())
        if len(type(self).calls) == type(self).interrupt_at:
            raise KeyboardInterrupt
        return super().forward(quantiles, labels)


@pytest.fixture
def recording_loss():
    RecordingLoss.calls, RecordingLoss.interrupt_at = [], None
    yield RecordingLoss(p=1, margin=1.0)
    RecordingLoss.calls, RecordingLoss.interrupt_at = [], None


def test_pretraining_sees_views_of_each_sequence_then_the_labels(data, recording_loss):
    X, y = data
    n_sequences, n_classes = len(y), len(np.unique(y))
    model = WassersteinSequenceEmbedder(
        **PRETRAINED, loss=recording_loss, random_state=0
    ).fit(X, y)
    assert len(model.pretraining_history_) == TINY["max_epochs"]
    assert len(model.history_) == TINY["max_epochs"]
    n_pretraining = sum(len(epoch["batches"]) for epoch in model.pretraining_history_)
    first, then = (
        RecordingLoss.calls[:n_pretraining],
        RecordingLoss.calls[n_pretraining:],
    )
    assert len(then) == sum(len(epoch["batches"]) for epoch in model.history_)
    # Pre-training: each sequence is a class of samples_per_class views.
    for labels in first:
        _, counts = np.unique(labels, return_counts=True)
        assert set(counts) == {model.samples_per_class}
    assert len({code for labels in first for code in labels}) > n_classes
    assert max(code for labels in first for code in labels) < n_sequences
    # Then the labelled triplets: class codes only.
    assert {code for labels in then for code in labels} <= set(range(n_classes))
    # Both stages trained: the label-free views differ, so their loss is > 0.
    assert all(epoch["train_loss"] > 0.0 for epoch in model.pretraining_history_)


def test_pretraining_changes_the_labelled_fit(data):
    X, y = data
    plain = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)
    pretrained = WassersteinSequenceEmbedder(**PRETRAINED, random_state=0).fit(X, y)
    again = WassersteinSequenceEmbedder(**PRETRAINED, random_state=0).fit(X, y)
    assert plain.pretraining_history_ is None
    assert not np.allclose(pretrained.transform(X), plain.transform(X))
    np.testing.assert_array_equal(pretrained.transform(X), again.transform(X))
    # The same input preprocessing and gates as the labelled fit without it.
    np.testing.assert_array_equal(pretrained.whitening_matrix_, plain.whitening_matrix_)
    np.testing.assert_array_equal(pretrained.input_gates_, plain.input_gates_)
    # ... and the gates the encoder applies are those reported.
    np.testing.assert_allclose(
        pretrained.module_.encoder.input_gates.numpy(),
        pretrained.input_gates_,
        rtol=1e-6,
    )


def test_pretraining_is_ignored_without_labels(data):
    X, _ = data
    plain = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X)
    with_it = WassersteinSequenceEmbedder(**PRETRAINED, random_state=0).fit(X)
    np.testing.assert_array_equal(with_it.transform(X), plain.transform(X))
    assert with_it.pretraining_history_ is None


def test_pretraining_never_trains_on_held_out_sequences(recording_loss):
    # Four classes of four sequences; early stopping holds out two whole classes.
    rng = np.random.default_rng(1)
    X = [k + rng.normal(size=(2, 24)) for k in range(4) for _ in range(4)]
    y = np.repeat(["a", "b", "c", "d"], 4)
    model = WassersteinSequenceEmbedder(
        **PRETRAINED,
        loss=recording_loss,
        early_stopping=True,
        validation_split="classes",
        validation_fraction=0.5,
        random_state=0,
    ).fit(X, y)
    n_pretraining = sum(len(epoch["batches"]) for epoch in model.pretraining_history_)
    first = RecordingLoss.calls[:n_pretraining]
    then = RecordingLoss.calls[n_pretraining:]
    pretrained_on = {code for labels in first for code in labels}  # sequences
    trained_classes = {code for labels in then for code in labels}  # class codes
    assert len(trained_classes) == 2  # the other two classes are held out
    held_out = {
        i
        for i, label in enumerate(y)
        if label not in model.classes_[list(trained_classes)]
    }
    assert len(held_out) == 8
    assert pretrained_on == set(range(len(y))) - held_out
    assert model.validation_scores_ is not None


class CountEpochs(Callback):
    """Counts what it sees over its whole life (``initialize`` resets nothing)."""

    def __init__(self):
        self.trainings, self.epochs = 0, 0

    def on_train_begin(self, net, **kwargs):
        self.trainings += 1

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


def test_user_callbacks_see_the_labelled_training_only(data):
    X, y = data
    counter = CountEpochs()
    WassersteinSequenceEmbedder(**PRETRAINED, callbacks=[counter], random_state=0).fit(
        X, y
    )
    assert (counter.trainings, counter.epochs) == (1, TINY["max_epochs"])


def test_the_two_stages_draw_from_different_random_streams(data, monkeypatch):
    # Both stages augment here; each builds a batch sampler and a view generator.
    import sklearn_wdist._embedder as embedder_module

    seeds = {"sampler": [], "views": []}

    class RecordingSampler(embedder_module.ClassBalancedBatchSampler):
        def __init__(self, *args, seed, **kwargs):
            seeds["sampler"].append(seed)
            super().__init__(*args, seed=seed, **kwargs)

    class RecordingViews(embedder_module.AugmentingCollate):
        def __init__(self, *args):
            seeds["views"].append(args[-1])
            super().__init__(*args)

    monkeypatch.setattr(embedder_module, "ClassBalancedBatchSampler", RecordingSampler)
    monkeypatch.setattr(embedder_module, "AugmentingCollate", RecordingViews)
    X, y = data
    WassersteinSequenceEmbedder(
        **PRETRAINED, crop_fraction=0.8, scale_std=0.1, random_state=0
    ).fit(X, y)
    assert len(seeds["sampler"]) == len(seeds["views"]) == 2
    pretraining_seed, labelled_seed = seeds["sampler"]
    # No stream of one stage (seed, seed + 1, seed + 2) is one of the other's.
    assert abs(pretraining_seed - labelled_seed) > 2
    assert seeds["views"][0] != seeds["views"][1]


def test_pretraining_with_identical_views_is_refused_before_training(
    data, recording_loss, monkeypatch
):
    X, y = data
    model = WassersteinSequenceEmbedder(
        **PRETRAINED,
        crop_fraction=1.0,
        scale_std=0.0,
        jitter_std=0.0,
        loss=recording_loss,
    )

    def no_preprocessing(*args, **kwargs):
        raise AssertionError("the input was preprocessed before the refusal")

    monkeypatch.setattr(model, "_fit_preprocessing", no_preprocessing)
    with pytest.raises(ValueError, match=r"pretraining='label-free'.*identical"):
        model.fit(X, y)
    assert RecordingLoss.calls == []
    assert not hasattr(model, "net_")


def test_a_warm_start_does_not_pretrain_again(data, recording_loss):
    X, y = data
    model = WassersteinSequenceEmbedder(
        **PRETRAINED, loss=recording_loss, warm_start=True, random_state=0
    ).fit(X, y)
    first_record = model.pretraining_history_
    n_calls = len(RecordingLoss.calls)
    model.set_params(max_epochs=2).fit(X, y)
    assert model.pretraining_history_ is first_record
    assert len(model.history_) == TINY["max_epochs"] + 2
    added = RecordingLoss.calls[n_calls:]
    assert len(added) == sum(len(epoch["batches"]) for epoch in model.history_[-2:])


def test_an_interrupt_during_pretraining_keeps_the_previous_model(data, recording_loss):
    X, y = data
    model = WassersteinSequenceEmbedder(**PRETRAINED, random_state=0).fit(X, y)
    net, embeddings = model.net_, model.transform(X)
    record = model.pretraining_history_
    RecordingLoss.interrupt_at = 2  # the second batch of the pre-training
    model.set_params(loss=recording_loss, random_state=1)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    assert len(RecordingLoss.calls) == 2
    assert model.net_ is net and model.pretraining_history_ is record
    np.testing.assert_array_equal(model.transform(X), embeddings)


class ZeroLoss(torch.nn.Module):
    """A loss of exactly 0 (with a gradient graph): nothing trains."""

    def forward(self, quantiles, labels):
        return 0.0 * quantiles.sum()


def test_no_training_signal_in_either_stage_warns(data):
    X, y = data
    model = WassersteinSequenceEmbedder(**PRETRAINED, loss=ZeroLoss(), random_state=0)
    message = "0 in all 3 epochs of this fit and in the 3 of its label-free pre"
    with pytest.warns(UserWarning, match=message):
        model.fit(X, y)
    assert all(e["train_loss"] == 0.0 for e in model.pretraining_history_)


class ProxyLoss(torch.nn.Module):
    """A loss with one trainable proxy per class, as proxy losses hold."""

    def __init__(self, num_classes):
        super().__init__()
        self.proxies = torch.nn.Parameter(torch.zeros(num_classes))

    def forward(self, quantiles, labels):
        return (quantiles.mean() - self.proxies[labels]).square().mean()


@pytest.mark.parametrize(
    "settings, stage",
    [(PRETRAINED, "pretraining='label-free'"), (TINY, r"fit\(X\) without labels")],
)
def test_a_loss_with_class_parameters_is_refused_for_label_free_training(
    data, settings, stage, monkeypatch
):
    # Label-free training gives every sequence its own class code: a proxy
    # per training class cannot score them (codes past the proxies fail or,
    # with enough of them, most sequences train without a signal).
    X, y = data
    model = WassersteinSequenceEmbedder(**settings, loss=ProxyLoss(len(np.unique(y))))

    def no_preprocessing(*args, **kwargs):
        raise AssertionError("the input was preprocessed before the refusal")

    monkeypatch.setattr(model, "_fit_preprocessing", no_preprocessing)
    with pytest.raises(
        ValueError, match=rf"{stage}.*ProxyLoss trains tensors of shape \(3,\)"
    ):
        model.fit(X, y if settings is PRETRAINED else None)
    assert not hasattr(model, "net_")


class LearnedMarginLoss(WassersteinTripletLoss):
    """The triplet loss with one learned scalar: no parameter per class."""

    def __init__(self):
        super().__init__(p=1)
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, quantiles, labels):
        return self.scale * super().forward(quantiles, labels)


def test_a_loss_with_one_learned_scalar_trains_label_free(data):
    X, y = data
    model = WassersteinSequenceEmbedder(
        **PRETRAINED, loss=LearnedMarginLoss(), random_state=0
    ).fit(X, y)
    assert len(model.pretraining_history_) == TINY["max_epochs"]


def test_a_loss_with_class_parameters_trains_with_labels_alone(data):
    X, y = data
    model = WassersteinSequenceEmbedder(**TINY, loss=ProxyLoss(3), random_state=0)
    assert model.fit(X, y).pretraining_history_ is None


def test_no_warning_when_only_the_pretraining_had_a_signal():
    # Two classes far beyond the margin: the labelled loss is 0 throughout,
    # but the label-free views still train the encoder.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 2, 20))
    X[8:, 0] += 200.0 * np.linspace(0.0, 1.0, 20)
    y = np.repeat(["flat", "climbing"], 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = WassersteinSequenceEmbedder(**PRETRAINED, random_state=0).fit(X, y)
    assert all(epoch["train_loss"] == 0.0 for epoch in model.history_)
    assert any(epoch["train_loss"] > 0.0 for epoch in model.pretraining_history_)
    # A warm start continues without pre-training: its own epochs decide.
    model.set_params(warm_start=True, max_epochs=2)
    with pytest.warns(UserWarning, match="loss was 0 in all 2 epochs"):
        model.fit(X, y)


def test_a_model_pickled_before_the_parameter_existed_loads(data):
    X, y = data
    model = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)
    state = model.__getstate__()
    del state["pretraining"], state["pretraining_history_"]  # as saved before
    old = WassersteinSequenceEmbedder.__new__(WassersteinSequenceEmbedder)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    assert old.get_params()["pretraining"] is None
    assert old.pretraining_history_ is None
    np.testing.assert_array_equal(old.transform(X), model.transform(X))
    old.set_params(warm_start=True, max_epochs=1).fit(X, y)
    assert old.pretraining_history_ is None


def test_a_user_encoder_too_short_for_the_pretraining_crops_is_named(data):
    X, y = data

    class NeedsTwentySteps(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(2, 3, kernel_size=1)

        def forward(self, x):
            if x.shape[-1] < 20:
                raise ValueError("needs 20 steps")
            return self.conv(x)

    model = WassersteinSequenceEmbedder(
        **PRETRAINED, encoder=NeedsTwentySteps(), include_input=False
    )
    with pytest.raises(ValueError, match="label-free pre-training"):
        model.fit(X, y)
