"""DBSCAN on the learned distance: noise and agreement for several eps rules.

The README's clustering example takes DBSCAN's ``eps`` from the distances
themselves. This script fits the default embedder on the JapaneseVowels
training split (seed 0), computes the learned distances between the test
recordings and reports, for each rule, the share of recordings DBSCAN
(``min_samples=5``) leaves as noise and the adjusted Rand index against the
speakers. Run::

    python benchmarks/clustering_eps.py
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_rand_score

from sklearn_wdist import WassersteinSequenceEmbedder, pairwise_wasserstein
from sklearn_wdist.datasets import load_japanese_vowels

MIN_SAMPLES = 5


def main() -> None:
    warnings.simplefilter("ignore", UserWarning)
    X_train, y_train = load_japanese_vowels("train")
    X_test, y_test = load_japanese_vowels("test")
    embedder = WassersteinSequenceEmbedder(random_state=0).fit(X_train, y_train)
    D = pairwise_wasserstein(embedder.transform(X_test), p=embedder.p_)
    nearest = np.sort(D, axis=1)  # column 0 is the recording itself
    rules = {
        "median distance to the nearest neighbour": np.median(nearest[:, 1]),
        "median distance to the 5th neighbour": np.median(nearest[:, MIN_SAMPLES]),
        "75% quantile of the distance to the 5th neighbour (README)": np.quantile(
            nearest[:, MIN_SAMPLES], 0.75
        ),
        "90% quantile of the distance to the 5th neighbour": np.quantile(
            nearest[:, MIN_SAMPLES], 0.9
        ),
    }
    print("| eps rule | eps | clusters | noise | adjusted Rand index |")
    print("| --- | --- | --- | --- | --- |")
    for name, eps in rules.items():
        labels = DBSCAN(
            eps=eps, min_samples=MIN_SAMPLES, metric="precomputed"
        ).fit_predict(D)
        print(
            f"| {name} | {eps:.2f} | {labels.max() + 1} | {np.mean(labels < 0):.3f} "
            f"| {adjusted_rand_score(y_test, labels):.3f} |"
        )


if __name__ == "__main__":
    main()
