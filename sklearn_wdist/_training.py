"""skorch plumbing: datasets of variable-length sequences, batching, callbacks."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from skorch.callbacks import Callback
from torch.utils.data import Dataset


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


class ValidationScoring(Callback):
    """Score a held-out set at the end of every epoch and record it in history.

    Parameters
    ----------
    embed : callable
        ``embed(net) -> ndarray (n_valid, n_outputs)``: embeddings of the
        validation sequences with the current weights.
    score : callable
        ``score(embeddings) -> float``, higher is better.
    name : str
        History key under which the score is recorded.
    """

    def __init__(
        self,
        embed: Callable[[object], np.ndarray],
        score: Callable[[np.ndarray], float],
        name: str,
    ) -> None:
        self.embed = embed
        self.score = score
        self.name = name

    def on_epoch_end(self, net, **kwargs):
        """Record the validation score of this epoch."""
        net.history.record(self.name, float(self.score(self.embed(net))))
