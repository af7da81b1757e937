"""Score the same learned quantiles with other distances than their W2.

One fit of the default embedder per validation task (the tasks of
``select_defaults.py``: official training splits only), then the same
embeddings scored with several distances between the per-feature quantile
functions ``Q[k, m]`` (``K`` features, ``M`` levels ``tau_m = (m - 1/2) / M``):

- ``W2``: the learned distance itself (Euclidean on ``transform``);
- ``W1``: ``mean_m |Q - Q'|`` summed over features;
- ``W2, levels in (0.1, 0.9)``: W2 on the inner levels only (the tails
  dropped);
- ``means only``: Euclidean distance of the per-feature means (what mean
  pooling keeps of the same features);
- ``energy``: the energy distance of the same quantile embeddings;
- ``W2, features standardised``: each feature divided by the standard
  deviation of its quantiles over the training embeddings;
- ``W2, raw channels x w``: the squared W2 of the raw-channel rows
  (``include_input``) weighted by ``w`` against the learned rows.

It tests whether the learned distance loses to untrained ones on classes never
seen in training because of *how* the quantiles are compared (for instance
because the tails weigh as much as the body) rather than because of what the
encoder learned. Run::

    python benchmarks/evaluation_distances.py --seeds 0

Results go to ``benchmarks/results/evaluation_distances.md`` and ``.json``.
"""

from __future__ import annotations

import _common as common
import numpy as np
import select_defaults
from sklearn.metrics import pairwise_distances

from sklearn_wdist import WassersteinSequenceEmbedder

INNER_LEVELS = (0.1, 0.9)
RAW_WEIGHTS = (0.5, 2.0)


def distances(
    E_a: np.ndarray,
    E_b: np.ndarray,
    E_train: np.ndarray,
    n_features: int,
    n_learned: int,
) -> dict[str, np.ndarray]:
    """Every compared distance matrix between the rows of ``E_a`` and ``E_b``.

    ``E_*`` are ``transform`` outputs (quantiles scaled by ``M ** -0.5``);
    ``E_train`` supplies the per-feature spreads; the first ``n_learned`` of
    the ``n_features`` rows are learned, the others are the raw channels.
    """
    n_levels = E_a.shape[1] // n_features

    def quantiles(E: np.ndarray) -> np.ndarray:
        return E.reshape(len(E), n_features, n_levels) * n_levels**0.5

    Q_a, Q_b, Q_train = quantiles(E_a), quantiles(E_b), quantiles(E_train)

    def flat_euclidean(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        # W2 of (K, M') quantile arrays: Euclidean over all entries / sqrt(M').
        return pairwise_distances(
            A.reshape(len(A), -1), B.reshape(len(B), -1)
        ) / np.sqrt(A.shape[-1])

    tau = (np.arange(n_levels) + 0.5) / n_levels
    inner = (tau > INNER_LEVELS[0]) & (tau < INNER_LEVELS[1])
    spread = Q_train.transpose(1, 0, 2).reshape(n_features, -1).std(axis=1)
    spread = np.where(spread > 0, spread, 1.0)[None, :, None]
    result = {
        "W2": pairwise_distances(E_a, E_b),
        "W1": pairwise_distances(
            Q_a.reshape(len(Q_a), -1), Q_b.reshape(len(Q_b), -1), metric="cityblock"
        )
        / n_levels,
        f"W2, levels in {INNER_LEVELS}": flat_euclidean(
            Q_a[:, :, inner], Q_b[:, :, inner]
        ),
        "means only": pairwise_distances(Q_a.mean(axis=2), Q_b.mean(axis=2)),
        "energy": common.energy_distance_matrix(E_a, E_b, n_features),
        "W2, features standardised": flat_euclidean(Q_a / spread, Q_b / spread),
    }
    if n_learned < n_features:
        learned = flat_euclidean(Q_a[:, :n_learned], Q_b[:, :n_learned]) ** 2
        raw = flat_euclidean(Q_a[:, n_learned:], Q_b[:, n_learned:]) ** 2
        for weight in RAW_WEIGHTS:
            result[f"W2, raw channels x {weight:g}"] = np.sqrt(learned + weight * raw)
    return result


def run(task: common.Task, seed: int) -> list[common.Record]:
    """Fit the default embedder once; one record per compared distance."""
    embedder, fit_s = common.timed(
        # The default of the measurement (round 5): no difference rows, so the
        # rows after the learned ones are the raw channels.
        WassersteinSequenceEmbedder(
            include_differences=False,
            input_row_weighting=None,
            **common.BEFORE_ROUND_9,
            random_state=seed,
        ).fit,
        task.X_train,
        task.y_train,
    )
    E_train = embedder.transform(task.X_train)
    verification = task.evaluation == "verification"
    E_eval = embedder.transform(task.X_eval)
    E_ref = E_eval if verification else E_train
    records = []
    matrices = distances(
        E_eval, E_ref, E_train, embedder.n_embedding_features_, embedder.n_features
    )
    for name, D in matrices.items():
        record = common.scored_record(
            task, name, seed, common.task_scores(task, D), fit_s
        )
        print(common.describe({**record, "transform_s": 0, "evaluate_s": 0}))
        records.append(record)
    return records


def main(argv: list[str] | None = None) -> None:
    select_defaults.post_hoc_main(
        argv, __doc__.split("\n")[0], "evaluation_distances", run, summarise
    )


def summarise(records: list[common.Record]) -> str:
    """Per task and on average, each distance's score; the W2 row first."""
    lines = []
    methods = common.distinct(r["method"] for r in records)
    for protocol, key in select_defaults.SUMMARY:
        chosen = common.select(records, protocol=protocol)
        names = common.distinct(r["dataset"] for r in chosen)
        if not names:
            continue
        rows = []
        for method in methods:
            means = [
                np.mean(
                    [
                        r["scores"][key]
                        for r in common.select(chosen, dataset=name, method=method)
                    ]
                )
                for name in names
            ]
            rows.append([method, *(f"{m:.3f}" for m in means), f"{np.mean(means):.4f}"])
        lines += select_defaults.section(
            protocol, key, ["distance", *names, "mean"], rows
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
