"""skorch plumbing and the one inference path.

- batching of variable-length sequences (:class:`SequenceDataset`,
  :func:`pad_batch`);
- :class:`SequenceNet`, the skorch net with the package's interrupt contract;
- the inference path shared by ``transform``, ``step_features``, ``score`` and
  the validation callback (:func:`embed_sequences`, :func:`sequence_step_features`,
  :func:`retrieval_score`);
- checks of a trained model (:func:`check_finite_module`) and of the training
  loss (:class:`StopOnNonFiniteLoss`);
- thread settings (:func:`torch_threads`) and private random generators
  (:func:`seeded_dropout`).
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ._pairwise import pairwise_wasserstein_chunked
from .metrics._retrieval import map_at_r_of_row_blocks
from .nn import SeededDropout

# Embeddings are independent per sequence, so inference batches are sorted by
# length (little padding) and only bounded for memory: at most this many
# sequences, and at most _INFERENCE_STEPS padded time steps (16 MiB per
# 64-channel activation; a ten-block encoder peaked at about 165 MB with
# readout="last" and 550 MB with readout="all", which keeps every block's
# output, on 256 sequences of 256 steps). An
# encoder with more output rows than _REFERENCE_ROWS (many input channels kept
# with their increments) gets proportionally fewer steps, so that the rows
# pooled at once stay within the same bound.
INFERENCE_BATCH_SIZE = 256
_INFERENCE_STEPS = 1 << 16
_REFERENCE_ROWS = 64
# Intra-op threads above this are refused: PyTorch's pool fails (even
# crashes) far above any machine's cores.
MAX_THREADS = 1024


# --------------------------------------------------------------------------- #
# Threads and random generators
# --------------------------------------------------------------------------- #
# PyTorch keeps the intra-op thread count per Python thread, but a thread
# started later begins with the last value set in any thread. Blocks running at
# once in several threads therefore share one baseline: the count before the
# first of them began, which the last to end sets again.
_THREADS_LOCK = threading.Lock()
_threads_state = {"active": 0, "baseline": None}


@contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run the block with ``n_threads`` intra-op PyTorch threads, then restore.

    PyTorch keeps this setting per Python thread (OpenMP's thread count is
    per thread), so fits running in several threads each set their own, and
    each computes with the same number of threads as a serial fit. A thread
    started while such blocks run inherits the last count set; so that no
    block's count outlives the blocks, they share the count from before the
    first began: a block ending while others run sets its thread back to what
    it found, and the last to end restores that first count. ``None`` leaves
    the thread's setting as it is (in a thread started during another block,
    the count it inherited).
    """
    if n_threads is None:
        yield
        return
    if (
        isinstance(n_threads, bool)
        or not isinstance(n_threads, int | np.integer)
        or not 1 <= n_threads <= MAX_THREADS
    ):
        raise ValueError(
            f"The 'n_threads' parameter must be an int in the range "
            f"[1, {MAX_THREADS}] or None. Got {n_threads!r} instead."
        )
    with _THREADS_LOCK:
        if _threads_state["active"] == 0:
            _threads_state["baseline"] = torch.get_num_threads()
        _threads_state["active"] += 1
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _threads_state["active"] -= 1
            last = _threads_state["active"] == 0
            torch.set_num_threads(_threads_state["baseline"] if last else previous)


@contextmanager
def seeded_dropout(module: torch.nn.Module, generator: torch.Generator):
    """Lend ``generator`` to every :class:`~sklearn_wdist.nn.SeededDropout` inside."""
    layers = [m for m in module.modules() if isinstance(m, SeededDropout)]
    for layer in layers:
        layer.generator = generator
    try:
        yield
    finally:
        for layer in layers:
            layer.generator = None


# --------------------------------------------------------------------------- #
# Batching
# --------------------------------------------------------------------------- #
class SequenceDataset(Dataset):
    """Sequences of shape ``(C, T_i)`` with optional integer labels."""

    def __init__(self, sequences: list[np.ndarray], labels: np.ndarray | None = None):
        self.sequences = sequences
        self.labels = labels

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        label = -1 if self.labels is None else int(self.labels[index])
        return self.sequences[index], label


