"""WassersteinSequenceEmbedder end to end, on tiny data and few epochs."""

import itertools
import pickle
import warnings

import numpy as np
import ot
import pytest
import torch
from scipy.spatial.distance import cdist
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback, EarlyStopping
from torch import nn

from sklearn_wdist import (
    WassersteinSequenceEmbedder,
    _embedder,
    _training,
    pairwise_wasserstein_exact,
)
from sklearn_wdist._embedder import _split_validation
from sklearn_wdist._training import (
    embed_sequences,
    retrieval_score,
    sequence_step_features,
    stratified_sample,
)
from sklearn_wdist.metrics import mean_average_precision_at_r
from sklearn_wdist.nn import WassersteinTripletLoss, multiscale_difference_lags

TINY = dict(n_features=4, hidden_channels=8, n_layers=2, n_quantiles=6, max_epochs=3)


def make_sequences(n_per_class=6, n_channels=2, seed=0, equal_length=False):
    """Three classes whose per-step distributions differ in shape, not only mean."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for label, sampler in enumerate(
        (
            lambda n: rng.normal(size=(n_channels, n)),
            lambda n: rng.laplace(size=(n_channels, n)),
            lambda n: rng.choice([-1.0, 1.0], size=(n_channels, n)),
        )
    ):
        for _ in range(n_per_class):
            length = 30 if equal_length else int(rng.integers(8, 40))
            X.append(sampler(length).astype("float32"))
            y.append(["normal", "laplace", "binary"][label])
    return X, np.array(y)


@pytest.fixture(scope="module")
def data():
    return make_sequences()


def _held_out_model(max_epochs, **params):
    """A tiny embedder with early stopping on a held-out 30% of each class."""
    settings = dict(early_stopping=True, validation_fraction=0.3, random_state=0)
    return WassersteinSequenceEmbedder(
        **{**TINY, "max_epochs": max_epochs}, **{**settings, **params}
    )


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)


def test_fitted_attributes(fitted, data):
    X, _ = data
    assert fitted.n_features_in_ == 2
    assert list(fitted.classes_) == ["binary", "laplace", "normal"]
    np.testing.assert_allclose(fitted.quantile_levels_, (np.arange(6) + 0.5) / 6)
    assert fitted.metric_ == "manhattan"
    # 4 learned features and, by default, the 2 (whitened) input channels and
    # their increments at lags 1, 2, ... up to an eighth of the median length.
    median = np.median([s.shape[-1] for s in X])
    assert median >= 16  # so that there are two lags
    assert fitted.difference_lags_ == multiscale_difference_lags(median) == (1, 2)
    assert fitted.n_embedding_features_ == 4 + 2 + 2 * 2
    assert fitted.whitening_matrix_.shape == (2, 2)
    assert len(fitted.history_) == 3
    assert fitted.module_ is fitted.net_.module_
    embeddings = fitted.transform(X)
    assert embeddings.shape == (len(X), 10 * 6) and embeddings.dtype == np.float32
    names = fitted.get_feature_names_out()
    assert len(names) == embeddings.shape[1] and names[0] == "f0_q0"


def _reference_distances(model, sequences, p):
    """d_p from quantiles of each sequence embedded alone, with POT's 1-D solver."""
    model.module_.eval()
    quantiles = []
    with torch.no_grad():
        for s in sequences:
            if model.whitening_matrix_ is not None:
                s = model.whitening_matrix_ @ (s - model.whitening_mean_[:, None])
                s = s.astype("float32")
            x = torch.from_numpy(s[None])
            quantiles.append(model.module_(x, torch.tensor([s.shape[-1]]))[0].double())
    n = len(quantiles)
    expected = np.zeros((n, n))
    for i, j in itertools.combinations(range(n), 2):
        w = ot.wasserstein_1d(quantiles[i].T.numpy(), quantiles[j].T.numpy(), p=p)
        expected[i, j] = expected[j, i] = w.sum() ** (1 / p)
    return expected


@pytest.mark.parametrize("p", [1, 2])
def test_transform_is_isometric_to_the_learned_distance(data, p):
    X, y = data
    model = WassersteinSequenceEmbedder(**TINY, p=p, random_state=1).fit(X, y)
    embeddings = model.transform(X)
    metric = {"euclidean": "euclidean", "manhattan": "cityblock"}[model.metric_]
    expected = _reference_distances(model, X, p)
    np.testing.assert_allclose(
        cdist(embeddings, embeddings, metric), expected, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        model.pairwise_distances(X), expected, rtol=1e-5, atol=1e-6
    )


def test_embedding_does_not_depend_on_the_batch(fitted, data):
    X, _ = data
    together = fitted.transform(X)
    alone = np.vstack([fitted.transform([s]) for s in X])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        fitted.transform(X[::-1])[::-1], together, rtol=1e-5, atol=1e-6
    )


def test_same_random_state_gives_identical_embedding(data):
    X, y = data
    first = WassersteinSequenceEmbedder(**TINY, random_state=3).fit(X, y).transform(X)
    second = WassersteinSequenceEmbedder(**TINY, random_state=3).fit(X, y).transform(X)
    other = WassersteinSequenceEmbedder(**TINY, random_state=4).fit(X, y).transform(X)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


def test_fit_transform_equals_fit_then_transform(data):
    X, y = data
    model = WassersteinSequenceEmbedder(**TINY, random_state=5)
    np.testing.assert_array_equal(
        model.fit_transform(X, y), model.fit(X, y).transform(X)
    )


def test_fit_leaves_global_torch_state_alone(data):
    X, y = data
    torch.manual_seed(123)
    expected = torch.rand(3)
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    WassersteinSequenceEmbedder(**TINY, random_state=0, n_threads=1).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_pickle_round_trip(fitted, data):
    X, _ = data
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X), fitted.transform(X))


def test_univariate_and_equal_length_inputs():
    X, y = make_sequences(n_channels=1, equal_length=True, seed=2)
    X2d = np.vstack([s for s in X])  # (n, T) univariate
    model = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X2d, y)
    assert model.n_features_in_ == 1
    np.testing.assert_allclose(model.transform(X2d), model.transform(X), rtol=1e-6)
    # A univariate model accepts sequences of another length (30 training
    # steps: lags 1 and 2).
    assert model.difference_lags_ == (1, 2)
    assert model.transform(X2d[:, :7]).shape == (len(X), (4 + 1 + 2) * 6)


def test_gridsearch_uses_score_to_choose(data):
    X, y = data
    search = GridSearchCV(
        WassersteinSequenceEmbedder(**TINY, random_state=0),
        {"n_quantiles": [2, 6], "margin": [0.5, "soft"]},
        cv=2,
    )
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all((scores >= 0) & (scores <= 1))
    assert search.best_params_ == search.cv_results_["params"][int(np.argmax(scores))]
    assert 0 <= search.score(X, y) <= 1


def test_score_is_map_at_r_of_the_learned_distance(fitted, data):
    from sklearn_wdist.metrics import mean_average_precision_at_r

    X, y = data
    expected = mean_average_precision_at_r(fitted.pairwise_distances(X), y)
    assert fitted.score(X, y) == pytest.approx(expected)


def test_exact_distance_is_the_limit_of_the_quantile_distance(data):
    X, y = data
    errors = []
    for n_quantiles in (2, 16, 256, 4096):
        # max_epochs=0: the same initial encoder whatever n_quantiles is.
        model = WassersteinSequenceEmbedder(
            **{**TINY, "max_epochs": 0, "n_quantiles": n_quantiles},
            quantile_method="inverted_cdf",
            random_state=0,
        ).fit(X, y)
        exact = model.pairwise_distances(X[:8], exact=True)
        approx = model.pairwise_distances(X[:8])
        errors.append(np.abs(exact - approx).max() / exact.max())
    assert errors[0] > errors[1] > errors[2] > errors[3]
    assert errors[3] < 1e-3


