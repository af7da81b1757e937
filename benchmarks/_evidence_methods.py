"""The methods compared by ``benchmarks/evidence.py``.

Every method has the same three steps, timed separately by the harness:

- ``fit(X, y)`` learns what the method learns (nothing for DTW);
- ``represent(X)`` maps sequences to what distances or the classifier need
  (embeddings, raw-quantile features, padded arrays or the sequences themselves);
- ``test_accuracy`` (official train/test split) or ``square_distances``
  (verification on unseen classes) evaluates the representation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch
from aeon.classification.convolution_based import MiniRocketClassifier
from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier
from aeon.distances import dtw_pairwise_distance
from aeon.transformations.collection.unequal_length import Padder
from sklearn.neighbors import KNeighborsClassifier

from sklearn_wdist import WassersteinSequenceEmbedder, pairwise_wasserstein
from sklearn_wdist._sequences import check_sequence_labels, check_sequences
from sklearn_wdist._whitening import apply_whitening, fit_whitening
from sklearn_wdist.nn import QuantileEnergyDistance, WassersteinTripletLoss

Sequences = np.ndarray | list[np.ndarray]

# Number of quantile levels of the untrained raw-quantile baseline.
RAW_QUANTILES = 16
# Elements of the (rows, n_b, K, M, M) temporary of one energy-distance chunk.
_ENERGY_CHUNK_ELEMENTS = 1 << 24


class EnergyTrained(WassersteinSequenceEmbedder):
    """The same quantile embedder, trained with the energy distance instead of W2."""

    def _build_criterion(self) -> torch.nn.Module:
        return WassersteinTripletLoss(
            margin=self.margin, mining=self.mining, distance=QuantileEnergyDistance()
        )


def energy_distance_matrix(
    A: np.ndarray, B: np.ndarray | None, n_features: int
) -> np.ndarray:
    """Energy distance between quantile embeddings given as ``transform`` rows.

    Rows are reshaped to ``(K, M)`` and multiplied by ``M ** 0.5`` to undo the
    ``M ** (-1/2)`` scaling of ``transform``; the matrix is computed in row
    chunks with :meth:`QuantileEnergyDistance.matrix`.
    """
    B = A if B is None else B
    n_levels = A.shape[1] // n_features
    scale = n_levels**0.5
    a = torch.from_numpy(A).reshape(len(A), n_features, n_levels) * scale
    b = torch.from_numpy(B).reshape(len(B), n_features, n_levels) * scale
    rows = max(1, _ENERGY_CHUNK_ELEMENTS // (len(b) * n_features * n_levels**2))
    distance = QuantileEnergyDistance()
    with torch.no_grad():
        blocks = [
            distance.matrix(a[start : start + rows], b)
            for start in range(0, len(a), rows)
        ]
    return torch.cat(blocks).double().numpy()


def one_nn_precomputed(
    D_test_train: np.ndarray, y_train: np.ndarray, y_test: np.ndarray
) -> float:
    """Accuracy of 1-NN on a precomputed test-by-train distance matrix."""
    knn = KNeighborsClassifier(n_neighbors=1, metric="precomputed")
    square = np.zeros((len(y_train), len(y_train)))  # fit only stores labels
    return float(knn.fit(square, y_train).score(D_test_train, y_test))


def one_nn_accuracy(
    R_train: np.ndarray,
    y_train: np.ndarray,
    R_test: np.ndarray,
    y_test: np.ndarray,
    metric: str,
) -> float:
    """Accuracy of 1-NN with ``metric`` between representation rows."""
    knn = KNeighborsClassifier(n_neighbors=1, metric=metric)
    return float(knn.fit(R_train, y_train).score(R_test, y_test))


def channel_statistics(X: Sequences) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over all time steps of ``X``."""
    steps = np.concatenate([np.asarray(x, dtype=np.float64) for x in X], axis=1)
    std = steps.std(axis=1)
    return steps.mean(axis=1), np.where(std > 0, std, 1.0)


