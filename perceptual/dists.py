"""DISTS (Ding, Ma, Wang & Simoncelli, "Image Quality Assessment: Unifying Structure and Texture Similarity",
TPAMI 2020) on this library's frozen :class:`~perceptual.features.VGGFeatures`.

The trunk is VGG16 with L2 pooling in place of max pooling (``VGGFeatures(..., pooling="l2")``). Stage 0 is the
image itself in [0, 1], stages 1-5 the taps ``relu1_2``, ``relu2_2``, ``relu3_3``, ``relu4_3``, ``relu5_3``. Per
stage and channel, with global means ``mu``, variances ``sigma^2`` and covariance ``sigma_xy`` over space:

- texture (structure of the mean): ``l = (2 mu_x mu_y + c1) / (mu_x^2 + mu_y^2 + c1)``
- structure: ``s = (2 sigma_xy + c2) / (sigma_x^2 + sigma_y^2 + c2)``, ``c1 = c2 = 1e-6``

and ``DISTS = 1 - sum(alpha * l + beta * s)`` with the calibrated ``alpha``, ``beta`` (1475 channels each) divided by
their joint sum. The calibration is read from the ``dists-pytorch`` package's ``weights.pt`` when it is installed,
or from a path; it is never downloaded, is frozen, and stays out of checkpoints.

The L2 pooling changes the trunk, so DISTS cannot share a VGG pass with a max-pooling loss (LPIPS, a perceptual
loss); it shares its own pass with anything else tapped on the same L2-pooling extractor.

Large images: the authors' pipeline (``DISTS_pt.prepare_image`` in ``dingkeyan93/DISTS``) shrinks an image whose
shorter side is over 256 px to 256 (PIL's antialiased bilinear resize) before scoring, and piq's ``DISTS`` does the
same with a plain bilinear ``interpolate``. ``resize=`` chooses: ``"antialias"`` (the default, the authors' pipeline
on tensors), ``"bilinear"`` (piq's) or ``"none"`` (every pixel, as ``dists-pytorch``'s ``DISTS`` module and
torchmetrics compute on what they are given).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from perceptual._validation import (
    DEFAULT_INPUT_RANGE,
    ImagePairChecked,
)
from perceptual.features import VGGFeatures
from perceptual.images import to_unit_range
from perceptual.weights import WeightsSource

__all__ = ["DISTS", "DISTS_LAYERS", "DISTS_RESIZE_SIDE", "dists_resize", "load_dists_calibration"]

DISTS_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
"""The VGG16 taps DISTS compares after the image itself (stages 1-5)."""

_CHANNELS = (3, 64, 128, 256, 512, 512)
_C1 = 1e-6
_C2 = 1e-6
Resize = Literal["antialias", "bilinear", "none"]
Reduction = Literal["none", "mean", "sum"]

DISTS_RESIZE_SIDE = 256
"""The shorter side the authors' pipeline (and piq) shrink larger images to before scoring."""


def dists_resize(x: Tensor, resize: str) -> Tensor:
    """``x`` as DISTS' pipelines shrink it: unchanged when its shorter side is at most :data:`DISTS_RESIZE_SIDE` or
    ``resize="none"``; otherwise the shorter side to 256 by ``"antialias"`` (the authors' ``prepare_image``:
    torchvision's ``resize(x, 256)``, antialiased bilinear, as PIL's) or ``"bilinear"`` (piq's ``interpolate`` with
    ``scale_factor=256 / min(H, W)``, no antialiasing). Differentiable."""
    if resize not in ("antialias", "bilinear", "none"):
        raise ValueError(
            f"resize must be 'antialias' (the authors' pipeline), 'bilinear' (piq) or 'none', got {resize!r}"
        )
    shorter = min(int(x.shape[-2]), int(x.shape[-1]))
    if resize == "none" or shorter <= DISTS_RESIZE_SIDE:
        return x
    if resize == "bilinear":
        return F.interpolate(x, scale_factor=DISTS_RESIZE_SIDE / shorter, recompute_scale_factor=False, mode="bilinear")
    from torchvision.transforms.functional import InterpolationMode
    from torchvision.transforms.functional import resize as tv_resize

    return tv_resize(x, [DISTS_RESIZE_SIDE], interpolation=InterpolationMode.BILINEAR, antialias=True)


