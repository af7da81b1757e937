"""Training changes that are not estimator parameters, on the validation tasks.

Each variant is a subclass of :class:`~sklearn_wdist.WassersteinSequenceEmbedder`
that changes one thing in how the default is trained, scored with the protocol
and rule of ``select_defaults.py`` (official training splits only; the sum of
the mean differences to the raw-quantile baseline over seen accuracy, unseen
-EER and unseen MAP@R):

- ``edge-corrected convolutions``: partial-convolution padding (Liu et al.,
  2018) in every dilated block: near the ends of a sequence the sum over the
  taps inside it is scaled by ``kernel_size`` over their number, instead of
  counting the taps outside as zeros;
- ``full batches, fewer steps``: with fewer classes than ``classes_per_batch``
  (P), each batch takes more sequences per class, so that it still holds about
  ``P * samples_per_class`` sequences; an epoch still draws about
  ``n_sequences`` of them, so there are fewer optimiser steps;
- ``full batches, same steps``: the same batches, as many per epoch as the
  default has;
- ``at least N steps``: more epochs when an epoch has few batches, so that
  training takes at least N optimiser steps (small data sets);
- ``labelled + crop triplets``: each batch also holds a random crop of every
  sequence (at least half of it, as ``fit(X)`` draws), and the loss adds the
  label-free triplet loss to the labelled one: a crop's positive is its own
  sequence and its negatives are all other sequences, same class included. The
  labelled loss sees the uncropped sequences only, as the default's does;
- ``weights averaged over the last quarter``: stochastic weight averaging
  (Izmailov et al., 2018): the trained weights are the mean of the weights at
  the end of each epoch of the last quarter of training, and the normalisation
  statistics are then computed again, over the training sequences, for those
  weights. Same optimiser steps, no extra fit time beyond one pass;
- ``with first differences``: every channel's first difference (``x[t] -
  x[t-1]``, 0 at the first step) is appended as one more input channel, so
  the whitening, the encoder and the kept input rows see the slopes too;
- ``input rows with differences``: the encoder is the default's; only the kept
  (whitened) input rows gain the distribution of each channel's first
  difference, standardised over the training steps. It was run as a subclass
  and is now the estimator's ``include_differences=True`` (the default since
  this round); the other variants are compared with the round 5 default and
  run with ``include_differences=False`` and ``input_row_weighting=None``;
- ``whitened difference rows``: as ``input rows with differences``, but the
  differences are first whitened jointly with their own within-class
  covariance (fitted on the training sequences, as the channels are), then
  standardised: slopes that vary within a class count less;
- ``difference rows at the correlation lag``: the difference rows take
  ``x[t] - x[t - L]`` (``x[0]`` standing in before the start) instead of the
  step-to-step difference, with ``L`` read off the training sequences: the
  smallest lag at which their mean autocorrelation falls below 0.5 (at most
  half the median length). Slow shapes get slopes over their own scale.

A variant only needs to run on the tasks it changes: on a task with at least
``P`` classes the batch variants train exactly as the default does. Run (seeds
0 and 1 by default)::

    python benchmarks/training_variants.py --variants "full batches, same steps"

Each variant is compared task by task with the default's rows of
``--baseline`` (by default round 5 of the selection,
``results/select_defaults_round5.json``, which ran the default with seeds 0
and 1 on the same code); results go to
``benchmarks/results/training_variants.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from pathlib import Path

import _common as common
import numpy as np
import select_defaults
import torch
from skorch.callbacks import Callback

from sklearn_wdist import WassersteinSequenceEmbedder
from sklearn_wdist._training import AugmentingCollate, pad_batch
from sklearn_wdist._validation import check_sequences
from sklearn_wdist._whitening import fit_whitening
from sklearn_wdist.nn import (
    ClassBalancedBatchSampler,
    MaskedBatchNorm1d,
    WassersteinTripletLoss,
)
from sklearn_wdist.nn._dilated import _ResidualBlock
from sklearn_wdist.nn._masking import lengths_to_mask

DEFAULT = "dilated, auto blocks"


class _EdgeCorrectedBlock(_ResidualBlock):
    """A residual block whose convolution ignores the taps outside the sequence."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = self.conv(self.dropout(x))
        width, dilation = self.conv.kernel_size[0], self.conv.dilation[0]
        ones = torch.ones(1, 1, width, dtype=x.dtype, device=x.device)
        counts = torch.nn.functional.conv1d(
            mask.to(x.dtype), ones, dilation=dilation, padding="same"
        ).clamp(min=1.0)
        bias = self.conv.bias[None, :, None]
        out = (out - bias) * (width / counts) + bias
        return torch.relu(x + self.norm(out, mask))


