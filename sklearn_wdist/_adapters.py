"""What the aeon and sktime adapters share (their ``__init__`` signatures aside).

Both frameworks read an estimator's parameters from its explicit ``__init__``
signature, so each adapter spells out the embedder's parameters; everything
else lives here once.
"""

from __future__ import annotations

from typing import Any

from ._embedder import WassersteinSequenceEmbedder


def build_embedder(params: dict[str, Any]) -> WassersteinSequenceEmbedder:
    """Return a new embedder from the adapter's parameters of the same names."""
    names = WassersteinSequenceEmbedder().get_params(deep=False)
    return WassersteinSequenceEmbedder(
        **{name: value for name, value in params.items() if name in names}
    )


def fit_embedder(adapter, sequences, y) -> None:
    """Fit ``adapter.embedder_`` and record the attributes both adapters expose."""
    labels = y if adapter.use_labels else None
    adapter.embedder_ = adapter._build_embedder().fit(sequences, labels)
    adapter.metric_ = adapter.embedder_.metric_
    adapter.n_features_out_ = len(adapter.embedder_.get_feature_names_out())


def tiny_parameter_sets() -> list[dict[str, Any]]:
    """Tiny settings for the frameworks' estimator checks: labelled and not."""
    tiny = {
        "n_features": 2,
        "hidden_channels": 4,
        "n_layers": 1,
        "n_quantiles": 4,
        "max_epochs": 1,
        "random_state": 0,
    }
    return [
        tiny,
        {**tiny, "use_labels": False, "architecture": "dilated", "p": 1},
    ]
