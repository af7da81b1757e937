"""The multi-scale encoder, training augmentation and label-free training."""

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_wdist import WassersteinSequenceEmbedder
from sklearn_wdist._training import AugmentingCollate
from sklearn_wdist.metrics import mean_average_precision_at_r
from sklearn_wdist.nn import (
    DilatedConvEncoder,
    dilated_blocks_for_length,
    dilated_receptive_field,
)

TINY = dict(n_features=4, hidden_channels=8, n_quantiles=4, max_epochs=3)
# On long_data the kept slope rows alone separate the classes beyond the
# margin, so nothing would train; without them the fits below do train.
TRAINS = dict(TINY, include_differences=False)


# --------------------------------------------------------------------------- #
# DilatedConvEncoder
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("readout", ["last", "all"])
@pytest.mark.parametrize(("n_blocks", "kernel_size"), [(1, 3), (3, 3), (2, 5)])
def test_receptive_field_matches_the_gradient_support(n_blocks, kernel_size, readout):
    torch.manual_seed(0)
    encoder = DilatedConvEncoder(
        2, n_blocks=n_blocks, kernel_size=kernel_size, readout=readout
    ).eval()
    length = 2 * dilated_receptive_field(n_blocks, kernel_size) + 11
    x = torch.randn(1, 2, length, requires_grad=True)
    t = length // 2
    encoder(x, torch.tensor([length]))[0, :, t].sum().backward()
    touched = np.flatnonzero(x.grad[0].abs().sum(0).numpy() > 0)
    half = (dilated_receptive_field(n_blocks, kernel_size) - 1) // 2
    assert touched.min() == t - half
    assert touched.max() == t + half


@pytest.mark.parametrize("kernel_size", [2, 3, 5])
def test_blocks_for_length_is_the_smallest_covering_count(kernel_size):
    for length in [1, 2, 5, 13, 14, 15, 16, 100, 500, 2047, 2048, 5000]:
        brute = next(
            b
            for b in range(1, 100)
            if dilated_receptive_field(b, kernel_size) >= length or b == 10
        )
        assert dilated_blocks_for_length(length, kernel_size) == brute


@pytest.mark.parametrize("readout", ["last", "all"])
def test_dilated_output_on_valid_steps_ignores_padding(readout):
    torch.manual_seed(0)
    encoder = DilatedConvEncoder(
        3, n_features=5, n_blocks=3, include_input=True, readout=readout
    )
    # Running statistics that are not the identity, then evaluation mode.
    encoder(torch.randn(8, 3, 40), torch.full((8,), 40))
    encoder.eval()
    short = torch.randn(1, 3, 17)
    alone = encoder(short, torch.tensor([17]))
    padded = torch.cat([short, torch.randn(1, 3, 23) * 100], dim=-1)
    batch = torch.cat([padded, torch.randn(1, 3, 40)])
    together = encoder(batch, torch.tensor([17, 40]))
    torch.testing.assert_close(together[:1, :, :17], alone, rtol=1e-5, atol=1e-6)
    assert torch.all(together[0, :, 17:] == 0)


def test_all_block_readout_is_a_projection_of_every_scale():
    torch.manual_seed(0)
    encoder = DilatedConvEncoder(2, n_features=3, hidden_channels=4, n_blocks=3)
    wide = DilatedConvEncoder(
        2, n_features=3, hidden_channels=4, n_blocks=3, readout="all"
    )
    wide.load_state_dict(
        {k: v for k, v in encoder.state_dict().items() if not k.startswith("head")},
        strict=False,
    )
    encoder.eval()
    wide.eval()
    assert wide.head.in_channels == 4 * (3 + 1)
    # A head that reads the last block's rows only is the last-block encoder.
    with torch.no_grad():
        wide.head.weight.zero_()
        wide.head.weight[:, -4:] = encoder.head.weight
        wide.head.bias.copy_(encoder.head.bias)
    x, lengths = torch.randn(2, 2, 30), torch.tensor([30, 12])
    torch.testing.assert_close(wide(x, lengths), encoder(x, lengths))
    # Reading the lifted input alone gives features of one step.
    with torch.no_grad():
        wide.head.weight.zero_()
        wide.head.weight[:, :4] = 1.0
    x.requires_grad_(True)
    wide(x, lengths)[0, :, 15].sum().backward()
    assert np.flatnonzero(x.grad[0].abs().sum(0).numpy() > 0).tolist() == [15]


def test_readout_is_validated():
    with pytest.raises(ValueError, match="readout"):
        DilatedConvEncoder(2, readout="first")
    with pytest.raises(ValueError, match="readout"):
        WassersteinSequenceEmbedder(readout="first").fit(
            np.zeros((4, 1, 5)), [0, 0, 1, 1]
        )


# --------------------------------------------------------------------------- #
# The embedder with the dilated encoder
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def long_data():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 8)
    t = np.arange(120)
    X = rng.normal(scale=0.3, size=(24, 1, 120))
    # Same value distribution per class up to the period: only a wide view
    # tells a slow sine from a fast one.
    X[y == 1] += np.sin(2 * np.pi * t / 60)
    X[y == 2] += np.sin(2 * np.pi * t / 15)
    return X, y


