"""The parameter documentation of every public estimator matches its signature.

The aeon and sktime adapters repeat the embedder's parameters in their own
docstrings; a default changed in one place only would make the others wrong.
"""

import ast
import inspect
import re

import pytest
import torch

from sklearn_wdist import (
    WassersteinDistanceTransformer,
    WassersteinKNeighborsTransformer,
    WassersteinSequenceEmbedder,
)

ESTIMATORS = [
    WassersteinSequenceEmbedder,
    WassersteinDistanceTransformer,
    WassersteinKNeighborsTransformer,
]
for module in ("aeon", "sktime"):
    try:
        ESTIMATORS.append(
            pytest.importorskip(
                f"sklearn_wdist.{module}"
            ).WassersteinEmbeddingTransformer
        )
    except pytest.skip.Exception:  # the other adapter is still checked
        pass

# Defaults written in the documentation as code, not as a Python literal.
_WRITTEN = {torch.optim.Adam: "torch.optim.Adam"}


def _documented_parameters(cls) -> dict[str, str | None]:
    """Each parameter of the numpydoc section, with its written default."""
    doc = inspect.getdoc(cls)
    section = doc.split("Parameters\n----------\n", 1)[1]
    section = re.split(r"\n\n[A-Z][A-Za-z ]+\n-+\n", section, maxsplit=1)[0]
    documented = {}
    for name, kind in re.findall(r"^(\w+) : ([^\n]*)$", section, re.M):
        default = re.search(r"default=(.+)$", kind)
        documented[name] = default.group(1) if default else None
    return documented


def _same_default(written: str, value) -> bool:
    if value in _WRITTEN:
        return written == _WRITTEN[value]
    try:
        return ast.literal_eval(written) == value and type(
            ast.literal_eval(written)
        ) is type(value)
    except (ValueError, SyntaxError):
        return False


@pytest.mark.parametrize(
    "cls", ESTIMATORS, ids=lambda cls: f"{cls.__module__}.{cls.__name__}"
)
def test_every_parameter_is_documented_with_its_default(cls):
    documented = _documented_parameters(cls)
    signature = {
        name: parameter.default
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if name != "self"
    }
    assert list(documented) == list(signature)
    wrong = {
        name: (documented[name], value)
        for name, value in signature.items()
        if value is not inspect.Parameter.empty
        and not _same_default(documented[name] or "<none>", value)
    }
    assert not wrong


def test_the_check_sees_a_wrong_default():
    class Wrong:
        """Doc.

        Parameters
        ----------
        n : int, default=3
            A number.
        name : str, default="a"
            A name.
        """

        def __init__(self, n=4, name="a"):
            pass

    documented = _documented_parameters(Wrong)
    assert documented == {"n": "3", "name": '"a"'}
    assert not _same_default(documented["n"], 4)
    assert _same_default(documented["name"], "a")
    assert not _same_default("1", True)


def test_the_adapters_parameter_marker_is_required_once():
    from sklearn_wdist._adapters import PARAMETERS_MARKER, document_embedder_parameters

    class Unmarked:
        """No marker."""

    class Twice:
        __doc__ = "Twice.\n\n" + PARAMETERS_MARKER * 2

    for cls in (Unmarked, Twice):
        with pytest.raises(ValueError, match="parameter marker"):
            document_embedder_parameters("class")(cls)

    class Stripped:  # as under python -OO
        __doc__ = None

    assert document_embedder_parameters("class")(Stripped) is Stripped
