"""What the benchmark scripts share: data, methods, the harness, tables and plots.

The scripts import this module as ``_common``: run as
``python benchmarks/SCRIPT.py``, their own folder is the first entry of
``sys.path``. They import ``sklearn_wdist`` as users do; the one exception, the
whitening ablation, is marked where the imports are.

Methods
-------
Every compared method has the same three steps, timed separately by
:func:`run_one`:

- ``fit(X, y, seed)`` learns what the method learns (nothing for DTW);
- ``represent(X)`` maps sequences to what distances or the classifier need
  (embeddings, raw-quantile features, padded arrays or the sequences themselves);
- ``test_accuracy`` (a :class:`Task` with ``evaluation="accuracy"``) or
  ``square_distances`` (``evaluation="verification"``) evaluates the
  representation; by default both use the method's ``distance_matrix`` (1-NN
  with ties to the lowest training index, and the square matrix).

One fit may be reported under several names, each with its own evaluation
distance (:attr:`Method.evaluations`); records are identified by those names,
never by their position in a list.

Records
-------
A *record* is one evaluation of one method on one task with one seed
(``seed`` is ``None`` for deterministic methods, which run once)::

    {"protocol": str, "dataset": str, "method": str, "seed": int | None,
     "scores": {name: float}, "fit_s": float, "transform_s": float,
     "evaluate_s": float, "shares_fit": bool}

``shares_fit`` marks an evaluation of a fit reported under another name; its
``fit_s`` and ``transform_s`` are 0. Means and standard deviations are over
seeds (``ddof=0``); deterministic methods have a single record and a standard
deviation of 0. Tables and plots list datasets and methods in the order in
which they first occur in the records, which is presentation only.
"""

from __future__ import annotations

import contextlib
import functools
import json
import statistics
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from unittest import mock

import matplotlib
import numpy as np
import torch
from aeon.classification.convolution_based import MiniRocketClassifier
from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier
from aeon.datasets import load_classification
from aeon.distances import dtw_pairwise_distance
from aeon.transformations.collection.unequal_length import Padder
from scipy.spatial.distance import cdist
from sklearn.linear_model import RidgeClassifierCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_wdist import (
    WassersteinSequenceEmbedder,
    check_sequences,
    pairwise_wasserstein,
)

# The only private import of the benchmarks: the "whitened raw-quantile W2"
# ablation must see exactly the embedder's input preprocessing, which has no
# public function.
from sklearn_wdist import _embedder as embedder_module
from sklearn_wdist._row_weights import (
    fit_total_row_weights,
    pair_spread,
    row_magnitudes,
    spread_weights,
)
from sklearn_wdist._training import embed_sequences, sequence_step_features
from sklearn_wdist._whitening import fit_whitening, to_network_input
from sklearn_wdist.metrics import (
    equal_error_rate,
    mean_average_precision_at_r,
    precision_at_1,
)
from sklearn_wdist.nn import (
    QuantileEnergyDistance,
    WassersteinTripletLoss,
    multiscale_difference_lags,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt

Sequences = np.ndarray | list[np.ndarray]
Record = dict[str, Any]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# Number of quantile levels of the untrained raw-quantile baseline.
RAW_QUANTILES = 16
# Elements of the (rows, n_b, K, M, M) temporary of one energy-distance chunk.
_ENERGY_CHUNK_ELEMENTS = 1 << 24
DETERMINISTIC_MARK = " (det.)"
# The embedder's defaults before ``benchmarks/select_defaults.py`` chose them.
PREVIOUS_DEFAULTS = {
    "architecture": "conv",
    "kernel_size": 5,
    "n_features": 32,
    "n_layers": 3,
    "include_input": False,
    "normalize_output": False,
    "input_whitening": None,
    "early_stopping": False,
    "input_gating": None,
}
# Rounds 2-15 learned 8 features (round 16 chose 4); every configuration
# of those rounds pins it, through the constants below or explicitly.
BEFORE_ROUND_16 = {"n_features": 8}
# Rounds 8-17 weighted the kept rows by their within-class spread (round 18
# chose input_row_weighting="total"); the configurations of those rounds pin
# it, through ROUND_7_DIFFERENCES or explicitly (rounds 7 and before: None).
BEFORE_ROUND_18 = {"input_row_weighting": "within_class"}
# Rounds 1-19 trained and measured the Wasserstein-2 distance (round 19 chose
# p=1, made the default in round 20); every configuration of those rounds
# pins it, unless it sets p itself.
BEFORE_ROUND_20 = {"p": 2}
# Rounds 1-20 neither scaled nor jittered label-free training views (round
# 21 chose scale_std=0.1 and jitter_std=0.05 without labels; with labels
# "auto" still means none); every configuration of those rounds pins it.
BEFORE_ROUND_21 = {"scale_std": 0.0, "jitter_std": 0.0}
# Rounds 7-14 kept the first differences only (round 15 chose the
# increments at several lags, include_differences="multiscale"); the
# configurations of those rounds that keep differences pin it, and the
# within-class row weights of rounds 8-17 (a configuration of round 7 sets
# input_row_weighting=None after it).
ROUND_7_DIFFERENCES = {
    "include_differences": True,
    **BEFORE_ROUND_18,
    **BEFORE_ROUND_16,
}
# Rounds 1-8 trained every sequence for max_epochs (no early stopping) and
# gated no input channel; the configurations that reproduce them pin both
# (and the 8 learned features of their time).
BEFORE_ROUND_9 = {"early_stopping": False, "input_gating": None, **BEFORE_ROUND_16}
# The default of round 8 (and of round 11 without its gates): the first
# differences, 30 epochs, no gates.
ROUND_8 = {**BEFORE_ROUND_9, **ROUND_7_DIFFERENCES}
# The default of rounds 9 and 10: early stopping, no gates (round 11 chose
# input_gating="anova" with a fixed 30 epochs).
ROUND_9 = {"early_stopping": "auto", "input_gating": None, **BEFORE_ROUND_16}


class Score(NamedTuple):
    """How a score is shown and which direction is better."""

    label: str
    higher_is_better: bool


SCORES = {
    "accuracy": Score("accuracy", True),
    "eer": Score("EER", False),
    "map_at_r": Score("MAP@R", True),
    "p_at_1": Score("P@1", True),
}
# The scores of a verification task (column order of the tables).
VERIFICATION_SCORES = ("eer", "map_at_r", "p_at_1")


# --------------------------------------------------------------------------- #
# Data, seeds, warnings, timing
# --------------------------------------------------------------------------- #
@dataclass
class Task:
    """One protocol on one dataset: what to fit on and what to evaluate.

    ``evaluation="accuracy"``: 1-NN accuracy of ``X_eval`` against
    ``X_train`` (classes seen in training). ``"verification"``: EER, MAP@R and
    precision@1 on the square distance matrix of ``X_eval``.
    """

    protocol: str
    dataset: str
    X_train: Sequences
    y_train: np.ndarray
    X_eval: Sequences
    y_eval: np.ndarray
    evaluation: str
    pad_length: int = 0


def load_split(name: str, split: str) -> tuple[Sequences, np.ndarray]:
    """One official split of an aeon dataset, labels as an ndarray.

    Read from aeon's installed copy with every network connection refused
    (``_datasets._offline``): a data set aeon stopped shipping fails here
    instead of being downloaded.
    """
    import _datasets

    with _datasets._offline():
        X, y = load_classification(name, split=split)
    return X, np.asarray(y)


def take(X: Sequences, index: np.ndarray) -> Sequences:
    """Return the sequences at ``index`` (integer positions or a boolean mask)."""
    index = np.asarray(index)
    if index.dtype == bool:
        index = np.flatnonzero(index)
    return [X[i] for i in index] if isinstance(X, list) else X[index]


def concat(A: Sequences, B: Sequences) -> Sequences:
    """Two collections of the same kind (list or array) as one."""
    return [*A, *B] if isinstance(A, list) else np.concatenate([A, B])


def max_length(*collections: Sequences) -> int:
    """Return the number of time steps of the longest sequence."""
    return max(x.shape[-1] for X in collections for x in X)


def official_split_task(name: str) -> Task:
    """Return the official train/test split of ``name``, scored by 1-NN accuracy."""
    X_train, y_train = load_split(name, "train")
    X_test, y_test = load_split(name, "test")
    pad = max_length(X_train, X_test)
    return Task("accuracy", name, X_train, y_train, X_test, y_test, "accuracy", pad)


def add_seeds_argument(parser: Any, default: Sequence[int]) -> None:
    """``--seeds``: the ``random_state`` values, one run of every trained model each."""
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=list(default),
        help="random_state of each run (default: %(default)s)",
    )


