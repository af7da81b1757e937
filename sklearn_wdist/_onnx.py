"""Export a fitted WassersteinSequenceEmbedder's ``transform`` to an ONNX file.

The graph is the whole of ``transform`` for a batch of equal-length sequences:
centring and whitening, the encoder, the pooling, the flattening and the scale.
It is built from a deep copy of the fitted module, so the embedder is never
modified.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import os

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._embedder import WassersteinSequenceEmbedder
from ._validation import check_int, wrapper_hint
from .nn import mean_pooling, quantile_pooling

# Names of the graph's input and output, and of its dynamic axes.
INPUT_NAME = "X"
OUTPUT_NAME = "embeddings"
_BATCH_AXIS = "batch"
_TIME_AXIS = "n_timepoints"
# Length of the example sequences the graph is traced on when the time axis is
# dynamic (the built-in encoders accept any length; a user encoder must accept
# this one). Example sizes of 0 or 1 would be specialised by torch.export.
_TRACE_LENGTH = 64
_TRACE_BATCH = 2
_EXTRA = "pip install 'sklearn-wdist[onnx]'"


class _TransformGraph(nn.Module):
    """``transform`` of equal-length float32 sequences, as one traceable module.

    ``(batch, C, T)`` to ``(batch, K * M)``: ``matrix @ (x - mean)`` in float32,
    the encoder with every length equal to ``T``, the pooling over all ``T'``
    output steps, the flattening and the scale ``M ** (-1/p)``.
    """

    def __init__(self, module: nn.Module, mean, matrix, scale: float) -> None:
        super().__init__()
        self.module = module
        self.register_buffer(
            "mean",
            None if mean is None else torch.tensor(mean, dtype=torch.float32)[:, None],
        )
        self.register_buffer(
            "matrix",
            None if matrix is None else torch.tensor(matrix, dtype=torch.float32),
        )
        # transform multiplies the float32 embeddings by np.float32(scale).
        self.scale = float(np.float32(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(batch, K * M)`` of equal-length sequences ``x``."""
        if self.mean is not None:
            # As in to_network_input: centre, then whiten (here in float32).
            x = x - self.mean
            if self.matrix is not None:
                x = torch.matmul(self.matrix, x)
        batch = x.shape[0]
        module = self.module
        encoder = module.encoder
        if getattr(encoder, "accepts_lengths", False):
            lengths = torch.full((batch,), x.shape[-1], dtype=torch.long)
            features = encoder(x, lengths)
        else:
            # QuantileEmbedding.step_features groups sequences by length with
            # data-dependent code; with equal lengths there is one group, the
            # whole batch, run through the encoder as is.
            features = module._encode(x)
        out_lengths = torch.full((batch,), features.shape[-1], dtype=torch.long)
        if module.pooling == "mean":
            pooled = mean_pooling(features, out_lengths)
        else:
            pooled = quantile_pooling(
                features, out_lengths, module.n_quantiles, module.quantile_method
            )
        return pooled.reshape(batch, -1) * self.scale


def _import_exporter() -> None:
    """Import the packages torch's ONNX exporter needs, or say how to install them."""
    for name in ("onnx", "onnxscript"):
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise ImportError(
                f"to_onnx needs the optional package {name!r} (with onnx, "
                "onnxscript, and onnxruntime to run the graph): install the "
                f"'onnx' extra, {_EXTRA}."
            ) from error
    if "dynamic_shapes" not in inspect.signature(torch.onnx.export).parameters:
        raise ImportError(
            "to_onnx needs PyTorch's torch.export-based ONNX exporter "
            f"(torch >= 2.6); this is torch {torch.__version__}."
        )


def _check_path(path) -> str:
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"path must be a str or os.PathLike, got {path!r} of type "
            f"{type(path).__name__}."
        )
    resolved = os.fspath(path)
    if not isinstance(resolved, str):
        raise TypeError(
            f"path must be a str or os.PathLike of str, got {path!r}, whose "
            f"os.fspath is of type {type(resolved).__name__}."
        )
    if os.path.isdir(resolved):
        raise ValueError(f"path={resolved!r} is a directory; give a file name.")
    folder = os.path.dirname(os.path.abspath(resolved))
    if not os.path.isdir(folder):
        raise ValueError(
            f"path={resolved!r} is in {folder!r}, which is no existing "
            "directory; create it first."
        )
    return resolved


