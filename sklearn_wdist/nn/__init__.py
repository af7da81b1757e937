"""PyTorch building blocks: encoder, quantile pooling, distance, miners, loss.

These modules import no scikit-learn; they compose like the parts of a metric
learning library: a loss takes a distance object and a mining strategy, a miner
returns index triplets and runs without gradients.
"""

from ._dilated import (
    DilatedConvEncoder,
    dilated_blocks_for_length,
    dilated_receptive_field,
)
from ._distances import QuantileEnergyDistance, QuantileWassersteinDistance
from ._embedding import QuantileEmbedding
from ._encoder import (
    ConvEncoder,
    MaskedBatchNorm1d,
    MaskedEncoder,
    SeededDropout,
    multiscale_difference_lags,
)
from ._losses import WassersteinTripletLoss
from ._masking import lengths_to_mask
from ._miners import batch_all_triplets, batch_hard_triplets, semi_hard_triplets
from ._pml import MetricLearningLoss
from ._pooling import QuantilePooling, mean_pooling, quantile_levels, quantile_pooling
from ._samplers import ClassBalancedBatchSampler

__all__ = [
    "ClassBalancedBatchSampler",
    "ConvEncoder",
    "DilatedConvEncoder",
    "MaskedBatchNorm1d",
    "MaskedEncoder",
    "MetricLearningLoss",
    "QuantileEmbedding",
    "QuantileEnergyDistance",
    "QuantilePooling",
    "QuantileWassersteinDistance",
    "SeededDropout",
    "WassersteinTripletLoss",
    "batch_all_triplets",
    "batch_hard_triplets",
    "dilated_blocks_for_length",
    "dilated_receptive_field",
    "lengths_to_mask",
    "mean_pooling",
    "multiscale_difference_lags",
    "quantile_levels",
    "quantile_pooling",
    "semi_hard_triplets",
]
