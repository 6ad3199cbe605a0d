"""perceptual: a frozen VGG16/VGG19 feature module with named layers, the perceptual and style losses built on it
for use inside GAN training, feature-map rendering, weights from torchvision/TF/Keras files, classification and
DeepDream on the same module.

>>> import torch, perceptual
>>> loss = perceptual.PerceptualLoss({"relu4_1": 1.0}, input_range=(-1, 1))  # doctest: +SKIP
>>> value = loss(fake, real)  # doctest: +SKIP

Layout: the core (layers, weights, features, losses, LPIPS, DISTS, the torchmetrics metrics) at the top; pictures of
feature maps and the TensorBoard monitor in :mod:`perceptual.pictures`; DeepDream and classification in
:mod:`perceptual.tools`; the command lines in :mod:`perceptual.cli`. Names are imported on first use, so
``import perceptual`` is cheap and the ``perceptual layers`` command runs without loading torch; Lightning is loaded
only when ``perceptual.FeatureMapMonitor`` is first used, torchmetrics when a metric is.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from perceptual._version import __version__

# public name -> the module that defines it (imported on first access, PEP 562), grouped core first
_SOURCES: dict[str, str] = {
    "canonical_layer_name": "perceptual.layers",
    "KERAS_ALIASES": "perceptual.layers",
    "layer_names": "perceptual.layers",
    "VGG16_LAYERS": "perceptual.layers",
    "VGG19_LAYERS": "perceptual.layers",
    "describe": "perceptual.describe",
    "format_layer_table": "perceptual.describe",
    "LayerInfo": "perceptual.describe",
    "VGGFeatures": "perceptual.features",
    "load_weights": "perceptual.weights",
    "RandomWeightsWarning": "perceptual.weights",
    "VGGWeights": "perceptual.weights",
    "WeightsUnavailableError": "perceptual.weights",
    "describe_provenance": "perceptual.weights",
    "vgg_provenance": "perceptual.weights",
    "load_keras_h5_weights": "perceptual.weights_formats",
    "load_npy_weights": "perceptual.weights_formats",
    "load_gatys_weights": "perceptual.weights_formats",
    "MissingDependencyError": "perceptual.weights_formats",
    "CAFFE": "perceptual.normalization",
    "IMAGENET": "perceptual.normalization",
    "InputNormalization": "perceptual.normalization",
    "RAW": "perceptual.normalization",
    "InputRangeWarning": "perceptual._validation",
    "beautygan_perceptual_loss": "perceptual.losses",
    "feature_distance": "perceptual.losses",
    "gram_matrix": "perceptual.losses",
    "masked_gram_matrix": "perceptual.losses",
    "perceptual_loss": "perceptual.losses",
    "PerceptualLoss": "perceptual.losses",
    "PerceptualLossOutput": "perceptual.losses",
    "resize_mask": "perceptual.losses",
    "style_loss": "perceptual.losses",
    "StyleLoss": "perceptual.losses",
    "STYLE_LAYERS": "perceptual.losses",
    "CalibrationUnavailableError": "perceptual.lpips",
    "load_lpips_calibration": "perceptual.lpips",
    "LPIPS": "perceptual.lpips",
    "LPIPS_LAYERS": "perceptual.lpips",
    "DISTS": "perceptual.dists",
    "DISTS_LAYERS": "perceptual.dists",
    "load_dists_calibration": "perceptual.dists",
    "LPIPS_TRUNK_LAYERS": "perceptual.lpips_trunks",
    "LPIPSTrunk": "perceptual.lpips_trunks",
    "DISTSMetric": "perceptual.metrics",
    "FeatureDistanceMetric": "perceptual.metrics",
    "LPIPSMetric": "perceptual.metrics",
    "FeatureMapMonitor": "perceptual.pictures.monitor",
    "apply_colormap": "perceptual.pictures.colormaps",
    "GridStyle": "perceptual.pictures.render",
    "render_channel_sum": "perceptual.pictures.render",
    "render_comparison": "perceptual.pictures.render",
    "render_maps": "perceptual.pictures.render",
    "select_channels": "perceptual.pictures.channels",
    "channel_sheet": "perceptual.tools.dream",
    "ChannelSheet": "perceptual.tools.dream",
    "deep_dream": "perceptual.tools.dream",
    "DreamResult": "perceptual.tools.dream",
    "DreamSchedule": "perceptual.tools.dream",
    "Objective": "perceptual.tools.objectives",
    "ObjectiveTerm": "perceptual.tools.objectives",
    "Classification": "perceptual.tools.classify",
    "Prediction": "perceptual.tools.classify",
    "VGGClassifier": "perceptual.tools.classify",
}

if TYPE_CHECKING:  # pragma: no cover - static type checkers see plain imports
    from perceptual._validation import InputRangeWarning
    from perceptual.describe import LayerInfo, describe, format_layer_table
    from perceptual.dists import DISTS, DISTS_LAYERS, load_dists_calibration
    from perceptual.features import VGGFeatures
    from perceptual.layers import KERAS_ALIASES, VGG16_LAYERS, VGG19_LAYERS, canonical_layer_name, layer_names
    from perceptual.losses import (
        STYLE_LAYERS,
        PerceptualLoss,
        PerceptualLossOutput,
        StyleLoss,
        beautygan_perceptual_loss,
        feature_distance,
        gram_matrix,
        masked_gram_matrix,
        perceptual_loss,
        resize_mask,
        style_loss,
    )
    from perceptual.lpips import LPIPS, LPIPS_LAYERS, CalibrationUnavailableError, load_lpips_calibration
    from perceptual.lpips_trunks import LPIPS_TRUNK_LAYERS, LPIPSTrunk
    from perceptual.metrics import DISTSMetric, FeatureDistanceMetric, LPIPSMetric
    from perceptual.normalization import CAFFE, IMAGENET, RAW, InputNormalization
    from perceptual.pictures.channels import select_channels
    from perceptual.pictures.colormaps import apply_colormap
    from perceptual.pictures.monitor import FeatureMapMonitor
    from perceptual.pictures.render import GridStyle, render_channel_sum, render_comparison, render_maps
    from perceptual.tools.classify import Classification, Prediction, VGGClassifier
    from perceptual.tools.dream import ChannelSheet, DreamResult, DreamSchedule, channel_sheet, deep_dream
    from perceptual.tools.objectives import Objective, ObjectiveTerm
    from perceptual.weights import (
        RandomWeightsWarning,
        VGGWeights,
        WeightsUnavailableError,
        describe_provenance,
        load_weights,
        vgg_provenance,
    )
    from perceptual.weights_formats import (
        MissingDependencyError,
        load_gatys_weights,
        load_keras_h5_weights,
        load_npy_weights,
    )

__all__ = [*_SOURCES, "__version__"]


def __getattr__(name: str) -> Any:
    module = _SOURCES.get(name)
    if module is None:
        raise AttributeError(f"module 'perceptual' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCES))
