"""Weighting the embedding's rows by their within-class spread (validation only).

Each row of the default embedding (a learned feature, a whitened channel or a
channel's slopes) is one term of the squared W2 distance. Rows differ in how
much they vary between sequences of the same class, i.e. in how much noise
they add. A diagonal reweighting read off the training sequences, the
distribution-level analogue of standardising by the within-class variance,
scales row ``k`` by ``sqrt(mean(s) / s_k)``, where ``s_k`` is the mean squared
W2 distance of row ``k`` over pairs of training sequences of one class and the
mean runs over the rows reweighted. Scaling rows keeps the result a W2
distance of a Euclidean embedding. Variants, on the same fits:

- ``every row``: all rows reweighted;
- ``untrained rows``: only the whitened channels and their slopes reweighted
  (the learned rows are tight on the training classes by construction, so
  their spread there says little about new classes).

Run (two processes, merged after)::

    python benchmarks/row_weights.py --unseen --out /tmp/rw-seen
    python benchmarks/row_weights.py --seen --out /tmp/rw-unseen
    python benchmarks/row_weights.py --merge /tmp/rw-seen/row_weights.json \
        /tmp/rw-unseen/row_weights.json

Results go to ``benchmarks/results/row_weights.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics

import _common as common
import numpy as np
import select_defaults

from sklearn_wdist import WassersteinSequenceEmbedder

VARIANTS = ("default", "every row", "untrained rows")


def run(task: common.Task, seed: int) -> list[dict]:
    embedder, fit_s = common.timed(
        # Unweighted fits (the round 7 default); the variants weight them here.
        WassersteinSequenceEmbedder(
            random_state=seed, **{**common.ROUND_8, "input_row_weighting": None}
        ).fit,
        task.X_train,
        task.y_train,
    )
    n_rows = embedder.n_embedding_features_
    learned = embedder.n_features
    R_train = embedder.transform(task.X_train)
    R_eval = embedder.transform(task.X_eval)
    spread = common.within_class_spread(R_train, np.asarray(task.y_train), n_rows)
    untrained = np.arange(n_rows) >= learned
    masks = {
        "default": np.zeros(n_rows, dtype=bool),
        "every row": np.ones(n_rows, dtype=bool),
        "untrained rows": untrained,
    }
    records = []
    for name, rows in masks.items():
        scale = np.repeat(
            common.spread_row_weights(spread, rows), R_train.shape[1] // n_rows
        )
        scores = common.embedding_scores(task, R_eval * scale, R_train * scale)
        records.append(common.scored_record(task, name, seed, scores, fit_s))
    return records


def rotation_tasks() -> list[common.Task]:
    """JapaneseVowels speakers 1-5 (training split): every 3-train / 2-verify cut.

    ``select_defaults.py`` holds out speakers 4 and 5 only; the ten cuts show
    how much one cut of five speakers can mislead.
    """
    X, y = select_defaults.load_train("JapaneseVowels")
    _, speakers = select_defaults.RESTRICTED_TASKS["JapaneseVowels"]
    tasks = []
    for held_out in itertools.combinations(speakers, 2):
        evaluate = np.isin(y, held_out)
        tasks.append(
            common.Task(
                "unseen",
                "JapaneseVowels " + "+".join(held_out),
                common.take(X, np.flatnonzero(~evaluate)),
                y[~evaluate],
                common.take(X, np.flatnonzero(evaluate)),
                y[evaluate],
                "verification",
            )
        )
    return tasks


def summarise_rotations(records: list[dict]) -> list[str]:
    """Mean EER and MAP@R over the cuts and seeds; cuts where weighting helps."""
    lines = ["### JapaneseVowels, every cut of speakers 1-5 (3 train, 2 verify)", ""]
    cuts = common.distinct(r["dataset"] for r in records)
    rows = []
    for method in VARIANTS:
        cells = []
        for score in ("eer", "map_at_r"):
            per_cut = [
                statistics.fmean(
                    r["scores"][score]
                    for r in records
                    if (r["dataset"], r["method"]) == (cut, method)
                )
                for cut in cuts
            ]
            cells.append(f"{statistics.fmean(per_cut):.4f}")
            if method != "default":
                base = [
                    statistics.fmean(
                        r["scores"][score]
                        for r in records
                        if (r["dataset"], r["method"]) == (cut, "default")
                    )
                    for cut in cuts
                ]
                sign = -1 if score == "eer" else 1
                better = sum(
                    sign * (v - b) > 0 for v, b in zip(per_cut, base, strict=True)
                )
                cells[-1] += f" ({better}/{len(cuts)} cuts better)"
        rows.append([method, *cells])
    lines += common.markdown_table(["rows reweighted", "EER", "MAP@R"], rows)
    return [*lines, ""]


def summarise(records: list[dict]) -> list[str]:
    """Per task the mean over seeds; the rule's sum of each variant."""
    lines, sums = select_defaults.rule_tables(
        records, list(VARIANTS), label="rows reweighted"
    )
    base = sums["default"]
    seeds = sorted({r["seed"] for r in records})
    return [
        f"Seeds: {seeds}.",
        "",
        *lines,
        "Selection rule's sum of the scores (seen accuracy - unseen EER + "
        "unseen MAP@R, each averaged over its tasks):",
        "",
        *(f"- {m}: {v:.3f} ({v - base:+.3f})" for m, v in sums.items()),
        "",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_seeds_argument(parser, default=[0, 1])
    common.add_task_arguments(
        parser, select_defaults.SEEN_DATASETS, select_defaults.UNSEEN_DATASETS
    )
    parser.add_argument(
        "--rotations",
        action="store_true",
        help="every 3/2 cut of JapaneseVowels speakers 1-5 instead of the tasks",
    )
    args = parser.parse_args(argv)

    def run_all() -> list[dict]:
        records = []
        tasks = (
            rotation_tasks()
            if args.rotations
            else select_defaults.build_tasks(args.seen, args.unseen)
        )
        for task in tasks:
            for seed in args.seeds:
                records += run(task, seed)
            print(task.protocol, task.dataset, flush=True)
        return records

    records = common.records_or_run(args.merge, run_all)
    rotations = all(r["dataset"].startswith("JapaneseVowels ") for r in records)
    stem = "row_weights_rotations" if rotations else "row_weights"
    body = summarise_rotations(records) if rotations else summarise(records)
    title = "Rows weighted by their within-class spread (validation data only)"
    common.write_report(args.out, stem, title, records, body)


if __name__ == "__main__":
    main()