class EdgeCorrected(WassersteinSequenceEmbedder):
    """The default with partial-convolution padding in every dilated block."""

    def _build_module(self, n_channels, train_inputs, seed):
        module = super()._build_module(n_channels, train_inputs, seed)
        for block in module.encoder.blocks:
            block.__class__ = _EdgeCorrectedBlock
        return module


class _FullBatches(WassersteinSequenceEmbedder):
    same_steps: bool  # as many batches per epoch as the default, or fewer

    def _build_net(self, module, train_codes, seed, validation, *args, **kwargs):
        net = super()._build_net(module, train_codes, seed, validation, *args, **kwargs)
        default = net.iterator_train__batch_sampler
        # The default sampler caps its classes per batch at the number of classes.
        size = self.classes_per_batch * self.samples_per_class
        filled = max(
            self.samples_per_class, math.ceil(size / default.classes_per_batch)
        )
        net.iterator_train__batch_sampler = ClassBalancedBatchSampler(
            train_codes,
            self.classes_per_batch,
            filled,
            n_batches=len(default) if self.same_steps else None,
            seed=seed,
        )
        return net


class FullBatchesFewerSteps(_FullBatches):
    """Full batches; an epoch still draws about ``n_sequences`` sequences."""

    same_steps = False


class FullBatchesSameSteps(_FullBatches):
    """Full batches, as many per epoch as the default draws."""

    same_steps = True


class _MinimumSteps(WassersteinSequenceEmbedder):
    min_steps = 0

    def _build_net(self, *args, **kwargs):
        net = super()._build_net(*args, **kwargs)
        per_epoch = len(net.iterator_train__batch_sampler)
        net.max_epochs = max(self.max_epochs, math.ceil(self.min_steps / per_epoch))
        return net


class AtLeast300Steps(_MinimumSteps):
    """The default, trained for at least 300 optimiser steps."""

    min_steps = 300


class AtLeast600Steps(_MinimumSteps):
    """The default, trained for at least 600 optimiser steps."""

    min_steps = 600


class _SequenceAndCrop(AugmentingCollate):
    """Collate a batch of ``B`` sequences, then a random crop of each (``2B``)."""

    def __call__(self, batch):
        crops = [(self.augment(sequence), label) for sequence, label in batch]
        return pad_batch([*batch, *crops])


class _LabelledAndCropLoss(torch.nn.Module):
    """The labelled triplet loss on the sequences plus the crop triplet loss."""

    def __init__(self, labelled: WassersteinTripletLoss) -> None:
        super().__init__()
        self.labelled = labelled

    def forward(self, quantiles, labels):
        n_sequences = len(labels) // 2
        instances = torch.arange(n_sequences, device=labels.device).repeat(2)
        return self.labelled(
            quantiles[:n_sequences], labels[:n_sequences]
        ) + self.labelled(quantiles, instances)


class LabelledAndCropTriplets(WassersteinSequenceEmbedder):
    """The default, with the label-free crop triplets added to the labelled ones."""

    def _augmentation(self, supervised, seed):
        if not supervised:
            return super()._augmentation(supervised, seed)
        crop = self._crop_fraction(supervised=False)
        return _SequenceAndCrop(crop, self.scale_std, self.jitter_std, seed + 2)

    def _build_criterion(self):
        return _LabelledAndCropLoss(super()._build_criterion())


class _AverageLastEpochs(Callback):
    """Average the weights of the last epochs; recompute normalisation statistics."""

    def __init__(self, first_epoch: int, batch_size: int) -> None:
        self.first_epoch = first_epoch
        self.batch_size = batch_size

    def initialize(self):
        self.sum_, self.count_ = None, 0
        return self

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) < self.first_epoch:
            return
        weights = [t.detach().clone() for t in net.module_.parameters()]
        if self.sum_ is None:
            self.sum_ = weights
        else:
            for total, weight in zip(self.sum_, weights, strict=True):
                total += weight
        self.count_ += 1

    def on_train_end(self, net, X=None, **kwargs):
        if self.sum_ is None:
            return
        module = net.module_
        with torch.no_grad():
            for weight, total in zip(module.parameters(), self.sum_, strict=True):
                weight.copy_(total / self.count_)
        norms = [m for m in module.modules() if isinstance(m, MaskedBatchNorm1d)]
        momenta = [norm.momentum for norm in norms]
        sequences = [X[i][0] for i in range(len(X))]
        order = np.argsort([s.shape[-1] for s in sequences], kind="stable")
        was_training = module.training
        module.train()
        device = next(module.parameters()).device
        with torch.no_grad():
            for k, start in enumerate(range(0, len(order), self.batch_size)):
                members = [sequences[i] for i in order[start : start + self.batch_size]]
                batch, _ = pad_batch([(member, 0) for member in members])
                for norm in norms:  # a running mean over the batches
                    norm.momentum = 1.0 / (k + 1)
                module(batch["x"].to(device), batch["lengths"].to(device))
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        module.train(was_training)


