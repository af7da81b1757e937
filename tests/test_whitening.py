"""Tests of the channel whitening fitted before the encoder."""

import numpy as np
import pytest
from sklearn.covariance import LedoitWolf

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


@pytest.mark.parametrize("kind", ["within_class", "total"])
def test_whitened_steps_have_identity_covariance(kind):
    sequences, codes = _correlated_classes()
    mean, matrix = fit_whitening(sequences, codes, kind, np.random.default_rng(0))
    steps = np.concatenate(sequences, axis=1).astype(np.float64)
    np.testing.assert_allclose(mean, steps.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(matrix, matrix.T)
    whitened = np.concatenate(to_network_input(sequences, mean, matrix), axis=1)
    step_codes = np.repeat(codes, 50)
    if kind == "within_class":
        # Remove each class's mean: the residual variation is what is whitened.
        for code in np.unique(codes):
            members = step_codes == code
            whitened[:, members] -= whitened[:, members].mean(axis=1, keepdims=True)
    # Ledoit-Wolf shrinks a little towards a multiple of the identity.
    np.testing.assert_allclose(np.cov(whitened, bias=True), np.eye(3), atol=0.1)
    # Exactly: the matrix is the inverse square root of scikit-learn's
    # Ledoit-Wolf estimate of the covariance of the centred raw steps.
    centred = steps - mean[:, None]
    if kind == "within_class":
        for code in np.unique(codes):
            members = step_codes == code
            centred[:, members] = steps[:, members] - steps[:, members].mean(
                axis=1, keepdims=True
            )
    reference = LedoitWolf(assume_centered=True).fit(centred.T).covariance_
    np.testing.assert_allclose(matrix @ reference @ matrix, np.eye(3), atol=1e-8)


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


def test_directions_without_variation_are_not_amplified():
    """A channel constant within each class gets the average variance.

    Ledoit-Wolf alone would give it ``shrinkage * average``, tiny on long
    inputs, and so a gain of hundreds on whatever offset it shows later.
    """
    rng = np.random.default_rng(0)
    sequences = [
        np.vstack([rng.normal(size=500), np.full(500, 5.0 * code)]).astype("float32")
        for code in (0, 1, 0, 1)
    ]
    codes = np.array([0, 1, 0, 1])
    _, matrix = fit_whitening(sequences, codes, "within_class", rng)
    varying = np.concatenate([s[0] for s in sequences]).astype(np.float64)
    within_variance = np.mean(
        [
            np.concatenate(
                [s[0] for s, c in zip(sequences, codes, strict=True) if c == k]
            ).var()
            for k in (0, 1)
        ]
    )
    average = within_variance / 2  # the trace over two channels, one of them 0
    np.testing.assert_allclose(matrix[1, 1], average**-0.5, rtol=1e-6)
    np.testing.assert_allclose(matrix[0, 1], 0.0, atol=1e-8)
    # The varying channel keeps its (slightly shrunk) within-class variance.
    assert 0.9 * varying.var() ** -0.5 < matrix[0, 0] < 1.5 * average**-0.5


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
    reference = LedoitWolf(assume_centered=True).fit(centred[:, chosen].T)
    np.testing.assert_allclose(mean, steps.mean(axis=1))
    np.testing.assert_allclose(
        matrix @ reference.covariance_ @ matrix, np.eye(3), atol=1e-8
    )
