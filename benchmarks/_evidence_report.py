"""Tables, plots and the JSON record written by ``benchmarks/evidence.py``.

A *record* is one method on one task with one seed (``seed`` is ``None`` for
deterministic methods, which run once)::

    {"protocol": "accuracy" | "unseen", "dataset": str, "method": str,
     "seed": int | None, "scores": {name: float},
     "fit_s": float, "transform_s": float, "evaluate_s": float,
     "shares_fit": bool}

Means and standard deviations are over seeds (``ddof=0``); deterministic
methods have a single record and a standard deviation of 0.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

Record = dict[str, Any]

UNSEEN_SCORES = (("eer", "EER", False), ("map_at_r", "MAP@R", True))
UNSEEN_SCORES += (("p_at_1", "P@1", True),)
DETERMINISTIC_MARK = " (det.)"


def _select(records: Iterable[Record], **where: Any) -> list[Record]:
    return [r for r in records if all(r[k] == v for k, v in where.items())]


def _ordered(values: Iterable[str]) -> list[str]:
    """Distinct values in order of first appearance."""
    return list(dict.fromkeys(values))


def _scores(records: Sequence[Record], score: str) -> np.ndarray:
    return np.array([r["scores"][score] for r in records], dtype=float)


def _cell(records: Sequence[Record], score: str) -> str:
    if not records:
        return "n/a"
    values = _scores(records, score)
    mark = DETERMINISTIC_MARK if records[0]["seed"] is None else ""
    return f"{values.mean():.4f} +/- {values.std():.4f}{mark}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def accuracy_table(records: Sequence[Record]) -> list[str]:
    """Tabulate 1-NN test accuracy (mean +/- std) of methods by datasets."""
    records = _select(records, protocol="accuracy")
    datasets = _ordered(r["dataset"] for r in records)
    methods = _ordered(r["method"] for r in records)
    rows = (
        [method]
        + [
            _cell(_select(records, method=method, dataset=d), "accuracy")
            for d in datasets
        ]
        for method in methods
    )
    return _table(["method", *datasets], rows)


def unseen_table(records: Sequence[Record]) -> list[str]:
    """Tabulate the unseen-class scores of methods by (dataset, score)."""
    records = _select(records, protocol="unseen")
    datasets = _ordered(r["dataset"] for r in records)
    methods = _ordered(r["method"] for r in records)
    header = ["method"] + [
        f"{d} {label} {'(higher better)' if up else '(lower better)'}"
        for d in datasets
        for _, label, up in UNSEEN_SCORES
    ]
    rows = (
        [method]
        + [
            _cell(_select(records, method=method, dataset=d), key)
            for d in datasets
            for key, _, _ in UNSEEN_SCORES
        ]
        for method in methods
    )
    return _table(header, rows)


def _median(records: Sequence[Record], key: str) -> str:
    return f"{statistics.median(r[key] for r in records):.2f}"


def timing_table(records: Sequence[Record]) -> list[str]:
    """Tabulate median fit, transform and evaluation time per task, method."""
    rows = []
    for protocol in _ordered(r["protocol"] for r in records):
        chosen = _select(records, protocol=protocol, shares_fit=False)
        for dataset in _ordered(r["dataset"] for r in chosen):
            for method in _ordered(r["method"] for r in chosen):
                cell = _select(chosen, dataset=dataset, method=method)
                if cell:
                    rows.append(
                        [protocol, dataset, method, str(len(cell))]
                        + [_median(cell, k) for k in ("fit_s", "transform_s")]
                        + [_median(cell, "evaluate_s")]
                    )
    header = ["protocol", "dataset", "method", "runs", "fit (s)", "transform (s)"]
    return _table([*header, "evaluate (s)"], rows)


def _paired_differences(
    records: Sequence[Record], method: str, baseline: str, score: str
) -> np.ndarray:
    """Per-seed ``method - baseline`` for the seeds both ran with."""
    ours = {r["seed"]: r["scores"][score] for r in _select(records, method=method)}
    theirs = {r["seed"]: r["scores"][score] for r in _select(records, method=baseline)}
    seeds = sorted(set(ours) & set(theirs), key=str)
    return np.array([ours[s] - theirs[s] for s in seeds], dtype=float)


def claim_rows(
    records: Sequence[Record], comparisons: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Paired differences for every (method, baseline) comparison and task."""
    out = []
    for protocol in _ordered(r["protocol"] for r in records):
        scores = [("accuracy", "accuracy", True)] if protocol == "accuracy" else []
        scores = scores or list(UNSEEN_SCORES)
        for dataset in _ordered(
            r["dataset"] for r in _select(records, protocol=protocol)
        ):
            task = _select(records, protocol=protocol, dataset=dataset)
            for method, baseline in comparisons:
                for key, label, up in scores:
                    diff = _paired_differences(task, method, baseline, key)
                    if diff.size:
                        wins = int(((diff > 0) if up else (diff < 0)).sum())
                        ties = int((diff == 0).sum())
                        out.append(
                            dict(
                                protocol=protocol,
                                dataset=dataset,
                                comparison=f"{method} - {baseline}",
                                score=label,
                                higher_is_better=up,
                                mean=float(diff.mean()),
                                std=float(diff.std()),
                                wins=wins,
                                ties=ties,
                                n=int(diff.size),
                            )
                        )
    return out


