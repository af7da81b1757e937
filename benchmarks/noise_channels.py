"""Robustness probe: irrelevant channels added to validation tasks.

Sensor recordings often carry channels that say nothing about the classes.
This probe appends ``--noise`` channels of standard Gaussian noise (the same
distribution for every class, seeded, independent of the training seed) to
every sequence of some validation tasks of ``select_defaults.py`` (official
training splits only) and compares each method with and without them:

- ``learned``: the default embedder;
- ``learned (round 9 default)``: ``early_stopping="auto"`` and
  ``input_gating=None`` (the default of rounds 9 and 10);
- ``learned (round 8 default)``: ``early_stopping=False`` (every sequence
  trains for 30 epochs) and ``input_gating=None``, and the same with
  ``input_row_weighting=None``;
- ``raw-quantile W2`` and ``whitened raw + difference quantile W2``:
  untrained baselines (see ``evidence.py``).

Run (two processes, merged after)::

    python benchmarks/noise_channels.py --unseen --out /tmp/noise-seen
    python benchmarks/noise_channels.py --seen --out /tmp/noise-unseen
    python benchmarks/noise_channels.py --merge /tmp/noise-seen/noise_channels.json \
        /tmp/noise-unseen/noise_channels.json

Results go to ``benchmarks/results/noise_channels.md`` and ``.json``;
``--regularised`` (default variants with less capacity or shorter training)
to ``noise_channels_regularised.*``; ``--extra '{"name": {...}}'`` (named
parameter sets on top of the defaults) to ``noise_channels_candidates.*``.
"""

from __future__ import annotations

import argparse
import json
import statistics

import _common as common
import numpy as np
import select_defaults

SEEN = ("GunPoint", "Coffee", "ArrowHead", "BasicMotions, running and standing")
UNSEEN = ("JapaneseVowels", "OSULeaf", "PickupGestureWiimoteZ")


def with_noise(X: common.Sequences, n_noise: int, seed: int) -> list[np.ndarray]:
    """Append ``n_noise`` channels of N(0, 1) noise to every sequence."""
    rng = np.random.default_rng(seed)
    out = []
    for x in X:
        x = np.asarray(x, dtype=np.float64)
        out.append(np.concatenate([x, rng.normal(size=(n_noise, x.shape[-1]))]))
    return out


# With --regularised: the default with less capacity or shorter training,
# to see whether the damage is overfitting (a diagnostic, not a candidate
# round: no decision is taken on these numbers).
# Variants of the round 8 default (30 epochs, no early stopping).
REGULARISED = {
    "learned, dropout 0.3": {"dropout": 0.3, **common.ROUND_8},
    "learned, 1 block": {"n_layers": 1, **common.ROUND_8},
    "learned, 10 epochs": {"max_epochs": 10, **common.ROUND_8},
    "learned, weight decay 1e-2": {"weight_decay": 1e-2, **common.ROUND_8},
    "learned, augmented": {
        "crop_fraction": 0.8,
        "scale_std": 0.1,
        "jitter_std": 0.05,
        **common.ROUND_8,
    },
}


def methods(
    regularised: bool = False, extra: dict | None = None
) -> list[common.Method]:
    if extra:
        return [common.EmbedderMethod(n, p) for n, p in extra.items()]
    if regularised:
        return [common.EmbedderMethod(n, p) for n, p in REGULARISED.items()]
    return [
        common.EmbedderMethod("learned", {}),
        common.EmbedderMethod(
            "learned (round 9 default)",
            {**common.ROUND_9, **common.ROUND_7_DIFFERENCES},
        ),
        common.EmbedderMethod("learned (round 8 default)", common.ROUND_8),
        common.EmbedderMethod(
            "learned (round 8, unweighted input rows)",
            {**common.ROUND_8, "input_row_weighting": None},
        ),
        common.RawQuantileMethod(),
        common.WhitenedDifferencesQuantileMethod(),
    ]


def changed_tasks(seen, unseen, change) -> list[common.Task]:
    """Return the validation tasks with ``change(X, seed)`` applied to inputs.

    The training sequences are changed with seed 1, the evaluated ones with
    seed 2; ``change=None`` leaves the tasks as they are.
    """
    tasks = select_defaults.build_tasks(list(seen), list(unseen))
    if change is None:
        return tasks
    return [
        common.Task(
            t.protocol,
            t.dataset,
            change(t.X_train, 1),
            t.y_train,
            change(t.X_eval, 2),
            t.y_eval,
            t.evaluation,
        )
        for t in tasks
    ]


