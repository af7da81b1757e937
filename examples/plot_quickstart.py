"""
Quickstart: a learned Wasserstein distance for k-NN on spoken vowels
====================================================================

JapaneseVowels (UCI, shipped with aeon) holds recordings of nine male speakers
uttering the vowels /ae/: 12 LPC cepstrum coefficients per frame, 7 to 29 frames
per recording. The task is to tell the speaker.

We fit a :class:`~sklearn_wdist.WassersteinSequenceEmbedder` on the official
training split, embed both splits, and classify the test split with scikit-learn's
k-nearest neighbours on the learned distance. Because the Euclidean distance
between rows of ``transform`` *is* the learned Wasserstein distance, the plain
``KNeighborsClassifier(metric=embedder.metric_)`` does the job. We compare with
1-NN under dynamic time warping (aeon), the usual baseline for such data.

Set ``SKLEARN_WDIST_FAST=1`` for a quick run with few epochs.
"""

# %%
# Load the data: a list of (12, n_frames) arrays of unequal length.
import os
import time
import warnings

from aeon.datasets import load_classification
from sklearn.neighbors import KNeighborsClassifier

from sklearn_wdist import WassersteinSequenceEmbedder

FAST = os.environ.get("SKLEARN_WDIST_FAST", "") not in ("", "0")

X_train, y_train = load_classification("JapaneseVowels", split="train")
X_test, y_test = load_classification("JapaneseVowels", split="test")
lengths = [x.shape[-1] for x in X_train]
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
