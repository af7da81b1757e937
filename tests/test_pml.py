"""MetricLearningLoss against pytorch-metric-learning (PML) and brute force.

PML is an optional extra: the whole module is skipped when it is not installed.
The references are independent of the package's losses: PML's losses, miners and
reducers on the flattened, scaled quantiles, and a NumPy brute-force enumeration
of the triplets on ``d_p`` computed straight from its definition.
"""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

pml = pytest.importorskip(
    "pytorch_metric_learning",
    reason="pytorch-metric-learning (the optional 'pml' extra) is not installed",
)
from pytorch_metric_learning import distances, losses, miners, reducers  # noqa: E402
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu  # noqa: E402

from sklearn_wdist.nn import (  # noqa: E402
    MetricLearningLoss,
    QuantileWassersteinDistance,
    WassersteinTripletLoss,
    semi_hard_triplets,
)

# Four classes of sizes 3, 2, 3 and 1: the singleton has no positive, so it is
# never an anchor, but it is a negative for everyone else.
LABELS = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 3])


def _quantiles(seed, n=9, n_features=3, n_quantiles=6, spread=1.0):
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(
        n, n_features, n_quantiles, dtype=torch.float64, generator=generator
    )
    return (spread * q).sort(dim=-1).values


def _lp(p):
    return distances.LpDistance(p=p, normalize_embeddings=False)


def _d_p_numpy(quantiles, p):
    """``d_p`` straight from its definition, pair by pair, in NumPy."""
    q = quantiles.detach().numpy()
    n = len(q)
    d = np.zeros((n, n))
    for i, j in itertools.product(range(n), repeat=2):
        w_pp = (np.abs(q[i] - q[j]) ** p).mean(axis=-1)  # W_p^p per feature
        d[i, j] = w_pp.sum() ** (1.0 / p)
    return d


def _brute_force_loss(quantiles, labels, p, margin, mining):
    """Triplet loss by enumeration: batch_all or batch_hard, hard margin."""
    d = _d_p_numpy(quantiles, p)
    y = labels.numpy()
    n = len(y)
    if mining == "batch_all":
        values = [
            d[a, q] - d[a, k] + margin
            for a, q, k in itertools.product(range(n), repeat=3)
            if a != q and y[a] == y[q] and y[a] != y[k]
        ]
        positive = [v for v in values if v > 0]
        return float(np.mean(positive)) if positive else 0.0
    per_anchor = []
    for a in range(n):
        pos = [q for q in range(n) if q != a and y[q] == y[a]]
        neg = [k for k in range(n) if y[k] != y[a]]
        if pos and neg:
            hardest = max(d[a, q] for q in pos) - min(d[a, k] for k in neg)
            per_anchor.append(max(hardest + margin, 0.0))
    return per_anchor


# ---------------------------------------------------------------- the isometry
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lp_distance_on_embedded_quantiles_is_d_p(p, seed):
    quantiles = _quantiles(seed)
    embeddings = MetricLearningLoss(losses.TripletMarginLoss(distance=_lp(p)), p=p)
    e = embeddings.embed(quantiles)
    assert e.shape == (len(LABELS), 3 * 6)
    expected = _d_p_numpy(quantiles, p)
    np.testing.assert_allclose(_lp(p)(e).numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        QuantileWassersteinDistance(p).matrix(quantiles).numpy(), expected, rtol=1e-10
    )


