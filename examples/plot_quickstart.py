"""
Quickstart: a learned Wasserstein distance for k-NN on spoken vowels
====================================================================

JapaneseVowels (UCI, shipped with this package) holds recordings of nine male
speakers uttering the vowels /ae/: 12 LPC cepstrum coefficients per frame, 7 to
29 frames per recording. The task is to tell the speaker.

We fit a :class:`~sklearn_wdist.WassersteinSequenceEmbedder` on the official
training split, embed both splits, and classify the test split with scikit-learn's
k-nearest neighbours on the learned distance. Because the Manhattan distance
between rows of ``transform`` *is* the learned Wasserstein distance (for the
default order ``p=1``; the Euclidean distance for ``p=2``), the plain
``KNeighborsClassifier(metric=embedder.metric_)`` does the job. We compare with
1-NN under dynamic time warping (aeon), the usual baseline for such data.

Set ``SKLEARN_WDIST_FAST=1`` for a quick run with few epochs and a quarter of
the test split; the figure goes
next to this script, or to ``$SKLEARN_WDIST_FIGURE_DIR``.
"""

# %%
# Load the data: a list of (12, n_frames) arrays of unequal length.
import os
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from sklearn_wdist import WassersteinSequenceEmbedder
from sklearn_wdist.datasets import load_japanese_vowels

FAST = os.environ.get("SKLEARN_WDIST_FAST", "") not in ("", "0")
FIGURE_DIR = Path(
    os.environ.get("SKLEARN_WDIST_FIGURE_DIR") or Path(__file__).resolve().parent
)

X_train, y_train = load_japanese_vowels(split="train")
X_test, y_test = load_japanese_vowels(split="test")
if FAST:  # every fourth test recording
    X_test, y_test = X_test[::4], y_test[::4]
lengths = [x.shape[-1] for x in X_train + X_test]
print(
    f"{len(X_train)} training and {len(X_test)} test recordings, "
    f"{X_train[0].shape[0]} channels, {min(lengths)}-{max(lengths)} frames"
)

# %%
# Learn the embedding. Default settings, one seed for reproducibility.
embedder = WassersteinSequenceEmbedder(random_state=0)
if FAST:
    embedder.set_params(max_epochs=2)
start = time.perf_counter()
embedder.fit(X_train, y_train)
fit_seconds = time.perf_counter() - start
E_train, E_test = embedder.transform(X_train), embedder.transform(X_test)
print(f"fit: {fit_seconds:.1f} s, embedding size {E_train.shape[1]}")

# %%
# k-NN on the learned distance: no precomputed matrix needed.
knn = KNeighborsClassifier(n_neighbors=1, metric=embedder.metric_)
accuracy = knn.fit(E_train, y_train).score(E_test, y_test)
print(f"1-NN, learned Wasserstein distance: accuracy {accuracy:.4f}")

# %%
# Baseline: 1-NN with dynamic time warping on the raw sequences.
from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

# aeon's compiled DTW emits a harmless type-cast notice on unequal lengths.
warnings.filterwarnings("ignore", message="unsafe cast")

start = time.perf_counter()
dtw = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw")
dtw_accuracy = dtw.fit(X_train, y_train).score(X_test, y_test)
print(
    f"1-NN, DTW:                          accuracy {dtw_accuracy:.4f} "
    f"({time.perf_counter() - start:.1f} s)"
)
map_at_r = embedder.score(X_test, y_test)
print(f"MAP@R of the learned distance on the test split: {map_at_r:.4f}")

# %%
# A picture of the learned distance: the test recordings, sorted by speaker.
# Bright (small-distance) blocks on the diagonal mean that recordings of one
# speaker are close to each other and far from the other speakers'.
order = np.argsort(y_test, kind="stable")
D = embedder.pairwise_distances([X_test[i] for i in order])
speakers, starts, counts = np.unique(
    y_test[order], return_index=True, return_counts=True
)
centres = starts + (counts - 1) / 2
fig, (ax_matrix, ax_bars) = plt.subplots(
    1, 2, figsize=(8, 3.6), width_ratios=[1.3, 1], layout="constrained"
)
image = ax_matrix.imshow(D, cmap="viridis_r")
ax_matrix.set_xticks(centres, speakers, fontsize="small")
ax_matrix.set_yticks(centres, speakers, fontsize="small")
ax_matrix.set(
    title="learned distance, test recordings", xlabel="speaker", ylabel="speaker"
)
fig.colorbar(image, ax=ax_matrix, shrink=0.8, label="distance")
bars = ax_bars.barh(
    ["DTW (aeon)", "learned\nWasserstein"],
    [dtw_accuracy, accuracy],
    color=["0.6", "tab:blue"],
)
ax_bars.bar_label(bars, fmt="%.3f", padding=-40, color="white")
ax_bars.set(xlim=(0, 1), xlabel="1-NN test accuracy", title="JapaneseVowels")
FIGURE_DIR.mkdir(parents=True, exist_ok=True)
figure_path = FIGURE_DIR / "plot_quickstart.png"
fig.savefig(figure_path, dpi=90, pil_kwargs={"optimize": True})
print(f"figure: {figure_path}")
