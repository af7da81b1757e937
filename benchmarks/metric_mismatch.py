"""What a k-NN left at its default Euclidean metric measures on ``p=1`` output.

Since round 20 the embedder trains and measures the Wasserstein-1 distance
(``p=1``): the Manhattan distance between rows of ``transform`` is the learned
distance (``metric_ == "manhattan"``). scikit-learn's neighbour estimators
default to the Euclidean metric, which on the same rows is another distance,
without any error. This benchmark scores both on the evidence tasks of
``evidence.py`` (official splits: 1-NN accuracy; unseen classes: EER and
MAP@R), for the default embedder fitted once per seed:

- ``learned``: the learned distance (``metric_``), as ``evidence.py`` does;
- ``learned, Euclidean on transform``: the Euclidean distance between the
  same rows.

Run::

    python benchmarks/metric_mismatch.py --seeds 0 1 2

Results go to ``benchmarks/results/metric_mismatch.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _common as common
import evidence
import numpy as np

NAMES = ("learned", "learned, Euclidean on transform")


def summarise(records: list[common.Record]) -> str:
    tasks = common.distinct((r["protocol"], r["dataset"]) for r in records)
    header, rows = ["distance"], []
    for protocol, dataset in tasks:
        if protocol == "accuracy":
            header.append(f"{dataset} accuracy")
        else:
            header += [f"{dataset} unseen EER", f"{dataset} unseen MAP@R"]
    for name in NAMES:
        cells = [name]
        for protocol, dataset in tasks:
            chosen = common.select(
                records, protocol=protocol, dataset=dataset, method=name
            )
            keys = ("accuracy",) if protocol == "accuracy" else ("eer", "map_at_r")
            for key in keys:
                values = np.array([r["scores"][key] for r in chosen])
                cells.append(f"{values.mean():.4f} +/- {values.std():.4f}")
        rows.append(cells)
    seeds = sorted({r["seed"] for r in records})
    out = [
        "# The learned (Manhattan) distance against the Euclidean one on p=1 output",
        "",
        f"Default `WassersteinSequenceEmbedder()`, seeds {seeds}; mean +/- std "
        "over seeds (ddof=0). One fit per seed and task, read out both ways.",
        "",
    ]
    return "\n".join([*out, *common.markdown_table(header, rows), ""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_seeds_argument(parser, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    common.quiet_warnings()
    method = common.EmbedderMethod(
        NAMES[0], {}, distances={NAMES[0]: "metric", NAMES[1]: "euclidean"}
    )
    tasks = evidence.build_tasks(list(evidence.ACCURACY_DATASETS), quick=False)
    records = []
    for task in tasks:
        records += common.run_task(task, [method], args.seeds)
    common.write_summary(
        args.out, "metric_mismatch", {"records": records}, summarise(records)
    )


if __name__ == "__main__":
    main()