# ---------------------------------------------------------------- batch_all
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("margin", [0.2, 1.0])
def test_batch_all_equals_pml_triplet_margin_loss(p, seed, margin):
    quantiles = _quantiles(seed)
    ours = WassersteinTripletLoss(p=p, margin=margin, mining="batch_all")(
        quantiles, LABELS
    )
    # PML's TripletMarginLoss forms all triplets itself when given no indices;
    # AvgNonZeroReducer (its default) averages over the triplets with positive
    # loss, exactly our batch_all.
    all_triplets = MetricLearningLoss(
        losses.TripletMarginLoss(
            margin=margin, distance=_lp(p), reducer=reducers.AvgNonZeroReducer()
        ),
        p=p,
    )(quantiles, LABELS)
    # The same with explicit indices: a miner returning every triplet.
    explicit = MetricLearningLoss(
        losses.TripletMarginLoss(margin=margin, distance=_lp(p)),
        miner=lambda e, y: lmu.get_all_triplets_indices(y),
        p=p,
    )(quantiles, LABELS)
    # And PML's margin-violating miner: it keeps d(a,n) - d(a,p) <= margin, the
    # triplets with positive loss (up to ties at exactly zero), then a plain mean.
    mined = MetricLearningLoss(
        losses.TripletMarginLoss(
            margin=margin, distance=_lp(p), reducer=reducers.MeanReducer()
        ),
        miner=miners.TripletMarginMiner(
            margin=margin, type_of_triplets="all", distance=_lp(p)
        ),
        p=p,
    )(quantiles, LABELS)
    expected = _brute_force_loss(quantiles, LABELS, p, margin, "batch_all")
    assert expected > 0
    for value in (ours, all_triplets, explicit, mined):
        assert float(value) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("seed", [0, 1])
def test_soft_margin_batch_all_equals_pml_smooth_loss(p, seed):
    quantiles = _quantiles(seed)
    ours = WassersteinTripletLoss(p=p, margin="soft", mining="batch_all")(
        quantiles, LABELS
    )
    # smooth_loss gives softplus(d_ap - d_an + margin): our soft margin is margin 0.
    theirs = MetricLearningLoss(
        losses.TripletMarginLoss(margin=0.0, smooth_loss=True, distance=_lp(p)), p=p
    )(quantiles, LABELS)
    d = _d_p_numpy(quantiles, p)
    y = LABELS.numpy()
    expected = np.mean(
        [
            np.logaddexp(0.0, d[a, q] - d[a, k])
            for a, q, k in itertools.product(range(len(y)), repeat=3)
            if a != q and y[a] == y[q] and y[a] != y[k]
        ]
    )
    assert float(ours) == pytest.approx(expected, rel=1e-10)
    assert float(theirs) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("p", [1, 2])
def test_batch_all_without_violations_is_zero_for_both(p):
    # Classes far apart: no triplet violates a small margin.
    quantiles = _quantiles(0, spread=0.01) + 10.0 * LABELS[:, None, None]
    ours = WassersteinTripletLoss(p=p, margin=0.1, mining="batch_all")(
        quantiles, LABELS
    )
    theirs = MetricLearningLoss(
        losses.TripletMarginLoss(margin=0.1, distance=_lp(p)), p=p
    )(quantiles, LABELS)
    assert float(ours) == 0.0
    assert float(theirs) == 0.0


# ---------------------------------------------------------------- batch_hard
def _pml_batch_hard(p, margin, reducer):
    return MetricLearningLoss(
        losses.TripletMarginLoss(margin=margin, distance=_lp(p), reducer=reducer),
        miner=miners.BatchHardMiner(distance=_lp(p)),
        p=p,
    )


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("margin", [0.2, 1.0])
def test_batch_hard_equals_pml_batch_hard_miner_with_mean_reducer(p, seed, margin):
    quantiles = _quantiles(seed)
    per_anchor = _brute_force_loss(quantiles, LABELS, p, margin, "batch_hard")
    assert len(per_anchor) == len(LABELS) - 1  # the singleton is no anchor
    expected = float(np.mean(per_anchor))
    ours = WassersteinTripletLoss(p=p, margin=margin, mining="batch_hard")(
        quantiles, LABELS
    )
    theirs = _pml_batch_hard(p, margin, reducers.MeanReducer())(quantiles, LABELS)
    assert float(ours) == pytest.approx(expected, rel=1e-10)
    assert float(theirs) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("p", [1, 2])
