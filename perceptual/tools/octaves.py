"""The images of DeepDream: the notebook's grey noise, the octave pyramid's sizes, and the per-octave results side by
side.

After Google's 2015 TensorFlow DeepDream notebook (``deepdream.ipynb``): :func:`noise_image` is its
``np.random.uniform(size=(h, w, 3)) + 100.0``, :func:`octave_sizes` its ``np.int32(np.float32(hw) / octave_scale)``
pyramid. :func:`octave_grid` and :func:`image_grid` lay images out with
:func:`~perceptual.pictures.grids.tile_grid`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from perceptual._validation import DEFAULT_INPUT_RANGE, spatial_size
from perceptual.images import to_unit_range
from perceptual.normalization import check_input_range
from perceptual.pictures.grids import tile_grid

__all__ = ["image_grid", "noise_image", "octave_grid", "octave_sizes", "resize_images", "size_pair"]


def noise_image(
    size: int | tuple[int, int],
    *,
    batch: int | None = None,
    input_range: tuple[float, float] = DEFAULT_INPUT_RANGE,
    seed: int = 0,
    mean: float = 100.0 / 255.0,
    amplitude: float = 1.0 / 255.0,
    device: torch.device | str | None = None,
) -> Tensor:
    """The notebook's starting image ``np.random.uniform(size=(h, w, 3)) + 100.0``: grey ``mean`` plus uniform noise of
    ``amplitude`` (both as fractions of the range), mapped into ``input_range``. ``(3, H, W)``, or
    ``(batch, 3, H, W)`` when ``batch`` is given. Drawn on the CPU, so the same ``seed`` gives the same image on any
    device."""
    height, width = size_pair(size, "size")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ValueError(f"batch must be a positive int or None, got {batch!r}")
    low, high = check_input_range(input_range)
    generator = torch.Generator().manual_seed(seed)
    shape = (batch or 1, 3, height, width)
    unit = torch.rand(shape, generator=generator) * amplitude + mean
    image = (low + unit.clamp_(0.0, 1.0) * (high - low)).to(device)
    return image if batch is not None else image[0]


def size_pair(size: int | Sequence[int], name: str) -> tuple[int, int]:
    """``size`` as ``(height, width)`` of positive ints (an int is square), else a ``ValueError`` naming ``name``."""
    pair = (size, size) if isinstance(size, int) else tuple(size)  # True: (True, True), refused below
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in pair):
        raise ValueError(f"{name} must be a positive int or (height, width), got {size!r}")
    return int(pair[0]), int(pair[1])


def octave_sizes(size: tuple[int, int], octaves: int, scale: float = 1.4) -> list[tuple[int, int]]:
    """Image sizes of the octave pyramid, smallest first, ending with ``size``.

    Each smaller octave is the larger one divided by ``scale`` and floored, as the notebook's
    ``np.int32(np.float32(hw) / octave_scale)``.
    """
    height, width = size_pair(tuple(size), "size")
    if isinstance(octaves, bool) or not isinstance(octaves, int) or octaves < 1:
        raise ValueError(f"octaves must be an int >= 1, got {octaves!r}")
    if not scale > 1.0:
        raise ValueError(f"octave_scale must be > 1 (each octave is that much smaller), got {scale!r}")
    sizes = [(height, width)]
    for _ in range(octaves - 1):
        h, w = sizes[-1]
        sizes.append((int(h / scale), int(w / scale)))
    return sizes[::-1]


def resize_images(image: Tensor, size: tuple[int, int]) -> Tensor:
    """``(N, 3, H, W)`` images resized bilinearly to ``size`` (antialiased when shrinking); unchanged at that size."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    shrinking = size[0] < image.shape[-2] or size[1] < image.shape[-1]
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=shrinking)


def octave_grid(
    images: Sequence[Tensor], *, input_range: tuple[float, float] = DEFAULT_INPUT_RANGE, padding: int = 2
) -> Tensor:
    """The per-octave results side by side (each resized to the last one's size), as one ``(3, H, W)`` image in
    [0, 1]; a batch gives one row per batch element."""
    if not images:
        raise ValueError("octave_grid needs at least one image")
    size = spatial_size(images[-1])
    batched = [resize_images(img if img.ndim == 4 else img[None], size) for img in images]
    stacked = torch.stack(batched, dim=1).flatten(0, 1)  # (N * octaves, 3, H, W), row-major per batch element
    return image_grid(to_unit_range(stacked, input_range), nrow=len(images), padding=padding)


def image_grid(images: Tensor, *, nrow: int, padding: int, pad_value: float = 1.0) -> Tensor:
    """``(N, 3, H, W)`` -> ``(3, H', W')``: the images row by row, ``nrow`` per row
    (:func:`~perceptual.pictures.grids.tile_grid`)."""
    return tile_grid(images.permute(0, 2, 3, 1), ncols=nrow, padding=padding, pad_value=pad_value).permute(2, 0, 1)
