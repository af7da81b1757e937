"""Validation and conversion of sequence collections (DESIGN section 2)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["check_sequences", "from_tslearn"]


def _as_numeric_array(value, name: str) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu()
    if hasattr(value, "toarray") or type(value).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{name} is a sparse matrix; sequences must be dense arrays.")
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(
            f"{name} could not be converted to an array: {error}"
        ) from error
    if array.dtype == object:
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{name} must contain numbers, got values of type object that "
                f"cannot be converted to float: {error}"
            ) from error
    if array.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {name} has dtype {array.dtype}; "
            "sequences must be real-valued."
        )
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must contain numbers, got dtype {array.dtype}.")
    return array


def _check_finite(sequence: np.ndarray, name: str) -> None:
    if not np.isfinite(sequence).all():
        bad = "NaN" if np.isnan(sequence).any() else "infinity"
        raise ValueError(
            f"{name} contains {bad}; sequences must be finite. For NaN-padded "
            "tslearn arrays use sklearn_wdist.from_tslearn."
        )


def check_sequences(
    X, *, name: str = "X", n_channels: int | None = None, dtype=np.float32
) -> list[np.ndarray]:
    """Validate a collection of sequences and return it as a list of arrays.

    Accepted layouts (DESIGN section 2):

    - a 3-D array ``(n_sequences, n_channels, n_timepoints)``;
    - a 2-D array ``(n_sequences, n_timepoints)`` of univariate sequences;
    - a list (or tuple) of 2-D arrays ``(n_channels, n_timepoints_i)`` of unequal
      lengths; 1-D items are univariate sequences.

    Parameters
    ----------
    X : array-like or list of array-like
        The sequences.
    name : str, default="X"
        Name of the parameter, used in error messages.
    n_channels : int, optional
        If given, every sequence must have this many channels (the number seen
        during ``fit``).
    dtype : numpy dtype, default=numpy.float32
        Floating dtype of the returned arrays.

    Returns
    -------
    sequences : list of ndarray of shape (n_channels, n_timepoints_i)
        C-contiguous arrays of ``dtype``; for an input array, views where possible.

    Raises
    ------
    TypeError
        For non-numeric, complex or sparse input.
    ValueError
        For a wrong number of dimensions, an empty collection or sequence, a
        channel count that differs between sequences or from ``n_channels``, and
        NaN or infinite values.

    Examples
    --------
    >>> import numpy as np
    >>> sequences = check_sequences([np.ones((2, 5)), np.zeros((2, 3))])
    >>> [s.shape for s in sequences]
    [(2, 5), (2, 3)]
    >>> check_sequences(np.zeros((4, 7)))[0].shape
    (1, 7)
    """
    if X is None:
        raise ValueError(f"{name} is None; expected a collection of sequences.")
    if isinstance(X, str | bytes):
        raise TypeError(f"{name} must be a collection of sequences, got a string.")
    input_dtype = getattr(X, "dtype", None)
    if (
        isinstance(input_dtype, np.dtype)
        and input_dtype.kind == "O"
        and np.ndim(X) == 1
    ):
        # A 1-D object array or pandas Series of arrays (aeon/sktime nested form).
        X = list(X)
    if isinstance(X, Sequence) and not isinstance(X, np.ndarray):
        if len(X) == 0:
            raise ValueError(f"{name} is empty: found 0 sequences.")
        sequences = []
        for index, item in enumerate(X):
            item_name = f"{name}[{index}]"
            array = _as_numeric_array(item, item_name)
            if array.ndim == 1:
                array = array[None, :]
            elif array.ndim != 2:
                raise ValueError(
                    f"{item_name} must be a 2-D array (n_channels, n_timepoints) "
                    f"or a 1-D univariate sequence, got {array.ndim} dimensions."
                )
            sequences.append(array)
    else:
        array = _as_numeric_array(X, name)
        if array.ndim == 2:
            array = array[:, None, :]
        elif array.ndim != 3:
            hint = (
                " Reshape your data: a single univariate sequence x is "
                "x.reshape(1, -1)."
                if array.ndim == 1
                else ""
            )
            raise ValueError(
                f"{name} must be a 3-D array (n_sequences, n_channels, n_timepoints), "
                "a 2-D array (n_sequences, n_timepoints) or a list of 2-D arrays, "
                f"got an array with {array.ndim} dimension(s) of shape "
                f"{array.shape}.{hint}"
            )
        if array.shape[0] == 0:
            raise ValueError(
                f"{name} is empty: found 0 sequences, shape {array.shape}."
            )
        if array.shape[-1] == 0:
            raise ValueError(
                f"{name} holds empty sequences (0 time points): found array with "
                f"0 feature(s) (shape={array.shape[:1] + array.shape[2:]}) while a "
                "minimum of 1 is required."
            )
        sequences = list(array)

    expected = n_channels if n_channels is not None else sequences[0].shape[0]
    result = []
    for index, sequence in enumerate(sequences):
        item_name = f"{name}[{index}]"
        channels, length = sequence.shape
        if channels == 0:
            raise ValueError(f"{item_name} has 0 channels.")
        if length == 0:
            raise ValueError(f"{item_name} is an empty sequence (0 time points).")
        if channels != expected:
            origin = "seen during fit" if n_channels is not None else f"of {name}[0]"
            raise ValueError(
                f"{item_name} has {channels} channel(s), but {expected} "
                f"channel(s) were expected (the number {origin})."
            )
        _check_finite(sequence, item_name)
        if (
            sequence.dtype.kind == "f"
            and sequence.dtype.itemsize > np.dtype(dtype).itemsize
            and np.abs(sequence).max() > np.finfo(dtype).max
        ):
            raise ValueError(
                f"{item_name} has values beyond the {np.dtype(dtype).name} range "
                f"(|x| > {np.finfo(dtype).max:.3g}); rescale the data."
            )
        sequence = np.ascontiguousarray(sequence, dtype=dtype)
        result.append(sequence)
    return result


def check_sequence_labels(y, n_sequences: int, *, min_per_class: int = 2) -> np.ndarray:
    """Validate class labels for triplet training.

    Parameters
    ----------
    y : array-like of shape (n_sequences,)
        Hashable class labels.
    n_sequences : int
        Number of sequences in ``X``.
    min_per_class : int, default=2
        Smallest class size a triplet needs (an anchor and a positive).

    Returns
    -------
    y : ndarray of shape (n_sequences,)

    Examples
    --------
    >>> check_sequence_labels(["a", "b", "a", "b"], 4)
    array(['a', 'b', 'a', 'b'], dtype='<U1')
    """
    if y is None:
        raise ValueError(
            "This estimator requires y to be passed, but the target y is None: "
            "triplet training needs class labels."
        )
    labels = np.asarray(y, dtype=object)
    if labels.ndim == 1:
        # np.asarray would turn [1, "1"] into ["1", "1"]: one class, silently.
        is_text = {isinstance(v, str | bytes) for v in labels}
        if len(is_text) == 2:
            raise ValueError(
                "y mixes string and non-string labels, which would be merged when "
                "converted to one array (1 and '1' would become one class)."
            )
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        raise ValueError(
            "y must be 1-D (n_sequences,), got a column vector of shape "
            f"{y.shape}; use y.ravel()."
        )
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_sequences,), got shape {y.shape}.")
    if len(y) != n_sequences:
        raise ValueError(
            f"y has {len(y)} labels but X has {n_sequences} sequences; "
            "they must have the same length."
        )
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinity.")
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise ValueError(
            f"y has 1 class ({classes[0]!r}) but triplet training needs at least "
            "2 classes: negatives come from other classes."
        )
    small = classes[counts < min_per_class]
    if len(small):
        raise ValueError(
            f"y has classes with fewer than {min_per_class} sequences, too few for "
            f"a triplet (an anchor and a positive): {small[:5].tolist()!r}."
        )
    return y


def from_tslearn(X) -> list[np.ndarray]:
    """Convert a tslearn dataset to a list of ``(n_channels, n_timepoints_i)`` arrays.

    tslearn stores a collection as one array ``(n_sequences, sz, d)`` in which
    shorter sequences are padded with trailing NaN. Each sequence is transposed to
    the channels-first layout and its trailing all-NaN steps are removed.

    Parameters
    ----------
    X : array-like of shape (n_sequences, sz, d) or (n_sequences, sz)
        A tslearn time-series dataset; a 2-D array is read as ``d = 1``.

    Returns
    -------
    sequences : list of ndarray of shape (d, n_timepoints_i)

    Raises
    ------
    ValueError
        If ``X`` has the wrong number of dimensions, a sequence is all NaN, or a
        NaN appears before the end of a sequence (only trailing padding is allowed).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[[1.0], [2.0], [3.0]], [[4.0], [5.0], [np.nan]]])
    >>> [s.tolist() for s in from_tslearn(X)]
    [[[1.0, 2.0, 3.0]], [[4.0, 5.0]]]
    """
    array = _as_numeric_array(X, "X").astype(np.float64, copy=False)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(
            "X must be a tslearn dataset of shape (n_sequences, sz, d), got "
            f"{array.ndim} dimension(s)."
        )
    if array.shape[0] == 0:
        raise ValueError("X is empty: found 0 sequences.")
    sequences = []
    for index, sequence in enumerate(array):
        missing = np.isnan(sequence).all(axis=1)
        length = (
            len(missing) - int(np.argmin(missing[::-1])) if not missing.all() else 0
        )
        if length == 0:
            raise ValueError(f"X[{index}] is all NaN: an empty sequence.")
        if np.isnan(sequence[:length]).any():
            raise ValueError(
                f"X[{index}] has NaN before its end; only trailing NaN padding "
                "is allowed."
            )
        sequences.append(np.ascontiguousarray(sequence[:length].T))
    return sequences
