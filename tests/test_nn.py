"""The PyTorch parts against independent references (NumPy, POT, brute force)."""

import itertools
import pickle

import numpy as np
import ot
import pytest
import torch
from torch import nn

from sklearn_wdist.nn import (
    ClassBalancedBatchSampler,
    ConvEncoder,
    DilatedConvEncoder,
    MaskedBatchNorm1d,
    QuantileEmbedding,
    QuantilePooling,
    QuantileWassersteinDistance,
    SeededDropout,
    WassersteinTripletLoss,
    batch_all_triplets,
    batch_hard_triplets,
    lengths_to_mask,
    mean_pooling,
    multiscale_difference_lags,
    quantile_levels,
    quantile_pooling,
    semi_hard_triplets,
)


def _padded(sequences):
    lengths = torch.tensor([s.shape[-1] for s in sequences])
    dtype = torch.as_tensor(sequences[0]).dtype
    x = torch.zeros(
        len(sequences), sequences[0].shape[0], int(lengths.max()), dtype=dtype
    )
    for i, s in enumerate(sequences):
        x[i, :, : s.shape[-1]] = torch.as_tensor(s)
    return x, lengths


# ---------------------------------------------------------------- pooling
@pytest.mark.parametrize("n_quantiles", [1, 2, 7, 16, 50])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("method", ["linear", "inverted_cdf"])
def test_quantile_pooling_equals_numpy_on_valid_steps(n_quantiles, seed, method):
    rng = np.random.default_rng(seed)
    lengths = [1, 2, 3, 10, 37]
    sequences = [rng.normal(size=(3, n)) for n in lengths]
    x, lens = _padded(sequences)
    x[:, :, :] += torch.where(
        torch.arange(x.shape[-1])[None, None, :] >= lens[:, None, None], 1e6, 0.0
    )  # garbage in the padding must not leak
    got = quantile_pooling(x, lens, n_quantiles, method).numpy()
    levels = (np.arange(n_quantiles) + 0.5) / n_quantiles
    for i, s in enumerate(sequences):
        expected = np.quantile(s, levels, axis=1, method=method).T
        np.testing.assert_allclose(got[i], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["linear", "inverted_cdf"])
@pytest.mark.parametrize("pad", [0, 5])
def test_a_nan_at_a_valid_step_makes_that_feature_nan_as_in_numpy(method, pad):
    # Sorting puts NaN after padding's inf, so without care it was dropped.
    rng = np.random.default_rng(4)
    sequence = rng.normal(size=(2, 40))
    sequence[0, 7] = np.nan
    other = rng.normal(size=(2, 40 + pad))
    x, lens = _padded([sequence, other])
    got = quantile_pooling(x, lens, 16, method).numpy()
    levels = (np.arange(16) + 0.5) / 16
    expected = np.quantile(sequence, levels, axis=1, method=method).T
    assert np.isnan(expected[0]).all() and np.isnan(got[0, 0]).all()
    np.testing.assert_allclose(got[0, 1], expected[1], rtol=1e-12)
    assert np.isfinite(got[1]).all()


@pytest.mark.parametrize("n_quantiles", [0, -1])
def test_pooling_refuses_no_quantile_levels(n_quantiles):
    x, lens = _padded([np.zeros((1, 3))])
    with pytest.raises(ValueError, match="n_quantiles must be at least 1"):
        quantile_pooling(x, lens, n_quantiles)
    with pytest.raises(ValueError, match="n_quantiles must be at least 1"):
        QuantileEmbedding(ConvEncoder(1, n_features=2), n_quantiles)


@pytest.mark.parametrize("n_quantiles", [True, 2.0, "4"])
def test_pooling_refuses_what_is_no_number_of_levels(n_quantiles):
    with pytest.raises(TypeError, match="n_quantiles must be an integer"):
        QuantileEmbedding(ConvEncoder(1, n_features=2), n_quantiles)


def test_mean_pooling_ignores_whatever_the_padding_holds():
    rng = np.random.default_rng(6)
    sequences = [rng.normal(size=(2, n)) for n in (1, 4, 9)]
    x, lens = _padded(sequences)
    mask = torch.arange(x.shape[-1])[None, None, :] >= lens[:, None, None]
    for junk in (1e3, float("nan")):
        got = mean_pooling(x.masked_fill(mask, junk), lens).numpy()
        for i, s in enumerate(sequences):
            np.testing.assert_allclose(got[i, :, 0], s.mean(axis=1), rtol=1e-12)


def test_quantile_levels_are_midpoints():
    np.testing.assert_allclose(quantile_levels(5).numpy(), [0.1, 0.3, 0.5, 0.7, 0.9])