def raw_quantile_features(
    X: Sequences, mean: np.ndarray, std: np.ndarray, n_levels: int = RAW_QUANTILES
) -> np.ndarray:
    """Flattened per-channel quantile functions scaled by ``n_levels ** -0.5``.

    Channels are standardised with ``mean`` and ``std`` first; the Euclidean
    distance between rows is then the (untrained) W2 distance between the
    per-channel distributions of the standardised raw signal.
    """
    tau = (np.arange(1, n_levels + 1) - 0.5) / n_levels
    rows = []
    for x in X:
        z = (np.asarray(x, dtype=np.float64) - mean[:, None]) / std[:, None]
        rows.append(np.quantile(z, tau, axis=1, method="linear").T.ravel())
    return np.asarray(rows) * n_levels**-0.5


def pad_to_length(X: Sequences, length: int) -> np.ndarray:
    """Zero-pad unequal-length sequences at the end to ``length`` (aeon Padder)."""
    if isinstance(X, np.ndarray):
        return X
    return Padder(padded_length=length, fill_value=0).fit_transform(X)


class Method(ABC):
    """A method compared by the harness (see the module docstring)."""

    name: str
    deterministic: bool = False
    supports_unseen: bool = True

    @abstractmethod
    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        """Learn from the training sequences."""

    @abstractmethod
    def represent(self, X: Sequences) -> Any:
        """Map sequences to the representation the evaluation uses."""

    @abstractmethod
    def test_accuracy(
        self, R_train: Any, y_train: np.ndarray, R_test: Any, y_test: np.ndarray
    ) -> float:
        """Test accuracy of 1-NN (or the method's own classifier)."""

    def square_distances(self, R: Any) -> np.ndarray:
        """Square distance matrix within one collection."""
        raise NotImplementedError(f"{self.name} has no distance matrix.")


class EmbedderMethod(Method):
    """A ``WassersteinSequenceEmbedder`` (or subclass) with its evaluation distance.

    ``distance="metric"`` evaluates with the embedder's ``metric_`` (the learned
    W2, or Euclidean for mean pooling); ``"energy"`` with the energy distance
    between the quantile embeddings.
    """

    def __init__(
        self,
        name: str,
        estimator: type[WassersteinSequenceEmbedder],
        params: dict[str, Any],
        distance: str = "metric",
    ) -> None:
        self.name = name
        self.estimator = estimator
        self.params = params
        self.distance = distance
        self.embedder_: WassersteinSequenceEmbedder | None = None

    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        self.embedder_ = self.estimator(random_state=seed, **self.params).fit(X, y)

    def represent(self, X: Sequences) -> np.ndarray:
        return self.embedder_.transform(X)

    def test_accuracy(
        self,
        R_train: np.ndarray,
        y_train: np.ndarray,
        R_test: np.ndarray,
        y_test: np.ndarray,
    ) -> float:
        if self.distance == "energy":
            D = energy_distance_matrix(
                R_test, R_train, self.embedder_.n_embedding_features_
            )
            return one_nn_precomputed(D, y_train, y_test)
        return one_nn_accuracy(R_train, y_train, R_test, y_test, self.embedder_.metric_)

    def square_distances(self, R: np.ndarray) -> np.ndarray:
        if self.distance == "energy":
            return energy_distance_matrix(R, None, self.embedder_.n_embedding_features_)
        return pairwise_wasserstein(R, p=self.embedder_.p)


class EnergyTrainedW2Eval(EmbedderMethod):
    """Shares the fitted energy-trained embedder; evaluates it with W2 instead."""

    def __init__(self, name: str, source: EmbedderMethod) -> None:
        super().__init__(name, source.estimator, source.params, distance="metric")
        self.source = source

    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        self.embedder_ = self.source.embedder_