def test_step_features_have_the_valid_lengths(fitted, data):
    X, _ = data
    features = fitted.step_features(X)
    rows = fitted.n_embedding_features_
    assert [f.shape for f in features] == [(rows, s.shape[-1]) for s in X]


def test_early_stopping_records_validation_score_and_stops():
    X, y = make_sequences(n_per_class=10, seed=3)
    model = _held_out_model(40, n_iter_no_change=2).fit(X, y)
    scores = model.history_[:, "valid_map_at_r"]
    assert all(0 <= s <= 1 for s in scores)
    assert len(scores) < 40


class CountEpochs(Callback):
    def initialize(self):
        self.epochs = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


def test_user_callbacks_and_verbose_output(data, capsys):
    X, y = data
    counter = CountEpochs()
    model = WassersteinSequenceEmbedder(
        **TINY, callbacks=[("count", counter)], verbose=1, random_state=0
    ).fit(X, y)
    assert dict(model.net_.callbacks_)["count"].epochs == TINY["max_epochs"]
    assert "train_loss" in capsys.readouterr().out


class ValidConv(nn.Module):
    """A user encoder without length support: kernel 3, no padding."""

    def __init__(self, in_channels=2):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, 3, 3)

    def forward(self, x):
        return self.conv(x)


def test_user_supplied_encoder(data):
    X, y = data
    encoder = ValidConv()
    before = [p.detach().clone() for p in encoder.parameters()]
    model = WassersteinSequenceEmbedder(
        encoder=encoder, n_quantiles=5, max_epochs=2, random_state=0
    ).fit(X, y)
    assert model.n_embedding_features_ == 3
    assert model.transform(X).shape == (len(X), 15)
    # "auto" leaves a user encoder's input as it is.
    assert model.whitening_matrix_ is None and model.whitening_mean_ is None
    # The user's module is copied, not trained in place.
    for old, new in zip(before, encoder.parameters(), strict=True):
        torch.testing.assert_close(old, new)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("make_y", "match"),
    [
        (lambda y: y[:-1], "y has 17 labels but X has 18"),
        (lambda y: np.zeros(len(y)), "1 class"),
        (lambda y: np.append(y[:-1], "lonely"), "fewer than 2 sequences"),
        (lambda y: y[:, None], "1-D"),
    ],
)
def test_bad_labels_are_rejected_before_training(data, make_y, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        WassersteinSequenceEmbedder(**TINY).fit(X, make_y(y))


def test_label_errors_point_to_label_free_training_and_count_the_classes(data):
    X, y = data
    with pytest.raises(ValueError, match=r"\('a'\).*fit\(X\) without y"):
        WassersteinSequenceEmbedder(**TINY).fit(X, np.full(len(y), "a"))
    # Every value its own class: the first five shown, and how many there are.
    with pytest.raises(
        ValueError, match=r"\[0, 1, 2, 3, 4\] and 13 more, 18 of 18 classes.*fit\(X\)"
    ):
        WassersteinSequenceEmbedder(**TINY).fit(X, np.arange(len(y)))


def test_bad_sequences_are_rejected(data):
    X, y = data
    bad = [s.copy() for s in X]
    bad[4][1, 3] = np.nan
    with pytest.raises(ValueError, match=r"X\[4\] contains NaN"):
        WassersteinSequenceEmbedder(**TINY).fit(bad, y)


def test_channel_mismatch_in_transform(fitted):
    with pytest.raises(ValueError, match=r"3 channel.*2 channel.*seen during fit"):
        fitted.transform(np.zeros((2, 3, 10)))


def test_one_sequence_given_as_a_2d_array_gets_a_hint(fitted, data):
    # A (2, T) array is two univariate sequences; after a 2-channel fit it is
    # most likely one sequence, and the message said "has 1 channel(s)".
    X, _ = data
    with pytest.raises(ValueError, match=r"x\[None\] or \[x\]"):
        fitted.transform(X[0])
    np.testing.assert_array_equal(
        fitted.transform(X[0][None]), fitted.transform([X[0]])
    )


def test_sequence_too_short_for_the_encoder(data):
    X, y = data
    X = [*X[:-1], X[-1][:, :2]]
    with pytest.raises(ValueError, match=r"length 2.*too short"):
        WassersteinSequenceEmbedder(encoder=ValidConv(), max_epochs=1).fit(X, y)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"p": 3}, "'p' parameter"),
        ({"mining": "hardest"}, "'mining' parameter"),
        ({"margin": -1.0}, "'margin' parameter"),
        ({"n_quantiles": 0}, "'n_quantiles' parameter"),
        ({"samples_per_class": 1}, "'samples_per_class' parameter"),
        ({"encoder": "conv"}, "'encoder' parameter"),
        ({"input_whitening": "pca"}, "'input_whitening' parameter"),
        # exp(N(0, 1e6**2)) overflowed float32 in training: a nan loss.
        ({"scale_std": 1e6}, "'scale_std' parameter"),
        pytest.param(
            {"device": "cuda"},
            "CUDA is not available",
            marks=pytest.mark.skipif(
                torch.cuda.is_available(), reason="checks the error without CUDA"
            ),
        ),
    ],
)
def test_bad_parameters(data, params, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        WassersteinSequenceEmbedder(**{**TINY, **params}).fit(X, y)


class NaNEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 3, 1)

    def forward(self, x):
        return self.conv(x) * float("nan")


def test_nan_loss_stops_with_error_and_keeps_the_previous_model(fitted, data):
    X, y = data
    model = pickle.loads(pickle.dumps(fitted))
    before = model.transform(X)
    with pytest.raises(FloatingPointError, match="loss became nan"):
        model.set_params(encoder=NaNEncoder()).fit(X, y)
    np.testing.assert_array_equal(model.transform(X), before)


def test_mean_pooling_baseline(data):
    X, y = data
    model = WassersteinSequenceEmbedder(**TINY, pooling="mean", random_state=0)
    embeddings = model.fit(X, y).transform(X)
    assert embeddings.shape == (len(X), 4 + 2 + 2 * len(model.difference_lags_))
    assert list(model.get_feature_names_out()[:2]) == ["f0_mean", "f1_mean"]
    features = model.step_features(X)
    np.testing.assert_allclose(
        embeddings, np.stack([f.mean(axis=1) for f in features]), rtol=1e-5, atol=1e-6
    )


def test_early_stopping_on_held_out_classes():
    X, y = make_sequences(n_per_class=4, seed=4)
    X2, y2 = make_sequences(n_per_class=4, seed=5)
    X, y = X + X2, np.concatenate([y, np.char.add(y2, "_b")])  # 6 classes
    model = WassersteinSequenceEmbedder(
        **TINY,
        early_stopping=True,
        validation_split="classes",
        validation_fraction=0.3,
        n_iter_no_change=2,
        random_state=0,
    ).fit(X, y)
    assert "valid_map_at_r" in model.history_[-1]
    sampler = model.net_.iterator_train__batch_sampler
    assert len(sampler._members) == 4  # 2 of 6 classes held out
    with pytest.raises(ValueError, match="at least 4 classes"):
        WassersteinSequenceEmbedder(
            **TINY, early_stopping=True, validation_split="classes"
        ).fit(*make_sequences())