def test_auto_blocks_cover_the_median_length(long_data):
    X, y = long_data
    model = WassersteinSequenceEmbedder(
        **TINY, architecture="dilated", n_layers="auto", kernel_size=3, random_state=0
    )
    with pytest.warns(UserWarning, match="loss was 0"):  # the slopes separate
        model.fit(X, y)
    assert model.receptive_field_ >= 120
    assert len(model.module_.encoder.blocks) == dilated_blocks_for_length(120, 3)
    # 4 learned rows, the input channel and its increments at lags 1 to 8
    # (an eighth of the median length, 120).
    assert model.difference_lags_ == (1, 2, 4, 8)
    assert model.transform(X).shape == (24, (4 + 1 + 4) * 4)


def test_conv_architecture_reports_its_receptive_field(long_data):
    X, y = long_data
    model = WassersteinSequenceEmbedder(
        **TINY, architecture="conv", n_layers="auto", kernel_size=5, random_state=0
    ).fit(X, y)
    assert model.receptive_field_ == 9  # two convolutions of width 5


@pytest.mark.parametrize("readout", ["last", "all"])
def test_dilated_fit_is_deterministic(long_data, readout):
    X, y = long_data
    params = dict(
        **TRAINS, architecture="dilated", n_layers=2, readout=readout, random_state=3
    )
    a = WassersteinSequenceEmbedder(**params).fit(X, y).transform(X)
    b = WassersteinSequenceEmbedder(**params).fit(X, y).transform(X)
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- #
# Augmentation
# --------------------------------------------------------------------------- #
def test_crops_are_contiguous_and_within_bounds():
    sequence = np.arange(100, dtype=np.float32)[None]
    collate = AugmentingCollate(0.4, 0.0, 0.0, seed=0)
    lengths = []
    for _ in range(300):
        view = collate.augment(sequence)
        n = view.shape[1]
        lengths.append(n)
        np.testing.assert_array_equal(np.diff(view[0]), 1.0)  # contiguous
        assert 40 <= n <= 100
    assert min(lengths) <= 45 and max(lengths) >= 95


def test_augmentation_is_seeded_and_scale_and_jitter_have_their_size():
    rng = np.random.default_rng(0)
    sequence = rng.normal(size=(2, 2000)).astype(np.float32)
    a = AugmentingCollate(1.0, 0.2, 0.1, seed=5)
    b = AugmentingCollate(1.0, 0.2, 0.1, seed=5)
    views = [a.augment(sequence) for _ in range(200)]
    for view in views[:5]:
        np.testing.assert_array_equal(view, b.augment(sequence))
    factors = [np.median(v / sequence) for v in views]
    assert np.std(np.log(factors)) == pytest.approx(0.2, rel=0.25)
    jitter = AugmentingCollate(1.0, 0.0, 0.1, seed=1).augment(sequence) - sequence
    assert jitter.std(axis=1) == pytest.approx(0.1 * sequence.std(axis=1), rel=0.1)
    assert sequence.dtype == np.float32  # the input is never modified in place


def test_augmented_fit_is_deterministic_and_differs_from_plain(long_data):
    X, y = long_data
    params = dict(**TRAINS, crop_fraction=0.6, scale_std=0.1, jitter_std=0.05)
    a = WassersteinSequenceEmbedder(**params, random_state=0).fit(X, y).transform(X)
    b = WassersteinSequenceEmbedder(**params, random_state=0).fit(X, y).transform(X)
    off = dict(crop_fraction=1.0, scale_std=0.0, jitter_std=0.0)
    plain = WassersteinSequenceEmbedder(**TRAINS, **off, random_state=0).fit(X, y)
    plain = plain.transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, plain)


def test_crops_too_short_for_a_user_encoder_are_refused(long_data):
    X, y = long_data
    encoder = nn.Conv1d(1, 3, 100)  # needs 100 steps
    model = WassersteinSequenceEmbedder(
        encoder=encoder, n_quantiles=4, max_epochs=1, crop_fraction=0.5
    )
    with pytest.raises(ValueError, match=r"crop_fraction=0\.5 crops sequences to 60"):
        model.fit(X, y)


# --------------------------------------------------------------------------- #
# Learning without labels
# --------------------------------------------------------------------------- #
def test_fit_without_labels_learns_a_useful_distance(long_data):
    X, y = long_data
    model = WassersteinSequenceEmbedder(
        **{**TINY, "max_epochs": 15},
        architecture="dilated",
        n_layers="auto",
        kernel_size=3,
        random_state=0,
    ).fit(X)
    assert not hasattr(model, "classes_")
    # Label-free, yet same-class sequences are closer than chance (MAP@R of a
    # random ranking of 3 balanced classes is about 1/3).
    assert model.score(X, y) > 0.45
    D = model.pairwise_distances(X)
    assert mean_average_precision_at_r(D, y) == pytest.approx(model.score(X, y))


