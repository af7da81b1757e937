"""How often ``input_gating="anova"`` opens a channel without any class effect.

Usage::

    .venv/bin/python benchmarks/gate_null_rate.py [--repeats 200]

Each repeat draws two classes of ten sequences: channel 0 carries a strong
class effect (so that some channel passes and the gates are not all skipped),
channels 1-19 carry none. The rate is the share of those 19 channels, over
all repeats, whose gate is above 0. The nominal level of the test is 5%
(``significance=0.05``); the levels' sums of squares are correlated and the
larger of two tests (values and first differences) is kept, so the real rate
differs from it, and with the kind of noise.
"""

from __future__ import annotations

import argparse

import numpy as np

from sklearn_wdist._input_gates import fit_input_gates

N_NOISE = 19


def _noise(kind: str, rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    steps = rng.normal(size=(n, N_NOISE, length))
    return np.cumsum(steps, axis=-1) if kind == "random walk" else steps


def open_rate(kind: str, length: int, repeats: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], 10)
    opened = 0
    for _ in range(repeats):
        signal = rng.normal(size=(len(y), 1, length)) + 20.0 * y[:, None, None]
        X = np.concatenate([signal, _noise(kind, rng, len(y), length)], axis=1)
        gates = fit_input_gates(list(X), y)
        opened += int(np.count_nonzero(gates[1:] > 0))
    return opened / (repeats * N_NOISE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print("| noise | steps | channels opened (nominal 5%) |")
    print("| --- | --- | --- |")
    for kind, length in [
        ("independent", 2),
        ("independent", 30),
        ("independent", 100),
        ("random walk", 30),
        ("random walk", 100),
    ]:
        rate = open_rate(kind, length, args.repeats)
        print(f"| {kind} | {length} | {rate:.3f} |")


if __name__ == "__main__":
    main()