def test_precomputed_pipeline_with_the_real_embedder(data):
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline

    from sklearn_wdist import WassersteinDistanceTransformer

    X, y = data
    pipe = make_pipeline(
        WassersteinSequenceEmbedder(**TINY, random_state=0),
        WassersteinDistanceTransformer(),
        KNeighborsClassifier(metric="precomputed"),
    )
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(
        pipe,
        {
            "wassersteinsequenceembedder__n_quantiles": [2, 6],
            "kneighborsclassifier__n_neighbors": [1, 3],
        },
        cv=cv,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.predict(X).shape == (len(X),)
    scores = cross_val_score(pipe, X, y, cv=cv, n_jobs=2)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    # The same pipeline, serially, gives the same scores: seeds flow through.
    np.testing.assert_array_equal(scores, cross_val_score(pipe, X, y, cv=cv))


def test_early_stopping_model_pickles_and_set_params_after_fit_is_inert():
    X, y = make_sequences(n_per_class=10, seed=6)
    model = WassersteinSequenceEmbedder(
        **TINY, early_stopping=True, validation_fraction=0.3, random_state=0
    ).fit(X, y)
    before = model.transform(X)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.transform(X), before)
    distances = model.pairwise_distances(X)
    model.set_params(p=1, n_quantiles=3, pooling="mean")
    np.testing.assert_array_equal(model.transform(X), before)
    np.testing.assert_array_equal(model.pairwise_distances(X), distances)
    assert len(model.get_feature_names_out()) == before.shape[1]


def test_stratified_validation_needs_two_validated_classes():
    X, y = make_sequences(n_per_class=3, seed=7)
    X, y = X + make_sequences(n_per_class=5, seed=8)[0][:5], np.append(y, ["big"] * 5)
    with pytest.raises(ValueError, match="at least 2 classes with 4 or more"):
        WassersteinSequenceEmbedder(**TINY, early_stopping=True).fit(X, y)


def test_validation_ranks_held_out_sequences_among_training_ones():
    rng = np.random.default_rng(4)
    queries, gallery = rng.normal(size=(5, 6)), rng.normal(size=(12, 6))
    codes, gallery_codes = np.array([0, 0, 1, 2, 3]), rng.integers(0, 3, 12)
    items = np.concatenate([queries, gallery])
    labels = np.concatenate([codes, gallery_codes])
    distances = cdist(queries, items)
    precisions = []
    for i in range(5):  # brute force: rank every other item, nearest first
        others = sorted((j for j in range(17) if j != i), key=lambda j: distances[i, j])
        r = sum(labels[j] == labels[i] for j in others)
        if r == 0:
            continue  # class 3 has no other item: no query
        hits = [labels[j] == labels[i] for j in others[:r]]
        precisions.append(sum(np.mean(hits[: k + 1]) for k in range(r) if hits[k]) / r)
    expected = np.mean(precisions)
    score = retrieval_score(queries, codes, 2, gallery, gallery_codes)
    assert score == pytest.approx(expected, abs=1e-12)
    # Without a gallery: the held-out sequences rank each other only.
    assert retrieval_score(queries, codes, 2) == pytest.approx(
        mean_average_precision_at_r(cdist(queries, queries), codes)
    )


def test_validation_gallery_is_a_bounded_stratified_sample():
    codes = np.repeat([2, 0, 1], [100, 50, 10])
    picked = stratified_sample(codes, 32)
    assert len(picked) == 32 and len(set(picked)) == 32
    assert np.all(np.diff(picked) > 0)
    counts = np.bincount(codes[picked], minlength=3)
    assert np.all(np.abs(counts - 32 * np.array([50, 10, 100]) / 160) <= 1)
    np.testing.assert_array_equal(stratified_sample(codes, 1000), np.arange(160))


@pytest.mark.parametrize("validation_split", ["stratified", "classes"])
def test_a_large_validation_set_is_capped(monkeypatch, validation_split):
    # At most _VALIDATION_GALLERY held-out sequences are scored, so a default
    # fit on a million labelled sequences does not rank 200,000 of them.
    monkeypatch.setattr(_embedder, "_VALIDATION_GALLERY", 6)
    X, y = make_sequences(n_per_class=20, seed=11)
    # Six classes (the class split needs four or more): two per sampler.
    y = [f"{label}-{i % 2}" for i, label in enumerate(y)]
    codes = np.unique(y, return_inverse=True)[1]
    assert codes.max() == 5
    model = WassersteinSequenceEmbedder(
        **TINY,
        early_stopping="auto",
        validation_fraction=0.5,
        validation_split=validation_split,
        random_state=0,
    )
    train, valid = model._split(codes, seed=3)
    assert len(valid) == 6 and len(np.unique(codes[valid])) >= 2
    assert not set(train) & set(valid)
    if validation_split == "stratified":
        # The held-out sequences beyond the cap train rather than being lost.
        np.testing.assert_array_equal(
            np.sort(np.append(train, valid)), np.arange(len(y))
        )
    else:
        # Held-out classes stay out of training whole.
        assert not set(codes[train]) & set(codes[valid])
    model.fit(X, y)
    assert len(model.history_) >= 1 and "valid_map_at_r" in model.history_[-1]


@pytest.mark.parametrize("validation_split", ["stratified", "classes"])
def test_validation_gallery_follows_the_split(monkeypatch, validation_split):
    # Held-out sequences of training classes are ranked among training
    # sequences; held-out classes only among themselves.
    seen = []

    def recording(embeddings, codes, p, gallery=None, gallery_codes=None):
        seen.append(None if gallery is None else (len(gallery), set(gallery_codes)))
        return retrieval_score(embeddings, codes, p, gallery, gallery_codes)

    monkeypatch.setattr(_training, "retrieval_score", recording)
    X, y = make_sequences(n_per_class=10, seed=12)
    y = [f"{label}-{i % 2}" for i, label in enumerate(y)]  # six classes
    model = WassersteinSequenceEmbedder(
        **TINY,
        early_stopping="auto",
        validation_split=validation_split,
        validation_fraction=0.35,
        random_state=0,
    ).fit(X, y)
    assert len(seen) == len(model.history_) > 0
    if validation_split == "classes":
        assert seen == [None] * len(seen)
    else:
        assert all(entry[0] > 0 and len(entry[1]) == 6 for entry in seen)


def test_fitted_model_keeps_no_validation_sequences():
    X, y = make_sequences(n_per_class=10, seed=13)
    model = WassersteinSequenceEmbedder(
        **TINY, early_stopping="auto", validation_fraction=0.3, random_state=0
    ).fit(X, y)
    assert "valid_map_at_r" in model.history_[-1]
    scoring = dict(model.net_.callbacks_)["valid_scoring"]
    assert scoring.sequences is None and scoring.gallery is None
    # The pickle is as small as that of a model trained without a hold-out.
    plain = WassersteinSequenceEmbedder(
        **TINY, early_stopping=False, random_state=0
    ).fit(X, y)
    assert len(pickle.dumps(model)) < 1.2 * len(pickle.dumps(plain))


def test_warm_start_flags_the_best_epoch_of_its_own_fit(monkeypatch):
    X, y = make_sequences(n_per_class=10, seed=14)
    scores = iter([0.9, 0.8, 0.5, 0.6])
    monkeypatch.setattr(_training, "retrieval_score", lambda *a, **k: next(scores))
    model = _held_out_model(2, n_iter_no_change=5, warm_start=True)
    model.fit(X, y).fit(X, y)
    # The second fit's first epoch is its best so far, whatever the first
    # fit scored, as its early stopping sees it.
    assert model.history_[:, "valid_map_at_r_best"] == [True, False, True, True]
    # Epochs are counted over both fits; the kept weights are the second's best.
    assert model.n_iter_ == 4
    np.testing.assert_array_equal(model.validation_scores_, [0.9, 0.8, 0.5, 0.6])
    assert (model.best_epoch_, model.best_validation_score_) == (4, 0.6)


