"""scikit-learn's estimator checks over every public estimator."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_wdist import (
    WassersteinDistanceTransformer,
    WassersteinKNeighborsTransformer,
    WassersteinSequenceEmbedder,
)

# These tests hand the distance steps plain arrays, whose trained order
# p="auto" cannot know: its fallback warning is expected here (it has its own
# test, test_neighbors.py::test_auto_order_warns_when_it_falls_back).
pytestmark = [
    pytest.mark.filterwarnings("ignore:p='auto' cannot tell:UserWarning"),
    # scikit-learn's check data include classes that no triplet of the tiny
    # embedder below can fail to separate: those fits rightly warn.
    pytest.mark.filterwarnings("ignore:The training loss was 0:UserWarning"),
]


# Small and fast: the checks fit dozens of times on tiny data.
FAST_EMBEDDER = WassersteinSequenceEmbedder(
    n_features=4,
    hidden_channels=8,
    n_layers=1,
    n_quantiles=4,
    max_epochs=2,
    random_state=0,
)

# A 2-D array is a collection of univariate sequences (DESIGN section 2): its
# second axis is time, not features, so n_features_in_ counts channels (1) and
# sequences of another length are valid input to transform.
_TWO_D_IS_TIME = (
    "2-D input is univariate sequences: n_features_in_ is the channel count and "
    "transform accepts sequences of any length"
)
EMBEDDER_EXPECTED_FAILURES = {
    "check_n_features_in_after_fitting": _TWO_D_IS_TIME,
    "check_n_features_in": _TWO_D_IS_TIME,
    "check_transformer_general": _TWO_D_IS_TIME,
    "check_transformer_general(readonly_memmap=True)": _TWO_D_IS_TIME,
}


def _expected_failed_checks(estimator):
    if isinstance(estimator, WassersteinSequenceEmbedder):
        return EMBEDDER_EXPECTED_FAILURES
    return {}


@parametrize_with_checks(
    [FAST_EMBEDDER, WassersteinDistanceTransformer()],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "estimator",
    [
        WassersteinSequenceEmbedder(),
        WassersteinDistanceTransformer(),
        WassersteinKNeighborsTransformer(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_html_repr_links_to_the_api_reference(estimator):
    from sklearn.utils import estimator_html_repr

    link = estimator._get_doc_link()
    assert link.endswith(f"/generated/sklearn_wdist.{type(estimator).__name__}.html")
    assert link in estimator_html_repr(estimator)
