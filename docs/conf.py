"""Sphinx configuration: API reference (numpydoc) and the example gallery.

Build with ``make docs`` (warnings are errors); the site lands in
``docs/_build/html/index.html``. Everything works offline: no intersphinx.

The gallery runs every ``examples/plot_*.py`` in fast mode
(``SKLEARN_WDIST_FAST=1``) and captures its matplotlib figures; the PNG files
the scripts save themselves go to ``docs/_build/example_figures`` instead of
``examples/``.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent
ROOT_DIR = DOCS_DIR.parent
BUILD_DIR = DOCS_DIR / "_build"

# The checkout's package first, so the docs describe this source tree even when
# another copy is installed.
sys.path.insert(0, str(ROOT_DIR))

# The examples read these when sphinx-gallery runs them in this process.
os.environ["SKLEARN_WDIST_FAST"] = "1"
os.environ["SKLEARN_WDIST_FIGURE_DIR"] = str(BUILD_DIR / "example_figures")
os.environ.setdefault("MPLBACKEND", "Agg")

from numpydoc.xref import DEFAULT_LINKS  # noqa: E402

import sklearn_wdist  # noqa: E402

# -- Project -------------------------------------------------------------------

project = "sklearn-wdist"
author = "sklearn-wdist developers"
copyright = "sklearn-wdist developers, BSD-3-Clause"
release = sklearn_wdist.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
# gallery_header.rst is the gallery's header, read by sphinx-gallery, not a page.
exclude_patterns = [
    "_build",
    "_templates",
    "gallery_header.rst",
    "Thumbs.db",
    ".DS_Store",
]
root_doc = "index"
default_role = "py:obj"  # `name` in a docstring links like :obj:`name`

# No network in CI: no intersphinx (links to numpy, scikit-learn, torch, skorch
# stay plain text). nitpicky stays off, so unresolved cross-references to those
# projects are not warnings; every other warning fails the build (-W).
intersphinx_mapping: dict = {}
nitpicky = False

# -- autodoc / autosummary / numpydoc -----------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # the numpydoc "Parameters" sections carry the types
autoclass_content = "class"  # the class docstring documents __init__'s parameters

# Class pages list their methods with autodoc (templates/autosummary/class.rst),
# not with numpydoc's autosummary table, which would need one stub per method.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# Types in "Parameters"/"Attributes" are cross-referenced: our own classes link,
# unknown names (``ndarray``, ``n_features_in_`` in a shape) render as code
# instead of being read as reST (a trailing underscore would be a reference).
numpydoc_xref_param_type = True
numpydoc_xref_ignore = {
    "of",
    "or",
    "and",
    "shape",
    "default",
    "optional",
    "like",
    "to",
    "with",
    "per",
    "if",
    "in",
    "is",
    "the",
    "a",
    "an",
}
# numpydoc's default aliases point "bool", "array-like", "generator"... at the
# Python and NumPy docs through intersphinx, which is off: keep the words, as code.
numpydoc_xref_aliases = {name: name for name in DEFAULT_LINKS}

# -- Gallery -------------------------------------------------------------------

EXAMPLES_DIR = ROOT_DIR / "examples"
GALLERY_HEADER = DOCS_DIR / "gallery_header.rst"


def _gallery_source() -> str:
    """Return the directory sphinx-gallery reads the examples from, relative to docs/.

    sphinx-gallery needs a header file (``GALLERY_HEADER.rst`` or ``README.txt``)
    next to the scripts. When ``examples/`` has one, the scripts are read in
    place; otherwise they are mirrored, unchanged, into ``_build/gallery_src``
    together with ``docs/gallery_header.rst``. Nothing is written to
    ``examples/`` either way.
    """
    for name in ("GALLERY_HEADER.rst", "README.txt", "README.rst"):
        if (EXAMPLES_DIR / name).is_file():
            return os.path.relpath(EXAMPLES_DIR, DOCS_DIR)
    mirror = BUILD_DIR / "gallery_src"
    mirror.mkdir(parents=True, exist_ok=True)
    wanted = {path.name: path for path in EXAMPLES_DIR.glob("*.py")}
    wanted["GALLERY_HEADER.rst"] = GALLERY_HEADER
    for stale in mirror.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    for name, source in wanted.items():
        target = mirror / name
        # copy2 keeps the modification time, so an unchanged script is not
        # re-run (sphinx-gallery also compares checksums).
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copy2(source, target)
    return os.path.relpath(mirror, DOCS_DIR)


sphinx_gallery_conf = {
    "examples_dirs": _gallery_source(),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # run every plot_*.py
    "ignore_pattern": r"__init__\.py",
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("sklearn_wdist",),
    "reference_url": {"sklearn_wdist": None},  # no network: local links only
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "download_all_examples": False,
    "min_reported_time": 1,
}

# -- HTML ----------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-wdist {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 5,
    "secondary_sidebar_items": ["page-toc"],
}
html_last_updated_fmt = None


# -- Checks ----------------------------------------------------------------------

# Every public name must appear in api.rst: a name added to an ``__all__`` and
# not documented fails the build (as a warning, with -W) instead of silently
# missing from the reference.
DOCUMENTED_MODULES = (
    "sklearn_wdist",
    "sklearn_wdist.datasets",
    "sklearn_wdist.metrics",
    "sklearn_wdist.nn",
    "sklearn_wdist.aeon",
    "sklearn_wdist.sktime",
)


def _check_api_listing(app) -> None:
    import importlib

    from sphinx.util import logging

    logger = logging.getLogger("sklearn_wdist.docs")
    text = (DOCS_DIR / "api.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\s+~?([A-Za-z_][\w.]*)\s*$", text, flags=re.M))
    for module_name in DOCUMENTED_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            logger.warning(
                "cannot import %s for the API reference: %s", module_name, error
            )
            continue
        for name in getattr(module, "__all__", ()):
            if isinstance(getattr(module, name, None), type(sys)):
                continue  # a submodule: it has its own section
            if name not in listed and f"{module_name}.{name}" not in listed:
                logger.warning(
                    "%s.%s is in __all__ but not listed in docs/api.rst",
                    module_name,
                    name,
                )


def setup(app):
    """Register the API listing check."""
    app.connect("builder-inited", _check_api_listing)
