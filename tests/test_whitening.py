"""Tests of the channel whitening fitted before the encoder."""

import warnings

import numpy as np
import pytest
from sklearn.covariance import LedoitWolf

from sklearn_wdist import WassersteinSequenceEmbedder
from sklearn_wdist._whitening import fit_whitening, to_network_input


def _correlated_classes(n_per_class=20, length=50, seed=0):
    rng = np.random.default_rng(seed)
    mixing = np.array([[2.0, 0.0, 0.0], [1.5, 0.5, 0.0], [0.0, 0.3, 4.0]])
    sequences, codes = [], []
    for code, offset in enumerate(([0, 0, 0], [5, -3, 1], [-4, 2, 8])):
        for _ in range(n_per_class):
            steps = mixing @ rng.normal(size=(3, length)) + np.array(offset)[:, None]
            sequences.append(steps.astype("float32"))
            codes.append(code)
    return sequences, np.array(codes)


def _ledoit_wolf_covariance(centred):
    """Covariance whose inverse square root the whitening should be.

    scikit-learn's Ledoit-Wolf estimate of the correlation of the standardised
    steps, in the channels' units again: ``diag(s) @ R @ diag(s)``.
    """
    spread = np.sqrt(np.mean(centred**2, axis=1))  # around the given centres
    correlation = LedoitWolf(assume_centered=True).fit((centred / spread[:, None]).T)
    return spread[:, None] * correlation.covariance_ * spread[None, :], spread


@pytest.mark.parametrize("kind", ["within_class", "total"])
def test_whitened_steps_have_identity_covariance(kind):
    sequences, codes = _correlated_classes()
    mean, matrix = fit_whitening(sequences, codes, kind, np.random.default_rng(0))
    steps = np.concatenate(sequences, axis=1).astype(np.float64)
    np.testing.assert_allclose(mean, steps.mean(axis=1), rtol=1e-6)
    whitened = np.concatenate(to_network_input(sequences, mean, matrix), axis=1)
    step_codes = np.repeat(codes, 50)
    if kind == "within_class":
        # Remove each class's mean: the residual variation is what is whitened.
        for code in np.unique(codes):
            members = step_codes == code
            whitened[:, members] -= whitened[:, members].mean(axis=1, keepdims=True)
    # Ledoit-Wolf shrinks a little towards a multiple of the identity.
    np.testing.assert_allclose(np.cov(whitened, bias=True), np.eye(3), atol=0.1)
    # Exactly: the matrix is an inverse square root of scikit-learn's
    # Ledoit-Wolf estimate of the correlation of the centred raw steps, in
    # their units, whose correlation part is symmetric (ZCA-cor).
    centred = steps - mean[:, None]
    if kind == "within_class":
        for code in np.unique(codes):
            members = step_codes == code
            centred[:, members] = steps[:, members] - steps[:, members].mean(
                axis=1, keepdims=True
            )
    reference, spread = _ledoit_wolf_covariance(centred)
    np.testing.assert_allclose(matrix @ reference @ matrix.T, np.eye(3), atol=1e-8)
    root = matrix * spread[None, :]
    np.testing.assert_allclose(root, root.T, atol=1e-10)


def test_within_class_differs_from_total_when_classes_are_apart():
    sequences, codes = _correlated_classes()
    rng = np.random.default_rng(0)
    _, within = fit_whitening(sequences, codes, "within_class", rng)
    _, total = fit_whitening(sequences, codes, "total", rng)
    # Class offsets inflate the total covariance, so total whitening shrinks more.
    assert np.linalg.det(total) < 0.5 * np.linalg.det(within)


def test_constant_channels_give_finite_matrices():
    sequences = [np.ones((2, 10), dtype="float32") for _ in range(4)]
    codes = np.array([0, 0, 1, 1])
    mean, matrix = fit_whitening(
        sequences, codes, "within_class", np.random.default_rng(0)
    )
    np.testing.assert_array_equal(matrix, np.eye(2))
    out = to_network_input(sequences, mean, matrix)
    assert all(o.dtype == np.float32 and np.all(o == 0) for o in out)
    one_constant = [
        np.vstack([np.ones(10), np.arange(10.0) * (i + 1)]).astype("float32")
        for i in range(4)
    ]
    _, matrix = fit_whitening(one_constant, codes, "total", np.random.default_rng(0))
    assert np.all(np.isfinite(matrix))