def test_pml_miner_picks_the_same_batch_hard_triplets(p):
    quantiles = _quantiles(5)
    ours = WassersteinTripletLoss(p=p, mining="batch_hard")
    expected = ours.mine(ours.distance.matrix(quantiles), LABELS)
    loss = _pml_batch_hard(p, 1.0, reducers.MeanReducer())
    got = loss.miner(loss.embed(quantiles), LABELS)
    assert len(got) == 3
    for a, b in zip(got, expected, strict=True):
        assert a.tolist() == b.tolist()


def test_pml_default_reducer_differs_from_our_batch_hard_mean():
    """Documented difference: PML's default reducer drops zero-loss anchors.

    TripletMarginLoss defaults to AvgNonZeroReducer, so with BatchHardMiner it
    averages over the anchors with positive loss; our batch_hard averages over
    all anchors (MeanReducer). The two agree only when every anchor violates.
    """
    p, margin = 2, 0.5
    # Three tight, well separated classes, plus one class of two far-apart
    # members that is close to class 0: only some anchors violate the margin.
    quantiles = _quantiles(0, spread=0.05)
    quantiles[3:5] += torch.tensor([-0.3, 0.3], dtype=torch.float64)[:, None, None]
    quantiles[5:8] += 10.0
    quantiles[8:] += 20.0
    per_anchor = np.array(_brute_force_loss(quantiles, LABELS, p, margin, "batch_hard"))
    assert (per_anchor > 0).any() and (per_anchor == 0).any()
    ours = WassersteinTripletLoss(p=p, margin=margin, mining="batch_hard")(
        quantiles, LABELS
    )
    default = MetricLearningLoss(
        losses.TripletMarginLoss(margin=margin, distance=_lp(p)),
        miner=miners.BatchHardMiner(distance=_lp(p)),
        p=p,
    )(quantiles, LABELS)
    assert float(ours) == pytest.approx(per_anchor.mean(), rel=1e-10)
    assert float(default) == pytest.approx(per_anchor[per_anchor > 0].mean(), rel=1e-10)
    assert float(default) > float(ours)


# ---------------------------------------------------------------- semi_hard
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_semi_hard_is_the_nearest_of_pml_semihard_negatives(p, seed):
    """Documented difference, and what holds across it.

    PML's TripletMarginMiner(type_of_triplets="semihard") returns *every* triplet
    with 0 < d(a,n) - d(a,p) <= margin; ours returns one triplet per (a, p) pair,
    its nearest negative farther than the positive (or the farthest negative when
    none is). With a margin larger than every distance, for each pair PML mines,
    our negative is the nearest of PML's negatives for that pair.
    """
    quantiles = _quantiles(seed)
    d = QuantileWassersteinDistance(p).matrix(quantiles)
    loss = MetricLearningLoss(losses.TripletMarginLoss(distance=_lp(p)), p=p)
    miner = miners.TripletMarginMiner(
        margin=float(d.max()) + 1.0, type_of_triplets="semihard", distance=_lp(p)
    )
    pa, pp, pn = (t.tolist() for t in miner(loss.embed(quantiles), LABELS))
    ours = {
        (a, q): k
        for a, q, k in zip(
            *(t.tolist() for t in semi_hard_triplets(d, LABELS)), strict=True
        )
    }
    pml_pairs = {}
    for a, q, k in zip(pa, pp, pn, strict=True):
        pml_pairs.setdefault((a, q), []).append(k)
    assert pml_pairs  # the comparison is not vacuous
    assert len(pn) > len(pml_pairs)  # PML keeps several negatives per pair
    for pair, negatives in pml_pairs.items():
        nearest = min(negatives, key=lambda k: (float(d[pair[0], k]), k))
        assert ours[pair] == nearest


