"""Dataset-level LPIPS, DISTS and VGG feature distances as torchmetrics metrics (the ``Metric`` API Lightning logs:
``update`` per batch, ``compute`` at the end, states summed across DDP processes).

Each metric accumulates the sum of its per-image values and the number of images, so ``compute()`` is the mean over
every image seen, on one process or many (torchmetrics' ``dist_reduce_fx="sum"``), whatever the batch sizes were.
The per-image values are those of :class:`~perceptual.LPIPS`, :class:`~perceptual.DISTS` and
:class:`~perceptual.PerceptualLoss` with ``reduction="none"``, computed without a graph; pass one of those modules to
share it (and its trunk) with a loss. torchmetrics' own ``LearnedPerceptualImagePatchSimilarity`` keeps every score
instead of a sum, and its DISTS has no ``resize``; both build their trunk from torchvision's pretrained weights.

torchmetrics' keyword arguments (``sync_on_compute``, ``process_group``, ``compute_on_cpu``, ...) pass through.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from perceptual._validation import DEFAULT_INPUT_RANGE
from perceptual.dists import DISTS, Resize
from perceptual.features import VGGFeatures
from perceptual.losses import Criterion, PerceptualLoss
from perceptual.lpips import LPIPS
from perceptual.lpips_trunks import LPIPSNet
from perceptual.weights import WeightsSource

__all__ = ["DISTSMetric", "FeatureDistanceMetric", "LPIPSMetric"]


class _ImageMean(Metric):
    """The mean of a per-image value over every image of every ``update``, synced across processes."""

    is_differentiable = False
    higher_is_better = False
    full_state_update = False
    total: Tensor
    count: Tensor

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("total", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0), dist_reduce_fx="sum")

    def _values(self, pred: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add the per-image values of a batch (``pred``, ``target``: ``(N, 3, H, W)`` in the declared range)."""
        with torch.no_grad():
            values = self._values(pred, target).detach().float().reshape(-1)
        self.total += values.sum().to(self.total.device)
        self.count += values.numel()

    def compute(self) -> Tensor:
        """The mean per-image value over every image seen (NaN before the first ``update``)."""
        return self.total / self.count


class LPIPSMetric(_ImageMean):
    """Mean LPIPS over a dataset (lower is more similar).

    Args:
        net, weights, input_range, calibration: :class:`~perceptual.LPIPS`'s (``net="alex"`` is the ``lpips``
            package's and torchmetrics' default; ``"vgg"`` is this package's).
        lpips: an :class:`~perceptual.LPIPS` to use instead (for instance one that shares a trunk with a loss); the
            other arguments must then be left out.
        **kwargs: torchmetrics' ``Metric`` options.
    """

    def __init__(
        self,
        *,
        net: LPIPSNet = "vgg",
        weights: WeightsSource = "imagenet",
        input_range: tuple[float, float] = DEFAULT_INPUT_RANGE,
        calibration: str | os.PathLike | None = None,
        lpips: LPIPS | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if lpips is None:
            lpips = LPIPS(net=net, weights=weights, input_range=input_range, calibration=calibration)
        elif not isinstance(lpips, LPIPS):
            raise TypeError(f"lpips must be a perceptual.LPIPS, got {type(lpips).__name__}")
        elif lpips.spatial or lpips.reduction != "none":
            raise ValueError(
                "LPIPSMetric averages one value per image; pass an LPIPS with spatial=False and reduction='none', "
                f"got spatial={lpips.spatial}, reduction={lpips.reduction!r}"
            )
        self.lpips = lpips

    def _values(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.lpips(pred, target)


class DISTSMetric(_ImageMean):
    """Mean DISTS over a dataset (lower is more similar).

    Args:
        weights, input_range, calibration, resize: :class:`~perceptual.DISTS`'s (``resize="antialias"``: images over
            256 px are shrunk as the authors' pipeline does).
        dists: a :class:`~perceptual.DISTS` to use instead; the other arguments must then be left out.
        **kwargs: torchmetrics' ``Metric`` options.
    """

    def __init__(
        self,
        *,
        weights: WeightsSource = "imagenet",
        input_range: tuple[float, float] = DEFAULT_INPUT_RANGE,
        calibration: str | os.PathLike | None = None,
        resize: Resize = "antialias",
        dists: DISTS | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if dists is None:
            dists = DISTS(weights=weights, input_range=input_range, calibration=calibration, resize=resize)
        elif not isinstance(dists, DISTS):
            raise TypeError(f"dists must be a perceptual.DISTS, got {type(dists).__name__}")
        elif dists.reduction != "none":
            raise ValueError(
                f"DISTSMetric averages one value per image; pass a DISTS with reduction='none', got {dists.reduction!r}"
            )
        self.dists = dists

    def _values(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.dists(pred, target)


class FeatureDistanceMetric(_ImageMean):
    """Mean VGG feature distance over a dataset: :class:`~perceptual.PerceptualLoss` with ``reduction="none"`` (per
    image, the weighted sum over ``layers`` of the mean elementwise distance), averaged over every image.

    Args:
        layers, criterion, arch, weights, input_range: :class:`~perceptual.PerceptualLoss`'s.
        extractor: a :class:`~perceptual.VGGFeatures` to tap (it must tap ``layers``).
        **kwargs: torchmetrics' ``Metric`` options.
    """

    def __init__(
        self,
        layers: Mapping[str, float] | Sequence[str] | str | None = None,
        *,
        criterion: Criterion = "mse",
        arch: str = "vgg16",
        weights: WeightsSource = "imagenet",
        input_range: tuple[float, float] = DEFAULT_INPUT_RANGE,
        extractor: VGGFeatures | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.loss = PerceptualLoss(
            layers,
            criterion=criterion,
            reduction="none",
            arch=arch,
            weights=weights,
            input_range=input_range,
            extractor=extractor,
        )

    def _values(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.loss(pred, target)
