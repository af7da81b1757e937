"""Loader of the JapaneseVowels data set shipped with the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import StrOptions, validate_params

__all__ = ["load_japanese_vowels"]

_DATA_FILE = "japanese_vowels.npz"

# The archive gives every value with six decimals; storing them as integers in
# millionths keeps them exactly and compresses better than float32.
_SCALE = 1_000_000


def _data_file():
    """Return the shipped archive as an importlib resource (works from a zip)."""
    return resources.files("sklearn_wdist.datasets").joinpath("data", _DATA_FILE)


@validate_params(
    {"split": [StrOptions({"train", "test", "all"})]},
    prefer_skip_nested_validation=True,
)
def load_japanese_vowels(split: str = "train") -> tuple[list[np.ndarray], np.ndarray]:
    """Load the JapaneseVowels speaker recognition data set (UCI).

    Nine male Japanese speakers uttered the vowels /ae/ in succession; each
    utterance was cut into frames and every frame analysed by 12th-order
    linear prediction, giving a multivariate sequence of 12 LPC cepstrum
    coefficients with 7 to 29 frames. The task is to tell the speaker (labels
    ``"1"`` to ``"9"``).

    ================= ================================================
    sequences         270 (train, 30 per speaker), 370 (test, 24 to 88
                      per speaker), 640 in all
    channels          12
    length            7 to 26 frames (train), 7 to 29 (test)
    classes           9 speakers, labels ``"1"`` to ``"9"``
    ================= ================================================

    The data ship with the package (``sklearn_wdist/datasets/data``, about
    370 kB), so nothing is downloaded. The values are the six-decimal values of
    the UCR/UEA archive's copy, as distributed with aeon.

    Parameters
    ----------
    split : {"train", "test", "all"}, default="train"
        The original training split, the original test split, or both (the
        training recordings first).

    Returns
    -------
    X : list of ndarray of shape (12, n_timepoints_i), float32
        The recordings, channels first.
    y : ndarray of shape (n_sequences,), str
        The speaker of each recording.

    See Also
    --------
    make_shape_sequences : Synthetic variable-length sequences.

    Notes
    -----
    Source: UCI Machine Learning Repository,
    https://archive.ics.uci.edu/ml/datasets/Japanese+Vowels, donated by
    M. Kudo, J. Toyama and M. Shimbo; this copy comes from the UEA
    multivariate time series classification archive
    (https://timeseriesclassification.com) as shipped with aeon. Licence:
    Creative Commons Attribution 4.0 International (CC BY 4.0),
    https://creativecommons.org/licenses/by/4.0/. Cite reference [1] when you
    use the data.

    References
    ----------
    .. [1] M. Kudo, J. Toyama and M. Shimbo, "Multidimensional curve
       classification using passing-through regions", Pattern Recognition
       Letters, 20(11-13):1103-1111, 1999.
    .. [2] A. Bagnall et al., "The UEA multivariate time series classification
       archive, 2018", arXiv:1811.00075, 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_wdist.datasets import load_japanese_vowels
    >>> X, y = load_japanese_vowels(split="train")
    >>> len(X), X[0].shape, X[0].dtype
    (270, (12, 20), dtype('float32'))
    >>> np.unique(y).tolist()
    ['1', '2', '3', '4', '5', '6', '7', '8', '9']
    >>> X_test, y_test = load_japanese_vowels(split="test")
    >>> len(X_test), min(x.shape[1] for x in X_test), max(x.shape[1] for x in X_test)
    (370, 7, 29)
    """
    with (
        resources.as_file(_data_file()) as path,
        np.load(path, allow_pickle=False) as data,
    ):
        values = data["values"]
        lengths = data["lengths"]
        labels = data["labels"]
        n_train = int(data["n_train"])
    # Divide in float64 (as the archive's text was parsed), then round once.
    values = (values / _SCALE).astype(np.float32)
    X = np.split(values, np.cumsum(lengths)[:-1], axis=1)
    X = [np.ascontiguousarray(x) for x in X]
    selected = {
        "train": slice(0, n_train),
        "test": slice(n_train, None),
        "all": slice(None),
    }[split]
    return X[selected], labels[selected].copy()


def _build_data_file(path: str | Path | None = None) -> Path:
    """Write the shipped ``.npz`` from aeon's copy of JapaneseVowels.

    Run once by the maintainers (aeon must be installed); the result is the
    file :func:`load_japanese_vowels` reads.

    Parameters
    ----------
    path : str or Path, optional
        Where to write; defaults to the package's data folder.

    Returns
    -------
    path : Path
        The file written.
    """
    from aeon.datasets import load_classification

    if path is None:
        path = Path(__file__).resolve().parent / "data" / _DATA_FILE
    path = Path(path)
    X_train, y_train = load_classification("JapaneseVowels", split="train")
    X_test, y_test = load_classification("JapaneseVowels", split="test")
    sequences = list(X_train) + list(X_test)
    values = np.concatenate(sequences, axis=1)
    micro = np.round(values * _SCALE)
    if not np.array_equal(micro / _SCALE, values):
        raise ValueError("JapaneseVowels values are not multiples of 1e-6.")
    np.savez_compressed(
        path,
        values=micro.astype(np.int32),
        lengths=np.asarray([s.shape[1] for s in sequences], dtype=np.int32),
        labels=np.concatenate([y_train, y_test]).astype(str),
        n_train=np.int32(len(X_train)),
    )
    return path
