"""Scaling: embedding throughput, 10-NN graphs and 1-NN DTW up to 10^6 sequences.

One command measures, on synthetic sequences (``make_shape_sequences``: 3
channels, 100 to 500 steps, 5 classes with equal mean and variance whose value
distributions differ in shape), for every size ``n`` of ``--sizes``:

1. ``fit`` (once, not per ``n``): ``WassersteinSequenceEmbedder`` trained on a
   small labelled training set (``--train-size``, ``--max-epochs``); its MAP@R
   on held-out sequences, and ``transform`` throughput with 1 and ``--threads``
   PyTorch threads on them.
2. embedding: ``n`` sequences generated and embedded in chunks of ``--chunk``
   (only the embeddings are kept, so memory is the output plus one chunk);
   sequences per second of ``transform`` and the wall time.
3. 10-NN graph: ``WassersteinKNeighborsTransformer(n_neighbors=10,
   algorithm="faiss")`` (``"brute"`` when FAISS is missing) ``fit_transform`` on
   the ``n`` embeddings; recall@10 on a random sample of ``--recall-queries``
   rows against the exact neighbours (``algorithm="brute"``'s ``kneighbors`` of
   the sample against all ``n``), and the same for other ``n_probe`` values
   (``--probe-sweep``, index build measured, search extrapolated from the sample).
4. exact 10-NN graphs: ours (``algorithm="brute"``) and scikit-learn's
   ``KNeighborsTransformer(algorithm="brute", metric=embedder.metric_)``, run on
   all ``n`` up to ``--max-size-exact``; at every size also timed on the sample
   queries against all ``n`` fitted rows and extrapolated linearly in the number
   of queries (the cost of one query is fixed by the ``n`` rows it is compared
   with), so that measured and extrapolated figures can be compared where both
   exist.
5. 1-NN DTW (aeon ``dtw_pairwise_distance``, full window, unequal lengths) of
   ``--dtw-queries`` new sequences against ``--dtw-references`` of the data,
   time per pair extrapolated to k-NN prediction against ``--dtw-target``
   references; against our k-NN prediction with that many references (embedding
   the queries + ``KNeighborsClassifier(metric=embedder.metric_)``).
6. peak memory: the maximum resident set size (``getrusage``) after each stage;
   every size, the fit and the DTW stage run in a fresh subprocess, so that
   peaks do not mix.

Writes ``scale.md``, ``scale.json`` and ``scale.png`` (time and peak memory
against ``n``, log-log) to ``--out``; results so far are written after every
subprocess. Progress goes to stderr. For runs whose largest size is small (smoke
tests), the auxiliary samples (training set, held-out set, DTW subsample) are
capped at fractions of the largest size; the report states the sizes used.

Usage::

    python benchmarks/scale.py
    python benchmarks/scale.py --encoder conv --max-size-exact 100000 --skip-dtw
    python benchmarks/scale.py --sizes 500 1000 --max-epochs 1 --out /tmp/scale_smoke
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pickle
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _common as common
import numpy as np
import sklearn
import torch
from aeon.distances import dtw_pairwise_distance
from sklearn.neighbors import KNeighborsClassifier, KNeighborsTransformer

import sklearn_wdist
from sklearn_wdist import WassersteinKNeighborsTransformer, WassersteinSequenceEmbedder
from sklearn_wdist.datasets import make_shape_sequences

try:
    import faiss
except ImportError:  # The graph stage then uses the exact search.
    faiss = None

N_CHANNELS = 3
LENGTHS = (100, 500)
N_CLASSES = 5
K = 10
MIB_PER_GIB = 1024.0
# Independent random streams (SeedSequence entropy [seed, stream, index]).
STREAM_TRAIN, STREAM_DATA, STREAM_VALID, STREAM_SAMPLE, STREAM_QUERIES = range(5)
# Goals of the scaling issue.
GOAL_A_SIZE, GOAL_A_SPEEDUP, GOAL_A_RECALL = 200_000, 5.0, 0.95
GOAL_B_SIZE, GOAL_B_SECONDS, GOAL_B_MIB = 1_000_000, 30 * 60.0, 8 * 1024.0
GOAL_C_RATIO = 100.0
# What the plot and tables call each timed method.
LABELS = {
    "transform": "embedding (transform)",
    "graph": "10-NN graph, FAISS IVF",
    "exact_ours": "10-NN graph, exact (ours, brute)",
    "exact_sklearn": "10-NN graph, exact (scikit-learn brute)",
}


def log(message: str) -> None:
    """Progress line on stderr."""
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def peak_mib() -> float:
    """Maximum resident set size of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mib() -> float:
    """Return the current resident set size of this process (MiB)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory() -> dict[str, float]:
    return {"peak_mib": round(peak_mib(), 1), "rss_mib": round(rss_mib(), 1)}


# --------------------------------------------------------------------------- #
# Data
# --------------------------------------------------------------------------- #
def chunk_seed(seed: int, stream: int, index: int) -> int:
    """Return a 32-bit seed for chunk ``index`` of ``stream``."""
    return int(np.random.SeedSequence([seed, stream, index]).generate_state(1)[0])


def make_chunk(
    m: int, seed: int, stream: int, index: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """``m`` shuffled sequences (float32, (3, T_i)) of all classes, and labels."""
    rng = np.random.RandomState(chunk_seed(seed, stream, index))
    per_class = -(-m // N_CLASSES)
    X, y = make_shape_sequences(
        per_class, N_CLASSES, N_CHANNELS, LENGTHS, random_state=rng
    )
    order = rng.permutation(len(X))[:m]
    return [X[i] for i in order], y[order]


def data_chunks(
    n: int, chunk: int, seed: int
) -> Iterator[tuple[int, list[np.ndarray], np.ndarray, float]]:
    """``(start, X, y, generate_s)`` for the ``n`` sequences of the data stream."""
    for index, start in enumerate(range(0, n, chunk)):
        (X, y), seconds = common.timed(
            make_chunk, min(chunk, n - start), seed, STREAM_DATA, index
        )
        yield start, X, y, seconds


@functools.cache
def class_names() -> np.ndarray:
    """Return the sorted class labels of the data."""
    return np.unique(make_shape_sequences(1, N_CLASSES, 1, 1, random_state=0)[1])


def class_codes(y: np.ndarray) -> np.ndarray:
    """Labels as small integer codes (the same for every chunk)."""
    return np.searchsorted(class_names(), y).astype(np.int8)


def make_embedder(args: argparse.Namespace) -> WassersteinSequenceEmbedder:
    params: dict[str, Any] = {
        # A fixed training length: the scale runs time embedding and search,
        # and their figures were measured before early stopping was a default.
        "max_epochs": args.max_epochs,
        "early_stopping": False,
        "input_gating": None,
        "n_threads": args.fit_threads,
        "random_state": args.seed,
    }
    if args.p is not None:
        params["p"] = args.p
    if args.encoder == "conv":
        params.update(architecture="conv", n_layers=2, kernel_size=5)
    return WassersteinSequenceEmbedder(**params)


def auxiliary_sizes(args: argparse.Namespace) -> dict[str, int]:
    """Sample sizes of the fit and DTW stages, capped for small runs."""
    largest = max(args.sizes)
    return {
        "train": min(args.train_size, max(50, largest)),
        "valid": min(args.valid_size, max(50, largest // 2)),
        "dtw_references": min(args.dtw_references, max(10, largest // 5)),
        "dtw_queries": min(args.dtw_queries, max(5, largest // 50)),
    }


def reference_size(args: argparse.Namespace) -> int:
    """Size whose embeddings serve as the k-NN references of the DTW stage."""
    return min((n for n in args.sizes if n >= args.dtw_target), default=max(args.sizes))


# --------------------------------------------------------------------------- #
# Neighbours and recall
# --------------------------------------------------------------------------- #
def without_self(indices: np.ndarray, selves: np.ndarray) -> np.ndarray:
    """Keep the ``K`` nearest of ``K + 1`` sorted neighbours, leaving out the query."""
    keep = indices != selves[:, None]
    # A query missing from its own neighbours (approximate search) loses the last.
    keep[np.all(keep, axis=1), -1] = False
    return indices[keep].reshape(len(indices), -1)[:, :K]


def graph_rows(graph: Any, rows: np.ndarray) -> np.ndarray:
    """Return the ``K`` nearest neighbours of ``rows`` in a graph, leaving out each row.

    Sorted by distance, then index; ``-1`` pads a row with fewer neighbours.
    """
    sub = graph[rows]
    out = np.full((len(rows), K), -1, dtype=np.intp)
    for r, row in enumerate(rows):
        lo, hi = sub.indptr[r], sub.indptr[r + 1]
        indices = sub.indices[lo:hi][np.lexsort((sub.indices[lo:hi], sub.data[lo:hi]))]
        indices = indices[indices != row][:K]
        out[r, : len(indices)] = indices
    return out


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean fraction of the exact ``K`` neighbours found."""
    return float((found[:, :, None] == exact[:, None, :]).any(axis=2).mean())


