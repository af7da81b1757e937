"""WassersteinSequenceEmbedder on a CUDA device; skipped where there is none."""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from sklearn_wdist import WassersteinSequenceEmbedder

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"
)

PARAMS = dict(
    n_features=4, n_quantiles=4, hidden_channels=8, max_epochs=2, random_state=0
)


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2, 30)).astype(np.float32)
    y = np.repeat([0, 1], 10)
    X[y == 1] *= 3.0
    return X, y


@pytest.fixture(scope="module")
def cuda_model():
    X, y = _data()
    return WassersteinSequenceEmbedder(device="cuda", **PARAMS).fit(X, y)


def test_fit_transform_on_cuda(cuda_model):
    X, y = _data()
    assert next(cuda_model.module_.parameters()).is_cuda
    embeddings = cuda_model.transform(X)
    cpu_embeddings = WassersteinSequenceEmbedder(device="cpu", **PARAMS).fit(X, y)
    assert isinstance(embeddings, np.ndarray)
    assert embeddings.dtype == np.float32
    assert np.isfinite(embeddings).all()
    assert embeddings.shape == cpu_embeddings.transform(X).shape


def test_same_random_state_same_embedding_on_cuda(cuda_model):
    X, y = _data()
    again = WassersteinSequenceEmbedder(device="cuda", **PARAMS).fit(X, y)
    np.testing.assert_allclose(
        again.transform(X), cuda_model.transform(X), rtol=0, atol=1e-5
    )


def test_pickle_round_trip_on_cuda(cuda_model):
    X, _ = _data()
    loaded = pickle.loads(pickle.dumps(cuda_model))
    assert next(loaded.module_.parameters()).is_cuda
    np.testing.assert_allclose(
        loaded.transform(X), cuda_model.transform(X), rtol=0, atol=1e-6
    )


_CHILD = textwrap.dedent(
    """
    import pickle
    import sys

    import numpy as np
    import torch

    assert not torch.cuda.is_available(), "CUDA should be hidden in the child"
    with open(sys.argv[1], "rb") as f:
        embedder = pickle.load(f)
    X = np.load(sys.argv[2])
    np.save(sys.argv[3], embedder.transform(X))
    """
)


def test_cuda_model_unpickles_and_transforms_without_cuda(cuda_model, tmp_path):
    # A model fitted on a GPU machine must load on a machine without CUDA.
    X, _ = _data()
    model_file, data_file = tmp_path / "model.pkl", tmp_path / "X.npy"
    out_file = tmp_path / "out.npy"
    model_file.write_bytes(pickle.dumps(cuda_model))
    np.save(data_file, X)
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    # The child imports from the same paths as this process.
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, str(model_file), str(data_file), str(out_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    np.testing.assert_allclose(
        np.load(out_file), cuda_model.transform(X), rtol=0, atol=1e-4
    )


@pytest.mark.parametrize("labelled", [True, False])
def test_dilated_encoder_with_dropout_and_augmentation_on_cuda(labelled):
    X, y = _data()
    cuda_state = torch.cuda.get_rng_state()
    cpu_state = torch.get_rng_state()
    model = WassersteinSequenceEmbedder(
        device="cuda",
        architecture="dilated",
        n_layers="auto",
        kernel_size=3,
        dropout=0.2,
        crop_fraction=0.7,
        scale_std=0.1,
        jitter_std=0.05,
        **PARAMS,
    ).fit(X, y if labelled else None)
    embeddings = model.transform(X)
    assert np.isfinite(embeddings).all()
    assert model.receptive_field_ >= 30
    # Private generators: the caller's global CPU and CUDA generators are untouched.
    assert torch.equal(torch.cuda.get_rng_state(), cuda_state)
    assert torch.equal(torch.get_rng_state(), cpu_state)
