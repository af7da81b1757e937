"""
Channels that carry nothing: the input gates
============================================

Sensor recordings often come with channels that say nothing about the
classes: a spare axis, a disconnected electrode, a temperature probe. A
learned encoder trained on a few dozen sequences can fit such a channel's
noise as readily as a real pattern. By default
(``input_gating="anova"``), :class:`~sklearn_wdist.WassersteinSequenceEmbedder`
first tests each channel: a one-way analysis of variance of its per-sequence
quantiles across the training classes. A channel whose class differences do
not exceed the 95% quantile of the F distribution is closed: the learned
layers do not see it (its own quantiles still enter the embedding, scaled to
the learned rows' mean spread over all pairs of training sequences).

Here GunPoint (aeon's copy of the UCR set: hand movements with and without a
gun, one channel of 150 steps) gets two extra channels of pure Gaussian noise,
and 1-NN accuracy on the official test split is compared with and without the
gates.

Set ``SKLEARN_WDIST_FAST=1`` for a quick run with few epochs; the figure goes
next to this script, or to ``$SKLEARN_WDIST_FIGURE_DIR``.
"""

# %%
# The data, with two channels of noise
# ------------------------------------
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from aeon.datasets import load_gunpoint
from sklearn.neighbors import KNeighborsClassifier

from sklearn_wdist import WassersteinSequenceEmbedder

FAST = os.environ.get("SKLEARN_WDIST_FAST", "") not in ("", "0")
FIGURE_DIR = Path(
    os.environ.get("SKLEARN_WDIST_FIGURE_DIR") or Path(__file__).resolve().parent
)

X_train, y_train = load_gunpoint(split="train")
X_test, y_test = load_gunpoint(split="test")
rng = np.random.default_rng(0)


def with_noise(X, n_noise=2):
    """Append ``n_noise`` channels of N(0, 1) noise to every sequence."""
    noise = rng.normal(size=(X.shape[0], n_noise, X.shape[2]))
    return np.concatenate([X, noise], axis=1)


X_train_noisy, X_test_noisy = with_noise(X_train), with_noise(X_test)
print(f"{len(X_train)} training and {len(X_test)} test sequences")
print(f"channels: {X_train.shape[1]} clean, {X_train_noisy.shape[1]} with noise")

# %%
# With and without the gates
# --------------------------
max_epochs = 2 if FAST else 30


def one_nn_accuracy(embedder, X_fit, X_eval):
    """Fit the embedder, then 1-NN accuracy on the learned distance."""
    embedder.fit(X_fit, y_train)
    knn = KNeighborsClassifier(n_neighbors=1, metric=embedder.metric_)
    knn.fit(embedder.transform(X_fit), y_train)
    return knn.score(embedder.transform(X_eval), y_test)


gated = WassersteinSequenceEmbedder(max_epochs=max_epochs, random_state=0)
ungated = WassersteinSequenceEmbedder(
    input_gating=None, max_epochs=max_epochs, random_state=0
)
accuracy = {
    "clean": one_nn_accuracy(
        WassersteinSequenceEmbedder(max_epochs=max_epochs, random_state=0),
        X_train,
        X_test,
    ),
    "noise, gates": one_nn_accuracy(gated, X_train_noisy, X_test_noisy),
    "noise, no gates": one_nn_accuracy(ungated, X_train_noisy, X_test_noisy),
}
for name, value in accuracy.items():
    print(f"1-NN accuracy, {name:16s} {value:.3f}")
print("gates of the three channels:", np.round(gated.input_gates_, 2))

# %%
# The gates and the accuracy
# --------------------------
# The real channel opens fully; the two noise channels stay closed. Without
# the gates, the encoder's convolutions mix the noise into every learned
# feature, and the accuracy drops.
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
channels = ["GunPoint", "noise 1", "noise 2"]
left.bar(channels, gated.input_gates_, color=["tab:blue", "tab:gray", "tab:gray"])
left.set_ylim(0, 1.05)
left.set_ylabel("gate (input_gates_)")
left.set_title("Gates fitted on the training split")
right.bar(list(accuracy), list(accuracy.values()), color="tab:green")
right.set_ylim(0, 1.12)
right.set_ylabel("1-NN test accuracy")
right.set_title("GunPoint, official test split")
for position, value in enumerate(accuracy.values()):
    right.text(position, value + 0.02, f"{value:.2f}", ha="center")
fig.tight_layout()
FIGURE_DIR.mkdir(parents=True, exist_ok=True)
fig.savefig(FIGURE_DIR / "plot_irrelevant_channels.png", dpi=100)
print(f"figure: {FIGURE_DIR / 'plot_irrelevant_channels.png'}")
