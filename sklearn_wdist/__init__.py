"""Learned distributional embeddings of sequences, compared with Wasserstein distances.

The public surface:

- :class:`WassersteinSequenceEmbedder`: ``fit(X, y)`` trains a PyTorch encoder
  with a Wasserstein triplet loss; ``transform(X)`` returns embeddings whose plain
  Manhattan (``p=1``, the default) or Euclidean (``p=2``) distance is the
  learned distance (``metric_``).
- :class:`WassersteinDistanceTransformer`: a Pipeline step turning embeddings
  into a distance matrix for ``metric="precomputed"`` estimators.
- :func:`pairwise_wasserstein` and friends: distance matrices between
  collections, chunked and parallel.
- :func:`from_tslearn`: converts tslearn's NaN-padded arrays.
- :mod:`sklearn_wdist.metrics`: retrieval and verification scores.
- :mod:`sklearn_wdist.nn`: the PyTorch building blocks.
"""

from . import metrics, nn
from ._affinity import distances_to_affinity
from ._distance_transformer import WassersteinDistanceTransformer
from ._embedder import WassersteinSequenceEmbedder
from ._exact import pairwise_wasserstein_exact
from ._neighbors import WassersteinKNeighborsTransformer
from ._onnx import to_onnx
from ._pairwise import pairwise_wasserstein, pairwise_wasserstein_chunked
from ._plotting import QuantileFunctionDisplay, TrainingHistoryDisplay
from ._validation import check_precomputed_distances, check_sequences, from_tslearn

__version__ = "0.1.0.dev0"

__all__ = [
    "QuantileFunctionDisplay",
    "TrainingHistoryDisplay",
    "WassersteinDistanceTransformer",
    "WassersteinKNeighborsTransformer",
    "WassersteinSequenceEmbedder",
    "check_precomputed_distances",
    "check_sequences",
    "distances_to_affinity",
    "from_tslearn",
    "metrics",
    "nn",
    "pairwise_wasserstein",
    "pairwise_wasserstein_chunked",
    "pairwise_wasserstein_exact",
    "to_onnx",
]
