"""The input gates of the noise-probe tasks, before any training.

Usage::

    .venv/bin/python benchmarks/gate_values.py [--noise 2]

For each task of ``noise_channels.py`` (validation data only, with ``--noise``
channels of standard Gaussian noise appended), the training sequences are
whitened as the default embedder whitens them, and the gates of both rules are
printed: round 11's share ``1 - 1/F`` and round 12's ``1 - F_crit / F``
(``F_crit`` the 95% quantile of ``F(K - 1, n - K)``, the rule of
``input_gating="anova"``), each the larger over the values and the slopes,
scaled to a maximum of 1. The last ``--noise`` channels are the noise.
"""

from __future__ import annotations

import argparse

import noise_channels
import numpy as np

from sklearn_wdist import WassersteinSequenceEmbedder
from sklearn_wdist._input_gates import _summaries, anova_f, fit_input_gates
from sklearn_wdist._validation import check_sequences, check_training_labels
from sklearn_wdist._whitening import to_network_input

SEEN = ("GunPoint", "Coffee", "ArrowHead", "BasicMotions, running and standing")
UNSEEN = ("JapaneseVowels", "OSULeaf", "PickupGestureWiimoteZ")


def round_11_gates(sequences, codes):
    """``1 - 1/F``, the larger over values and slopes, scaled to a maximum of 1."""
    groups = [np.flatnonzero(codes == k) for k in np.unique(codes)]
    values, slopes = _summaries(sequences, (np.arange(16) + 0.5) / 16)
    with np.errstate(divide="ignore"):
        shares = np.maximum(
            1 - 1 / anova_f(values, groups), 1 - 1 / anova_f(slopes, groups)
        )
    shares = np.clip(np.nan_to_num(shares, neginf=0.0), 0, 1)
    return shares / shares.max() if shares.max() > 0 else None


def whitened_training_inputs(task):
    """Return the training sequences as the default encoder receives them."""
    sequences = check_sequences(task.X_train, name="X")
    _, codes = check_training_labels(task.y_train, len(sequences))
    embedder = WassersteinSequenceEmbedder(random_state=0)
    index = np.arange(len(sequences))
    mean, matrix = embedder._fit_preprocessing(sequences, codes, index, 0)
    return to_network_input(sequences, mean, matrix, "X"), codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise", type=int, default=2)
    args = parser.parse_args()
    tasks = noise_channels.noisy_tasks(SEEN, UNSEEN, args.noise)
    print("| task | classes | sequences | round 11 gates | round 12 gates |")
    print("| --- | --- | --- | --- | --- |")
    for task in tasks:
        inputs, codes = whitened_training_inputs(task)
        old = round_11_gates(inputs, codes)
        new = fit_input_gates(inputs, codes)

        def show(gates):
            return "none" if gates is None else " ".join(f"{g:.2f}" for g in gates)

        print(
            f"| {task.protocol} {task.dataset} | {len(np.unique(codes))} | "
            f"{len(inputs)} | {show(old)} | {show(new)} |"
        )


if __name__ == "__main__":
    main()