def test_training_length_attributes_without_a_hold_out(monkeypatch):
    X, y = make_sequences(n_per_class=10, seed=15)
    model = WassersteinSequenceEmbedder(
        **{**TINY, "max_epochs": 2}, early_stopping=False, random_state=0
    ).fit(X, y)
    assert model.n_iter_ == 2 == len(model.history_)
    assert model.validation_scores_ is None
    assert model.best_epoch_ is None and model.best_validation_score_ is None
    # A warm start that holds sequences out: the first fit's epochs have none.
    scores = iter([0.4, 0.7, 0.5])
    monkeypatch.setattr(_training, "retrieval_score", lambda *a, **k: next(scores))
    model.set_params(
        warm_start=True,
        early_stopping=True,
        validation_fraction=0.3,
        max_epochs=3,
    ).fit(X, y)
    assert model.n_iter_ == 5
    np.testing.assert_array_equal(
        model.validation_scores_, [np.nan, np.nan, 0.4, 0.7, 0.5]
    )
    assert (model.best_epoch_, model.best_validation_score_) == (4, 0.7)
    # And back to no hold-out: no best epoch, the scores stay in the history.
    model.set_params(early_stopping=False, max_epochs=1).fit(X, y)
    assert model.n_iter_ == 6 and model.best_epoch_ is None
    np.testing.assert_array_equal(
        model.validation_scores_, [np.nan, np.nan, 0.4, 0.7, 0.5, np.nan]
    )


def test_training_length_after_a_fit_without_epochs(monkeypatch):
    X, y = make_sequences(n_per_class=10, seed=16)
    scores = iter([0.4, 0.7, 0.5])
    monkeypatch.setattr(_training, "retrieval_score", lambda *a, **k: next(scores))
    model = _held_out_model(3, warm_start=True).fit(X, y)
    assert (model.best_epoch_, model.best_validation_score_) == (2, 0.7)
    # A warm start that trains nothing keeps the weights of epoch 2: so does
    # best_epoch_.
    model.set_params(max_epochs=0).fit(X, y)
    assert (model.n_iter_, model.best_epoch_, model.best_validation_score_) == (
        3,
        2,
        0.7,
    )
    # A fresh fit without epochs has new weights: no best epoch.
    model.set_params(warm_start=False).fit(X, y)
    assert (model.n_iter_, model.best_epoch_, model.validation_scores_) == (
        0,
        None,
        None,
    )


def test_training_length_when_no_held_out_score_is_finite(monkeypatch):
    X, y = make_sequences(n_per_class=10, seed=17)
    monkeypatch.setattr(_training, "retrieval_score", lambda *a, **k: np.nan)
    model = _held_out_model(4, n_iter_no_change=2).fit(X, y)
    # Nothing improved: training stopped after the patience, on the last
    # epoch's weights, and no epoch is called the best.
    assert model.n_iter_ == 2
    assert np.isnan(model.validation_scores_).all()
    assert model.best_epoch_ is None and model.best_validation_score_ is None


def test_auto_early_stopping_holds_out_only_what_the_data_can_spare():
    X, y = make_sequences(n_per_class=10, seed=9)
    small_X, small_y = make_sequences(n_per_class=3, seed=10)
    settings = dict(**TINY, validation_fraction=0.3, n_iter_no_change=2)

    def fitted(early_stopping, X, y):
        model = WassersteinSequenceEmbedder(
            **settings, early_stopping=early_stopping, random_state=0
        )
        return model.fit(X, y)

    # Enough labelled data: exactly what early_stopping=True does.
    auto, on = fitted("auto", X, y), fitted(True, X, y)
    assert "valid_map_at_r" in auto.history_[-1]
    assert auto.history_[:, "valid_map_at_r"] == on.history_[:, "valid_map_at_r"]
    np.testing.assert_array_equal(auto.transform(X), on.transform(X))
    # Classes of 3 cannot give 2 to each side, and fit(X) has no labels:
    # every sequence trains, as with early_stopping=False (True refuses both).
    for train_y in (small_y, None):
        auto, off = fitted("auto", small_X, train_y), fitted(False, small_X, train_y)
        assert "valid_map_at_r" not in auto.history_[-1]
        assert len(auto.history_) == TINY["max_epochs"]
        np.testing.assert_array_equal(auto.transform(small_X), off.transform(small_X))
        with pytest.raises(ValueError, match="early_stopping=True"):
            fitted(True, small_X, train_y)


def test_auto_early_stopping_refuses_a_monitor_it_cannot_feed_before_training():
    X, y = make_sequences(n_per_class=3, seed=10)
    stop = EarlyStopping(monitor="valid_map_at_r", lower_is_better=False)
    model = WassersteinSequenceEmbedder(**TINY, early_stopping="auto", callbacks=[stop])
    with pytest.raises(ValueError, match="early_stopping='auto' holds none out"):
        model.fit(X, y)
    assert not hasattr(model, "net_")
    # With data to hold out, the same callback works.
    X, y = make_sequences(n_per_class=10, seed=9)
    model.set_params(validation_fraction=0.3).fit(X, y)
    assert "valid_map_at_r" in model.history_[-1]


def test_mixed_label_types_are_distinct_and_bad_score_labels_rejected(fitted, data):
    X, y = data
    mixed = np.asarray(y, dtype=object)
    mixed[:6] = 1
    model = WassersteinSequenceEmbedder(**TINY).fit(X, list(mixed))
    assert len(model.classes_) == len(set(mixed.tolist()))
    with pytest.raises(ValueError, match="y must be 1-D"):
        fitted.score(X, 3)


def test_values_beyond_float32_are_rejected_clearly(data):
    X, y = data
    big = [s.astype(np.float64) for s in X]
    big[2][0, 0] = 1e300
    with pytest.raises(ValueError, match=r"X\[2\] has values beyond the float32"):
        WassersteinSequenceEmbedder(**TINY).fit(big, y)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"device": "gpu"}, ValueError, "device='gpu' is not a torch device"),
        ({"optimizer": int}, TypeError, "optimizer must be a torch.optim.Optimizer"),
    ],
)
def test_bad_device_and_optimizer(data, params, error, match):
    X, y = data
    with pytest.raises(error, match=match):
        WassersteinSequenceEmbedder(**{**TINY, **params}).fit(X, y)


def test_step_features_keep_input_order_with_one_long_sequence(fitted, data):
    X, _ = data
    long = np.random.default_rng(0).normal(size=(2, 500)).astype("float32")
    features = fitted.step_features([X[0], long, X[1]])
    assert [f.shape[1] for f in features] == [X[0].shape[1], 500, X[1].shape[1]]
    np.testing.assert_allclose(features[0], fitted.step_features([X[0]])[0], atol=1e-6)