def pad_batch(batch: list[tuple[np.ndarray, int]]) -> tuple[dict, torch.Tensor]:
    """Collate sequences of unequal length into a padded batch.

    Returns ``({"x": (B, C, T_max) float tensor, "lengths": (B,)}, labels)``, the
    form skorch passes to the module as keyword arguments.
    """
    lengths = np.fromiter((seq.shape[-1] for seq, _ in batch), dtype=np.int64)
    first = batch[0][0]
    padded = np.zeros((len(batch), first.shape[0], lengths.max()), dtype=first.dtype)
    for row, (sequence, _) in enumerate(batch):
        padded[row, :, : sequence.shape[-1]] = sequence
    labels = torch.as_tensor([label for _, label in batch], dtype=torch.long)
    return {"x": torch.from_numpy(padded), "lengths": torch.from_numpy(lengths)}, labels


class AugmentingCollate:
    """Collate training sequences after random crops, scaling and jitter.

    All randomness comes from one generator seeded at construction, so the same
    seed gives the same augmented batches. Used for training batches only.

    Parameters
    ----------
    crop_fraction : float in (0, 1]
        Each sequence of length ``T`` is cut to a random contiguous crop of
        ``L`` steps, ``L`` uniform in ``[ceil(crop_fraction * T), T]``.
    scale_std : float
        Each sequence is multiplied by ``exp(s)``, ``s ~ N(0, scale_std**2)``.
    jitter_std : float
        Gaussian noise of ``jitter_std`` times each channel's standard
        deviation (over the sequence) is added to every step.
    seed : int
        Seed of the generator.
    """

    def __init__(
        self, crop_fraction: float, scale_std: float, jitter_std: float, seed: int
    ):
        self.crop_fraction = crop_fraction
        self.scale_std = scale_std
        self.jitter_std = jitter_std
        self.rng = np.random.default_rng(seed)

    def augment(self, sequence: np.ndarray) -> np.ndarray:
        """Return one random view of ``sequence`` (float32, never in place)."""
        length = sequence.shape[-1]
        if self.crop_fraction < 1.0:
            shortest = max(1, math.ceil(self.crop_fraction * length))
            kept = int(self.rng.integers(shortest, length + 1))
            start = int(self.rng.integers(0, length - kept + 1))
            sequence = sequence[:, start : start + kept]
        if self.scale_std > 0.0:
            sequence = sequence * np.float32(
                np.exp(self.rng.normal(0.0, self.scale_std))
            )
        if self.jitter_std > 0.0:
            # In float64: squaring float32 values beyond 1.8e19 overflows.
            spread = sequence.std(axis=1, keepdims=True, dtype=np.float64)
            spread = spread.astype(np.float32)
            noise = self.rng.standard_normal(sequence.shape).astype(np.float32)
            sequence = sequence + noise * (self.jitter_std * spread)
        return np.ascontiguousarray(sequence, dtype=np.float32)

    def __call__(
        self, batch: list[tuple[np.ndarray, int]]
    ) -> tuple[dict, torch.Tensor]:
        """Augment every sequence of ``batch``, then pad as :func:`pad_batch`."""
        return pad_batch([(self.augment(sequence), label) for sequence, label in batch])


# --------------------------------------------------------------------------- #
# Interrupts
# --------------------------------------------------------------------------- #
_sigint_count = 0


