"""Retrieval and verification scores computed from a square distance matrix.

Each function takes ``distances``, an ``(n, n)`` array of pairwise distances
within one collection (for example the Wasserstein distances between learned
sequence embeddings), and ``labels``, the class of each item, and returns a
float:

- Retrieval, leave-one-out (every item queries the ``n - 1`` others):
  :func:`precision_at_1`, :func:`mean_average_precision_at_r` and
  :func:`knn_loo_accuracy`.
- Verification over all unordered pairs ``i < j`` (same label or not):
  :func:`equal_error_rate` and :func:`pair_roc_auc`;
  :func:`genuine_impostor_distances` returns the two groups of pair distances.

All scores are deterministic. For precision at 1 and MAP@R, items at equal
distance from a query rank items of other labels first (a tie is no
success), so these scores, like the verification scores (where a tied pair
counts half), do not depend on the order of the items; the k-NN vote ranks
tied items by increasing index.
"""

from ._retrieval import knn_loo_accuracy, mean_average_precision_at_r, precision_at_1
from ._verification import equal_error_rate, genuine_impostor_distances, pair_roc_auc

__all__ = [
    "equal_error_rate",
    "genuine_impostor_distances",
    "knn_loo_accuracy",
    "mean_average_precision_at_r",
    "pair_roc_auc",
    "precision_at_1",
]