def _package_files() -> list[Path]:
    """Where the ``dists-pytorch`` wheel puts ``weights.pt``: beside the module, or (as the package itself looks
    for it) in ``sys.prefix``."""
    candidates = []
    try:
        import DISTS_pytorch  # noqa: N813 - only its data file is used

        candidates.append(Path(DISTS_pytorch.__file__).resolve().parent / "weights.pt")
    except ImportError:
        return []
    candidates.append(Path(sys.prefix) / "weights.pt")
    return candidates


def load_dists_calibration(path: str | os.PathLike | None = None) -> tuple[Tensor, Tensor]:
    """DISTS' ``alpha`` and ``beta``, ``(1475,)`` each, not yet normalized, from ``path`` or the installed
    ``dists-pytorch`` package.

    Raises :class:`~perceptual.lpips.CalibrationUnavailableError` when neither is there, and ``ValueError`` for a
    file that does not hold them."""
    from perceptual.lpips import CalibrationUnavailableError

    if path is not None:
        file: Path | None = Path(path)
        where = f"{str(path)!r} does not exist"
    else:
        file = next((f for f in _package_files() if f.is_file()), None)
        where = "the dists-pytorch package is not installed" if not _package_files() else "its weights.pt is missing"
    if file is None or not file.is_file():
        raise CalibrationUnavailableError(
            f"DISTS calibration weights not found: {where}. Install the package that ships them "
            "(pip install dists-pytorch; weights.pt is read from it, nothing is downloaded) or pass "
            "calibration=<path to that weights.pt>"
        )
    state = torch.load(file, map_location="cpu", weights_only=True)
    total = sum(_CHANNELS)
    if not isinstance(state, Mapping) or any(
        key not in state or tuple(state[key].shape) != (1, total, 1, 1) for key in ("alpha", "beta")
    ):
        found = {k: tuple(v.shape) for k, v in state.items()} if isinstance(state, Mapping) else type(state).__name__
        raise ValueError(
            f"{file} does not hold DISTS calibration weights: expected 'alpha' and 'beta' of shape (1, {total}, 1, 1), "
            f"found {found}"
        )
    return state["alpha"].detach().float().reshape(total).clone(), state["beta"].detach().float().reshape(total).clone()


def _moments(x: Tensor) -> tuple[Tensor, Tensor]:
    mean = x.mean(dim=(2, 3))
    variance = (x - mean[..., None, None]).square().mean(dim=(2, 3))
    return mean, variance