@contextmanager
def counting_sigint() -> Iterator[None]:
    """Count SIGINTs (Ctrl-C) that interrupt during the block; act as before.

    skorch's ``EarlyStopping`` stops training by raising ``KeyboardInterrupt``;
    the count tells a real Ctrl-C apart from it. Signal handlers can only be
    installed from the main thread; elsewhere nothing is counted (a SIGINT is
    delivered to the main thread anyway).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        # Only a SIGINT that interrupts counts: one the process ignores, or
        # whose handler returns, must not turn early stopping into a Ctrl-C.
        global _sigint_count
        if previous is signal.SIG_IGN:
            return
        if callable(previous):
            try:
                previous(signum, frame)
            except KeyboardInterrupt:
                _sigint_count += 1
                raise
            return
        _sigint_count += 1
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class TrainingInterrupted(Exception):
    """A ``KeyboardInterrupt`` during training, carried past skorch's handler.

    skorch's ``partial_fit`` swallows every ``KeyboardInterrupt`` and returns
    normally; this wrapper is not one, so it reaches the estimator, which
    re-raises the original interrupt with the previous fitted state untouched.
    """


def _raised_by_early_stopping(interrupt: KeyboardInterrupt) -> bool:
    frame_tb = interrupt.__traceback__
    if frame_tb is None:
        return False
    while frame_tb.tb_next is not None:
        frame_tb = frame_tb.tb_next
    frame = frame_tb.tb_frame
    return frame.f_code.co_name == "on_epoch_end" and isinstance(
        frame.f_locals.get("self"), EarlyStopping
    )


class SequenceNet(NeuralNet):
    """The skorch net of the embedder, with one change: interrupts propagate.

    skorch ends training quietly on any ``KeyboardInterrupt``, which is how its
    ``EarlyStopping`` stops, but it also swallows a user's Ctrl-C and returns a
    half-trained model as if nothing had happened. Here an interrupt raised by
    ``EarlyStopping`` at the end of an epoch still ends training normally; every
    other one (Ctrl-C, or raised by any other code) leaves the loop as
    :class:`TrainingInterrupted`.
    """

    def initialize(self):
        """Initialise as skorch does; mark the module and loss as device-bound.

        The module and loss are passed to the net as instances, so the init
        parameters ``module`` and ``criterion`` hold the same tensors as
        ``module_`` and ``criterion_``. Listing them among the CUDA-dependent
        attributes lets a model trained on a GPU be unpickled on a machine
        without one (skorch then maps them to the CPU).
        """
        super().initialize()
        extra = [
            name
            for name in ("module", "criterion")
            if name not in self.cuda_dependent_attributes_
        ]
        self.cuda_dependent_attributes_ = [*self.cuda_dependent_attributes_, *extra]
        return self

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """Run skorch's loop, letting only early stopping end it by interrupt."""
        sigints = _sigint_count
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt as interrupt:
            if _sigint_count == sigints and _raised_by_early_stopping(interrupt):
                raise
            raise TrainingInterrupted() from interrupt


# --------------------------------------------------------------------------- #
# Finite losses, weights and outputs
# --------------------------------------------------------------------------- #
class StopOnNonFiniteLoss(Callback):
    """Stop training with a clear error as soon as the loss is NaN or infinite."""

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        """Raise ``FloatingPointError`` on a non-finite training loss."""
        if not training or loss is None:
            return
        value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
        if not math.isfinite(value):
            epoch = len(net.history)
            raise FloatingPointError(
                f"The training loss became {value} in epoch {epoch}. The "
                "estimator was left unchanged; try a smaller lr, a smaller margin "
                "or standardised input."
            )


def check_finite_module(module: torch.nn.Module) -> None:
    """Raise ``FloatingPointError`` if a weight or buffer holds NaN or infinity."""
    for kind, tensors in (
        ("weight", module.named_parameters()),
        ("buffer", module.named_buffers()),
    ):
        for name, tensor in tensors:
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise FloatingPointError(
                    f"Training left NaN or infinity in the model's {kind} {name!r} "
                    "(a divergence, or activations that overflowed). The estimator "
                    "was left unchanged; try a smaller lr, input_whitening or "
                    "standardised input."
                )


def check_finite_embeddings(embeddings: np.ndarray, name: str) -> None:
    """Raise ``FloatingPointError`` if the model's output holds NaN or infinity."""
    if not np.isfinite(embeddings).all():
        rows = np.flatnonzero(
            ~np.isfinite(embeddings).all(axis=tuple(range(1, embeddings.ndim)))
        )
        raise FloatingPointError(
            f"The model's output for {name} holds NaN or infinity (sequences "
            f"{rows[:5].tolist()}): activations overflowed. Rescale the input or "
            "fit with input_whitening."
        )


