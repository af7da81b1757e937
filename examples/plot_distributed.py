"""
Embedding and distances on a Dask cluster
=========================================

A fitted :class:`~sklearn_wdist.WassersteinSequenceEmbedder` embeds every
sequence independently, so a large collection can be cut into chunks and the
chunks embedded anywhere: here on the workers of a Dask ``LocalCluster`` (the
same code runs on a multi-machine cluster by pointing ``Client`` at its
scheduler). Each worker holds one copy of the model, receives chunks, and
returns only their embeddings, so a worker holds the model, its chunk and
that chunk's embeddings, never the whole collection. (This example also
embeds the collection in the main process, to compare; and its local
cluster's workers are threads of that process.)

The distance functions (:func:`~sklearn_wdist.pairwise_wasserstein`,
:func:`~sklearn_wdist.pairwise_wasserstein_exact`) parallelise through joblib,
so ``joblib.parallel_config(backend="dask")`` sends their tiles to the same
cluster.

Needs ``dask`` and ``distributed`` (``pip install "dask[distributed]"``). Set
``SKLEARN_WDIST_FAST=1`` for a quick run; the figure goes next to this script,
or to ``$SKLEARN_WDIST_FIGURE_DIR``.
"""

# %%
import logging
import os
import time
from pathlib import Path

import joblib
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import Client

from sklearn_wdist import WassersteinSequenceEmbedder, pairwise_wasserstein
from sklearn_wdist.datasets import load_japanese_vowels

FAST = os.environ.get("SKLEARN_WDIST_FAST", "") not in ("", "0")
FIGURE_DIR = Path(
    os.environ.get("SKLEARN_WDIST_FIGURE_DIR") or Path(__file__).resolve().parent
)


def embed_chunk(embedder, chunk):
    """Run on a worker: embeddings of one chunk of sequences."""
    return embedder.transform(chunk)


X_train, y_train = load_japanese_vowels(split="train")
X_test, _ = load_japanese_vowels(split="test")
embedder = WassersteinSequenceEmbedder(
    max_epochs=2 if FAST else 30, random_state=0
).fit(X_train, y_train)

# A "large" collection: the test recordings, repeated.
collection = X_test * (2 if FAST else 20)
chunks = [collection[i : i + 200] for i in range(0, len(collection), 200)]

start = time.perf_counter()
local = embedder.transform(collection)
local_s = time.perf_counter() - start

# %%
# Embed chunk by chunk on the workers: scatter the model once, map the
# chunks, gather the embeddings in order. The workers here are threads of this
# process, so that the example also runs inside a documentation build; with
# ``processes=True`` (then put the script's code under
# ``if __name__ == "__main__":``) or a remote scheduler the code is the same.
# The client starts (and at the end stops) its own LocalCluster. Dask logs its
# comms closing at shutdown at INFO level, tracebacks included: keep warnings
# and errors only.
logging.getLogger("distributed").setLevel(logging.WARNING)
with Client(
    n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
) as client:
    model = client.scatter(embedder, broadcast=True)
    start = time.perf_counter()
    futures = client.map(embed_chunk, [model] * len(chunks), chunks)
    distributed = np.vstack(client.gather(futures))
    cluster_s = time.perf_counter() - start
    print(
        f"{len(collection)} sequences: {local_s:.2f} s in this process, "
        f"{cluster_s:.2f} s on 2 workers; largest difference "
        f"{np.abs(distributed - local).max():.2e}"
    )

    # %%
    # The distance matrix through joblib's Dask backend: the same tiles,
    # computed on the workers, give the same matrix. ``p=embedder.p_`` is the
    # order the embedder was trained with (1, Manhattan, by default).
    sample = local[:1000]
    start = time.perf_counter()
    with joblib.parallel_config(backend="dask"):
        D_cluster = pairwise_wasserstein(sample, p=embedder.p_, n_jobs=-1)
    joblib_s = time.perf_counter() - start
    D_local = pairwise_wasserstein(sample, p=embedder.p_)
    print(
        f"distance matrix {D_local.shape}: identical on the cluster: "
        f"{np.array_equal(D_cluster, D_local)} ({joblib_s:.2f} s)"
    )

# %%
# Timings (on a two-core machine the cluster's overhead can outweigh what
# two workers gain; a cluster of machines gains with the number of workers).
fig, ax = plt.subplots(figsize=(5, 2.4), layout="constrained")
ax.barh(["in this process", "2 Dask workers"], [local_s, cluster_s])
ax.set_xlabel(f"seconds to embed {len(collection)} sequences")
ax.set_title("embedding in this process and on a local Dask cluster")
FIGURE_DIR.mkdir(parents=True, exist_ok=True)
fig.savefig(FIGURE_DIR / "plot_distributed.png", dpi=100)
print(f"figure: {FIGURE_DIR / 'plot_distributed.png'}")