# ------------------------------------------------ pair and softmax losses
def _ordered_pairs(labels, same):
    y = labels.numpy()
    return [
        (i, j)
        for i, j in itertools.product(range(len(y)), repeat=2)
        if i != j and (y[i] == y[j]) == same
    ]


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_contrastive_loss_on_d_p_matches_brute_force(p, seed):
    quantiles = _quantiles(seed)
    d = _d_p_numpy(quantiles, p)
    # A negative margin halfway between two middle negative distances: about
    # half the negative pairs violate it, none sits on it (PML's default is 1,
    # on its own scale).
    between = np.unique([d[i, j] for i, j in _ordered_pairs(LABELS, same=False)])
    neg_margin = float(between[len(between) // 2 - 1 : len(between) // 2 + 1].mean())
    loss = MetricLearningLoss(
        losses.ContrastiveLoss(pos_margin=0.0, neg_margin=neg_margin, distance=_lp(p)),
        p=p,
    )
    positive = [d[i, j] for i, j in _ordered_pairs(LABELS, same=True)]
    negative = [neg_margin - d[i, j] for i, j in _ordered_pairs(LABELS, same=False)]
    violated = [v for v in negative if v > 0]
    assert 0 < len(violated) < len(negative)
    # PML averages each part over its non-zero terms, then adds the parts.
    expected = np.mean(positive) + np.mean(violated)
    np.testing.assert_allclose(float(loss(quantiles, LABELS)), expected, rtol=1e-10)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("temperature", [0.1, 1.0])
def test_supervised_contrastive_loss_on_d_p_matches_brute_force(p, temperature):
    from scipy.special import logsumexp

    quantiles = _quantiles(3)
    loss = MetricLearningLoss(
        losses.SupConLoss(temperature=temperature, distance=_lp(p)), p=p
    )
    d = _d_p_numpy(quantiles, p)
    y = LABELS.numpy()
    per_anchor = []
    for i in range(len(y)):
        others = [j for j in range(len(y)) if j != i]
        positives = [j for j in others if y[j] == y[i]]
        if not positives:
            continue  # the singleton: no positive, no term
        # Similarity -d / temperature, normalised over every other sequence.
        log_norm = logsumexp([-d[i, j] / temperature for j in others])
        per_anchor.append(
            -np.mean([-d[i, j] / temperature - log_norm for j in positives])
        )
    np.testing.assert_allclose(
        float(loss(quantiles, LABELS)), np.mean(per_anchor), rtol=1e-9
    )


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("p", [1, 2])
def test_gradients_flow_to_quantiles_and_match_ours(p):
    quantiles = _quantiles(3).requires_grad_()
    loss = _pml_batch_hard(p, 1.0, reducers.MeanReducer())
    loss(quantiles, LABELS).backward()
    grad = quantiles.grad.clone()
    assert torch.isfinite(grad).all()
    assert (grad != 0).any()

    reference = quantiles.detach().clone().requires_grad_()
    WassersteinTripletLoss(p=p, margin=1.0, mining="batch_hard")(
        reference, LABELS
    ).backward()
    torch.testing.assert_close(grad, reference.grad, rtol=1e-9, atol=1e-12)


def test_gradients_are_finite_where_embeddings_coincide():
    # Class 1 holds two identical sequences: each one's only positive is at
    # distance zero, where the gradient of the Euclidean norm is undefined.
    quantiles = _quantiles(4)
    quantiles[4] = quantiles[3]
    quantiles.requires_grad_()
    loss = _pml_batch_hard(2, 1.0, reducers.MeanReducer())
    value = loss(quantiles, LABELS)
    value.backward()
    assert torch.isfinite(value)
    assert torch.isfinite(quantiles.grad).all()
    assert (quantiles.grad != 0).any()


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("distance", "match"),
    [
        (distances.LpDistance(), "normalize_embeddings=True"),
        (distances.LpDistance(p=1, normalize_embeddings=False), "p=1"),
        (distances.LpDistance(p=2, power=2, normalize_embeddings=False), "power=2"),
        (distances.CosineSimilarity(), "CosineSimilarity, not LpDistance"),
    ],
)
def test_wrong_loss_distance_raises(distance, match):
    with pytest.raises(ValueError, match=match) as info:
        MetricLearningLoss(losses.TripletMarginLoss(distance=distance), p=2)
    assert "LpDistance(p=2, normalize_embeddings=False)" in str(info.value)
    assert "loss" in str(info.value)


def test_pml_default_distance_raises():
    with pytest.raises(ValueError, match="normalize_embeddings=True"):
        MetricLearningLoss(losses.TripletMarginLoss())
    with pytest.raises(ValueError, match="uses CosineSimilarity"):
        MetricLearningLoss(losses.NTXentLoss())


def test_p_mismatch_raises_for_p_1():
    with pytest.raises(ValueError, match="p=2 but this loss has p=1"):
        MetricLearningLoss(losses.TripletMarginLoss(distance=_lp(2)), p=1)


def test_wrong_miner_distance_raises():
    loss = losses.TripletMarginLoss(distance=_lp(2))
    with pytest.raises(ValueError, match="miner's LpDistance normalises"):
        MetricLearningLoss(loss, miner=miners.BatchHardMiner(), p=2)
    with pytest.raises(ValueError, match="miner's LpDistance has p=1"):
        MetricLearningLoss(loss, miner=miners.BatchHardMiner(distance=_lp(1)), p=2)
    with pytest.raises(ValueError, match="miner uses CosineSimilarity"):
        MetricLearningLoss(loss, miner=miners.MultiSimilarityMiner(), p=2)


def test_non_callable_loss_raises_type_error():
    with pytest.raises(TypeError, match=r"loss must be a callable torch\.nn\.Module"):
        MetricLearningLoss("triplet")
    with pytest.raises(TypeError, match="loss must be"):
        MetricLearningLoss(lambda e, y: e.sum())  # callable, but not a Module


def test_non_callable_miner_raises_type_error():
    with pytest.raises(TypeError, match="miner must be None or a callable"):
        MetricLearningLoss(losses.TripletMarginLoss(distance=_lp(2)), miner="hard")


@pytest.mark.parametrize(
    ("p", "error"),
    [(3, ValueError), (0, ValueError), (True, TypeError), (2.0, TypeError)],
)
def test_bad_p_raises(p, error):
    with pytest.raises(error, match="p must be"):
        MetricLearningLoss(nn.Identity(), p=p)


def test_quantiles_must_be_three_dimensional():
    loss = MetricLearningLoss(losses.TripletMarginLoss(distance=_lp(2)))
    with pytest.raises(ValueError, match=r"shape \(B, K, M\)"):
        loss(torch.zeros(4, 6, dtype=torch.float64), torch.tensor([0, 0, 1, 1]))


def test_non_pml_loss_is_not_checked_and_modules_are_registered():
    class Proxy(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(3 * 6, dtype=torch.float64))
            self.distance = object()  # not PML's: not ours to check

        def forward(self, embeddings, labels):
            return (embeddings @ self.weight).mean()

    loss = MetricLearningLoss(Proxy(), p=1)
    assert list(loss.parameters()) == [loss.loss.weight]
    quantiles = _quantiles(0)
    expected = (quantiles.reshape(len(LABELS), -1) / 6).sum(dim=1).mean()
    assert float(loss(quantiles, LABELS).detach()) == pytest.approx(float(expected))


# --------------------------------------------------------------------------- #
# Through the estimator
# --------------------------------------------------------------------------- #
def _sequences():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 8)
    X = rng.normal(size=(24, 2, 20))
    X[y == 1] *= 2.0
    X[y == 2] += 1.0
    return X, y