class DISTS(ImagePairChecked):
    """DISTS distance between images (0 for identical images), as a metric or as a loss.

    Args:
        extractor: a :class:`VGGFeatures` (VGG16, ``pooling="l2"``) that taps at least :data:`DISTS_LAYERS`; its
            ``input_range`` is the range the images come in. ``None`` builds one from ``weights`` and
            ``input_range``.
        weights: VGG16 trunk weights when ``extractor`` is ``None`` (``"imagenet"`` is DISTS' trunk).
        input_range: range of the images when ``extractor`` is ``None``: ``(0, 1)`` by default, as everywhere in
            this package and as the ``dists-pytorch`` package expects; ``(-1, 1)`` for tanh outputs (mapped to [0, 1]
            for stage 0 and to ImageNet statistics for the VGG).
        calibration: path of the ``dists-pytorch`` package's ``weights.pt`` (default: the installed package's).
        resize: how an image whose shorter side is over 256 px is shrunk to 256 first: ``"antialias"`` (the
            default: the authors' pipeline, ``prepare_image``'s PIL resize done on tensors), ``"bilinear"`` (piq's
            ``DISTS``) or ``"none"`` (score every pixel). Images of at most 256 px are never resized.
        reduction: ``"none"`` (the default: one value per image, ``(N,)``), ``"mean"`` or ``"sum"`` over the batch.
        check_finite: refuse NaN or infinite inputs with a ``ValueError`` naming the input and the count (one device
            sync per call).
        warn_range_mismatch: when ``extractor`` is ``None``, its first-batch range check (on by default; one device
            sync, once, outside any compiled graph): ``target`` with every rule, ``pred`` for values outside the
            range; ``False`` turns it off.

    Images must be at least 16x16 (:data:`~perceptual._validation.METRIC_MIN_SIZE`, the same rule as LPIPS'):
    DISTS' padded L2 pooling gives a number for smaller images, but their fifth-block features are padding.

    ``forward(pred, target)`` is differentiable with respect to ``pred`` (the target's features are computed without
    a graph) and float32 under autocast too. Wrap it in ``torch.no_grad()`` to use it as a metric.
    """

    alpha: Tensor
    beta: Tensor

    metric_name = "DISTS"

    def __init__(
        self,
        *,
        extractor: VGGFeatures | None = None,
        weights: WeightsSource = "imagenet",
        input_range: tuple[float, float] = DEFAULT_INPUT_RANGE,
        calibration: str | os.PathLike | None = None,
        resize: Resize = "antialias",
        reduction: Reduction = "none",
        check_finite: bool = False,
        warn_range_mismatch: bool = True,
    ) -> None:
        super().__init__()
        dists_resize(torch.zeros(1, 1, 1, 1), resize)  # checks the name
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"reduction must be 'none' (one value per image), 'mean' or 'sum', got {reduction!r}")
        self.resize = resize
        self.reduction = reduction
        self.check_finite = check_finite
        if extractor is None:
            extractor = VGGFeatures(
                list(DISTS_LAYERS),
                arch="vgg16",
                weights=weights,
                input_range=input_range,
                pooling="l2",
                warn_range_mismatch=warn_range_mismatch,
            )
        elif extractor.arch != "vgg16" or extractor.pooling != "l2":
            raise ValueError(
                f"DISTS is calibrated on VGG16 with L2 pooling, got an extractor of {extractor.arch} with "
                f"pooling={extractor.pooling!r}; build it with VGGFeatures(..., arch='vgg16', pooling='l2')"
            )
        missing = [name for name in DISTS_LAYERS if name not in extractor.layers]
        if missing:
            raise ValueError(f"extractor does not tap {missing}; DISTS needs {list(DISTS_LAYERS)}")
        self.extractor = extractor
        alpha, beta = load_dists_calibration(calibration)
        total = alpha.sum() + beta.sum()
        # Non-persistent: calibration is loaded from its source, never saved in (or read from) checkpoints.
        self.register_buffer("alpha", alpha / total, persistent=False)
        self.register_buffer("beta", beta / total, persistent=False)

    def _unit_image(self, x: Tensor) -> Tensor:
        return to_unit_range(x, self.extractor.input_range, clamp=False)

    def from_features(
        self, pred_features: Mapping[str, Tensor], target_features: Mapping[str, Tensor], pred: Tensor, target: Tensor
    ) -> Tensor:
        """DISTS from features already computed by an L2-pooling extractor, plus the two images (stage 0, in the
        extractor's ``input_range``): ``(N,)``."""
        pred_stages = [self._unit_image(pred), *(pred_features[name] for name in DISTS_LAYERS)]
        target_stages = [self._unit_image(target), *(target_features[name] for name in DISTS_LAYERS)]
        alphas = torch.split(self.alpha, list(_CHANNELS))
        betas = torch.split(self.beta, list(_CHANNELS))
        similarity: Tensor | None = None
        for x, y, alpha, beta in zip(pred_stages, target_stages, alphas, betas):
            x, y = x.float(), y.float()
            mean_x, var_x = _moments(x)
            mean_y, var_y = _moments(y)
            covariance = (x * y).mean(dim=(2, 3)) - mean_x * mean_y
            texture = (2 * mean_x * mean_y + _C1) / (mean_x.square() + mean_y.square() + _C1)
            structure = (2 * covariance + _C2) / (var_x + var_y + _C2)
            term = (alpha * texture + beta * structure).sum(dim=1)
            similarity = term if similarity is None else similarity + term
        assert similarity is not None
        return 1.0 - similarity

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        self._check_pair(pred, target)
        self.extractor.check_range_once(target, "target", pred=pred)
        pred, target = dists_resize(pred, self.resize), dists_resize(target.detach(), self.resize)
        with torch.no_grad():
            target_features = self.extractor(target)
        values = self.from_features(self.extractor(pred), target_features, pred, target)
        if self.reduction == "mean":
            return values.mean()
        if self.reduction == "sum":
            return values.sum()
        return values

    def extra_repr(self) -> str:
        return f"layers={['image', *DISTS_LAYERS]}, resize={self.resize!r}, reduction={self.reduction!r}"
