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
  training takes at least N optimiser steps (small data sets).

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

from sklearn_wdist import WassersteinSequenceEmbedder
from sklearn_wdist.nn import ClassBalancedBatchSampler
from sklearn_wdist.nn._dilated import _ResidualBlock

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


VARIANTS = {
    "edge-corrected convolutions": EdgeCorrected,
    "full batches, fewer steps": FullBatchesFewerSteps,
    "full batches, same steps": FullBatchesSameSteps,
    "at least 300 steps": AtLeast300Steps,
    "at least 600 steps": AtLeast600Steps,
}


class VariantMethod(common.EmbedderMethod):
    """A benchmark method fitting one of ``VARIANTS`` with the default settings."""

    def __init__(self, name: str) -> None:
        super().__init__(name, {})
        self.estimator = VARIANTS[name]

    def fit(self, X, y, seed):  # noqa: D102 (Method.fit)
        self.embedder_ = self.estimator(random_state=seed).fit(X, y)


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
        records = [
            r for path in args.merge for r in json.loads(path.read_text())["records"]
        ]
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
