"""The learned default against MiniRocket over many seeds, and the gap's noise.

The evidence harness runs three seeds; one test sequence is worth 0.0007
(JapaneseVowels) to 0.006 (BasicMotions) of the mean over the four sets'
accuracies, and the same seed
trains to another model on a machine whose kernels round differently. This
script runs only the two methods the goal compares, for more seeds, and
reports per set and on average the mean, its standard error over seeds and
the paired difference (learned minus MiniRocket) with its standard error.
Records and table go to ``benchmarks/results/minirocket_gap.{json,md}``.

Usage::

    python benchmarks/minirocket_gap.py --seeds 0 1 2 3 4 5 6 7 8 9
"""

import argparse
import json
import os
import platform

import _common as common
import numpy as np
import torch

DATASETS = ("JapaneseVowels", "BasicMotions", "GunPoint", "ArrowHead")


def sem(values: np.ndarray) -> float:
    """Return the standard error of the mean over seeds (ddof=1)."""
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_seeds_argument(parser, default=list(range(10)))
    args = parser.parse_args()
    common.quiet_warnings()
    torch.set_num_threads(1)
    records = []
    for name in DATASETS:
        task = common.official_split_task(name)
        methods = [
            common.EmbedderMethod("learned", {}),
            common.MiniRocketMethod(task.pad_length),
        ]
        for seed in args.seeds:
            for method in methods:
                (record,) = common.run_one(method, task, seed)
                records.append(record)
                print(common.describe(record), flush=True)

    def scores(method: str, dataset: str | None = None) -> np.ndarray:
        """Accuracy per seed, on one set or averaged over the four."""
        per_set = [
            [
                r["scores"]["accuracy"]
                for r in records
                if r["method"] == method and r["dataset"] == name
            ]
            for name in (DATASETS if dataset is None else (dataset,))
        ]
        return np.mean(per_set, axis=0)

    rows = []
    for dataset in (*DATASETS, None):
        learned, rocket = scores("learned", dataset), scores("MiniRocket", dataset)
        gap = learned - rocket
        rows.append(
            [
                dataset or "mean of the four",
                f"{learned.mean():.4f} +/- {sem(learned):.4f}",
                f"{rocket.mean():.4f} +/- {sem(rocket):.4f}",
                f"{gap.mean():+.4f} +/- {sem(gap):.4f}",
                f"{int((gap > 0).sum())} / {int((gap == 0).sum())} / "
                f"{int((gap < 0).sum())}",
            ]
        )
    header = [
        "data set",
        "learned (mean +/- s.e.)",
        "MiniRocket (mean +/- s.e.)",
        "learned - MiniRocket, paired",
        "seeds: learned better / tie / worse",
    ]
    machine = (
        f"{os.cpu_count()} CPU cores ({platform.machine()}, "
        f"{torch.backends.cpu.get_cpu_capability()}); Python "
        f"{platform.python_version()}, PyTorch {torch.__version__}."
    )
    command = "python benchmarks/minirocket_gap.py --seeds " + " ".join(
        map(str, args.seeds)
    )
    lines = [
        "# The learned default against MiniRocket, official splits",
        "",
        f"`{command}`",
        "",
        machine,
        "",
        f"Test accuracy over seeds {args.seeds} (standard error ddof=1): 1-NN "
        "on the learned distance; MiniRocket with its own ridge classifier.",
        "",
        *common.markdown_table(header, rows),
    ]
    common.RESULTS_DIR.mkdir(exist_ok=True)
    (common.RESULTS_DIR / "minirocket_gap.md").write_text("\n".join(lines) + "\n")
    (common.RESULTS_DIR / "minirocket_gap.json").write_text(
        json.dumps({"command": command, "machine": machine, "records": records})
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
