"""Probe: untrained increments at several lags, on validation and evidence data.

The default's kept rows held each whitened channel and its first difference
(rounds 7-14). This probe asks what the distributions of the increments
``x[t] - x[max(t - L, 0)]`` at longer lags add, with no training: each task
is whitened with its training classes' within-class covariance (as the
embedder does), every row (channel or increment) is standardised over the
training steps, and sequences are compared by the W2 distance between their
per-row quantile functions (16 levels). Lag sets:

- ``whitened channels``: no increments;
- ``lag 1``: the first differences (the kept rows of rounds 7-14, unweighted);
- ``lags 1, 2``;
- ``lags up to median / F``: 1, 2, 4, ... up to ``1/F`` of the median
  training length, for ``F`` = 8 (the rule of
  :func:`~sklearn_wdist.nn.multiscale_difference_lags`), 4 and 2.

Tasks: the 20 validation tasks of ``select_defaults.py`` (training splits
only), scored and summed by its rule, and, to report only, the evidence
tasks of ``evidence.py`` (official splits and the two unseen-class tasks).
Deterministic. Run::

    python benchmarks/untrained_lags.py

Results go to ``benchmarks/results/untrained_lags.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _common as common
import evidence
import select_defaults

from sklearn_wdist.nn import multiscale_difference_lags

METHODS = (
    ("whitened channels", lambda median: ()),
    ("lag 1", lambda median: (1,)),
    ("lags 1, 2", lambda median: (1, 2)),
    *(
        (
            f"lags up to median / {factor}",
            lambda median, factor=factor: multiscale_difference_lags(
                median, 1 / factor
            ),
        )
        for factor in (8, 4, 2)
    ),
)


def summarise(records: list[common.Record], names: list[str]) -> str:
    validation = [r for r in records if r["part"] == "validation"]
    lines, sums = select_defaults.rule_tables(validation, names, label="rows")
    out = ["# Untrained increments at several lags (no training)", ""]
    out += ["## Validation tasks (training splits only)", "", *lines, ""]
    out += common.markdown_table(
        ["rows", "rule's sum"], [[n, f"{sums[n]:.3f}"] for n in names]
    )
    shown = [r for r in records if r["part"] == "evidence"]
    rows = []
    for name in names:
        cells = []
        for task in common.distinct((r["protocol"], r["dataset"]) for r in shown):
            (record,) = common.select(
                shown, protocol=task[0], dataset=task[1], method=name
            )
            keys = ("accuracy",) if task[0] == "accuracy" else ("eer", "map_at_r")
            cells += [f"{record['scores'][k]:.4f}" for k in keys]
        rows.append([name, *cells])
    header = ["rows"]
    for task in common.distinct((r["protocol"], r["dataset"]) for r in shown):
        if task[0] == "accuracy":
            header.append(f"{task[1]} accuracy")
        else:
            header += [f"{task[1]} unseen EER", f"{task[1]} unseen MAP@R"]
    out += ["", "## Evidence tasks (reported, not chosen on)", ""]
    out += common.markdown_table(header, rows)
    return "\n".join([*out, ""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    common.quiet_warnings()
    methods = [
        common.WhitenedMultiscaleDifferencesQuantileMethod(name, lags)
        for name, lags in METHODS
    ]
    validation = select_defaults.build_tasks(
        list(select_defaults.SEEN_DATASETS), list(select_defaults.UNSEEN_DATASETS)
    )
    shown = evidence.build_tasks(list(evidence.ACCURACY_DATASETS), quick=False)
    records = []
    for part, tasks in (("validation", validation), ("evidence", shown)):
        for task in tasks:
            for record in common.run_task(task, methods, [0]):
                records.append({**record, "part": part})
    names = [method.name for method in methods]
    common.write_summary(
        args.out, "untrained_lags", {"records": records}, summarise(records, names)
    )


if __name__ == "__main__":
    main()