def test_whitening_is_applied_before_the_encoder(data):
    """The encoder sees ``matrix @ (x - mean)``, computed in float64, cast last.

    The reference whitening is computed here with NumPy from the fitted mean and
    matrix, and run through the fitted module directly; the fitted matrix itself
    is checked against the within-class covariance in ``tests/test_whitening.py``.
    """
    X, y = data
    X = [x * np.array([[1.0], [5.0]], dtype="float32") + 2.0 for x in X]
    whitened = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)
    assert whitened.whitening_matrix_.shape == (2, 2)
    manual = [
        (
            whitened.whitening_matrix_
            @ (x.astype(np.float64) - whitened.whitening_mean_[:, None])
        ).astype("float32")
        for x in X
    ]
    expected = embed_sequences(
        whitened.module_, manual, whitened.embedding_scale_, n_threads=1
    )
    np.testing.assert_array_equal(whitened.transform(X), expected)
    features = whitened.step_features(X[:2])
    reference = sequence_step_features(whitened.module_, manual[:2], n_threads=1)
    for a, b in zip(features, reference, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(
        whitened.pairwise_distances(X[:4], exact=True),
        pairwise_wasserstein_exact(
            sequence_step_features(whitened.module_, manual[:4], n_threads=1), p=1
        ),
        rtol=1e-12,
    )


def test_whitening_of_a_user_encoder_on_request(data):
    X, y = data
    encoder = ValidConv()  # deep-copied by fit: both models start from its weights
    params = dict(encoder=encoder, n_quantiles=5, max_epochs=2, random_state=0)
    model = WassersteinSequenceEmbedder(input_whitening="within_class", **params)
    model.fit(X, y)
    manual = [
        (model.whitening_matrix_ @ (x - model.whitening_mean_[:, None])).astype(
            "float32"
        )
        for x in X
    ]
    plain = WassersteinSequenceEmbedder(**params).fit(manual, y)
    assert plain.whitening_matrix_ is None
    np.testing.assert_allclose(
        model.transform(X), plain.transform(manual), rtol=1e-5, atol=1e-6
    )


def test_whitening_is_fitted_on_the_training_part_only():
    X, y = make_sequences(n_per_class=8)
    model = WassersteinSequenceEmbedder(
        **TINY, early_stopping=True, n_iter_no_change=2, random_state=0
    ).fit(X, y)
    # The split fit draws: the same seed, derived from random_state=0.
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    codes = np.unique(y, return_inverse=True)[1]
    train, valid = _split_validation(codes, 0.1, np.random.default_rng(seed))
    assert len(valid) > 0
    train_steps = np.concatenate([X[i] for i in train], axis=1).astype(np.float64)
    all_steps = np.concatenate(X, axis=1).astype(np.float64)
    np.testing.assert_allclose(model.whitening_mean_, train_steps.mean(axis=1))
    assert not np.allclose(model.whitening_mean_, all_steps.mean(axis=1))


def test_difference_rows_follow_the_input_rows(data):
    X, y = data
    # Without the input rows there is nothing to difference: ignored.
    bare = WassersteinSequenceEmbedder(
        **TINY, include_input=False, include_differences=True, random_state=0
    ).fit(X, y)
    assert bare.n_embedding_features_ == 4
    # Unweighted, so that the kept rows can be compared across the two fits.
    kept = WassersteinSequenceEmbedder(
        **TINY, include_differences=False, input_row_weighting=None, random_state=0
    ).fit(X, y)
    assert kept.n_embedding_features_ == 4 + 2
    both = WassersteinSequenceEmbedder(
        **TINY, include_differences=True, input_row_weighting=None, random_state=0
    ).fit(X, y)
    assert both.n_embedding_features_ == 4 + 2 + 2
    # The kept input rows do not depend on the training loss (the same batches
    # set their statistics), so they are the model's without differences; the
    # learned rows are not, since the differences enter the distance.
    with_differences, without = both.step_features(X)[0], kept.step_features(X)[0]
    np.testing.assert_allclose(with_differences[4:6], without[4:6], rtol=1e-6)
    assert not np.allclose(with_differences[:4], without[:4])


def test_multiscale_difference_rows_follow_the_median_length():
    rng = np.random.default_rng(4)
    lengths = [40, 48, 50, 60, 64, 70]  # median 55: lags 1, 2 and 4
    X = [rng.normal(size=(2, n)).astype("float32") for n in lengths * 2]
    y = np.repeat(["a", "b"], len(lengths))
    model = WassersteinSequenceEmbedder(
        **TINY, include_differences="multiscale", random_state=0
    ).fit(X, y)
    assert model.n_embedding_features_ == 4 + 2 * (1 + 3)
    assert len(model.input_row_weights_) == 2 * (1 + 3)
    assert model.transform(X).shape == (len(X), (4 + 2 * 4) * TINY["n_quantiles"])
    # The first differences are the first two difference rows.
    single = WassersteinSequenceEmbedder(
        **TINY, include_differences=True, input_row_weighting=None, random_state=0
    ).fit(X, y)
    assert single.difference_lags_ == (1,)
    multi = WassersteinSequenceEmbedder(
        **TINY,
        include_differences="multiscale",
        input_row_weighting=None,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_allclose(
        multi.step_features(X)[0][4:8], single.step_features(X)[0][4:8], rtol=1e-5
    )


def test_bad_include_differences_names_the_parameter(data):
    X, y = data
    with pytest.raises(ValueError, match="include_differences"):
        WassersteinSequenceEmbedder(**TINY, include_differences="lags").fit(X, y)


def _brute_force_row_weights(quantiles, labels, p):
    """(mean(s) / s_k) ** (1/p); s_k: mean W_p ** p of row k over same-class pairs."""
    total, pairs = np.zeros(quantiles.shape[1]), 0
    for a, b in itertools.permutations(range(len(quantiles)), 2):
        if labels[a] == labels[b]:
            total += (np.abs(quantiles[a] - quantiles[b]) ** p).mean(axis=1)
            pairs += 1
    spread = total / pairs
    return (spread.mean() / spread) ** (1.0 / p)


@pytest.mark.parametrize("p", [1, 2])
def test_input_row_weights_match_a_brute_force_reference(data, p):
    X, y = data
    # Every sequence trains (no hold-out), so the spread is over all of them.
    settings = dict(**TINY, p=p, early_stopping=False, random_state=0)
    plain = WassersteinSequenceEmbedder(**settings, input_row_weighting=None)
    plain.fit(X, y)
    weighted = WassersteinSequenceEmbedder(
        **settings, input_row_weighting="within_class"
    ).fit(X, y)
    assert plain.input_row_weights_ is None
    n_rows, n_levels, learned = plain.n_embedding_features_, TINY["n_quantiles"], 4
    quantiles = plain.transform(X).reshape(len(X), n_rows, n_levels)
    quantiles /= plain.embedding_scale_
    expected = _brute_force_row_weights(quantiles[:, learned:], y, p)
    np.testing.assert_allclose(weighted.input_row_weights_, expected, rtol=1e-4)
    assert not np.allclose(expected, 1.0)  # the test data give the rows unequal spread
    # Training does not see the weights: the learned rows are the same, the
    # kept rows are scaled, in transform and in the encoder's per-step output.
    Z = weighted.transform(X).reshape(len(X), n_rows, n_levels)
    np.testing.assert_allclose(
        Z[:, :learned],
        quantiles[:, :learned] * plain.embedding_scale_,
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        Z[:, learned:],
        quantiles[:, learned:] * plain.embedding_scale_ * expected[:, None],
        rtol=1e-4,
        atol=1e-6,
    )
    steps_plain, steps_weighted = (
        plain.step_features(X)[0],
        weighted.step_features(X)[0],
    )
    np.testing.assert_allclose(
        steps_weighted[learned:],
        steps_plain[learned:] * expected[:, None],
        rtol=1e-4,
        atol=1e-6,
    )


def test_within_class_row_weights_need_labels_and_kept_rows(data):
    X, y = data
    label_free = WassersteinSequenceEmbedder(
        **TINY, input_row_weighting="within_class", random_state=0
    ).fit(X)
    assert label_free.input_row_weights_ is None
    weights = label_free.module_.encoder.kept_row_weights
    torch.testing.assert_close(weights, torch.ones_like(weights))
    for weighting in ("total", "within_class"):
        bare = WassersteinSequenceEmbedder(
            **TINY, include_input=False, input_row_weighting=weighting, random_state=0
        )
        assert bare.fit(X, y).input_row_weights_ is None
        assert bare.fit(X).input_row_weights_ is None


@pytest.mark.parametrize(
    "pooling, rule", [("quantile", "total"), ("mean", "within_class")]
)
def test_auto_row_weighting_follows_the_pooling(data, pooling, rule):
    X, y = data
    settings = dict(**TINY, pooling=pooling, random_state=0)
    auto = WassersteinSequenceEmbedder(**settings).fit(X, y)
    assert auto.input_row_weighting == "auto"
    named = WassersteinSequenceEmbedder(**settings, input_row_weighting=rule)
    np.testing.assert_array_equal(
        auto.input_row_weights_, named.fit(X, y).input_row_weights_
    )
    other = "within_class" if rule == "total" else "total"
    different = WassersteinSequenceEmbedder(**settings, input_row_weighting=other)
    assert not np.allclose(
        auto.input_row_weights_, different.fit(X, y).input_row_weights_
    )


def _brute_force_total_row_weights(quantiles, n_learned, p):
    """(mean of s_k over learned rows / s_k) ** (1/p) for the kept rows.

    s_k: mean W_p ** p of row k over all ordered pairs of sequences.
    """
    pairs = itertools.permutations(range(len(quantiles)), 2)
    spread = np.mean(
        [(np.abs(quantiles[a] - quantiles[b]) ** p).mean(axis=1) for a, b in pairs],
        axis=0,
    )
    return (spread[:n_learned].mean() / spread[n_learned:]) ** (1.0 / p)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("labelled", [False, True])
def test_total_row_weights_match_a_brute_force_reference(data, p, labelled):
    X, y = data
    y = y if labelled else None
    settings = dict(**TINY, p=p, early_stopping=False, random_state=0)
    plain = WassersteinSequenceEmbedder(**settings, input_row_weighting=None)
    plain.fit(X, y)
    weighted = WassersteinSequenceEmbedder(**settings, input_row_weighting="total")
    weighted.fit(X, y)
    n_rows, n_levels, learned = plain.n_embedding_features_, TINY["n_quantiles"], 4
    quantiles = plain.transform(X).reshape(len(X), n_rows, n_levels)
    quantiles /= plain.embedding_scale_
    expected = _brute_force_total_row_weights(quantiles, learned, p)
    np.testing.assert_allclose(weighted.input_row_weights_, expected, rtol=1e-4)
    assert not np.allclose(expected, 1.0)  # the rows' spreads differ here
    Z = weighted.transform(X).reshape(len(X), n_rows, n_levels)
    np.testing.assert_allclose(
        Z,
        quantiles * plain.embedding_scale_ * np.r_[np.ones(learned), expected][:, None],
        rtol=1e-4,
        atol=1e-6,
    )


def test_total_row_weights_come_from_a_bounded_even_sample():
    from sklearn_wdist._row_weights import fit_total_row_weights

    rng = np.random.default_rng(6)
    quantiles = rng.normal(size=(1000, 3, 4))
    quantiles[:, 2] *= 0.1  # a kept row that hardly varies
    quantiles[:, 0] *= 2.0  # a learned row
    embedded = []

    def embed(indices):
        embedded.append(indices)
        return quantiles[indices].reshape(len(indices), -1)

    weights = fit_total_row_weights(embed, 1000, n_rows=2, n_levels=4, p=2)
    (indices,) = embedded
    assert len(indices) == 256 and indices[0] == 0 and indices[-1] == 999
    expected = _brute_force_total_row_weights(quantiles[indices], 1, 2)
    np.testing.assert_allclose(weights, expected, rtol=1e-10)
    # Put on the learned row's spread: about 2 and 20 times their own scale.
    np.testing.assert_allclose(weights, [2.0, 20.0], rtol=0.1)


def test_total_row_weights_without_learned_spread_use_the_kept_rows_mean():
    from sklearn_wdist._row_weights import fit_total_row_weights

    rng = np.random.default_rng(7)
    quantiles = rng.normal(size=(30, 3, 4))
    quantiles[:, 0] = 1.5  # a learned row that never varies
    quantiles[:, 2] *= 3.0

    def embed(indices):
        return quantiles[indices].reshape(len(indices), -1)

    weights = fit_total_row_weights(embed, 30, n_rows=2, n_levels=4, p=2)
    spread = _brute_force_spread(quantiles[:, 1:], 2)
    np.testing.assert_allclose(weights, np.sqrt(spread.mean() / spread), rtol=1e-10)
    # With no learned row at all, the same.
    kept_only = fit_total_row_weights(
        lambda i: quantiles[i, 1:].reshape(len(i), -1), 30, 2, 4, 2
    )
    np.testing.assert_allclose(kept_only, weights, rtol=1e-12)
    # One sequence has no pair: every row weighs 1.
    np.testing.assert_array_equal(
        fit_total_row_weights(embed, 1, n_rows=2, n_levels=4, p=2), np.ones(2)
    )


def _groups(quantiles, codes):
    return [(quantiles[codes == c], int((codes == c).sum())) for c in np.unique(codes)]


def test_input_row_weights_keep_rows_without_spread_at_one():
    from sklearn_wdist._row_weights import (
        row_magnitudes,
        spread_weights,
        within_class_spread,
    )

    rng = np.random.default_rng(3)
    quantiles = rng.normal(size=(9, 3, 5))
    quantiles[:, 1] = 2.0  # the same in every sequence
    codes = np.repeat([0, 1, 2], 3)
    spread = within_class_spread(_groups(quantiles, codes), 2, 3)
    assert spread[1] == 0.0
    same_class = [
        (np.abs(quantiles[a] - quantiles[b]) ** 2).mean(axis=1)
        for a, b in itertools.permutations(range(9), 2)
        if codes[a] == codes[b]
    ]
    np.testing.assert_allclose(spread, np.mean(same_class, axis=0), rtol=1e-12)
    weights = spread_weights(spread, 2, row_magnitudes(quantiles))
    assert weights[1] == 1.0
    # The rows with spread are put on their mean spread.
    np.testing.assert_allclose(
        weights[[0, 2]] ** 2 * spread[[0, 2]], spread[[0, 2]].mean()
    )
    np.testing.assert_array_equal(
        spread_weights(np.zeros(3), 2, np.ones(3)), np.ones(3)
    )
    # A class of one sequence has no pairs.
    np.testing.assert_allclose(
        within_class_spread(_groups(quantiles[:4], np.array([0, 0, 0, 1])), 2, 3),
        within_class_spread(_groups(quantiles[:3], np.zeros(3, dtype=int)), 2, 3),
    )


@pytest.mark.parametrize("p", [1, 2])
def test_input_row_weights_follow_every_pair_under_class_imbalance(p):
    from sklearn_wdist._row_weights import fit_row_weights

    # One class of 1000 sequences and twenty of 5; row 1 spreads ten times
    # more in the small classes. Every ordered same-class pair counts once, so
    # the large class (999000 pairs against 400) decides the weights, although
    # only a sample of it is embedded.
    rng = np.random.default_rng(4)
    codes = np.concatenate([np.zeros(1000, dtype=int), np.repeat(np.arange(1, 21), 5)])
    quantiles = rng.normal(size=(len(codes), 2, 3))
    quantiles[codes > 0, 1] *= 10.0
    embedded = []

    def embed(indices):
        embedded.append(len(indices))
        return quantiles[indices].reshape(len(indices), -1)

    weights = fit_row_weights(embed, codes, n_rows=2, n_levels=3, p=p)
    assert max(embedded) == 256  # one bounded class sample at a time
    exact = [
        _brute_force_spread(quantiles[codes == c], p) * n * (n - 1)
        for c, n in zip(*np.unique(codes, return_counts=True), strict=True)
    ]
    pairs = sum(n * (n - 1) for n in np.unique(codes, return_counts=True)[1])
    spread = np.sum(exact, axis=0) / pairs
    expected = (spread.mean() / spread) ** (1.0 / p)
    np.testing.assert_allclose(weights, expected, rtol=0.05)


def test_rows_that_vary_only_by_rounding_keep_weight_one():
    from sklearn_wdist._row_weights import spread_weights

    ones = np.ones(2)
    np.testing.assert_array_equal(
        spread_weights(np.array([1.0, 1e-20]), 2, ones), [1, 1]
    )
    # With p=1 the spread is a distance: 1e-8 of a row whose values are about
    # 1 is float32 rounding (it was weighted up 1e8 times), 1e-3 is not.
    np.testing.assert_array_equal(
        spread_weights(np.array([1.0, 1e-8]), 1, ones), [1, 1]
    )
    np.testing.assert_allclose(
        spread_weights(np.array([1.0, 1e-3]), 1, ones), [0.5005, 500.5]
    )
    np.testing.assert_allclose(
        spread_weights(np.array([1.0, 0.25]), 2, ones), [0.625**0.5, 2.5**0.5]
    )


def test_difference_rows_are_rounded_as_the_values_they_come_from():
    # A difference row carries the rounding of the normalised input it is
    # taken from, scaled by the difference normalisation; measured against
    # its own small magnitude, a ramp's constant differences looked varied.
    import torch

    from sklearn_wdist._row_weights import rounding_magnitudes, rows_that_vary
    from sklearn_wdist.nn import ConvEncoder

    encoder = ConvEncoder(
        2, n_features=3, include_input=True, include_differences=(1, 2)
    )
    norm = encoder.difference_norm
    with torch.no_grad():
        norm.running_var.copy_(torch.tensor([4.0, 0.25, 1.0, 1e-12]))
        norm.varied.copy_(torch.tensor([True, True, True, False]))
    sources, gains = encoder.kept_row_sources()
    assert sources.tolist() == [0, 1, 0, 1, 0, 1]
    eps = norm.eps
    expected = [1.0, 1.0, 2 / np.sqrt(4 + eps), 2 / np.sqrt(0.25 + eps)]
    np.testing.assert_allclose(gains, [*expected, 2 / np.sqrt(1 + eps), 2.0])
    magnitude = np.array([3.0, 2.0, 0.01, 0.01, 0.01, 0.01])
    rounded = rounding_magnitudes(magnitude, (sources, gains))
    np.testing.assert_allclose(rounded[:2], [3.0, 2.0])
    np.testing.assert_allclose(rounded[2], 3.0 * gains[2])
    # Differences spread by 5e-8 around 0.01: rounding of values near 3.
    spread = np.full(6, 5e-8)
    assert rows_that_vary(spread, 1, magnitude)[2:].all()
    assert not rows_that_vary(spread, 1, rounded).any()
    assert rounding_magnitudes(magnitude, None) is magnitude


def test_a_user_encoder_with_kept_rows_is_weighted_without_their_sources():
    # kept_row_weights is read from any encoder; one without the built-in
    # encoders' kept_row_sources crashed the fit with an AttributeError.
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(2, 3, 1)
            self.register_buffer("kept_row_weights", torch.ones(2))

        def forward(self, x):
            return torch.cat(
                [self.conv(x), x * self.kept_row_weights[None, :, None]], 1
            )

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 8)
    X = rng.normal(size=(16, 2, 20)) * np.array([1.0, 5.0])[None, :, None]
    model = WassersteinSequenceEmbedder(
        encoder=Encoder(),
        input_row_weighting="total",
        n_quantiles=4,
        max_epochs=1,
        random_state=0,
        n_threads=1,
    ).fit(X, y)
    weights = np.asarray(model.input_row_weights_)
    assert weights.shape == (2,) and np.all(weights > 0)
    assert weights[0] > weights[1]  # the wider row is weighted down


# Three offset ramps are far apart from the start: no triplet trains, as the
# warning says, which does not matter for the weights tested here.
@pytest.mark.filterwarnings("ignore:The training loss was 0:UserWarning")
@pytest.mark.parametrize("p", [1, 2])
def test_a_ramps_constant_differences_keep_weight_one(p):
    # The differences of a ramp are constant up to float32 rounding: with p=1
    # they got weights of about 1e7 and outweighed every other row.
    y = np.repeat([0, 1, 2], 6)
    X = [(0.1 * np.arange(20 + i) + 3.0 * c)[None] for i, c in enumerate(y)]
    model = WassersteinSequenceEmbedder(
        n_quantiles=4, max_epochs=2, random_state=0, n_threads=1, p=p
    ).fit(X, y)
    weights = np.asarray(model.input_row_weights_)
    assert weights[0] != 1.0  # the values vary
    np.testing.assert_array_equal(weights[1:], 1.0)  # their increments do not


@pytest.mark.parametrize("n", [2, 3, 12, 200])
@pytest.mark.parametrize("p", [1, 2])
def test_pair_spread_over_every_member_matches_brute_force(n, p):
    from sklearn_wdist._row_weights import pair_spread

    rng = np.random.default_rng(5)
    members = rng.standard_cauchy(size=(n, 3, 4))  # heavy tails, no outlier lost
    members[:, 0] = np.round(members[:, 0])  # ties
    np.testing.assert_allclose(
        pair_spread(members, p), _brute_force_spread(members, p), rtol=1e-10
    )
    # An offset far above the spread costs nothing (float32 rows near 1e6).
    offset = (members + 1e6).astype(np.float32)
    np.testing.assert_allclose(
        pair_spread(offset, p),
        _brute_force_spread(offset.astype(np.float64), p),
        rtol=1e-9,
    )


def _brute_force_spread(quantiles, p):
    gaps = [
        (np.abs(quantiles[a] - quantiles[b]) ** p).mean(axis=1)
        for a, b in itertools.permutations(range(len(quantiles)), 2)
    ]
    return np.mean(gaps, axis=0)


@pytest.mark.parametrize("buffer", ["kept_row_weights", "input_gates"])
def test_encoder_state_saved_before_a_buffer_loads_it_as_ones(buffer):
    from sklearn_wdist.nn import ConvEncoder

    encoder = ConvEncoder(2, n_features=3, n_layers=1, include_input=True)
    state = encoder.state_dict()
    del state[buffer]
    restored = ConvEncoder(2, n_features=3, n_layers=1, include_input=True)
    getattr(restored, buffer).fill_(5.0)
    restored.load_state_dict(state)
    torch.testing.assert_close(getattr(restored, buffer), torch.ones(2))


def test_input_row_weights_come_from_a_bounded_sample_of_each_class():
    from sklearn_wdist._row_weights import class_samples

    codes = np.repeat(np.arange(5), [2, 3, 1, 600, 4])
    # Small classes whole, a class of one left out, a large one evenly thinned;
    # each sample carries the size of its whole class.
    samples = class_samples(codes, max_members=256, max_classes=256)
    assert [size for _, size in samples] == [2, 3, 600, 4]
    assert [len(indices) for indices, _ in samples] == [2, 3, 256, 4]
    large = samples[2][0]
    assert large[0] == 6 and large[-1] == 605  # the first and the last member
    assert all(np.all(codes[i] == codes[i][0]) for i, _ in samples)
    many = np.repeat(np.arange(1000), 2)
    assert len(class_samples(many, max_classes=256)) == 256
    assert class_samples(np.arange(5)) == []


def test_input_row_weights_are_measured_on_unweighted_rows(data):
    X, y = data

    class LeaveWeights(Callback):
        """Leave non-unit kept-row weights behind, as a loaded checkpoint would."""

        def on_train_end(self, net, **kwargs):
            net.module_.encoder.kept_row_weights.fill_(3.0)

    plain = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)
    loaded = WassersteinSequenceEmbedder(
        **TINY, callbacks=[LeaveWeights()], random_state=0
    ).fit(X, y)
    np.testing.assert_allclose(loaded.input_row_weights_, plain.input_row_weights_)
    unweighted = WassersteinSequenceEmbedder(
        **TINY, input_row_weighting=None, callbacks=[LeaveWeights()], random_state=0
    ).fit(X, y)
    assert unweighted.input_row_weights_ is None
    weights = unweighted.module_.encoder.kept_row_weights
    torch.testing.assert_close(weights, torch.ones_like(weights))


