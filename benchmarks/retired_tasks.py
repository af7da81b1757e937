"""Check whether any choice of defaults depended on a retired validation task.

Round 26 replaced the seen four-class BasicMotions task of
``select_defaults.py`` (its badminton and walking recordings overlap the
evidence's unseen-class task) with one of running and standing only. For every
``results/select_defaults*.json`` file this script ranks the file's methods by
the rule's mean sum over the seeds each ran, once with the records of
``select_defaults.RETIRED_TASKS`` and once without, and reports whether the
order changes; it also lists the retired task's records below 1.000. The
probes that built their tasks with ``select_defaults.build_tasks`` (noise
channels, weak channels, channel units, ensembles, ...) are checked too: in
every group of records with the same settings (``n_noise``, ``weaken``, ...)
their methods are ranked by mean seen accuracy minus mean unseen EER plus mean
unseen MAP@R over the tasks the file holds, with and without the retired
task. Run::

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


_RECORD_KEYS = {
    "protocol",
    "dataset",
    "method",
    "seed",
    "scores",
    "fit_s",
    "transform_s",
    "evaluate_s",
    "shares_fit",
}
_SIGNS = (
    ("seen", "accuracy", 1.0),
    ("unseen", "eer", -1.0),
    ("unseen", "map_at_r", 1.0),
)


def probe_scores(records: list[common.Record]) -> dict[str, float]:
    """Each method's mean seen accuracy - mean unseen EER + mean unseen MAP@R.

    Means over seeds per task, then over the tasks the method has records on.
    """
    scores = {}
    for method in common.distinct(r["method"] for r in records):
        total = 0.0
        for protocol, key, sign in _SIGNS:
            chosen = [
                r
                for r in common.select(records, method=method, protocol=protocol)
                if key in r["scores"]
            ]
            tasks = common.distinct(r["dataset"] for r in chosen)
            if tasks:
                total += sign * np.mean(
                    [
                        np.mean([r["scores"][key] for r in chosen if r["dataset"] == t])
                        for t in tasks
                    ]
                )
        scores[method] = total
    return scores


def probe_changes(path) -> list[str]:
    """Return the settings groups of a probe file whose ranking changes without it."""
    records = json.loads(path.read_text())["records"]
    retired = set(select_defaults.RETIRED_TASKS)
    groups: dict[tuple, list[common.Record]] = {}
    for r in records:
        settings = tuple(
            sorted((k, str(v)) for k, v in r.items() if k not in _RECORD_KEYS)
        )
        groups.setdefault(settings, []).append(r)
    changed = []
    for settings, group in groups.items():
        kept = [r for r in group if (r["protocol"], r["dataset"]) not in retired]
        if len(kept) == len(group):
            continue
        ranked = [
            sorted(scores, key=lambda m, scores=scores: -round(scores[m], 9))
            for scores in (probe_scores(group), probe_scores(kept))
        ]
        if ranked[0] != ranked[1]:
            changed.append(f"{dict(settings)}: {ranked[0]} -> {ranked[1]}")
    return changed


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
        with select_defaults.counting_retired():
            with_task = mean_sums(records, methods)
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
    print("\nProbes built on the validation tasks (other result files):")
    for path in sorted(common.RESULTS_DIR.rglob("*.json")):
        if (
            path.name.startswith("select_defaults")
            and path.parent == common.RESULTS_DIR
        ):
            continue
        try:
            records = json.loads(path.read_text()).get("records")
        except (json.JSONDecodeError, AttributeError):
            continue
        if not isinstance(records, list) or not any(
            isinstance(r, dict) and (r.get("protocol"), r.get("dataset")) in retired
            for r in records
        ):
            continue
        changes = probe_changes(path)
        name = path.relative_to(common.RESULTS_DIR)
        print(f"{name}: order " + ("unchanged" if not changes else "CHANGED"))
        for change in changes:
            print(f"  {change}")


if __name__ == "__main__":
    main()