def class_agreement(neighbours: np.ndarray, labels: np.ndarray, rows) -> float:
    """Fraction of neighbours of the same class as their query."""
    return float((labels[neighbours] == labels[rows][:, None]).mean())


# --------------------------------------------------------------------------- #
# Children: one fresh process per stage group
# --------------------------------------------------------------------------- #
def child_fit(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    sizes = auxiliary_sizes(args)
    X, y = make_chunk(sizes["train"], args.seed, STREAM_TRAIN, 0)
    log(f"fit: {len(X)} training sequences, {args.max_epochs} epochs")
    embedder, fit_s = common.timed(make_embedder(args).fit, X, y)
    epochs = [row["dur"] for row in embedder.history_]
    with open(work / "embedder.pkl", "wb") as handle:
        pickle.dump(embedder, handle)
    result: dict[str, Any] = {
        "train_size": len(X),
        "fit_s": fit_s,
        "epochs": len(epochs),
        "median_epoch_s": statistics.median(epochs) if epochs else None,
        "fit_threads": args.fit_threads,
        "architecture": embedder.module_.encoder.__class__.__name__,
        "receptive_field": embedder.receptive_field_,
        "n_embedding_features": embedder.n_embedding_features_,
        "embedding_dim": embedder.n_embedding_features_ * embedder.n_quantiles,
        "metric": embedder.metric_,
        **memory(),
    }
    del X, y
    X_valid, y_valid = make_chunk(sizes["valid"], args.seed, STREAM_VALID, 0)
    log(f"fit: MAP@R and transform threads on {len(X_valid)} held-out sequences")
    result["valid_size"] = len(X_valid)
    result["valid_map_at_r"] = float(embedder.score(X_valid, y_valid))
    throughput = {}
    for threads in sorted({1, args.threads}):
        embedder.set_params(n_threads=threads)
        _, seconds = common.timed(embedder.transform, X_valid)
        throughput[str(threads)] = len(X_valid) / seconds
    result["transform_seq_per_s_by_threads"] = throughput
    return result


def child_size(args: argparse.Namespace, work: Path, n: int) -> dict[str, Any]:
    with open(work / "embedder.pkl", "rb") as handle:
        embedder = pickle.load(handle)
    embedder.set_params(n_threads=args.threads)
    result: dict[str, Any] = {"n": n, "load_average_start": os.getloadavg()}
    stages: list[dict[str, Any]] = []
    result["stages"] = stages
    result["baseline"] = memory()

    # Embedding, chunk by chunk.
    E = labels = None
    generate_s = transform_s = 0.0
    start_wall = last_log = time.perf_counter()
    for start, X, y, seconds in data_chunks(n, args.chunk, args.seed):
        generate_s += seconds
        chunk_embeddings, seconds = common.timed(embedder.transform, X)
        transform_s += seconds
        if E is None:
            E = np.empty((n, chunk_embeddings.shape[1]), dtype=np.float32)
            labels = np.empty(n, dtype=np.int8)
        stop = start + len(X)
        E[start:stop], labels[start:stop] = chunk_embeddings, class_codes(y)
        del X, y, chunk_embeddings
        now = time.perf_counter()
        if now - last_log > 15 or stop == n:
            last_log = now
            rate = stop / transform_s
            eta = (n - stop) * (transform_s + generate_s) / stop
            log(
                f"n={n}: embedded {stop}/{n} ({rate:.0f} seq/s in transform, "
                f"generating {generate_s:.0f} s so far, ETA {eta:.0f} s)"
            )
    stages.append(
        {
            "stage": "transform",
            "seconds": transform_s,
            "generate_s": generate_s,
            "wall_s": time.perf_counter() - start_wall,
            "seq_per_s": n / transform_s,
            "extrapolated": False,
            **memory(),
        }
    )
    n_refs = min(n, args.dtw_target)
    np.save(work / f"refs_{n}.npy", E[:n_refs])
    np.save(work / f"refs_labels_{n}.npy", labels[:n_refs])

    rng = np.random.default_rng([args.seed, STREAM_SAMPLE, n])
    sample = np.sort(rng.choice(n, size=min(args.recall_queries, n), replace=False))
    queries = E[sample]
    result["recall_queries"] = len(sample)
    share = n / len(sample)
    # Neighbours of the sample found by each search; recall is filled in once
    # the exact neighbours are known (after the graph, so that the memory peak
    # of embedding + graph is not raised by the exact searches' copies).
    found: dict[int, np.ndarray] = {}

    # The approximate graph.
    if n > args.max_size_graph:
        log(f"n={n}: FAISS graph skipped (--max-size-graph)")
    else:
        algorithm = "faiss" if faiss is not None else "brute"
        log(f"n={n}: 10-NN graph, algorithm={algorithm!r}")
        model = WassersteinKNeighborsTransformer(
            n_neighbors=K,
            algorithm=algorithm,
            p=embedder.p_,
            n_jobs=args.knn_jobs,
            n_probe=args.n_probe,
            random_state=args.seed,
        )
        _, fit_s = common.timed(model.fit, E)
        graph, search_s = common.timed(model.transform, E)
        stages.append(
            {
                "stage": "graph",
                "algorithm": algorithm,
                "seconds": fit_s + search_s,
                "index_s": fit_s,
                "search_s": search_s,
                "n_lists": model.n_lists_,
                "n_training_samples": model.n_training_samples_,
                "n_probe": args.n_probe if algorithm == "faiss" else None,
                "extrapolated": False,
                **memory(),
            }
        )
        found[len(stages) - 1] = graph_rows(graph, sample)
        del graph
        # Goal (b) covers embedding + graph.
        result["peak_mib_embed_graph"] = peak_mib()
        sweep = []
        for n_probe in args.probe_sweep if algorithm == "faiss" else []:
            model.set_params(n_probe=n_probe)
            ind, seconds = common.timed(
                lambda: model.kneighbors(queries, K + 1, return_distance=False)
            )
            sweep.append({"n_probe": n_probe, "seconds": fit_s + seconds * share})
            sweep[-1]["found"] = without_self(ind, sample)
        result["probe_sweep"] = sweep
        del model

    # Exact neighbours of the sample (the reference of recall), timed for the
    # extrapolation of our exact graph; the same with scikit-learn.
    log(f"n={n}: exact neighbours of {len(sample)} sample queries")
    basis = f"{len(sample)} queries against all {n:,}, x {share:.4g}"
    searches = {
        "exact_ours": WassersteinKNeighborsTransformer(
            n_neighbors=K, algorithm="brute", p=embedder.p_, n_jobs=args.knn_jobs
        ),
        "exact_sklearn": KNeighborsTransformer(
            n_neighbors=K, algorithm="brute", metric=embedder.metric_
        ),
    }
    for stage, model in searches.items():
        if stage == "exact_sklearn" and n > args.max_size_exact_sample:
            log(f"n={n}: scikit-learn sample timing skipped (--max-size-exact-sample)")
            break
        _, fit_s = common.timed(model.fit, E)
        ind, query_s = common.timed(
            lambda model=model: model.kneighbors(queries, K + 1, return_distance=False)
        )
        if stage == "exact_ours":
            exact = without_self(ind, sample)
            result["class_agreement_exact"] = class_agreement(exact, labels, sample)
        if stage == "exact_ours" and n > args.max_size_exact_sample:
            continue
        stages.append(
            {
                "stage": stage,
                "seconds": fit_s + query_s * share,
                "extrapolated": True,
                "basis": basis,
                **memory(),
            }
        )
        found[len(stages) - 1] = without_self(ind, sample)
    del searches, model

    # Exact graphs on all n.
    if n > args.max_size_exact:
        log(f"n={n}: full exact graphs skipped (--max-size-exact)")
    else:
        for stage in ("exact_ours", "exact_sklearn"):
            log(f"n={n}: {LABELS[stage]} on all {n:,}")
            if stage == "exact_ours":
                model = WassersteinKNeighborsTransformer(
                    n_neighbors=K,
                    algorithm="brute",
                    p=embedder.p_,
                    n_jobs=args.knn_jobs,
                )
            else:
                model = KNeighborsTransformer(
                    n_neighbors=K, algorithm="brute", metric=embedder.metric_
                )
            graph, seconds = common.timed(model.fit_transform, E)
            stages.append(
                {
                    "stage": stage,
                    "seconds": seconds,
                    "extrapolated": False,
                    "basis": "measured on all n",
                    **memory(),
                }
            )
            found[len(stages) - 1] = graph_rows(graph, sample)
            del graph, model

    for index, neighbours in found.items():
        stages[index]["recall"] = recall(neighbours, exact)
        if stages[index]["stage"] == "graph":
            agreement = class_agreement(neighbours, labels, sample)
            stages[index]["class_agreement"] = agreement
    for entry in result.get("probe_sweep", []):
        entry["recall"] = recall(entry.pop("found"), exact)
    result["load_average_end"] = os.getloadavg()
    result.update(memory())
    return result


def child_dtw(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    common.quiet_warnings()
    sizes = auxiliary_sizes(args)
    with open(work / "embedder.pkl", "rb") as handle:
        embedder = pickle.load(handle)
    embedder.set_params(n_threads=args.threads)
    ref_n = reference_size(args)
    E_refs = np.load(work / f"refs_{ref_n}.npy")
    y_refs = np.load(work / f"refs_labels_{ref_n}.npy")
    # The DTW references are the first sequences of that data: chunk 0 again.
    first, first_y = make_chunk(min(args.chunk, ref_n), args.seed, STREAM_DATA, 0)
    n_dtw = min(sizes["dtw_references"], len(first))
    refs, refs_y = first[:n_dtw], class_codes(first_y[:n_dtw])
    if not np.array_equal(refs_y, y_refs[:n_dtw]):
        raise RuntimeError("DTW references do not match the saved embeddings.")
    X_q, y_q = make_chunk(sizes["dtw_queries"], args.seed, STREAM_QUERIES, 0)
    y_q = class_codes(y_q)
    result: dict[str, Any] = {
        "queries": len(X_q),
        "dtw_references": n_dtw,
        "knn_references": len(E_refs),
        "target_references": args.dtw_target,
        "dtw_n_jobs": args.threads,
    }

    dtw_pairwise_distance(X_q[:2], refs[:2], n_jobs=args.threads)  # numba compile
    log(f"dtw: {len(X_q)} x {n_dtw} DTW distances")
    D, dtw_s = common.timed(
        lambda: dtw_pairwise_distance(X_q, refs, n_jobs=args.threads)
    )
    pair_s = dtw_s / (len(X_q) * n_dtw)
    result.update(
        dtw_s=dtw_s,
        dtw_pair_s=pair_s,
        dtw_query_s=pair_s * args.dtw_target,
        dtw_accuracy=float((refs_y[D.argmin(axis=1)] == y_q).mean()),
    )

    # With fewer embedded references than the target (small runs), the search
    # is timed against them repeated to the target: a brute-force search costs
    # the same whatever the values. Accuracy uses the real references only.
    tiled = len(E_refs) < args.dtw_target
    E_search = np.resize(E_refs, (args.dtw_target, E_refs.shape[1]))
    y_search = np.resize(y_refs, args.dtw_target)
    log(f"dtw: our k-NN prediction against {len(E_search)} references")
    knn = KNeighborsClassifier(n_neighbors=1, metric=embedder.metric_)
    knn.fit(E_search, y_search)
    embed_times, search_times = [], []
    for _ in range(args.repeats):
        E_q, seconds = common.timed(embedder.transform, X_q)
        embed_times.append(seconds)
        _, seconds = common.timed(knn.predict, E_q)
        search_times.append(seconds)
    embed_s, search_s = statistics.median(embed_times), statistics.median(search_times)
    accuracy = {}
    for name, m in (("all", len(E_refs)), ("dtw", n_dtw)):
        real = KNeighborsClassifier(n_neighbors=1, metric=embedder.metric_)
        accuracy[name] = float(real.fit(E_refs[:m], y_refs[:m]).score(E_q, y_q))
    result.update(
        ours_embed_s=embed_s,
        ours_search_s=search_s,
        ours_search_tiled=tiled,
        ours_query_s=(embed_s + search_s) / len(X_q),
        ours_accuracy=accuracy["all"],
        ours_accuracy_dtw_references=accuracy["dtw"],
    )
    result["ratio"] = result["dtw_query_s"] / result["ours_query_s"]
    result.update(memory())
    return result


# --------------------------------------------------------------------------- #
# The report
# --------------------------------------------------------------------------- #
def machine_facts() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        mem_kib = int(info.readline().split()[1])
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "faiss": getattr(faiss, "__version__", None),
        "sklearn_wdist": sklearn_wdist.__version__,
    }


def _fmt(seconds: float | None, extrapolated: bool = False) -> str:
    if seconds is None:
        return "n/a"
    text = f"{seconds:.3g}" if seconds < 100 else f"{seconds:,.0f}"
    return text + (" (extrap.)" if extrapolated else "")


def _stage(result: dict[str, Any], name: str) -> dict[str, Any] | None:
    """Return the measured record of a stage, else the extrapolated one."""
    records = [s for s in result.get("stages", []) if s["stage"] == name]
    measured = [s for s in records if not s["extrapolated"]]
    return (measured or records or [None])[0]


def _loads(values: Any) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def goals(payload: dict[str, Any]) -> list[str]:
    by_n = {r["n"]: r for r in payload["sizes"] if "n" in r}
    lines = []

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    a = by_n.get(GOAL_A_SIZE)
    graph, sk = (_stage(a, "graph"), _stage(a, "exact_sklearn")) if a else (None,) * 2
    if graph and sk:
        speedup = sk["seconds"] / graph["seconds"]
        ok = speedup >= GOAL_A_SPEEDUP and graph["recall"] >= GOAL_A_RECALL
        lines.append(
            f"- (a) 10-NN graph of {GOAL_A_SIZE:,} embeddings at least "
            f"{GOAL_A_SPEEDUP:g}x faster than scikit-learn's exact brute force with "
            f"recall@10 >= {GOAL_A_RECALL}: {verdict(ok)}. {graph['algorithm']} "
            f"{_fmt(graph['seconds'])} s against "
            f"{_fmt(sk['seconds'], sk['extrapolated'])} s "
            f"({speedup:.1f}x), recall@10 {graph['recall']:.3f}."
        )
    else:
        lines.append(
            f"- (a): not measured ({GOAL_A_SIZE:,} not in --sizes or skipped)."
        )

    b = by_n.get(GOAL_B_SIZE)
    embed, graph = (_stage(b, "transform"), _stage(b, "graph")) if b else (None,) * 2
    if embed and graph:
        total = embed["seconds"] + graph["seconds"]
        wall = embed["wall_s"] + graph["seconds"]
        peak = b["peak_mib_embed_graph"]
        ok = total < GOAL_B_SECONDS and peak < GOAL_B_MIB
        lines.append(
            f"- (b) {GOAL_B_SIZE:,} sequences embedded + 10-NN graph in < 30 min and "
            f"< 8 GiB: {verdict(ok)}. transform {embed['seconds'] / 60:.1f} min + "
            f"graph {graph['seconds'] / 60:.1f} min = {total / 60:.1f} min "
            f"({wall / 60:.1f} min with generating the synthetic data); peak RSS "
            f"{peak / MIB_PER_GIB:.2f} GiB."
        )
    else:
        lines.append(
            f"- (b): not measured ({GOAL_B_SIZE:,} not in --sizes or skipped)."
        )

    dtw = payload.get("dtw")
    if dtw and "ratio" in dtw:
        lines.append(
            f"- (c) k-NN prediction at least {GOAL_C_RATIO:g}x faster than 1-NN DTW "
            f"at {dtw['target_references']:,} references: "
            f"{verdict(dtw['ratio'] >= GOAL_C_RATIO)}. {dtw['ratio']:,.0f}x "
            f"({dtw['ours_query_s'] * 1e3:.3g} ms against "
            f"{dtw['dtw_query_s'] * 1e3:,.0f} ms per query, DTW extrapolated)."
        )
    else:
        lines.append("- (c): not measured (--skip-dtw or failed).")
    return lines


def markdown(payload: dict[str, Any]) -> str:
    meta, fit, dtw = payload["meta"], payload.get("fit") or {}, payload.get("dtw")
    facts = meta["machine"]
    load_end = meta.get("load_average_end")
    lines = [
        "# Scaling: embedding, 10-NN graphs and 1-NN DTW",
        "",
        "Produced by",
        "",
        "```bash",
        meta["command"],
        "```",
        "",
        f"Machine: {facts['cpu_count']} CPU cores ({facts['usable_cores']} usable, "
        f"{facts['cpu']}), {facts['memory_gib']} GiB RAM, no GPU; load average "
        f"(1/5/15 min) at start {_loads(meta['load_average_start'])}, at end "
        + (_loads(load_end) if load_end else "(run not finished)")
        + f". Python {facts['python']}, PyTorch {facts['torch']}, NumPy "
        f"{facts['numpy']}, scikit-learn {facts['sklearn']}, FAISS {facts['faiss']}, "
        f"sklearn-wdist {facts['sklearn_wdist']}. Total runtime "
        f"{meta.get('total_runtime_s', float('nan')):.0f} s.",
        "",
        f"Data: `make_shape_sequences`, {N_CHANNELS} channels, {LENGTHS[0]}-"
        f"{LENGTHS[1]} steps (uniform), {N_CLASSES} classes with mean 0 and "
        "variance 1 whose value distributions differ in shape; float32, generated "
        f"in chunks of {meta['chunk']:,} (seed {meta['seed']}) and embedded chunk "
        "by chunk, keeping only the embeddings. Generating the data is timed "
        "separately and is not part of the throughput.",
        "",
        f"Embedder: `{meta['embedder']}` encoder ({fit.get('architecture', '?')}, "
        f"receptive field {fit.get('receptive_field', '?')}), "
        f"{fit.get('embedding_dim', '?')} embedding dimensions "
        f"({fit.get('n_embedding_features', '?')} features x 16 quantiles), "
        f"`transform` with n_threads={meta['threads']}, `fit` with "
        f"n_threads={meta['fit_threads']}. k-NN searches: `n_jobs="
        f"{meta['knn_jobs']}` (FAISS then uses all cores, the exact search "
        "BLAS threads); scikit-learn's brute force uses its own OpenMP threads.",
        "",
        "## Fit (once)",
        "",
    ]
    if fit.get("error"):
        lines += [f"Failed: `{fit['error']}`", ""]
    else:
        by_threads = fit.get("transform_seq_per_s_by_threads", {})
        lines += common.markdown_table(
            [
                "training sequences",
                "epochs",
                "fit (s)",
                "median epoch (s)",
                "held-out MAP@R",
                "transform seq/s by n_threads (held-out set)",
                "peak RSS (MiB)",
            ],
            [
                [
                    f"{fit['train_size']:,}",
                    str(fit["epochs"]),
                    _fmt(fit["fit_s"]),
                    _fmt(fit["median_epoch_s"]),
                    f"{fit['valid_map_at_r']:.3f} ({fit['valid_size']:,} sequences)",
                    ", ".join(f"{t}: {v:.0f}" for t, v in by_threads.items()),
                    f"{fit['peak_mib']:.0f}",
                ]
            ],
        )
        lines.append("")

    lines += ["## Per size", ""]
    rows = []
    for r in payload["sizes"]:
        if "error" in r:
            rows.append([f"{r['n_requested']:,}", f"failed: {r['error']}"] + [""] * 9)
            continue
        embed, graph = _stage(r, "transform"), _stage(r, "graph")
        ours, sk = _stage(r, "exact_ours"), _stage(r, "exact_sklearn")
        rows.append(
            [
                f"{r['n']:,}",
                _fmt(embed["generate_s"]),
                _fmt(embed["seconds"]),
                f"{embed['seq_per_s']:,.0f}",
                _fmt(graph["seconds"]) if graph else "skipped",
                f"{graph['recall']:.3f}" if graph else "",
                _fmt(ours["seconds"], ours["extrapolated"]) if ours else "skipped",
                _fmt(sk["seconds"], sk["extrapolated"]) if sk else "skipped",
                f"{sk['seconds'] / graph['seconds']:.1f}" if sk and graph else "",
                f"{r['peak_mib_embed_graph']:,.0f}" if graph else "",
                f"{r['peak_mib']:,.0f}",
            ]
        )
    lines += common.markdown_table(
        [
            "n",
            "generate (s)",
            "transform (s)",
            "transform seq/s",
            "10-NN graph (s)",
            "recall@10",
            "exact, ours (s)",
            "exact, scikit-learn (s)",
            "scikit-learn / graph",
            "peak RSS, embed + graph (MiB)",
            "peak RSS, all stages (MiB)",
        ],
        rows,
    )
    lines += [
        "",
        "`10-NN graph`: `WassersteinKNeighborsTransformer(n_neighbors=10, "
        f'algorithm="faiss", n_probe={meta["n_probe"]})` `fit_transform` (index '
        'build + search of all n; `algorithm="brute"` if FAISS is missing). '
        "recall@10: on a random sample of queries (below), against the exact "
        "neighbours. `(extrap.)`: the exact searches timed on the sample queries "
        "against all n fitted rows, times n / (number of sample queries), plus the "
        "fit; all other figures are measured on all n. Peak RSS: maximum resident "
        "set size of the process of that size (fresh subprocess), including "
        "Python, PyTorch and the loaded embedder.",
        "",
        "### Detail: every timed search",
        "",
    ]
    rows = []
    for r in payload["sizes"]:
        for s in r.get("stages", []):
            if s["stage"] == "transform":
                continue
            label = LABELS[s["stage"]]
            if s["stage"] == "graph":
                label = f"10-NN graph, {s['algorithm']}"
                if s.get("n_lists"):
                    label += f" (IVF, {s['n_lists']} lists"
                    if s.get("n_training_samples"):
                        label += f" trained on {s['n_training_samples']:,} samples"
                    label += f", n_probe {s['n_probe']}"
                    if s.get("index_s") is not None:
                        label += f"; index build {_fmt(s['index_s'])} s"
                    label += ")"
            rows.append(
                [
                    f"{r['n']:,}",
                    label,
                    _fmt(s["seconds"]),
                    s.get("basis", "measured on all n"),
                    f"{s['recall']:.4f}",
                    f"{s['peak_mib']:,.0f}",
                ]
            )
    lines += common.markdown_table(
        ["n", "method", "time (s)", "how", "recall@10", "peak RSS so far (MiB)"], rows
    )
    lines += [
        "",
        "Recall of the exact searches is their agreement with our exact "
        "search (ties and float32 rounding may swap a neighbour). Fraction of "
        "the exact 10 neighbours of the same class as their query: "
        + ", ".join(
            f"{r['class_agreement_exact']:.3f} (n={r['n']:,})"
            for r in payload["sizes"]
            if "class_agreement_exact" in r
        )
        + ". Load average (1 min) at the start and end of each size: "
        + ", ".join(
            f"{r['load_average_start'][0]:.2f} / {r['load_average_end'][0]:.2f} "
            f"(n={r['n']:,})"
            for r in payload["sizes"]
            if "load_average_end" in r
        )
        + ".",
        "",
    ]
    sweep_rows = [
        [
            f"{r['n']:,}",
            str(s["n_probe"]),
            f"{s['recall']:.4f}",
            _fmt(s["seconds"], True),
        ]
        for r in payload["sizes"]
        for s in r.get("probe_sweep", [])
    ]
    if sweep_rows:
        lines += [
            "### FAISS n_probe: recall against time",
            "",
            "The same index, searched with other `n_probe` values: index build "
            "measured, search of all n extrapolated from the sample queries.",
            "",
            *common.markdown_table(
                ["n", "n_probe", "recall@10", "graph time (s)"], sweep_rows
            ),
            "",
        ]

    lines += ["## k-NN prediction against 1-NN DTW", ""]
    if dtw is None:
        lines += ["Skipped (`--skip-dtw`).", ""]
    elif "error" in dtw:
        lines += [f"Failed: `{dtw['error']}`", ""]
    else:
        tiled = (
            f" (the {dtw['knn_references']:,} embedded references repeated to "
            f"{dtw['target_references']:,} rows)"
            if dtw["ours_search_tiled"]
            else ""
        )
        lines += common.markdown_table(
            [
                "method",
                f"time per query at {dtw['target_references']:,} references (ms)",
                "how",
                f"1-NN accuracy, {dtw['dtw_references']:,} references",
            ],
            [
                [
                    "1-NN DTW (aeon, full window)",
                    f"{dtw['dtw_query_s'] * 1e3:,.0f}",
                    f"{dtw['queries']} x {dtw['dtw_references']:,} distances in "
                    f"{dtw['dtw_s']:.1f} s ({dtw['dtw_pair_s'] * 1e3:.3g} ms per "
                    f"pair, n_jobs={dtw['dtw_n_jobs']}), x "
                    f"{dtw['target_references']:,} per query (extrapolated)",
                    f"{dtw['dtw_accuracy']:.3f}",
                ],
                [
                    "ours: embed queries + 1-NN on embeddings",
                    f"{dtw['ours_query_s'] * 1e3:.3g}",
                    f"median of {meta['repeats']}: embedding {dtw['queries']} "
                    f"queries {dtw['ours_embed_s']:.2f} s + search against "
                    f"{dtw['target_references']:,} references "
                    f"{dtw['ours_search_s'] * 1e3:.1f} ms{tiled}",
                    f"{dtw['ours_accuracy_dtw_references']:.3f} "
                    f"({dtw['ours_accuracy']:.3f} with {dtw['knn_references']:,})",
                ],
            ],
        )
        lines += [
            "",
            f"Speed-up: **{dtw['ratio']:,.0f}x** per query. The embedder's fit and "
            "the embedding of the references are one-off costs (see above), not "
            "part of a prediction; DTW needs neither. Both sides predict the "
            f"{dtw['queries']} queries as one batch; times per query are the batch "
            "time divided by the number of queries. The classes differ only in "
            "their value distributions, which DTW does not model: the accuracy "
            "column is context for this data, not a general comparison.",
            "",
        ]

    lines += ["## Goals", "", *goals(payload), ""]
    lines += [
        "## What was extrapolated",
        "",
        "- Exact searches marked `(extrap.)`: from the sample queries against "
        "all n fitted rows (linear in the number of queries).",
        "- FAISS `n_probe` sweep: search time from the sample queries.",
        "- 1-NN DTW: from the time per pair on the subsample to "
        f"{meta['dtw_target']:,} references per query.",
    ]
    if dtw and "error" not in dtw and dtw["ours_search_tiled"]:
        lines.append(
            f"- Our k-NN search: timed against the {dtw['knn_references']:,} "
            f"embedded references repeated to {dtw['target_references']:,} rows "
            "(a brute-force search costs the same whatever the values)."
        )
    lines += [
        "",
        f"Sample sizes: {meta['auxiliary_sizes']} (capped at fractions of the "
        f"largest size for small runs); {meta['recall_queries']:,} recall queries "
        "per size (fewer if n is smaller).",
        "",
    ]
    return "\n".join(lines)


def plot(payload: dict[str, Any], path: Path) -> None:
    plt = common.plt
    fig, (ax_time, ax_memory) = plt.subplots(1, 2, figsize=(12, 5))
    results = [r for r in payload["sizes"] if "stages" in r]
    for i, stage in enumerate(LABELS):
        points = [(r["n"], _stage(r, stage)) for r in results]
        points = [(n, s) for n, s in points if s is not None]
        if not points:
            continue
        n = np.array([p[0] for p in points])
        seconds = np.array([p[1]["seconds"] for p in points])
        extrapolated = np.array([p[1]["extrapolated"] for p in points])
        ax_time.plot(n, seconds, "-", color=f"C{i}", label=LABELS[stage])
        ax_time.plot(n[~extrapolated], seconds[~extrapolated], "o", color=f"C{i}")
        ax_time.plot(
            n[extrapolated], seconds[extrapolated], "o", mfc="none", color=f"C{i}"
        )
    ax_time.axhline(
        GOAL_B_SECONDS, color="grey", linestyle=":", label="30 min (goal b)"
    )
    ax_time.set(
        xscale="log",
        yscale="log",
        xlabel="n (sequences)",
        ylabel="seconds",
        title="time (open markers: extrapolated)",
    )
    ax_time.legend(fontsize=8)
    n = np.array([r["n"] for r in results])
    if n.size:
        embed_graph = [
            r.get("peak_mib_embed_graph", np.nan) / MIB_PER_GIB for r in results
        ]
        ax_memory.plot(n, embed_graph, "o-", label="embedding + 10-NN graph")
        ax_memory.plot(
            n, [r["peak_mib"] / MIB_PER_GIB for r in results], "s--", label="all stages"
        )
    ax_memory.axhline(
        GOAL_B_MIB / MIB_PER_GIB, color="grey", linestyle=":", label="8 GiB (goal b)"
    )
    ax_memory.set(
        xscale="log",
        yscale="log",
        xlabel="n (sequences)",
        ylabel="GiB",
        title="peak resident set size (one process per n)",
    )
    ax_memory.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- #
# Driver
# --------------------------------------------------------------------------- #
def run_child(kind: str, work: Path, n: int | None = None) -> dict[str, Any]:
    """Run one stage group in a fresh process; its result, or the error."""
    output = work / f"{kind}_{n}.json"
    command = [sys.executable, __file__, *sys.argv[1:], "--child", kind]
    command += ["--work", str(work)] + (["--child-size", str(n)] if n else [])
    start = time.perf_counter()
    process = subprocess.run(command, check=False)
    wall = time.perf_counter() - start
    if process.returncode != 0 or not output.exists():
        log(f"{kind} {n or ''} failed with exit code {process.returncode}")
        return {"error": f"exit code {process.returncode}", "child_wall_s": wall}
    result = json.loads(output.read_text())
    result["child_wall_s"] = wall
    return result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 100_000, 200_000, 1_000_000]
    )
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument(
        "--p",
        type=int,
        choices=[1, 2],
        default=None,
        help="order of the embedder (default: its own, 1 since round 20; the "
        "figures before round 20 are p=2)",
    )
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--valid-size", type=int, default=1000)
    parser.add_argument("--chunk", type=int, default=10_000, help="sequences per chunk")
    parser.add_argument(
        "--threads", type=int, default=2, help="PyTorch threads of transform"
    )
    parser.add_argument(
        "--fit-threads", type=int, default=1, help="PyTorch threads of fit"
    )
    parser.add_argument(
        "--encoder",
        choices=["default", "conv"],
        default="default",
        help='"conv": architecture="conv", n_layers=2, kernel_size=5',
    )
    parser.add_argument(
        "--knn-jobs", type=int, default=None, help="n_jobs of our k-NN transformer"
    )
    parser.add_argument("--n-probe", type=int, default=16)
    parser.add_argument("--probe-sweep", type=int, nargs="*", default=[8, 32, 64])
    parser.add_argument("--recall-queries", type=int, default=1000)
    parser.add_argument(
        "--max-size-graph",
        type=int,
        default=sys.maxsize,
        help="skip the FAISS graph above this n",
    )
    parser.add_argument(
        "--max-size-exact",
        type=int,
        default=200_000,
        help="run the exact graphs on all n up to this n",
    )
    parser.add_argument(
        "--max-size-exact-sample",
        type=int,
        default=sys.maxsize,
        help="skip the sample timings of the exact searches above this n",
    )
    parser.add_argument("--skip-dtw", action="store_true")
    parser.add_argument("--dtw-queries", type=int, default=200)
    parser.add_argument("--dtw-references", type=int, default=2000)
    parser.add_argument("--dtw-target", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="of our k-NN prediction")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=common.RESULTS_DIR)
    parser.add_argument(
        "--child", choices=["fit", "size", "dtw"], help=argparse.SUPPRESS
    )
    parser.add_argument("--child-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.chunk % N_CLASSES or args.chunk <= 0:
        parser.error(f"--chunk must be a positive multiple of {N_CLASSES}")
    args.sizes = sorted(set(args.sizes))
    if min(args.sizes) <= K:
        parser.error(f"every size must exceed {K}")
    return args


def main() -> None:
    args = parse_args()
    warnings.filterwarnings("ignore", message=".*unsafe cast.*")
    if args.child:
        if args.child == "fit":
            result = child_fit(args, args.work)
        elif args.child == "size":
            result = child_size(args, args.work, args.child_size)
        else:
            result = child_dtw(args, args.work)
        common.write_json(args.work / f"{args.child}_{args.child_size}.json", result)
        return

    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    executable = os.path.relpath(sys.executable)
    script = os.path.relpath(__file__)
    meta = {
        "command": shlex.join([executable, script, *sys.argv[1:]]),
        "machine": machine_facts(),
        "load_average_start": os.getloadavg(),
        "sizes": args.sizes,
        "chunk": args.chunk,
        "seed": args.seed,
        "embedder": args.encoder,
        "max_epochs": args.max_epochs,
        "threads": args.threads,
        "fit_threads": args.fit_threads,
        "knn_jobs": args.knn_jobs,
        "n_probe": args.n_probe,
        "recall_queries": args.recall_queries,
        "dtw_target": args.dtw_target,
        "repeats": args.repeats,
        "auxiliary_sizes": auxiliary_sizes(args),
        "max_size_exact": args.max_size_exact,
    }
    payload: dict[str, Any] = {"meta": meta, "fit": None, "sizes": [], "dtw": None}

    def save() -> None:
        meta["total_runtime_s"] = time.perf_counter() - start
        common.write_json(args.out / "scale.json", payload)
        (args.out / "scale.md").write_text(markdown(payload))
        plot(payload, args.out / "scale.png")

    log(f"{meta['machine']['cpu_count']} cores, load {meta['load_average_start']}")
    with tempfile.TemporaryDirectory(prefix="scale_") as work:
        work = Path(work)
        payload["fit"] = run_child("fit", work)
        if "error" in payload["fit"]:
            save()
            raise SystemExit("fit failed")
        for n in args.sizes:
            log(f"size {n:,}")
            result = run_child("size", work, n)
            if "error" in result:
                result["n_requested"] = n
            payload["sizes"].append(result)
            save()
        if not args.skip_dtw:
            payload["dtw"] = run_child("dtw", work)
    meta["load_average_end"] = os.getloadavg()
    save()
    log(f"done in {meta['total_runtime_s']:.0f} s: {args.out / 'scale.md'}")


if __name__ == "__main__":
    main()