def test_quantile_pooling_rows_are_non_decreasing_and_differentiable():
    h = torch.randn(4, 5, 9, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([9, 1, 4, 6])
    q = quantile_pooling(h, lengths, 8)
    assert (q.diff(dim=-1) >= 0).all()
    q.sum().backward()
    # Each quantile is a convex combination of order statistics: gradient mass 1
    # per quantile, and none on padded steps.
    np.testing.assert_allclose(h.grad.sum(dim=-1).numpy(), 8.0)
    for i, n in enumerate(lengths.tolist()):
        assert torch.all(h.grad[i, :, n:] == 0)
    assert torch.autograd.gradcheck(
        lambda t: quantile_pooling(t, lengths, 8), (h,), eps=1e-6
    )


# ------------------------------------------------------ padding invariance
def _embedding_alone_and_padded(model, sequences):
    model.eval()
    with torch.no_grad():
        x, lengths = _padded(sequences)
        batched = model(x, lengths)
        alone = torch.cat([model(*_padded([s])) for s in sequences])
    return batched, alone


def _train_a_little(model, sequences):
    """Move the batch-norm running statistics away from their initial values."""
    model.train()
    x, lengths = _padded(sequences)
    with torch.no_grad():
        for _ in range(3):
            model(x, lengths)


def test_default_encoder_embedding_does_not_depend_on_padding():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(3, n)).astype("float32") for n in (50, 3, 17, 1, 29)]
    model = QuantileEmbedding(ConvEncoder(3, n_features=6, kernel_size=7), 10)
    _train_a_little(model, sequences)
    batched, alone = _embedding_alone_and_padded(model, sequences)
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-5)


def test_default_encoder_training_statistics_ignore_padding():
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    short = rng.normal(size=(2, 5)).astype("float32")
    encoder = ConvEncoder(2, n_features=4)
    encoder.train()
    x, lengths = _padded([short])
    reference = encoder(x, lengths)
    x_long = torch.cat([x, torch.full((1, 2, 20), 123.0)], dim=-1)
    padded = encoder(x_long, lengths)
    torch.testing.assert_close(padded[..., :5], reference)
    assert torch.all(padded[..., 5:] == 0)


