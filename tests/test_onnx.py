"""to_onnx: the exported graph computes transform, and the embedder is untouched.

Every export traces the model with torch.export (several seconds each), so the
fitted embedders and their ONNX files are made once per configuration.
"""

import copy
import os
import pathlib
import sys

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler

from sklearn_wdist import WassersteinSequenceEmbedder, to_onnx

ort = pytest.importorskip(
    "onnxruntime", reason="to_onnx is tested with the optional 'onnx' extra"
)
pytest.importorskip("onnxscript", reason="torch's ONNX exporter needs onnxscript")
onnx = pytest.importorskip("onnx", reason="to_onnx needs the optional 'onnx' extra")

pytestmark = [
    pytest.mark.filterwarnings(
        # Raised inside torch.export (torch 2.13), not by this package.
        "ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning"
    ),
    pytest.mark.filterwarnings(
        # torch's note on 'same' padding with an even kernel, which the
        # even-kernel configuration uses on purpose.
        "ignore:Using padding='same' with even kernel lengths:UserWarning"
    ),
]

# The graph does in float32 what transform does in float64 (centring and
# whitening) and runs its convolutions in another library: outputs agree to a
# few float32 roundings (at most about 6e-7 here, with channel 0 offset by ten
# standard deviations; about 1e-7 for centred data). 1e-5, relative to the size
# of the embeddings, leaves room for other CPUs' summation orders while still
# catching any real mismatch (a wrong quantile or step differs by ~1e-1).
TOLERANCE = 1e-5

COMMON = dict(
    n_features=4, hidden_channels=8, n_quantiles=4, max_epochs=1, random_state=0
)
CONFIGS = {
    "conv-p2-linear-within_class": dict(architecture="conv", p=2),
    "dilated-p1-inverted_cdf-centred": dict(
        architecture="dilated",
        p=1,
        include_input=False,
        normalize_output=False,
        quantile_method="inverted_cdf",
        input_whitening=None,
    ),
    "conv-p1-mean-total-fixed": dict(
        architecture="conv",
        p=1,
        pooling="mean",
        input_whitening="total",
        n_timepoints=30,
    ),
    "dilated-p2-even_kernel-dropout-gated": dict(
        architecture="dilated", p=2, kernel_size=4, dropout=0.1, input_gating="anova"
    ),
    "user_encoder-p2-inverted_cdf": dict(
        encoder="conv1d", p=2, quantile_method="inverted_cdf"
    ),
}


def make_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2, 30))
    y = np.repeat([0, 1], 10)
    X[y == 1] += 0.5
    X[:, 0] += 10.0  # an offset: the graph centres in float32
    return X, y


def longer_data(n_timepoints):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(7, 2, n_timepoints))
    X[:, 0] += 10.0
    return X


_FITTED = {}


def fitted(name):
    if name not in _FITTED:
        params = {k: v for k, v in CONFIGS[name].items() if k != "n_timepoints"}
        if params.get("encoder") == "conv1d":
            # A user encoder without lengths: a 'valid' convolution (T' = T - 4).
            params["encoder"] = torch.nn.Conv1d(2, 3, 5)
        X, y = make_data()
        _FITTED[name] = WassersteinSequenceEmbedder(**COMMON, **params).fit(X, y)
    return _FITTED[name]


def snapshot(embedder):
    module = embedder.module_
    return {
        "attributes": sorted(vars(embedder)),
        "module": module,
        "training": [m.training for m in module.modules()],
        "state": {k: v.clone() for k, v in module.state_dict().items()},
        "whitening": copy.deepcopy(
            (embedder.whitening_mean_, embedder.whitening_matrix_)
        ),
        "device": next(module.parameters()).device,
    }


@pytest.fixture(scope="module", params=list(CONFIGS))
def exported(request, tmp_path_factory):
    name = request.param
    embedder = fitted(name)
    X, _ = make_data()
    before = snapshot(embedder)
    expected = embedder.transform(X)
    n_timepoints = CONFIGS[name].get("n_timepoints")
    folder = tmp_path_factory.mktemp(name)
    path = folder / "embedder.onnx"
    if n_timepoints is not None:
        # A str path, to an existing file that is overwritten.
        path.write_bytes(b"old")
        path = str(path)
    returned = to_onnx(embedder, path, n_timepoints=n_timepoints)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(
        name=name,
        embedder=embedder,
        path=path,
        returned=returned,
        session=session,
        before=before,
        expected=expected,
        n_timepoints=n_timepoints,
    )