def _batch_losses(model):
    """The training loss of every batch of every epoch, from skorch's history."""
    return [b["train_loss"] for h in model.history_ for b in h["batches"]]


@pytest.mark.parametrize("p", [1, 2])
def test_embedder_trained_with_pml_equals_the_default_loss(p):
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.losses import TripletMarginLoss
    from pytorch_metric_learning.miners import BatchHardMiner
    from pytorch_metric_learning.reducers import MeanReducer

    from sklearn_wdist import WassersteinSequenceEmbedder

    X, y = _sequences()
    params = dict(n_features=4, hidden_channels=8, n_quantiles=4, max_epochs=3, p=p)
    ours = WassersteinSequenceEmbedder(**params, random_state=0).fit(X, y)
    distance = LpDistance(p=p, normalize_embeddings=False)
    pml = WassersteinSequenceEmbedder(
        **params,
        loss=TripletMarginLoss(margin=1.0, distance=distance, reducer=MeanReducer()),
        miner=BatchHardMiner(distance=LpDistance(p=p, normalize_embeddings=False)),
        random_state=0,
    ).fit(X, y)

    # Every batch's loss agrees to float32 rounding: the same triplets, the same
    # distances, the same training.
    np.testing.assert_allclose(_batch_losses(pml), _batch_losses(ours), rtol=1e-5)
    # Rounding differences of the two distance implementations reach the
    # weights through Adam, which normalises even near-zero gradients (those
    # of biases followed by batch normalisation), so the embeddings agree to
    # a few thousandths of their scale only.
    np.testing.assert_allclose(pml.transform(X), ours.transform(X), atol=1e-2)


