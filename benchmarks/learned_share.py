"""Diagnostic: what the learned rows add to verification on classes never seen.

One fit of the default embedder of rounds 12-14 (the first differences
only, ``include_differences=True``) per unseen validation task (the tasks of
``select_defaults.py``: official training splits only), then the evaluated
sequences verified with three distances taken from the same embedding:

- ``learned rows``: the ``n_features`` learned rows alone;
- ``kept rows``: the kept input rows alone (whitened channels and their
  slopes, weighted as the default weights them);
- ``all rows``: the learned distance itself.

It also reports the learned rows' share of the squared distance, summed over
all pairs of evaluated sequences. ``--configs`` adds encoders other than the
default's (a JSON object: name -> embedder parameters), fitted and scored
the same way. Run::

    python benchmarks/learned_share.py --seeds 0 1

Results go to ``benchmarks/results/learned_share.md`` and ``.json``.
"""

from __future__ import annotations

import itertools
import json

import _common as common
import numpy as np
import select_defaults
from sklearn.metrics import pairwise_distances

from sklearn_wdist import WassersteinSequenceEmbedder

PARTS = ("learned rows", "kept rows", "all rows")
# Encoders fitted per task and seed: name -> embedder parameters.
CONFIGS: dict[str, dict] = {"default": {}}


def run(task: common.Task, seed: int) -> list[common.Record]:
    """Fit each encoder of ``CONFIGS`` once; one record per part of each."""
    return [
        record
        for name, params in CONFIGS.items()
        for record in run_one(task, seed, name, params)
    ]


def run_one(
    task: common.Task, seed: int, encoder: str, params: dict
) -> list[common.Record]:
    """Fit one embedder; one record per part of the embedding."""
    if task.evaluation != "verification":
        raise ValueError(f"{task.dataset}: only verification tasks are scored.")
    embedder, fit_s = common.timed(
        # On the first differences of rounds 7-14, with which the records were
        # made, unless the configuration says otherwise.
        WassersteinSequenceEmbedder(
            random_state=seed, **{**common.ROUND_7_DIFFERENCES, **params}
        ).fit,
        task.X_train,
        task.y_train,
    )
    # d^2 = d^2(learned rows) + d^2(kept rows) holds for the W2 (p=2) only.
    assert embedder.metric_ == "euclidean"
    E = embedder.transform(task.X_eval)
    rows = E.reshape(len(E), embedder.n_embedding_features_, -1)
    learned = rows[:, : embedder.n_features].reshape(len(E), -1)
    kept = rows[:, embedder.n_features :].reshape(len(E), -1)
    squared = {
        "learned rows": pairwise_distances(learned) ** 2,
        "kept rows": pairwise_distances(kept) ** 2,
    }
    squared["all rows"] = squared["learned rows"] + squared["kept rows"]
    upper = np.triu_indices(len(E), 1)
    share = float(
        squared["learned rows"][upper].sum() / squared["all rows"][upper].sum()
    )
    records = []
    for part in PARTS:
        scores = common.task_scores(task, np.sqrt(squared[part]))
        record = common.scored_record(task, part, seed, scores, fit_s)
        record["learned_share"] = share
        record["encoder"] = encoder
        print(encoder, common.describe({**record, "transform_s": 0, "evaluate_s": 0}))
        records.append(record)
    return records


def summarise(records: list[common.Record]) -> str:
    """Per task and encoder: the learned share, each part's EER and MAP@R."""
    header = ["task", "encoder", "learned share of d^2"]
    for part in PARTS:
        header += [f"{part} EER", f"{part} MAP@R"]
    rows = []
    # Records written before --configs existed are the default's.
    encoders = common.distinct(r.get("encoder", "default") for r in records)
    for name, encoder in itertools.product(
        common.distinct(r["dataset"] for r in records), encoders
    ):
        mine = [
            r
            for r in common.select(records, dataset=name)
            if r.get("encoder", "default") == encoder
        ]
        if not mine:
            continue
        cells = [name, encoder, f"{np.mean([r['learned_share'] for r in mine]):.3f}"]
        for part in PARTS:
            chosen = common.select(mine, method=part)
            for key in ("eer", "map_at_r"):
                cells.append(f"{np.mean([r['scores'][key] for r in chosen]):.3f}")
        rows.append(cells)
    lines = ["### Unseen validation tasks, mean over seeds", ""]
    return "\n".join([*lines, *common.markdown_table(header, rows), ""])


def main(argv: list[str] | None = None) -> None:
    def configure(args) -> None:
        if args.configs:
            CONFIGS.clear()
            CONFIGS.update({"default": {}, **json.loads(args.configs)})

    select_defaults.post_hoc_main(
        argv,
        __doc__.split("\n")[0],
        "learned_share",
        run,
        summarise,
        unseen_only=True,
        add_arguments=lambda parser: parser.add_argument(
            "--configs", default=None, help="JSON: name -> embedder parameters"
        ),
        configure=configure,
    )


if __name__ == "__main__":
    main()