def run(session, X):
    return session.run(None, {"X": np.asarray(X, dtype=np.float32)})[0]


def assert_matches(actual, expected):
    assert actual.dtype == np.float32
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE * scale)


@pytest.mark.parametrize("batch", [1, 7])
def test_graph_equals_transform(exported, batch):
    X, _ = make_data()
    expected = exported["embedder"].transform(X[:batch])
    assert_matches(run(exported["session"], X[:batch]), expected)


def test_whole_training_set(exported):
    X, _ = make_data()
    assert_matches(run(exported["session"], X), exported["expected"])


def test_time_axis(exported):
    embedder, session = exported["embedder"], exported["session"]
    if exported["n_timepoints"] is not None:
        with pytest.raises(Exception, match=r"(?i)dimension|shape"):
            run(session, longer_data(31))
        return
    # Dynamic: traced on 64 steps, any length the encoder accepts runs (the
    # built-in encoders take 2 steps, no more than the longest difference
    # lag, 2 for 30 training steps; the user's 'valid' convolution needs 5).
    lengths = (9, 80) if embedder.user_encoder_ else (2, 9, 80)
    for n_timepoints in lengths:
        X = longer_data(n_timepoints)
        assert_matches(run(session, X), embedder.transform(X))


def test_graph_signature(exported):
    embedder, session = exported["embedder"], exported["session"]
    (inputs,) = session.get_inputs()
    (outputs,) = session.get_outputs()
    assert inputs.name == "X" and inputs.type == "tensor(float)"
    time_axis = exported["n_timepoints"] or "n_timepoints"
    assert inputs.shape == ["batch", 2, time_axis]
    assert outputs.name == "embeddings" and outputs.type == "tensor(float)"
    assert outputs.shape == ["batch", exported["expected"].shape[1]]
    metadata = session.get_modelmeta().custom_metadata_map
    assert metadata["metric"] == embedder.metric_
    assert metadata["p"] == str(embedder.p_)
    assert metadata["pooling"] == embedder.pooling_
    onnx.checker.check_model(str(exported["path"]))


def test_file_is_self_contained(exported):
    # The path is returned as given (str or PathLike); no external data file.
    assert exported["returned"] == exported["path"]
    assert type(exported["returned"]) is type(exported["path"])
    assert os.listdir(pathlib.Path(exported["path"]).parent) == ["embedder.onnx"]


def test_embedder_unchanged(exported):
    embedder, before = exported["embedder"], exported["before"]
    after = snapshot(embedder)
    assert after["attributes"] == before["attributes"]
    assert after["module"] is before["module"]
    assert after["training"] == before["training"]
    assert after["device"] == before["device"]
    assert after["state"].keys() == before["state"].keys()
    for key, value in before["state"].items():
        assert torch.equal(after["state"][key], value), key
    for new, old in zip(after["whitening"], before["whitening"], strict=True):
        np.testing.assert_array_equal(new, old)
    X, _ = make_data()
    np.testing.assert_array_equal(embedder.transform(X), exported["expected"])


# ------------------------------------------------------------------ errors
@pytest.fixture(scope="module")
def embedder():
    return fitted("conv-p2-linear-within_class")


def test_unfitted_embedder(tmp_path):
    with pytest.raises(NotFittedError):
        to_onnx(WassersteinSequenceEmbedder(), tmp_path / "m.onnx")


@pytest.mark.parametrize("wrong", [StandardScaler(), torch.nn.Linear(2, 2), None])
def test_not_an_embedder(wrong, tmp_path):
    with pytest.raises(TypeError, match="embedder must be a fitted"):
        to_onnx(wrong, tmp_path / "m.onnx")


@pytest.mark.parametrize("path", [None, 3, b"m.onnx", ["m.onnx"]])
def test_bad_path_type(embedder, path):
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike"):
        to_onnx(embedder, path)