def claim_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Tabulate :func:`claim_rows`."""
    header = ["protocol", "dataset", "comparison", "score", "difference"]
    return _table(
        [*header, "seeds: first better / tie / worse"],
        (
            [
                r["protocol"],
                r["dataset"],
                r["comparison"],
                r["score"] + ("" if r["higher_is_better"] else " (lower better)"),
                f"{r['mean']:+.4f} +/- {r['std']:.4f}",
                f"{r['wins']} / {r['ties']} / {r['n'] - r['wins'] - r['ties']}",
            ]
            for r in rows
        ),
    )


def _colors(records: Iterable[Record]) -> dict[str, str]:
    """One matplotlib colour per method, the same in every plot."""
    return {
        m: f"C{i % 10}" for i, m in enumerate(_ordered(r["method"] for r in records))
    }


def _grouped_bars(
    ax: Any,
    records: Sequence[Record],
    value: Callable[[Record], float],
    groups: Sequence[tuple[str, Callable[[Record], bool]]],
    colors: dict[str, str],
) -> None:
    """Bars of mean ``value`` per method within each group, std error bars."""
    methods = [m for m in colors if _select(records, method=m)]
    width = 0.8 / max(1, len(methods))
    x = np.arange(len(groups))
    for i, method in enumerate(methods):
        cells = [
            np.array([value(r) for r in _select(records, method=method) if keep(r)])
            for _, keep in groups
        ]
        mean = [c.mean() if c.size else np.nan for c in cells]
        std = [c.std() if c.size else 0.0 for c in cells]
        ax.bar(
            x + i * width,
            mean,
            width,
            yerr=std,
            capsize=2,
            label=method,
            color=colors[method],
        )
    ax.set_xticks(x + width * (len(methods) - 1) / 2, [g for g, _ in groups])


def _dataset_groups(
    records: Sequence[Record],
) -> list[tuple[str, Callable[[Record], bool]]]:
    return [
        (d, lambda r, d=d: r["dataset"] == d)
        for d in _ordered(r["dataset"] for r in records)
    ]


def _save(fig: Any, ax: Any, path: Path) -> None:
    """Put one legend below the plot and write the PNG."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_accuracy(records: Sequence[Record], path: Path) -> None:
    """Plot grouped bars of test accuracy with std error bars."""
    colors = _colors(records)
    chosen = _select(records, protocol="accuracy")
    fig, ax = plt.subplots(figsize=(10, 5))
    _grouped_bars(
        ax, chosen, lambda r: r["scores"]["accuracy"], _dataset_groups(chosen), colors
    )
    ax.set_title("1-NN test accuracy, official split (mean +/- std over seeds)")
    ax.set_ylim(0, 1.05)
    _save(fig, ax, path)


