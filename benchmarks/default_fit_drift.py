"""Whether a change moves the default fits of the four evidence sets.

Fits ``WassersteinSequenceEmbedder(random_state=seed)`` on the official
training split of JapaneseVowels, ArrowHead, GunPoint and BasicMotions and
saves its ``transform`` of the test split, one array per set and seed, to an
``.npz`` file. Run it with the package at two commits (a ``git worktree`` of
the older one on ``PYTHONPATH``), then compare the two files: a correction
that should not change what the defaults learn gives identical arrays.

Usage::

    python benchmarks/default_fit_drift.py --out /tmp/new.npz
    PYTHONPATH=/tmp/old python benchmarks/default_fit_drift.py --out /tmp/old.npz
    python benchmarks/default_fit_drift.py --compare /tmp/old.npz /tmp/new.npz
"""

import argparse
from pathlib import Path

import _common as common
import numpy as np
import torch

from sklearn_wdist import WassersteinSequenceEmbedder

DATASETS = ("JapaneseVowels", "ArrowHead", "GunPoint", "BasicMotions")


def embed_all(seeds: list[int]) -> dict[str, np.ndarray]:
    """Test-split embeddings of a default fit, by ``"dataset_seed"``."""
    embeddings = {}
    for name in DATASETS:
        task = common.official_split_task(name)
        for seed in seeds:
            embedder = WassersteinSequenceEmbedder(random_state=seed)
            embedder.fit(task.X_train, task.y_train)
            embeddings[f"{name}_{seed}"] = embedder.transform(task.X_eval)
            print(f"{name} seed {seed}: fitted", flush=True)
    return embeddings


def compare(old: Path, new: Path) -> None:
    """Print, per set and seed, whether the embeddings are identical."""
    before, after = np.load(old), np.load(new)
    for key in sorted(set(before.files) | set(after.files)):
        if key not in before.files or key not in after.files:
            print(f"{key}: only in {new if key in after.files else old}")
            continue
        a, b = before[key], after[key]
        if a.shape != b.shape:
            print(f"{key}: shapes differ, {a.shape} and {b.shape}")
        elif np.array_equal(a, b):
            print(f"{key}: identical")
        else:
            scale = max(float(np.abs(a).max()), np.finfo(np.float64).tiny)
            print(f"{key}: max change {float(np.abs(a - b).max()) / scale:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_seeds_argument(parser, default=[0, 1, 2])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("OLD", "NEW"))
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    if args.out is None:
        parser.error("pass --out FILE.npz to fit, or --compare OLD NEW")
    common.quiet_warnings()
    torch.set_num_threads(1)
    np.savez(args.out, **embed_all(args.seeds))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
