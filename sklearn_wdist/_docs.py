"""Where the HTML representation of the estimators links to: the API reference.

scikit-learn's HTML repr shows a "?" link per estimator, built from
``_doc_link_module`` and ``_doc_link_template``. The reference is built locally
with ``make docs``; set ``SKLEARN_WDIST_DOCS_URL`` to where it is served to link
there instead of the local build.
"""

from __future__ import annotations

import os
from pathlib import Path

_LOCAL_BUILD = Path(__file__).resolve().parent.parent / "docs" / "_build" / "html"
DOCS_URL = os.environ.get("SKLEARN_WDIST_DOCS_URL") or _LOCAL_BUILD.as_uri()
DOC_LINK_TEMPLATE = (
    DOCS_URL.rstrip("/") + "/generated/{estimator_module}.{estimator_name}.html"
)


class DocumentationLinkMixin:
    """Point the estimator's HTML-repr documentation link at this package."""

    _doc_link_module = "sklearn_wdist"
    _doc_link_template = DOC_LINK_TEMPLATE