def test_path_is_a_directory(embedder, tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        to_onnx(embedder, tmp_path)


def test_a_missing_folder_is_refused_before_the_export(embedder, tmp_path, monkeypatch):
    def no_export(*args, **kwargs):
        raise AssertionError("exported before the path was checked")

    monkeypatch.setattr(torch.onnx, "export", no_export)
    with pytest.raises(ValueError, match="no existing directory"):
        to_onnx(embedder, tmp_path / "missing" / "m.onnx")


def test_an_adapter_is_pointed_to_its_embedder(embedder, tmp_path):
    from sklearn_wdist.aeon import WassersteinEmbeddingTransformer

    with pytest.raises(TypeError, match="pass its fitted embedder_"):
        to_onnx(WassersteinEmbeddingTransformer(), tmp_path / "m.onnx")


@pytest.mark.parametrize(
    "name, value, error",
    [
        ("n_timepoints", 0, ValueError),
        ("n_timepoints", 2.5, TypeError),
        ("n_timepoints", True, TypeError),
        ("opset", "18", TypeError),
        ("opset", 0, ValueError),
    ],
)
def test_bad_integers(embedder, tmp_path, name, value, error):
    with pytest.raises(error, match=name):
        to_onnx(embedder, tmp_path / "m.onnx", **{name: value})
    assert not (tmp_path / "m.onnx").exists()


def test_too_short_for_the_encoder(tmp_path):
    user = fitted("user_encoder-p2-inverted_cdf")  # needs 5 steps
    with pytest.raises(ValueError, match="sequences of 3 steps"):
        to_onnx(user, tmp_path / "m.onnx", n_timepoints=3)


class BranchOnLength(torch.nn.Module):
    """A user encoder that computes another function below 32 steps."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(2, 3, 3, padding=1)

    def forward(self, x):
        h = self.conv(x)
        return h if x.shape[-1] >= 32 else 2 * h + 1


def test_an_encoder_branching_on_the_length_is_refused_without_a_file(tmp_path):
    # The graph was traced at 64 steps and silently kept that branch: at 10
    # steps the ONNX output was off by about 0.5.
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 2, 40)), np.repeat([0, 1], 4)
    model = WassersteinSequenceEmbedder(
        encoder=BranchOnLength(), n_quantiles=4, max_epochs=1, random_state=0
    ).fit(X, y)
    with pytest.raises(ValueError, match="branches on its input's shape"):
        to_onnx(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    # One fixed length is exported as asked.
    to_onnx(model, tmp_path / "m.onnx", n_timepoints=40)
    assert (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("package", ["onnx", "onnxscript"])
def test_missing_optional_package(embedder, tmp_path, monkeypatch, package):
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(ImportError, match=r"pip install 'sklearn-wdist\[onnx\]'"):
        to_onnx(embedder, tmp_path / "m.onnx")


def test_opset(embedder, tmp_path):
    # Opset 17 is converted from the exporter's 18; 13 cannot be (torch 2.13).
    path = tmp_path / "m.onnx"
    to_onnx(embedder, path, n_timepoints=30, opset=17)
    (opset,) = (o.version for o in onnx.load(path).opset_import if o.domain == "")
    assert opset == 17
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    X, _ = make_data()
    assert_matches(run(session, X[:3]), embedder.transform(X[:3]))


def test_an_opset_the_exporter_cannot_reach_is_refused_without_a_file(
    embedder, tmp_path
):
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match=r"could not convert it to opset 13; pass a"):
        to_onnx(embedder, path, n_timepoints=30, opset=13)
    assert not path.exists()


def test_an_opset_newer_than_onnx_knows_is_refused_with_the_newest(embedder, tmp_path):
    newest = onnx.defs.onnx_opset_version()
    with pytest.raises(
        ValueError, match=rf"opsets up to {newest}; pass opset={newest} or less"
    ):
        to_onnx(embedder, tmp_path / "m.onnx", n_timepoints=30, opset=newest + 1)


def test_gated_config_has_gates():
    # The gated configuration exports real gates, not open ones.
    gates = fitted("dilated-p2-even_kernel-dropout-gated").input_gates_
    assert gates is not None and gates.min() < 1.0
