"""Fit time and test accuracy of the default embedder on JapaneseVowels.

Trains ``WassersteinSequenceEmbedder()`` with default settings on the official
training split for several seeds and reports 1-NN test accuracy on the learned
distance, 1-NN DTW (aeon) on the same split, fit and transform times, and the
fit time for each PyTorch intra-op thread count given.

Usage::

    python benchmarks/japanese_vowels_defaults.py --seeds 0 1 2 --threads 1 2
"""

import argparse
import statistics
import time
import warnings

import numpy as np
from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier
from aeon.datasets import load_classification
from sklearn.neighbors import KNeighborsClassifier

from sklearn_wdist import WassersteinSequenceEmbedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    X_train, y_train = load_classification("JapaneseVowels", split="train")
    X_test, y_test = load_classification("JapaneseVowels", split="test")

    rows = []
    for threads in args.threads:
        for seed in args.seeds:
            embedder = WassersteinSequenceEmbedder(random_state=seed, n_threads=threads)
            start = time.perf_counter()
            embedder.fit(X_train, y_train)
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            E_train, E_test = embedder.transform(X_train), embedder.transform(X_test)
            transform_s = time.perf_counter() - start
            knn = KNeighborsClassifier(n_neighbors=1, metric=embedder.metric_)
            accuracy = knn.fit(E_train, y_train).score(E_test, y_test)
            rows.append((threads, seed, fit_s, transform_s, accuracy))
            print(
                f"threads={threads} seed={seed} fit={fit_s:.1f}s "
                f"transform={transform_s:.2f}s 1-NN accuracy={accuracy:.4f}",
                flush=True,
            )

    warnings.filterwarnings("ignore", message="unsafe cast")
    start = time.perf_counter()
    dtw = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw")
    dtw_accuracy = dtw.fit(X_train, y_train).score(X_test, y_test)
    dtw_s = time.perf_counter() - start

    print("\n| n_threads | median fit (s) | median transform (s) | 1-NN accuracy |")
    print("| --- | --- | --- | --- |")
    for threads in args.threads:
        sel = [r for r in rows if r[0] == threads]
        acc = np.array([r[4] for r in sel])
        print(
            f"| {threads} | {statistics.median(r[2] for r in sel):.1f} "
            f"| {statistics.median(r[3] for r in sel):.2f} "
            f"| {acc.mean():.4f} +/- {acc.std():.4f} (n={len(sel)}) |"
        )
    print(f"\n1-NN DTW (aeon): accuracy {dtw_accuracy:.4f} ({dtw_s:.1f} s)")


if __name__ == "__main__":
    main()
