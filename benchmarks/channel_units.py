"""Robustness probe: channels measured in other units.

Sensor recordings mix units: an accelerometer in m/s^2 beside a gyroscope in
rad/s, a pressure in pascals beside a voltage in millivolts. Nothing in a
learned distance should depend on which unit each channel happens to be
recorded in. This probe takes the multichannel validation tasks of
``select_defaults.py`` (official training splits only), multiplies the second
half of every task's channels by each ``--units`` factor (the first half stays
as it is) and fits the default embedder on each version.

Run::

    python benchmarks/channel_units.py --out /tmp/units

Results go to ``channel_units.md`` and ``.json`` in ``--out``.
"""

from __future__ import annotations

import argparse

import _common as common
import noise_channels
import numpy as np

SEEN = ("JapaneseVowels", "BasicMotions, running and standing")
UNSEEN = ("JapaneseVowels",)
METHODS = {"default": {}}


def rescaled(X: common.Sequences, unit: float) -> list[np.ndarray]:
    """Multiply the second half of the channels by ``unit``."""
    sequences = [np.asarray(x, dtype=np.float64) for x in X]
    factors = np.ones(sequences[0].shape[0])
    factors[len(factors) // 2 :] = unit
    return [x * factors[:, None] for x in sequences]


def rescaled_tasks(seen, unseen, unit: float) -> list[common.Task]:
    change = None if unit == 1 else lambda X, seed: rescaled(X, unit)
    return noise_channels.changed_tasks(seen, unseen, change)


def summarise(records: list[dict]) -> list[str]:
    """Per task: the default's mean score with the second half in each unit."""
    return noise_channels.condition_tables(
        records, "unit", lambda unit: f"x{unit:g}", digits=4, ordered=False
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_seeds_argument(parser, default=[0, 1, 2])
    common.add_task_arguments(parser, SEEN, UNSEEN)
    parser.add_argument("--units", type=float, nargs="+", default=[1.0, 1e-3, 1e-6])
    args = parser.parse_args(argv)
    methods = [common.EmbedderMethod(n, p) for n, p in METHODS.items()]

    def run_all() -> list[dict]:
        return [
            {**record, "unit": unit}
            for unit in args.units
            for task in rescaled_tasks(args.seen, args.unseen, unit)
            for record in common.run_task(task, methods, args.seeds)
        ]

    records = common.records_or_run(args.merge, run_all)
    title = "Channels in other units (validation data only)"
    common.write_report(args.out, "channel_units", title, records, summarise(records))


if __name__ == "__main__":
    main()
