"""Robustness probe: real channels made weak, next to strong ones.

The input gates (``input_gating="anova"``) close a channel whose class
differences do not pass an F test at 5%. A channel that carries a little
about the classes, next to channels that carry much, may then be closed.
This probe takes the multichannel validation tasks of ``select_defaults.py``
(official training splits only) and buries the second half of each task's
channels in Gaussian noise of ``--weaken`` times the channel's standard
deviation (over every step of the task's sequences; seeded, independent of the
training seed), so that they still carry their class differences, weakly.
It compares the default with ``input_gating=None`` on the clean and the
weakened tasks, and lists the gates of the default on each (first seed's
split; the gates do not depend on the seed).

Run::

    python benchmarks/weak_channels.py --out /tmp/weak

Results go to ``weak_channels.md`` and ``.json`` in ``--out``.
"""

from __future__ import annotations

import argparse

import _common as common
import gate_values
import noise_channels
import numpy as np

from sklearn_wdist._input_gates import fit_input_gates

SEEN = ("JapaneseVowels", "BasicMotions, running and standing")
UNSEEN = ("JapaneseVowels",)
METHODS = {"default (gates)": {}, "no gates": {"input_gating": None}}


def weakened(X: common.Sequences, factor: float, seed: int) -> list[np.ndarray]:
    """Add N(0, (factor * std_c)^2) noise to the second half of the channels."""
    sequences = [np.asarray(x, dtype=np.float64) for x in X]
    n_channels = sequences[0].shape[0]
    steps = np.concatenate(sequences, axis=1)
    scale = factor * steps.std(axis=1)
    scale[: n_channels // 2] = 0.0
    rng = np.random.default_rng(seed)
    return [x + scale[:, None] * rng.normal(size=x.shape) for x in sequences]


def weakened_tasks(seen, unseen, factor: float) -> list[common.Task]:
    change = None if factor == 0 else lambda X, seed: weakened(X, factor, seed)
    return noise_channels.changed_tasks(seen, unseen, change)


def gate_lines(seen, unseen, factors) -> list[str]:
    """Return the default's gates on every task, clean and weakened."""
    lines = ["### gates of the default (last half: the weakened channels)", ""]
    lines += ["| task | weakened by | gates |", "| --- | --- | --- |"]
    for factor in factors:
        for task in weakened_tasks(seen, unseen, factor):
            inputs, codes = gate_values.whitened_training_inputs(task)
            gates = fit_input_gates(inputs, codes)
            shown = "none" if gates is None else " ".join(f"{g:.2f}" for g in gates)
            lines.append(f"| {task.protocol} {task.dataset} | {factor:g} | {shown} |")
    return [*lines, ""]


def summarise(records: list[dict]) -> list[str]:
    """Per task and method: the score on the clean and the weakened channels."""
    return noise_channels.condition_tables(
        records, "weaken", lambda factor: f"weakened x{factor:g}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_seeds_argument(parser, default=[0, 1])
    common.add_task_arguments(parser, SEEN, UNSEEN)
    parser.add_argument("--weaken", type=float, default=3.0)
    args = parser.parse_args(argv)
    factors = (0.0, args.weaken)
    methods = [common.EmbedderMethod(n, p) for n, p in METHODS.items()]

    def run_all() -> list[dict]:
        return [
            {**record, "weaken": factor}
            for factor in factors
            for task in weakened_tasks(args.seen, args.unseen, factor)
            for record in common.run_task(task, methods, args.seeds)
        ]

    records = common.records_or_run(args.merge, run_all)
    lines = [*gate_lines(args.seen, args.unseen, factors), *summarise(records)]
    title = "Real channels made weak (validation data only)"
    common.write_report(args.out, "weak_channels", title, records, lines)


if __name__ == "__main__":
    main()
