"""Measurements of a makeup transfer: per-region colour distance to the reference, feature distance to the source."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["mean_region_colour", "region_colour_distance"]


def mean_region_colour(images: Tensor, masks: Tensor, *, input_range: tuple[float, float] = (-1.0, 1.0)) -> Tensor:
    """Mean RGB (0-255) of each image ``(N, 3, H, W)`` over its bool mask ``(N, 1, H, W)``: ``(N, 3)``, NaN if empty."""
    low, high = input_range
    pixels = ((images.float() - low) / (high - low)).clamp(0, 1) * 255
    weight = masks.float()
    return (pixels * weight).sum((2, 3)) / weight.sum((2, 3))


def region_colour_distance(
    images: Tensor, image_masks: Tensor, references: Tensor, reference_masks: Tensor,
    *, input_range: tuple[float, float] = (-1.0, 1.0),
) -> Tensor:  # fmt: skip
    """Euclidean distance (0-255 RGB units) between the mean colours of a region in each image and its reference:
    ``(N,)``, NaN where the region is empty in either."""
    a = mean_region_colour(images, image_masks, input_range=input_range)
    b = mean_region_colour(references, reference_masks, input_range=input_range)
    return torch.linalg.vector_norm(a - b, dim=1)
