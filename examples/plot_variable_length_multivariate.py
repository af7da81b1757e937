"""
Variable-length multivariate sequences, and tslearn's padded arrays
===================================================================

Real recordings rarely share one length. The embedder takes a collection of
multivariate sequences of unequal length as a plain Python list of
``(n_channels, n_timepoints_i)`` arrays (the aeon/sktime layout, channels
first), and a sequence's embedding never depends on how long the other
sequences are or which batch it is processed in.

tslearn stores the same kind of collection as one ``(n, sz, d)`` array,
channels last, with shorter sequences padded by trailing NaN;
:func:`~sklearn_wdist.from_tslearn` converts it. We build such an array here
with NumPy (tslearn itself is not needed) and check that both routes give the
same embeddings.

Data: JapaneseVowels (shipped with the package), 12 channels, 7 to 29 frames.

Set ``SKLEARN_WDIST_FAST=1`` for a quick run with few epochs; the figure goes
next to this script, or to ``$SKLEARN_WDIST_FIGURE_DIR``.
"""

# %%
# A list of arrays of unequal length
# ----------------------------------
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sklearn_wdist import WassersteinSequenceEmbedder, from_tslearn
from sklearn_wdist.datasets import load_japanese_vowels

FAST = os.environ.get("SKLEARN_WDIST_FAST", "") not in ("", "0")
FIGURE_DIR = Path(
    os.environ.get("SKLEARN_WDIST_FIGURE_DIR") or Path(__file__).resolve().parent
)

X_train, y_train = load_japanese_vowels(split="train")
X_test, y_test = load_japanese_vowels(split="test")
print(f"X_train: a {type(X_train).__name__} of {len(X_train)} arrays")
for x in X_train[:3]:
    print(f"  shape {x.shape}, dtype {x.dtype}")
lengths = np.array([x.shape[1] for x in X_test])
print(f"test lengths: {lengths.min()} to {lengths.max()} frames")

embedder = WassersteinSequenceEmbedder(max_epochs=2 if FAST else 30, random_state=0)
start = time.perf_counter()
embedder.fit(X_train, y_train)
print(f"fit on the list: {time.perf_counter() - start:.1f} s")
E_list = embedder.transform(X_test)
print(f"embeddings: {E_list.shape}")


# %%
# The same data as a tslearn array
# --------------------------------
# ``(n, sz, d)``: time second, channels last, NaN after the end of each
# sequence.
def to_tslearn(sequences):
    """Stack ``(d, T_i)`` arrays into a NaN-padded ``(n, max T_i, d)`` array."""
    size = max(x.shape[1] for x in sequences)
    n_channels = sequences[0].shape[0]
    padded = np.full((len(sequences), size, n_channels), np.nan)
    for i, x in enumerate(sequences):
        padded[i, : x.shape[1]] = x.T
    return padded


X_test_tslearn = to_tslearn(X_test)
print(f"tslearn-style array: {X_test_tslearn.shape}")
X_test_back = from_tslearn(X_test_tslearn)
print(
    f"from_tslearn: a list of {len(X_test_back)} arrays, first {X_test_back[0].shape}"
)
E_tslearn = embedder.transform(X_test_back)
difference = np.abs(E_list - E_tslearn).max()
print(f"largest difference between the two routes' embeddings: {difference:.2e}")

# %%
# Embeddings do not depend on the batch
# -------------------------------------
# Embedding one recording alone gives the same row as embedding it among all
# the others, whatever their lengths, up to float32 rounding (batches of other
# shapes take other floating-point paths): padding never leaks into the result.
longest = int(np.argmax(lengths))
shortest = int(np.argmin(lengths))
alone = embedder.transform([X_test[shortest], X_test[longest]])
batch_difference = np.abs(alone - E_list[[shortest, longest]]).max()
print(
    f"shortest ({lengths[shortest]} frames) and longest ({lengths[longest]} frames) "
    f"recordings embedded alone vs in the batch: largest difference "
    f"{batch_difference:.2e}"
)
map_at_r = embedder.score(X_test, y_test)
print(f"MAP@R on the test split: {map_at_r:.3f}")

# %%
# Pictures
# --------
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), layout="constrained")
for i in [shortest, int(np.argsort(lengths)[len(lengths) // 2]), longest]:
    axes[0].plot(X_test[i][0], marker=".", label=f"{lengths[i]} frames")
axes[0].set(
    xlabel="frame", ylabel="channel 0", title="three test recordings, channel 0"
)
axes[0].legend(fontsize="small")
axes[1].hist(lengths, bins=np.arange(lengths.min(), lengths.max() + 2) - 0.5)
axes[1].set(xlabel="frames", ylabel="recordings", title="test lengths")
axes[2].plot(E_list.ravel(), E_tslearn.ravel(), ".", ms=1, alpha=0.3)
axes[2].set(
    xlabel="transform(list of arrays)",
    ylabel="transform(from_tslearn(padded))",
    title="the two routes' embeddings",
)
axes[2].text(
    0.05, 0.92, f"largest difference {difference:.1g}", transform=axes[2].transAxes
)
FIGURE_DIR.mkdir(parents=True, exist_ok=True)
figure_path = FIGURE_DIR / "plot_variable_length_multivariate.png"
fig.savefig(figure_path, dpi=90)
print(f"figure: {figure_path}")

# %%
# Other layouts
# -------------
# - Equal-length collections can also be one ``(n, n_channels, n_timepoints)``
#   array, and univariate ones an ``(n, n_timepoints)`` array.
# - aeon's and sktime's unequal-length collections already are lists of
#   ``(n_channels, n_timepoints_i)`` arrays and go in unchanged.
# - NaN *inside* a sequence is an error, not padding: ``from_tslearn`` only
#   strips trailing NaN, and the embedder rejects non-finite values.