@pytest.mark.parametrize("kind", ["within_class", "total"])
@pytest.mark.parametrize("levels", [(0.1, 0.1), (0.1, 0.7), (1.0, 1.0), (1.0, 2.0)])
def test_a_constant_that_its_mean_would_round_is_not_amplified(kind, levels):
    # The float64 mean of 0.1 repeated is not 0.1: its rounding error was
    # taken for the channel's spread and scaled up by about 1e16.
    rng = np.random.default_rng(0)
    codes = np.repeat([0, 1], 6)
    sequences = [
        np.vstack([rng.normal(size=30) + code, np.full(30, levels[code])])
        for code in codes
    ]
    mean, matrix = fit_whitening(sequences, codes, kind, np.random.default_rng(0))
    assert np.abs(matrix).max() < 4.0
    if levels[0] == levels[1]:
        assert mean[1] == levels[0]
        out = to_network_input(sequences, mean, matrix)
        assert all(np.all(o[1] == 0.0) for o in out)


def test_channels_without_any_variation_around_the_centres_keep_their_scale():
    # Every channel constant within its class, one in tiny units: each is
    # taken in its own power-of-two unit, not passed as it is (float32 would
    # flush the tiny one to zero).
    codes = np.array([0, 0, 1, 1, 2, 2])
    values = {0: (1.0, 1.0), 1: (2.0, 3.0), 2: (4.0, 2.0)}
    sequences = [
        np.array([[values[c][0] * 1e-46], [values[c][1]]]) * np.ones((2, 4))
        for c in codes
    ]
    mean, matrix = fit_whitening(
        sequences, codes, "within_class", np.random.default_rng(0)
    )
    assert np.count_nonzero(matrix - np.diag(np.diag(matrix))) == 0
    out = to_network_input(sequences, mean, matrix)
    tiny = [o[0, 0] for o in out[::2]]
    assert len(set(tiny)) == 3 and all(0.1 <= abs(v) <= 2.0 for v in tiny)


def test_one_channel_without_variation_around_the_centres_keeps_its_scale():
    codes = np.array([0, 0, 1, 1])
    sequences = [np.full((1, 5), (1.0 + code) * 1e-42) for code in codes]
    mean, matrix = fit_whitening(
        sequences, codes, "within_class", np.random.default_rng(0)
    )
    out = to_network_input(sequences, mean, matrix)
    assert all(0.25 <= abs(o[0, 0]) <= 2.0 for o in out)


@pytest.mark.parametrize("n_channels", [1, 2])
def test_the_unit_of_a_channel_without_variation_covers_both_sides(n_channels):
    # Nine sequences at 100, one at 0: the mean is 90, the largest deviation
    # 90 (below it), not 10 (above it); the unit is the power of two 128.
    codes = np.array([0] * 9 + [1])
    sequences = [
        np.full((n_channels, 6), 100.0 if code == 0 else 0.0) for code in codes
    ]
    mean, matrix = fit_whitening(
        sequences, codes, "within_class", np.random.default_rng(0)
    )
    np.testing.assert_allclose(np.diag(matrix), 1 / 128)
    out = to_network_input(sequences, mean, matrix)
    assert 0.5 < max(np.abs(o).max() for o in out) <= 1.0


def test_a_channel_below_the_normal_range_is_refused_with_a_reason():
    rng = np.random.default_rng(0)
    codes = np.repeat([0, 1], 4)
    sequences = [rng.normal(size=(2, 10)) * 1e-310 for _ in codes]
    with pytest.raises(ValueError, match="below float64's normal range"):
        fit_whitening(sequences, codes, "within_class", np.random.default_rng(0))


def test_directions_without_variation_are_not_amplified():
    """A channel constant within each class gets the average variance.

    Ledoit-Wolf alone would give it ``shrinkage * average``, tiny on long
    inputs, and so a gain of hundreds on whatever offset it shows later. With
    no spread of its own, it is measured in a power-of-two unit near its
    largest deviation from the mean, whatever unit it comes in.
    """
    rng = np.random.default_rng(0)
    varying = [rng.normal(size=500) for _ in range(4)]
    codes = np.array([0, 1, 0, 1])
    gains = []
    for unit in (1.0, 1e-3, 1e4):
        sequences = [
            np.vstack([v, np.full(500, 5.0 * unit * code)]).astype("float32")
            for v, code in zip(varying, codes, strict=True)
        ]
        _, matrix = fit_whitening(sequences, codes, "within_class", rng)
        peak = np.float64(np.float32(2.5 * unit))  # deviation from the mean
        # The correlation's trace is 1 over two channels: average 1/2.
        expected = 2.0**0.5 / 2.0 ** np.ceil(np.log2(peak))
        np.testing.assert_allclose(matrix[1, 1], expected, rtol=1e-6)
        np.testing.assert_allclose(matrix[0, 1], 0.0, atol=1e-8)
        np.testing.assert_allclose(matrix[1, 0], 0.0, atol=1e-8)
        gains.append(matrix[1, 1] * peak)
        # The varying channel keeps its (slightly shrunk) within-class spread.
        within = np.concatenate(varying).astype(np.float32).astype(np.float64)
        assert 0.95 < matrix[0, 0] * within.std() < 1.05
    # Its largest deviation comes out between 0.7 and 1.5 in every unit.
    assert all(2.0**-0.5 < gain <= 2.0**0.5 for gain in gains)


