"""Every input check of the package, in one place.

- numbers: :func:`as_numeric_array`, :func:`check_finite`, :func:`check_p`,
  :func:`check_n_jobs`, :func:`check_working_memory`, :func:`check_int`;
- sequences and their containers: :func:`check_sequences`
  (arrays, lists, sktime's ``nested_univ`` and ``pd-multiindex`` DataFrames) and
  :func:`from_tslearn`;
- labels, with one policy: :func:`check_labels` (labels are compared as Python
  values, so ``1`` and ``"1"`` are two classes everywhere) and
  :func:`check_training_labels`;
- embeddings and distance matrices: :func:`check_embeddings` and
  :func:`check_distance_matrix` (behind ``check_precomputed_distances`` and the
  metrics).

Every error is a ``ValueError`` or ``TypeError`` that names the parameter.
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from sklearn import get_config

__all__ = [
    "DEFAULT_ORDER",
    "as_numeric_array",
    "check_distance_matrix",
    "check_distances_and_labels",
    "check_embedding_order",
    "check_embeddings",
    "check_finite",
    "check_int",
    "check_labels",
    "check_n_jobs",
    "check_n_neighbors",
    "check_p",
    "check_precomputed_distances",
    "check_sequences",
    "check_training_labels",
    "check_working_memory",
    "embedding_order",
    "from_tslearn",
    "record_embedding_order",
    "resolve_order",
]


# --------------------------------------------------------------------------- #
# Numbers
# --------------------------------------------------------------------------- #
def _is_sparse(value: Any) -> bool:
    # Not hasattr(value, "toarray"): pandas exposes columns as attributes, so a
    # frame with a column of that name would look sparse.
    module = type(value).__module__
    return module.startswith("scipy.sparse") or module.partition(".")[0] == "sparse"


def _refuse_raw_bytes(value: Any, name: str) -> None:
    """Refuse a bytearray, or a memoryview of bytes, as data.

    NumPy reads their buffer as unsigned 8-bit integers, so the bytes of a
    float32 recording, or of text, would become plausible-looking numbers.
    A memoryview of an array, or one cast to a number format
    (``memoryview(data).cast("f")``), keeps its format and is read correctly.
    """
    if isinstance(value, list | tuple):  # one level down: rows of a list
        for position, row in enumerate(value):
            if isinstance(row, bytearray | memoryview):
                _refuse_raw_bytes(row, f"{name}[{position}]")
        return
    if (
        isinstance(value, memoryview)
        and isinstance(value.obj, bytes | bytearray)
        and value.format in ("B", "b", "c")
    ):
        kind = "memoryview of bytes"
    elif isinstance(value, bytearray):
        kind = "bytearray"
    else:
        return
    raise TypeError(
        f"{name} is a {kind}, whose buffer would be read as 8-bit unsigned "
        "integers, one per byte; decode it with np.frombuffer(data, "
        "dtype=...) and the dtype it was written with."
    )


def as_numeric_array(value: Any, name: str) -> np.ndarray:
    """Convert ``value`` to a real-valued ndarray, with errors naming ``name``.

    Integer, boolean and floating arrays keep their dtype; object arrays of
    numbers become float64; torch tensors are detached and moved to the CPU.

    Parameters
    ----------
    value : array-like
        The input.
    name : str
        Parameter name for error messages.

    Returns
    -------
    array : ndarray
        Not a copy when no conversion was needed.

    Examples
    --------
    >>> as_numeric_array([1, 2], "X").dtype.kind
    'i'
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu()
    value = _unmasked(
        value,
        f"{name} is a masked array with masked values; they are no data. Mark "
        "missing steps another way (shorter sequences, or NaN padding at the "
        "end with from_tslearn).",
    )
    if _is_sparse(value):
        raise TypeError(
            f"{name} must be a dense array; got a sparse matrix, which is not "
            "supported (use .toarray())."
        )
    if not isinstance(value, list | tuple):
        _refuse_raw_bytes(value, name)
    if _is_dataframe(value) or type(value).__module__.startswith("pandas"):
        value = _pandas_values(value)
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:  # ragged nested lists
        raise ValueError(
            f"{name} could not be converted to an array: {error}"
        ) from error
    if array.dtype == np.uint8 and isinstance(value, list | tuple):
        _refuse_raw_bytes(value, name)  # rows of bytes read as uint8?
    if array.dtype == object:
        refused = (str, bytes, np.datetime64, np.timedelta64)
        kinds = [
            kind for kind in set(map(type, array.flat)) if issubclass(kind, refused)
        ]
        if kinds:
            item = next(item for item in array.flat if isinstance(item, tuple(kinds)))
            raise TypeError(
                f"{name} must contain real numbers, got {type(item).__name__} "
                f"values such as {item!r}; convert them first (numbers as "
                "text are not read as numbers, as a str array is not)."
            )
        try:
            array = array.astype(np.float64)
        except OverflowError as error:  # Python ints beyond any float
            raise ValueError(
                f"{name} has a value too large for float64: {error}"
            ) from error
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{name} must contain real numbers, got values of type object that "
                f"cannot be converted to float: {error}"
            ) from error
    if array.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {name} has dtype {array.dtype}; "
            "values must be real."
        )
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must contain real numbers, got dtype {array.dtype}.")
    return array


def _unmasked(value: Any, refusal: str) -> Any:
    """Return the data of a masked array with nothing masked, or ``value``.

    np.asarray would read the values behind a mask as data, so a masked array
    with anything masked is refused with ``refusal``.
    """
    if not np.ma.isMaskedArray(value):
        return value
    if np.ma.getmaskarray(value).any():
        raise ValueError(refusal)
    return np.ma.getdata(value)


def wrapper_hint(estimator: Any) -> str:
    """Point a wrapper of the embedder (an adapter, a Pipeline) to it, or ""."""
    if hasattr(estimator, "use_labels"):
        return " (an aeon or sktime adapter: pass its fitted embedder_)"
    if hasattr(estimator, "steps"):
        return " (a Pipeline: pass the embedder step, e.g. pipeline[0])"
    return ""


def _pandas_values(value: Any) -> Any:
    """Values of a pandas frame or series, missing values (pd.NA) as NaN.

    Nullable numeric and boolean columns (Int64, Float64, boolean) hold pd.NA,
    which NumPy cannot convert to a float; as NaN the finiteness checks name
    it as missing. Other frames are returned as they are.
    """
    import pandas as pd

    if not isinstance(value, pd.Series | pd.DataFrame):
        # An Index or an extension array (Float64, Categorical, ...): one dtype.
        dtype = getattr(value, "dtype", None)
        if dtype is not None and (
            pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        ):
            return pd.array(value).to_numpy(dtype=np.float64, na_value=np.nan)
        return value
    dtypes = [value.dtype] if isinstance(value, pd.Series) else list(value.dtypes)
    nullable = [isinstance(dtype, pd.api.extensions.ExtensionDtype) for dtype in dtypes]
    numeric = all(
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        for dtype in dtypes
    )
    if dtypes and numeric and any(nullable):
        return value.to_numpy(dtype=np.float64, na_value=np.nan)
    return value


