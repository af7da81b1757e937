"""Check whether any choice of defaults depended on a retired validation task.

Round 26 replaced the seen four-class BasicMotions task of
``select_defaults.py`` (its badminton and walking recordings overlap the
evidence's unseen-class task) with one of running and standing only. For every
``results/select_defaults*.json`` file this script ranks the file's methods by
the rule's mean sum over the seeds each ran, once with the records of
``select_defaults.RETIRED_TASKS`` and once without, and reports whether the
order changes; it also lists the retired task's records below 1.000. Run::

    python benchmarks/retired_tasks.py
"""

from __future__ import annotations

import json

import _common as common
import numpy as np
import select_defaults


def mean_sums(records: list[common.Record], methods: list[str]) -> dict[str, float]:
    """Return the rule's sum of every method, averaged over the seeds it ran."""
    seeds = sorted({r["seed"] for r in records if r["seed"] is not None})
    sums = {}
    for method in methods:
        per_seed = [
            select_defaults.rule_tables(
                [r for r in records if r["seed"] in (seed, None)], [method]
            )[1][method]
            for seed in seeds
            if common.select(records, method=method, seed=seed)
        ]
        sums[method] = float(np.mean(per_seed)) if per_seed else float("nan")
    return sums


def main() -> None:
    retired = set(select_defaults.RETIRED_TASKS)
    changed, below, n_records = [], [], 0
    files = sorted(common.RESULTS_DIR.glob("select_defaults*.json"))
    for path in files:
        records = json.loads(path.read_text())["records"]
        in_retired = [
            r
            for r in records
            if (r["protocol"], r["dataset"]) in retired
            and r["method"] != select_defaults.RAW
        ]
        if not in_retired:
            continue
        n_records += len(in_retired)
        below += [
            (path.name, r["method"], r["seed"], r["scores"]["accuracy"])
            for r in in_retired
            if r["scores"]["accuracy"] < 1.0
        ]
        methods = common.distinct(
            r["method"] for r in records if r["method"] != select_defaults.RAW
        )
        select_defaults.RETIRED_TASKS.clear()
        with_task = mean_sums(records, methods)
        select_defaults.RETIRED_TASKS.update(retired)
        without_task = mean_sums(records, methods)
        ranked = [
            sorted(methods, key=lambda m, sums=sums: -sums[m])
            for sums in (with_task, without_task)
        ]
        print(
            f"{path.name}: first {ranked[1][0]!r}, order "
            + ("unchanged" if ranked[0] == ranked[1] else "CHANGED")
        )
        if ranked[0] != ranked[1]:
            changed.append(path.name)
    print(f"\n{len(files)} files; {n_records} records of learned methods on")
    print(f"retired tasks {sorted(retired)}, {len(below)} of them below 1.000:")
    for name, method, seed, accuracy in below:
        print(f"  {name} | {method} | seed {seed} | {accuracy:.2f}")
    print(f"Files whose ranking changes without them: {changed or 'none'}")


if __name__ == "__main__":
    main()
