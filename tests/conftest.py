"""Test data shared by several test modules."""

from __future__ import annotations

import numpy as np
import pytest


def _unequal_sequences(n_per_class=6, n_channels=2, seed=0):
    """Two classes of Gaussian sequences of 12-19 steps, scales 1 and 3.

    Returns a list of ``(n_channels, n_timepoints_i)`` arrays and string labels.
    """
    rng = np.random.default_rng(seed)
    X, y = [], []
    for label, scale in (("a", 1.0), ("b", 3.0)):
        for length in rng.integers(12, 20, size=n_per_class):
            X.append(scale * rng.normal(size=(n_channels, length)))
            y.append(label)
    return X, np.asarray(y)


@pytest.fixture
def unequal_sequences():
    """The unequal-length toy collection as ``f(n_per_class, n_channels, seed)``."""
    return _unequal_sequences


def _as_pd_multiindex(X, instances, columns=None):
    """Sequences ``(n_channels, n_timepoints_i)`` as a pd-multiindex frame.

    One block of rows per sequence, indexed by (its instance, 0..T-1), in the
    order given; ``columns`` names the channels.
    """
    import pandas as pd

    return pd.concat(
        pd.DataFrame(
            x.T,
            columns=columns,
            index=pd.MultiIndex.from_product([[instance], range(x.shape[1])]),
        )
        for instance, x in zip(instances, X, strict=True)
    )


@pytest.fixture
def as_pd_multiindex():
    """Sequences as a pd-multiindex frame: ``f(X, instances, columns=None)``."""
    return _as_pd_multiindex