# --------------------------------------------------------------------------- #
# The one inference path
# --------------------------------------------------------------------------- #
def _length_sorted_batches(
    sequences: list[np.ndarray],
    prepare: Callable | None = None,
    rows: int | None = None,
) -> Iterator[tuple[np.ndarray, dict]]:
    """Batches of index arrays and padded tensors, shortest sequences first.

    ``prepare(chunk_sequences, chunk_indices)`` turns the raw sequences of a
    batch into network input, one batch at a time, so that nothing but the
    output and one batch is held beside the caller's data. ``rows``: the
    encoder's output rows per step, when known (see ``_REFERENCE_ROWS``).
    """
    budget = _INFERENCE_STEPS
    if rows is not None and rows > _REFERENCE_ROWS:
        budget = max(1, _INFERENCE_STEPS * _REFERENCE_ROWS // rows)
    lengths = np.array([s.shape[-1] for s in sequences])
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        # Lengths grow along ``order``: the last sequence of a batch is its
        # longest, so the batch pads to count * that length.
        stop = start + 1
        while (
            stop < len(order)
            and stop - start < INFERENCE_BATCH_SIZE
            and (stop - start + 1) * lengths[order[stop]] <= budget
        ):
            stop += 1
        chunk = order[start:stop]
        members = [sequences[i] for i in chunk]
        if prepare is not None:
            members = prepare(members, chunk)
        batch, _ = pad_batch([(member, 0) for member in members])
        yield chunk, batch
        start = stop


@contextmanager
def _inference(module: torch.nn.Module, n_threads: int | None):
    # A fitted module stays in evaluation mode, and is then never switched:
    # switching back and forth would let concurrent calls in other threads run
    # (and update batch statistics) in training mode. Only a module in
    # training (the validation callback during fit) is switched, and back.
    was_training = module.training
    if was_training:
        module.eval()
    try:
        with torch.no_grad(), torch_threads(n_threads):
            yield
    finally:
        if was_training:
            module.train()


def module_device(module: torch.nn.Module) -> torch.device:
    """Device of the module's first parameter or buffer (CPU if it has none)."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def _output_rows(module: torch.nn.Module) -> int | None:
    """Rows per step of a built-in encoder's output; None for a user encoder."""
    rows = getattr(getattr(module, "encoder", None), "out_features", None)
    return rows if isinstance(rows, int) else None


def embed_sequences(
    module: torch.nn.Module,
    sequences: list[np.ndarray],
    scale: float,
    n_threads: int | None,
    prepare: Callable | None = None,
    verbose: int = 0,
) -> np.ndarray:
    """Flattened embeddings ``Q * scale`` of ``sequences``, in input order.

    The module runs in evaluation mode without gradients, on batches of
    sequences of similar length (little padding). Padding and the other
    sequences of a batch do not enter a sequence's embedding; only float32
    rounding may differ with the batch's shape (BLAS kernels), by about one
    unit in the last place. With ``prepare`` (see
    :func:`_length_sorted_batches`) the memory used beside the output is one
    batch; ``verbose`` shows a progress bar (sequences done).
    """
    device = module_device(module)
    out: np.ndarray | None = None
    with (
        _inference(module, n_threads),
        tqdm(total=len(sequences), unit="seq", disable=not verbose) as progress,
    ):
        for chunk, batch in _length_sorted_batches(
            sequences, prepare, _output_rows(module)
        ):
            pooled = module(batch["x"].to(device), batch["lengths"].to(device))
            pooled = pooled.reshape(len(chunk), -1).cpu().numpy()
            if out is None:
                out = np.empty((len(sequences), pooled.shape[1]), dtype=np.float32)
            out[chunk] = pooled
            progress.update(len(chunk))
    out *= np.float32(scale)
    return out


def sequence_step_features(
    module: torch.nn.Module,
    sequences: list[np.ndarray],
    n_threads: int | None,
    prepare: Callable | None = None,
) -> list[np.ndarray]:
    """Return the valid per-step features ``(K, T_i')`` of each sequence, in order."""
    device = module_device(module)
    features: list[np.ndarray] = [None] * len(sequences)  # type: ignore[list-item]
    with _inference(module, n_threads):
        for chunk, batch in _length_sorted_batches(
            sequences, prepare, _output_rows(module)
        ):
            h, lengths = module.step_features(
                batch["x"].to(device), batch["lengths"].to(device)
            )
            h = h.cpu().numpy()
            for row, (index, n) in enumerate(zip(chunk, lengths.tolist(), strict=True)):
                features[index] = h[row, :, :n]
    return features


def retrieval_score(
    embeddings: np.ndarray,
    codes: np.ndarray,
    p: int,
    gallery: np.ndarray | None = None,
    gallery_codes: np.ndarray | None = None,
) -> float:
    """MAP@R of the distance ``d_p``: each embedding queries all the others.

    With a ``gallery``, its rows join the ranked items but ask no query:
    held-out sequences are then ranked among the training sequences too, as
    a nearest-neighbour classifier ranks them. NaN when no query has another
    item of its class.
    """
    if gallery is not None and len(gallery):
        items = np.concatenate([embeddings, gallery])
        item_codes = np.concatenate([codes, gallery_codes])
    else:
        items, item_codes = embeddings, codes

    # Row blocks of the distance matrix (the same numbers as the whole
    # matrix), so that scoring n sequences never holds n x n distances.
    blocks = pairwise_wasserstein_chunked(embeddings, items, p=p)
    return map_at_r_of_row_blocks(blocks, np.asarray(item_codes), len(embeddings))


def stratified_sample(codes: np.ndarray, max_items: int) -> np.ndarray:
    """At most ``max_items`` sorted indices, evenly spaced in class order.

    Each class keeps about its share of ``max_items``; deterministic.
    """
    order = np.argsort(codes, kind="stable")
    if len(order) <= max_items:
        return np.sort(order)
    return np.sort(order[np.linspace(0, len(order) - 1, max_items).astype(int)])


class RetrievalValidation(Callback):
    """Score held-out sequences with MAP@R after every epoch, recorded in history.

    Each held-out sequence queries the other held-out sequences and the
    ``gallery`` (training sequences), so that a small validation set still
    gets a fine-grained score. An epoch whose score equals the best so far
    counts as a new best: when the score cannot tell two epochs apart, the
    later weights (more training) are kept.

    Parameters
    ----------
    sequences : list of ndarray
        Validation sequences (preprocessed, float32).
    codes : ndarray
        Their integer class labels.
    p : {1, 2}
        Order of the distance.
    scale : float
        Embedding scale ``M ** (-1/p)``.
    n_threads : int or None
        PyTorch intra-op threads while embedding.
    name : str
        History key.
    gallery : list of ndarray, default=None
        Training sequences ranked with the held-out ones (asking no query).
    gallery_codes : ndarray, default=None
        Their integer class labels.

    The sequences are dropped when training ends, so that the fitted model
    does not keep a copy of the training data.
    """

    def __init__(
        self,
        sequences,
        codes,
        p,
        scale,
        n_threads,
        name,
        gallery=None,
        gallery_codes=None,
    ):
        self.sequences = sequences
        self.codes = codes
        self.p = p
        self.scale = scale
        self.n_threads = n_threads
        self.name = name
        self.gallery = gallery
        self.gallery_codes = gallery_codes

    def on_train_begin(self, net, **kwargs):
        """Note where this fit's epochs start (a warm start extends history)."""
        self.first_epoch_ = len(net.history)

    def on_train_end(self, net, **kwargs):
        """Drop the sequences: a fitted model must not carry its training data."""
        self.sequences = self.codes = self.gallery = self.gallery_codes = None

    def on_epoch_end(self, net, **kwargs):
        """Record the validation MAP@R of this epoch."""
        embeddings = embed_sequences(
            net.module_, self.sequences, self.scale, self.n_threads
        )
        gallery = None
        if self.gallery is not None and len(self.gallery):
            gallery = embed_sequences(
                net.module_, self.gallery, self.scale, self.n_threads
            )
        finite = np.isfinite(embeddings).all() and (
            gallery is None or np.isfinite(gallery).all()
        )
        score = (
            retrieval_score(embeddings, self.codes, self.p, gallery, self.gallery_codes)
            if finite
            else float("nan")
        )
        # The best-so-far flag for Checkpoint(monitor=name + "_best") and
        # friends. Unlike skorch's EpochScoring, a tie is a new best (as for
        # LatestBestEarlyStopping), and only this fit's epochs count: a warm
        # start scores another split, and its stopper starts afresh too.
        previous = [
            epoch[self.name]
            for epoch in net.history[getattr(self, "first_epoch_", 0) : -1]
            if np.isfinite(epoch.get(self.name, np.nan))
        ]
        best = bool(np.isfinite(score) and (not previous or score >= max(previous)))
        net.history.record(self.name, score)
        net.history.record(self.name + "_best", best)


class LatestBestEarlyStopping(EarlyStopping):
    """skorch's ``EarlyStopping`` for which a score equal to the best improves.

    A flat validation score (a small validation set ranks the same way epoch
    after epoch) then never stops training, and the weights kept are those of
    the last epoch with the best score, not the first.
    """

    def _is_score_improved(self, score):
        if self.lower_is_better:
            return score <= self.dynamic_threshold_
        return score >= self.dynamic_threshold_

    def on_train_end(self, net, **kwargs):
        """Restore the best weights; nothing to do after ``max_epochs=0``."""
        if len(net.history) == 0:  # skorch's own reads the last epoch
            return
        super().on_train_end(net, **kwargs)