@pytest.mark.parametrize("kind", ["within_class", "total"])
def test_long_inputs_use_a_random_subset_of_steps(monkeypatch, kind):
    import sklearn_wdist._whitening as whitening

    sequences, codes = _correlated_classes(length=200)
    monkeypatch.setattr(whitening, "_MAX_STEPS", 3000)
    mean, matrix = fit_whitening(sequences, codes, kind, np.random.default_rng(0))
    # Reference: centre every step by the mean of its class (or of all steps),
    # over *all* steps, then keep the same random subset of step positions.
    steps = np.concatenate(sequences, axis=1).astype(np.float64)
    step_codes = np.repeat(codes, 200)
    centred = steps - steps.mean(axis=1, keepdims=True)
    if kind == "within_class":
        for code in np.unique(codes):
            members = step_codes == code
            centred[:, members] = steps[:, members] - steps[:, members].mean(
                axis=1, keepdims=True
            )
    chosen = np.sort(np.random.default_rng(0).choice(steps.shape[1], 3000, False))
    reference, _ = _ledoit_wolf_covariance(centred[:, chosen])
    np.testing.assert_allclose(mean, steps.mean(axis=1))
    np.testing.assert_allclose(matrix @ reference @ matrix.T, np.eye(3), atol=1e-8)


def test_one_channel_keeps_the_plain_computation():
    # Whitening one channel is a rescaling: ordinary values get exactly the
    # matrix of the Ledoit-Wolf variance in their own unit.
    rng = np.random.default_rng(3)
    sequences = [rng.normal(3.0, 2.0, size=(1, 40)) for _ in range(6)]
    codes = np.array([0, 0, 0, 1, 1, 1])
    mean, matrix = fit_whitening(sequences, codes, "total", rng)
    centred = np.concatenate(sequences, axis=1) - mean[:, None]
    variance = np.mean(centred**2)
    shrinkage = LedoitWolf(assume_centered=True).fit(centred.T).shrinkage_
    expected = ((1.0 - shrinkage) * variance + shrinkage * variance) ** -0.5
    np.testing.assert_allclose(matrix, [[expected]], rtol=1e-14)


@pytest.mark.parametrize("kind", ["within_class", "total"])
@pytest.mark.parametrize(
    "units",
    [[1.0, 1e-3, 1e3], [1e-6, 1.0, 1.0], [1e-170] * 3, [1e30, 1.0, 1e-30]],
    ids=["mixed", "one-small", "tiny", "extreme-mixed"],
)
def test_whitened_steps_do_not_depend_on_the_channels_units(kind, units):
    """Each channel may come in any unit: the whitened steps stay the same.

    Shrinking the covariance towards a multiple of the identity would let the
    channels in the largest units set the target and crush the others, and
    squares of values below ~1e-154 underflow.
    """
    sequences, codes = _correlated_classes()
    rng = np.random.default_rng(0)
    mean, matrix = fit_whitening(sequences, codes, kind, rng)
    reference = to_network_input(sequences, mean, matrix)
    units = np.array(units)
    scaled = [s.astype(np.float64) * units[:, None] for s in sequences]
    mean_s, matrix_s = fit_whitening(scaled, codes, kind, np.random.default_rng(0))
    np.testing.assert_allclose(matrix_s * units[None, :], matrix, rtol=1e-9)
    for ours, theirs in zip(
        to_network_input(scaled, mean_s, matrix_s), reference, strict=True
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_the_fitted_embedding_does_not_depend_on_the_channels_units():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 6)
    X = np.stack(
        [rng.normal(size=(3, 25)) + np.array([[0.0], [c], [0.5 * c]]) for c in y]
    )
    params = {"n_quantiles": 4, "max_epochs": 2, "random_state": 0, "n_threads": 1}
    expected = WassersteinSequenceEmbedder(**params).fit(X, y).transform(X)
    for units in ([1.0, 1e-3, 1e3], [1e-170] * 3):
        scaled = X * np.array(units)[None, :, None]
        embedder = WassersteinSequenceEmbedder(**params).fit(scaled, y)
        np.testing.assert_allclose(
            embedder.transform(scaled), expected, rtol=1e-4, atol=1e-5
        )