@pytest.mark.parametrize("include_differences", [True, False])
def test_models_pickled_before_the_difference_lags_still_work(
    data, include_differences
):
    X, y = data
    model = WassersteinSequenceEmbedder(
        **TINY, include_differences=include_differences, random_state=0
    ).fit(X, y)
    expected = model.transform(X)
    # What an older version pickled: lag 1 or no difference rows, no lags.
    del model.__dict__["difference_lags_"]
    del model.module_.encoder.__dict__["difference_lags"]
    if not include_differences:
        assert model.module_.encoder.difference_norm is None
    restored = pickle.loads(pickle.dumps(model))
    assert restored.difference_lags_ == ((1,) if include_differences else ())
    np.testing.assert_array_equal(restored.transform(X), expected)


def test_user_encoder_has_no_difference_lags_even_after_unpickling(data):
    from sklearn_wdist.nn import ConvEncoder

    X, y = data
    encoder = ConvEncoder(
        2, n_features=3, include_input=True, include_differences=[1, 2]
    )
    model = WassersteinSequenceEmbedder(**TINY, encoder=encoder, random_state=0).fit(
        X, y
    )
    assert model.difference_lags_ is None
    del model.__dict__["difference_lags_"]
    assert pickle.loads(pickle.dumps(model)).difference_lags_ is None