def quiet_warnings() -> None:
    """Silence aeon's user warnings and numba's unsafe-cast notices."""
    warnings.filterwarnings("ignore", message=".*unsafe cast.*")
    warnings.filterwarnings("ignore", category=UserWarning, module="aeon")


def timed(function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``function(*args)`` and its wall-clock time in seconds."""
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


# --------------------------------------------------------------------------- #
# Representations, distances and scores
# --------------------------------------------------------------------------- #
def channel_statistics(X: Sequences) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over all time steps of ``X``."""
    steps = np.concatenate([np.asarray(x, dtype=np.float64) for x in X], axis=1)
    std = steps.std(axis=1)
    return steps.mean(axis=1), np.where(std > 0, std, 1.0)


def first_differences(sequences: Sequences) -> list[np.ndarray]:
    """Each channel's ``x[t] - x[t-1]`` (0 at the first step), as the embedder's."""
    return [np.diff(x, axis=1, prepend=x[:, :1]) for x in sequences]


def with_increments(sequences: Sequences, lags: Sequence[int]) -> list[np.ndarray]:
    """Return the sequences with each channel's ``x[t] - x[max(t - L, 0)]`` appended.

    The embedder's multiscale difference rows, lag after lag (lag 1 is
    :func:`first_differences`).
    """
    out = []
    for x in sequences:
        steps = np.arange(x.shape[1])
        parts = [x] + [x - x[:, np.maximum(steps - lag, 0)] for lag in lags]
        out.append(np.concatenate(parts, axis=0))
    return out


def with_first_differences(sequences: Sequences) -> list[np.ndarray]:
    """Return the sequences with their :func:`first_differences` appended."""
    return with_increments(sequences, (1,))


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


def energy_distance_matrix(
    A: np.ndarray, B: np.ndarray | None, n_features: int
) -> np.ndarray:
    """Energy distance between quantile embeddings given as ``transform`` rows.

    Rows are reshaped to ``(K, M)`` and multiplied by ``M ** 0.5``, which
    undoes the ``M ** (-1/2)`` scaling of ``transform`` with ``p=2``; with
    ``p=1`` (``transform`` divides by ``M``) every distance is off by the same
    factor ``M ** -0.5``, which no score depends on (1-NN, EER and MAP@R
    depend only on the order of distances). The matrix is computed in row
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


def pad_to_length(X: Sequences, length: int) -> np.ndarray:
    """Zero-pad unequal-length sequences at the end to ``length`` (aeon Padder)."""
    if isinstance(X, np.ndarray):
        return X
    return Padder(padded_length=length, fill_value=0).fit_transform(X)


def one_nn_accuracy(
    D_test_train: np.ndarray, y_train: np.ndarray, y_test: np.ndarray
) -> float:
    """Accuracy of 1-NN on a test-by-train distance matrix.

    Ties go to the lowest training index, as in :mod:`sklearn_wdist.metrics`.
    """
    predicted = np.asarray(y_train)[np.asarray(D_test_train).argmin(axis=1)]
    return float(np.mean(predicted == np.asarray(y_test)))


def task_scores(task: Task, D: np.ndarray) -> dict[str, float]:
    """Return a task's scores from its distance matrix.

    ``D`` is evaluation-by-training for accuracy tasks (1-NN), square over the
    evaluation sequences for verification tasks.
    """
    if task.evaluation == "accuracy":
        return {"accuracy": one_nn_accuracy(D, task.y_train, task.y_eval)}
    return verification_scores(D, task.y_eval)


def embedding_scores(
    task: Task, R_eval: np.ndarray, R_train: np.ndarray | None = None
) -> dict[str, float]:
    """:func:`task_scores` of the W2 (Euclidean) distance between embeddings."""
    other = R_train if task.evaluation == "accuracy" else None
    return task_scores(task, pairwise_wasserstein(R_eval, other, p=2))


def scored_record(
    task: Task, method: str, seed: int | None, scores: dict, fit_s: float
) -> dict[str, Any]:
    """Return the record of one post-hoc score (no transform timing)."""
    return dict(
        protocol=task.protocol,
        dataset=task.dataset,
        method=method,
        seed=seed,
        scores=scores,
        fit_s=fit_s,
    )


def add_task_arguments(parser: Any, seen: Sequence[str], unseen: Sequence[str]) -> None:
    """``--seen``, ``--unseen`` (task names), ``--out`` and ``--merge``."""
    parser.add_argument("--seen", nargs="*", default=list(seen))
    parser.add_argument("--unseen", nargs="*", default=list(unseen))
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        help="summarise the records of these result files instead of running",
    )


def merged_records(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Return the records of several result files, in order, all of them.

    No record replaces another: probe scripts keep records that share task,
    method and seed but differ in other keys (noise levels, say). Only
    ``select_defaults.py --merge`` keeps one record per task, method and seed.
    """
    return [r for path in paths for r in json.loads(Path(path).read_text())["records"]]


def records_or_run(
    merge: Iterable[Path] | None, run: Callable[[], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Return the records of the ``--merge`` files, or else those of ``run()``.

    A run silences ``UserWarning`` (data-set loaders, small-class notices).
    """
    if merge:
        return merged_records(merge)
    warnings.filterwarnings("ignore", category=UserWarning)
    return run()


def write_summary(
    out: Path, stem: str, payload: dict[str, Any], summary: str, echo: bool = True
) -> None:
    """Write ``payload`` to ``out/stem.json`` and ``summary`` to ``out/stem.md``.

    ``echo`` also prints the summary.
    """
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{stem}.json", payload)
    (out / f"{stem}.md").write_text(summary)
    if echo:
        print(summary)


def write_report(out: Path, stem: str, title: str, records, lines) -> None:
    """``stem.json`` with the records and ``stem.md`` with a title and ``lines``."""
    summary = "\n".join([f"# {title}", "", *lines])
    write_summary(out, stem, {"records": records}, summary, echo=False)


def verification_scores(D: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """EER, MAP@R and precision@1 of a square distance matrix (leave-one-out)."""
    return {
        "eer": float(equal_error_rate(D, y)),
        "map_at_r": float(mean_average_precision_at_r(D, y)),
        "p_at_1": float(precision_at_1(D, y)),
    }


# --------------------------------------------------------------------------- #
# Methods
# --------------------------------------------------------------------------- #
class Method(ABC):
    """A compared method (see the module docstring)."""

    name: str
    deterministic: bool = False
    supports_unseen: bool = True

    @property
    def evaluations(self) -> tuple[str, ...]:
        """Names under which one fit is reported; ``name`` is the one that fits."""
        return (self.name,)

    @abstractmethod
    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        """Learn from the training sequences."""

    @abstractmethod
    def represent(self, X: Sequences) -> Any:
        """Map sequences to the representation the evaluation uses."""

    def distance_matrix(
        self, A: Any, B: Any | None = None, evaluation: str | None = None
    ) -> np.ndarray:
        """Return the distances between representations ``A`` and ``B`` (or ``A``).

        ``evaluation`` is one of :attr:`evaluations` (default ``name``).
        """
        raise NotImplementedError(f"{self.name} has no distance matrix.")

    def evaluations_for(self, kind: str) -> tuple[str, ...]:
        """Return the evaluations that apply to a task of ``kind``."""
        return self.evaluations

    def test_accuracy(
        self,
        R_train: Any,
        y_train: np.ndarray,
        R_test: Any,
        y_test: np.ndarray,
        evaluation: str | None = None,
    ) -> float:
        """Test accuracy of 1-NN (or of the method's own classifier)."""
        D = self.distance_matrix(R_test, R_train, evaluation)
        return one_nn_accuracy(D, y_train, y_test)

    def square_distances(self, R: Any, evaluation: str | None = None) -> np.ndarray:
        """Square distance matrix within one collection."""
        return self.distance_matrix(R, None, evaluation)


def averaged_best_epochs(
    X: Sequences, y: np.ndarray, seed: int | None, params: dict, repeats: int
) -> int | None:
    """Return the epoch count of the best mean held-out MAP@R of ``repeats`` fits.

    Each fit trains every epoch (a patience above ``max_epochs``) with its own
    random held-out part; ``None`` when the data cannot spare one.
    """
    max_epochs = params.get("max_epochs", 30)
    curves = []
    for k in range(repeats):
        trial = dict(params, early_stopping=True, n_iter_no_change=max_epochs + 1)
        try:
            embedder = WassersteinSequenceEmbedder(
                random_state=1000 * (seed or 0) + k, **trial
            ).fit(X, y)
        except ValueError:
            return None
        curves.append(embedder.validation_scores_)
    mean = np.nanmean(curves, axis=0)
    # The latest of equal bests, as early stopping keeps the later weights.
    return int(len(mean) - np.nanargmax(mean[::-1]))


class LearnedRowsTripletLoss(torch.nn.Module):
    """The default triplet loss on the first ``n_features`` rows (the learned ones).

    The built-in encoders put their ``n_features`` learned rows before the
    kept input rows; training on those alone asks the learned features to
    separate the classes by themselves rather than to mend what the kept
    rows leave unseparated. ``also_all_rows`` adds the default loss on every
    row to it.
    """

    def __init__(
        self,
        n_features: int,
        p: int = 2,
        margin: float | str = 1.0,
        also_all_rows: bool = False,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.also_all_rows = also_all_rows
        self.loss = WassersteinTripletLoss(p=p, margin=margin)

    def forward(self, quantiles: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        loss = self.loss(quantiles[:, : self.n_features], labels)
        if self.also_all_rows:
            loss = loss + self.loss(quantiles, labels)
        return loss


def pml_loss(name: str, kwargs: dict[str, Any], p: int) -> torch.nn.Module:
    """pytorch-metric-learning's loss ``name`` on the learned distance ``d_p``.

    Its distance is ``LpDistance(p=p, normalize_embeddings=False)``, on which
    the rows of the scaled quantiles are ``d_p`` apart (the embedder checks
    this); ``kwargs`` are the loss's other parameters.
    """
    from pytorch_metric_learning import distances, losses

    distance = distances.LpDistance(p=p, normalize_embeddings=False)
    return getattr(losses, name)(distance=distance, **kwargs)


def energy_trained_params(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with the triplet loss on the energy distance as ``loss``.

    Margin and mining are the embedder's (from ``params`` or its defaults), so
    that only the distance the triplets are scored with changes.
    """
    settings = WassersteinSequenceEmbedder(**params).get_params()
    loss = WassersteinTripletLoss(
        margin=settings["margin"],
        mining=settings["mining"],
        distance=QuantileEnergyDistance(),
    )
    return {**params, "loss": loss}


class EmbedderMethod(Method):
    """A ``WassersteinSequenceEmbedder(random_state=seed, **params)``.

    ``use_labels=False`` trains without labels (``fit(X)``). ``distances``
    maps each name the fit is reported under to its evaluation
    distance: ``"metric"``, the ``p``-Wasserstein distance of ``transform``
    (:func:`~sklearn_wdist.pairwise_wasserstein`), ``"euclidean"``, the
    Euclidean distance between ``transform`` rows whatever ``p`` (what a k-NN
    left at its default metric measures), ``"energy"``, the energy distance
    between the quantile embeddings, or
    ``"ridge"``, the accuracy of a ``RidgeClassifierCV`` on the standardised
    embeddings (accuracy tasks only), or ``"total-spread"``, the
    ``p``-Wasserstein distance after every row (learned and kept) is scaled
    by ``(mean(s) / s_k) ** (1/p)``, ``s_k`` its mean ``W_p ** p`` over all
    pairs of training sequences (:func:`total_spread_weights`; a probe of
    round 18), or ``"kept-total-spread"``, the same with only the kept rows
    scaled, each to the learned rows' mean spread (what
    ``input_row_weighting="total"`` gives, computed on the fitted
    embedding). Default: ``{name: "metric"}``; the harness option
    ``"_total_spread": True`` adds ``"NAME, rows by total spread"``, and
    ``"kept"`` adds ``"NAME, kept rows by total spread (post hoc)"`` too;
    ``"_reliability": True`` (or ``"bootstrap"``) adds ``"NAME, kept rows by
    reliability (post hoc)"`` and ``"split"`` adds ``"NAME, kept rows by
    split-half reliability (post hoc)"``: the fit's kept rows reweighted by
    their ``"total"`` factor times their reliability against two noise
    estimates (:func:`reliability_row_scales`, probes of round 19).

    Keys of ``params`` starting with ``_`` are options of the harness, not of
    the estimator: ``"_refit": True`` with early stopping fits once to find
    the best epoch count on the held-out sequences, then fits again on every
    sequence for that many epochs (no hold-out); ``"_cv_repeats": K`` (a
    probe of round 10) trains ``K`` fits of ``max_epochs`` epochs, each with
    its own random held-out part (``early_stopping=True``, seeds
    ``1000 * seed + k``), averages their held-out MAP@R curves and fits again
    on every sequence for the epoch count of the (latest) best mean; data
    that cannot spare a held-out part get the plain fit.
    ``"_loss_on_learned_rows": True`` (a probe of round 14) trains with the
    default triplet loss measured on the learned rows alone
    (:class:`LearnedRowsTripletLoss`), ``"added"`` with that loss added to
    the default one on all rows; the kept input rows join the embedding as
    usual. ``"_lag_fraction": f`` (a probe of round 15) gives the multiscale
    difference rows the lags up to ``f`` times the median training length
    instead of an eighth. ``"_lag_rows_share": "channel"`` (a probe of
    round 15) scales, after training, the difference rows of every channel
    by ``n_lags ** (-1/p)``, so that a channel's increments together weigh
    in the distance as one row of them did. ``"_pml_loss": [NAME, KWARGS]``
    (a probe of round 17) trains with pytorch-metric-learning's loss ``NAME``
    (``pytorch_metric_learning.losses.NAME(**KWARGS)``) on the learned
    distance (:func:`pml_loss`), all pairs of each batch, no miner.
    ``"_label_free_pretraining": True`` (a probe of round 22, run before
    the parameter existed) is ``"pretraining": "label-free"``.
    ``"_optimizer": NAME`` (a probe of round 23) trains with
    ``torch.optim.NAME`` (JSON cannot name a class), e.g. ``"AdamW"`` with
    ``"weight_decay"`` for decoupled weight decay.
    """

    def __init__(
        self,
        name: str,
        params: dict[str, Any],
        distances: dict[str, str] | None = None,
        use_labels: bool = True,
    ) -> None:
        distances = {name: "metric"} if distances is None else dict(distances)
        if params.get("_total_spread"):
            distances[name + TOTAL_SPREAD] = "total-spread"
        if params.get("_total_spread") == "kept":
            distances[name + KEPT_TOTAL_SPREAD] = "kept-total-spread"
        if params.get("_reliability") in (True, "bootstrap"):
            distances[name + KEPT_RELIABILITY] = "kept-reliability"
        if params.get("_reliability") == "split":
            distances[name + KEPT_SPLIT_RELIABILITY] = "kept-split-reliability"
        if name not in distances:
            raise ValueError(f"distances must name the method itself, {name!r}.")
        known = {"metric", "euclidean", "energy", "ridge", *POST_HOC_KINDS}
        unknown = set(distances.values()) - known
        if unknown:
            raise ValueError(f"unknown evaluation distances {sorted(unknown)}.")
        self.name = name
        self.params = params
        self.distances = distances
        self.use_labels = use_labels
        self.embedder_: WassersteinSequenceEmbedder | None = None

    @property
    def evaluations(self) -> tuple[str, ...]:
        return tuple(self.distances)

    def evaluations_for(self, kind: str) -> tuple[str, ...]:
        # A classifier on the embedding has no distances to verify with.
        if kind == "accuracy":
            return self.evaluations
        return tuple(n for n, d in self.distances.items() if d != "ridge")

    def test_accuracy(
        self,
        R_train: np.ndarray,
        y_train: np.ndarray,
        R_test: np.ndarray,
        y_test: np.ndarray,
        evaluation: str | None = None,
    ) -> float:
        if self.distances[evaluation or self.name] != "ridge":
            return super().test_accuracy(R_train, y_train, R_test, y_test, evaluation)
        # The linear read-out MiniRocket uses, on the learned embedding.
        classifier = make_pipeline(
            StandardScaler(), RidgeClassifierCV(alphas=np.logspace(-3, 3, 10))
        )
        return float(classifier.fit(R_train, y_train).score(R_test, y_test))

    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        params = {k: v for k, v in self.params.items() if not k.startswith("_")}
        repeats = self.params.get("_cv_repeats")
        if repeats and self.use_labels:
            epochs = averaged_best_epochs(X, y, seed, params, repeats)
            if epochs is not None:
                params.update(early_stopping=False, max_epochs=epochs)
        # The parameters the embedder will fit with: its defaults where params
        # leave them out.
        settings = {**WassersteinSequenceEmbedder().get_params(), **params}
        learned_rows = self.params.get("_loss_on_learned_rows")
        if learned_rows:
            params["loss"] = LearnedRowsTripletLoss(
                settings["n_features"],
                p=settings["p"],
                margin=settings["margin"],
                also_all_rows=learned_rows == "added",
            )
        pml = self.params.get("_pml_loss")
        if pml:
            name, kwargs = pml
            params["loss"] = pml_loss(name, kwargs, settings["p"])
        if self.params.get("_label_free_pretraining"):
            params["pretraining"] = "label-free"
        optimizer = self.params.get("_optimizer")
        if optimizer:
            params["optimizer"] = getattr(torch.optim, optimizer)
        embedder = WassersteinSequenceEmbedder(random_state=seed, **params)
        fraction = self.params.get("_lag_fraction")
        lags = (
            contextlib.nullcontext()
            if fraction is None
            else mock.patch.object(
                embedder_module,
                "multiscale_difference_lags",
                functools.partial(multiscale_difference_lags, fraction=fraction),
            )
        )
        # Label-free methods train on the sequences alone (fit(X)).
        with lags:
            self.embedder_ = embedder.fit(X, y if self.use_labels else None)
        if self.params.get("_lag_rows_share") == "channel":
            fitted = self.embedder_
            lags = fitted.difference_lags_
            weights = fitted.module_.encoder.kept_row_weights
            with torch.no_grad():
                weights[fitted.n_features_in_ :] *= len(lags) ** (-1.0 / fitted.p_)
        # The epoch whose weights early stopping kept (None: nothing held out).
        best_epoch = self.embedder_.best_epoch_
        if self.params.get("_refit") and best_epoch:
            params.update(early_stopping=False, max_epochs=best_epoch)
            self.embedder_ = WassersteinSequenceEmbedder(
                random_state=seed, **params
            ).fit(X, y)
        kinds = set(self.distances.values())
        self.row_scales_ = {
            kind: total_spread_weights(
                self.embedder_, X, kept_only=kind != "total-spread"
            )
            for kind in kinds & {"total-spread", "kept-total-spread"}
        }
        for kind, noise in RELIABILITY_NOISE.items():
            if kind in kinds:
                self.row_scales_[kind] = reliability_row_scales(
                    self.embedder_, X, seed, noise
                )

    def represent(self, X: Sequences) -> np.ndarray:
        return self.embedder_.transform(X)

    def distance_matrix(
        self,
        A: np.ndarray,
        B: np.ndarray | None = None,
        evaluation: str | None = None,
    ) -> np.ndarray:
        kind = self.distances[evaluation or self.name]
        if kind == "energy":
            return energy_distance_matrix(A, B, self.embedder_.n_embedding_features_)
        if kind == "euclidean":
            # What an estimator left at its default metric measures.
            A = np.asarray(A, dtype=np.float64)
            return cdist(A, A if B is None else np.asarray(B, dtype=np.float64))
        if kind in POST_HOC_KINDS:
            A = A * self.row_scales_[kind]
            B = None if B is None else B * self.row_scales_[kind]
        return pairwise_wasserstein(A, B, p=self.embedder_.p_)


TOTAL_SPREAD = ", rows by total spread"
KEPT_TOTAL_SPREAD = ", kept rows by total spread (post hoc)"
KEPT_RELIABILITY = ", kept rows by reliability (post hoc)"
KEPT_SPLIT_RELIABILITY = ", kept rows by split-half reliability (post hoc)"
RELIABILITY_NOISE = {"kept-reliability": "bootstrap", "kept-split-reliability": "split"}
# Evaluations that rescale the fit's transform by column factors.
POST_HOC_KINDS = ("total-spread", "kept-total-spread", *RELIABILITY_NOISE)


def resampling_spread(
    step_rows: Iterable[np.ndarray],
    pool: Callable,
    p: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Mean ``W_p ** p`` per row between two resamples of one sequence's steps.

    Each element of ``step_rows`` holds one sequence's valid per-step values
    ``(n_rows, T)``; two sequences of ``T`` steps are drawn from them with
    replacement (the bootstrap) and pooled with ``pool(features, lengths)``,
    the module's own pooling. The spread two sequences show that differ only
    in which steps were drawn from one distribution.
    """
    total, count = 0.0, 0
    for rows in step_rows:
        length = rows.shape[-1]
        draws = rng.integers(0, length, size=(2, length))
        pair = torch.as_tensor(np.ascontiguousarray(rows[:, draws].transpose(1, 0, 2)))
        pooled = pool(pair, torch.full((2,), length)).double().numpy()
        total = total + np.power(np.abs(pooled[0] - pooled[1]), p).mean(axis=-1)
        count += 1
    return total / max(count, 1)


def split_half_spread(
    step_rows: Iterable[np.ndarray], pool: Callable, p: int
) -> np.ndarray:
    """Mean ``W_p ** p`` per row between the even and the odd steps of a sequence.

    Times ``2 ** (-p/2)``: two halves of independent steps differ by about
    that much more than two whole sequences of them (``W_p ** p`` falls
    like ``n ** (-p/2)``). Sequences of one step are skipped.
    """
    total, count = 0.0, 0
    for rows in step_rows:
        if rows.shape[-1] < 2:
            continue
        halves = [
            torch.as_tensor(np.ascontiguousarray(rows[None, :, start::2]))
            for start in (0, 1)
        ]
        even, odd = (
            pool(half, torch.tensor([half.shape[-1]])).double().numpy()[0]
            for half in halves
        )
        total = total + np.power(np.abs(even - odd), p).mean(axis=-1)
        count += 1
    return total / max(count, 1) * 2.0 ** (-p / 2)


def reliability_row_scales(
    embedder: WassersteinSequenceEmbedder, X: Sequences, seed: int, noise: str
) -> np.ndarray:
    """Column factors that reweight the fit's kept rows by their reliability.

    The ``"total"`` factor of each kept row (:func:`fit_total_row_weights`
    on the fitted module and every training sequence up to 256, as the
    embedder computes it) times ``r_k ** (1/p)``, ``r_k = max(0, 1 - f_k /
    s_k)``, with the noise spread ``f_k`` from ``noise``: ``"bootstrap"``,
    two resamples of each sequence's steps (:func:`resampling_spread`, the
    draws a fit of ``random_state=seed`` makes), or ``"split"``, its even
    against its odd steps (:func:`split_half_spread`). Training does not
    depend on the weights, so for fits that hold nothing out this is what a
    fit with these weights gives. Returned as factors on the fit's
    ``transform``; the fit's buffer is restored. (The bootstrap form was
    built into the package as ``input_row_weighting="reliability"`` at
    commit 1d3fdf0, not adopted; this reproduces it to float32 rounding.)
    """
    module = embedder.module_
    weights = module.encoder.kept_row_weights
    fitted = weights.detach().clone()
    inputs = embedder._network_input(X)
    n_rows, p = len(fitted), int(embedder.p_)
    fit_seed = int(np.random.RandomState(seed).randint(np.iinfo(np.int32).max))

    def embed(indices):
        return embed_sequences(module, [inputs[i] for i in indices], 1.0, 1)

    def noise_spread(indices):
        steps = sequence_step_features(module, [inputs[i] for i in indices], 1)
        rows = (h[-n_rows:] for h in steps)
        if noise == "bootstrap":
            rng = np.random.default_rng(fit_seed + 3)
            return resampling_spread(rows, module.pool, p, rng)
        return split_half_spread(rows, module.pool, p)

    n_levels = embedder._n_levels()
    size = min(len(inputs), 256)  # the sample fit_total_row_weights embeds
    indices = np.unique(np.linspace(0, len(inputs) - 1, size).astype(int))
    try:
        with torch.no_grad():
            weights.fill_(1.0)
        quantiles = embed(indices)
        factors = fit_total_row_weights(
            lambda chosen: quantiles[np.searchsorted(indices, chosen)],
            len(inputs),
            n_rows,
            n_levels,
            p,
        )
        spread = pair_spread(quantiles.reshape(len(indices), -1, n_levels), p)[-n_rows:]
        noise_level = noise_spread(indices)
    finally:
        with torch.no_grad():
            weights.copy_(fitted)
    varies = spread > 1e-12 * max(float(spread.max()), np.finfo(float).tiny)
    reliability = np.ones(n_rows)
    reliability[varies] = np.clip(1.0 - noise_level[varies] / spread[varies], 0, 1)
    factors = factors * reliability ** (1.0 / p)
    kept = fitted.double().numpy()
    scales = np.ones(embedder.n_embedding_features_)
    scales[len(scales) - n_rows :] = np.divide(
        factors, kept, out=np.zeros(n_rows), where=kept != 0
    )
    return np.repeat(scales, n_levels)


def total_spread_weights(
    embedder: WassersteinSequenceEmbedder, X: Sequences, kept_only: bool = False
) -> np.ndarray:
    """Column factors that give every row the same spread over training pairs.

    Row ``k`` of the quantile embedding (``M`` columns of ``transform``) is
    scaled by ``(mean(s) / s_k) ** (1/p)``, where ``s_k`` is its mean
    ``W_p ** p`` over all ordered pairs of distinct training sequences
    (``pair_spread`` of the package, the within-class spread of the row
    weights with all sequences in one class). Returned repeated over each
    row's ``M`` columns, to multiply ``transform`` output with.
    ``kept_only``: the learned rows keep factor 1 and each kept row is put
    on their mean spread instead (the rule of ``input_row_weighting="total"``,
    here on all training sequences and on rows already weighted by the fit).
    """
    R = embedder.transform(X)
    n_rows = embedder.n_embedding_features_
    n_levels = R.shape[1] // n_rows
    if kept_only:
        # The embedder's own rule, on every training sequence.
        n_learned = embedder.n_features
        factors = np.ones(n_rows)
        factors[n_learned:] = fit_total_row_weights(
            lambda indices: R[indices],
            len(R),
            n_rows - n_learned,
            n_levels,
            embedder.p_,
            max_members=len(R),
        )
    else:
        quantiles = R.reshape(len(R), n_rows, n_levels)
        factors = spread_weights(
            pair_spread(quantiles, embedder.p_),
            embedder.p_,
            row_magnitudes(quantiles),
        )
    return np.repeat(factors, n_levels)


class RawQuantileMethod(Method):
    """Untrained W2 between per-channel quantiles of the standardised raw signal."""

    name = "raw-quantile W2"
    deterministic = True

    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        self.mean_, self.std_ = channel_statistics(X)

    def represent(self, X: Sequences) -> np.ndarray:
        return raw_quantile_features(X, self.mean_, self.std_)

    def distance_matrix(
        self,
        A: np.ndarray,
        B: np.ndarray | None = None,
        evaluation: str | None = None,
    ) -> np.ndarray:
        return pairwise_wasserstein(A, B, p=2)


class WhitenedRawQuantileMethod(RawQuantileMethod):
    """Raw-quantile W2 after the embedder's within-class whitening; no training.

    The ablation that separates what the whitening step gives from what the
    trained encoder adds: the features are computed from exactly what the
    encoder would receive (centred, whitened, cast to float32).
    """

    name = "whitened raw-quantile W2"

    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        sequences = check_sequences(X)
        codes = np.unique(np.asarray(y), return_inverse=True)[1]
        self.whitening_ = fit_whitening(
            sequences, codes, "within_class", np.random.default_rng(0)
        )
        channels = len(self.whitening_[0])
        self.mean_, self.std_ = np.zeros(channels), np.ones(channels)

    def represent(self, X: Sequences) -> np.ndarray:
        whitened = to_network_input(check_sequences(X), *self.whitening_)
        return raw_quantile_features(whitened, self.mean_, self.std_)


class WhitenedDifferencesQuantileMethod(WhitenedRawQuantileMethod):
    """The untrained part of the default embedding: whitened channels and slopes.

    The whitened channels of :class:`WhitenedRawQuantileMethod` and, as the
    embedder's ``include_differences`` appends them, each channel's first
    difference (zero at the first step), standardised over the training steps.
    """

    name = "whitened raw + difference quantile W2"

    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        super().fit(X, y, seed)
        whitened = to_network_input(check_sequences(X), *self.whitening_)
        self.mean_, self.std_ = channel_statistics(with_first_differences(whitened))

    def represent(self, X: Sequences) -> np.ndarray:
        whitened = to_network_input(check_sequences(X), *self.whitening_)
        return raw_quantile_features(
            with_first_differences(whitened), self.mean_, self.std_
        )


class WhitenedUnitsDifferencesQuantileMethod(WhitenedDifferencesQuantileMethod):
    """Untrained whitened channels in whitened units, and standardised slopes.

    As :class:`WhitenedDifferencesQuantileMethod`, but the whitened channels
    stay in the units the within-class whitening gives them (not divided by
    their total standard deviation); only the slopes are standardised: the
    whitening's own units of ``untrained_row_units.py`` (round 13 probe),
    the variant also tried trained.
    """

    name = "whitened-unit raw + difference quantile W2"

    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        super().fit(X, y, seed)
        channels = len(self.whitening_[0])
        self.mean_[:channels], self.std_[:channels] = 0.0, 1.0


class WhitenedMultiscaleDifferencesQuantileMethod(WhitenedRawQuantileMethod):
    """Untrained whitened channels and their increments at several lags.

    The kept rows of ``include_differences="multiscale"`` without training
    or row weights: each whitened channel and its increments at the lags
    ``lags(median training length)`` (by default
    :func:`~sklearn_wdist.nn.multiscale_difference_lags`), every row
    standardised over the training steps. ``name`` and ``lags`` name and
    make other lag sets (``untrained_lags.py``).
    """

    name = "whitened raw + multiscale difference quantile W2"

    def __init__(
        self,
        name: str | None = None,
        lags: Callable[[float], Sequence[int]] = multiscale_difference_lags,
    ) -> None:
        if name is not None:
            self.name = name
        self.lags = lags

    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        super().fit(X, y, seed)
        whitened = to_network_input(check_sequences(X), *self.whitening_)
        self.lags_ = tuple(self.lags(float(np.median([x.shape[1] for x in whitened]))))
        self.mean_, self.std_ = channel_statistics(
            with_increments(whitened, self.lags_)
        )

    def represent(self, X: Sequences) -> np.ndarray:
        whitened = to_network_input(check_sequences(X), *self.whitening_)
        return raw_quantile_features(
            with_increments(whitened, self.lags_), self.mean_, self.std_
        )


def within_class_spread(R: np.ndarray, y: np.ndarray, n_rows: int) -> np.ndarray:
    """Mean squared W2 distance of each row over same-class pairs of ``R``.

    ``R`` holds flattened quantile embeddings of ``n_rows`` rows; every ordered
    pair of distinct sequences of one class enters (brute force).
    """
    Q = R.reshape(len(R), n_rows, -1)
    total, pairs = np.zeros(n_rows), 0
    for label in np.unique(y):
        members = Q[np.asarray(y) == label]
        if len(members) < 2:
            continue
        squared = ((members[:, None] - members[None]) ** 2).sum(axis=-1)
        total += squared.sum(axis=(0, 1))
        pairs += len(members) * (len(members) - 1)
    return total / max(pairs, 1)


def spread_row_weights(spread: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``sqrt(mean(s) / s_k)`` on ``rows`` (a boolean mask) with spread, else 1."""
    weights = np.ones(len(spread))
    chosen = spread[rows]
    positive = chosen > 0
    reference = chosen[positive].mean() if positive.any() else 1.0
    weights[rows] = np.where(
        positive, np.sqrt(reference / np.where(positive, chosen, 1.0)), 1.0
    )
    return weights


class WeightedWhitenedDifferencesQuantileMethod(WhitenedDifferencesQuantileMethod):
    """The untrained rows of the default, weighted as the default weights them.

    Each row (a whitened channel or its slopes) is scaled by
    ``sqrt(mean(s) / s_k)``, ``s_k`` its mean squared W2 distance over pairs of
    training sequences of one class: the embedder's
    ``input_row_weighting="within_class"``, computed here by brute force.
    """

    name = "weighted whitened raw + difference quantile W2"

    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        super().fit(X, y, seed)
        R = super().represent(X)
        n_rows = len(self.mean_)
        spread = within_class_spread(R, y, n_rows)
        weights = spread_row_weights(spread, np.ones(n_rows, dtype=bool))
        self.scale_ = np.repeat(weights, R.shape[1] // n_rows)

    def represent(self, X: Sequences) -> np.ndarray:
        return super().represent(X) * self.scale_


class DTWMethod(Method):
    """1-NN under full-window DTW (aeon); the evaluation step does all the work."""

    name = "1-NN DTW"
    deterministic = True

    def fit(self, X: Sequences, y: np.ndarray, seed: int | None) -> None:
        return None

    def represent(self, X: Sequences) -> Sequences:
        return X

    def test_accuracy(
        self,
        R_train: Sequences,
        y_train: np.ndarray,
        R_test: Sequences,
        y_test: np.ndarray,
        evaluation: str | None = None,
    ) -> float:
        knn = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw")
        return float(knn.fit(R_train, y_train).score(R_test, y_test))

    def distance_matrix(
        self, A: Sequences, B: Sequences | None = None, evaluation: str | None = None
    ) -> np.ndarray:
        return dtw_pairwise_distance(A, B)


class MiniRocketMethod(Method):
    """aeon's MiniRocketClassifier (10,000 kernels, ridge); accuracy only.

    Unequal-length collections are zero-padded at the end to ``pad_length`` (the
    longest sequence over both official splits) with aeon's ``Padder``.
    """

    name = "MiniRocket"
    supports_unseen = False

    def __init__(self, pad_length: int = 0) -> None:
        self.pad_length = pad_length

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
        evaluation: str | None = None,
    ) -> float:
        return float(self.classifier_.score(R_test, y_test))


# --------------------------------------------------------------------------- #
# The harness
# --------------------------------------------------------------------------- #
def run_one(method: Method, task: Task, seed: int | None) -> list[Record]:
    """Fit once, represent once, then one record per evaluation of the fit."""
    _, fit_s = timed(method.fit, task.X_train, task.y_train, seed)
    if task.evaluation == "accuracy":
        (R_train, R_eval), transform_s = timed(
            lambda: (method.represent(task.X_train), method.represent(task.X_eval))
        )
    else:
        R_eval, transform_s = timed(method.represent, task.X_eval)
    records = []
    for evaluation in method.evaluations_for(task.evaluation):
        if task.evaluation == "accuracy":
            accuracy, evaluate_s = timed(
                method.test_accuracy,
                R_train,
                task.y_train,
                R_eval,
                task.y_eval,
                evaluation,
            )
            scores = {"accuracy": accuracy}
        else:
            D, evaluate_s = timed(method.square_distances, R_eval, evaluation)
            scores = verification_scores(D, task.y_eval)
        shares_fit = evaluation != method.name
        records.append(
            dict(
                protocol=task.protocol,
                dataset=task.dataset,
                method=evaluation,
                seed=seed,
                scores=scores,
                fit_s=0.0 if shares_fit else fit_s,
                transform_s=0.0 if shares_fit else transform_s,
                evaluate_s=evaluate_s,
                shares_fit=shares_fit,
            )
        )
    return records


def describe(record: Record) -> str:
    """One log line for a record."""
    shown = " ".join(f"{k}={v:.4f}" for k, v in record["scores"].items())
    return (
        f"  [{record['protocol']}] {record['dataset']} | {record['method']} | "
        f"seed={record['seed']} | fit={record['fit_s']:.1f}s "
        f"transform={record['transform_s']:.2f}s "
        f"evaluate={record['evaluate_s']:.2f}s | {shown}"
    )


def run_task(
    task: Task,
    methods: Iterable[Method],
    seeds: Sequence[int],
    log: Callable[[str], None] = print,
) -> list[Record]:
    """All methods on one task: random methods per seed, deterministic ones once.

    Raises ``ValueError`` if two evaluations would be reported under one name.
    """
    methods = list(methods)
    names = [name for method in methods for name in method.evaluations]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"methods reported under the same name: {repeated}")
    log(
        f"[{task.protocol}] {task.dataset}: fit on {len(task.y_train)} "
        f"({len(np.unique(task.y_train))} classes), evaluate on "
        f"{len(task.y_eval)} ({len(np.unique(task.y_eval))} classes)"
    )
    unsupported = task.evaluation == "verification"
    runs = [
        (method, seed)
        for seed in seeds
        for method in methods
        if not method.deterministic and not (unsupported and not method.supports_unseen)
    ]
    runs += [(method, None) for method in methods if method.deterministic]
    records = []
    for method, seed in runs:
        for record in run_one(method, task, seed):
            log(describe(record))
            records.append(record)
    return records


# --------------------------------------------------------------------------- #
# Tables
# --------------------------------------------------------------------------- #
def distinct(values: Iterable[Any]) -> list[Any]:
    """Distinct values in order of first appearance (for presentation)."""
    return list(dict.fromkeys(values))


def select(records: Iterable[Record], **where: Any) -> list[Record]:
    """Return the records whose fields equal ``where``."""
    return [r for r in records if all(r[k] == v for k, v in where.items())]


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Lines of a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON."""
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n")


def _cell(records: Sequence[Record], score: str) -> str:
    if not records:
        return "n/a"
    values = np.array([r["scores"][score] for r in records], dtype=float)
    deterministic = all(r["seed"] is None for r in records)
    mark = DETERMINISTIC_MARK if deterministic else ""
    return f"{values.mean():.4f} +/- {values.std():.4f}{mark}"


def accuracy_table(records: Sequence[Record]) -> list[str]:
    """Tabulate 1-NN test accuracy (mean +/- std) of methods by datasets."""
    records = select(records, protocol="accuracy")
    datasets = distinct(r["dataset"] for r in records)
    rows = (
        [method]
        + [
            _cell(select(records, method=method, dataset=d), "accuracy")
            for d in datasets
        ]
        for method in distinct(r["method"] for r in records)
    )
    return markdown_table(["method", *datasets], rows)


def unseen_table(records: Sequence[Record]) -> list[str]:
    """Tabulate the unseen-class scores of methods by (dataset, score)."""
    records = select(records, protocol="unseen")
    datasets = distinct(r["dataset"] for r in records)
    header = ["method"] + [
        f"{d} {SCORES[key].label} "
        + ("(higher better)" if SCORES[key].higher_is_better else "(lower better)")
        for d in datasets
        for key in VERIFICATION_SCORES
    ]
    rows = (
        [method]
        + [
            _cell(select(records, method=method, dataset=d), key)
            for d in datasets
            for key in VERIFICATION_SCORES
        ]
        for method in distinct(r["method"] for r in records)
    )
    return markdown_table(header, rows)


def _median(records: Sequence[Record], key: str) -> str:
    return f"{statistics.median(r[key] for r in records):.2f}"


def timing_table(records: Sequence[Record]) -> list[str]:
    """Tabulate median fit, transform and evaluation time per task, method."""
    rows = []
    for protocol in distinct(r["protocol"] for r in records):
        chosen = select(records, protocol=protocol, shares_fit=False)
        for dataset in distinct(r["dataset"] for r in chosen):
            for method in distinct(r["method"] for r in chosen):
                cell = select(chosen, dataset=dataset, method=method)
                if cell:
                    rows.append(
                        [protocol, dataset, method, str(len(cell))]
                        + [_median(cell, k) for k in ("fit_s", "transform_s")]
                        + [_median(cell, "evaluate_s")]
                    )
    header = ["protocol", "dataset", "method", "runs", "fit (s)", "transform (s)"]
    return markdown_table([*header, "evaluate (s)"], rows)


def _paired_differences(
    records: Sequence[Record], method: str, baseline: str, score: str
) -> np.ndarray:
    """Per-seed ``method - baseline`` for the seeds both ran with."""
    ours = {r["seed"]: r["scores"][score] for r in select(records, method=method)}
    theirs = {r["seed"]: r["scores"][score] for r in select(records, method=baseline)}
    seeds = sorted(set(ours) & set(theirs), key=str)
    return np.array([ours[s] - theirs[s] for s in seeds], dtype=float)


def claim_rows(
    records: Sequence[Record], comparisons: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Paired differences for every (method, baseline) comparison and task."""
    out = []
    tasks = distinct((r["protocol"], r["dataset"]) for r in records)
    for protocol, dataset in tasks:
        task = select(records, protocol=protocol, dataset=dataset)
        scores = distinct(key for r in task for key in r["scores"])
        for method, baseline in comparisons:
            for key in scores:
                diff = _paired_differences(task, method, baseline, key)
                if diff.size:
                    up = SCORES[key].higher_is_better
                    wins = int(((diff > 0) if up else (diff < 0)).sum())
                    out.append(
                        dict(
                            protocol=protocol,
                            dataset=dataset,
                            comparison=f"{method} - {baseline}",
                            score=SCORES[key].label,
                            higher_is_better=up,
                            mean=float(diff.mean()),
                            std=float(diff.std()),
                            wins=wins,
                            ties=int((diff == 0).sum()),
                            n=int(diff.size),
                        )
                    )
    return out


def claim_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Tabulate :func:`claim_rows`."""
    header = ["protocol", "dataset", "comparison", "score", "difference"]
    return markdown_table(
        [*header, "seeds: first better / tie / worse"],
        (
            [
                r["protocol"],
                r["dataset"],
                r["comparison"],
                r["score"] + ("" if r["higher_is_better"] else " (lower better)"),
                f"{r['mean']:+.4f} +/- {r['std']:.4f}",
                f"{r['wins']} / {r['ties']} / {r['n'] - r['wins'] - r['ties']}",
            ]
            for r in rows
        ),
    )


# --------------------------------------------------------------------------- #
# Plots
# --------------------------------------------------------------------------- #
def _colors(records: Iterable[Record]) -> dict[str, str]:
    """One matplotlib colour per method, the same in every plot of a run."""
    methods = distinct(r["method"] for r in records)
    return {m: f"C{i % 10}" for i, m in enumerate(methods)}


def _grouped_bars(
    ax: Any,
    records: Sequence[Record],
    value: Callable[[Record], float],
    groups: dict[str, Callable[[Record], bool]],
    colors: dict[str, str],
) -> None:
    """Bars of mean ``value`` per method within each group, std error bars."""
    methods = [m for m in colors if select(records, method=m)]
    width = 0.8 / max(1, len(methods))
    x = np.arange(len(groups))
    for i, method in enumerate(methods):
        cells = [
            np.array([value(r) for r in select(records, method=method) if keep(r)])
            for keep in groups.values()
        ]
        mean = [c.mean() if c.size else np.nan for c in cells]
        std = [c.std() if c.size else 0.0 for c in cells]
        ax.bar(
            x + i * width,
            mean,
            width,
            yerr=std,
            capsize=2,
            label=method,
            color=colors[method],
        )
    ax.set_xticks(x + width * (len(methods) - 1) / 2, list(groups))


def _dataset_groups(
    records: Sequence[Record],
) -> dict[str, Callable[[Record], bool]]:
    return {
        d: (lambda r, d=d: r["dataset"] == d)
        for d in distinct(r["dataset"] for r in records)
    }


def _save(fig: Any, ax: Any, path: Path) -> None:
    """Put one legend below the plot and write the PNG."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_accuracy(records: Sequence[Record], path: Path) -> None:
    """Plot grouped bars of test accuracy with std error bars."""
    colors = _colors(records)
    chosen = select(records, protocol="accuracy")
    fig, ax = plt.subplots(figsize=(10, 5))
    _grouped_bars(
        ax, chosen, lambda r: r["scores"]["accuracy"], _dataset_groups(chosen), colors
    )
    ax.set_title("1-NN test accuracy, official split (mean +/- std over seeds)")
    ax.set_ylim(0, 1.05)
    _save(fig, ax, path)


def plot_unseen(records: Sequence[Record], path: Path) -> None:
    """Plot one panel per verification score, grouped bars, std error bars."""
    colors = _colors(records)
    chosen = select(records, protocol="unseen")
    fig, axes = plt.subplots(1, len(VERIFICATION_SCORES), figsize=(15, 5))
    panels = dict(zip(VERIFICATION_SCORES, axes, strict=True))
    for key, ax in panels.items():
        _grouped_bars(
            ax, chosen, lambda r, k=key: r["scores"][k], _dataset_groups(chosen), colors
        )
        better = "higher" if SCORES[key].higher_is_better else "lower"
        ax.set_title(f"unseen classes: {SCORES[key].label} ({better} better)")
    _save(fig, panels[VERIFICATION_SCORES[0]], path)


def plot_timings(records: Sequence[Record], path: Path) -> None:
    """Plot total time per method and task (log scale, std error bars)."""
    colors = _colors(records)
    chosen = [r for r in records if not r["shares_fit"]]
    groups = {
        f"{d}\n({p})": (lambda r, p=p, d=d: (r["protocol"], r["dataset"]) == (p, d))
        for p, d in distinct((r["protocol"], r["dataset"]) for r in chosen)
    }
    fig, ax = plt.subplots(figsize=(12, 5))
    _grouped_bars(
        ax,
        chosen,
        lambda r: r["fit_s"] + r["transform_s"] + r["evaluate_s"],
        groups,
        colors,
    )
    ax.set_yscale("log")
    ax.set_ylabel("fit + transform + evaluate (s)")
    ax.set_title("time per run (mean +/- std over seeds)")
    _save(fig, ax, path)


def plot_claims(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Plot the claims' paired differences, oriented so up = first better."""
    labels = [
        f"{r['dataset']} {r['score']}\n{r['comparison']}".replace(" - ", " vs ")
        for r in rows
    ]
    sign = np.array([1.0 if r["higher_is_better"] else -1.0 for r in rows])
    mean = sign * np.array([r["mean"] for r in rows])
    std = np.array([r["std"] for r in rows])
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(rows)), 6))
    ax.bar(np.arange(len(rows)), mean, yerr=std, capsize=2)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(rows)), labels, rotation=90, fontsize=6)
    ax.set_ylabel("gain of first over second")
    ax.set_title("paired by seed; EER sign flipped so that up is better")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
