"""Grids of feature maps: display scaling, tile sizes and tiling, with tensor operations only.

The pieces of torchvision's ``make_grid(scale_each=True)`` and of the usual "a subplot per channel" code, done on
the tensor's device:

- per-channel scaling to [0, 1] for display (:func:`channel_range`, :func:`scale_channels`): min-max from
  ``amin``/``amax(keepdim=True)``, or a robust percentile range (numpy's ``"linear"`` percentile, computed by one
  sort); :func:`stretch_images` stretches each image of a batch alike;
- tile sizes (:func:`rendered_tile_size`, :func:`resize_maps`): an integer nearest upscale (square pixels) or an
  area downscale;
- tiling by one strided copy (:func:`tile_grid`, an ``unfold`` view of the canvas), tiles in row-major order as
  :func:`grid_geometry` describes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "GridGeometry",
    "Scaling",
    "channel_range",
    "check_maps",
    "check_percentiles",
    "grid_geometry",
    "rendered_tile_size",
    "rescale",
    "resize_maps",
    "scale_channels",
    "stretch_images",
    "tile_grid",
    "upscale",
]

Scaling = Literal["minmax", "percentile"]

_EPS = 1e-12


# ------------------------------------------------------------------------------------------------ checks
def check_maps(maps: object, name: str, ndims: tuple[int, ...] = (3,)) -> Tensor:
    """``maps`` itself when it is a non-empty float (or uint8) tensor with one of ``ndims`` dims, else a
    ``TypeError``/``ValueError`` naming ``name`` and what came."""
    if not isinstance(maps, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(maps).__name__}")
    if maps.ndim not in ndims:
        shapes = " or ".join({2: "(H, W)", 3: "(C, H, W)", 4: "(N, C, H, W)"}[n] for n in ndims)
        raise ValueError(f"{name} must have shape {shapes}, got shape {tuple(maps.shape)}")
    if not (torch.is_floating_point(maps) or maps.dtype == torch.uint8):
        raise TypeError(f"{name} must be a floating-point (or uint8) tensor, got {maps.dtype}")
    if maps.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(maps.shape)})")
    return maps


def check_percentiles(percentiles: Iterable[float]) -> tuple[float, float]:
    """``(low, high)`` as floats with ``0 <= low < high <= 100``, else a ``TypeError``/``ValueError``."""
    try:
        low, high = (float(p) for p in percentiles)
    except (TypeError, ValueError):
        raise TypeError(f"percentiles must be a pair (low, high) in [0, 100], got {percentiles!r}") from None
    if not 0.0 <= low < high <= 100.0:
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got ({low:g}, {high:g})")
    return low, high


# ------------------------------------------------------------------------------------------------ display scaling
def _reduce_dims(maps: Tensor, dims: Sequence[int]) -> tuple[int, ...]:
    return tuple(sorted({d % maps.ndim for d in dims}))


def _percentile_range(maps: Tensor, dims: tuple[int, ...], low: float, high: float) -> tuple[Tensor, Tensor]:
    keep_shape = [1 if d in dims else size for d, size in enumerate(maps.shape)]
    moved = maps.movedim(dims, tuple(range(maps.ndim - len(dims), maps.ndim)))
    flat = moved.reshape(*moved.shape[: maps.ndim - len(dims)], -1)
    ordered = flat.sort(dim=-1).values
    count = ordered.shape[-1]
    bounds = []
    for q in (low, high):  # numpy's default "linear" method: position q/100 * (count - 1)
        position = q / 100.0 * (count - 1)
        below = math.floor(position)
        above = min(below + 1, count - 1)
        frac = position - below
        value = ordered[..., below] + frac * (ordered[..., above] - ordered[..., below])
        bounds.append(value.reshape(keep_shape))
    return bounds[0], bounds[1]


def channel_range(
    maps: Tensor,
    *,
    dims: Sequence[int] = (-2, -1),
    method: Scaling | str = "minmax",
    percentiles: tuple[float, float] = (1.0, 99.0),
) -> tuple[Tensor, Tensor]:
    """Per-channel ``(low, high)`` of ``maps`` over ``dims`` (kept as size-1 dims, so they broadcast back).

    ``method="minmax"``: ``amin``/``amax``; ``"percentile"``: the ``percentiles`` pair, numpy's linear method.
    """
    if not isinstance(maps, Tensor) or not torch.is_floating_point(maps):
        got = maps.dtype if isinstance(maps, Tensor) else type(maps).__name__
        raise TypeError(f"maps must be a floating-point tensor, got {got}")
    reduce = _reduce_dims(maps, dims)
    if method == "minmax":
        return maps.amin(dim=reduce, keepdim=True), maps.amax(dim=reduce, keepdim=True)
    if method == "percentile":
        low, high = check_percentiles(percentiles)
        return _percentile_range(maps, reduce, low, high)
    raise ValueError(f"method must be 'minmax' or 'percentile', got {method!r}")


def rescale(maps: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """``(maps - low) / (high - low)`` clipped to [0, 1], as a new tensor; where ``high - low`` is zero, 0."""
    span = high - low
    scale = torch.where(span > _EPS, 1.0 / span.clamp_min(_EPS), torch.zeros_like(span))
    return ((maps - low) * scale).clamp_(0.0, 1.0)  # a constant channel renders as 0


def scale_channels(
    maps: Tensor,
    *,
    method: Scaling | str = "minmax",
    percentiles: tuple[float, float] = (1.0, 99.0),
    dims: Sequence[int] = (-2, -1),
) -> Tensor:
    """Rescale each channel of ``maps`` to [0, 1] over ``dims`` (default: each ``(H, W)`` map on its own).

    Constant maps become 0; with ``method="percentile"`` values beyond the percentiles are clipped. Returns a
    new float tensor; ``maps`` is not modified.
    """
    low, high = channel_range(maps, dims=dims, method=method, percentiles=percentiles)
    return rescale(maps, low, high)


def stretch_images(images: Tensor) -> Tensor:
    """Each image of an ``(N, C, H, W)`` batch in any range stretched to [0, 1] (min-max per image), for display."""
    low = images.amin(dim=(1, 2, 3), keepdim=True)
    high = images.amax(dim=(1, 2, 3), keepdim=True)
    return (images.float() - low) / (high - low).clamp_min(_EPS)


# ------------------------------------------------------------------------------------------------ tile sizes
def rendered_tile_size(
    height: int, width: int, *, min_size: int | None = None, max_size: int | None = None
) -> tuple[int, int]:
    """The ``(height, width)`` a ``(height, width)`` map gets when rendered with ``min_size``/``max_size``: the
    longer side is upscaled by an integer factor (square pixels) to at least ``min_size``, or area-downscaled to at
    most ``max_size``."""
    if height < 1 or width < 1:
        raise ValueError(f"maps must be at least 1x1, got {height}x{width}")
    if max_size is not None and max_size < 1:
        raise ValueError(f"max_size must be a positive integer or None, got {max_size}")
    longer = max(height, width)
    if max_size is not None and longer > max_size:
        return max(1, round(height * max_size / longer)), max(1, round(width * max_size / longer))
    if min_size is not None and longer < min_size:
        factor = math.ceil(min_size / longer)
        return height * factor, width * factor
    return height, width


def resize_maps(maps: Tensor, *, min_size: int | None = None, max_size: int | None = None) -> Tensor:
    """Resize ``(..., H, W)`` maps to :func:`rendered_tile_size`: integer nearest upscaling or area averaging
    (``adaptive_avg_pool2d``). Returns ``maps`` itself when the size does not change."""
    height, width = maps.shape[-2:]
    size = rendered_tile_size(height, width, min_size=min_size, max_size=max_size)
    if size == (height, width):
        return maps
    if size[0] < height or size[1] < width:
        pooled = F.adaptive_avg_pool2d(maps.reshape(-1, 1, height, width).float(), size)
        return pooled.reshape(*maps.shape[:-2], *size).to(maps.dtype)
    return upscale(maps, size[0] // height, dim=maps.ndim - 2)


def upscale(tiles: Tensor, factor: int, *, dim: int) -> Tensor:
    """Nearest upscaling of dims ``dim`` and ``dim + 1`` by an integer factor: one broadcast copy."""
    if factor == 1:
        return tiles
    shape = tiles.shape
    height, width = shape[dim], shape[dim + 1]
    view = tiles.reshape(*shape[:dim], height, 1, width, 1, *shape[dim + 2 :])
    view = view.expand(*shape[:dim], height, factor, width, factor, *shape[dim + 2 :])
    return view.reshape(*shape[:dim], height * factor, width * factor, *shape[dim + 2 :])


# ------------------------------------------------------------------------------------------------ tiling
@dataclass(frozen=True)
class GridGeometry:
    """Where each tile of a grid lies: tile ``i`` is at row ``i // cols``, column ``i % cols``, its top-left
    pixel at ``(padding + row * (tile_height + padding), padding + col * (tile_width + padding))``."""

    count: int
    rows: int
    cols: int
    tile_height: int
    tile_width: int
    padding: int

    @property
    def height(self) -> int:
        return self.rows * self.tile_height + (self.rows + 1) * self.padding

    @property
    def width(self) -> int:
        return self.cols * self.tile_width + (self.cols + 1) * self.padding

    def origin(self, index: int) -> tuple[int, int]:
        """``(top, left)`` pixel of tile ``index``."""
        row, col = divmod(index, self.cols)
        return self.padding + row * (self.tile_height + self.padding), self.padding + col * (
            self.tile_width + self.padding
        )


def grid_geometry(
    count: int, tile_height: int, tile_width: int, *, ncols: int | None = None, padding: int = 2
) -> GridGeometry:
    """Geometry of a grid of ``count`` tiles: ``ncols`` columns (default ``ceil(sqrt(count))``), ``padding``
    pixels between tiles and around the border."""
    if count < 1:
        raise ValueError(f"a grid needs at least one tile, got count={count}")
    if ncols is not None and ncols < 1:
        raise ValueError(f"ncols must be a positive integer or None, got {ncols}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    cols = min(count, ncols) if ncols is not None else math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    return GridGeometry(count, rows, cols, tile_height, tile_width, padding)


def tile_grid(tiles: Tensor, *, ncols: int | None = None, padding: int = 2, pad_value: float = 0) -> Tensor:
    """Tile ``(N, H, W)`` or ``(N, H, W, K)`` (channels last, e.g. RGB) into one ``(H', W')`` / ``(H', W', K)``
    image, row-major, as :func:`grid_geometry` describes; padding and the unused cells are ``pad_value``."""
    if not isinstance(tiles, Tensor) or tiles.ndim not in (3, 4):
        got = tuple(tiles.shape) if isinstance(tiles, Tensor) else type(tiles).__name__
        raise ValueError(f"tiles must be a tensor of shape (N, H, W) or (N, H, W, K), got {got}")
    squeeze = tiles.ndim == 3
    if squeeze:
        tiles = tiles[..., None]
    count, height, width, depth = tiles.shape
    geo = grid_geometry(count, height, width, ncols=ncols, padding=padding)
    cells = geo.rows * geo.cols
    if cells > count:  # blank cells complete the last row
        tiles = torch.cat((tiles, tiles.new_full((cells - count, height, width, depth), pad_value)))
    step_h, step_w = height + padding, width + padding
    grid = tiles.new_full((geo.height, geo.width, depth), pad_value)
    inner = grid[padding:, padding:].unfold(0, height, step_h).unfold(1, width, step_w)  # (rows, cols, depth, h, w)
    inner.copy_(tiles.reshape(geo.rows, geo.cols, height, width, depth).permute(0, 1, 4, 2, 3))  # one strided copy
    return grid[..., 0] if squeeze else grid
