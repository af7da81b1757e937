"""Distance-matrix throughput: pairwise_wasserstein against cdist and a POT loop.

For n x n collections of embeddings shaped like ``transform`` output (K=32
features x M=16 quantiles = 512 columns, float64), times in one run:

- ``pairwise_wasserstein(A, B, p=p)`` and ``pairwise_wasserstein(A, p=p)`` (symmetric);
- ``scipy.spatial.distance.cdist(A, B, metric)`` on the same vectors
  (``"euclidean"`` for ``--p 2``, ``"cityblock"`` for ``--p 1``), the
  practical limit the helper is measured against;
- a Python loop over POT's ``ot.wasserstein_1d`` on the quantile samples, timed
  on a subset of pairs and extrapolated to n x n (a full loop would take hours).

Peak memory is the growth of the process's maximum resident set size during each
call (``resource.getrusage``), run in a fresh subprocess per measurement so that
earlier allocations do not hide it.

Usage::

    python benchmarks/pairwise_throughput.py --sizes 1000 10000 --repeats 3
    python benchmarks/pairwise_throughput.py --sizes 1000 10000 --repeats 3 --p 1
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys

import _common as common
import numpy as np
import ot
from scipy.spatial.distance import cdist

from sklearn_wdist import pairwise_wasserstein

K, M = 32, 16
CDIST_METRICS = {1: "cityblock", 2: "euclidean"}
# What each measured method computes (for the order p), and its row label.
CALLS = {
    "cdist": lambda A, B, p: cdist(A, B, CDIST_METRICS[p]),
    "helper": lambda A, B, p: pairwise_wasserstein(A, B, p=p),
    "helper_symmetric": lambda A, B, p: pairwise_wasserstein(A, p=p),
}
LABELS = {
    "cdist": "scipy cdist",
    "helper": "pairwise_wasserstein(A, B)",
    "helper_symmetric": "pairwise_wasserstein(A)",
    "pot_loop": "loop over ot.wasserstein_1d (extrapolated)",
}


def _embeddings(n: int, seed: int, p: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    quantiles = np.sort(rng.normal(size=(n, K, M)), axis=-1)
    return (quantiles * M ** (-1 / p)).reshape(n, K * M)


def _measure(method: str, n: int, repeats: int, p: int) -> dict:
    """Run in a child process: median seconds and peak RSS growth (MiB)."""
    A, B = _embeddings(n, 0, p), _embeddings(n, 1, p)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = [common.timed(CALLS[method], A, B, p)[1] for _ in range(repeats)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": statistics.median(times), "peak_mib": (peak - base) / 1024}


def _in_child(method: str, n: int, repeats: int, p: int) -> dict:
    """:func:`_measure` in a fresh process, so earlier allocations hide nothing."""
    command = [sys.executable, __file__, "--child", method]
    command += ["--sizes", str(n), "--repeats", str(repeats), "--p", str(p)]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def _pot_loop_seconds(n: int, p: int, n_pairs: int = 2000) -> float:
    """Seconds for a Python loop over ot.wasserstein_1d, extrapolated to n x n."""
    A, B = _embeddings(64, 0, p), _embeddings(64, 1, p)
    qa, qb = A.reshape(-1, K, M) * M ** (1 / p), B.reshape(-1, K, M) * M ** (1 / p)
    pairs = [(i % 64, (i * 7) % 64) for i in range(n_pairs)]

    def loop() -> None:
        for i, j in pairs:
            ot.wasserstein_1d(qa[i].T, qb[j].T, p=p).sum() ** (1 / p)

    return common.timed(loop)[1] / n_pairs * n * n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--p", type=int, choices=[1, 2], default=2)
    parser.add_argument("--child", choices=list(CALLS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        (n,) = args.sizes
        print(json.dumps(_measure(args.child, n, args.repeats, args.p)))
        return

    rows = []
    for n in args.sizes:
        results = {
            method: _in_child(method, n, args.repeats, args.p) for method in CALLS
        }
        results["pot_loop"] = {
            "seconds": _pot_loop_seconds(n, args.p),
            "peak_mib": float("nan"),
        }
        for method, r in results.items():
            ratio = results["cdist"]["seconds"] / r["seconds"]
            rows.append(
                [
                    f"{n} x {n}",
                    f"{LABELS[method]}, p={args.p}",
                    f"{r['seconds']:.3g}",
                    f"{r['peak_mib']:.0f}",
                    f"{ratio:.2f}",
                ]
            )
            print(f"{n} x {n}: {LABELS[method]} measured", file=sys.stderr)
        speedup = results["pot_loop"]["seconds"] / results["helper"]["seconds"]
        rows.append(
            ["", "helper speed-up over the POT loop", f"{speedup:.0f}x", "", ""]
        )
    header = ["n x n", "method", "median time (s)", "peak memory (MiB)"]
    print("\n".join(common.markdown_table([*header, "cdist / method"], rows)))


if __name__ == "__main__":
    main()
