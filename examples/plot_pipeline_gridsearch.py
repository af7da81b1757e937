"""
Tuning a learned-distance k-NN pipeline with GridSearchCV
=========================================================

A :class:`~sklearn_wdist.WassersteinSequenceEmbedder` is an ordinary
scikit-learn transformer, so it chains with other steps in a
:class:`~sklearn.pipeline.Pipeline` and is tuned with
:class:`~sklearn.model_selection.GridSearchCV` like any other estimator.

The pipeline here has three steps:

1. the embedder, which learns the distributional embedding of the sequences;
2. a :class:`~sklearn_wdist.WassersteinDistanceTransformer`, which turns
   embeddings into Wasserstein distances to the training sequences;
3. a :class:`~sklearn.neighbors.KNeighborsClassifier` with
   ``metric="precomputed"``, which reads those distances.

We tune one parameter of the embedder (``n_quantiles``, how finely each
feature's distribution is described) and one of the classifier
(``n_neighbors``) on the training split of JapaneseVowels (nine speakers,
shipped with the package), then score the refitted best pipeline on the
official test split.

Set ``SKLEARN_WDIST_FAST=1`` for a quick run with few epochs and a third of
the training split; the figure goes
next to this script, or to ``$SKLEARN_WDIST_FIGURE_DIR``.
"""

# %%
# The pipeline
# ------------
import os
import tempfile
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from sklearn_wdist import WassersteinDistanceTransformer, WassersteinSequenceEmbedder
from sklearn_wdist.datasets import load_japanese_vowels

FAST = os.environ.get("SKLEARN_WDIST_FAST", "") not in ("", "0")
FIGURE_DIR = Path(
    os.environ.get("SKLEARN_WDIST_FIGURE_DIR") or Path(__file__).resolve().parent
)

X_train, y_train = load_japanese_vowels(split="train")
X_test, y_test = load_japanese_vowels(split="test")
if FAST:  # every third recording: 10 per speaker
    X_train, y_train = X_train[::3], y_train[::3]

# Changing n_neighbors does not change the embedding, so the pipeline caches
# the fitted transformer steps (``memory``): GridSearchCV then trains one
# embedder per fold and n_quantiles value instead of one per grid point.
cache_dir = tempfile.TemporaryDirectory()
# joblib notes how long it took to store the list of sequences it caches by.
warnings.filterwarnings("ignore", message="Persisting input arguments took")

pipeline = make_pipeline(
    WassersteinSequenceEmbedder(max_epochs=2 if FAST else 30, random_state=0),
    WassersteinDistanceTransformer(),
    KNeighborsClassifier(metric="precomputed"),
    memory=cache_dir.name,
)

# %%
# The search
# ----------
# Parameter names follow scikit-learn's ``<step>__<parameter>`` convention; the
# score is the accuracy of the whole pipeline on each held-out fold.
param_grid = {
    "wassersteinsequenceembedder__n_quantiles": [4, 16],
    "kneighborsclassifier__n_neighbors": [1, 5],
}
search = GridSearchCV(
    pipeline,
    param_grid,
    cv=StratifiedKFold(n_splits=2 if FAST else 3, shuffle=True, random_state=0),
)
start = time.perf_counter()
search.fit(X_train, y_train)
print(f"\ngrid search: {time.perf_counter() - start:.1f} s")

results = search.cv_results_
print("\nn_quantiles  n_neighbors  cross-validated accuracy")
for params, mean, std in zip(
    results["params"],
    results["mean_test_score"],
    results["std_test_score"],
    strict=True,
):
    print(
        f"{params['wassersteinsequenceembedder__n_quantiles']:11d}  "
        f"{params['kneighborsclassifier__n_neighbors']:11d}  "
        f"{mean:.3f} +/- {std:.3f}"
    )
print(f"best: {search.best_params_}")

# %%
# The refitted best pipeline on the test split
# --------------------------------------------
# ``search`` refits the best pipeline on all the training data; ``score`` runs
# the raw test sequences through all three steps.
test_accuracy = search.score(X_test, y_test)
print(f"test accuracy of the best pipeline: {test_accuracy:.3f}")
cache_dir.cleanup()

# %%
# The grid as a picture
# ---------------------
n_quantiles = param_grid["wassersteinsequenceembedder__n_quantiles"]
n_neighbors = param_grid["kneighborsclassifier__n_neighbors"]
scores = np.empty((len(n_quantiles), len(n_neighbors)))
spreads = np.empty_like(scores)
for params, mean, std in zip(
    results["params"],
    results["mean_test_score"],
    results["std_test_score"],
    strict=True,
):
    row = n_quantiles.index(params["wassersteinsequenceembedder__n_quantiles"])
    column = n_neighbors.index(params["kneighborsclassifier__n_neighbors"])
    scores[row, column], spreads[row, column] = mean, std

fig, ax = plt.subplots(figsize=(4.5, 3.6), layout="constrained")
image = ax.imshow(scores, cmap="YlGnBu", vmin=max(scores.min() - 0.1, 0.0), vmax=1.0)
for (row, column), value in np.ndenumerate(scores):
    text = f"{value:.3f}\n+/- {spreads[row, column]:.3f}"
    ax.text(column, row, text, ha="center", va="center")
ax.set_xticks(range(len(n_neighbors)), n_neighbors)
ax.set_yticks(range(len(n_quantiles)), n_quantiles)
ax.set(
    xlabel="n_neighbors (k-NN)",
    ylabel="n_quantiles (embedder)",
    title=f"CV accuracy; best pipeline's test accuracy {test_accuracy:.3f}",
)
ax.title.set_fontsize("medium")
fig.colorbar(image, ax=ax, shrink=0.8, label="CV accuracy")
FIGURE_DIR.mkdir(parents=True, exist_ok=True)
figure_path = FIGURE_DIR / "plot_pipeline_gridsearch.png"
fig.savefig(figure_path, dpi=100)
print(f"figure: {figure_path}")

# %%
# Notes
# -----
# - The embedder has its own ``score`` (a leave-one-out retrieval score,
#   MAP@R), so ``GridSearchCV`` can also tune it alone, without a classifier.
# - Instead of the distance transformer and ``metric="precomputed"``, a k-NN
#   with ``metric=embedder.metric_`` on the embeddings gives the same
#   neighbours: that distance between embeddings (Manhattan for the default
#   ``p=1``) *is* the learned Wasserstein distance. The precomputed form is
#   what estimators that only accept distance matrices need.