class AveragedWeights(WassersteinSequenceEmbedder):
    """The default, with the weights averaged over the last quarter of epochs."""

    def _build_net(self, *args, **kwargs):
        net = super()._build_net(*args, **kwargs)
        first = self.max_epochs - max(1, self.max_epochs // 4) + 1
        size = self.classes_per_batch * self.samples_per_class
        net.callbacks = [*net.callbacks, ("average", _AverageLastEpochs(first, size))]
        return net


class WithDifferences(WassersteinSequenceEmbedder):
    """The default, on the input channels and their first differences."""

    def fit(self, X, y=None):  # noqa: D102 (WassersteinSequenceEmbedder.fit)
        return super().fit(common.with_first_differences(check_sequences(X)), y)

    def transform(self, X):  # noqa: D102 (WassersteinSequenceEmbedder.transform)
        return super().transform(common.with_first_differences(check_sequences(X)))


def _forward_with_variant_differences(self, x, lengths):
    """Run the encoder, its difference rows from ``variant_differences``."""
    mask = lengths_to_mask(lengths, x.shape[-1])
    inputs = self.input_norm(x, mask)
    features = self.head(self.hidden(inputs, mask)).masked_fill(~mask, 0.0)
    if self.output_norm is not None:
        features = self.output_norm(features, mask)
    steps = self.variant_differences(x, inputs, mask)
    return torch.cat([features, inputs, self.difference_norm(steps, mask)], dim=1)


def _use_differences(module, differences: torch.nn.Module):
    """Make the encoder of ``module`` take its difference rows from ``differences``."""
    encoder = module.encoder
    encoder.variant_differences = differences
    encoder.forward = _forward_with_variant_differences.__get__(encoder)
    return module


class _WhitenedDifferences(torch.nn.Module):
    """``matrix @ (d - mean)`` of the first differences ``d`` of the input."""

    def __init__(self, mean: np.ndarray, matrix: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("matrix", torch.as_tensor(matrix, dtype=torch.float32))

    def forward(self, x, inputs, mask):
        x = x.masked_fill(~mask, 0.0)
        steps = x - torch.cat([x[..., :1], x[..., :-1]], dim=-1)
        centred = steps - self.mean[None, :, None]
        return torch.einsum("ij,bjt->bit", self.matrix, centred)


class WhitenedDifferenceRows(WassersteinSequenceEmbedder):
    """The difference rows, whitened with their within-class covariance."""

    def _fit_preprocessing(self, sequences, codes, train_index, seed):
        self._train_codes = codes[train_index]
        return super()._fit_preprocessing(sequences, codes, train_index, seed)

    def _build_module(self, n_channels, train_inputs, seed):
        module = super()._build_module(n_channels, train_inputs, seed)
        mean, matrix = fit_whitening(
            common.first_differences(train_inputs),
            self._train_codes,
            "within_class",
            np.random.default_rng(seed),
        )
        return _use_differences(module, _WhitenedDifferences(mean, matrix))


def correlation_lag(sequences) -> int:
    """Smallest lag whose mean autocorrelation is below 0.5 (at most T/2)."""
    median = int(np.median([x.shape[-1] for x in sequences]))
    longest = max(1, median // 2)
    for lag in range(1, longest + 1):
        values = []
        for x in sequences:
            if x.shape[-1] <= lag + 1:
                continue
            centred = x - x.mean(axis=1, keepdims=True)
            spread = (centred**2).sum(axis=1)
            keep = spread > 0
            if not keep.any():
                continue
            lagged = (centred[:, lag:] * centred[:, :-lag]).sum(axis=1)
            values.extend(lagged[keep] / spread[keep])
        if values and np.mean(values) < 0.5:
            return lag
    return longest


class _LaggedDifferences(torch.nn.Module):
    """``inputs[t] - inputs[t - lag]``, the first step standing in before it."""

    def __init__(self, lag: int) -> None:
        super().__init__()
        self.lag = lag

    def forward(self, x, inputs, mask):
        steps = torch.arange(inputs.shape[-1], device=inputs.device)
        return inputs - inputs[..., (steps - self.lag).clamp(min=0)]


class LaggedDifferenceRows(WassersteinSequenceEmbedder):
    """The difference rows over the training sequences' correlation lag."""

    def _build_module(self, n_channels, train_inputs, seed):
        module = super()._build_module(n_channels, train_inputs, seed)
        lag = correlation_lag(train_inputs)
        return _use_differences(module, _LaggedDifferences(lag))


VARIANTS = {
    "edge-corrected convolutions": EdgeCorrected,
    "full batches, fewer steps": FullBatchesFewerSteps,
    "full batches, same steps": FullBatchesSameSteps,
    "at least 300 steps": AtLeast300Steps,
    "at least 600 steps": AtLeast600Steps,
    "labelled + crop triplets": LabelledAndCropTriplets,
    "weights averaged over the last quarter": AveragedWeights,
    "with first differences": WithDifferences,
    # Run as a subclass of the embedder before include_differences existed;
    # it is now that parameter (and the default).
    "input rows with differences": WassersteinSequenceEmbedder,
    "whitened difference rows": WhitenedDifferenceRows,
    "difference rows at the correlation lag": LaggedDifferenceRows,
}
# Every variant changes the round 5 default, which had no difference rows.
VARIANT_PARAMS = {
    "input rows with differences": {"include_differences": True},
    "whitened difference rows": {"include_differences": True},
    "difference rows at the correlation lag": {"include_differences": True},
}


class VariantMethod(common.EmbedderMethod):
    """A benchmark method fitting one of ``VARIANTS`` with the default settings."""

    def __init__(self, name: str) -> None:
        super().__init__(name, {})
        self.estimator = VARIANTS[name]

    def fit(self, X, y, seed):  # noqa: D102 (Method.fit)
        params = {
            "include_differences": False,
            "input_row_weighting": None,
            **common.BEFORE_ROUND_9,
            **VARIANT_PARAMS.get(self.name, {}),
        }
        self.embedder_ = self.estimator(random_state=seed, **params).fit(X, y)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_seeds_argument(parser, default=[0, 1])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS))
    parser.add_argument(
        "--seen", nargs="*", default=list(select_defaults.SEEN_DATASETS)
    )
    parser.add_argument(
        "--unseen", nargs="*", default=list(select_defaults.UNSEEN_DATASETS)
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=common.RESULTS_DIR / "select_defaults_round5.json",
        help="selection records with the default's rows (same seeds)",
    )
    parser.add_argument("--out", type=Path, default=common.RESULTS_DIR)
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        help="summarise these training_variants.json files instead of running",
    )
    args = parser.parse_args(argv)
    if args.merge:
        records = common.merged_records(args.merge)
    else:
        if not args.variants:
            parser.error("name the --variants to run (or --merge results)")
        warnings.filterwarnings("ignore", category=UserWarning)
        methods = [VariantMethod(name) for name in args.variants]
        records = []
        tasks = select_defaults.build_tasks(args.seen, args.unseen)
        for task in tasks:
            records += common.run_task(task, methods, args.seeds)
    write_results(args.out, records, args.baseline)