def test_models_pickled_before_the_row_weights_still_work(data):
    X, y = data
    # What an older version fitted: early stopping, no row weights, no gates.
    model = WassersteinSequenceEmbedder(
        **TINY,
        include_differences=False,
        input_row_weighting=None,
        input_gating=None,
        early_stopping="auto",
        random_state=0,
    ).fit(X, y)
    expected = model.transform(X)
    lengths = {
        name: getattr(model, name)
        for name in ("n_iter_", "best_epoch_", "best_validation_score_")
    }
    scores = model.validation_scores_
    # What an older version pickled: no such parameters, attributes or buffers.
    for name in (
        "include_differences",
        "input_row_weighting",
        "input_row_weights_",
        "input_gating",
        "input_gates_",
        "n_iter_",
        "validation_scores_",
        "best_epoch_",
        "best_validation_score_",
    ):
        del model.__dict__[name]
    encoder = model.module_.encoder
    del encoder._buffers["kept_row_weights"]
    del encoder._buffers["input_gates"]
    for norm in encoder.modules():
        norm._buffers.pop("varied", None)
    restored = pickle.loads(pickle.dumps(model))
    assert restored.input_row_weights_ is None
    assert restored.input_gates_ is None
    assert restored.get_params()["input_gating"] is None
    # The training-length attributes are read again from the history.
    assert {name: getattr(restored, name) for name in lengths} == lengths
    assert lengths["best_epoch_"] is not None
    np.testing.assert_array_equal(restored.validation_scores_, scores)
    assert restored.get_params()["input_row_weighting"] is None
    np.testing.assert_array_equal(restored.transform(X), expected)
    restored_encoder = restored.module_.encoder
    torch.testing.assert_close(
        restored_encoder.kept_row_weights, torch.ones(X[0].shape[0])
    )
    torch.testing.assert_close(restored_encoder.input_gates, torch.ones(X[0].shape[0]))
    assert all(
        n.varied.all() for n in restored_encoder.modules() if hasattr(n, "varied")
    )
    # The restored model warm-starts with early stopping (load_state_dict).
    restored.set_params(
        warm_start=True, early_stopping=True, validation_fraction=0.3, max_epochs=1
    ).fit(X, y)


