"""perceptual: a frozen VGG16/VGG19 feature module with named layers, and the perceptual and style losses built
on it, for use inside GAN training.

>>> import torch, perceptual
>>> loss = perceptual.PerceptualLoss({"relu4_1": 1.0}, input_range=(-1, 1))  # doctest: +SKIP
>>> value = loss(fake, real)  # doctest: +SKIP
"""

from ._version import __version__
from .describe import LayerInfo, describe, format_layer_table
from .features import VGGFeatures
from .layers import KERAS_ALIASES, VGG16_LAYERS, VGG19_LAYERS, canonical_layer_name, layer_names
from .losses import (
    PerceptualLoss,
    PerceptualLossOutput,
    StyleLoss,
    beautygan_identity_loss,
    feature_distance,
    gram_matrix,
    perceptual_loss,
    style_loss,
)
from .normalization import CAFFE, IMAGENET, InputNormalization
from .weights import (
    RandomWeightsWarning,
    VGGWeights,
    WeightsUnavailableError,
    load_weights,
    register_weights_format,
)

__all__ = [
    "CAFFE",
    "IMAGENET",
    "KERAS_ALIASES",
    "VGG16_LAYERS",
    "VGG19_LAYERS",
    "InputNormalization",
    "LayerInfo",
    "PerceptualLoss",
    "PerceptualLossOutput",
    "RandomWeightsWarning",
    "StyleLoss",
    "VGGFeatures",
    "VGGWeights",
    "WeightsUnavailableError",
    "__version__",
    "beautygan_identity_loss",
    "canonical_layer_name",
    "describe",
    "feature_distance",
    "format_layer_table",
    "gram_matrix",
    "layer_names",
    "load_weights",
    "perceptual_loss",
    "register_weights_format",
    "style_loss",
]
