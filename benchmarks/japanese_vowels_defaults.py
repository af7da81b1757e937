"""Fit time and test accuracy of the default embedder on JapaneseVowels.

Trains ``WassersteinSequenceEmbedder()`` with default settings on the official
training split for several seeds and reports 1-NN test accuracy on the learned
distance, 1-NN DTW (aeon) on the same split, fit and transform times, and the
fit time for each PyTorch intra-op thread count given. The records go to
``benchmarks/results/japanese_vowels_defaults.json`` and the tables to ``.md``
(``--out`` elsewhere), with the machine's load average before and after.

Usage::

    python benchmarks/japanese_vowels_defaults.py --seeds 0 1 2 --threads 1 2
"""

import argparse
import os
import platform
import statistics
from pathlib import Path

import _common as common
import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_seeds_argument(parser, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=common.RESULTS_DIR)
    args = parser.parse_args()
    common.quiet_warnings()
    load_start = os.getloadavg()[0]
    task = common.official_split_task("JapaneseVowels")

    records = []
    for threads in args.threads:
        method = common.EmbedderMethod("learned", {"n_threads": threads})
        for seed in args.seeds:
            (record,) = common.run_one(method, task, seed)
            records.append({**record, "n_threads": threads})
            print(f"n_threads={threads}" + common.describe(record), flush=True)
    (dtw,) = common.run_one(common.DTWMethod(), task, None)

    rows = []
    for threads in args.threads:
        chosen = common.select(records, n_threads=threads)
        accuracy = np.array([r["scores"]["accuracy"] for r in chosen])
        rows.append(
            [
                str(threads),
                f"{statistics.median(r['fit_s'] for r in chosen):.1f}",
                f"{statistics.median(r['transform_s'] for r in chosen):.2f}",
                f"{accuracy.mean():.4f} +/- {accuracy.std():.4f} (n={len(chosen)})",
            ]
        )
    header = ["n_threads", "median fit (s)", "median transform (s)", "1-NN accuracy"]
    dtw_s = dtw["fit_s"] + dtw["transform_s"] + dtw["evaluate_s"]
    machine = (
        f"{os.cpu_count()} CPU cores ({platform.machine()}, "
        f"{torch.backends.cpu.get_cpu_capability()}), load average "
        f"{load_start:.1f} at start and {os.getloadavg()[0]:.1f} at end; "
        f"Python {platform.python_version()}, PyTorch {torch.__version__}."
    )
    command = (
        "python benchmarks/japanese_vowels_defaults.py --seeds "
        + " ".join(map(str, args.seeds))
        + " --threads "
        + " ".join(map(str, args.threads))
    )
    lines = [
        "# Default settings on JapaneseVowels",
        "",
        f"`{command}`",
        "",
        machine,
        "",
        *common.markdown_table(header, rows),
        "",
        f"1-NN DTW (aeon): accuracy {dtw['scores']['accuracy']:.4f} ({dtw_s:.1f} s)",
        "",
    ]
    common.write_summary(
        args.out,
        "japanese_vowels_defaults",
        {"machine": machine, "records": [*records, dtw]},
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
