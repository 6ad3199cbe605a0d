"""Where features differ, as heatmaps: the per-position feature difference of a layer, scaled for display and
blended over the image it describes.

:func:`difference_map` is the per-position term of an MSE perceptual loss (``((generated - real) ** 2)`` averaged
over channels), upsampled to the image; :func:`unit_heat` scales a heatmap by its 99th percentile, so a few hot
pixels do not darken the rest; :func:`overlay_heatmap` blends a colormapped heatmap over an image, as torchcam's
``overlay_mask`` does, and :func:`overlay_picture` adds the labels the monitor and ``perceptual maps --compare`` put
on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from perceptual.pictures.channels import check_same
from perceptual.pictures.colormaps import Colormap, apply_colormap
from perceptual.pictures.text import draw_labels, panel_labels

__all__ = ["difference_map", "overlay_heatmap", "overlay_picture", "unit_heat"]

_EPS = 1e-12


def difference_map(real: Tensor, generated: Tensor, size: tuple[int, int] | None = None) -> Tensor:
    """Where ``(N, C, H, W)`` features differ: ``((generated - real) ** 2).mean(dim=1, keepdim=True)``, the
    per-position term of an MSE perceptual loss, ``(N, 1, H, W)`` float, upsampled bilinearly to ``size`` when given."""
    real, generated = check_same(real, generated)
    if real.ndim != 4:
        raise ValueError(f"features must be (N, C, H, W), got shape {tuple(real.shape)}")
    per_position = (generated.float() - real.float()).square().mean(dim=1, keepdim=True)
    if size is None or tuple(size) == tuple(per_position.shape[-2:]):
        return per_position
    return F.interpolate(per_position, size=tuple(size), mode="bilinear", align_corners=False)


def unit_heat(heat: Tensor) -> Tensor:
    """A non-negative heatmap divided by its 99th percentile (a few hot pixels do not darken the rest); on maps of
    more than 2**24 pixels (``torch.quantile``'s limit) the percentile of every k-th pixel."""
    values = heat.flatten().float()
    if values.numel() > 2**24:
        values = values[:: math.ceil(values.numel() / 2**24)]
    return heat.float() / torch.quantile(values, 0.99).clamp_min(_EPS)


def overlay_heatmap(image: Tensor, heat: Tensor, *, alpha: float = 0.5, colormap: Colormap | str = "magma") -> Tensor:
    """``heat`` drawn over ``image``: uint8 ``(H, W, 3)``, each pixel and colour channel
    ``round((1 - alpha) * image + alpha * colormap(heat))`` (torchcam's ``overlay_mask`` blend).

    ``image``: uint8 ``(H, W, 3)``; ``heat``: float ``(H, W)`` in [0, 1] (clipped;
    :func:`~perceptual.pictures.colormaps.apply_colormap`), the same
    size; ``alpha`` in [0, 1]: 0 shows the image only, 1 the heatmap only."""
    if not isinstance(image, Tensor) or image.dtype != torch.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        got = f"{image.dtype} {tuple(image.shape)}" if isinstance(image, Tensor) else type(image).__name__
        raise ValueError(f"image must be a uint8 (H, W, 3) tensor, got {got}")
    if not isinstance(heat, Tensor) or heat.ndim != 2:
        got = f"{tuple(heat.shape)}" if isinstance(heat, Tensor) else type(heat).__name__
        raise ValueError(f"heat must be an (H, W) tensor, got {got}")
    if tuple(heat.shape) != tuple(image.shape[:2]):
        raise ValueError(f"heat {tuple(heat.shape)} and image {tuple(image.shape[:2])} must have the same (H, W)")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    colored = apply_colormap(heat.float(), colormap).float()
    blended = image.float() * (1.0 - alpha) + colored * alpha
    return blended.round_().clamp_(0.0, 255.0).to(torch.uint8)


def overlay_picture(
    image: Tensor,
    heat: Tensor,
    *,
    label: str | None = None,
    footer: Sequence[str] = (),
    alpha: float = 0.5,
    colormap: Colormap | str = "magma",
) -> Tensor:
    """:func:`overlay_heatmap` of ``heat`` (already scaled to [0, 1], e.g. by :func:`unit_heat`) over ``image``,
    with ``label`` in its top-left corner and the first ``footer`` text that fits in its bottom-left corner
    (:func:`~perceptual.pictures.text.panel_labels`); without a label and a footer, the blend alone."""
    blended = overlay_heatmap(image, heat, alpha=alpha, colormap=colormap)
    if label is None and not footer:
        return blended
    labels = panel_labels(
        [] if label is None else [label], (int(image.shape[0]), int(image.shape[1])), 0, footer=footer
    )
    return draw_labels(blended, labels, indexed=False, pad_value=255)
