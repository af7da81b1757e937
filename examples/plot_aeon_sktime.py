"""
The learned distance in aeon and sktime pipelines
=================================================

:mod:`sklearn_wdist.aeon` and :mod:`sklearn_wdist.sktime` each offer a
``WassersteinEmbeddingTransformer``: the
:class:`~sklearn_wdist.WassersteinSequenceEmbedder` as a native transformer of
that framework, which takes the framework's own data containers (multivariate,
unequal length) and returns one row per series.

Both frameworks have a time-series k-NN classifier, but aeon's calls a custom
``distance`` once per *pair* of series, which would embed both series again
for every pair. The fast route is a pipeline: the transformer embeds every
series once, and scikit-learn's ``KNeighborsClassifier`` searches the rows,
because the Manhattan distance between rows *is* the learned Wasserstein
distance for the default ``p=1`` (``metric_``; Euclidean for ``p=2``), so the
k-NN is given ``metric="manhattan"``. sktime's k-NN also accepts a
whole-matrix ``distance(X, X2)`` callable, which a fitted transformer's
``pairwise_distances`` provides.

The data: JapaneseVowels (nine speakers, 12 LPC coefficients per frame, 7 to 29
frames per recording). Set ``SKLEARN_WDIST_FAST=1`` for a quick run with few
epochs and a quarter of the test split; the figure goes next to this script,
or to ``$SKLEARN_WDIST_FIGURE_DIR``. The sktime part runs when sktime is
installed (``pip install sktime``).
"""

# %%
# Load the data: a list of (12, n_frames) arrays of unequal length, which is
# aeon's "np-list" collection type.
import importlib.util
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from aeon.classification.compose import ClassifierPipeline
from sklearn.neighbors import KNeighborsClassifier

from sklearn_wdist.aeon import WassersteinEmbeddingTransformer
from sklearn_wdist.datasets import load_japanese_vowels

FAST = os.environ.get("SKLEARN_WDIST_FAST", "") not in ("", "0")
FIGURE_DIR = Path(
    os.environ.get("SKLEARN_WDIST_FIGURE_DIR") or Path(__file__).resolve().parent
)
PARAMS = dict(random_state=0, max_epochs=2 if FAST else 30)

X_train, y_train = load_japanese_vowels(split="train")
X_test, y_test = load_japanese_vowels(split="test")
if FAST:  # every fourth test recording
    X_test, y_test = X_test[::4], y_test[::4]
print(f"{len(X_train)} training and {len(X_test)} test recordings")
results = {}  # route -> (accuracy, seconds)

# %%
# aeon: a ``ClassifierPipeline`` of the transformer and scikit-learn's k-NN.
# The pipeline passes ``y`` to the transformer, which trains on the labels.
start = time.perf_counter()
aeon_pipeline = ClassifierPipeline(
    WassersteinEmbeddingTransformer(**PARAMS),
    # The learned distance of p=1 (the default); "euclidean" with p=2. The
    # transformer's metric_ says which, but only once it is fitted.
    KNeighborsClassifier(n_neighbors=1, metric="manhattan"),
)
aeon_pipeline.fit(X_train, y_train)
accuracy = aeon_pipeline.score(X_test, y_test)
results["aeon ClassifierPipeline"] = (accuracy, time.perf_counter() - start)
print(f"aeon pipeline, 1-NN:     accuracy {accuracy:.4f}")

# %%
# sktime: the ``*`` of an sktime transformer and a scikit-learn classifier is a
# ``SklearnClassifierPipeline``. sktime's "df-list" type holds unequal lengths:
# one (n_frames, 12) frame per recording.
if importlib.util.find_spec("sktime") is None:
    print("sktime is not installed: pip install sktime for the sktime routes")
else:
    import pandas as pd
    from sktime.classification.distance_based import KNeighborsTimeSeriesClassifier

    from sklearn_wdist.sktime import (
        WassersteinEmbeddingTransformer as SktimeWassersteinEmbedding,
    )

    F_train = [pd.DataFrame(x.T) for x in X_train]
    F_test = [pd.DataFrame(x.T) for x in X_test]

    start = time.perf_counter()
    sktime_pipeline = SktimeWassersteinEmbedding(**PARAMS) * KNeighborsClassifier(
        n_neighbors=1, metric="manhattan"
    )
    sktime_pipeline.fit(F_train, y_train)
    accuracy = np.mean(sktime_pipeline.predict(F_test) == y_test)
    results["sktime pipeline"] = (accuracy, time.perf_counter() - start)
    print(f"sktime pipeline, 1-NN:   accuracy {accuracy:.4f}")

    # sktime's own k-NN with a whole-matrix distance: one call per predict.
    start = time.perf_counter()
    fitted = SktimeWassersteinEmbedding(**PARAMS).fit(F_train, y_train)
    knn = KNeighborsTimeSeriesClassifier(
        n_neighbors=1,
        distance=fitted.pairwise_distances,
        distance_mtype="pd-multiindex",
    )
    accuracy = np.mean(knn.fit(F_train, y_train).predict(F_test) == y_test)
    results["sktime k-NN,\nwhole-matrix distance"] = (
        accuracy,
        time.perf_counter() - start,
    )
    print(f"sktime k-NN, callable:   accuracy {accuracy:.4f}")

# %%
# Accuracy and wall time (fit and predict) of each route.
fig, ax = plt.subplots(figsize=(6.4, 0.8 + 0.7 * len(results)), layout="constrained")
names = list(results)
bars = ax.barh(names, [results[name][0] for name in names], color="tab:blue")
ax.bar_label(
    bars,
    labels=[f"{a:.3f} ({s:.1f} s)" for a, s in results.values()],
    padding=-90,
    color="white",
)
ax.invert_yaxis()
ax.set(xlim=(0, 1), xlabel="1-NN test accuracy", title="JapaneseVowels")
FIGURE_DIR.mkdir(parents=True, exist_ok=True)
figure_path = FIGURE_DIR / "plot_aeon_sktime.png"
fig.savefig(figure_path, dpi=90, pil_kwargs={"optimize": True})
print(f"figure: {figure_path}")