def test_training_input_that_vanishes_in_float32_is_refused():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 6)
    X = (rng.normal(size=(12, 2, 20)) + y[:, None, None]) * 1e-50
    params = {"n_quantiles": 4, "max_epochs": 1, "random_state": 0}
    with pytest.raises(ValueError, match="X varies only below float32's smallest"):
        WassersteinSequenceEmbedder(**params, input_whitening=None).fit(X, y)
    # Whitened, the same data are in range; constant data are no error.
    WassersteinSequenceEmbedder(**params).fit(X, y)
    constant = np.zeros_like(X)
    WassersteinSequenceEmbedder(**params, input_whitening=None).fit(constant, y)


def test_unwhitened_channels_in_small_units_are_not_shrunk_by_a_short_fit():
    # The input normalisation's running variance starts at the training data's
    # rather than at 1: after a few epochs it would still lean towards 1 and
    # shrink every channel with a small spread in evaluation.
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 10)
    X = rng.normal(size=(30, 2, 30))
    X[:, 0] += 0.7 * y[:, None]
    params = {
        "n_quantiles": 4,
        "max_epochs": 5,
        "random_state": 0,
        "input_whitening": None,
        "include_input": False,
    }
    spreads = []
    for unit in (1.0, 1e-2):
        embedder = WassersteinSequenceEmbedder(**params).fit(X * unit, y)
        spreads.append(np.ptp(embedder.transform(X * unit), axis=0).max())
        norm = embedder.module_.encoder.input_norm
        steps = np.concatenate(list(X * unit), axis=1)
        np.testing.assert_allclose(
            norm.running_var.numpy(), steps.var(axis=1), rtol=0.5
        )
    assert spreads[1] > 0.5 * spreads[0]


@pytest.mark.parametrize("max_epochs", [0, 1])
def test_unwhitened_channels_are_standardised_even_without_training(max_epochs):
    # The running statistics started at the data's but the "varied" flags did
    # not: a fit of no epoch centred the channels without scaling them
    # (standard deviations 96 and 0.01 where 1 was documented).
    import torch

    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2, 30)) * np.array([100.0, 0.01])[None, :, None]
    y = np.repeat([0, 1, 2], 4)
    model = WassersteinSequenceEmbedder(
        max_epochs=max_epochs, input_whitening=None, random_state=0, n_threads=1
    ).fit(X, y)
    norm = model.module_.encoder.input_norm.eval()
    assert norm.varied.all()
    x = torch.from_numpy(X.astype(np.float32))
    with torch.no_grad():
        out = norm(x, torch.ones(x.shape[0], 1, x.shape[2], dtype=torch.bool))
    np.testing.assert_allclose(out.std(dim=(0, 2)).numpy(), 1.0, rtol=0.05)


def test_whitened_within_classes_input_starts_its_running_statistics_too():
    # Whitened within classes, a channel's total variance is 1 plus the
    # variance between the classes (12 here): the running variance started at
    # 1, and after one epoch evaluation saw channels scaled about 2 times the
    # way training had seen them.
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2, 3], 8)
    X = rng.normal(size=(32, 2, 30))
    X[:, 0] += 3.0 * y[:, None]
    model = WassersteinSequenceEmbedder(
        max_epochs=0, input_whitening="within_class", random_state=0, n_threads=1
    ).fit(X, y)
    inputs = to_network_input(list(X), model.whitening_mean_, model.whitening_matrix_)
    steps = np.concatenate(inputs, axis=1).astype(np.float64)
    norm = model.module_.encoder.input_norm
    assert steps[0].var() > 5.0
    np.testing.assert_allclose(
        norm.running_var.numpy(), steps.var(axis=1, ddof=1), rtol=1e-5
    )
    np.testing.assert_allclose(norm.running_mean.numpy(), steps.mean(axis=1), atol=1e-5)


