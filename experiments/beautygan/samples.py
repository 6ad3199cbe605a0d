"""Sample grids of a makeup transfer, with a header row that names each column (TensorBoard and PNG).

:func:`write_sample_grid` is what ``BeautyGAN`` runs in its background writer thread: the training thread only copies
the pairs to the host; rendering, PNG encoding (twice: the event file and the PNG) and writing happen there."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from perceptual.images import save_image, to_unit_range

SAMPLE_COLUMNS = ("source", "reference", "made-up", "de-made-up", "cycle src", "cycle ref")
"""Column names of the training grids: the source (no makeup), the reference (makeup), the source wearing the
reference's makeup, the reference without makeup, and the two reconstructions of the cycle pass
(``G(de-made-up, made-up)``: the source back, the reference back)."""

_PADDING = 2


def labelled_grid(images: Tensor, names: Sequence[str], *, header: int = 12) -> Tensor:
    """``images (rows, cols, 3, H, W)`` in [0, 1] as one ``(3, H', W')`` grid in [0, 1], a row per sample and a
    header strip of ``header`` pixels with ``names[c]`` over column ``c`` (names too wide for a tile are cut)."""
    if images.ndim != 5 or images.shape[2] != 3:
        raise ValueError(f"images must be (rows, cols, 3, H, W), got shape {tuple(images.shape)}")
    rows, cols, _, height, width = images.shape
    if len(names) != cols:
        raise ValueError(f"need one name per column ({cols}), got {len(names)}: {list(names)}")
    grid = torchvision.utils.make_grid(images.flatten(0, 1).clamp(0, 1), nrow=cols, padding=_PADDING)
    strip = Image.new("RGB", (grid.shape[-1], header), (0, 0, 0))
    draw = ImageDraw.Draw(strip)
    font = ImageFont.load_default()
    tile = width + _PADDING
    for c, name in enumerate(names):
        text = str(name)
        while text and draw.textlength(text, font=font) > tile - 2:
            text = text[:-1]
        left = _PADDING + c * tile + max(0, (width - draw.textlength(text, font=font)) / 2)
        draw.text((left, 1), text, fill=(255, 255, 255), font=font)
    strip_tensor = torch.from_numpy(np.asarray(strip, dtype=np.float32) / 255).permute(2, 0, 1)
    return torch.cat([strip_tensor, grid.float()], dim=1)


def write_sample_grid(writer: Any, tag: str, columns: Tensor, step: int, png_path: Path | None) -> None:
    """Render ``columns (rows, cols, 3, H, W)`` (images in [-1, 1], cols <= 6, named by :data:`SAMPLE_COLUMNS`) as a
    :func:`labelled_grid`; add it to ``writer`` (a ``SummaryWriter``, or ``None``) as image ``tag`` at ``step`` and
    save it as ``png_path`` (``None``: no file)."""
    grid = labelled_grid(to_unit_range(columns, (-1, 1)), SAMPLE_COLUMNS[: columns.shape[1]])
    pixels = grid.mul(255).round().to(torch.uint8)  # one rounding for both (TensorBoard would truncate floats)
    if writer is not None:
        writer.add_image(tag, pixels, step)
    if png_path is not None:
        save_image(pixels, png_path)
