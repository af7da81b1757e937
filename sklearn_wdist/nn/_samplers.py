"""Class-balanced batches for triplet training."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


def _class_codes(labels) -> np.ndarray:
    """Class code of every label, labels compared as Python values.

    Numbers and booleans are sorted, as ``numpy.unique`` sorts them; other
    labels (strings, mixed types, tuples) get codes in order of first
    appearance, so that ``1`` and ``"1"`` stay two classes (an array of both
    would hold two equal strings) and a tuple stays one label.
    """
    array = np.asarray(labels)
    if array.ndim == 1 and array.dtype.kind in "biuf":
        return np.unique(array, return_inverse=True)[1]
    codes: dict = {}
    values = labels.tolist() if hasattr(labels, "tolist") else list(labels)
    return np.array([codes.setdefault(v, len(codes)) for v in values], dtype=np.intp)


class ClassBalancedBatchSampler(Sampler[list[int]]):
    """Batches of ``P`` classes times ``S`` sequences each.

    Each batch draws ``classes_per_batch`` distinct classes, then
    ``samples_per_class`` distinct sequences of each (all of a class's sequences
    when it has fewer). All randomness comes from one seeded generator, so the
    same seed yields the same sequence of batches across epochs and runs.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Class label of each sequence.
    classes_per_batch : int
        ``P``; capped at the number of classes.
    samples_per_class : int
        ``S``.
    n_batches : int, optional
        Batches per epoch; by default enough to draw about ``n_samples``
        sequences, ``ceil(n_samples / (P * S))``.
    seed : int or numpy.random.Generator, optional
        Seed of the generator.

    Examples
    --------
    >>> sampler = ClassBalancedBatchSampler([0, 0, 1, 1, 2, 2], 2, 2, seed=0)
    >>> batches = list(sampler)
    >>> len(batches), [len(batch) for batch in batches]
    (2, [4, 4])
    """

    def __init__(
        self,
        labels,
        classes_per_batch: int,
        samples_per_class: int,
        n_batches: int | None = None,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        for name, value in (
            ("classes_per_batch", classes_per_batch),
            ("samples_per_class", samples_per_class),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value!r}.")
        inverse = _class_codes(labels)
        if len(inverse) == 0:
            raise ValueError("labels is empty: there is nothing to sample.")
        n_classes = int(inverse.max()) + 1
        self._members = [np.flatnonzero(inverse == c) for c in range(n_classes)]
        self.classes_per_batch = min(classes_per_batch, n_classes)
        self.samples_per_class = samples_per_class
        if n_batches is None:
            n_batches = math.ceil(
                len(labels) / (self.classes_per_batch * samples_per_class)
            )
        self.n_batches = max(1, n_batches)
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(self.n_batches):
            chosen = self._rng.choice(
                len(self._members), self.classes_per_batch, replace=False
            )
            batch: list[int] = []
            for c in chosen:
                members = self._members[c]
                take = min(self.samples_per_class, len(members))
                batch.extend(self._rng.choice(members, take, replace=False).tolist())
            yield batch
