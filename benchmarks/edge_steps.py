"""How much the steps near the ends of a sequence weigh in the learned distance.

A step within half a receptive field of either end of a sequence sees the zero
padding beyond it. This probe fits the default embedder with a fixed number of
dilated blocks on one seen-protocol task of ``select_defaults.py`` (a
stratified half of the official training split), then scores 1-NN accuracy on
the other half with quantiles taken over the encoder's per-step features
(``step_features``) after leaving ``t`` steps out at each end of every
sequence (sequences of ``2 t + 1`` steps or fewer keep all of theirs). The
model is the same throughout; only the steps its quantiles summarise change.
Run::

    python benchmarks/edge_steps.py PLAID --blocks 4

``t = 0`` reproduces the embedder's own distance. The learned rows, the raw
channel rows (``include_input``) and both together are scored apart.
"""

from __future__ import annotations

import argparse
import warnings

import _common as common
import numpy as np
import select_defaults
from scipy.spatial.distance import cdist

from sklearn_wdist import WassersteinSequenceEmbedder


def without_ends(features: list[np.ndarray], trim: int, rows: slice) -> list:
    """Return each sequence's ``rows``, ``trim`` steps left out at each end."""
    out = []
    for h in features:
        h = h[rows]
        if h.shape[1] > 2 * trim + 1:
            h = h[:, trim : h.shape[1] - trim]
        out.append(h)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", choices=select_defaults.SEEN_DATASETS)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    (task,) = select_defaults.build_tasks([args.dataset], [])
    # The defaults of the measurement (before the difference rows): the rows
    # after the learned ones are the raw channels only.
    embedder = WassersteinSequenceEmbedder(
        n_layers=args.blocks,
        include_differences=False,
        input_row_weighting=None,
        **common.BEFORE_ROUND_9,
        random_state=args.seed,
    )
    _, fit_seconds = common.timed(embedder.fit, task.X_train, task.y_train)
    half = (embedder.receptive_field_ - 1) // 2
    print(
        f"{args.dataset}: {args.blocks} blocks, receptive field "
        f"{embedder.receptive_field_} steps, fit {fit_seconds:.0f} s"
    )
    train = embedder.step_features(task.X_train)
    evaluate = embedder.step_features(task.X_eval)
    learned, total = embedder.n_features, train[0].shape[0]
    n_levels = embedder.n_quantiles
    groups = {
        "learned and raw": slice(0, total),
        "learned rows": slice(0, learned),
        "raw-channel rows": slice(learned, total),
    }
    rows = []
    for trim in sorted({0, half // 2, half, 2 * half}):
        cells = [str(trim)]
        for group in groups.values():
            # Quantile rows of the kept steps, as for the raw baseline but not
            # standardised: the features are the encoder's own.
            n_rows = len(range(total)[group])
            zero, one = np.zeros(n_rows), np.ones(n_rows)
            kept_train = without_ends(train, trim, group)
            kept_evaluate = without_ends(evaluate, trim, group)
            A = common.raw_quantile_features(kept_train, zero, one, n_levels)
            B = common.raw_quantile_features(kept_evaluate, zero, one, n_levels)
            accuracy = common.one_nn_accuracy(cdist(B, A), task.y_train, task.y_eval)
            cells.append(f"{accuracy:.3f}")
        rows.append(cells)
    header = ["steps left out at each end", *groups]
    print("\n".join(common.markdown_table(header, rows)))


if __name__ == "__main__":
    main()