def noisy_tasks(seen, unseen, n_noise: int) -> list[common.Task]:
    change = None if n_noise == 0 else lambda X, seed: with_noise(X, n_noise, seed)
    return changed_tasks(seen, unseen, change)


def summarise(records: list[dict]) -> list[str]:
    """Per task and method: the score without and with the noise channels."""
    lines = []
    for protocol, key in (("seen", "accuracy"), ("unseen", "eer")):
        chosen = [r for r in records if r["protocol"] == protocol]
        names = common.distinct(r["dataset"] for r in chosen)
        if not names:
            continue
        noise_levels = sorted({r["n_noise"] for r in chosen})
        header = ["method", *(f"{n} ({k} noise)" for n in names for k in noise_levels)]
        rows = []
        for method in common.distinct(r["method"] for r in chosen):
            cells = []
            for name in names:
                for level in noise_levels:
                    values = [
                        r["scores"][key]
                        for r in chosen
                        if (r["dataset"], r["method"], r["n_noise"])
                        == (name, method, level)
                    ]
                    cells.append(f"{statistics.fmean(values):.3f}")
            rows.append([method, *cells])
        lines += select_defaults.section(protocol, key, header, rows)
    seeds = sorted({r["seed"] for r in records if r["seed"] is not None})
    return [f"Seeds of the trained methods: {seeds}.", "", *lines]


def condition_tables(
    records: list[dict], field: str, describe, digits: int = 3, ordered: bool = True
) -> list[str]:
    """Per task and method: the mean score under each value of ``field``.

    ``describe(value)`` names a value in the column headers (sorted if
    ``ordered``, else in the order first met); scores are the seen accuracy
    and the unseen EER and MAP@R.
    """
    lines = []
    for protocol, key in (
        ("seen", "accuracy"),
        ("unseen", "eer"),
        ("unseen", "map_at_r"),
    ):
        chosen = [r for r in records if r["protocol"] == protocol]
        names = common.distinct(r["dataset"] for r in chosen)
        if not names:
            continue
        values = common.distinct(r[field] for r in chosen)
        if ordered:
            values = sorted(values)
        header = ["method", *(f"{n} ({describe(v)})" for n in names for v in values)]
        rows = []
        for method in common.distinct(r["method"] for r in chosen):
            cells = [
                statistics.fmean(
                    r["scores"][key]
                    for r in chosen
                    if (r["dataset"], r["method"], r[field]) == (name, method, v)
                )
                for name in names
                for v in values
            ]
            rows.append([method, *(f"{c:.{digits}f}" for c in cells)])
        lines += select_defaults.section(protocol, key, header, rows)
    seeds = sorted({r["seed"] for r in records if r["seed"] is not None})
    return [f"Seeds: {seeds}.", "", *lines]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_seeds_argument(parser, default=[0, 1])
    common.add_task_arguments(parser, SEEN, UNSEEN)
    parser.add_argument("--noise", type=int, default=2, help="channels of noise")
    parser.add_argument(
        "--regularised",
        action="store_true",
        help="run the REGULARISED variants of the default instead",
    )
    parser.add_argument(
        "--extra",
        help="JSON object of named embedder configurations to run instead; "
        "results go to noise_channels_candidates.*",
    )
    args = parser.parse_args(argv)
    extra = json.loads(args.extra) if args.extra else None

    def run_all() -> list[dict]:
        return [
            {**record, "n_noise": n_noise}
            for n_noise in (0, args.noise)
            for task in noisy_tasks(args.seen, args.unseen, n_noise)
            for record in common.run_task(
                task, methods(args.regularised, extra), args.seeds
            )
        ]

    records = common.records_or_run(args.merge, run_all)
    stem = "noise_channels"
    if any(r["method"] in REGULARISED for r in records):
        stem += "_regularised"
    elif extra or not any(r["method"] == "learned" for r in records):
        stem += "_candidates"
    title = "Irrelevant noise channels (validation data only)"
    common.write_report(args.out, stem, title, records, summarise(records))


if __name__ == "__main__":
    main()