class ValidConv(nn.Module):
    """A user encoder without length support: kernel 3, no padding."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3)

    def forward(self, x):
        return self.conv(x)


def test_user_encoder_is_run_without_padding():
    torch.manual_seed(0)
    rng = np.random.default_rng(2)
    sequences = [rng.normal(size=(2, n)).astype("float32") for n in (12, 3, 7, 7)]
    model = QuantileEmbedding(ValidConv(), 5)
    batched, alone = _embedding_alone_and_padded(model, sequences)
    torch.testing.assert_close(batched, alone)
    _, lengths = model.step_features(*_padded(sequences))
    assert lengths.tolist() == [10, 1, 5, 5]


class DropFirstSteps(nn.Module):
    def forward(self, x):
        return x[..., 3:]


def test_a_user_batch_norm_failing_on_a_lone_short_sequence_says_why():
    encoder = nn.Sequential(nn.Conv1d(1, 4, 1), nn.BatchNorm1d(4))
    model = QuantileEmbedding(encoder, 4).train()
    x, lens = _padded([np.ones((1, 3), "float32"), np.ones((1, 1), "float32")])
    with pytest.raises(ValueError, match=r"1 sequence\(s\) of length 1.*BatchNorm1d"):
        model(x, lens)
    model.eval()  # running statistics: fine
    assert model(x, lens).shape == (2, 4, 4)


def test_user_encoder_returning_no_steps_raises():
    model = QuantileEmbedding(DropFirstSteps(), 5)
    with pytest.raises(ValueError, match="too short"):
        model(*_padded([np.zeros((2, 3), dtype="float32")]))


# ---------------------------------------------------------------- distance
@pytest.mark.parametrize("p", [1, 2])
def test_distance_agrees_with_pot_on_quantile_samples(p):
    rng = np.random.default_rng(3)
    qa = np.sort(rng.normal(size=(6, 4, 11)), axis=-1)
    qb = np.sort(rng.normal(size=(5, 4, 11)) * 2 + 1, axis=-1)
    got = QuantileWassersteinDistance(p).matrix(torch.tensor(qa), torch.tensor(qb))
    expected = np.empty((6, 5))
    for i, j in itertools.product(range(6), range(5)):
        # ot.wasserstein_1d returns W_p^p per column; uniform weights 1/M.
        per_feature = ot.wasserstein_1d(qa[i].T, qb[j].T, p=p)
        expected[i, j] = per_feature.sum() ** (1 / p)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)
    pairwise = QuantileWassersteinDistance(p).pairwise(
        torch.tensor(qa[:5]), torch.tensor(qb)
    )
    np.testing.assert_allclose(pairwise.numpy(), np.diag(expected[:5]), rtol=1e-10)


@pytest.mark.parametrize("p", [1, 2])
def test_distance_gradient_is_finite_where_embeddings_coincide(p):
    q = torch.randn(3, 2, 4).sort(dim=-1).values
    q = torch.cat([q, q[:1]]).requires_grad_()  # rows 0 and 3 coincide
    distances = QuantileWassersteinDistance(p).matrix(q)
    assert distances[0, 3] == 0 and torch.all(distances.diagonal() == 0)
    distances.sum().backward()
    assert torch.isfinite(q.grad).all()


@pytest.mark.parametrize("p", [1, 2])
def test_distance_propagates_nan_rather_than_hiding_it(p):
    # A diverged model must be reported, not measured as distance 0.
    a = torch.randn(3, 2, 4, dtype=torch.float64)
    a[0, 0, 0] = float("nan")
    D = QuantileWassersteinDistance(p).matrix(a, a)
    assert torch.isnan(D[0]).all() and torch.isnan(D[:, 0]).all()
    assert torch.isfinite(D[1:, 1:]).all()
    assert torch.isnan(QuantileWassersteinDistance(p).pairwise(a, a.flip(0))[0])


def test_distance_at_or_below_eps_is_zero():
    distance = QuantileWassersteinDistance(2, eps=0.25)
    a = torch.tensor([[[0.5]]], dtype=torch.float64)
    b = torch.zeros_like(a)
    assert distance.pairwise(a, b).item() == 0.0  # squared 0.25: at eps
    assert distance.pairwise(a * 1.01, b).item() > 0.0


def test_distance_rejects_bad_p():
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        QuantileWassersteinDistance(3)
    with pytest.raises(TypeError, match="p must be an int"):
        QuantileWassersteinDistance(True)
    assert QuantileWassersteinDistance(np.int64(1)).p == 1


# ------------------------------------------------------------------ mining
def _brute_force(distances, labels, mining, margin):
    d, y, n = distances.numpy(), labels.numpy(), len(labels)
    triplets = []
    if mining == "batch_hard":
        for a in range(n):
            pos = [j for j in range(n) if j != a and y[j] == y[a]]
            neg = [j for j in range(n) if y[j] != y[a]]
            if pos and neg:
                triplets.append(
                    (
                        a,
                        max(pos, key=lambda j: d[a, j]),
                        min(neg, key=lambda j: d[a, j]),
                    )
                )
    elif mining == "batch_all":
        for a, p, k in itertools.product(range(n), repeat=3):
            if a != p and y[a] == y[p] and y[k] != y[a]:
                if margin is None or d[a, p] - d[a, k] + margin > 0:
                    triplets.append((a, p, k))
    else:  # semi_hard
        for a, p in itertools.product(range(n), repeat=2):
            neg = [j for j in range(n) if y[j] != y[a]]
            if a == p or y[a] != y[p] or not neg:
                continue
            farther = [j for j in neg if d[a, j] > d[a, p]]
            if farther:
                triplets.append((a, p, min(farther, key=lambda j: d[a, j])))
            else:
                triplets.append((a, p, max(neg, key=lambda j: d[a, j])))
    return sorted(triplets)


@pytest.mark.parametrize("mining", ["batch_hard", "batch_all", "semi_hard"])
@pytest.mark.parametrize("seed", range(5))
def test_mining_agrees_with_brute_force_enumeration(mining, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 10))
    labels = torch.tensor(rng.integers(0, 3, size=n))
    points = torch.tensor(rng.normal(size=(n, 1, 3))).sort(dim=-1).values
    distances = QuantileWassersteinDistance(2).matrix(points)
    for margin in (None, 0.3):
        if mining == "batch_all":
            got = batch_all_triplets(distances, labels, margin)
        elif mining == "batch_hard":
            got = batch_hard_triplets(distances, labels)
        else:
            got = semi_hard_triplets(distances, labels)
        got = sorted(zip(*(t.tolist() for t in got), strict=True))
        assert got == _brute_force(distances, labels, mining, margin)


@pytest.mark.parametrize("mining", ["batch_hard", "semi_hard"])
def test_a_batch_of_one_class_has_no_triplet(mining):
    miners = {"batch_hard": batch_hard_triplets, "semi_hard": semi_hard_triplets}
    d = torch.rand(3, 3, dtype=torch.float64)
    labels = torch.zeros(3, dtype=torch.long)
    anchors, _, _ = miners[mining](d + d.T, labels)
    assert anchors.numel() == 0
    loss = WassersteinTripletLoss(p=1, mining=mining)
    q = torch.randn(3, 2, 4, dtype=torch.float64, requires_grad=True)
    value = loss(q, labels)
    value.backward()
    assert value.item() == 0.0 and torch.isfinite(q.grad).all()


@pytest.mark.parametrize("d", [torch.zeros(4, 4), torch.ones(4, 4) - torch.eye(4)])
def test_batch_hard_ties_pick_a_true_positive_and_negative(d):
    # A collapsed batch: every pair tied. The positive shares the label and is
    # not the anchor, the negative does not share it, ties to the lowest index.
    labels = torch.tensor([0, 1, 1, 0])
    anchors, positives, negatives = batch_hard_triplets(d.double(), labels)
    assert anchors.tolist() == [0, 1, 2, 3]
    assert positives.tolist() == [3, 2, 1, 0]
    assert negatives.tolist() == [1, 0, 0, 1]


@pytest.mark.parametrize("mining", ["batch_hard", "batch_all", "semi_hard"])
@pytest.mark.parametrize("margin", [0.5, "soft"])
def test_loss_equals_mean_over_mined_triplets(mining, margin):
    rng = np.random.default_rng(7)
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    q = torch.tensor(rng.normal(size=(8, 3, 6))).sort(dim=-1).values
    loss = WassersteinTripletLoss(p=2, margin=margin, mining=mining)(q, labels)
    d = QuantileWassersteinDistance(2).matrix(q)
    triplets = _brute_force(d, labels, mining, None if margin == "soft" else margin)
    gaps = np.array([d[a, p].item() - d[a, k].item() for a, p, k in triplets])
    if margin == "soft":
        expected = np.log1p(np.exp(gaps)).mean()
    else:
        expected = np.maximum(gaps + margin, 0).mean()
    assert loss.item() == pytest.approx(expected, rel=1e-10)


def test_loss_has_no_nan_gradient_when_embeddings_coincide():
    q = torch.zeros(4, 2, 5, requires_grad=True)
    loss = WassersteinTripletLoss(margin=1.0)(q, torch.tensor([0, 0, 1, 1]))
    loss.backward()
    assert loss.item() == pytest.approx(1.0)
    assert torch.isfinite(q.grad).all()


def test_loss_with_no_triplet_is_zero_and_differentiable():
    q = torch.randn(2, 2, 5, requires_grad=True)
    loss = WassersteinTripletLoss()(q, torch.tensor([0, 1]))
    loss.backward()
    assert loss.item() == 0.0 and torch.all(q.grad == 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"mining": "hardest"}, "mining"), ({"margin": -1.0}, "margin")],
)
def test_loss_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WassersteinTripletLoss(**kwargs)


def test_quantile_methods_are_checked_when_the_module_is_built():
    # "bogus" was accepted and failed only at the first forward pass (never
    # with mean pooling).
    with pytest.raises(ValueError, match="method must be one of"):
        QuantilePooling(4, "bogus")
    with pytest.raises(ValueError, match="quantile_method must be one of"):
        QuantileEmbedding(nn.Identity(), 4, quantile_method="bogus", pooling="mean")


# ----------------------------------------------------------------- sampler
def test_sampler_batches_are_class_balanced_and_seeded():
    labels = np.repeat(np.arange(6), [5, 5, 5, 5, 3, 2])
    sampler = ClassBalancedBatchSampler(labels, 3, 4, seed=0)
    # A drawn class gives min(4, its size): 3.5 sequences on average.
    assert len(sampler) == int(np.ceil(len(labels) / (3 * 3.5)))
    epochs = [list(sampler) for _ in range(3)]
    for batch in itertools.chain(*epochs):
        assert len(set(batch)) == len(batch)
        classes, counts = np.unique(labels[batch], return_counts=True)
        assert len(classes) == 3
        for c, count in zip(classes, counts, strict=True):
            assert count == min(4, np.sum(labels == c))
    assert epochs[0] != epochs[1]  # the generator advances between epochs
    again = ClassBalancedBatchSampler(labels, 3, 4, seed=0)
    assert [list(again) for _ in range(3)] == epochs


def test_sampler_caps_classes_per_batch():
    sampler = ClassBalancedBatchSampler([0, 0, 1, 1], 8, 2, seed=1)
    assert sorted(next(iter(sampler))) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "labels",
    [
        [1, "1", 1, "1"],
        np.array([1, "a", 1, "a"], dtype=object),
        ["b", "a", "b", "a"],
        [(1, 2), (3, 4), (1, 2), (3, 4)],  # NumPy made a 2-D array of numbers
    ],
)
def test_sampler_keeps_labels_that_differ_as_python_values_apart(labels):
    # np.asarray([1, "1"]) holds two equal strings; an object array of mixed
    # types cannot be sorted by np.unique.
    sampler = ClassBalancedBatchSampler(labels, 2, 2, seed=0)
    for batch in sampler:
        assert sorted(batch) == [0, 1, 2, 3]


def test_sampler_numbers_are_one_class_when_python_says_equal():
    sampler = ClassBalancedBatchSampler([1, 1.0, True, 2, 2, 2], 2, 3, seed=0)
    assert [sorted(batch) for batch in sampler] == [[0, 1, 2, 3, 4, 5]]


def test_an_epoch_of_small_classes_draws_about_every_sequence():
    # Pairs of sequences (verification data): 100 classes of 2 drew 112 of
    # 200 sequences an epoch when the count assumed 4 per class.
    labels = np.repeat(np.arange(100), 2)
    drawn = sum(len(batch) for batch in ClassBalancedBatchSampler(labels, 8, 4, seed=0))
    assert len(labels) <= drawn < len(labels) + 8 * 2


@pytest.mark.parametrize(
    "args, match",
    [
        (([np.nan, np.nan, 1, 1], 2, 2), r"labels\[0\] is nan"),
        (([None, None, 1, 1], 2, 2), r"labels\[0\] is None"),
        ((np.array([[0, 1], [0, 1]]), 2, 2), "labels must be 1-D"),
        (([0, 0, 1, 1], 2, 2, 0), "n_batches must be at least 1"),
        (([], 2, 2), "labels is empty"),
        (([0, 1], 0, 2), "classes_per_batch must be at least 1"),
        (([0, 1], 2, 0), "samples_per_class must be at least 1"),
    ],
)
def test_sampler_refuses_nothing_to_draw(args, match):
    with pytest.raises(ValueError, match=match):
        ClassBalancedBatchSampler(*args)


@pytest.mark.parametrize(
    "make_encoder, n_rows",
    [
        # A linear map, its standardised output and the inputs.
        (
            lambda: ConvEncoder(
                3, n_features=5, n_layers=0, include_input=True, normalize_output=True
            ),
            5 + 3,
        ),
        # With the inputs' first differences, after convolutions of both kinds.
        (
            lambda: ConvEncoder(
                3, n_features=5, include_input=True, include_differences=True
            ),
            5 + 3 + 3,
        ),
        (
            lambda: DilatedConvEncoder(
                3,
                n_features=5,
                n_blocks=2,
                include_input=True,
                include_differences=True,
            ),
            5 + 3 + 3,
        ),
    ],
)
def test_encoder_options_keep_padding_invariance_and_shapes(make_encoder, n_rows):
    torch.manual_seed(0)
    rng = np.random.default_rng(5)
    sequences = [rng.normal(size=(3, n)).astype("float32") for n in (20, 4, 9, 1)]
    encoder = make_encoder()
    assert encoder.out_features == n_rows
    model = QuantileEmbedding(encoder, 6)
    _train_a_little(model, sequences)
    batched, alone = _embedding_alone_and_padded(model, sequences)
    assert batched.shape == (4, n_rows, 6)
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-5)


def test_normalized_output_has_unit_batch_statistics():
    torch.manual_seed(0)
    encoder = ConvEncoder(2, n_features=4, normalize_output=True).train()
    x, lengths = _padded(
        [np.random.default_rng(6).normal(size=(2, n)) for n in (30, 11)]
    )
    features = encoder(x.float(), lengths)
    valid = torch.cat([features[0, :, :30], features[1, :, :11]], dim=1)
    torch.testing.assert_close(valid.mean(dim=1), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        valid.var(dim=1, unbiased=False), torch.ones(4), atol=1e-3, rtol=0
    )


@pytest.mark.parametrize("padding", [np.nan, np.inf, -np.inf, 1e6])
def test_norm_ignores_whatever_the_padding_holds(padding):
    # Padded steps may be NaN (tslearn pads with it): neither the valid
    # outputs, the gradient nor the running statistics may see them.
    rng = np.random.default_rng(9)
    x = torch.tensor(rng.normal(size=(3, 2, 6)))
    mask = lengths_to_mask(torch.tensor([6, 2, 4]), 6)
    padded = x.masked_fill(~mask, padding).requires_grad_(True)
    clean = x.masked_fill(~mask, 0.0).requires_grad_(True)
    outputs, grads, stats = [], [], []
    for inputs in (padded, clean):
        norm = MaskedBatchNorm1d(2, momentum=0.5).double().train()
        out = norm(inputs, mask)
        (out * torch.arange(6.0, dtype=torch.float64)).sum().backward()
        outputs.append(out.detach())
        grads.append(inputs.grad.masked_fill(~mask, 0.0))
        stats.append(torch.cat([norm.running_mean, norm.running_var]))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)
    torch.testing.assert_close(stats[0], stats[1], rtol=0, atol=0)
    valid = np.concatenate([x[0, :, :6], x[1, :, :2], x[2, :, :4]], axis=1)
    np.testing.assert_allclose(
        stats[0][:2].numpy(), 0.5 * valid.mean(axis=1), rtol=1e-12
    )


def test_norm_counts_the_valid_steps_of_each_channel_of_a_full_mask():
    rng = np.random.default_rng(10)
    x = torch.tensor(rng.normal(size=(2, 2, 5)))
    mask = torch.ones(2, 2, 5, dtype=torch.bool)
    mask[:, 1, 3:] = False  # the second channel has fewer valid steps
    out = MaskedBatchNorm1d(2, affine=False).double().train()(x, mask)
    for channel in range(2):
        values = x[:, channel][mask[:, channel]].numpy()
        expected = (values - values.mean()) / np.sqrt(values.var() + 1e-5)
        np.testing.assert_allclose(
            out[:, channel][mask[:, channel]].numpy(), expected, rtol=1e-12
        )


def test_energy_distance_agrees_with_scipy():
    from scipy.stats import energy_distance

    from sklearn_wdist.nn import QuantileEnergyDistance

    rng = np.random.default_rng(8)
    qa = np.sort(rng.normal(size=(4, 3, 7)), axis=-1)
    qb = np.sort(rng.laplace(size=(5, 3, 7)), axis=-1)
    got = QuantileEnergyDistance().matrix(torch.tensor(qa), torch.tensor(qb)).numpy()
    expected = np.empty((4, 5))
    for i, j in itertools.product(range(4), range(5)):
        # scipy returns sqrt(2 * integral (F - G)^2), the root of E(k).
        per_feature = [energy_distance(qa[i, k], qb[j, k]) ** 2 for k in range(3)]
        expected[i, j] = np.sqrt(np.sum(per_feature))
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    pairwise = QuantileEnergyDistance().pairwise(torch.tensor(qa), torch.tensor(qb[:4]))
    np.testing.assert_allclose(pairwise.numpy(), np.diag(expected[:, :4]), rtol=1e-10)


def test_mean_pooling_embedding_is_the_mean_over_valid_steps():
    sequences = [np.random.default_rng(9).normal(size=(2, n)) for n in (6, 2)]
    model = QuantileEmbedding(nn.Identity(), 4, pooling="mean")
    out = model(*_padded(sequences))
    expected = np.stack([s.mean(axis=1, keepdims=True) for s in sequences])
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_difference_rows_match_numpy():
    torch.manual_seed(0)
    encoder = ConvEncoder(
        2, n_features=3, n_layers=1, include_input=True, include_differences=True
    )
    # Running statistics that are not the identity, then evaluation mode.
    encoder(torch.randn(6, 2, 30) * 3 + 1, torch.tensor([30, 25, 12, 30, 7, 2]))
    encoder.eval()
    x = np.random.default_rng(9).normal(size=(2, 11)).astype("float32")
    features = encoder(torch.from_numpy(x[None]), torch.tensor([11]))[0].detach()

    def standardised(values, norm):
        mean = norm.running_mean.numpy()[:, None]
        var = norm.running_var.numpy()[:, None]
        return (values - mean) / np.sqrt(var + norm.eps)

    inputs = standardised(x, encoder.input_norm)
    differences = np.diff(inputs, axis=1, prepend=inputs[:, :1])
    expected = standardised(differences, encoder.difference_norm)
    np.testing.assert_allclose(features[3:5].numpy(), inputs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(features[5:7].numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("encoder_class", [ConvEncoder, DilatedConvEncoder])
def test_lagged_difference_rows_match_numpy_and_ignore_padding(encoder_class):
    torch.manual_seed(0)
    lags = (1, 3, 4)
    encoder = encoder_class(
        2, n_features=3, include_input=True, include_differences=lags
    )
    assert encoder.out_features == 3 + 2 * (1 + len(lags))
    # Running statistics that are not the identity, then evaluation mode.
    encoder(torch.randn(6, 2, 30) * 3 + 1, torch.tensor([30, 25, 12, 30, 7, 2]))
    encoder.eval()
    rng = np.random.default_rng(19)
    sequences = [rng.normal(size=(2, n)).astype("float32") for n in (11, 2, 6)]
    features = encoder(*_padded(sequences)).detach().numpy()
    norm = encoder.difference_norm
    for index, x in enumerate(sequences):
        mean = encoder.input_norm.running_mean.numpy()[:, None]
        var = encoder.input_norm.running_var.numpy()[:, None]
        inputs = (x - mean) / np.sqrt(var + encoder.input_norm.eps)
        # Brute force: step t against step max(t - L, 0), lag after lag.
        increments = np.concatenate(
            [
                [
                    [row[t] - row[max(t - lag, 0)] for t in range(len(row))]
                    for row in inputs
                ]
                for lag in lags
            ]
        )
        expected = (increments - norm.running_mean.numpy()[:, None]) / np.sqrt(
            norm.running_var.numpy()[:, None] + norm.eps
        )
        valid = features[index, :, : x.shape[1]]
        np.testing.assert_allclose(valid[3:5], inputs, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(valid[5:], expected, rtol=1e-5, atol=1e-5)
        # Alone, the sequence gets the same rows; padded steps are zero.
        alone = encoder(torch.from_numpy(x[None]), torch.tensor([x.shape[1]]))
        np.testing.assert_allclose(valid, alone[0].detach().numpy(), atol=1e-5)
        assert not features[index, :, x.shape[1] :].any()


def test_lag_one_is_the_first_difference():
    torch.manual_seed(0)
    first = ConvEncoder(2, n_features=3, include_input=True, include_differences=True)
    lagged = ConvEncoder(2, n_features=3, include_input=True, include_differences=[1])
    lagged.load_state_dict(first.state_dict())
    x, lengths = torch.randn(4, 2, 9), torch.tensor([9, 5, 2, 7])
    torch.testing.assert_close(first(x, lengths), lagged(x, lengths))


@pytest.mark.parametrize(
    "lags", [[0], [1, 1], [-2], [1.5], [True], ["2"], 2, "multiscale"], ids=str
)
def test_bad_difference_lags_are_refused(lags):
    with pytest.raises(ValueError, match="difference lags"):
        ConvEncoder(2, include_input=True, include_differences=lags)


def test_numpy_integer_lags_are_accepted():
    encoder = ConvEncoder(
        2, include_input=True, include_differences=np.array([1, 3], dtype=np.int64)
    )
    assert encoder.difference_lags == (1, 3)
    assert all(type(lag) is int for lag in encoder.difference_lags)


@pytest.mark.parametrize("length", [1, 7, 8, 15, 16, 17, 100, 251, 4096])
def test_multiscale_lags_are_the_powers_of_two_up_to_an_eighth(length):
    expected = [1] + [2**k for k in range(1, 20) if 2**k <= length / 8]
    assert list(multiscale_difference_lags(length)) == expected


def test_difference_rows_need_the_input_rows():
    with pytest.raises(ValueError, match="include_input=True"):
        ConvEncoder(2, include_input=False, include_differences=True)
    with pytest.raises(ValueError, match="include_input=True"):
        DilatedConvEncoder(2, include_input=False, include_differences=True)


def test_difference_statistics_use_valid_steps_only():
    torch.manual_seed(0)
    encoder = ConvEncoder(
        2, n_features=3, n_layers=1, include_input=True, include_differences=True
    )
    encoder.difference_norm.momentum = 1.0  # running statistics = this batch's
    rng = np.random.default_rng(10)
    sequences = [rng.normal(size=(2, n)).astype("float32") for n in (7, 1, 4)]
    x, lengths = _padded(sequences)
    x[0, :, 7:] = 0.0
    x[1, :, 1:] = 99.0  # padding values that must not count
    x[2, :, 4:] = -50.0
    encoder.train()(x, lengths)
    # The inputs are standardised with the batch variance over valid steps (a
    # mean shift cancels in a difference); the first step's difference is 0.
    steps = np.concatenate(sequences, axis=1)
    scale = np.sqrt(steps.var(axis=1, keepdims=True) + encoder.input_norm.eps)
    differences = np.concatenate(
        [np.diff(s / scale, axis=1, prepend=s[:, :1] / scale) for s in sequences],
        axis=1,
    )
    np.testing.assert_allclose(
        encoder.difference_norm.running_mean.numpy(),
        differences.mean(axis=1),
        rtol=1e-4,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        encoder.difference_norm.running_var.numpy(),
        differences.var(axis=1, ddof=1),
        rtol=1e-4,
        atol=1e-6,
    )


def _train_norm(norm, sequences, n_batches):
    """Run ``n_batches`` training steps of a norm (or an encoder) on one batch."""
    x, lengths = _padded(sequences)
    second = (
        lengths
        if isinstance(norm, ConvEncoder)
        else lengths_to_mask(lengths, x.shape[-1])
    )
    norm.train()
    for _ in range(n_batches):
        norm(x, second)
    return norm.eval()


def test_norm_centres_but_does_not_scale_a_channel_that_never_varied():
    rng = np.random.default_rng(11)
    # Channel 0 varies; channel 1 is stuck at 2.5 on every valid step, and the
    # padding (zeros) must not count as variation.
    sequences = [rng.normal(size=(2, n)).astype("float32") for n in (9, 3, 6)]
    for s in sequences:
        s[1] = 2.5
    norm = _train_norm(MaskedBatchNorm1d(2, affine=False), sequences, n_batches=200)
    assert norm.varied.tolist() == [True, False]
    # After 200 batches the running variance of the stuck channel is ~1e-9:
    # dividing by it would multiply later variation by about 300.
    assert norm.running_var[1] < 1e-6
    x = rng.normal(size=(1, 2, 8)).astype("float32")
    out = norm(torch.from_numpy(x), lengths_to_mask(torch.tensor([8]), 8)).numpy()[0]
    mean, var = norm.running_mean.numpy(), norm.running_var.numpy()
    np.testing.assert_allclose(
        out[0], (x[0, 0] - mean[0]) / np.sqrt(var[0] + norm.eps), rtol=1e-5
    )
    np.testing.assert_allclose(out[1], x[0, 1] - mean[1], rtol=1e-5, atol=1e-6)


def test_norm_keeps_scaling_small_but_real_variation():
    rng = np.random.default_rng(12)
    # A level of 1e5 varying by 1 part in 1e4: float32 resolves it, so it is
    # variation, not rounding error.
    sequences = [
        (1e5 + 10.0 * rng.normal(size=(1, 50))).astype("float32") for _ in range(4)
    ]
    norm = _train_norm(MaskedBatchNorm1d(1, affine=False), sequences, n_batches=3)
    assert norm.varied.tolist() == [True]


def test_difference_rows_of_length_one_training_stay_on_the_input_scale():
    torch.manual_seed(0)
    encoder = ConvEncoder(
        2, n_features=3, n_layers=1, include_input=True, include_differences=True
    )
    rng = np.random.default_rng(13)
    single_steps = [rng.normal(size=(2, 1)).astype("float32") for _ in range(8)]
    _train_norm(encoder, single_steps, n_batches=300)
    assert not encoder.difference_norm.varied.any()
    x = rng.normal(size=(2, 12)).astype("float32")
    features = encoder(torch.from_numpy(x[None]), torch.tensor([12]))[0].detach()
    norm = encoder.input_norm
    inputs = (x - norm.running_mean.numpy()[:, None]) / np.sqrt(
        norm.running_var.numpy()[:, None] + norm.eps
    )
    differences = np.diff(inputs, axis=1, prepend=inputs[:, :1])
    # Centred by the (zero) training mean of the slopes, not divided by their
    # vanishing variance.
    np.testing.assert_allclose(features[5:7].numpy(), differences, rtol=1e-4, atol=1e-5)


def test_norm_state_saved_before_the_flags_scales_every_channel():
    sequences = [np.ones((2, 5), dtype="float32")] * 3
    trained = _train_norm(MaskedBatchNorm1d(2, affine=False), sequences, n_batches=5)
    state = trained.state_dict()
    del state["varied"]
    restored = MaskedBatchNorm1d(2, affine=False)
    restored.load_state_dict(state)  # strict: the missing flag is filled in
    assert restored.varied.all()
    # A module pickled before the flag existed has no such buffer at all.
    del trained._buffers["varied"]
    trained = pickle.loads(pickle.dumps(trained))
    x = torch.full((1, 2, 4), 3.0)
    mask = lengths_to_mask(torch.tensor([4]), 4)
    expected = (3.0 - trained.running_mean) / torch.sqrt(
        trained.running_var + trained.eps
    )
    torch.testing.assert_close(trained.eval()(x, mask)[0, :, 0], expected)
    torch.testing.assert_close(restored.eval()(x, mask), trained(x, mask))


def test_partial_state_loads_leave_the_flags_and_weights_alone():
    encoder = ConvEncoder(2, n_features=3, n_layers=1, include_input=True)
    encoder.kept_row_weights.fill_(2.0)
    encoder.input_norm.varied.zero_()
    head_only = {"head.weight": encoder.head.weight.detach().clone()}
    encoder.load_state_dict(head_only, strict=False)  # no flags, no weights
    torch.testing.assert_close(encoder.kept_row_weights, torch.full((2,), 2.0))
    assert not encoder.input_norm.varied.any()


def test_norm_takes_batchnorm_arguments_by_position():
    norm = MaskedBatchNorm1d(3, 1e-3, 0.2)
    assert (norm.eps, norm.momentum) == (1e-3, 0.2)


def test_norm_without_momentum_keeps_the_cumulative_average_as_torch_does():
    torch.manual_seed(0)
    ours = MaskedBatchNorm1d(3, momentum=None)
    theirs = nn.BatchNorm1d(3, momentum=None)
    for _ in range(4):
        x = torch.randn(5, 3, 7, dtype=torch.float32) * 3 + 1
        mask = torch.ones(5, 1, 7, dtype=torch.bool)
        torch.testing.assert_close(ours(x, mask), theirs(x))
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    torch.testing.assert_close(ours.running_var, theirs.running_var)
    assert ours.num_batches_tracked == theirs.num_batches_tracked == 4


def test_norm_judges_variation_relative_to_the_channel_scale():
    rng = np.random.default_rng(14)
    # Centred data at a tiny scale vary; a constant at a large level does not.
    tiny = [(1e-6 * rng.normal(size=(1, 30))).astype("float32") for _ in range(3)]
    norm = _train_norm(MaskedBatchNorm1d(1, affine=False), tiny, n_batches=2)
    assert norm.varied.tolist() == [True]
    level = [np.full((1, 30), 1234.5, dtype="float32") for _ in range(3)]
    norm = _train_norm(MaskedBatchNorm1d(1, affine=False), level, n_batches=2)
    assert norm.varied.tolist() == [False]
    zeros = [np.zeros((1, 30), dtype="float32") for _ in range(3)]
    norm = _train_norm(MaskedBatchNorm1d(1, affine=False), zeros, n_batches=2)
    assert norm.varied.tolist() == [False]


@pytest.mark.parametrize("margin", [np.int64(1), np.float32(0.5), 2, 0.0])
def test_triplet_loss_margin_accepts_any_real_number(margin):
    # Parameter grids built with NumPy give NumPy scalars.
    loss = WassersteinTripletLoss(p=1, margin=margin)
    assert type(loss.margin) is float and loss.margin == float(margin)


@pytest.mark.parametrize("margin", [True, -0.5, float("nan"), "hard", None])
def test_triplet_loss_margin_refuses_what_is_no_margin(margin):
    with pytest.raises(ValueError, match="margin must be a non-negative float"):
        WassersteinTripletLoss(p=1, margin=margin)


def test_seeded_dropout_of_everything_gives_zeros_as_torch_does():
    dropout = SeededDropout(1.0).train()
    dropout.generator = torch.Generator().manual_seed(0)
    x = torch.ones(3, 4)
    torch.testing.assert_close(dropout(x), nn.Dropout(1.0).train()(x))
    torch.testing.assert_close(dropout(x), torch.zeros_like(x))
