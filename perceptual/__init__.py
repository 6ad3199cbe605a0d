"""perceptual: a frozen VGG16/VGG19 feature module with named layers, the perceptual and style losses built on it
for use inside GAN training, feature-map rendering, weights from torchvision/TF/Keras files, classification and
DeepDream on the same module.

>>> import torch, perceptual
>>> loss = perceptual.PerceptualLoss({"relu4_1": 1.0}, input_range=(-1, 1))  # doctest: +SKIP
>>> value = loss(fake, real)  # doctest: +SKIP

The TensorBoard callback lives in :mod:`perceptual.monitor` (imported on its own so that ``import perceptual``
does not import Lightning).
"""

from ._version import __version__
from .classify import Classification, Prediction, VGGClassifier
from ._validation import InputRangeWarning
from .describe import LayerInfo, describe, format_layer_table
from .dream import ChannelSheet, DreamResult, Objective, ObjectiveTerm, channel_sheet, deep_dream
from .features import VGGFeatures
from .layers import KERAS_ALIASES, VGG16_LAYERS, VGG19_LAYERS, canonical_layer_name, layer_names
from .losses import (
    PerceptualLoss,
    PerceptualLossOutput,
    StyleLoss,
    beautygan_identity_loss,
    feature_distance,
    gram_matrix,
    masked_gram_matrix,
    perceptual_loss,
    resize_mask,
    style_loss,
)
from .dists import DISTS, DISTS_LAYERS, load_dists_calibration
from .lpips import LPIPS, LPIPS_LAYERS, CalibrationUnavailableError, load_lpips_calibration
from .normalization import CAFFE, IMAGENET, InputNormalization
from .render import apply_colormap, render_channel_sum, render_comparison, render_maps, select_channels
from .weights import (
    RandomWeightsWarning,
    VGGWeights,
    WeightsUnavailableError,
    load_weights,
)
from .weights_formats import MissingDependencyError, load_keras_h5_weights, load_npy_weights

__all__ = [
    # feature module and layer names
    "KERAS_ALIASES",
    "VGG16_LAYERS",
    "VGG19_LAYERS",
    "LayerInfo",
    "VGGFeatures",
    "canonical_layer_name",
    "describe",
    "format_layer_table",
    "layer_names",
    # weights and input normalization
    "CAFFE",
    "IMAGENET",
    "InputRangeWarning",
    "InputNormalization",
    "MissingDependencyError",
    "RandomWeightsWarning",
    "VGGWeights",
    "WeightsUnavailableError",
    "load_keras_h5_weights",
    "load_npy_weights",
    "load_weights",
    # losses
    "DISTS",
    "DISTS_LAYERS",
    "load_dists_calibration",
    "LPIPS",
    "LPIPS_LAYERS",
    "CalibrationUnavailableError",
    "load_lpips_calibration",
    "PerceptualLoss",
    "PerceptualLossOutput",
    "StyleLoss",
    "beautygan_identity_loss",
    "feature_distance",
    "gram_matrix",
    "masked_gram_matrix",
    "perceptual_loss",
    "resize_mask",
    "style_loss",
    # feature-map rendering
    "apply_colormap",
    "render_channel_sum",
    "render_comparison",
    "render_maps",
    "select_channels",
    # classification and DeepDream
    "ChannelSheet",
    "Classification",
    "DreamResult",
    "Objective",
    "ObjectiveTerm",
    "Prediction",
    "VGGClassifier",
    "channel_sheet",
    "deep_dream",
    "__version__",
]
