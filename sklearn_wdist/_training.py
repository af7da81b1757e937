"""skorch plumbing: datasets of variable-length sequences, batching, callbacks."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from skorch.callbacks import Callback
from torch.utils.data import Dataset

from ._pairwise import pairwise_wasserstein
from .metrics import mean_average_precision_at_r


@contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run the block with ``n_threads`` intra-op PyTorch threads, then restore."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


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


def embed_sequences(
    net, sequences: list[np.ndarray], scale: float, n_threads: int | None
) -> np.ndarray:
    """Flattened, scaled embeddings of ``sequences`` with the net's current weights.

    Sequences are batched in order of length, so batches carry little padding;
    the result is returned in the input order.
    """
    order = np.argsort([s.shape[-1] for s in sequences], kind="stable")
    dataset = SequenceDataset([sequences[i] for i in order])
    with torch_threads(n_threads):
        quantiles = net.forward(dataset, training=False).numpy()
    out = np.empty_like(quantiles)
    out[order] = quantiles
    return out.reshape(len(sequences), -1) * np.float32(scale)


class RetrievalValidation(Callback):
    """Score held-out sequences with MAP@R after every epoch, recorded in history.

    Parameters
    ----------
    sequences : list of ndarray
        Validation sequences.
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
    """

    def __init__(self, sequences, codes, p, scale, n_threads, name):
        self.sequences = sequences
        self.codes = codes
        self.p = p
        self.scale = scale
        self.n_threads = n_threads
        self.name = name

    def on_epoch_end(self, net, **kwargs):
        """Record the validation MAP@R of this epoch."""
        embeddings = embed_sequences(net, self.sequences, self.scale, self.n_threads)
        distances = pairwise_wasserstein(embeddings, p=self.p)
        net.history.record(
            self.name, float(mean_average_precision_at_r(distances, self.codes))
        )
