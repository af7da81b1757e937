"""input_gating: the gates of the input channels the learned layers see.

The gates are checked against SciPy's one-way ANOVA and a brute-force sum of
squares, and the encoder against the guarantees of the ungated one (padding,
masking, pickles, warm starts).
"""

import pickle

import numpy as np
import pytest
import torch
from scipy import stats

from sklearn_wdist import WassersteinSequenceEmbedder, _input_gates
from sklearn_wdist._input_gates import anova_f, fit_input_gates
from sklearn_wdist.nn import ConvEncoder, DilatedConvEncoder

TINY = dict(n_features=4, hidden_channels=8, n_layers=2, n_quantiles=6, max_epochs=3)


def informative_and_noise(n_classes=3, per_class=12, n_timepoints=40, seed=0):
    """Channel 0 shifts with the class, channel 1 is noise, channel 2 constant."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), per_class)
    X = rng.normal(size=(len(y), 3, n_timepoints))
    X[:, 0] += 0.8 * y[:, None]
    X[:, 2] = 5.0
    return X, y


def _levels(n_levels):
    return (np.arange(n_levels) + 0.5) / n_levels


def _brute_force_f(summaries, codes):
    """Sums of squares over levels, by loops over sequences; then their ratio."""
    n, n_levels, n_channels = summaries.shape
    classes = sorted(set(codes.tolist()))
    f = np.zeros(n_channels)
    for c in range(n_channels):
        between = within = 0.0
        for m in range(n_levels):
            column = summaries[:, m, c]
            grand = column.mean()
            for k in classes:
                members = column[codes == k]
                between += len(members) * (members.mean() - grand) ** 2
                within += sum((v - members.mean()) ** 2 for v in members)
        mean_between = between / (len(classes) - 1)
        mean_within = within / (n - len(classes))
        f[c] = mean_between / mean_within if between > 0 else 0.0
    return f


def _reference_gates(codes, *summaries):
    """``1 - F_crit / F`` (the 95% quantile of F(K - 1, n - K)), the larger
    over the summaries given, clipped and scaled to a maximum of 1."""
    n_classes, n = len(set(codes.tolist())), len(codes)
    critical = stats.f(n_classes - 1, n - n_classes).ppf(0.95)
    with np.errstate(divide="ignore"):
        shares = np.max([1 - critical / _brute_force_f(s, codes) for s in summaries], 0)
    shares = np.clip(shares, 0, 1)
    return shares / shares.max()


def _brute_force_gates(X, y, n_levels=16):
    levels = _levels(n_levels)
    values = np.stack([np.quantile(x, levels, axis=1) for x in X])
    slopes = np.stack([np.quantile(np.diff(x, axis=1), levels, axis=1) for x in X])
    return _reference_gates(y, values, slopes)


def test_f_of_one_level_is_scipys_one_way_anova():
    X, y = informative_and_noise()
    X = X[:, :2]  # scipy's F of a constant is undefined
    medians = np.stack([np.quantile(x, [0.5], axis=1) for x in X])
    groups = [np.flatnonzero(y == k) for k in np.unique(y)]
    ours = anova_f(medians, groups)
    for c in range(2):
        reference = stats.f_oneway(*[medians[g, 0, c] for g in groups]).statistic
        np.testing.assert_allclose(ours[c], reference, rtol=1e-10)


@pytest.mark.parametrize("n_levels", [1, 4, 16])
def test_gates_match_a_brute_force_reference(n_levels):
    X, y = informative_and_noise(per_class=7)
    # Unequal lengths and class sizes.
    sequences = [x[:, : 20 + i] for i, x in enumerate(X[:-3])]
    codes = y[:-3]
    gates = fit_input_gates(sequences, codes, n_levels)
    levels = _levels(n_levels)
    values = np.stack([np.quantile(x, levels, axis=1) for x in sequences])
    slopes = np.stack(
        [np.quantile(np.diff(x, axis=1), levels, axis=1) for x in sequences]
    )
    np.testing.assert_allclose(
        gates, _reference_gates(codes, values, slopes), rtol=1e-10, atol=1e-12
    )
    assert gates[0] == 1.0  # the informative channel
    assert gates[2] == 0.0  # the constant channel: no class differences at all


def test_gates_of_noise_are_small_with_many_classes():
    # The between-class square of a noise channel has n_classes - 1 degrees
    # of freedom: with 20 classes its F stays near 1, below F_crit.
    for seed in range(5):
        X, y = informative_and_noise(n_classes=20, per_class=10, seed=seed)
        gates = fit_input_gates(list(X), y)
        assert gates[0] == 1.0
        assert gates[1] < 0.5, (seed, gates)


def test_noise_stays_closed_with_two_classes():
    # With two classes the between-class square has one degree of freedom;
    # F_crit (about 4) keeps a noise channel closed but in about one draw in
    # ten (two chances, values and slopes, of 5% each).
    closed = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        y = np.repeat([0, 1], 25)
        X = rng.normal(size=(50, 2, 40))
        X[:, 0] += 0.8 * y[:, None]
        gates = fit_input_gates(list(X), y)
        assert gates[0] == 1.0
        closed.append(gates[1] == 0.0)
    assert np.mean(closed) >= 0.85, np.mean(closed)


def test_a_channel_constant_within_each_class_passes_fully():
    X, y = informative_and_noise()
    X[:, 1] = y[:, None] * 2.0  # within-class square 0, between-class square > 0
    gates = fit_input_gates(list(X), y)
    assert gates[1] == 1.0 and np.isfinite(gates).all()


def test_slopes_count_when_values_do_not():
    # Same values in every class, in another order: only the slopes differ.
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 15)
    base = np.sort(rng.normal(size=40))
    X = np.stack([rng.permutation(base) if k else base for k in y])[:, None, :]
    X = np.concatenate([X, rng.normal(size=X.shape)], axis=1)
    gates = fit_input_gates(list(X), y)
    np.testing.assert_allclose(gates, _brute_force_gates(X, y), rtol=1e-10)
    assert gates[0] == 1.0


def test_a_constant_channel_is_closed_despite_rounding():
    # Class means of one repeated value can differ in the last bit; the
    # channel must still count as constant (F = 0), not as a class effect.
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), [143, 154, 227])
    X = rng.normal(size=(len(y), 2, 8))
    X[:, 1] = 0.33043707618338714
    groups = [np.flatnonzero(y == k) for k in range(3)]
    values = np.stack([np.quantile(x, _levels(16), axis=1) for x in X])
    assert anova_f(values, groups)[1] == 0.0
    gates = fit_input_gates(list(X), y)
    assert gates is None or gates[1] == 0.0


def test_single_step_sequences_leave_the_slopes_out():
    # Sequences of one step have no slopes: with one among them, only the
    # values count, whatever the others' slopes say.
    X, y = informative_and_noise(per_class=6)
    sequences = [x.copy() for x in X]
    sequences[0] = sequences[0][:, :1]
    levels = _levels(16)
    values = np.stack([np.quantile(x, levels, axis=1) for x in sequences])
    np.testing.assert_allclose(
        fit_input_gates(sequences, y), _reference_gates(y, values), rtol=1e-10
    )


def test_no_class_signal_gates_nothing():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 5)
    X = np.broadcast_to(rng.normal(size=(1, 2, 30)), (10, 2, 30))
    assert fit_input_gates(list(X), y) is None  # identical sequences
    assert fit_input_gates([x[:, :1] for x in X], y) is None  # single steps


def test_large_classes_enter_through_a_bounded_sample(monkeypatch):
    summarised = []
    original = _input_gates._summaries

    def counting(sequences, levels):
        summarised.append(len(sequences))
        return original(sequences, levels)

    monkeypatch.setattr(_input_gates, "_summaries", counting)
    monkeypatch.setattr(_input_gates, "_SAMPLED_MEMBERS", 8)
    X, y = informative_and_noise(n_classes=2, per_class=30, n_timepoints=12)
    gates = fit_input_gates(list(X), y)
    assert summarised == [16]
    # The analysis runs on each class's 8 evenly spaced members: on the
    # sample, noise keeps F near 1 however large the classes are.
    picked = np.concatenate(
        [np.flatnonzero(y == k)[np.linspace(0, 29, 8).astype(int)] for k in (0, 1)]
    )
    np.testing.assert_allclose(
        gates, _brute_force_gates(X[picked], y[picked]), rtol=1e-10
    )


def test_noise_gates_do_not_grow_with_sampled_classes():
    # Classes far larger than the sample: a noise channel's gate stays that
    # of a sample, not inflated by the classes' full sizes.
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 1000)
    X = rng.normal(size=(len(y), 2, 12)).astype(np.float32)
    X[:, 0] += 0.3 * y[:, None]
    gates = fit_input_gates(list(X), y)
    assert gates[0] == 1.0 and gates[1] < 0.5


@pytest.mark.parametrize("encoder_class", [ConvEncoder, DilatedConvEncoder])
def test_a_closed_gate_hides_its_channel_from_the_learned_features(encoder_class):
    torch.manual_seed(0)
    encoder = encoder_class(2, n_features=3, hidden_channels=4, include_input=True)
    encoder.input_gates.copy_(torch.tensor([1.0, 0.0]))
    encoder.eval()
    x = torch.randn(2, 2, 20)
    lengths = torch.tensor([20, 13])
    changed = x.clone()
    changed[:, 1] = torch.randn(2, 20)
    with torch.no_grad():
        # Fixed input statistics, so that only the gate decides.
        encoder.input_norm.running_var.fill_(1.0)
        before, after = encoder(x, lengths), encoder(changed, lengths)
    mask = torch.arange(20)[None] < lengths[:, None]
    learned = slice(0, 3)
    torch.testing.assert_close(before[:, learned], after[:, learned])
    # The kept rows are not gated: the hidden channel's own row changes.
    assert not torch.allclose(before[:, 4][mask], after[:, 4][mask])


def test_gated_steps_do_not_depend_on_padding():
    X, y = informative_and_noise(per_class=6, n_timepoints=30)
    sequences = [x[:, : 20 + (i % 7)] for i, x in enumerate(X)]
    model = WassersteinSequenceEmbedder(
        **TINY, input_gating="anova", random_state=0
    ).fit(sequences, y)
    assert not np.all(model.input_gates_ == 1.0)
    together = model.transform(sequences)
    alone = np.concatenate([model.transform([s]) for s in sequences])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


def test_embedder_gates_are_those_of_its_training_inputs():
    X, y = informative_and_noise(per_class=8)
    model = WassersteinSequenceEmbedder(
        **TINY,
        input_gating="anova",
        input_whitening=None,
        early_stopping=False,
        random_state=0,
    ).fit(X, y)
    # Without whitening the encoder receives the centred float32 sequences;
    # the ratio does not depend on a channel's offset or scale.
    expected = _brute_force_gates(X.astype(np.float32).astype(np.float64), y)
    np.testing.assert_allclose(model.input_gates_, expected, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(
        model.module_.encoder.input_gates,
        torch.as_tensor(model.input_gates_, dtype=torch.float32),
    )


def test_gates_come_from_the_training_part_only(monkeypatch):
    from sklearn_wdist import _embedder

    seen = []

    def recording(sequences, codes, *args):
        seen.append((list(sequences), np.asarray(codes)))
        return fit_input_gates(sequences, codes, *args)

    monkeypatch.setattr(_embedder, "fit_input_gates", recording)
    X, y = informative_and_noise(per_class=10)
    model = WassersteinSequenceEmbedder(
        **TINY,
        input_gating="anova",
        input_whitening=None,
        early_stopping=True,
        validation_fraction=0.3,
        random_state=0,
    ).fit(X, y)
    (sequences, codes), *others = seen
    assert not others
    # 3 of every class's 10 are held out; the gates are the rest's.
    assert np.bincount(codes).tolist() == [7, 7, 7]
    # Which sequences they are (centred, as the encoder receives them).
    rows = [
        int(np.flatnonzero(np.abs(np.diff(X - s)).max(axis=(1, 2)) < 1e-5)[0])
        for s in sequences
    ]
    assert len(set(rows)) == 21
    np.testing.assert_allclose(
        model.input_gates_, _brute_force_gates(X[rows], y[rows]), rtol=1e-5
    )


def test_nothing_is_gated_without_labels_or_the_option():
    X, y = informative_and_noise()
    for model, target in (
        (WassersteinSequenceEmbedder(**TINY, input_gating="anova"), None),
        (WassersteinSequenceEmbedder(**TINY, input_gating=None), y),
    ):
        model.set_params(random_state=0).fit(X, target)
        assert model.input_gates_ is None
        gates = model.module_.encoder.input_gates
        torch.testing.assert_close(gates, torch.ones_like(gates))


def test_a_single_channel_trains_as_without_gates():
    # One channel's gate is 1: the fit is the ungated one, to the last bit.
    X, y = informative_and_noise()
    X = X[:, :1]
    gated = WassersteinSequenceEmbedder(**TINY, input_gating="anova", random_state=0)
    plain = WassersteinSequenceEmbedder(**TINY, input_gating=None, random_state=0)
    np.testing.assert_array_equal(gated.fit(X, y).input_gates_, [1.0])
    np.testing.assert_array_equal(gated.transform(X), plain.fit(X, y).transform(X))


def test_a_user_encoder_copy_is_gated_and_the_original_untouched():
    X, y = informative_and_noise()
    user = ConvEncoder(3, n_features=3, n_layers=1, include_input=True)
    user.input_gates.fill_(7.0)
    model = WassersteinSequenceEmbedder(
        encoder=user, input_gating="anova", max_epochs=1, random_state=0
    ).fit(X, y)
    torch.testing.assert_close(user.input_gates, torch.full((3,), 7.0))
    torch.testing.assert_close(
        model.module_.encoder.input_gates,
        torch.as_tensor(model.input_gates_, dtype=torch.float32),
    )
    # Without gating, a user encoder's own gates are left as they are.
    kept = WassersteinSequenceEmbedder(
        encoder=user, input_gating=None, max_epochs=1, random_state=0
    ).fit(X, y)
    assert kept.input_gates_ is None
    torch.testing.assert_close(kept.module_.encoder.input_gates, torch.full((3,), 7.0))
    # An encoder without the buffer is not gated.
    bare = WassersteinSequenceEmbedder(
        encoder=torch.nn.Conv1d(3, 2, 3), input_gating="anova", max_epochs=1
    ).fit(X, y)
    assert bare.input_gates_ is None


def test_warm_start_keeps_the_gates_and_refuses_a_new_gating():
    X, y = informative_and_noise()
    model = WassersteinSequenceEmbedder(
        **TINY, input_gating="anova", warm_start=True, random_state=0
    ).fit(X, y)
    gates = model.input_gates_.copy()
    model.fit(X[::-1], y[::-1])
    np.testing.assert_array_equal(model.input_gates_, gates)
    torch.testing.assert_close(
        model.module_.encoder.input_gates, torch.as_tensor(gates, dtype=torch.float32)
    )
    with pytest.raises(ValueError, match="input_gating"):
        model.set_params(input_gating=None).fit(X, y)


def test_gated_model_pickles():
    X, y = informative_and_noise()
    model = WassersteinSequenceEmbedder(
        **TINY, input_gating="anova", random_state=0
    ).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.input_gates_, model.input_gates_)
    np.testing.assert_array_equal(restored.transform(X), model.transform(X))


def test_a_partial_state_load_leaves_the_gates_alone():
    encoder = ConvEncoder(2, n_features=3, n_layers=1, include_input=True)
    encoder.input_gates.fill_(0.5)
    encoder.load_state_dict({"head.bias": encoder.head.bias}, strict=False)
    torch.testing.assert_close(encoder.input_gates, torch.full((2,), 0.5))


def test_reset_parameters_opens_the_gates():
    encoder = ConvEncoder(2, n_features=3, n_layers=1, include_input=True)
    encoder.input_gates.fill_(0.25)
    encoder.reset_parameters()
    torch.testing.assert_close(encoder.input_gates, torch.ones(2))


@pytest.mark.parametrize("value", ["ANOVA", "f", 1, True])
def test_bad_input_gating_is_named(value):
    X, y = informative_and_noise()
    with pytest.raises((ValueError, TypeError), match="input_gating"):
        WassersteinSequenceEmbedder(**TINY, input_gating=value).fit(X, y)


def test_a_user_buffer_of_another_shape_is_refused():
    X, y = informative_and_noise()

    class Odd(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(3, 2, 3)
            self.register_buffer("input_gates", torch.ones(5))

        def forward(self, x):
            return self.conv(x)

    with pytest.raises(ValueError, match="input_gates has shape"):
        WassersteinSequenceEmbedder(encoder=Odd(), max_epochs=1).fit(X, y)
    model = WassersteinSequenceEmbedder(encoder=Odd(), input_gating=None)
    assert model.set_params(max_epochs=1).fit(X, y).input_gates_ is None


def test_a_model_pickled_before_the_gates_refuses_them_in_a_warm_start():
    X, y = informative_and_noise()
    model = WassersteinSequenceEmbedder(
        **TINY, input_gating=None, warm_start=True, random_state=0
    ).fit(X, y)
    # What an older version pickled: no such parameter in the record either.
    del model.__dict__["input_gating"]
    del model._built_with["input_gating"]
    restored = pickle.loads(pickle.dumps(model))
    assert restored._built_with["input_gating"] is None
    with pytest.raises(ValueError, match="input_gating"):
        restored.set_params(input_gating="anova").fit(X, y)
