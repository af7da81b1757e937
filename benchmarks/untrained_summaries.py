"""Probe: other untrained summaries of the whitened channels, on new speakers.

On JapaneseVowels speakers never seen in training, every trained
configuration so far verifies at best as well as the untrained whitened
channels compared by their per-channel quantile functions (EER 0.1205 on
speakers 6-9). This probe asks whether that is a limit of comparing channels
one at a time, or of untrained summaries of the steps as such. Each
multichannel verification task is whitened with its training classes'
within-class covariance (as the embedder does); the evaluated sequences are
then compared, with no training, by:

- ``quantiles of the channels``: per-channel quantile functions (16 levels)
  and the W2 distance, the untrained baseline of the evidence harness;
- ``quantiles of K random directions``: the same after projecting the
  whitened steps onto ``K`` unit directions drawn at random (a sliced W2;
  three draws averaged), ``K`` = 4 and 8 times the channels;
- ``quantiles in the total-PCA basis`` and ``... in the between-class
  basis``: the whitened steps rotated onto the eigenvectors of their total
  covariance or of the covariance of the training classes' means;
- ``Gaussian W2, diagonal`` and ``Gaussian W2, full covariance``: each
  sequence summarised by the mean and (shrunk by 0.1 toward its average
  variance) covariance of its steps, compared with the closed-form W2
  distance between Gaussians (Bures); the diagonal form keeps the means and
  standard deviations only.

Tasks: JapaneseVowels speakers 4-5 with 1-3 training (``select_defaults.py``),
every 3/2 cut of speakers 1-5 (``row_weights.py --rotations``), and, to
report only, the two unseen tasks of ``evidence.py`` (JapaneseVowels
speakers 6-9, BasicMotions badminton and walking). Deterministic. Run::

    python benchmarks/untrained_summaries.py

Results go to ``benchmarks/results/untrained_summaries.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _common as common
import evidence
import numpy as np
import row_weights
import select_defaults
from scipy.linalg import sqrtm
from sklearn.metrics import pairwise_distances

from sklearn_wdist._validation import check_sequences
from sklearn_wdist._whitening import fit_whitening, to_network_input

SHRINKAGE = 0.1
DIRECTION_FACTORS = (4, 8)
N_DRAWS = 3


def _whitened(task: common.Task) -> tuple[list, list]:
    codes = np.unique(task.y_train, return_inverse=True)[1]
    train = check_sequences(task.X_train)
    whitening = fit_whitening(train, codes, "within_class", np.random.default_rng(0))
    evaluated = check_sequences(task.X_eval)
    return to_network_input(train, *whitening), to_network_input(evaluated, *whitening)


def _quantile_distances(sequences: list, directions: np.ndarray | None) -> np.ndarray:
    if directions is not None:
        sequences = [(directions @ s.astype(np.float64)) for s in sequences]
    n_rows = sequences[0].shape[0]
    rows = common.raw_quantile_features(sequences, np.zeros(n_rows), np.ones(n_rows))
    return pairwise_distances(rows)


def _gaussians(sequences: list) -> tuple[np.ndarray, np.ndarray]:
    means, covariances = [], []
    for s in sequences:
        x = s.astype(np.float64)
        covariance = np.cov(x) if x.shape[1] > 1 else np.zeros((len(x), len(x)))
        average = np.trace(covariance) / len(x)
        covariances.append(
            (1 - SHRINKAGE) * covariance + SHRINKAGE * average * np.eye(len(x))
        )
        means.append(x.mean(axis=1))
    return np.array(means), np.array(covariances)


def gaussian_w2(sequences: list, diagonal: bool) -> np.ndarray:
    """W2 distances between the Gaussians fitted to each sequence's steps."""
    means, covariances = _gaussians(sequences)
    if diagonal:
        spreads = np.sqrt(np.einsum("nii->ni", covariances))
        return pairwise_distances(np.hstack([means, spreads]))
    n = len(means)
    D = np.zeros((n, n))
    roots = [np.real(sqrtm(c)) for c in covariances]
    traces = np.einsum("nii->n", covariances)
    for i in range(n):
        for j in range(i + 1, n):
            cross = np.real(sqrtm(roots[i] @ covariances[j] @ roots[i]))
            squared = (
                np.sum((means[i] - means[j]) ** 2)
                + traces[i]
                + traces[j]
                - 2 * np.trace(cross)
            )
            D[i, j] = D[j, i] = np.sqrt(max(squared, 0.0))
    return D