# Lengths at which an export with a dynamic time axis is compared with the
# model it came from (one shorter and one longer than the trace's).
_CHECK_LENGTHS = (_TRACE_LENGTH // 4 + 1, 2 * _TRACE_LENGTH + 1)


def _check_other_lengths(graph, program, n_channels: int) -> None:
    """Refuse an export that computes another function at other lengths.

    The exporter traces the model at one length; an encoder that branches on
    its input's shape is recorded with the branch taken there, and would give
    other results at other lengths without an error.
    """
    exported = program.exported_program.module()
    generator = torch.Generator().manual_seed(0)
    for length in _CHECK_LENGTHS:
        x = torch.randn(2, n_channels, length, generator=generator)
        try:
            graph.module.probe(x[:1])
        except ValueError:
            continue  # the model itself refuses this length
        with torch.no_grad():
            expected = graph(x)
            try:
                got = exported(x)
            except (AssertionError, RuntimeError) as error:  # a failed guard
                raise ValueError(
                    f"the exported graph holds only for some lengths ({error}), "
                    f"but the ONNX file would accept {length} steps without that "
                    "check: the encoder branches on its input's shape; pass "
                    "n_timepoints to export one fixed length."
                ) from error
        if not torch.allclose(got, expected, rtol=1e-4, atol=1e-5):
            raise ValueError(
                f"the exported graph differs from the model at {length} steps "
                f"(largest difference {float((got - expected).abs().max()):.3g}) "
                f"although it equals it at the traced {_TRACE_LENGTH}: the "
                "encoder depends on the sequence length in a way the exporter "
                "cannot record (a branch on the input's shape?); pass "
                "n_timepoints to export one fixed length."
            )


def to_onnx(embedder, path, *, n_timepoints=None, opset=None):
    """Export the ``transform`` of a fitted embedder to an ONNX file.

    The graph maps a float32 batch ``X`` of shape ``(batch, n_channels,
    n_timepoints)`` to the embeddings ``(batch, K * M)`` that
    :meth:`WassersteinSequenceEmbedder.transform` returns for the same
    sequences: centring and whitening, the encoder in evaluation mode (running
    normalisation statistics, no dropout), quantile or mean pooling over all
    time steps, flattening and the scale ``M ** (-1/p)``. The ``metric_``
    distance between output rows is the learned distance. Deployment then needs
    only an ONNX runtime, neither PyTorch nor this package.

    Parameters
    ----------
    embedder : WassersteinSequenceEmbedder
        A fitted embedder. It is not modified: the graph is traced from a deep
        copy of its module, on the CPU. A user ``encoder`` is exported as long
        as ``torch.onnx.export`` can trace it.
    path : str or os.PathLike
        File to write (overwritten if it exists). The weights are stored in it:
        the file is self-contained.
    n_timepoints : int, default=None
        Length of the sequences the graph accepts. ``None``: any length (a
        dynamic time axis named ``"n_timepoints"``; a user encoder must accept
        sequences of 64 steps, on which the graph is traced). An int fixes the
        time axis to that length.
    opset : int, default=None
        ONNX opset version of the default domain; ``None`` uses the default of
        the installed PyTorch exporter. The exporter writes opset 18 or more
        and converts to an older one on request, which may fail: then a
        ``ValueError`` is raised and no file is written.

    Returns
    -------
    path : str or os.PathLike
        ``path``, as given.

    Raises
    ------
    TypeError
        If ``embedder`` is not a :class:`WassersteinSequenceEmbedder`, ``path``
        is not a str or path-like object, or ``n_timepoints`` or ``opset`` is
        not an int.
    sklearn.exceptions.NotFittedError
        If ``embedder`` is not fitted.
    ValueError
        If ``path`` is a directory, ``n_timepoints`` or ``opset`` is below 1,
        the encoder cannot process sequences of ``n_timepoints`` steps, the
        graph cannot be converted to ``opset``, or (without ``n_timepoints``)
        the exported graph differs from the model at a length other than the
        one traced (an encoder that branches on its input's shape).
    RuntimeError
        If PyTorch's exporter cannot trace the encoder (for example one that
        reads tensor values into Python with ``.item()``); no file is written.
    ImportError
        If the optional packages ``onnx`` and ``onnxscript`` are missing
        (``pip install 'sklearn-wdist[onnx]'``).

    See Also
    --------
    WassersteinSequenceEmbedder.transform : What the graph computes.

    Notes
    -----
    **What the graph accepts.** One input, ``"X"``: float32, shape
    ``(batch, n_channels, n_timepoints)`` with a dynamic ``"batch"`` axis,
    ``n_channels = embedder.n_features_in_`` and a dynamic (``n_timepoints=None``)
    or fixed time axis. Every sequence of a batch has the same length, all of
    whose steps are valid: there is no padding mask, so sequences of different
    lengths go into separate runs (``transform`` groups them by length itself).
    One output, ``"embeddings"``: float32, shape ``(batch, K * M)``
    (``(batch, K)`` with ``pooling="mean"``). The graph does not validate its
    input as ``transform`` does (no check of NaN or infinite values, of the
    layout, or of finite output); sequences shorter than a user encoder accepts
    fail in the runtime. The model's metadata (``metadata_props``) records
    ``metric`` (``"euclidean"`` or ``"manhattan"``), ``p``, ``n_channels``,
    ``n_quantiles`` (1 with mean pooling) and ``pooling``.

    **Precision.** ``transform`` centres and whitens in float64 and casts the
    result to float32; the graph receives float32 and does the same arithmetic
    in float32. The outputs agree to a few float32 rounding errors: in this
    package's tests, which allow ``1e-5`` times the largest embedding value,
    the largest difference is about ``1e-7`` for centred data and ``6e-7``
    with a channel offset of ten standard deviations. The error grows with the
    offset: data on a large offset (``|mean| >> std``, e.g. timestamps) loses
    its small variations in the cast to float32 before the graph can centre
    it, while ``transform`` keeps them.

    **Safe deployment.** An ONNX file holds a computation graph and its weights,
    no code: loading it in a runtime does not execute anything chosen by its
    author. A pickled estimator (``pickle``, ``joblib``, ``torch.save`` of the
    skorch net, which needs ``torch.load(..., weights_only=False)`` as the
    module holds this package's classes) runs arbitrary code when loaded: only
    unpickle files you trust. Shipping the ONNX file is the safer way to hand a
    trained embedder to an untrusted environment, or to accept one from it.

    Examples
    --------
    The example needs the optional packages (``pip install
    'sklearn-wdist[onnx]'``), so it is skipped as a doctest;
    ``tests/test_onnx.py`` runs the same steps.

    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn_wdist import WassersteinSequenceEmbedder, to_onnx
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 2, 30)).astype(np.float32)
    >>> y = np.repeat([0, 1], 10)
    >>> embedder = WassersteinSequenceEmbedder(
    ...     n_features=4, hidden_channels=8, n_quantiles=4, max_epochs=1, random_state=0
    ... )
    >>> embedder = embedder.fit(X, y)  # doctest: +SKIP
    >>> path = os.path.join(tempfile.mkdtemp(), "embedder.onnx")  # doctest: +SKIP
    >>> to_onnx(embedder, path)  # doctest: +SKIP
    '.../embedder.onnx'
    >>> import onnxruntime  # doctest: +SKIP
    >>> session = onnxruntime.InferenceSession(path)  # doctest: +SKIP
    >>> embeddings = session.run(None, {"X": X})[0]  # doctest: +SKIP
    >>> embeddings.shape  # doctest: +SKIP
    (20, 40)
    >>> bool(np.abs(embeddings - embedder.transform(X)).max() < 1e-5)  # doctest: +SKIP
    True
    """
    if not isinstance(embedder, WassersteinSequenceEmbedder):
        raise TypeError(
            "embedder must be a fitted WassersteinSequenceEmbedder, got "
            f"{type(embedder).__name__}{wrapper_hint(embedder)}."
        )
    check_is_fitted(embedder)
    destination = _check_path(path)
    if n_timepoints is not None:
        n_timepoints = check_int(n_timepoints, "n_timepoints", minimum=1)
    if opset is not None:
        opset = check_int(opset, "opset", minimum=1)
    _import_exporter()
    if opset is not None:
        from onnx.defs import onnx_opset_version

        if opset > onnx_opset_version():
            raise ValueError(
                f"opset={opset} is not available: the installed onnx knows "
                f"opsets up to {onnx_opset_version()}; pass "
                f"opset={onnx_opset_version()} or less, or None."
            )

    module = copy.deepcopy(embedder.module_).to("cpu").eval()
    graph = _TransformGraph(
        module,
        embedder.whitening_mean_,
        embedder.whitening_matrix_,
        embedder.embedding_scale_,
    ).eval()
    length = _TRACE_LENGTH if n_timepoints is None else n_timepoints
    example = torch.zeros(_TRACE_BATCH, embedder.n_features_in_, length)
    try:
        module.probe(example[:1])
    except ValueError as error:
        advice = (
            "; pass n_timepoints, the length the graph should accept"
            if n_timepoints is None
            else ""
        )
        raise ValueError(
            f"cannot export for sequences of {length} steps: {error}{advice}"
        ) from error
    axes = {0: torch.export.Dim(_BATCH_AXIS)}
    if n_timepoints is None:
        axes[2] = torch.export.Dim(_TIME_AXIS)
    with torch.no_grad():
        program = torch.onnx.export(
            graph,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            dynamo=True,
            dynamic_shapes={"x": axes},
            external_data=False,
            verbose=False,
        )
    if n_timepoints is None:
        _check_other_lengths(graph, program, embedder.n_features_in_)
    produced = program.model.opset_imports.get("")
    if opset is not None and produced != opset:
        raise ValueError(
            f"opset={opset} is not available: PyTorch's exporter built the "
            f"graph at opset {produced} and could not convert it to opset "
            f"{opset}; pass a higher opset, or None for opset {produced}."
        )
    program.model.doc_string = (
        "sklearn_wdist.WassersteinSequenceEmbedder.transform of equal-length "
        "float32 sequences (batch, n_channels, n_timepoints)."
    )
    program.model.metadata_props.update(
        {
            "metric": embedder.metric_,
            "p": str(embedder.p_),
            "n_channels": str(embedder.n_features_in_),
            "n_quantiles": str(len(embedder.quantile_levels_)),
            "pooling": embedder.pooling_,
        }
    )
    program.save(destination, external_data=False)
    return path
