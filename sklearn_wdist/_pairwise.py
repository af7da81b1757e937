"""The tiled engine: Wasserstein distances between rows of embedding matrices.

:func:`pairwise_wasserstein` and :func:`pairwise_wasserstein_chunked` work on the
output of the embedder's ``transform``: flattened per-feature quantile functions
scaled by ``M ** (-1 / p)``, on which the Wasserstein distance ``d_p`` is the plain
Euclidean (``p=2``) or Manhattan (``p=1``) distance between rows. Both return
``d_p = (sum_k W_p^p(k)) ** (1 / p)``, i.e. ``W_p``, never ``W_p^p``. The exact
reference lives in ``_exact.py``, affinities in ``_affinity.py``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from scipy.spatial.distance import cdist

from ._validation import (
    check_embedding_order,
    check_embeddings,
    check_n_jobs,
    check_p,
    check_working_memory,
    embedding_order,
    resolve_order,
)

__all__ = ["pairwise_wasserstein", "pairwise_wasserstein_chunked"]

# Every distance is computed inside a tile of a fixed grid anchored at (0, 0). BLAS
# results depend on the shape of the product (a row of ``A[s:e] @ B.T`` need not
# equal the same row of ``A @ B.T`` bit for bit), so tying each entry to one tile,
# whatever the chunking, the number of jobs or the backend, is what makes chunked
# and parallel output identical to the serial output. Tiles are large enough for
# BLAS to run near peak and to make few calls: each call to a multithreaded BLAS
# synchronises its threads, which is slow on busy machines.
_TILE = 512

# With centred data, the GEMM form ||a||^2 + ||b||^2 - 2 a.b has an absolute error
# of about sqrt(D) * eps * (||a||^2 + ||b||^2). Squared distances below this
# fraction of ||a||^2 + ||b||^2 are recomputed from the differences, which bounds
# the relative error of every returned distance by roughly 1e-8 in float64.
_CANCELLATION_RTOL = 1e-6
# Squared distances (in the operands' unit) below this have lost precision to
# underflow, or are about to: they are recomputed too.
_UNDERFLOW_D2 = 2.0**-800

# Number of pairs whose difference vectors are materialised at once when squared
# distances are recomputed directly (bounds the temporary to a few MiB).
_RECOMPUTE_BATCH = 2048


def power_of_two_unit(largest: float) -> float:
    """Return the power of two ``u`` with ``u <= largest < 2 * u`` (1 for 0).

    Dividing by it changes no significant bit and brings the data into
    ``[-2, 2)``, where squares neither overflow nor underflow; ``2 * u`` would
    not do, as ``2**1024`` is no float.
    """
    if largest <= 0:
        return 1.0
    return math.ldexp(0.5, math.frexp(largest)[1])


# Squares of values in this range neither overflow nor lose precision to
# underflow, even summed over many terms: norms of differences in it are summed
# as they are, bit for bit as before, and others are scaled first.
_PLAIN_NORM_RANGE = (2.0**-400, 2.0**400)


def euclidean_norms(difference: np.ndarray) -> np.ndarray:
    """Return the Euclidean norm of every row, without over- or underflow.

    Rows whose largest magnitude lies in ``_PLAIN_NORM_RANGE`` (or is 0) are
    summed directly; the others are divided by their largest magnitude first
    and the norm multiplied back, as ``hypot`` does.
    """
    difference = np.asarray(difference, dtype=np.float64)
    norms = np.sqrt(np.einsum("...i,...i->...", difference, difference))
    low, high = _PLAIN_NORM_RANGE
    # The largest magnitude lies between norm / sqrt(n) and the norm: only rows
    # whose norm is near or beyond the range (or not finite) can have theirs
    # outside it, so only those are looked at, not every row of a hot path.
    n = difference.shape[-1]
    near = ~((norms >= 2.0 * math.sqrt(max(n, 1)) * low) & (norms <= high / 2.0))
    if not near.any():
        return norms
    rows = difference[near]
    largest = np.abs(rows).max(axis=-1, initial=0.0)
    extreme = (largest > 0) & ((largest < low) | (largest > high))
    if extreme.any():
        scale = largest[extreme]
        scaled = rows[extreme] / scale[..., None]
        redone = norms[near]
        redone[extreme] = np.sqrt(np.einsum("...i,...i->...", scaled, scaled)) * scale
        norms[near] = redone
    return norms


def difference_norms(a_rows: np.ndarray, b_rows: np.ndarray) -> np.ndarray:
    """Return ``||a_rows[i] - b_rows[i]||_2`` for paired rows of finite values.

    A difference beyond the largest float is formed from halves instead.
    """
    a_rows = np.asarray(a_rows, dtype=np.float64)
    b_rows = np.asarray(b_rows, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        difference = a_rows - b_rows
    norms = euclidean_norms(difference)
    overflow = ~np.isfinite(norms)
    if overflow.any():
        halves = a_rows[overflow] / 2
        halves -= b_rows[overflow] / 2
        with np.errstate(over="ignore"):  # a true distance beyond the floats
            norms[overflow] = euclidean_norms(halves) * 2
    return norms


# --------------------------------------------------------------------------- #
# Distances on transform output (quantile embeddings)
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class _Operands:
    """Validated, float64 operands shared by every tile.

    ``b is None`` means the symmetric case ``B = A``. For ``p=2`` the operands are
    divided by ``unit`` (a power of two) and centred, and distances are multiplied
    back by the unit; ``a_rows`` and ``b_rows`` are the validated rows before
    centring, from which near-duplicate pairs are recomputed.
    """

    a: np.ndarray
    b: np.ndarray | None
    a_sq: np.ndarray | None
    b_sq: np.ndarray | None
    p: int
    out_dtype: type[np.floating]
    unit: float = 1.0
    a_rows: np.ndarray | None = None
    b_rows: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return self.a.shape[0]

    @property
    def n_cols(self) -> int:
        return (self.a if self.b is None else self.b).shape[0]


def _prepare(A: Any, B: Any, p: Any, private: bool = False) -> _Operands:
    """Validate inputs and build the float64 operands.

    Every check runs before ``p="auto"`` may warn that it fell back to the
    default order: bad input gets its error alone. ``private=True`` copies
    whatever would still refer to the caller's arrays, for a generator that
    reads them after returning.
    """
    auto = isinstance(p, str) and p == "auto"
    if not auto:
        p = check_p(p, auto=True)
    embeddings_a = check_embeddings(A, "A")
    embeddings_b = None if B is None else check_embeddings(B, "B")
    if B is not None and embeddings_b.shape[1] != embeddings_a.shape[1]:
        raise ValueError(
            f"A and B must have the same number of columns, got A with "
            f"{embeddings_a.shape[1]} and B with {embeddings_b.shape[1]}."
        )
    if auto:  # the order A (or else B) was trained with, or the default
        known = embedding_order(A) or (None if B is None else embedding_order(B))
        # resolve_order's warning names the caller of the public function.
        p = known or resolve_order(p, A, "A")
    check_embedding_order(A, p, "A")
    if B is not None:
        check_embedding_order(B, p, "B")
    A, B = embeddings_a, embeddings_b
    both_single = A.dtype == np.float32 and (B is None or B.dtype == np.float32)
    out_dtype = np.float32 if both_single else np.float64
    if private:
        A = np.array(A, dtype=np.float64, order="C")
        B = None if B is None else np.array(B, dtype=np.float64, order="C")
    if p == 1:
        a = np.ascontiguousarray(A, dtype=np.float64)
        b = None if B is None else np.ascontiguousarray(B, dtype=np.float64)
        return _Operands(a, b, None, None, p, out_dtype)
    # Private copies, modified in place below.
    a = np.array(A, dtype=np.float64, order="C")
    b = None if B is None else np.array(B, dtype=np.float64, order="C")
    # Squares of values beyond ~1e154 overflow (and below ~1e-154 underflow).
    # Dividing by a power of two brings the data into [-1, 1] without changing a
    # single significant bit, so results are unchanged where nothing overflows.
    largest = max(np.abs(a).max(), 0.0 if b is None else np.abs(b).max())
    unit = power_of_two_unit(float(largest))
    # Distances are translation invariant; centring shrinks ||a||^2 + ||b||^2 and
    # with it the cancellation error of the GEMM form. The centre is computed once
    # from all rows, so it does not depend on chunking. Centring rounds each value
    # to the precision of the largest ones, which near-duplicate rows far from
    # the centre cannot afford: their distances are recomputed from the rows
    # before centring.
    a /= unit
    total = a.sum(axis=0)
    if b is not None:
        b /= unit
        total += b.sum(axis=0)
    centre = total / (a.shape[0] + (0 if b is None else b.shape[0]))
    a -= centre
    a_sq = np.einsum("ij,ij->i", a, a)
    if b is None:
        return _Operands(a, None, a_sq, None, p, out_dtype, unit, A, A)
    b -= centre
    b_sq = np.einsum("ij,ij->i", b, b)
    return _Operands(a, b, a_sq, b_sq, p, out_dtype, unit, A, B)


def _euclidean_tile(
    a: np.ndarray,
    b: np.ndarray,
    a_sq: np.ndarray,
    b_sq: np.ndarray,
    a_rows: np.ndarray,
    b_rows: np.ndarray,
    unit: float,
) -> np.ndarray:
    """Euclidean distances between rows of ``a`` and ``b``, float64.

    ``a`` and ``b`` are the centred rows in units of ``unit``; ``a_rows`` and
    ``b_rows`` the same rows as given, from which near-duplicates are recomputed.
    """
    d2 = a @ b.T
    d2 *= -2.0
    scale = a_sq[:, None] + b_sq[None, :]
    d2 += scale
    # Near-duplicate rows (and any value the rounding pushed below zero) lose all
    # their significant digits to cancellation; so do rows far smaller than the
    # largest value, whose squares in ``unit`` underflow. Both are recomputed
    # from their differences, in the data's own scale.
    scale *= _CANCELLATION_RTOL
    np.maximum(scale, _UNDERFLOW_D2, out=scale)
    suspect = d2 <= scale
    if not suspect.any():
        distances = np.sqrt(d2, out=d2)
        distances *= unit
        return distances
    rows, cols = np.nonzero(suspect)
    d2[rows, cols] = 0.0  # may be below 0; recomputed below
    distances = np.sqrt(d2, out=d2)
    distances *= unit
    for start in range(0, rows.size, _RECOMPUTE_BATCH):
        r = rows[start : start + _RECOMPUTE_BATCH]
        c = cols[start : start + _RECOMPUTE_BATCH]
        distances[r, c] = difference_norms(a_rows[r], b_rows[c])
    return distances


def _compute_tile(ops: _Operands, r0: int, c0: int) -> np.ndarray:
    """Tile of the grid starting at row ``r0`` and column ``c0`` (multiples of _TILE).

    Returns float64. In the symmetric case the tile is derived from the upper
    triangle, so the whole matrix is exactly symmetric with a zero diagonal.
    """
    if ops.b is None and c0 < r0:
        return _compute_tile(ops, c0, r0).T
    r1 = min(r0 + _TILE, ops.n_rows)
    c1 = min(c0 + _TILE, ops.n_cols)
    b = ops.a if ops.b is None else ops.b
    if ops.p == 1:
        tile = cdist(ops.a[r0:r1], b[c0:c1], "cityblock")
    else:
        b_sq = ops.a_sq if ops.b_sq is None else ops.b_sq
        tile = _euclidean_tile(
            ops.a[r0:r1],
            b[c0:c1],
            ops.a_sq[r0:r1],
            b_sq[c0:c1],
            ops.a_rows[r0:r1],
            ops.b_rows[c0:c1],
            ops.unit,
        )
    if ops.b is None and c0 == r0:
        tile = np.triu(tile, k=1)
        tile += tile.T
    return tile


def _row_block(ops: _Operands, start: int, stop: int) -> np.ndarray:
    """Full rows ``start:stop`` of the distance matrix, in the output dtype."""
    block = np.empty((stop - start, ops.n_cols), dtype=ops.out_dtype)
    for r0 in range(start - start % _TILE, stop, _TILE):
        lo, hi = max(start, r0), min(stop, r0 + _TILE)
        for c0 in range(0, ops.n_cols, _TILE):
            tile = _compute_tile(ops, r0, c0)
            block[lo - start : hi - start, c0 : c0 + tile.shape[1]] = tile[
                lo - r0 : hi - r0
            ]
    return block


def _tile_row_span(
    ops: _Operands, r0: int, c_start: int, c_stop: int
) -> tuple[int, int, np.ndarray]:
    """Tiles of tile row ``r0`` over the tile-aligned columns ``c_start:c_stop``."""
    r1 = min(r0 + _TILE, ops.n_rows)
    block = np.empty((r1 - r0, c_stop - c_start), dtype=ops.out_dtype)
    for c0 in range(c_start, c_stop, _TILE):
        tile = _compute_tile(ops, r0, c0)
        block[:, c0 - c_start : c0 - c_start + tile.shape[1]] = tile
    return r0, c_start, block


def _warn_working_memory(
    working_memory: float, needed_bytes: int, stacklevel: int
) -> None:
    warnings.warn(
        f"Could not adhere to working_memory={working_memory} MiB: the smallest "
        f"unit of work needs {needed_bytes / 2**20:.3g} MiB.",
        UserWarning,
        stacklevel=stacklevel + 1,
    )


def _chunk_n_rows(n_rows: int, row_bytes: int, working_memory: float) -> int:
    """Rows per chunk under scikit-learn's ``working_memory`` convention (MiB)."""
    chunk = int(working_memory * 2**20 // row_bytes)
    if chunk < 1:
        # Two frames up is the public function's caller.
        _warn_working_memory(working_memory, row_bytes, stacklevel=3)
        chunk = 1
    return min(chunk, n_rows)


def parallel_generator(n_jobs: int | None, **kwargs: Any) -> Parallel:
    """Build a joblib ``Parallel`` yielding results as they complete, if possible.

    Streaming results bounds the memory in flight to a few chunks. Backends that
    cannot stream (joblib's multiprocessing backend, Ray's backend built on it)
    reject ``return_as`` when constructed; they get a plain list instead so that
    a user's ``parallel_config`` is still honoured.
    """
    try:
        return Parallel(n_jobs=n_jobs, return_as="generator_unordered", **kwargs)
    except ValueError as exc:
        if "return_as" not in str(exc):
            raise
        return Parallel(n_jobs=n_jobs, **kwargs)


def pairwise_wasserstein(
    A: Any,
    B: Any = None,
    *,
    p: int | str = "auto",
    n_jobs: int | None = None,
    working_memory: float | None = None,
) -> np.ndarray:
    """Wasserstein distances between rows of two collections of embeddings.

    ``A`` and ``B`` are outputs of the embedder's ``transform``: flattened
    per-feature quantile functions scaled by ``M ** (-1 / p)``. The returned
    distance ``d_p = (sum_k W_p^p(k)) ** (1 / p)`` is ``W_p``, not ``W_p^p``; it
    equals the Euclidean (``p=2``) or Manhattan (``p=1``) distance between rows.

    Parameters
    ----------
    A : array-like of shape (n_samples_A, n_dims)
        Embeddings of the query sequences.
    B : array-like of shape (n_samples_B, n_dims), default=None
        Embeddings of the reference sequences. If None, ``B = A`` and the result
        is exactly symmetric with an exactly zero diagonal.
    p : {1, 2} or "auto", default="auto"
        Order of the Wasserstein distance; must match the embedder's ``p_``:
        the output of an embedder trained with another order is refused.
        ``"auto"`` takes the order ``A`` (or ``B``) was trained with when it is
        (a view of) an embedder's ``transform`` output, and otherwise the
        embedder's default, ``1``, with a warning: embeddings saved and
        loaded, re-indexed or copied no longer tell their order, so pass
        ``p=model.p_`` for them.
    n_jobs : int, default=None
        Number of joblib jobs over row chunks. ``None`` means 1 unless in a
        :func:`joblib.parallel_config` context, whose backend (threads, processes,
        Dask, Ray, ...) is honoured. Threads are preferred by default. For
        ``p=2`` the BLAS library already uses several cores, so ``n_jobs`` mostly
        helps ``p=1``.
    working_memory : float, default=None
        Approximate memory in MiB of the block computed by one task (at most 512
        rows; a few tasks per worker are in flight), on top of the output itself.
        Defaults to ``sklearn.get_config()["working_memory"]``. A budget below
        one 512 x 512 tile (2 MiB) is exceeded with a warning.

    Returns
    -------
    distances : ndarray of shape (n_samples_A, n_samples_B)
        ``W_p`` distances; float32 if all inputs are float32, else float64.

    See Also
    --------
    pairwise_wasserstein_chunked : The same matrix, yielded block by block.
    pairwise_wasserstein_exact : Exact distance between empirical distributions.

    Notes
    -----
    For ``p=2`` the squared distances are computed in float64 as
    ``||a||^2 + ||b||^2 - 2 a.b`` (one matrix product) on centred data, and pairs
    too close for that formula to be accurate are recomputed from their
    differences, so the result matches :func:`scipy.spatial.distance.cdist` to
    about 1e-8 relative error while being several times faster. Each entry is
    computed inside a fixed 512 x 512 tile of the matrix, so with a deterministic
    BLAS the result does not depend on ``n_jobs``, ``working_memory`` or the
    joblib backend, and :func:`pairwise_wasserstein_chunked` gives the same bits.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_wdist import pairwise_wasserstein
    >>> E = np.array([[0.0, 0.0], [3.0, 4.0]])
    >>> pairwise_wasserstein(E, p=2)
    array([[0., 5.],
           [5., 0.]])
    >>> pairwise_wasserstein(E, E[:1], p=1)
    array([[0.],
           [7.]])
    """
    n_jobs = check_n_jobs(n_jobs)
    working_memory = check_working_memory(working_memory)
    ops = _prepare(A, B, p)

    # A task is one tile row over a span of tile columns whose result fits in
    # working_memory; small tasks keep the memory in flight (at most a few tasks
    # per worker) far below the size of the output.
    budget = working_memory * 2**20
    span = max(_TILE, int(budget // (8 * _TILE)) // _TILE * _TILE)
    tasks = (
        delayed(_tile_row_span)(ops, r0, c_start, min(c_start + span, ops.n_cols))
        for r0 in range(0, ops.n_rows, _TILE)
        # Symmetric case: only tiles on or above the diagonal, mirrored below.
        for c_start in range(r0 if ops.b is None else 0, ops.n_cols, span)
    )
    if span * _TILE * 8 > budget:
        _warn_working_memory(working_memory, span * _TILE * 8, stacklevel=2)

    out = np.empty((ops.n_rows, ops.n_cols), dtype=ops.out_dtype)
    # Threads: the work is BLAS / C loops that release the GIL, and a thread
    # returns its result without pickling. This is only a soft hint, so a joblib
    # backend chosen by the user (loky, Dask, Ray, ...) takes precedence.
    parallel = parallel_generator(n_jobs, prefer="threads")
    for r0, c_start, block in parallel(tasks):
        r1, c_stop = r0 + block.shape[0], c_start + block.shape[1]
        out[r0:r1, c_start:c_stop] = block
        if ops.b is None:
            out[c_start:c_stop, r0:r1] = block.T
    return out


def pairwise_wasserstein_chunked(
    A: Any,
    B: Any = None,
    *,
    p: int | str = "auto",
    working_memory: float | None = None,
) -> Iterator[np.ndarray]:
    """Yield consecutive row blocks of :func:`pairwise_wasserstein`.

    Use it to reduce a distance matrix that does not fit in memory block by block
    (for example to keep the nearest references of each query). Concatenating
    the blocks gives exactly ``pairwise_wasserstein(A, B, p=p)``: ``W_p``
    distances, not ``W_p^p``.

    Inputs are validated and copied when the generator is created, before any
    block is computed: later changes to ``A`` or ``B`` do not reach the blocks
    (the copies take about twice the inputs' float64 size with ``p=2``).

    Parameters
    ----------
    A : array-like of shape (n_samples_A, n_dims)
        Embeddings of the query sequences.
    B : array-like of shape (n_samples_B, n_dims), default=None
        Embeddings of the reference sequences; None means ``B = A``.
    p : {1, 2} or "auto", default="auto"
        Order of the Wasserstein distance; must match the embedder's ``p_``.
        ``"auto"`` as in :func:`pairwise_wasserstein`.
    working_memory : float, default=None
        Approximate size in MiB of one block as computed, in float64 (a
        float32 block yielded takes half of it). Defaults to
        ``sklearn.get_config()["working_memory"]``. At least one row is yielded
        at a time, with a warning if a row does not fit.

    Returns
    -------
    blocks : generator of ndarray of shape (n_rows_block, n_samples_B)
        Consecutive row blocks of the distance matrix.

    See Also
    --------
    pairwise_wasserstein : The whole matrix at once, optionally in parallel.

    Notes
    -----
    Distances are computed in 512 x 512 tiles. Blocks are whole multiples of 512
    rows when ``working_memory`` allows it; smaller blocks (more than about 130,000
    columns at the default 1024 MiB) recompute the tiles they share with their
    neighbours, which costs time but not memory.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_wdist import pairwise_wasserstein_chunked
    >>> E = np.arange(8.0).reshape(4, 2)
    >>> blocks = pairwise_wasserstein_chunked(E, p=2, working_memory=64 / 2**20)
    >>> [block.shape for block in blocks]
    [(2, 4), (2, 4)]
    """
    working_memory = check_working_memory(working_memory)
    # The blocks are computed as they are drawn: from copies, so that changes to
    # A or B after this call cannot reach them.
    ops = _prepare(A, B, p, private=True)
    rows = _chunk_n_rows(ops.n_rows, 8 * ops.n_cols, working_memory)
    return _iter_row_blocks(ops, rows)


def _iter_row_blocks(ops: _Operands, rows: int) -> Iterator[np.ndarray]:
    if rows >= _TILE:
        # Whole tile rows avoid computing a tile more than once.
        rows -= rows % _TILE
    for start in range(0, ops.n_rows, rows):
        yield _row_block(ops, start, min(start + rows, ops.n_rows))