def plot_unseen(records: Sequence[Record], path: Path) -> None:
    """Plot one panel per verification score, grouped bars, std error bars."""
    colors = _colors(records)
    chosen = _select(records, protocol="unseen")
    fig, axes = plt.subplots(1, len(UNSEEN_SCORES), figsize=(15, 5))
    for ax, (key, label, up) in zip(axes, UNSEEN_SCORES, strict=True):
        _grouped_bars(
            ax, chosen, lambda r, k=key: r["scores"][k], _dataset_groups(chosen), colors
        )
        better = "higher" if up else "lower"
        ax.set_title(f"unseen classes: {label} ({better} better)")
    _save(fig, axes[0], path)


def plot_timings(records: Sequence[Record], path: Path) -> None:
    """Plot total time per method and task (log scale, std error bars)."""
    colors = _colors(records)
    chosen = [r for r in records if not r["shares_fit"]]
    tasks = _ordered((r["protocol"], r["dataset"]) for r in chosen)
    groups = [
        (f"{d}\n({p})", lambda r, p=p, d=d: (r["protocol"], r["dataset"]) == (p, d))
        for p, d in tasks
    ]
    fig, ax = plt.subplots(figsize=(12, 5))
    _grouped_bars(
        ax,
        chosen,
        lambda r: r["fit_s"] + r["transform_s"] + r["evaluate_s"],
        groups,
        colors,
    )
    ax.set_yscale("log")
    ax.set_ylabel("fit + transform + evaluate (s)")
    ax.set_title("time per run (mean +/- std over seeds)")
    _save(fig, ax, path)


def plot_claims(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Plot the claims' paired differences, oriented so up = first better."""
    labels = [
        f"{r['dataset']} {r['score']}\n{r['comparison']}".replace(" - ", " vs ")
        for r in rows
    ]
    sign = np.array([1.0 if r["higher_is_better"] else -1.0 for r in rows])
    mean = sign * np.array([r["mean"] for r in rows])
    std = np.array([r["std"] for r in rows])
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(rows)), 6))
    ax.bar(np.arange(len(rows)), mean, yerr=std, capsize=2)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(rows)), labels, rotation=90, fontsize=6)
    ax.set_ylabel("gain of first over second")
    ax.set_title("paired by seed; EER sign flipped so that up is better")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON."""
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n")


def markdown(
    meta: dict[str, Any], records: Sequence[Record], claims: Sequence[dict[str, Any]]
) -> str:
    """Return ``evidence.md``: command, machine, protocol notes and tables."""
    lines = [
        "# Evidence: learned Wasserstein distance against baselines",
        "",
        "Produced by",
        "",
        "```bash",
        meta["command"],
        "```",
        "",
        "Machine: " + meta["machine_line"],
        "",
        f"Total runtime: {meta['total_runtime_s']:.0f} s. Seeds: {meta['seeds']}.",
        "",
        *meta["notes"],
        "",
        "## 1-NN test accuracy, official train/test splits",
        "",
        *accuracy_table(records),
        "",
        "## Verification on classes never seen in training",
        "",
        *unseen_table(records),
        "",
        "## The paper's two claims, paired by seed",
        "",
        "Difference of the first method minus the second (mean +/- std over seeds)",
        "and the number of seeds where the first is better, tied or worse.",
        "",
        *claim_table(claims),
        "",
        "## Time (median over runs)",
        "",
        "`fit`: training (standardisation statistics for raw-quantile W2; nothing",
        "for DTW). `transform`: representing the sequences (both splits, or the",
        "evaluation set; for MiniRocket only the padding). `evaluate`: 1-NN",
        "prediction on the test split (DTW: aeon's classifier, fit + score;",
        "MiniRocket: its score, i.e. the test transform and ridge prediction) or",
        "the square distance matrix of the evaluation set (unseen classes). The",
        "energy-trained model evaluated with W2 shares the fit of `energy-trained`",
        "and is left out.",
        "",
        *timing_table(records),
        "",
    ]
    return "\n".join(lines)