def test_label_free_refit_forgets_the_classes(long_data):
    X, y = long_data
    model = WassersteinSequenceEmbedder(**TRAINS, random_state=0).fit(X, y)
    assert hasattr(model, "classes_")
    model.fit(X)
    assert not hasattr(model, "classes_")


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"early_stopping": True}, "early_stopping=True scores held-out labelled"),
        (
            {"crop_fraction": 1.0, "scale_std": 0.0, "jitter_std": 0.0},
            "every view identical",
        ),
    ],
)
def test_label_free_fit_rejects_impossible_settings(long_data, params, match):
    X, _ = long_data
    with pytest.raises(ValueError, match=match):
        WassersteinSequenceEmbedder(**TINY, **params).fit(X)


def test_label_free_fit_needs_two_sequences(long_data):
    X, _ = long_data
    with pytest.raises(ValueError, match="at least 2 sequences"):
        WassersteinSequenceEmbedder(**TINY).fit(X[:1])


def _record_inference_batches(monkeypatch, steps: int) -> list:
    """Cap inference batches at ``steps`` padded steps; record their shapes."""
    from sklearn_wdist import _training

    seen = []
    original = _training.pad_batch

    def spy(batch):
        out = original(batch)
        seen.append(out[0]["x"].shape)
        return out

    monkeypatch.setattr(_training, "_INFERENCE_STEPS", steps)
    monkeypatch.setattr(_training, "pad_batch", spy)
    return seen


def test_inference_batches_bounded_by_steps_give_the_same_embeddings(monkeypatch):

    rng = np.random.default_rng(0)
    X = [rng.normal(size=(2, n)) for n in rng.integers(5, 120, size=40)]
    y = np.repeat([0, 1], 20)
    model = WassersteinSequenceEmbedder(
        **TINY, architecture="dilated", n_layers=3, random_state=0
    ).fit(X, y)
    reference = model.transform(X)
    seen = _record_inference_batches(monkeypatch, steps=300)
    np.testing.assert_allclose(model.transform(X), reference, rtol=1e-5, atol=1e-6)
    assert len(seen) > 1
    # Every batch fits the budget, except a single sequence longer than it.
    assert all(b * t <= 300 or b == 1 for b, _, t in seen)


def test_batches_of_many_output_rows_hold_fewer_steps(monkeypatch):
    # Many kept channels (and their increments) make many rows per step: the
    # step budget shrinks with them, so a batch's pooled rows stay bounded.
    from sklearn_wdist import _training

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 8)
    X = rng.normal(size=(16, 40, 80))
    model = WassersteinSequenceEmbedder(
        **{**TINY, "max_epochs": 1}, architecture="conv", n_layers=1, random_state=0
    ).fit(X, y)
    rows = model.module_.encoder.out_features
    assert rows > _training._REFERENCE_ROWS
    seen = _record_inference_batches(monkeypatch, steps=300)
    many = rng.normal(size=(40, 40, 80))
    alone = np.vstack([model.transform(many[i : i + 1]) for i in range(3)])
    seen.clear()
    np.testing.assert_allclose(model.transform(many)[:3], alone, rtol=1e-5, atol=1e-6)
    budget = 300 * _training._REFERENCE_ROWS // rows
    assert all(b * t <= budget or b == 1 for b, _, t in seen)
    assert len(seen) > 1


def test_transform_holds_one_batch_beside_the_output():
    import tracemalloc

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 10)
    small = rng.normal(size=(20, 2, 50))
    model = WassersteinSequenceEmbedder(
        **{**TINY, "max_epochs": 1}, architecture="conv", n_layers=1, random_state=0
    ).fit(small, y)
    X = rng.normal(size=(4000, 2, 500)) + 100.0  # float64, 32 MB
    reference = model.transform(X[:50])
    tracemalloc.start()
    embeddings = model.transform(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # A float32 copy of all input would alone be 16 MB; the output is 0.4 MB
    # and one batch of preprocessed input at most 2**16 steps.
    assert peak < X.nbytes / 8, peak
    np.testing.assert_allclose(embeddings[:50], reference, rtol=1e-5, atol=1e-6)


def test_verbose_transform_shows_progress(capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2, 30))
    y = np.repeat([0, 1], 10)
    model = WassersteinSequenceEmbedder(**TINY, random_state=0).fit(X, y)
    capsys.readouterr()
    model.set_params(verbose=1).transform(X)
    assert "20/20" in capsys.readouterr().err


def test_default_augmentation_with_and_without_labels():
    # Without labels the views of a sequence are its only positives: crops of
    # at least half of it, scaled and jittered. With labels, none (round 21).
    model = WassersteinSequenceEmbedder()
    assert model._augmentation(supervised=True, seed=0) is None
    label_free = model._augmentation(supervised=False, seed=0)
    settings = (label_free.crop_fraction, label_free.scale_std, label_free.jitter_std)
    assert settings == (0.5, 0.1, 0.05)
    # An explicit value is used with and without labels alike.
    model.set_params(scale_std=0.2, jitter_std=0.0, crop_fraction=1.0)
    for supervised in (True, False):
        augmentation = model._augmentation(supervised=supervised, seed=0)
        assert (augmentation.crop_fraction, augmentation.scale_std) == (1.0, 0.2)
        assert augmentation.jitter_std == 0.0
