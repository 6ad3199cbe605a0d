"""A grid of face images with its columns (and rows) named: the training sample grids
(:mod:`beautygan.training.samples`) and the strips of :mod:`beautygan.inference.gallery` (strengths, joint
transfer, interpolation).

The names are drawn with the labels every picture of the project uses (:mod:`perceptual.pictures.text`: its 3x5 pixel
font, white with a black outline, twice as large on tiles from 96 pixels), on a black header above the tiles and,
for row names, a black strip at their left; the tiles are laid out by :func:`perceptual.pictures.grids.tile_grid`.
A name wider than its tile is cut after its last whole character that fits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from perceptual.pictures.grids import tile_grid
from perceptual.pictures.text import Labels, draw_labels, text_scale

__all__ = ["labelled_grid"]

PADDING = 2
"""Pixels between the tiles and around them (black)."""


def _text_width(text: str, scale: int) -> int:
    """Width of ``text`` in the labels' font with its one-pixel outline on each side."""
    return (4 * len(text) - 1) * scale + 2 if text else 0


def _fitted(text: str, width: int, scale: int) -> str:
    """``text`` cut after its last whole character that fits in ``width`` pixels (outline included)."""
    while text and _text_width(text, scale) > width:
        text = text[:-1]
    return text


def labelled_grid(
    tiles: Tensor, names: Sequence[str], *, header: int = 12, row_names: Sequence[str] | None = None
) -> Tensor:
    """``tiles (rows, cols, H, W, 3)`` uint8 as one ``(H', W', 3)`` uint8 grid, a row per sample, :data:`PADDING`
    black pixels between and around the tiles, and a black header strip of ``header`` pixels with ``names[c]`` over
    column ``c``; with ``row_names``, a black strip at the left naming each row."""
    if not isinstance(tiles, Tensor) or tiles.ndim != 5 or tiles.shape[-1] != 3 or tiles.dtype != torch.uint8:
        got = f"{tiles.dtype} {tuple(tiles.shape)}" if isinstance(tiles, Tensor) else type(tiles).__name__
        raise ValueError(f"tiles must be a (rows, cols, H, W, 3) uint8 tensor, got {got}")
    rows, cols, height, width, _ = tiles.shape
    if len(names) != cols:
        raise ValueError(f"need one name per column ({cols}), got {len(names)}: {list(names)}")
    if row_names is not None and len(row_names) != rows:
        raise ValueError(f"need one name per row ({rows}), got {len(row_names)}: {list(row_names)}")
    if header < 7:
        raise ValueError(f"header must be at least 7 pixels (the font's 5 and its outline), got {header}")
    scale = min(text_scale(min(height, width)), (header - 2) // 5)
    grid = tile_grid(tiles.flatten(0, 1), ncols=cols, padding=PADDING, pad_value=0)
    row_texts = [str(name).upper() for name in row_names or ()]
    margin = max((_text_width(text, scale) for text in row_texts), default=0) + 4 if row_names is not None else 0
    canvas = grid.new_zeros((header + grid.shape[0], margin + grid.shape[1], 3))
    canvas[header:, margin:] = grid
    labels = Labels(scale=scale)
    top = (header - (5 * scale + 2)) // 2
    for c, name in enumerate(names):
        text = _fitted(str(name), width, scale)
        left = margin + PADDING + c * (width + PADDING) + max(0, (width - _text_width(text, scale)) // 2)
        labels.stamps.append((text, top, left, scale, left + width, header))
    for r, text in enumerate(row_texts):
        middle = header + PADDING + r * (height + PADDING) + height // 2
        labels.stamps.append((text, middle - (5 * scale + 2) // 2, 2, scale, margin, canvas.shape[0]))
    return draw_labels(canvas, labels, indexed=False, pad_value=0)
