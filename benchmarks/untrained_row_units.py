"""Probe: in which units should the untrained kept rows enter the distance.

The default embedding keeps each input channel, whitened with the
within-class covariance, and its first difference. Rounds 7 to 12 then
standardised each whitened channel by its total standard deviation, which
shrinks exactly the directions along which the training classes differ
(after within-class whitening a channel's total variance is 1 plus its
between-class variance). This probe scores the untrained rows alone, with no
network, on the validation tasks of ``select_defaults.py`` (official training
splits only) and on every cut of JapaneseVowels speakers 1-5 into three that
train and two that verify (``row_weights.py --rotations``):

- ``standardised values + slopes``: the kept rows of rounds 7 to 12;
- ``whitened values + slopes``: the whitened channels as the whitening leaves
  them, the slopes standardised;
- ``whitened values + whitened slopes``: the slopes whitened with their own
  within-class covariance as well, not standardised;
- ``common-scale values + slopes``: the whitened channels divided by one
  common scale (the root of their mean total variance), so that they weigh as
  much in all as the standardised ones, spread over the channels as the
  whitening has it (on one channel: the same as standardised);
- ``whitened values`` and ``standardised values``: the channels alone.

Deterministic (no training). Run::

    python benchmarks/untrained_row_units.py

Results go to ``benchmarks/results/untrained_row_units.md`` and ``.json``.
"""

from __future__ import annotations

import argparse

import _common as common
import numpy as np
import row_weights
import select_defaults
from sklearn.metrics import pairwise_distances

from sklearn_wdist._validation import check_sequences
from sklearn_wdist._whitening import fit_whitening, to_network_input

VARIANTS = (
    "standardised values + slopes",
    "whitened values + slopes",
    "whitened values + whitened slopes",
    "common-scale values + slopes",
    "whitened values",
    "standardised values",
)


def _whitened(task: common.Task, train: list, other: list) -> tuple[list, list]:
    """``train`` and ``other``, whitened with ``train``'s within-class covariance."""
    codes = np.unique(task.y_train, return_inverse=True)[1]
    whitening = fit_whitening(train, codes, "within_class", np.random.default_rng(0))
    return to_network_input(train, *whitening), to_network_input(other, *whitening)


def embeddings(task: common.Task) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each variant's quantile rows of the training and the evaluated sequences."""
    values = _whitened(
        task, check_sequences(task.X_train), check_sequences(task.X_eval)
    )
    slopes = tuple(common.first_differences(s) for s in values)
    white_slopes = _whitened(
        task, *([d.astype(np.float32) for d in part] for part in slopes)
    )
    n_channels = values[0][0].shape[0]
    unit = (np.zeros(n_channels), np.ones(n_channels))
    standard = common.channel_statistics(values[0])
    common_scale = (
        standard[0],
        np.full(n_channels, np.sqrt(np.mean(standard[1] ** 2))),
    )
    slope_standard = common.channel_statistics(slopes[0])

    def rows(*parts):
        return tuple(
            np.hstack([common.raw_quantile_features(p[i], *s) for p, s in parts])
            for i in (0, 1)
        )

    return {
        VARIANTS[0]: rows((values, standard), (slopes, slope_standard)),
        VARIANTS[1]: rows((values, unit), (slopes, slope_standard)),
        VARIANTS[2]: rows((values, unit), (white_slopes, unit)),
        VARIANTS[3]: rows((values, common_scale), (slopes, slope_standard)),
        VARIANTS[4]: rows((values, unit)),
        VARIANTS[5]: rows((values, standard)),
    }


def run(tasks: list[common.Task]) -> list[common.Record]:
    records = []
    for task in tasks:
        for name, (E_train, E_eval) in embeddings(task).items():
            reference = E_eval if task.evaluation == "verification" else E_train
            D = pairwise_distances(E_eval, reference)
            scores = common.task_scores(task, D)
            records.append(common.scored_record(task, name, None, scores, 0.0))
    return records


def summarise(records: list[common.Record]) -> str:
    """Return the validation means, JapaneseVowels alone, and the cut means."""
    lines = ["# Untrained kept rows in several units (no training)", ""]
    cuts = [r for r in records if r["dataset"].startswith("JapaneseVowels ")]
    validation = [r for r in records if not r["dataset"].startswith("JapaneseVowels ")]
    base = [r["scores"]["eer"] for r in common.select(cuts, method=VARIANTS[0])]
    rows = []
    for method in VARIANTS:
        mine = common.select(validation, method=method)
        cells = []
        for protocol, key in select_defaults.SUMMARY:
            cells.append(
                np.mean([r["scores"][key] for r in mine if r["protocol"] == protocol])
            )
        jv = {
            r["protocol"]: r["scores"] for r in mine if r["dataset"] == "JapaneseVowels"
        }
        eer = [r["scores"]["eer"] for r in common.select(cuts, method=method)]
        better = sum(e < b for e, b in zip(eer, base, strict=True))
        rows.append(
            [
                method,
                *(f"{c:.4f}" for c in cells),
                f"{jv['seen']['accuracy']:.4f}",
                f"{jv['unseen']['eer']:.4f}",
                f"{np.mean(eer):.4f} ({better}/{len(eer)} cuts better)",
            ]
        )
    header = [
        "untrained rows",
        "seen accuracy (13)",
        "unseen EER (7)",
        "unseen MAP@R (7)",
        "JV seen",
        "JV speakers 4-5 EER",
        "JV EER, 10 cuts of speakers 1-5",
    ]
    lines += common.markdown_table(header, rows)
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_task_arguments(
        parser, select_defaults.SEEN_DATASETS, select_defaults.UNSEEN_DATASETS
    )
    args = parser.parse_args(argv)

    def measure() -> list[common.Record]:
        tasks = select_defaults.build_tasks(args.seen, args.unseen)
        return run(tasks + row_weights.rotation_tasks())

    records = common.records_or_run(args.merge, measure)
    common.write_summary(
        args.out, "untrained_row_units", {"records": records}, summarise(records)
    )


if __name__ == "__main__":
    main()
