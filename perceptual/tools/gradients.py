"""The gradient of a DeepDream objective with respect to an image, tile by tile, so images far larger than the
accelerator's memory work.

The notebook's ``calc_grad_tiled`` (Google's 2015 TensorFlow DeepDream notebook, ``deepdream.ipynb``): the image is
rolled by a random shift, cut into tiles, each tile's gradient computed on the extractor's device, and the assembled
gradient rolled back. Differences, on purpose: tiles split each side evenly (the notebook's loop leaves a strip of up
to half a tile without gradient when ``size % tile < tile / 2``); a side that fits in one tile is not rolled; a
tile's score is weighted by its share of the image area, so the summed score is the objective of the whole image.
:func:`normalize_gradient` is the notebook's division by the gradient's spread.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from perceptual._validation import check_image_batch
from perceptual.features import VGGFeatures
from perceptual.tools.objectives import Objective, ScoreFn

__all__ = ["GradNorm", "extractor_device", "normalize_gradient", "tile_bounds", "tiled_gradient"]

GradNorm = Literal["std", "abs_mean"]


def extractor_device(extractor: VGGFeatures) -> tuple[torch.device, torch.dtype]:
    """The device and dtype of the extractor's weights (where tiles are sent)."""
    for tensor in extractor.body.parameters():
        return tensor.device, tensor.dtype
    return extractor.scale.device, extractor.scale.dtype  # pragma: no cover - a body always has conv1_1


def tile_bounds(length: int, tile: int) -> list[tuple[int, int]]:
    """Split ``[0, length)`` into ``ceil(length / tile)`` near-equal spans (each <= ``tile``)."""
    count = max(1, -(-length // tile))
    edges = [round(i * length / count) for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


def tiled_gradient(
    image: Tensor,
    objective: Objective | ScoreFn,
    extractor: VGGFeatures,
    *,
    tile_size: int = 512,
    shift: tuple[int, int] | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Gradient of the objective w.r.t. ``image`` ``(N, 3, H, W)`` computed tile by tile (the notebook's
    ``calc_grad_tiled``), and the ``(N,)`` scores.

    The image is rolled by ``shift`` (``(dy, dx)``; random when ``None``, drawn from ``generator``, and only along a
    side longer than one tile), cut into tiles of at most ``tile_size``, each tile's gradient computed on the
    extractor's device, and the assembled gradient rolled back. Each tile's score is weighted by its share of the
    image area, so with one tile the result is exactly the gradient of the objective of the whole image, and the
    summed score is the image's objective. ``image`` stays on its device (the CPU for images too large for the GPU).
    """
    check_image_batch(image, "image")
    if isinstance(tile_size, bool) or not isinstance(tile_size, int) or tile_size < 1:
        raise ValueError(f"tile_size must be a positive int, got {tile_size!r}")
    height, width = image.shape[-2:]
    rows, cols = tile_bounds(height, tile_size), tile_bounds(width, tile_size)
    if shift is None:
        dy = int(torch.randint(height, (1,), generator=generator)) if len(rows) > 1 else 0
        dx = int(torch.randint(width, (1,), generator=generator)) if len(cols) > 1 else 0
    else:
        dy, dx = int(shift[0]) % height, int(shift[1]) % width
    rolled = image.roll((dy, dx), dims=(2, 3)) if (dy or dx) else image
    device, dtype = extractor_device(extractor)
    gradient = torch.empty_like(image)
    score = image.new_zeros(image.shape[0])
    area = float(height * width)
    for top, bottom in rows:
        for left, right in cols:
            tile = rolled[:, :, top:bottom, left:right].to(device=device, dtype=dtype).requires_grad_(True)
            with torch.enable_grad():
                tile_score = objective(extractor(tile)) * ((bottom - top) * (right - left) / area)
                (grad,) = torch.autograd.grad(tile_score.sum(), tile)
            gradient[:, :, top:bottom, left:right] = grad.to(device=image.device, dtype=image.dtype)
            score += tile_score.detach().to(device=image.device, dtype=image.dtype)
    if dy or dx:
        gradient = gradient.roll((-dy, -dx), dims=(2, 3))
    return gradient, score


def normalize_gradient(gradient: Tensor, mode: GradNorm, eps: float) -> Tensor:
    """``gradient`` divided by its spread per batch element plus ``eps``: its std (``"std"``, the notebook's
    ``render_naive``) or its mean absolute value (``"abs_mean"``, ``render_deepdream``)."""
    dims = (1, 2, 3)
    if mode == "std":
        spread = gradient.std(dim=dims, keepdim=True)
    else:
        spread = gradient.abs().mean(dim=dims, keepdim=True)
    return gradient / (spread + eps)
