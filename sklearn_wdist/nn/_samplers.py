"""Class-balanced batches for triplet training."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler

from .._validation import check_labels


class ClassBalancedBatchSampler(Sampler[list[int]]):
    """Batches of ``P`` classes times ``S`` sequences each.

    Each batch draws ``classes_per_batch`` distinct classes, then
    ``samples_per_class`` distinct sequences of each (all of a class's sequences
    when it has fewer). All randomness comes from one seeded generator, so the
    same seed yields the same sequence of batches across epochs and runs.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Class label of each sequence, compared as Python values (``1`` and
        ``"1"`` are two classes, ``1`` and ``1.0`` one); None and NaN are
        refused.
    classes_per_batch : int
        ``P``; capped at the number of classes.
    samples_per_class : int
        ``S``.
    n_batches : int, optional
        Batches per epoch; by default enough to draw about ``n_samples``
        sequences, ``ceil(n_samples / (P * s))`` with ``s`` the mean over
        classes of ``min(S, class size)``, what a drawn class contributes.
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
        if len(labels) == 0:
            raise ValueError("labels is empty: there is nothing to sample.")
        _, inverse = check_labels(labels, len(labels), name="labels")
        order = np.argsort(inverse, kind="stable")
        sizes = np.bincount(inverse)
        self._members = np.split(order, np.cumsum(sizes)[:-1])
        self.classes_per_batch = min(classes_per_batch, len(sizes))
        self.samples_per_class = samples_per_class
        if n_batches is None:
            # Classes smaller than S give all they have: count what a batch
            # draws on average, not P * S.
            per_class = float(np.minimum(sizes, samples_per_class).mean())
            n_batches = math.ceil(len(labels) / (self.classes_per_batch * per_class))
        elif n_batches < 1:
            raise ValueError(f"n_batches must be at least 1, got {n_batches!r}.")
        self.n_batches = n_batches
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
