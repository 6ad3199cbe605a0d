"""LPIPS (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018), version
0.1, on VGG16 (this library's frozen :class:`~perceptual.features.VGGFeatures`), AlexNet or SqueezeNet 1.1
(:mod:`perceptual.lpips_trunks`): the ``lpips`` package's ``net="vgg"``, ``"alex"`` (its default) and ``"squeeze"``.

Per tap (VGG16: ``relu1_2``, ``relu2_2``, ``relu3_3``, ``relu4_3``, ``relu5_3``) the features of both images are
unit-normalized along channels, their squared difference is weighted per channel by the calibration weights (the
paper's ``lin`` layers) and summed over channels, averaged over space (or upsampled to the input size for a map), and
the layers are summed. The calibration weights are read from the ``lpips`` package's ``weights/v0.1/<net>.pth`` when
that package is installed, or from a path; they are never downloaded, are frozen, and stay out of checkpoints. The
distance is computed in float32 from the features, under autocast too (the features may be bf16/fp16).

Differences from the ``lpips`` package, on purpose: the channel norm is ``sqrt(sum x^2 + eps^2)`` (eps inside the
square root: a finite gradient where the features are all zero; the package's ``sqrt(sum x^2) + eps`` gives NaN
there), there is no dropout to re-enable, and the features can come from a pass the caller already made
(:meth:`LPIPS.from_features`), so a perceptual loss, LPIPS-VGG and a feature-map monitor share one VGG forward.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from perceptual._validation import (
    DEFAULT_INPUT_RANGE,
    ImagePairChecked,
    check_mask,
    spatial_size,
)
from perceptual.features import FrozenFeatures, VGGFeatures
from perceptual.losses import resize_mask
from perceptual.lpips_trunks import LPIPS_TRUNK_LAYERS, LPIPSNet, LPIPSTrunk
from perceptual.weights import WeightsSource, WeightsUnavailableError

__all__ = ["LPIPS", "LPIPS_LAYERS", "CalibrationUnavailableError", "load_lpips_calibration"]

LPIPS_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
"""The VGG16 taps LPIPS-VGG compares (the ``lpips`` package's ``vgg16`` slices)."""

_CHANNELS: dict[str, tuple[int, ...]] = {
    "vgg": (64, 128, 256, 512, 512),
    "alex": (64, 192, 384, 256, 256),
    "squeeze": (64, 128, 256, 384, 384, 512, 512),
}
_EPS = 1e-10
Reduction = Literal["none", "mean", "sum"]


class CalibrationUnavailableError(WeightsUnavailableError):
    """The LPIPS or DISTS calibration weights could not be found; the message names both ways to provide them. A
    :class:`~perceptual.WeightsUnavailableError` (so a ``FileNotFoundError``), like every missing weights file."""


def _check_net(net: str) -> str:
    if net not in _CHANNELS:
        raise ValueError(f"net must be 'vgg', 'alex' or 'squeeze' (the lpips package's), got {net!r}")
    return net


def _package_file(net: str) -> Path | None:
    try:
        import lpips  # noqa: F401 - only its data file is used
    except ImportError:
        return None
    return Path(lpips.__file__).resolve().parent / "weights" / "v0.1" / f"{net}.pth"


def load_lpips_calibration(path: str | os.PathLike | None = None, *, net: str = "vgg") -> list[Tensor]:
    """The per-channel LPIPS v0.1 weights of ``net`` (``"vgg"``, ``"alex"``: five ``(C,)`` tensors; ``"squeeze"``:
    seven), from ``path`` or from the installed ``lpips`` package (``lpips/weights/v0.1/<net>.pth``).

    Raises :class:`CalibrationUnavailableError` when neither is there, and ``ValueError`` for a file that does not
    hold them (keys ``lin0.model.1.weight`` ... of shape ``(1, C, 1, 1)``)."""
    _check_net(net)
    file = Path(path) if path is not None else _package_file(net)
    if file is None or not file.is_file():
        where = f"{str(path)!r} does not exist" if path is not None else "the lpips package is not installed"
        raise CalibrationUnavailableError(
            f"LPIPS calibration weights not found: {where}. Install the package that ships them "
            f"(pip install lpips; they are read from lpips/weights/v0.1/{net}.pth, nothing is downloaded) or pass "
            f"calibration=<path to that {net}.pth>"
        )
    state = torch.load(file, map_location="cpu", weights_only=True)
    weights = []
    for index, channels in enumerate(_CHANNELS[net]):
        key = next((k for k in (f"lin{index}.model.1.weight", f"lin{index}.model.0.weight") if k in state), None)
        if key is None or tuple(state[key].shape) != (1, channels, 1, 1):
            found = {k: tuple(v.shape) for k, v in state.items()}
            raise ValueError(
                f"{file} does not hold LPIPS-{net} v0.1 calibration weights: expected lin{index}.model.1.weight of "
                f"shape (1, {channels}, 1, 1), found {found}"
            )
        weights.append(state[key].detach().float().reshape(channels).clone())
    return weights


def _unit_channels(features: Tensor) -> Tensor:
    return features * torch.rsqrt(features.square().sum(dim=1, keepdim=True) + _EPS**2)


class LPIPS(ImagePairChecked):
    """LPIPS (v0.1) distance between images, as a metric or as a loss, on VGG16, AlexNet or SqueezeNet.

    Args:
        net: ``"vgg"`` (the default here), ``"alex"`` (the ``lpips`` package's default, the variant most papers
            report) or ``"squeeze"``: the trunk and its calibration.
        extractor: for ``net="vgg"``, a :class:`VGGFeatures` (VGG16) that taps at least :data:`LPIPS_LAYERS` (one pass
            shared with other losses); for ``"alex"``/``"squeeze"``, an :class:`~perceptual.lpips_trunks.LPIPSTrunk`
            of that net. Its ``input_range`` is the range the images come in. ``None`` builds one from ``weights``
            and ``input_range``.
        weights: trunk weights when ``extractor`` is ``None``: ``"imagenet"`` (torchvision's VGG16, AlexNet or
            SqueezeNet 1.1, from the hub cache), a path, or ``"random"`` (tests only).
        input_range: range of the images when ``extractor`` is ``None``: ``(0, 1)`` by default, as everywhere in
            this package (the ``lpips`` package's ``normalize=True``). The ``lpips`` package's own default is
            ``[-1, 1]`` (its ``normalize=False``): GAN outputs from ``tanh`` pass ``input_range=(-1, 1)``.
        calibration: path of the ``lpips`` package's ``weights/v0.1/<net>.pth`` (default: the installed package's).
        spatial: return a ``(N, 1, H, W)`` map at the input size (bilinear upsampling of each layer's map, as the
            package's ``spatial=True``) instead of one value per image.
        reduction: ``"none"`` (the default: one value per image, ``(N,)``), ``"mean"`` or ``"sum"`` over the batch.
        check_finite: refuse NaN or infinite inputs with a ``ValueError`` naming the input and the count (one device
            sync per call).
        warn_range_mismatch: when ``extractor`` is ``None``, its first-batch range check (on by default; one device
            sync, once, outside any compiled graph): ``target`` with every rule, ``pred`` for values outside the
            range; ``False`` turns it off.

    Images must be at least 16x16 (:data:`~perceptual._validation.METRIC_MIN_SIZE`, the same rule as DISTS'), and
    on AlexNet 31x31 (its fifth ReLU is then 1x1).

    ``forward(pred, target)`` is differentiable with respect to ``pred`` (the target's features are computed without
    a graph) and float32 under autocast too. Wrap it in ``torch.no_grad()`` to use it as a metric.
    """

    metric_name = "LPIPS"

    def __init__(
        self,
        *,
        net: LPIPSNet = "vgg",
        extractor: FrozenFeatures | None = None,
        weights: WeightsSource = "imagenet",
        input_range: tuple[float, float] = DEFAULT_INPUT_RANGE,
        calibration: str | os.PathLike | None = None,
        spatial: bool = False,
        reduction: Reduction = "none",
        check_finite: bool = False,
        warn_range_mismatch: bool = True,
    ) -> None:
        super().__init__()
        _check_net(net)
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"reduction must be 'none' (one value per image), 'mean' or 'sum', got {reduction!r}")
        if spatial and reduction != "none":
            raise ValueError("spatial=True returns one map per image; reduce the maps yourself (reduction='none')")
        self.net = net
        self.check_finite = check_finite
        self.reduction = reduction
        self.layers: tuple[str, ...] = LPIPS_LAYERS if net == "vgg" else LPIPS_TRUNK_LAYERS[net]
        if extractor is None:
            if net == "vgg":
                extractor = VGGFeatures(
                    list(LPIPS_LAYERS),
                    arch="vgg16",
                    weights=weights,
                    input_range=input_range,
                    warn_range_mismatch=warn_range_mismatch,
                )
            else:
                extractor = LPIPSTrunk(
                    net, weights=weights, input_range=input_range, warn_range_mismatch=warn_range_mismatch
                )
        elif net == "vgg" and (not isinstance(extractor, VGGFeatures) or extractor.arch != "vgg16"):
            got = extractor.arch if isinstance(extractor, VGGFeatures) else type(extractor).__name__
            raise ValueError(f"LPIPS-VGG is calibrated on VGG16 features, got an extractor of {got}")
        elif net != "vgg" and not (isinstance(extractor, LPIPSTrunk) and extractor.net == net):
            raise ValueError(f"LPIPS-{net} needs LPIPSTrunk({net!r}), got {type(extractor).__name__}")
        missing = [name for name in self.layers if name not in extractor.layers]
        if missing:
            raise ValueError(f"extractor does not tap {missing}; LPIPS needs {list(self.layers)}")
        self.extractor = extractor
        self.spatial = spatial
        self._calibration_count = len(self.layers)
        for index, weight in enumerate(load_lpips_calibration(calibration, net=net)):
            # Non-persistent: calibration is loaded from its source, never saved in (or read from) checkpoints.
            self.register_buffer(f"calibration_{index}", weight.view(1, -1, 1, 1), persistent=False)

    def calibration(self) -> list[Tensor]:
        """The per-channel weights, ``(1, C, 1, 1)`` each, one per tap."""
        return [getattr(self, f"calibration_{index}") for index in range(self._calibration_count)]

    def from_features(
        self,
        pred_features: Mapping[str, Tensor],
        target_features: Mapping[str, Tensor],
        *,
        size: tuple[int, int] | None = None,
        mask: Tensor | None = None,
        spatial: bool | None = None,
    ) -> Tensor:
        """LPIPS from features already computed by an extractor with the same trunk: ``(N,)`` (unreduced: the module's
        ``reduction`` applies to :meth:`forward`), or with ``spatial=True`` a ``(N, 1, H, W)`` map at ``size`` (the
        input's height and width). ``spatial`` overrides the module's setting for this call (a monitor drawing the
        map of a metric that logs values). Float32, whatever the features' dtype.

        ``mask`` (``(N or 1, 1, H, W)``, weights in [0, 1]) averages each layer's map over a region instead of the
        whole image: resized to the layer by area, ``sum(map * m) / sum(m)`` (0 for an empty region)."""
        spatial = self.spatial if spatial is None else spatial
        if spatial and size is None:
            raise ValueError("spatial=True needs size=(height, width) of the input images")
        if spatial and mask is not None:
            raise ValueError("mask= averages over a region; with spatial=True multiply the map by the mask instead")
        total: Tensor | None = None
        device_type = next(iter(pred_features.values())).device.type
        with torch.autocast(device_type=device_type, enabled=False):
            for name, weight in zip(self.layers, self.calibration()):
                pred, target = pred_features[name].float(), target_features[name].float()
                difference = (_unit_channels(pred) - _unit_channels(target)).square()
                per_pixel = (difference * weight.float()).sum(dim=1, keepdim=True)
                if spatial:
                    term = F.interpolate(per_pixel, size=size, mode="bilinear", align_corners=False)
                elif mask is not None:
                    region = resize_mask(mask.float(), per_pixel.shape[-2:]).expand_as(per_pixel)
                    term = (per_pixel * region).sum(dim=(1, 2, 3)) / region.sum(dim=(1, 2, 3)).clamp_min(1e-12)
                else:
                    term = per_pixel.mean(dim=(1, 2, 3))
                total = term if total is None else total + term
        assert total is not None
        return total

    def forward(self, pred: Tensor, target: Tensor, *, mask: Tensor | None = None) -> Tensor:
        self._check_pair(pred, target)
        self.extractor.check_range_once(target, "target", pred=pred)
        if mask is not None:
            mask = check_mask(mask, pred)
        with torch.no_grad():
            target_features = self.extractor(target)
        values = self.from_features(self.extractor(pred), target_features, size=spatial_size(pred), mask=mask)
        if self.reduction == "mean":
            return values.mean()
        if self.reduction == "sum":
            return values.sum()
        return values

    def extra_repr(self) -> str:
        return (
            f"net={self.net!r}, version='0.1', layers={list(self.layers)}, spatial={self.spatial}, "
            f"reduction={self.reduction!r}"
        )