def test_channels_float32_cannot_resolve_are_refused_or_warned_about():
    # A user encoder gets the values as they are: at 1e9 a channel varying by
    # about 30 became constant in float32, and every distance was 0 without a
    # word.
    import torch

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 8)
    X = rng.normal(size=(16, 1, 40)) * (1.0 + 2.0 * y)[:, None, None]
    params = {"n_quantiles": 4, "max_epochs": 1, "random_state": 0, "n_threads": 1}

    def encoder():
        return torch.nn.Sequential(torch.nn.Conv1d(1, 4, 3), torch.nn.ReLU())

    with pytest.raises(ValueError, match=r"channel 0 varies by .* constant in float32"):
        WassersteinSequenceEmbedder(**params, encoder=encoder()).fit(X + 1e9, y)
    # Near 4e6 the float32 step is 0.25: a spread of about 18 is 72 steps.
    with pytest.warns(
        UserWarning, match=r"channel 0 .* around 4e\+06.* about 7\d steps"
    ):
        WassersteinSequenceEmbedder(**params, encoder=encoder()).fit(X + 4e6, y)
    # A constant read through a unit conversion varies by float64 rounding
    # only: constant, as an exact constant is, not refused.
    from sklearn_wdist._whitening import check_float32_resolution

    converted = (
        (np.full((16, 1, 40), 70.34) + 1e-13 * (y[:, None, None] > 0) - 32) * 5 / 9
    )
    assert np.ptp(converted) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_float32_resolution(list(np.concatenate([X, converted], axis=1)))
    # Centred by the embedder, the same data are fine.
    model = WassersteinSequenceEmbedder(
        **params, encoder=encoder(), input_whitening="total"
    ).fit(X + 1e9, y)
    assert np.ptp(model.transform(X + 1e9), axis=0).max() > 0


@pytest.mark.parametrize("layout", ["shuffled", "singletons", "text"])
def test_within_class_centres_follow_each_class_whatever_its_size_or_place(layout):
    # The centres are computed per class over the sequences grouped once (a
    # mask per class made label-free fits quadratic in the sequences).
    rng = np.random.default_rng(3)
    n = 40
    codes = rng.permutation(np.repeat(np.arange(8), 5))
    if layout == "singletons":
        codes = np.r_[codes[:20], np.arange(100, 120)]
    mixing = np.array([[2.0, 0.0, 0.0], [1.5, 0.5, 0.0], [0.0, 0.3, 4.0]])
    sequences = [
        mixing @ rng.normal(size=(3, int(rng.integers(5, 30)))) + 3.0 * (c % 4)
        for c in codes
    ]
    labels = np.array([f"class-{c}" for c in codes]) if layout == "text" else codes
    mean, matrix = fit_whitening(
        sequences, labels, "within_class", np.random.default_rng(0)
    )
    steps = np.concatenate(sequences, axis=1)
    step_codes = np.repeat(codes, [s.shape[1] for s in sequences])
    centred = steps.copy()
    for code in np.unique(codes):
        members = step_codes == code
        centred[:, members] -= steps[:, members].mean(axis=1, keepdims=True)
    assert len(sequences) == n
    reference, _ = _ledoit_wolf_covariance(centred)
    np.testing.assert_allclose(matrix @ reference @ matrix.T, np.eye(3), atol=1e-8)
    np.testing.assert_allclose(mean, steps.mean(axis=1), rtol=1e-12)


@pytest.mark.parametrize("n_channels", [4, 5, 6])
@pytest.mark.parametrize("kind", ["within_class", "total"])
def test_a_constant_channel_stays_out_of_the_whitening_of_the_others(n_channels, kind):
    # eigh mixed the constant channel with the others at rounding level
    # (1e-17): it varied after whitening, and its kept rows were weighted by
    # 1e12 to a share of the distance as large as any real channel's.
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 6)
    X = rng.normal(size=(12, n_channels, 20))
    X[:, 0] += y[:, None]
    X[:, 1] = 5.0
    _, matrix = fit_whitening(list(X), y, kind, np.random.default_rng(0))
    others = np.arange(n_channels) != 1
    assert np.all(matrix[1, others] == 0.0) and np.all(matrix[others, 1] == 0.0)
    model = WassersteinSequenceEmbedder(
        n_features=2,
        hidden_channels=8,
        n_quantiles=4,
        max_epochs=1,
        input_whitening=kind,
        random_state=0,
        n_threads=1,
    ).fit(X, y)
    rows = model.transform(X).reshape(len(X), -1, 4)
    n_learned = rows.shape[1] - len(model.input_row_weights_)
    # The constant channel's value row and its increments: the same for all.
    kept = rows[:, n_learned:].reshape(len(X), -1, n_channels, 4)[:, :, 1]
    assert np.ptp(kept, axis=0).max() == 0.0