def check_finite(array: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` if ``array`` holds NaN or infinity."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = "NaN" if np.isnan(array).any() else "infinity"
        raise ValueError(f"{name} contains {bad}; values must be finite.")


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int; booleans and non-integers are a ``TypeError``.

    ``True`` is an ``int`` to Python, which would make ``p=True`` silently mean
    ``p=1``; it is rejected everywhere an integer is expected.

    Examples
    --------
    >>> check_int(3, "n_layers", minimum=0)
    3
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an int, got {value!r} of type {type(value).__name__}."
        )
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")
    return int(value)


def check_p(p: Any, auto: bool = False) -> int:
    """Return the order ``p`` of the distance as an int after checking it is 1 or 2.

    ``auto=True``: the caller also accepts ``"auto"`` (and has handled it), so
    the messages name it.
    """
    allowed = "1, 2 or 'auto'" if auto else "1 or 2"
    if isinstance(p, bool | np.bool_) or not isinstance(p, numbers.Integral):
        kind = allowed if auto else f"an int, {allowed}"
        raise TypeError(f"p must be {kind}, got {p!r} of type {type(p).__name__}.")
    if int(p) not in (1, 2):
        raise ValueError(f"p must be {allowed}, got {p!r}.")
    return int(p)


def check_n_jobs(n_jobs: Any) -> int | None:
    """Return ``n_jobs`` after checking that it is None or a non-zero int."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool | np.bool_) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(
            f"n_jobs must be None or an int, got {n_jobs!r} of type "
            f"{type(n_jobs).__name__}."
        )
    if n_jobs == 0:
        raise ValueError("n_jobs must be None or a non-zero int, got 0.")
    return int(n_jobs)


# A working memory beyond this many MiB (1 EiB) is more than any machine has;
# it counts as this, so that sizes in bytes stay finite.
_MAX_WORKING_MEMORY_MIB = 2.0**40


def check_working_memory(working_memory: Any) -> float:
    """Return the working memory in MiB, from scikit-learn's config when None.

    Values above 2**40 MiB count as 2**40 MiB.
    """
    if working_memory is None:
        working_memory = get_config()["working_memory"]
        return min(float(working_memory), _MAX_WORKING_MEMORY_MIB)
    if isinstance(working_memory, bool | np.bool_) or not isinstance(
        working_memory, numbers.Real
    ):
        raise TypeError(
            "working_memory must be None or a positive number of MiB, got "
            f"{working_memory!r} of type {type(working_memory).__name__}."
        )
    if not (math.isfinite(working_memory) and working_memory > 0):
        raise ValueError(
            "working_memory must be None or a positive number of MiB, got "
            f"{working_memory!r}."
        )
    return min(float(working_memory), _MAX_WORKING_MEMORY_MIB)


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _float_dtype(array: np.ndarray) -> type[np.floating]:
    """Keep float32 (and promote float16) to float32; everything else to float64."""
    if array.dtype.kind == "f" and array.dtype.itemsize <= 4:
        return np.float32
    return np.float64


# --------------------------------------------------------------------------- #
# Sequences and their containers
# --------------------------------------------------------------------------- #
def _is_dataframe(X: Any) -> bool:
    pandas = sys.modules.get("pandas")  # no pandas imported, no DataFrame
    return pandas is not None and isinstance(X, pandas.DataFrame)


def _is_series(X: Any) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(X, pandas.Series)


def _transposed_hint(sequences: list, name: str) -> str:
    """Return a hint when the items look like (n_timepoints, n_channels) arrays.

    Items of one width and several lengths on their first axis are sequences
    of different lengths laid out time first.
    """
    shapes = [np.shape(sequence) for sequence in sequences]
    if any(len(shape) != 2 for shape in shapes):
        return ""
    widths = {shape[1] for shape in shapes}
    firsts = {shape[0] for shape in shapes}
    longer = all(shape[0] > shape[1] for shape in shapes)  # rows look like steps
    if len(sequences) > 1 and len(widths) == 1 and len(firsts) > 1 and longer:
        return (
            f" Every item of {name} has {widths.pop()} columns and their rows "
            "differ in number: if rows are time steps, pass the items "
            f"transposed, [item.T for item in {name}]."
        )
    return ""


def channel_names(X: Any) -> np.ndarray | None:
    """Channel names of a ``pd-multiindex`` or ``nested_univ`` frame, or None.

    The columns of such frames are channels; they count as names when every
    one is a string (scikit-learn's rule for ``feature_names_in_``). A frame of
    plain numbers holds univariate sequences, one per row: its columns are
    time steps, not channels, and give no names.
    """
    if not _is_dataframe(X) or X.shape[0] == 0 or X.shape[1] == 0:
        return None
    import pandas as pd

    of_sequences = isinstance(X.index, pd.MultiIndex) or isinstance(
        X.iat[0, 0], pd.Series | np.ndarray | list
    )
    return string_names(X.columns) if of_sequences else None


def string_names(columns: Any) -> np.ndarray | None:
    """``columns`` as an array of names when every one is a string, else None."""
    columns = list(columns)
    if columns and all(isinstance(column, str) for column in columns):
        return np.asarray(columns, dtype=object)
    return None


def check_channel_names(fitted: np.ndarray | None, X: Any, name: str) -> None:
    """Refuse channels named otherwise, or in another order, than in fit.

    Checked when both the fit and ``X`` name their channels; input without
    names (arrays) is read by position, as it always is.
    """
    compare_channel_names(fitted, channel_names(X), name)


def compare_channel_names(
    fitted: np.ndarray | None, names: np.ndarray | None, name: str
) -> None:
    """Refuse ``names`` unless they are ``fitted`` (either None passes)."""
    if fitted is None or names is None:
        return
    if len(names) == len(fitted) and (names == fitted).all():
        return
    raise ValueError(
        f"{name} has the channels {list(names)}, but the model was fitted on "
        f"{list(fitted)}, in that order; channels are read by position, so "
        f"select and order {name}'s columns as in fit (X[{list(fitted)}])."
    )


def _plain_scalar(value: Any) -> Any:
    """Return the Python value a NumPy scalar holds, as messages should print it.

    Dates and durations stay NumPy scalars: ``.item()`` turns nanosecond ones
    into integers.
    """
    if isinstance(value, np.datetime64 | np.timedelta64):
        return value
    return value.item() if isinstance(value, np.generic) else value


def _shown(value: Any, limit: int = 60) -> str:
    """``repr`` of a value for a message, cut to about ``limit`` characters."""
    text = repr(_plain_scalar(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def multiindex_instances(X: Any) -> Any:
    """Instance labels of a pd-multiindex frame, in the order its sequences are read.

    ``None`` for anything else (whose sequences are numbered).
    """
    if not _is_dataframe(X) or getattr(X.index, "nlevels", 1) != 2:
        return None
    import pandas as pd

    instances = X.index.get_level_values(0)
    return pd.Index(pd.unique(instances), name=instances.name)


def check_label_order(X: Any, y: Any, name: str = "y") -> None:
    """Refuse a pandas ``y`` indexed by the sequences of ``X`` in another order.

    Labels are matched to sequences by position, as in scikit-learn; a Series
    whose index holds exactly the instances of a DataFrame ``X`` (its first
    index level, or its index) but in another order would pair every
    sequence with another one's label, silently.
    """
    if not (_is_dataframe(X) or _is_series(X)) or not (
        _is_series(y) or _is_dataframe(y)
    ):
        return
    import pandas as pd

    instances = multiindex_instances(X)
    if instances is None:
        if getattr(X.index, "nlevels", 1) != 1:
            return
        instances = X.index
    if len(y.index) != len(instances) or y.index.equals(instances):
        return
    if isinstance(y.index, pd.RangeIndex) and y.index.start == 0 and y.index.step == 1:
        return  # pandas' default index: it says nothing, position counts
    try:
        same_labels = set(y.index) == set(instances)
    except TypeError:  # unhashable index values
        return
    if same_labels:
        raise ValueError(
            f"{name} is indexed by the sequences of X, but in another order; "
            "labels are matched to sequences by position (X's sequences come "
            "in the order their instances first appear). Pass "
            f"{name}.loc[<X's instances in that order>], e.g. "
            f"{name}.loc[X.index.get_level_values(0).unique()] for a "
            "pd-multiindex frame."
        )


def _time_ranks(time_values: Any, name: str, where: str) -> np.ndarray:
    """Ranks of time index values in time order; -1 marks a missing time.

    One rule for every frame format: text sorts as text ('10' before '2'),
    not as times, and is refused; categories count by their values, not by
    their codes; values that cannot be ordered are refused.
    """
    import pandas as pd

    if isinstance(time_values.dtype, pd.CategoricalDtype):
        time_values = pd.Index(np.asarray(time_values, dtype=object))
    kind = pd.api.types.infer_dtype(time_values, skipna=True)
    if kind in ("string", "bytes") or (
        kind.startswith("mixed")
        and any(isinstance(t, str | bytes) for t in time_values)
    ):
        raise TypeError(
            f"{name} has time index values that are strings, which sort as "
            f"text ('10' before '2'), not as times; convert {where} to numbers "
            "or datetimes (pd.to_numeric, pd.to_datetime) first, or replace it "
            "with positions if the steps are stored in time order."
        )
    try:
        ranks, _ = pd.factorize(time_values, sort=True)
    except TypeError as error:
        raise TypeError(
            f"{name} has time index values that cannot be ordered ({error}); "
            f"{where} orders each sequence's steps."
        ) from error
    return ranks


def _in_time_order(index: Any) -> bool:
    """Whether an index of numbers, dates or durations already increases.

    A quick test that spares the ranking of ordinary series; a descending
    RangeIndex (``s[::-1]``) does not pass, and text never does.
    """
    import pandas as pd

    kind = index.dtype
    ordered_kind = (
        (pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_bool_dtype(kind))
        or pd.api.types.is_datetime64_any_dtype(kind)
        or pd.api.types.is_timedelta64_dtype(kind)
    )
    return bool(ordered_kind and index.is_monotonic_increasing and index.is_unique)


# Level names that say which level is which. Only names that cannot mean the
# other level: an instance level may well be named "date" (one recording a
# day) or "timestamp" (windows keyed by their start).
_TIME_LEVEL_NAMES = frozenset({"time", "times", "timepoint", "timepoints", "step"})
_INSTANCE_LEVEL_NAMES = frozenset(
    {"instance", "instances", "instance_id", "series_id", "sequence", "sequences"}
)


def _refuse_swapped_levels(names: Any, name: str) -> None:
    """Refuse a pd-multiindex frame whose level names say (time, instance).

    Integer instance ids and integer times look alike, so with the levels
    swapped every time point would silently become a sequence. Unnamed levels
    cannot be told apart and are read as (instance, time).
    """
    first, second = (str(level).lower() if level is not None else "" for level in names)
    if first in _TIME_LEVEL_NAMES or second in _INSTANCE_LEVEL_NAMES:
        raise ValueError(
            f"{name}'s index levels are named {list(names)!r}, (time, instance); "
            "sktime's pd-multiindex format is (instance, time). Swap them "
            f"with {name}.swaplevel()."
        )


def _from_dataframe(X: Any, name: str) -> list[np.ndarray] | np.ndarray:
    """Sequences from sktime's ``pd-multiindex`` or ``nested_univ`` DataFrames.

    A DataFrame of plain numbers is returned as its values: rows are univariate
    sequences, like a 2-D array.
    """
    import pandas as pd  # only reached when X is a pandas object

    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: found 0 sequences.")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has no columns: found 0 channels.")
    if isinstance(X.index, pd.MultiIndex):
        if X.index.nlevels != 2:
            raise ValueError(
                f"{name} is a DataFrame with a {X.index.nlevels}-level MultiIndex; "
                "sktime's pd-multiindex format has two levels (instance, time)."
            )
        _refuse_swapped_levels(X.index.names, name)
        instances = X.index.get_level_values(0)
        # Instances in order of first appearance, each one's steps in the order
        # of its time index (rows loaded from a database or shuffled need not
        # be sorted, and their row order is not the order of time).
        codes, uniques = pd.factorize(instances, sort=False)
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            raise ValueError(
                f"{name} has a missing instance index value at row {row}; every "
                "step needs the sequence it belongs to."
            )
        time_values = X.index.get_level_values(1)
        times = _time_ranks(time_values, name, "the second index level")
        if (times < 0).any():
            row = int(np.flatnonzero(times < 0)[0])
            instance = _plain_scalar(instances[row])
            raise ValueError(
                f"{name} has a missing time index value at row {row} "
                f"(instance {instance!r}); every step needs its time."
            )
        order = np.lexsort((times, codes))
        repeated = (np.diff(codes[order]) == 0) & (np.diff(times[order]) == 0)
        if repeated.any():
            row = int(order[np.flatnonzero(repeated)[0] + 1])
            instance = _plain_scalar(instances[row])
            time = _plain_scalar(time_values[row])
            raise ValueError(
                f"{name} has two rows for instance {instance!r} at time "
                f"{time!r}; each (instance, time) "
                "pair must be one step."
            )
        values = as_numeric_array(np.asarray(_pandas_values(X))[order], name)
        bounds = np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1]
        return [np.ascontiguousarray(part.T) for part in np.split(values, bounds)]
    cells = X.to_numpy(dtype=object)
    nested = [isinstance(cell, pd.Series | np.ndarray | list) for cell in cells.flat]
    if not any(nested):
        if isinstance(X.columns, pd.MultiIndex):
            raise ValueError(
                f"{name} is a DataFrame of numbers with MultiIndex columns (a "
                "pivoted table, channel and time side by side?); its rows would "
                "be read as one univariate sequence each, channels end to end. "
                "Pass a pd-multiindex frame ((instance, time) rows, one column "
                "per channel) or an array (n_sequences, n_channels, "
                "n_timepoints)."
            )
        try:
            return as_numeric_array(_pandas_values(X), name)
        except TypeError as error:
            # Text among numbers: most likely a long table, one row per step.
            raise TypeError(
                f"{error} A DataFrame without a MultiIndex is read as one "
                "univariate sequence per row; a long table (one row per step, "
                "with id and time columns) is X.set_index([id, time]), a "
                "pd-multiindex frame."
            ) from error
    if not all(nested):
        raise TypeError(
            f"{name} is a DataFrame mixing series cells and scalars; sktime's "
            "nested_univ format has a pd.Series in every cell."
        )
    sequences = []
    for row, cells_row in enumerate(cells):
        channels, times = [], []
        for column, cell in enumerate(cells_row):
            where = f"{name}.iloc[{row}, {column}]"
            if isinstance(cell, pd.Series):
                if not _in_time_order(cell.index):
                    # A cell's index is its time: steps in time order, by the
                    # rules a pd-multiindex frame's times follow.
                    ranks = _time_ranks(cell.index, where, "its index")
                    if (ranks < 0).any():
                        raise ValueError(f"{where} has a missing time in its index.")
                    if len(np.unique(ranks)) < len(ranks):
                        raise ValueError(f"{where} has a repeated time in its index.")
                    cell = cell.iloc[np.argsort(ranks, kind="stable")]
                times.append(cell.index)
            values = as_numeric_array(cell, where)
            if sum(size > 1 for size in values.shape) > 1:
                raise ValueError(
                    f"{where} has shape {values.shape}; a cell of sktime's "
                    "nested_univ format holds one channel's steps. Pass "
                    "multichannel sequences as a list of (n_channels, "
                    "n_timepoints) arrays, or one channel per column."
                )
            channels.append(values.ravel())
        lengths = {len(channel) for channel in channels}
        if len(lengths) != 1:
            raise ValueError(
                f"{name}.iloc[{row}] has channels of different lengths "
                f"{sorted(lengths)}; the channels of one sequence must be aligned."
            )
        if any(not index.equals(times[0]) for index in times[1:]):
            raise ValueError(
                f"{name}.iloc[{row}] has channels at different times (their "
                "series' indexes differ); the channels of one sequence must be "
                "aligned step by step."
            )
        sequences.append(np.stack(channels))
    return sequences


def _warn_if_channels_last(
    shape: tuple[int, ...], name: str, items: bool = False, fitted: int | None = None
) -> None:
    """Warn when sequences of one shape have more channels than time points.

    ``items``: ``X`` is a list whose every item has shape ``shape[1:]``.
    ``fitted``: the channel count of a fitted model; input that has it is the
    layout the model was fitted on (channels-last input would show its time
    points as channels), so a model of 500 channels does not warn at every
    window shorter than 500 steps.
    """
    n_channels, n_timepoints = shape[1], shape[2]
    if fitted is not None and n_channels == fitted and n_timepoints != fitted:
        return
    if n_channels > n_timepoints:
        if items:
            found = f"every item of {name} has shape {shape[1:]}"
            layout = "(n_channels, n_timepoints)"
            alternative = "(n_timepoints, n_channels)"
            remedy = "pass their transposes (item.T)"
        else:
            found = f"{name} has shape {shape}"
            layout = "(n_sequences, n_channels, n_timepoints)"
            alternative = "(n_sequences, n_timepoints, n_channels)"
            remedy = "convert them with sklearn_wdist.from_tslearn(X) or "
            remedy += "X.transpose(0, 2, 1)"
        warnings.warn(
            f"{found}: {n_channels} channels of {n_timepoints} time points. "
            f"Sequences are read as {layout}; if yours are {alternative} "
            f"(tslearn, sktime's df-list), {remedy}.",
            UserWarning,
            stacklevel=3,
        )


def check_sequences(
    X: Any, *, name: str = "X", n_channels: int | None = None
) -> list[np.ndarray]:
    """Validate a collection of sequences and return it as a list of arrays.

    Accepted layouts:

    - a 3-D array ``(n_sequences, n_channels, n_timepoints)``; one with more
      channels than time points is most likely channels-last, which is warned
      about;
    - a 2-D array ``(n_sequences, n_timepoints)`` of univariate sequences;
    - a list (or tuple, or 1-D object array, or pandas Series) of 2-D arrays
      ``(n_channels, n_timepoints_i)`` of unequal lengths; 1-D items are
      univariate sequences;
    - sktime's ``nested_univ`` DataFrame (a ``pd.Series`` in every cell, one row
      per sequence, one column per channel) and ``pd-multiindex`` DataFrame
      (an (instance, time) MultiIndex, one column per channel).

    Parameters
    ----------
    X : array-like, list of array-like or pandas DataFrame
        The sequences.
    name : str, default="X"
        Name of the parameter, used in error messages.
    n_channels : int, optional
        If given, every sequence must have this many channels (the number seen
        during ``fit``).

    Returns
    -------
    sequences : list of ndarray of shape (n_channels, n_timepoints_i)
        C-contiguous floating arrays: float16 and float32 input become
        float32, everything else float64, so that no precision is lost before
        the data are centred. For an input array these are views where possible.

    Raises
    ------
    TypeError
        For non-numeric or sparse input.
    ValueError
        For complex input, a wrong number of dimensions, an empty collection
        or sequence, a channel count that differs between sequences or from
        ``n_channels``, and NaN or infinite values.

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
    _refuse_raw_bytes(X, name)
    if _is_sparse(X):
        as_numeric_array(X, name)  # raises the sparse-input error
    if isinstance(X, dict):
        raise TypeError(
            f"{name} must be a collection of sequences, got a dict; pass a list "
            "or an array."
        )
    if isinstance(X, Iterator | set | frozenset):
        raise TypeError(
            f"{name} must be a collection of sequences, got a "
            f"{type(X).__name__}; pass a list (e.g. list({name}))."
        )
    if n_channels is not None:
        n_channels = check_int(n_channels, "n_channels", minimum=1)
    if _is_dataframe(X):
        X = _from_dataframe(X, name)
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
            if isinstance(item, str | bytes):
                raise TypeError(
                    f"{item_name} must be an array of numbers, got a string."
                )
            array = as_numeric_array(item, item_name)
            if array.ndim == 1:
                array = array[None, :]
            elif array.ndim != 2:
                raise ValueError(
                    f"{item_name} must be a 2-D array (n_channels, n_timepoints) "
                    f"or a 1-D univariate sequence, got {array.ndim} dimensions."
                )
            sequences.append(array)
        shapes = {sequence.shape for sequence in sequences}
        if len(shapes) == 1:
            _warn_if_channels_last(
                (len(sequences), *shapes.pop()), name, items=True, fitted=n_channels
            )
    else:
        array = as_numeric_array(X, name)
        if array.ndim == 2:
            if n_channels is not None and n_channels > 1:
                # A 2-D array is univariate sequences, which a model of
                # several channels cannot take: most likely one sequence of
                # the fitted channels, as rows or, channels last, as columns.
                single = ""
                if len(array) == n_channels:
                    single = f"A single sequence of {n_channels} channels is "
                    single += "x[None] or [x]; "
                elif array.shape[1] == n_channels:
                    single = f"A single sequence of {n_channels} channels whose "
                    single += "rows are time steps is x.T[None]; "
                raise ValueError(
                    f"{name} is a 2-D array of shape {array.shape}, read as "
                    f"{len(array)} univariate sequences (one per row), but the "
                    f"model was fitted on {n_channels} channels. {single}"
                    f"{'s' if single else 'S'}equences of several channels are "
                    "a 3-D array (n_sequences, n_channels, n_timepoints)."
                )
            array = array[:, None, :]
        elif array.ndim != 3:
            hint = ""
            if array.ndim == 1:
                hint = (
                    " Reshape your data: a single univariate sequence x is "
                    "x.reshape(1, -1)."
                    if n_channels in (None, 1)
                    else f" The model was fitted on {n_channels} channels: a "
                    f"single sequence is a 2-D array ({n_channels}, "
                    "n_timepoints), passed as x[None] or [x]."
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
        if array.shape[1] > 0:
            _warn_if_channels_last(array.shape, name, fitted=n_channels)
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
                + _transposed_hint(sequences, name)
            )
        sequence = np.ascontiguousarray(sequence, dtype=_float_dtype(sequence))
        if not np.isfinite(sequence).all():
            bad = "NaN" if np.isnan(sequence).any() else "infinity"
            raise ValueError(
                f"{item_name} contains {bad}; sequences must be finite. For "
                "NaN-padded tslearn arrays use sklearn_wdist.from_tslearn."
            )
        if sequence.dtype == np.float64 and np.abs(sequence).max() > _FLOAT32_MAX:
            # Centring keeps the spread, so such values stay beyond the range
            # of the network's float32 whatever the preprocessing.
            raise ValueError(
                f"{item_name} has values beyond the float32 range "
                f"(|x| > {_FLOAT32_MAX:.3g}); rescale the data."
            )
        result.append(sequence)
    return result


def from_tslearn(X: Any) -> list[np.ndarray]:
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
    try:
        shapes = (
            {np.shape(item) for item in X} if isinstance(X, list | tuple) else set()
        )
    except ValueError as error:  # an item that is itself ragged
        raise ValueError(f"X could not be converted to an array: {error}") from error
    if len(shapes) > 1:
        raise ValueError(
            "X must be one tslearn array (n_sequences, sz, d), padded with "
            "trailing NaN; got a list of items of different shapes. Such a list "
            "of (sz_i, d) arrays needs no from_tslearn: pass [x.T for x in X] "
            "(channels first) to the estimators directly."
        )
    array = as_numeric_array(X, "X").astype(np.float64, copy=False)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(
            "X must be a tslearn dataset of shape (n_sequences, sz, d), got "
            f"{array.ndim} dimension(s)."
        )
    if array.shape[0] == 0:
        raise ValueError("X is empty: found 0 sequences.")
    if array.size == 0:
        raise ValueError(
            f"X has shape {array.shape}: sequences need at least one time point "
            "and one channel."
        )
    if array.shape[1] < array.shape[2]:
        warnings.warn(
            f"X has shape {array.shape}: read as tslearn's (n_sequences, sz, d), "
            f"sequences of {array.shape[1]} time points with {array.shape[2]} "
            "channels, more channels than time points. If X is already "
            "(n_sequences, n_channels, n_timepoints), pass it without "
            "from_tslearn.",
            UserWarning,
            stacklevel=2,
        )
    sequences = []
    for index, sequence in enumerate(array):
        missing = np.isnan(sequence).all(axis=1)
        length = (
            len(missing) - int(np.argmin(missing[::-1])) if not missing.all() else 0
        )
        if length == 0:
            raise ValueError(f"X[{index}] is all NaN: an empty sequence.")
        gaps = np.isnan(sequence[:length])
        if gaps.any():
            step, channel = (int(i) for i in np.argwhere(gaps)[0])
            if gaps[step:].all(axis=0)[channel] and not gaps.all(axis=1)[step]:
                detail = (
                    f"channel {channel} ends at step {step}, before the others "
                    "(tslearn pads every channel of a sequence to the same "
                    "length); cut the others there, or fill that channel"
                )
            else:
                detail = (
                    f"step {step} of channel {channel} is missing inside the "
                    "sequence; fill it (interpolate) or drop the sequence"
                )
            raise ValueError(
                f"X[{index}] has NaN before its end: {detail}. Only trailing "
                "NaN padding of all channels is removed."
            )
        sequences.append(np.ascontiguousarray(sequence[:length].T))
    return sequences


# --------------------------------------------------------------------------- #
# Labels: one policy
# --------------------------------------------------------------------------- #
def _is_missing(value: Any) -> bool:
    """Whether a label is no class: None, NaN or infinite, or a missing value.

    Infinity is refused as the array path refuses it (a label read from a
    float column that overflowed is a data error). A value unequal to itself
    (NumPy's NaT, a complex or Decimal NaN) would make a class of each
    occurrence.
    """
    if value is None:
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        try:
            return not math.isfinite(value)
        except (TypeError, ValueError):  # a Decimal signalling NaN
            return True
    # pandas.NA and pandas.NaT: comparisons do not give a plain bool.
    if type(value).__name__ in ("NAType", "NaTType"):
        return True
    try:
        return bool(value != value)
    except ArithmeticError:  # a Decimal signalling NaN refuses comparison
        return True
    except (TypeError, ValueError):  # e.g. an array: refused as unhashable
        return False


def _sorted_classes(uniques: list) -> np.ndarray:
    """Classes in sorted order as an array; mixed types sorted by type, then value."""
    kinds = {
        "text"
        if isinstance(v, str | bytes)
        else "number"
        if isinstance(v, numbers.Number)
        else type(v).__name__
        for v in uniques
    }
    if len(kinds) == 1:
        try:
            ordered = sorted(uniques)
        except TypeError:
            ordered = sorted(uniques, key=repr)
        if kinds <= {"text", "number"}:
            array = np.asarray(ordered)
            # A common dtype may change values (bytes beside str, an int past
            # 2**53 beside a float): such classes stay Python objects.
            if array.dtype != object and array.tolist() == ordered:
                return array
    else:
        ordered = sorted(uniques, key=lambda v: (type(v).__name__, repr(v)))
    classes = np.empty(len(ordered), dtype=object)
    classes[:] = ordered
    return classes


def check_labels(
    y: Any, n_samples: int, *, name: str = "y", samples_name: str = "X"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate class labels and return the classes and each label's code.

    The one label policy of the package: labels are compared as Python values,
    so ``1`` and ``"1"`` are two classes (and ``1``, ``1.0`` and ``True`` one),
    whether they come as a list, a tuple, a NumPy array or a pandas Series.
    ``None``, NaN and ``pandas.NA`` are not labels.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Hashable class labels.
    n_samples : int
        Number of items the labels belong to.
    name : str, default="y"
        Parameter name for error messages.
    samples_name : str, default="X"
        Name of the parameter holding the items, for error messages.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        The distinct labels, sorted (by type name first when types are mixed).
    codes : ndarray of shape (n_samples,), dtype intp
        ``classes[codes]`` equals ``y``.

    Raises
    ------
    ValueError
        If ``y`` is None, not 1-D, of the wrong length, or holds a missing or
        unhashable label.

    Examples
    --------
    >>> classes, codes = check_labels([1, "1", 1], 3)
    >>> classes.tolist(), codes.tolist()
    ([1, '1'], [0, 1, 0])
    """
    item = "item" if samples_name == "distances" else "sequence"
    if y is None:
        raise ValueError(f"{name} is None; class labels are required (one per {item}).")
    if isinstance(y, str | bytes):
        raise TypeError(f"{name} must be a 1-D array of labels, got a string.")
    if isinstance(y, set | frozenset | dict | Iterator):
        raise TypeError(
            f"{name} must be a 1-D array-like of labels, one per {item} in "
            f"order; got an object of type {type(y).__name__}."
        )
    if hasattr(y, "detach") and hasattr(y, "cpu"):
        y = y.detach().cpu().numpy()
    y = _unmasked(
        y,
        f"{name} is a masked array with masked values; every {item} needs a label.",
    )
    if isinstance(y, list | tuple):
        # Never let NumPy pick a common dtype: it would turn [1, "1"] into
        # ["1", "1"]. Elements keep their Python identity in an object array.
        array = np.asarray(y, dtype=object)
        tuples = all(isinstance(value, tuple) for value in y)
        if array.ndim == 1 or (array.ndim == 2 and (array.shape[1] > 1 or tuples)):
            # Equal-length tuples as labels became a 2-D array (1-tuples one
            # that looks like a column vector); any 1-D list is refilled so
            # that every element keeps its Python identity.
            array = np.empty(len(y), dtype=object)
            array[:] = list(y)
    else:
        # Arrays, pandas Series and other array-likes keep their elements (an
        # object array keeps Python values).
        array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        raise ValueError(
            f"{name} must be 1-D (n_samples,), got a column vector of shape "
            f"{array.shape}; use {name}.ravel()."
        )
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,), got shape {array.shape}.")
    if len(array) != n_samples:
        raise ValueError(
            f"{name} has {len(array)} labels but {samples_name} has {n_samples} "
            f"{'rows' if samples_name == 'distances' else 'sequences'}; they must "
            "have the same length."
        )
    if array.dtype.kind in "mM":
        # Dates and durations stay what they are (their .tolist() gives
        # integers for nanoseconds, dates for days); NaT is no class.
        if np.isnat(array).any():
            index = int(np.flatnonzero(np.isnat(array))[0])
            raise ValueError(f"{name}[{index}] is NaT; every label must be a class.")
        classes, codes = np.unique(array, return_inverse=True)
        return classes, codes.astype(np.intp).reshape(-1)
    if array.dtype.kind in "biufUS":
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(
                f"{name} contains NaN or infinity; every label must be a class."
            )
        classes, codes = np.unique(array, return_inverse=True)
        return classes, codes.astype(np.intp).reshape(-1)
    mapping: dict = {}
    codes = np.empty(len(array), dtype=np.intp)
    for index, value in enumerate(array.tolist()):
        if _is_missing(value):
            raise ValueError(
                f"{name}[{index}] is {value!r}; every label must be a class "
                "(None, NaN and infinity are not)."
            )
        try:
            codes[index] = mapping.setdefault(value, len(mapping))
        except TypeError as error:
            raise TypeError(
                f"{name}[{index}] is {value!r} of type {type(value).__name__}, "
                "which is not hashable; labels must be hashable values."
            ) from error
    first_seen = list(mapping)
    classes = _sorted_classes(first_seen)
    position = {value: rank for rank, value in enumerate(classes.tolist())}
    remap = np.array([position[value] for value in first_seen], dtype=np.intp)
    return classes, remap[codes]


# How a label error tells the user that labels are optional.
LABEL_FREE_HINT = "If y is not class labels, fit(X) without y trains self-supervised."


def check_training_labels(
    y: Any, n_samples: int, *, min_per_class: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Labels for triplet training: at least two classes, each large enough.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Hashable class labels; see :func:`check_labels`.
    n_samples : int
        Number of sequences in ``X``.
    min_per_class : int, default=2
        Smallest class size a triplet needs (an anchor and a positive).

    Returns
    -------
    classes : ndarray of shape (n_classes,)
    codes : ndarray of shape (n_samples,)

    Examples
    --------
    >>> classes, codes = check_training_labels(["a", "b", "a", "b"], 4)
    >>> classes.tolist(), codes.tolist()
    (['a', 'b'], [0, 1, 0, 1])
    """
    if y is None:
        raise ValueError(
            "This estimator requires y to be passed, but the target y is None: "
            "triplet training needs class labels."
        )
    classes, codes = check_labels(y, n_samples, name="y")
    if len(classes) < 2:
        raise ValueError(
            f"y has 1 class ({_shown(classes[0])}) but triplet training "
            f"needs at least 2 classes: negatives come from other classes. "
            f"{LABEL_FREE_HINT}"
        )
    counts = np.bincount(codes, minlength=len(classes))
    small = classes[counts < min_per_class]
    if len(small):
        shown = "[" + ", ".join(_shown(label) for label in small[:5]) + "]"
        more = f" and {len(small) - 5} more" if len(small) > 5 else ""
        raise ValueError(
            f"y has classes with fewer than {min_per_class} sequences, too few for "
            f"a triplet (an anchor and a positive): {shown}{more}, "
            f"{len(small)} of {len(classes)} classes. {LABEL_FREE_HINT}"
        )
    return classes, codes


# --------------------------------------------------------------------------- #
# Embeddings and distance matrices
# --------------------------------------------------------------------------- #
def check_embeddings(X: Any, name: str) -> np.ndarray:
    """Validate a 2-D array of embeddings; return it as float32 or float64."""
    array = as_numeric_array(X, name)
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features), got an "
            f"array with {array.ndim} dimension(s) and shape {array.shape}."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"{name} must have at least one sample and one feature, got shape "
            f"{array.shape}."
        )
    array = array.astype(_float_dtype(array), copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return array


# The entries of a square matrix a metric reads, as error messages name them.
_READ_REGIONS = {
    "all": "",
    "off_diagonal": " off its diagonal",
    "upper": " in its strict upper triangle",
}


def _read_mask(shape: tuple[int, int], read: str) -> np.ndarray | None:
    """Boolean mask of the entries ``read`` names; None for all of them."""
    if read == "all":
        return None
    where = np.ones(shape, dtype=bool)
    if read == "upper":
        return np.triu(where, k=1)
    np.fill_diagonal(where, False)
    return where


def check_distance_matrix(
    D: Any,
    *,
    name: str = "D",
    square: bool = False,
    n_reference: int | None = None,
    min_samples: int = 1,
    read: str = "all",
) -> np.ndarray:
    """Validate a matrix of distances: real, finite, non-negative, 2-D.

    Parameters
    ----------
    D : array-like of shape (n_query, n_reference)
        The distances.
    name : str, default="D"
        Parameter name for error messages.
    square : bool, default=False
        Require a square matrix.
    n_reference : int, optional
        The number of columns ``D`` must have.
    min_samples : int, default=1
        Minimum number of rows.
    read : {"all", "off_diagonal", "upper"}, default="all"
        The entries the caller reads, which alone must be finite and
        non-negative: all, all but the diagonal, or the strict upper triangle
        (of a square matrix). The others may hold anything (``inf`` on the
        diagonal, say, to exclude self-matches).

    Returns
    -------
    D : ndarray
        float32 if given in float32 (or float16), float64 otherwise; not a
        copy when no conversion was needed.
    """
    if n_reference is not None:
        n_reference = check_int(n_reference, "n_reference", minimum=1)
    array = as_numeric_array(D, name)
    if array.dtype.kind == "b":
        raise TypeError(f"{name} must contain real numbers, got booleans.")
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D distance matrix of shape (n_query, n_reference), "
            f"got an array with {array.ndim} dimension(s) and shape {array.shape}."
        )
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}.")
    if square and array.shape[0] != array.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {array.shape}.")
    if array.shape[0] < min_samples:
        raise ValueError(
            f"{name} must describe at least {min_samples} items, got shape "
            f"{array.shape}."
        )
    if n_reference is not None and array.shape[1] != n_reference:
        raise ValueError(
            f"{name} must have {n_reference} columns (one per reference sample), "
            f"got shape {array.shape}."
        )
    array = array.astype(_float_dtype(array), copy=False)
    if read not in _READ_REGIONS:
        raise ValueError(f"read must be one of {sorted(_READ_REGIONS)}, got {read!r}.")
    # The usual case, all finite and non-negative, takes one pass and no mask;
    # otherwise only the entries read may hold what is refused.
    finite = np.isfinite(array)
    minimum = array.min() if finite.all() else -np.inf
    if minimum < 0:
        where = _read_mask(array.shape, read)
        if not (finite.all() if where is None else finite[where].all()):
            raise ValueError(
                f"{name} contains NaN or infinity{_READ_REGIONS[read]}; distances "
                "must be finite."
            )
        if where is not None:
            minimum = array.min(initial=np.inf, where=where)
    if minimum < 0:
        raise ValueError(
            f"{name} must be non-negative, got a minimum of {float(minimum)!r}."
        )
    return array


def check_precomputed_distances(
    D: Any,
    *,
    name: str = "D",
    square: bool | None = None,
    n_reference: int | None = None,
) -> np.ndarray:
    """Validate a precomputed distance matrix.

    Parameters
    ----------
    D : array-like of shape (n_query, n_reference)
        Distances, for example the output of :func:`pairwise_wasserstein`.
    name : str, default="D"
        Name of the parameter used in error messages.
    square : bool or None, default=None
        If True, ``D`` must be square. None or False do not check the shape.
    n_reference : int or None, default=None
        If given, the number of columns ``D`` must have (a positive int).

    Returns
    -------
    D : ndarray of shape (n_query, n_reference)
        The validated matrix, float32 if it was given in float32 and float64
        otherwise. Not a copy when no conversion was needed.

    Raises
    ------
    TypeError
        If ``D`` is sparse or not numeric, or ``n_reference`` is not an int.
    ValueError
        If ``D`` is not 2-D, empty, contains NaN, infinity or negative values, or
        has the wrong shape, or ``n_reference`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_wdist import check_precomputed_distances
    >>> check_precomputed_distances([[0, 1], [1, 0]], square=True)
    array([[0., 1.],
           [1., 0.]])
    >>> check_precomputed_distances([[0.0, -1.0]], name="D_test")
    Traceback (most recent call last):
    ...
    ValueError: D_test must be non-negative, got a minimum of -1.0.
    """
    if square is not None and not isinstance(square, bool | np.bool_):
        raise TypeError(f"square must be True, False or None, got {square!r}.")
    return check_distance_matrix(
        D, name=name, square=bool(square), n_reference=n_reference
    )


def check_n_neighbors(n_neighbors: Any, n_samples: int) -> int:
    """Validate the number of neighbours of a leave-one-out k-NN vote.

    Parameters
    ----------
    n_neighbors : int
        Requested number of neighbours.
    n_samples : int
        Number of items; each query has ``n_samples - 1`` candidates.

    Returns
    -------
    n_neighbors : int
        The value as a Python ``int``.

    Raises
    ------
    TypeError
        If ``n_neighbors`` is not an integer (booleans are rejected).
    ValueError
        If ``n_neighbors`` is not in ``[1, n_samples - 1]``.
    """
    if isinstance(n_neighbors, bool | np.bool_) or not isinstance(
        n_neighbors, numbers.Integral
    ):
        raise TypeError(
            f"n_neighbors must be an integer; got {type(n_neighbors).__name__}."
        )
    n_neighbors = int(n_neighbors)
    if not 1 <= n_neighbors < n_samples:
        raise ValueError(
            f"n_neighbors must satisfy 1 <= n_neighbors < n_samples = {n_samples} "
            f"(leave-one-out leaves {n_samples - 1} candidates); got {n_neighbors}."
        )
    return n_neighbors


def check_distances_and_labels(
    distances: Any, labels: Any, read: str = "off_diagonal"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a square distance matrix and the labels of its items (metrics).

    ``read``: the entries the metric reads (see :func:`check_distance_matrix`).

    Returns
    -------
    distances : ndarray of shape (n_samples, n_samples)
        See :func:`check_distance_matrix`.
    codes : ndarray of shape (n_samples,)
        Integer class code of each item, under :func:`check_labels`' policy.
    """
    matrix = check_distance_matrix(
        distances, name="distances", square=True, min_samples=2, read=read
    )
    _, codes = check_labels(
        labels, matrix.shape[0], name="labels", samples_name="distances"
    )
    return matrix, codes


# --------------------------------------------------------------------------- #
# Which order p produced an embedding matrix
# --------------------------------------------------------------------------- #
# ``transform`` output is a plain ndarray, so it cannot say which ``p`` it was
# trained with. Its identity is remembered (weakly: the entry goes when the array
# does) so that a distance step handed that very array, as in a Pipeline, can
# refuse a different ``p`` instead of silently computing another distance.
_EMBEDDING_ORDERS: dict[int, tuple[weakref.ref, int]] = {}

#: The embedder's default order, and the one ``p="auto"`` falls back to.
DEFAULT_ORDER = 1


def record_embedding_order(embeddings: np.ndarray, p: int) -> None:
    """Remember that ``embeddings`` came from a model trained with order ``p``.

    ``transform`` output owns its memory, so NumPy points every view of it (a
    slice of rows, say) at this very array: :func:`embedding_order` finds them.
    """
    key = id(embeddings)

    def forget(_reference: weakref.ref, key: int = key) -> None:
        _EMBEDDING_ORDERS.pop(key, None)

    _EMBEDDING_ORDERS[key] = (weakref.ref(embeddings, forget), p)


def embedding_order(embeddings: Any) -> int | None:
    """Return the order ``p`` of the model whose ``transform`` made ``embeddings``.

    A view of such an output (a slice of its rows, say) has the same order, and
    so does a DataFrame holding it without a copy, as scikit-learn's
    ``set_output(transform="pandas")`` wraps it. ``None`` when it is unknown:
    arrays saved and loaded, copies made by fancy indexing or by a DataFrame,
    and anything that never came from ``transform``.
    """
    array = embeddings
    if not isinstance(array, np.ndarray) and hasattr(array, "columns"):
        try:  # a DataFrame: its values, a view where it holds one block
            array = np.asarray(array)
        except (TypeError, ValueError):
            return None
    while isinstance(array, np.ndarray):
        entry = _EMBEDDING_ORDERS.get(id(array))
        if entry is not None and entry[0]() is array:
            return entry[1]
        array = array.base
    return None


def check_embedding_order(
    embeddings: Any, p: int, name: str = "X", guessed: bool = False
) -> None:
    """Refuse ``p`` for embeddings known to come from a model of another order.

    ``guessed=True``: ``p`` is the default that ``p="auto"`` fell back to in
    ``fit`` (its input could not be traced to an embedder), which the message
    then says, as the user never set that ``p``.

    Raises
    ------
    ValueError
        If ``embeddings`` is (a view of) the output of an embedder's
        ``transform`` trained with an order other than ``p``.
    """
    trained = embedding_order(embeddings)
    if trained is None or trained == p:
        return
    if guessed:
        raise ValueError(
            f"p='auto' fell back to p={p} in fit, whose input could not be "
            f"traced to an embedder (a copy, or a cached or reloaded array), "
            f"but {name} holds embeddings of a WassersteinSequenceEmbedder "
            f"trained with p={trained}. Pass p={trained} (the embedder's p_) "
            "and fit again."
        )
    raise ValueError(
        f"p={p!r}, but {name} holds embeddings of a WassersteinSequenceEmbedder "
        f"trained with p={trained}: the p={p} distance between them is not the "
        f"learned one. Set p={trained} (metric "
        f"{'euclidean' if trained == 2 else 'manhattan'})."
    )


def resolve_order(p: Any, embeddings: Any, name: str = "X") -> int:
    """Return the order of a distance on ``embeddings``: ``p`` or the learned one.

    ``p="auto"`` is the order the embeddings were trained with when they are
    (a view of) an embedder's ``transform`` output, else :data:`DEFAULT_ORDER`,
    the embedder's default, with a warning: the embeddings may come from a
    model of the other order. An explicit ``p`` is checked against a known
    order. The warning names the frame three above this function's: the
    caller of ``fit`` (through scikit-learn's fit wrapper), or of a public
    function that validates through one private helper.
    """
    if isinstance(p, str) and p == "auto":
        trained = embedding_order(embeddings)
        if trained is not None:
            return trained
        warnings.warn(
            f"p='auto' cannot tell which order {name} was trained with (it is "
            "not the output of a WassersteinSequenceEmbedder's transform or a "
            "view of it: embeddings saved and loaded, re-indexed, copied or "
            f"cached are new arrays), so p={DEFAULT_ORDER}, the embedder's "
            "default, is used. Pass the embedder's p_ as p to measure its "
            "learned distance and silence this warning.",
            UserWarning,
            stacklevel=4,  # resolve_order, fit, scikit-learn's fit wrapper, caller
        )
        return DEFAULT_ORDER
    p = check_p(p, auto=True)
    check_embedding_order(embeddings, p, name)
    return p
