"""Sample grids of a makeup transfer, with a header row that names each column (TensorBoard and PNG).

``BeautyGAN`` renders a grid on the training thread (:func:`render_sample_grid`, torch) and hands the pixels to its
background writer thread, which encodes and writes them (:func:`write_sample_grid`, numpy and PIL only: a torch op
in a second thread measurably slowed the training thread's CPU ops for the rest of the run, 41 s -> 61 s for 3
demo epochs on 2 cores)."""

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
        draw.text((3, header + _PADDING + r * (height + _PADDING) + height / 2 - 6), str(name), fill=(255, 255, 255), font=font)
    canvas = torch.from_numpy(np.asarray(strip, dtype=np.float32) / 255).permute(2, 0, 1)
    if not margin:
        return torch.cat([canvas, grid.float()], dim=1)
    canvas[:, header:, margin:] = grid.float()
    return canvas


def render_sample_grid(columns: Tensor) -> np.ndarray:
    """``columns (rows, cols, 3, H, W)`` (images in [-1, 1], cols <= 6, named by :data:`SAMPLE_COLUMNS`) as a
    :func:`labelled_grid`: ``(H', W', 3)`` uint8 pixels, a new array."""
    grid = labelled_grid(to_unit_range(columns, (-1, 1)), SAMPLE_COLUMNS[: columns.shape[1]])
    return grid.mul(255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def write_sample_grid(writer: Any, tag: str, pixels: np.ndarray, step: int, png_path: Path | None) -> None:
    """Add ``pixels`` (``(H, W, 3)`` uint8, from :func:`render_sample_grid`) to ``writer`` (a ``SummaryWriter``, or
    ``None``) as image ``tag`` at ``step``, and save them as the PNG ``png_path`` (``None``: no file; written under
    a temporary name and renamed). The same pixels in both, and no torch op: safe to run in a writer thread."""
    if writer is not None:
        writer.add_image(tag, pixels, step, dataformats="HWC")
    if png_path is not None:
        save_image(pixels, png_path)