# Training augmentation makes harder triplets even of far-apart classes.
NO_AUGMENTATION = dict(crop_fraction=1.0, scale_std=0.0, jitter_std=0.0)


def _far_apart_classes(seed=0):
    """Two classes far beyond the triplet margin under any initial encoder."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, 20)
    X = rng.normal(size=(16, 2, 20))
    X[8:, 0] += 200.0 * ramp  # the second class climbs steeply on channel 0
    return X, np.repeat(["flat", "climbing"], 8)


def test_a_fit_without_any_training_signal_warns():
    X, y = _far_apart_classes()
    model = WassersteinSequenceEmbedder(**TINY, **NO_AUGMENTATION, random_state=0)
    with pytest.warns(UserWarning, match="loss was 0 in all 3 epochs") as record:
        model.fit(X, y)
    assert [r.filename for r in record] == [__file__]  # points at the caller
    assert "margin=1.0" in str(record[0].message)
    assert all(epoch["train_loss"] == 0.0 for epoch in model.history_)
    # The soft margin always has a gradient: it trains on the same data.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        soft = WassersteinSequenceEmbedder(
            **TINY, **NO_AUGMENTATION, margin="soft", random_state=0
        )
        soft.fit(X, y)
    assert all(epoch["train_loss"] > 0.0 for epoch in soft.history_)


def test_no_training_signal_warning_on_data_that_train(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)
    assert any(epoch["train_loss"] > 0.0 for epoch in model.history_)


def test_no_training_signal_warning_reads_only_the_epochs_of_this_fit(data):
    X, y = data
    model = WassersteinSequenceEmbedder(**TINY, warm_start=True, random_state=0)
    model.fit(X, y)
    for epoch in model.history_:  # as if the first fit had had no signal
        epoch["train_loss"] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.set_params(max_epochs=0).fit(X, y)  # no epoch, nothing to judge
        model.set_params(max_epochs=2).fit(X, y)  # its own epochs have a loss
    assert len(model.history_) == 5
    X_far, y_far = _far_apart_classes()
    with pytest.warns(UserWarning, match="given as `loss`"):
        WassersteinSequenceEmbedder(
            **TINY,
            **NO_AUGMENTATION,
            loss=WassersteinTripletLoss(p=1, margin=1.0),
            random_state=0,
        ).fit(X_far, y_far)


def test_score_refuses_labels_that_are_all_unique():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 6)
    X = rng.normal(size=(12, 2, 10)) + y[:, None, None]
    model = WassersteinSequenceEmbedder(
        n_quantiles=4, max_epochs=1, random_state=0
    ).fit(X, y)
    # As mean_average_precision_at_r: MAP@R is undefined, not NaN.
    with pytest.raises(ValueError, match="every label is unique"):
        model.score(X[:4], [0, 1, 2, 3])
    assert 0.0 <= model.score(X[:4], [0, 0, 1, 2]) <= 1.0


def test_pandas_output_of_a_pd_multiindex_frame_has_a_row_per_sequence():
    import pandas as pd

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 6)
    X = rng.normal(size=(12, 2, 10)) + y[:, None, None]
    frame = pd.concat(
        [
            pd.DataFrame(x.T, index=pd.MultiIndex.from_product([[f"s{i}"], range(10)]))
            for i, x in enumerate(X)
        ]
    )
    model = WassersteinSequenceEmbedder(n_quantiles=4, max_epochs=1, random_state=0)
    model.fit(X, y).set_output(transform="pandas")
    embeddings = model.transform(frame)
    assert list(embeddings.index) == [f"s{i}" for i in range(12)]
    assert list(embeddings.columns) == list(model.get_feature_names_out())
    np.testing.assert_array_equal(embeddings.to_numpy(), model.transform(X).to_numpy())
