"""How much of a default fit trains: epochs whose triplet loss is already 0.

With batch-hard mining and a fixed margin, a batch whose hardest positive is
closer than its hardest negative by more than the margin gives no gradient.
On a training set the initial embedding already separates that well, the
encoder does not move at all (round 20: BasicMotions' running and standing).
For the default ``WassersteinSequenceEmbedder(random_state=seed)`` fitted on
the training split of every validation data set (``select_defaults.py``'s
``load_train``: training splits only, JapaneseVowels speakers 1-5), this
reports the first and last epoch's mean training loss and the number of
epochs whose mean loss is 0, for the default order and for ``p=2``.
``--evidence-unseen`` reports, instead, the training classes of the two
unseen-class tasks of ``evidence.py`` (a diagnostic of those fits, not a
choice of defaults).

Run::

    python benchmarks/training_signal.py --seeds 0
    python benchmarks/training_signal.py --seeds 0 1 2 --evidence-unseen

Results go to ``benchmarks/results/training_signal.md`` and ``.json``
(``training_signal_unseen.*`` with ``--evidence-unseen``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _common as common
import evidence
import numpy as np
import select_defaults

from sklearn_wdist import WassersteinSequenceEmbedder


def fit_record(name: str, p: int, seed: int, unseen: bool = False) -> dict:
    if unseen:
        task = evidence.unseen_task(name)
        X, y = task.X_train, task.y_train
        name = f"{name} (evidence unseen-class training)"
    else:
        X, y = select_defaults.load_train(name)
    embedder, seconds = common.timed(
        WassersteinSequenceEmbedder(p=p, random_state=seed).fit, X, y
    )
    losses = [float(row["train_loss"]) for row in embedder.history_]
    return {
        "dataset": name,
        "p": p,
        "seed": seed,
        "n_sequences": len(y),
        "n_classes": len(np.unique(y)),
        "losses": losses,
        "fit_s": seconds,
    }


def summarise(records: list[dict], title: str) -> str:
    header = ["data set", "sequences", "classes", "p", "seed"]
    header += ["first-epoch loss", "last-epoch loss", "epochs with loss 0"]
    rows = [
        [
            r["dataset"],
            str(r["n_sequences"]),
            str(r["n_classes"]),
            str(r["p"]),
            str(r["seed"]),
            f"{r['losses'][0]:.4f}",
            f"{r['losses'][-1]:.4f}",
            f"{sum(loss == 0.0 for loss in r['losses'])} of {len(r['losses'])}",
        ]
        for r in records
    ]
    out = [f"# Training signal of default fits on {title}", ""]
    return "\n".join([*out, *common.markdown_table(header, rows), ""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_seeds_argument(parser, default=[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--evidence-unseen", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    common.quiet_warnings()
    names = (
        list(evidence.UNSEEN_TRAIN_CLASSES)
        if args.evidence_unseen
        else sorted(set(select_defaults.SEEN_DATASETS) | {"PigCVP"})
    )
    records = []
    for name in names:
        for p in args.orders:
            for seed in args.seeds:
                record = fit_record(name, p, seed, args.evidence_unseen)
                records.append(record)
                print(
                    f"{name} p={p} seed={seed}: loss {record['losses'][0]:.4f} -> "
                    f"{record['losses'][-1]:.4f} ({record['fit_s']:.1f} s)",
                    flush=True,
                )
    if args.evidence_unseen:
        stem, title = "training_signal_unseen", "the evidence's unseen-class tasks"
    else:
        stem, title = "training_signal", "the validation training splits"
    summary = summarise(records, title)
    common.write_summary(args.out, stem, {"records": records}, summary)


if __name__ == "__main__":
    main()
