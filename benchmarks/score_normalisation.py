"""Probe: do cohort-normalised distances verify new classes better than W2.

In speaker verification, scores are routinely normalised against a cohort of
other speakers (z-, t- and s-norm), and in nearest-neighbour search, distances
are rescaled by each point's neighbourhood to reduce hubs (local scaling,
Schnitzer et al., 2012). Both make one global
threshold fit every query, which is what the equal error rate asks of a
distance. This probe fits the default embedder once per validation task (the
tasks of ``select_defaults.py``: official training splits only) and scores
the same embeddings, and those of the untrained whitened channels, with the
plain distance ``d(a, b)`` and with normalised ones whose cohort is the
*training* sequences (so a new pair's score depends on that pair and the
fitted model only):

- ``local scaling, k``: ``d(a, b) / sqrt(s_a s_b)``, ``s_x`` the mean distance
  from ``x`` to its ``k`` nearest training sequences (``x`` itself left out;
  the form of Schnitzer et al., 2012, which averages the ``k`` nearest);
- ``s-norm``: ``(d - mu_a) / sd_a + (d - mu_b) / sd_b``, ``mu_x`` and ``sd_x``
  the mean and standard deviation of the distances from ``x`` to every
  training sequence (``x`` itself left out), shifted by a constant to be
  non-negative (every score here depends on ranks only).

Run::

    python benchmarks/score_normalisation.py --seeds 0

Results go to ``benchmarks/results/score_normalisation.md`` and ``.json``.
"""

from __future__ import annotations

import _common as common
import evaluation_distances
import numpy as np
import select_defaults
from sklearn.metrics import pairwise_distances

from sklearn_wdist import WassersteinSequenceEmbedder

NEIGHBOURS = (5, 20)


def _cohort_distances(E: np.ndarray, E_train: np.ndarray, is_train: bool):
    """Distances from each row of ``E`` to the training rows, self left out."""
    D = pairwise_distances(E, E_train)
    if is_train:
        np.fill_diagonal(D, np.inf)
    return D


def _local_scale(D_cohort: np.ndarray, k: int) -> np.ndarray:
    k = min(k, D_cohort.shape[1] - 1)
    nearest = np.partition(D_cohort, k - 1, axis=1)[:, :k]
    scale = nearest.mean(axis=1)
    return np.where(scale > 0, scale, 1.0)


def _moments(D_cohort: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    finite = np.where(np.isfinite(D_cohort), D_cohort, np.nan)
    mean = np.nanmean(finite, axis=1)
    std = np.nanstd(finite, axis=1)
    return mean, np.where(std > 0, std, 1.0)


def normalised(
    E_a: np.ndarray, E_b: np.ndarray, E_train: np.ndarray, b_is_train: bool
) -> dict[str, np.ndarray]:
    """Return the plain and the cohort-normalised distances between a and b."""
    D = pairwise_distances(E_a, E_b)
    cohort_a = _cohort_distances(E_a, E_train, is_train=False)
    cohort_b = _cohort_distances(E_b, E_train, is_train=b_is_train)
    result = {"": D}
    for k in NEIGHBOURS:
        scale_a, scale_b = _local_scale(cohort_a, k), _local_scale(cohort_b, k)
        result[f", local scaling {k}"] = D / np.sqrt(np.outer(scale_a, scale_b))
    (mean_a, std_a), (mean_b, std_b) = _moments(cohort_a), _moments(cohort_b)
    s_norm = (D - mean_a[:, None]) / std_a[:, None] + (D - mean_b[None, :]) / std_b[
        None, :
    ]
    # Shifted to be non-negative: every score is rank-based, so a constant
    # changes none of them.
    result[", s-norm"] = s_norm - s_norm.min()
    return result


def run(task: common.Task, seed: int) -> list[common.Record]:
    """Fit the default once; one record per embedding and normalisation."""
    embedder, fit_s = common.timed(
        # The default of round 13, when these records were made.
        WassersteinSequenceEmbedder(
            random_state=seed, **common.ROUND_7_DIFFERENCES
        ).fit,
        task.X_train,
        task.y_train,
    )
    baseline = common.WhitenedRawQuantileMethod()
    baseline.fit(task.X_train, task.y_train, None)
    embeddings = {
        "learned": (embedder.transform(task.X_train), embedder.transform),
        "whitened raw-quantile W2": (
            baseline.represent(task.X_train),
            baseline.represent,
        ),
    }
    verification = task.evaluation == "verification"
    records = []
    for name, (E_train, represent) in embeddings.items():
        E_eval = represent(task.X_eval)
        E_ref = E_eval if verification else E_train
        matrices = normalised(E_eval, E_ref, E_train, b_is_train=not verification)
        for suffix, D in matrices.items():
            record = common.scored_record(
                task, name + suffix, seed, common.task_scores(task, D), fit_s
            )
            print(common.describe({**record, "transform_s": 0, "evaluate_s": 0}))
            records.append(record)
    return records


def main(argv: list[str] | None = None) -> None:
    select_defaults.post_hoc_main(
        argv,
        __doc__.split("\n")[0],
        "score_normalisation",
        run,
        evaluation_distances.summarise,
    )


if __name__ == "__main__":
    main()
