"""A grid of face images with its columns (and rows) named: the training sample grids
(:mod:`beautygan.training.samples`) and the strips of :mod:`beautygan.inference.gallery` (strengths, joint
transfer, interpolation)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torchvision
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

__all__ = ["labelled_grid"]

_PADDING = 2


def labelled_grid(
    images: Tensor, names: Sequence[str], *, header: int = 12, row_names: Sequence[str] | None = None
) -> Tensor:
    """``images (rows, cols, 3, H, W)`` in [0, 1] as one ``(3, H', W')`` grid in [0, 1], a row per sample and a
    header strip of ``header`` pixels with ``names[c]`` over column ``c`` (names too wide for a tile are cut); with
    ``row_names``, a left strip naming each row."""
    if images.ndim != 5 or images.shape[2] != 3:
        raise ValueError(f"images must be (rows, cols, 3, H, W), got shape {tuple(images.shape)}")
    rows, cols, _, height, width = images.shape
    if len(names) != cols:
        raise ValueError(f"need one name per column ({cols}), got {len(names)}: {list(names)}")
    if row_names is not None and len(row_names) != rows:
        raise ValueError(f"need one name per row ({rows}), got {len(row_names)}: {list(row_names)}")
    grid = torchvision.utils.make_grid(images.flatten(0, 1).clamp(0, 1), nrow=cols, padding=_PADDING)
    font = ImageFont.load_default()
    margin = 0
    if row_names is not None:
        measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        margin = int(max(measure.textlength(str(name), font=font) for name in row_names)) + 6
    strip = Image.new("RGB", (margin + grid.shape[-1], header + (grid.shape[-2] if margin else 0)), (0, 0, 0))
    draw = ImageDraw.Draw(strip)
    tile = width + _PADDING
    for c, name in enumerate(names):
        text = str(name)
        while text and draw.textlength(text, font=font) > tile - 2:
            text = text[:-1]
        left = margin + _PADDING + c * tile + max(0, (width - draw.textlength(text, font=font)) / 2)
        draw.text((left, 1), text, fill=(255, 255, 255), font=font)
    for r, name in enumerate(row_names or ()):
        draw.text(
            (3, header + _PADDING + r * (height + _PADDING) + height / 2 - 6),
            str(name),
            fill=(255, 255, 255),
            font=font,
        )
    canvas = torch.from_numpy(np.asarray(strip, dtype=np.float32) / 255).permute(2, 0, 1)
    if not margin:
        return torch.cat([canvas, grid.float()], dim=1)
    canvas[:, header:, margin:] = grid.float()
    return canvas