@pytest.mark.parametrize(
    "make_loss",
    [
        lambda d: losses.ContrastiveLoss(distance=d),
        lambda d: losses.SupConLoss(distance=d),
    ],
    ids=["contrastive", "supcon"],
)
def test_embedder_trains_with_pml_pair_and_softmax_losses(make_loss):
    from sklearn_wdist import WassersteinSequenceEmbedder

    X, y = _sequences()
    params = dict(n_features=4, hidden_channels=8, n_quantiles=4, max_epochs=3)
    model = WassersteinSequenceEmbedder(
        **params, loss=make_loss(_lp(1)), random_state=0
    ).fit(X, y)
    batch_losses = _batch_losses(model)
    assert len(batch_losses) > 0 and np.all(np.isfinite(batch_losses))
    E = model.transform(X)
    assert np.all(np.isfinite(E))
    # The same seed, batches and initial weights with the default triplet loss
    # give other embeddings: the PML loss is what trained the encoder.
    default = WassersteinSequenceEmbedder(**params, random_state=0).fit(X, y)
    assert np.abs(E - default.transform(X)).max() > 1e-3


def test_embedder_refuses_a_pml_loss_on_another_distance_before_training():
    from pytorch_metric_learning.losses import TripletMarginLoss

    from sklearn_wdist import WassersteinSequenceEmbedder

    X, y = _sequences()
    model = WassersteinSequenceEmbedder(loss=TripletMarginLoss(), max_epochs=1)
    with pytest.raises(ValueError, match="normalises the embeddings"):
        model.fit(X, y)
    assert not hasattr(model, "net_")


def test_embedder_refuses_a_miner_without_a_loss():
    from pytorch_metric_learning.miners import BatchHardMiner

    from sklearn_wdist import WassersteinSequenceEmbedder

    X, y = _sequences()
    with pytest.raises(ValueError, match="miner is used with a pytorch-metric"):
        WassersteinSequenceEmbedder(miner=BatchHardMiner(), max_epochs=1).fit(X, y)


@pytest.mark.parametrize(
    "make",
    [
        lambda: losses.MultipleLosses([losses.TripletMarginLoss()]),
        lambda: losses.CrossBatchMemory(
            losses.TripletMarginLoss(distance=_lp(1)), embedding_size=18
        ),
        lambda: losses.SelfSupervisedLoss(losses.TripletMarginLoss()),
        lambda: losses.CrossBatchMemory(
            losses.TripletMarginLoss(distance=_lp(2)),
            embedding_size=18,
            miner=miners.BatchHardMiner(),
        ),
    ],
    ids=["multiple-default", "memory-p1", "self-supervised", "memory-miner"],
)
def test_wrapped_pml_losses_are_checked_too(make):
    # Wrappers hold their losses and miners as submodules, each with a distance.
    with pytest.raises(ValueError, match="LpDistance"):
        MetricLearningLoss(make(), p=2)


