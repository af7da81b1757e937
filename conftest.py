"""Test collection: the framework adapters need their framework."""

import importlib.util

# sklearn_wdist.aeon and sklearn_wdist.sktime refuse to import without aeon or
# sktime (optional); their doctests are collected only where it is installed.
collect_ignore = [
    path
    for module, path in (
        ("aeon", "sklearn_wdist/aeon.py"),
        ("sktime", "sklearn_wdist/sktime.py"),
    )
    if importlib.util.find_spec(module) is None
]