def write_results(out: Path, records: list, baseline: Path) -> None:
    """Per task, each variant minus the default (means over the same seeds).

    The last column is what the variant changes in the selection rule's sum
    (each protocol's differences divided by its number of tasks in
    ``select_defaults.py``, 13 seen and 7 unseen): exact when the tasks a
    variant did not run on train as the default does there.
    """
    seeds = sorted({r["seed"] for r in records})
    default = [
        r
        for r in json.loads(baseline.read_text())["records"]
        if r["method"] == DEFAULT and r["seed"] in seeds
    ]
    n_tasks = {
        "seen": len(select_defaults.SEEN_DATASETS),
        "unseen": len(select_defaults.UNSEEN_DATASETS),
    }
    names = common.distinct(r["method"] for r in records)
    changes = dict.fromkeys(names, 0.0)
    lines = [
        f"Seeds: {seeds}. Each cell: the variant's mean minus the default's, "
        "signed so that positive is better (EER: the default's minus the "
        "variant's); empty where the variant did not run.",
        "",
    ]
    for protocol, key in select_defaults.SUMMARY:
        sign = 1.0 if common.SCORES[key].higher_is_better else -1.0
        datasets = common.distinct(
            r["dataset"] for r in records if r["protocol"] == protocol
        )
        rows = []
        for name in names:
            row = [name]
            for dataset in datasets:
                where = dict(protocol=protocol, dataset=dataset)
                ours = [
                    r["scores"][key]
                    for r in common.select(records, method=name, **where)
                ]
                if not ours:
                    row.append("")
                    continue
                theirs = [r["scores"][key] for r in common.select(default, **where)]
                difference = sign * (np.mean(ours) - np.mean(theirs))
                changes[name] += difference / n_tasks[protocol]
                row.append(f"{difference:+.3f}")
            rows.append(row)
        lines += select_defaults.section(protocol, key, ["variant", *datasets], rows)
    lines += [
        "### Change in the selection rule's sum (the default: 0)",
        "",
        *common.markdown_table(
            ["variant", "change"], [[n, f"{changes[n]:+.3f}"] for n in names]
        ),
        "",
    ]
    text = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    common.write_json(out / "training_variants.json", {"records": records})
    (out / "training_variants.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