def test_wrapped_pml_losses_on_the_learned_distance_are_accepted():
    loss = MetricLearningLoss(
        losses.MultipleLosses([losses.TripletMarginLoss(distance=_lp(2))]), p=2
    )
    quantiles = _quantiles(0)
    assert torch.isfinite(loss(quantiles, LABELS))


def test_numpy_integer_order_is_accepted():
    loss = MetricLearningLoss(losses.TripletMarginLoss(distance=_lp(2)), p=np.int64(2))
    assert loss.p == 2 and type(loss.p) is int


def test_embedder_refuses_a_miner_with_a_loss_that_takes_no_tuples():
    from sklearn_wdist import WassersteinSequenceEmbedder
    from sklearn_wdist.nn import WassersteinTripletLoss

    X, y = _sequences()
    miner = miners.BatchHardMiner(distance=_lp(1))
    for loss in (
        WassersteinTripletLoss(p=1),
        MetricLearningLoss(losses.TripletMarginLoss(distance=_lp(1)), p=1),
    ):
        model = WassersteinSequenceEmbedder(loss=loss, miner=miner, max_epochs=1)
        with pytest.raises(ValueError, match="does not take mined tuples"):
            model.fit(X, y)
        assert not hasattr(model, "net_")
    # The order is checked with a miner too.
    wrong_order = MetricLearningLoss(losses.TripletMarginLoss(distance=_lp(2)), p=2)
    model = WassersteinSequenceEmbedder(loss=wrong_order, miner=miner, max_epochs=1)
    with pytest.raises(ValueError, match="p=2 Wasserstein distance, but p=1"):
        model.fit(X, y)


def test_warm_start_continues_the_loss_parameters():
    from sklearn_wdist import WassersteinSequenceEmbedder

    X, y = _sequences()
    loss = losses.ProxyNCALoss(num_classes=3, embedding_size=40, distance=_lp(1))
    params = dict(n_features=4, hidden_channels=8, n_quantiles=4, lr=0.05)
    model = WassersteinSequenceEmbedder(
        **params, loss=loss, max_epochs=3, random_state=0
    ).fit(X, y)
    trained = model.net_.criterion_.loss.proxies.detach().clone()
    initial = loss.proxies.detach().clone()  # deep-copied at fit: untouched
    assert (trained - initial).abs().max() > 0.05
    model.set_params(warm_start=True, max_epochs=1).fit(X, y)
    continued = model.net_.criterion_.loss.proxies.detach()
    # One more epoch moves the trained proxies a little, from where they were.
    assert (continued - trained).abs().max() < (continued - initial).abs().max()


def test_warm_start_refuses_other_classes_for_per_class_loss_parameters():
    # The proxies are indexed by class code: a warm start on classes "b", "c"
    # trained the proxy learned for "a" with the sequences of "b".
    from sklearn_wdist import WassersteinSequenceEmbedder

    X, y = _sequences()
    labels = np.array(["a", "b", "c"])[y]
    loss = losses.ProxyNCALoss(num_classes=3, embedding_size=40, distance=_lp(1))
    model = WassersteinSequenceEmbedder(
        n_features=4, hidden_channels=8, n_quantiles=4, loss=loss, max_epochs=1
    ).fit(X, labels)
    before = model.net_.criterion_.loss.proxies.detach().clone()
    keep = labels != "a"
    model.set_params(warm_start=True)
    with pytest.raises(ValueError, match=r"per-class parameters.*\['a', 'b', 'c'\]"):
        model.fit(X[keep], labels[keep])
    torch.testing.assert_close(model.net_.criterion_.loss.proxies, before)
    model.fit(X[::-1], labels[::-1])  # the same classes, in any order, continue
    assert len(model.history_) == 2
