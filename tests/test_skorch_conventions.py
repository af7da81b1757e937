"""skorch's own callbacks and conventions work with the embedder."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Checkpoint, EarlyStopping, ProgressBar

from sklearn_wdist import WassersteinSequenceEmbedder
from sklearn_wdist.nn import WassersteinTripletLoss

TINY = dict(n_features=4, hidden_channels=8, n_layers=1, n_quantiles=4, max_epochs=4)


def _data():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 8)
    X = rng.normal(size=(len(y), 2, 20)) * (1 + y[:, None, None])
    return X, y


@pytest.mark.parametrize(
    "callback",
    [
        EarlyStopping(),
        Checkpoint(dirname="unused"),
        EarlyStopping(monitor="valid_acc"),
        EarlyStopping,  # a class: skorch builds it with its defaults
        Checkpoint,
    ],
    ids=["EarlyStopping()", "Checkpoint()", "valid_acc", "EarlyStopping", "Checkpoint"],
)
@pytest.mark.parametrize("early_stopping", [False, True, "auto"])
def test_callbacks_needing_a_missing_record_fail_before_training(
    callback, early_stopping
):
    X, y = _data()
    model = WassersteinSequenceEmbedder(
        **TINY, callbacks=[callback], early_stopping=early_stopping
    )
    with pytest.raises(ValueError, match=r"callbacks\[0\] .* monitors 'valid_"):
        model.fit(X, y)
    assert not hasattr(model, "net_")


def test_validation_score_has_a_best_flag_and_checkpoint_uses_it(tmp_path):
    X, y = _data()
    checkpoint = Checkpoint(monitor="valid_map_at_r_best", dirname=str(tmp_path))
    model = WassersteinSequenceEmbedder(
        **TINY,
        early_stopping=True,
        validation_split="classes",
        validation_fraction=0.5,
        callbacks=[checkpoint],
        random_state=0,
    ).fit(X, y)
    scores = model.history_[:, "valid_map_at_r"]
    flags = model.history_[:, "valid_map_at_r_best"]
    # The flag marks a score at least as high as every earlier one, exactly.
    expected = [s >= max(scores[:i], default=-1.0) for i, s in enumerate(scores)]
    assert flags == expected
    assert (tmp_path / "params.pt").exists()
    # Checkpoint recorded an event on the epochs with a new best.
    events = model.history_[:, "event_cp"]
    assert [bool(e) for e in events] == flags


def test_a_flat_validation_score_never_stops_training():
    # Classes far apart: every epoch's held-out MAP@R is 1. Equal scores are
    # not "no improvement", so training runs all max_epochs and the weights
    # kept are the last ones (the same as training without a hold-out would).
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 10)
    X = rng.normal(size=(len(y), 2, 20)) + 100.0 * y[:, None, None]
    model = WassersteinSequenceEmbedder(
        **{**TINY, "max_epochs": 6},
        early_stopping=True,
        n_iter_no_change=2,
        validation_fraction=0.3,
        random_state=0,
    )
    with pytest.warns(UserWarning, match="loss was 0 in all 6 epochs"):
        model.fit(X, y)  # so far apart that no triplet gives a gradient
    assert model.history_[:, "valid_map_at_r"] == [1.0] * 6
    assert model.history_[:, "valid_map_at_r_best"] == [True] * 6
    stopper = dict(model.net_.callbacks_)["early_stopping"]
    assert stopper.best_epoch_ == 6


def test_early_stopping_on_the_validation_map_at_r_works():
    X, y = _data()
    stop = EarlyStopping(
        monitor="valid_map_at_r", lower_is_better=False, patience=1, threshold=1.0
    )
    model = WassersteinSequenceEmbedder(
        **{**TINY, "max_epochs": 20},
        early_stopping=True,
        validation_split="classes",
        validation_fraction=0.5,
        callbacks=[stop],
        random_state=0,
    ).fit(X, y)
    # A threshold of 1.0 can never be beaten: stop after patience 1.
    assert len(model.history_) == 2


def test_progress_bar_counts_batches(capsys):
    X, y = _data()
    bar = ProgressBar()
    model = WassersteinSequenceEmbedder(
        **TINY,
        classes_per_batch=2,
        samples_per_class=4,
        callbacks=[bar],
        early_stopping=False,
    ).fit(X, y)
    n_batches = len(model.history_[-1, "batches"])
    assert n_batches == 4  # 32 sequences / (2 classes x 4), none held out
    err = capsys.readouterr().err
    assert f"/{n_batches}" in err
    assert "/32" not in err
    assert bar.batches_per_epoch == "auto"  # the user's callback is not modified


def test_optimizer_kwargs_reach_the_optimizer():
    X, y = _data()
    model = WassersteinSequenceEmbedder(
        **TINY, optimizer=torch.optim.SGD, optimizer_kwargs={"momentum": 0.9}
    ).fit(X, y)
    group = model.net_.optimizer_.param_groups[0]
    assert group["momentum"] == 0.9
    with pytest.raises(ValueError, match="optimizer_kwargs has the key 'lr'"):
        WassersteinSequenceEmbedder(**TINY, optimizer_kwargs={"lr": 1.0}).fit(X, y)


def test_optimizers_without_weight_decay_train_and_refuse_a_non_zero_one():
    # weight_decay was always passed: Rprop failed inside torch with the default.
    X, y = _data()
    model = WassersteinSequenceEmbedder(**TINY, optimizer=torch.optim.Rprop).fit(X, y)
    assert "weight_decay" not in model.net_.optimizer_.param_groups[0]
    assert np.isfinite(model.transform(X)).all()
    with pytest.raises(ValueError, match=r"weight_decay=0\.1, but optimizer Rprop"):
        WassersteinSequenceEmbedder(
            **TINY, optimizer=torch.optim.Rprop, weight_decay=0.1
        ).fit(X, y)
    # Optimizers that take it still get the estimator's value, not their own
    # default (AdamW's is 0.01).
    model = WassersteinSequenceEmbedder(**TINY, optimizer=torch.optim.AdamW).fit(X, y)
    assert model.net_.optimizer_.param_groups[0]["weight_decay"] == 0.0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"betas": 3}, TypeError, "optimizer Adam refused"),
        ({"betas": (2.0, 0.9)}, ValueError, "optimizer Adam refused"),
        ({"no_such_option": 1}, TypeError, "no_such_option"),
    ],
)
def test_optimizer_kwargs_are_tried_before_any_work(kwargs, error, match, monkeypatch):
    X, y = _data()

    def no_work(*args, **kwargs):
        raise AssertionError("the data were read before the optimizer was checked")

    monkeypatch.setattr(
        "sklearn_wdist._embedder.check_sequences", no_work, raising=True
    )
    with pytest.raises(error, match=match):
        WassersteinSequenceEmbedder(**TINY, optimizer_kwargs=kwargs).fit(X, y)


def test_warm_start_continues_training_and_extends_the_history():
    X, y = _data()
    model = WassersteinSequenceEmbedder(**TINY, warm_start=True, random_state=0)
    model.fit(X, y)
    first_epochs = len(model.history_)
    first_losses = model.history_[:, "train_loss"]
    weights = {k: v.clone() for k, v in model.module_.state_dict().items()}
    model.fit(X, y)
    assert len(model.history_) == 2 * first_epochs
    assert model.history_[:first_epochs, "train_loss"] == first_losses
    assert model.history_[-1, "epoch"] == 2 * first_epochs
    changed = any(
        not torch.equal(weights[k], v) for k, v in model.module_.state_dict().items()
    )
    assert changed
    # A cold refit starts again: one run's worth of epochs.
    model.set_params(warm_start=False).fit(X, y)
    assert len(model.history_) == first_epochs


def test_each_warm_start_draws_new_batches_reproducibly():
    # Every call drew the first call's batches again: ten warm fits of one
    # epoch trained one epoch's batches ten times.
    from skorch.callbacks import Callback

    class Batches(Callback):
        def __init__(self):
            self.drawn = []

        def on_batch_begin(self, net, batch=None, **kwargs):
            self.drawn.append(batch[1].tolist())

    def warm_fits(n_fits):
        record = Batches()
        model = WassersteinSequenceEmbedder(
            **{**TINY, "max_epochs": 1},
            warm_start=True,
            callbacks=[record],
            random_state=0,
        )
        epochs = []
        for _ in range(n_fits):
            start = len(record.drawn)
            model.fit(X, y)
            epochs.append(record.drawn[start:])
        return epochs, model.transform(X)

    X, y = _data()
    epochs, embedding = warm_fits(2)
    assert epochs[0] != epochs[1]
    again, embedding_again = warm_fits(2)
    assert again == epochs
    np.testing.assert_array_equal(embedding_again, embedding)


def test_warm_start_continues_from_the_current_weights():
    from skorch.callbacks import Callback

    class Snapshot(Callback):
        def on_train_begin(self, net, **kwargs):
            self.start = {k: v.clone() for k, v in net.module_.state_dict().items()}

    X, y = _data()
    snapshot = Snapshot()
    model = WassersteinSequenceEmbedder(
        **TINY, warm_start=True, callbacks=[snapshot], random_state=0
    ).fit(X, y)
    end_of_first = {k: v.clone() for k, v in model.module_.state_dict().items()}
    model.fit(X, y)
    for name, value in end_of_first.items():
        if name.endswith("kept_row_weights"):
            # Set after training; every training run sees the kept rows at 1.
            assert not torch.equal(value, torch.ones_like(value))
            torch.testing.assert_close(snapshot.start[name], torch.ones_like(value))
            continue
        torch.testing.assert_close(snapshot.start[name], value, rtol=0, atol=0)


def test_interrupted_warm_start_keeps_the_model():
    from skorch.callbacks import Callback

    class Interrupt(Callback):
        def on_batch_end(self, net, **kwargs):
            raise KeyboardInterrupt

    X, y = _data()
    model = WassersteinSequenceEmbedder(
        **{**TINY, "max_epochs": 4},
        early_stopping=True,
        validation_fraction=0.3,
        warm_start=True,
        random_state=0,
    )
    model.fit(X, y)
    before = model.transform(X)
    n_epochs = len(model.history_)
    lengths = (model.n_iter_, model.best_epoch_, model.best_validation_score_)
    scores = model.validation_scores_.copy()
    model.set_params(callbacks=[Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    np.testing.assert_array_equal(model.transform(X), before)
    assert len(model.history_) == n_epochs
    # What the attributes say about training is that of the kept model too.
    assert (model.n_iter_, model.best_epoch_, model.best_validation_score_) == lengths
    assert lengths[1] is not None
    np.testing.assert_array_equal(model.validation_scores_, scores)


def test_warm_start_refuses_a_changed_p():
    X, y = _data()
    model = WassersteinSequenceEmbedder(**TINY, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="p cannot change"):
        model.set_params(p=2).fit(X, y)


def test_load_init_state_resumes_from_a_checkpoint(tmp_path):
    from skorch.callbacks import Callback, LoadInitState

    X, y = _data()
    checkpoint = Checkpoint(monitor="valid_map_at_r_best", dirname=str(tmp_path))
    params = dict(
        **TINY, early_stopping=True, validation_split="classes", validation_fraction=0.5
    )
    first = WassersteinSequenceEmbedder(
        **params, callbacks=[checkpoint], random_state=0
    ).fit(X, y)
    best_epoch = max(
        i for i, flag in enumerate(first.history_[:, "valid_map_at_r_best"]) if flag
    )

    class Snapshot(Callback):
        def on_train_begin(self, net, **kwargs):
            self.start = {k: v.clone() for k, v in net.module_.state_dict().items()}

    snapshot = Snapshot()
    checkpoint_again = Checkpoint(monitor="valid_map_at_r_best", dirname=str(tmp_path))
    WassersteinSequenceEmbedder(
        **params,
        callbacks=[LoadInitState(checkpoint_again), snapshot],
        random_state=1,
    ).fit(X, y)
    saved = torch.load(tmp_path / "params.pt", weights_only=True)
    # Training resumed from the weights saved at the best epoch.
    for name, value in saved.items():
        torch.testing.assert_close(snapshot.start[name], value, rtol=0, atol=0)
    assert best_epoch >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"include_differences": False},
        {"n_features": 3},
        {"n_quantiles": 8},
        {"architecture": "conv"},
        {"input_whitening": None},
    ],
)
def test_warm_start_refuses_a_changed_structure(change):
    X, y = _data()
    model = WassersteinSequenceEmbedder(**TINY, warm_start=True, random_state=0)
    model.fit(X, y)
    before = model.transform(X)
    (name,) = change
    with pytest.raises(ValueError, match=f"{name} cannot change"):
        model.set_params(**change).fit(X, y)
    np.testing.assert_array_equal(model.transform(X), before)


def test_warm_start_accepts_equal_values_and_training_parameters():
    X, y = _data()
    model = WassersteinSequenceEmbedder(
        **TINY, dropout=0, warm_start=True, random_state=0
    ).fit(X, y)
    # 0.0 == 0, and the learning rate and epochs are not structure.
    model.set_params(dropout=0.0, lr=1e-4, max_epochs=1).fit(X, y)
    assert len(model.history_) == TINY["max_epochs"] + 1
    # The continued optimizer keeps its moments and takes today's settings.
    (group,) = model.net_.optimizer_.param_groups
    assert group["lr"] == 1e-4
    assert len(model.net_.optimizer_.state) > 0
    model.set_params(weight_decay=0.5, optimizer_kwargs={"eps": 1e-6}).fit(X, y)
    (group,) = model.net_.optimizer_.param_groups
    assert (group["lr"], group["weight_decay"], group["eps"]) == (1e-4, 0.5, 1e-6)
    # A setting no longer passed goes back to the optimizer's own default.
    model.set_params(optimizer_kwargs=None).fit(X, y)
    (group,) = model.net_.optimizer_.param_groups
    assert group["eps"] == torch.optim.Adam([torch.zeros(1)]).defaults["eps"]


def test_warm_start_refuses_another_optimizer_class_before_training():
    X, y = _data()
    model = WassersteinSequenceEmbedder(**TINY, warm_start=True, random_state=0)
    model.fit(X, y)
    model.set_params(optimizer=torch.optim.SGD, optimizer_kwargs={"momentum": 0.9})
    with pytest.raises(ValueError, match="whose optimizer cannot change"):
        model.fit(X, y)
    assert len(model.history_) == TINY["max_epochs"]


class ScaledTripletLoss(torch.nn.Module):
    """The triplet loss times a trained scale: a loss with a parameter."""

    def __init__(self):
        super().__init__()
        self.inner = WassersteinTripletLoss(p=1)
        self.scale = torch.nn.Parameter(torch.ones(3))

    def forward(self, quantiles, labels):
        return self.inner(quantiles, labels) * self.scale.mean()


@pytest.mark.parametrize("first, then", [(None, "scaled"), ("scaled", None)])
def test_warm_start_refuses_a_loss_with_other_trained_parameters(first, then):
    X, y = _data()
    losses = {None: None, "scaled": ScaledTripletLoss()}
    model = WassersteinSequenceEmbedder(
        **TINY, loss=losses[first], warm_start=True, random_state=0
    ).fit(X, y)
    model.set_params(loss=losses[then])
    with pytest.raises(ValueError, match=r"whose loss \(its trained parameters\)"):
        model.fit(X, y)
    assert len(model.history_) == TINY["max_epochs"]
    # Another margin trains no other parameter: it continues.
    model.set_params(loss=losses[first], margin=0.5, max_epochs=1).fit(X, y)
    assert len(model.history_) == TINY["max_epochs"] + 1


def test_warm_start_of_a_model_fitted_before_the_structure_was_recorded():
    X, y = _data()
    model = WassersteinSequenceEmbedder(**TINY, warm_start=True, random_state=0)
    model.fit(X, y)
    del model._built_with  # as unpickled from an older version
    model.set_params(max_epochs=1).fit(X, y)
    assert len(model.history_) == TINY["max_epochs"] + 1