def distance_matrices(task: common.Task) -> dict[str, np.ndarray]:
    """Each summary's distances between the evaluated sequences of ``task``."""
    train, evaluated = _whitened(task)
    n_channels = train[0].shape[0]
    steps = np.concatenate([s.T for s in train]).astype(np.float64)
    labels = np.concatenate(
        [np.full(s.shape[1], c) for s, c in zip(train, task.y_train, strict=True)]
    )
    total_basis = np.linalg.eigh(np.cov(steps.T))[1][:, ::-1].T
    centres = np.stack([steps[labels == c].mean(axis=0) for c in np.unique(labels)])
    between_basis = np.linalg.eigh(np.cov(centres.T))[1][:, ::-1].T
    matrices = {"quantiles of the channels": _quantile_distances(evaluated, None)}
    for factor in DIRECTION_FACTORS:
        draws = []
        for seed in range(N_DRAWS):
            directions = np.random.default_rng(seed).standard_normal(
                (factor * n_channels, n_channels)
            )
            directions /= np.linalg.norm(directions, axis=1, keepdims=True)
            draws.append(_quantile_distances(evaluated, directions))
        matrices[f"quantiles of {factor} x channels random directions"] = draws
    matrices["quantiles in the total-PCA basis"] = _quantile_distances(
        evaluated, total_basis
    )
    matrices["quantiles in the between-class basis"] = _quantile_distances(
        evaluated, between_basis
    )
    matrices["Gaussian W2, diagonal"] = gaussian_w2(evaluated, diagonal=True)
    matrices["Gaussian W2, full covariance"] = gaussian_w2(evaluated, diagonal=False)
    return matrices


def run(tasks: list[common.Task]) -> list[common.Record]:
    records = []
    for task in tasks:
        for name, D in distance_matrices(task).items():
            draws = D if isinstance(D, list) else [D]
            scores = [common.verification_scores(d, task.y_eval) for d in draws]
            mean = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
            records.append(common.scored_record(task, name, None, mean, 0.0))
    return records


def _scores_of(records: list[common.Record], method: str, dataset: str, part: str):
    (record,) = [
        r
        for r in common.select(records, method=method, dataset=dataset)
        if r["part"] == part
    ]
    return [f"{record['scores'][key]:.4f}" for key in ("eer", "map_at_r")]


def summarise(records: list[common.Record]) -> str:
    """EER and MAP@R per summary: speakers 4-5, the ten cuts, the evidence tasks."""
    methods = common.distinct(r["method"] for r in records)
    cuts = [r for r in records if r["dataset"].startswith("JapaneseVowels ")]
    base = [r["scores"]["eer"] for r in common.select(cuts, method=methods[0])]
    rows = []
    for method in methods:
        eer = [r["scores"]["eer"] for r in common.select(cuts, method=method)]
        # Ties (up to rounding) count as neither better nor worse.
        better = sum(e < b - 1e-12 for e, b in zip(eer, base, strict=True))
        ties = sum(abs(e - b) <= 1e-12 for e, b in zip(eer, base, strict=True))
        rows.append(
            [
                method,
                *_scores_of(records, method, "JapaneseVowels", "validation"),
                f"{np.mean(eer):.4f} ({better}/{len(eer)} better, {ties} tied)",
                *_scores_of(records, method, "JapaneseVowels", "evidence"),
                *_scores_of(records, method, "BasicMotions", "evidence"),
            ]
        )
    header = [
        "untrained summary of the whitened steps",
        "JV speakers 4-5 EER",
        "JV 4-5 MAP@R",
        "JV, 10 cuts of speakers 1-5, EER",
        "JV speakers 6-9 EER (evidence)",
        "JV 6-9 MAP@R",
        "BM badminton, walking EER (evidence)",
        "BM MAP@R",
    ]
    lines = ["# Untrained summaries of the whitened steps (no training)", ""]
    lines += common.markdown_table(header, rows)
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    common.quiet_warnings()
    validation = select_defaults.build_tasks([], ["JapaneseVowels"])
    cuts = row_weights.rotation_tasks()
    shown = [evidence.unseen_task(n) for n in ("JapaneseVowels", "BasicMotions")]
    records = []
    for part, tasks in (("validation", validation + cuts), ("evidence", shown)):
        for record in run(tasks):
            records.append({**record, "part": part})
    common.write_summary(
        args.out, "untrained_summaries", {"records": records}, summarise(records)
    )


if __name__ == "__main__":
    main()