class RawQuantileMethod(Method):
    """Untrained W2 between per-channel quantiles of the standardised raw signal."""

    name = "raw-quantile W2"
    deterministic = True

    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        self.mean_, self.std_ = channel_statistics(X)

    def represent(self, X: Sequences) -> np.ndarray:
        return raw_quantile_features(X, self.mean_, self.std_)

    def test_accuracy(
        self,
        R_train: np.ndarray,
        y_train: np.ndarray,
        R_test: np.ndarray,
        y_test: np.ndarray,
    ) -> float:
        return one_nn_accuracy(R_train, y_train, R_test, y_test, "euclidean")

    def square_distances(self, R: np.ndarray) -> np.ndarray:
        return pairwise_wasserstein(R, p=2)


class WhitenedRawQuantileMethod(RawQuantileMethod):
    """Raw-quantile W2 after the embedder's within-class whitening; no training.

    The ablation that separates what the whitening step gives from what the
    trained encoder adds.
    """

    name = "whitened raw-quantile W2"

    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        sequences = check_sequences(X)
        labels = check_sequence_labels(y, len(sequences))
        codes = np.unique(labels, return_inverse=True)[1]
        self.whitening_ = fit_whitening(
            sequences, codes, "within_class", np.random.default_rng(0)
        )
        channels = len(self.whitening_[0])
        self.mean_, self.std_ = np.zeros(channels), np.ones(channels)

    def represent(self, X: Sequences) -> np.ndarray:
        whitened = apply_whitening(check_sequences(X), *self.whitening_)
        return raw_quantile_features(whitened, self.mean_, self.std_)


class DTWMethod(Method):
    """1-NN under full-window DTW (aeon); the evaluation step does all the work."""

    name = "1-NN DTW"
    deterministic = True

    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        return None

    def represent(self, X: Sequences) -> Sequences:
        return X

    def test_accuracy(
        self, R_train: Sequences, y_train: np.ndarray, R_test: Sequences, y_test
    ) -> float:
        knn = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw")
        return float(knn.fit(R_train, y_train).score(R_test, y_test))

    def square_distances(self, R: Sequences) -> np.ndarray:
        return dtw_pairwise_distance(R)


class MiniRocketMethod(Method):
    """aeon's MiniRocketClassifier (10,000 kernels, ridge); accuracy only.

    Unequal-length collections are zero-padded at the end to ``pad_length`` (the
    longest sequence over both official splits) with aeon's ``Padder``.
    """

    name = "MiniRocket"
    supports_unseen = False

    def __init__(self) -> None:
        self.pad_length = 0

    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        self.classifier_ = MiniRocketClassifier(random_state=seed)
        self.classifier_.fit(pad_to_length(X, self.pad_length), y)

    def represent(self, X: Sequences) -> np.ndarray:
        return pad_to_length(X, self.pad_length)

    def test_accuracy(
        self,
        R_train: np.ndarray,
        y_train: np.ndarray,
        R_test: np.ndarray,
        y_test: np.ndarray,
    ) -> float:
        return float(self.classifier_.score(R_test, y_test))


def build_methods(
    configs: dict[str, dict[str, Any]], overrides: dict[str, Any]
) -> list[Method]:
    """Build all compared methods; ``overrides`` go to every embedder."""
    learned = [
        EmbedderMethod("learned", WassersteinSequenceEmbedder, dict(overrides)),
        *(
            EmbedderMethod(
                f"learned ({name})",
                WassersteinSequenceEmbedder,
                {**params, **overrides},
            )
            for name, params in configs.items()
        ),
    ]
    energy = EmbedderMethod(
        "energy-trained", EnergyTrained, dict(overrides), distance="energy"
    )
    return [
        *learned,
        EmbedderMethod(
            "mean-pooled",
            WassersteinSequenceEmbedder,
            {"pooling": "mean", **overrides},
        ),
        energy,
        EnergyTrainedW2Eval("energy-trained, W2 eval", energy),
        RawQuantileMethod(),
        WhitenedRawQuantileMethod(),
        DTWMethod(),
        MiniRocketMethod(),
    ]
