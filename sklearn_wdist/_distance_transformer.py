"""Pipeline step turning embeddings into Wasserstein distance matrices."""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import Tags
from sklearn.utils._param_validation import Options, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._docs import DocumentationLinkMixin
from ._pairwise import pairwise_wasserstein
from ._validation import (
    check_embedding_order,
    check_n_jobs,
    embedding_order,
    resolve_order,
)

__all__ = ["WassersteinDistanceTransformer"]


class WassersteinDistanceTransformer(
    DocumentationLinkMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Wasserstein distances from embeddings to reference embeddings.

    A pipeline step placed after ``WassersteinSequenceEmbedder``: ``fit`` keeps
    the embeddings of the training sequences as references, ``transform`` returns
    the ``(n_query, n_reference)`` matrix of ``W_p`` distances (not ``W_p^p``) to
    them, and ``fit_transform`` the square, exactly symmetric matrix with an exactly
    zero diagonal. Estimators that accept ``metric="precomputed"`` (k-NN, DBSCAN,
    HDBSCAN, AgglomerativeClustering with average or complete linkage, TSNE,
    MDS) can then follow it.

    The distances are computed by :func:`pairwise_wasserstein` on the embeddings,
    so they are the Euclidean (``p=2``) or Manhattan (``p=1``) distances between
    rows of the embedder's output.

    Parameters
    ----------
    p : {1, 2} or "auto", default="auto"
        Order of the Wasserstein distance. ``"auto"`` takes the ``p`` the
        embedder was trained with when ``fit`` is handed its ``transform`` output
        (or a view of it, or a DataFrame holding it without a copy, as
        ``set_output(transform="pandas")`` does), as inside a Pipeline, so that
        the distance is the learned one. For other arrays (embeddings saved and
        loaded, re-indexed, copied, or cached by ``Pipeline(memory=...)``) it
        warns and uses 1, the embedder's default: pass the embedder's ``p_``
        for those.
    n_jobs : int, default=None
        Number of joblib jobs used to compute the distance matrix. ``None``
        means 1 unless in a :func:`joblib.parallel_config` context.

    Attributes
    ----------
    p_ : int
        The order used: ``p``, or what ``"auto"`` resolved to in ``fit``.
    reference_embeddings_ : ndarray of shape (n_reference, n_features_in_)
        Copy of the embeddings seen in ``fit``; the columns of ``transform``.
    n_features_in_ : int
        Number of embedding dimensions seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the embedding dimensions seen during ``fit``. Defined only when
        ``X`` has feature names that are all strings.

    See Also
    --------
    pairwise_wasserstein : The function computing the distances.
    distances_to_affinity : Gaussian affinities for spectral clustering.
    sklearn.neighbors.KNeighborsClassifier : Use with ``metric="precomputed"``.

    Notes
    -----
    The output has one column per reference sequence, so it grows with the
    training set: the square training matrix takes ``8 * n**2`` bytes in float64
    (float32 embeddings give float32 distances). Estimators that take a
    ``metric`` can use the embeddings directly instead, without this step, given
    the embedder's ``metric_`` (``"manhattan"`` for ``p=1``, ``"euclidean"`` for
    ``p=2``).

    ``SpectralClustering(affinity="precomputed")`` needs similarities, not
    distances: convert with :func:`distances_to_affinity`, a Gaussian kernel
    ``exp(-D**2 / (2 * sigma**2))`` whose bandwidth ``sigma`` defaults to the
    median distance (see the example below).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklearn_wdist import WassersteinDistanceTransformer
    >>> E = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 6.0]])
    >>> y = np.array([0, 0, 1, 1])

    Plain arrays carry no trained order, so ``p`` is given (``"auto"`` would
    warn and use 1); after the embedder in a Pipeline, ``"auto"`` finds it.

    >>> WassersteinDistanceTransformer(p=1).fit_transform(E[:2])
    array([[0., 1.],
           [1., 0.]])
    >>> model = make_pipeline(
    ...     FunctionTransformer(),  # stands in for WassersteinSequenceEmbedder
    ...     WassersteinDistanceTransformer(p=1),
    ...     KNeighborsClassifier(n_neighbors=1, metric="precomputed"),
    ... )
    >>> model.fit(E, y).predict(np.array([[0.2, 0.4], [4.0, 6.0]]))
    array([0, 1])

    Spectral clustering on Gaussian affinities:

    >>> from sklearn.cluster import SpectralClustering
    >>> from sklearn_wdist import distances_to_affinity
    >>> D = WassersteinDistanceTransformer(p=1).fit_transform(E)
    >>> affinity = distances_to_affinity(D)  # sigma = median distance
    >>> spectral = SpectralClustering(
    ...     n_clusters=2, affinity="precomputed", random_state=0
    ... )
    >>> labels = spectral.fit_predict(affinity)
    >>> bool(labels[0] == labels[1] != labels[2] == labels[3])
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "p": [Options(Integral, {1, 2}), StrOptions({"auto"})],
        "n_jobs": [Integral, None],
    }

    def __init__(self, p: int | str = "auto", n_jobs: int | None = None) -> None:
        self.p = p
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> WassersteinDistanceTransformer:
        """Store the reference embeddings.

        Parameters
        ----------
        X : array-like of shape (n_reference, n_features)
            Embeddings of the reference sequences, e.g. the embedder's output.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : WassersteinDistanceTransformer
            The fitted transformer.
        """
        # The constraints above let booleans and n_jobs=0 through; reject them now
        # rather than at the first transform.
        check_n_jobs(self.n_jobs)
        # A copy: later changes to the caller's array must not move the references.
        references = validate_data(self, X, dtype=[np.float64, np.float32], copy=True)
        # The order recorded on the caller's array, once the data passed: bad
        # input gets its error without a p="auto" warning first.
        self.p_ = resolve_order(self.p, X)
        # Whether p_ is the fallback of p="auto", for later messages.
        self._p_guessed = self.p == "auto" and embedding_order(X) is None
        self.reference_embeddings_ = references
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Distances from each embedding to every reference embedding.

        Parameters
        ----------
        X : array-like of shape (n_query, n_features)
            Embeddings of the query sequences.

        Returns
        -------
        distances : ndarray of shape (n_query, n_reference)
            ``W_p`` distances (not ``W_p^p``); float32 if both ``X`` and the
            references are float32, else float64.
        """
        check_is_fitted(self)
        check_embedding_order(X, self.p_, guessed=getattr(self, "_p_guessed", False))
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return pairwise_wasserstein(
            X, self.reference_embeddings_, p=self.p_, n_jobs=self.n_jobs
        )

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit to ``X`` and return the square distance matrix between its rows.

        Parameters
        ----------
        X : array-like of shape (n_reference, n_features)
            Embeddings of the reference sequences.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        distances : ndarray of shape (n_reference, n_reference)
            ``W_p`` distances, exactly symmetric with an exactly zero diagonal.
        """
        self.fit(X, y)
        return pairwise_wasserstein(
            self.reference_embeddings_, p=self.p_, n_jobs=self.n_jobs
        )

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        if "reference_embeddings_" in state and "p_" not in state:
            # Pickled before p="auto": the order then was always the int p.
            state["p_"] = state["p"]
        super().__setstate__(state)

    @property
    def _n_features_out(self) -> int:
        """Number of output columns, one per reference sample."""
        return self.reference_embeddings_.shape[0]

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
