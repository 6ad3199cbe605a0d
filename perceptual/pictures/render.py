"""Feature maps to pictures: one image's ``(C, H, W)`` maps as a colored grid, the channel-sum map, and the real,
generated and ``|real - generated|`` grids side by side, with tensor operations only (no matplotlib at run time).

What "plot every feature map" code does with a subplot per channel, done on the tensor's device with one host copy
per picture: each map scaled to [0, 1] on its own (:mod:`~perceptual.pictures.grids`), colored through a lookup
table (:mod:`~perceptual.pictures.colormaps`), resized and tiled row-major, the channel number stamped in each
tile's corner (:mod:`~perceptual.pictures.text`, so the labels reach TensorBoard too). :func:`render_comparison`
draws ``real | generated | |real - generated|``: channel ``c`` of real and generated shares one scaling (the range of
both together) and the absolute difference is shown on that same per-channel scale, so equal colours mean equal
activations across the panels; which channels, headings and captions it gets is
:mod:`~perceptual.pictures.comparison`'s business. :class:`GridStyle` says how every picture of feature maps is
drawn: these grids, the PCA view (:mod:`~perceptual.pictures.pca`), the ``perceptual maps`` export and the
TensorBoard monitor.

Feature tensors are ``(C, H, W)`` (one image) unless a function says otherwise; rendered images are ``uint8``
``(H, W, 3)`` tensors on the input's device, ready for ``.cpu()`` and PIL or ``SummaryWriter.add_image(...,
dataformats="HWC")``, or ``(H, W)`` palette indices plus their palette (the ``*_indexed`` functions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import Tensor

from perceptual.pictures.channels import pick_channels
from perceptual.pictures.colormaps import (
    INDEXED_BLACK,
    INDEXED_LEVELS,
    INDEXED_WHITE,
    Colormap,
    check_colormap,
    colormap_levels,
    colormap_lut,
    indexed_palette,
    lookup,
)
from perceptual.pictures.grids import (
    Scaling,
    channel_range,
    check_maps,
    check_percentiles,
    grid_geometry,
    rendered_tile_size,
    resize_maps,
    tile_grid,
    upscale,
)
from perceptual.pictures.text import Labels, check_texts, draw_labels, heading_lines, stamp_numbers, text_scale

__all__ = [
    "GridStyle",
    "channel_numbers",
    "channel_sum",
    "check_style",
    "color_tiles",
    "prepare_maps",
    "render_channel_sum",
    "render_comparison",
    "render_comparison_indexed",
    "render_maps",
    "render_maps_indexed",
]


# ------------------------------------------------------------------------------------------------ reductions
def channel_sum(features: Tensor, *, reduce: Literal["sum", "mean"] = "sum") -> Tensor:
    """Sum (the common ``layer_sum`` picture) or mean over the channel dim of ``(C, H, W)`` / ``(N, C, H, W)`` maps."""
    check_maps(features, "features", (3, 4))
    if reduce == "sum":
        return features.sum(dim=-3)
    if reduce == "mean":
        return features.mean(dim=-3)
    raise ValueError(f"reduce must be 'sum' or 'mean', got {reduce!r}")


# ------------------------------------------------------------------------------------------------ tiles
def channel_numbers(count: int, channels: Tensor | Sequence[int] | None, device: torch.device) -> Tensor:
    """The channel number of each drawn tile: ``channels`` as a long tensor on ``device``, or ``0 .. count - 1``."""
    if channels is None:
        return torch.arange(count, device=device)
    return torch.as_tensor(channels, dtype=torch.long, device=device)


def color_tiles(
    maps: Tensor,
    low: Tensor,
    high: Tensor,
    *,
    colormap: str,
    indexed: bool,
    factor: int,
    numbers: Tensor | None,
    label_min_tile: int,
    max_label: int = 0,
) -> Tensor:
    """``(..., h, w)`` float maps -> uint8 tiles ``(..., h*f, w*f, 3)`` (RGB) or ``(..., h*f, w*f)`` (palette levels)."""
    if indexed:
        tiles = colormap_levels(maps, low, high, INDEXED_LEVELS, torch.uint8)
        fg, bg = INDEXED_WHITE, INDEXED_BLACK
    else:
        tiles = lookup(colormap_lut(colormap, device=maps.device), colormap_levels(maps, low, high, 256))
        fg, bg = 255, 0
    spatial = maps.ndim - 2
    tiles = upscale(tiles, factor, dim=spatial)
    if numbers is not None:  # tiles (..., K, h', w'[, 3]): the K numbers repeat over the leading dims
        flat = tiles.reshape(-1, *tiles.shape[spatial:])
        flat = stamp_numbers(
            flat,
            numbers.repeat(flat.shape[0] // numbers.numel()),
            fg=fg,
            bg=bg,
            min_tile=label_min_tile,
            max_label=max_label,
        )
        tiles = flat.reshape(tiles.shape)
    return tiles


def prepare_maps(
    features: Tensor, channels: Tensor | Sequence[int] | None, min_size: int | None, max_size: int | None
) -> tuple[Tensor, int]:
    """Pick channels, area-downscale to ``max_size``; return float maps and the integer upscale factor still due."""
    maps = pick_channels(features, channels).float()
    height, width = maps.shape[-2:]
    target = rendered_tile_size(height, width, min_size=min_size, max_size=max_size)
    if target[0] < height or target[1] < width:
        return resize_maps(maps, max_size=max_size), 1
    return maps, target[0] // height


# ------------------------------------------------------------------------------------------------ grids
@dataclass(frozen=True)
class GridStyle:
    """How feature maps are drawn, shared by :func:`render_maps`,
    :func:`render_comparison`, :func:`~perceptual.pictures.pca.render_pca`, the
    ``perceptual maps`` export and the TensorBoard monitor.

    Attributes:
        colormap: ``"viridis"``, ``"magma"`` or ``"gray"`` (:data:`~perceptual.pictures.colormaps.COLORMAPS`).
        scaling: how each map is stretched to [0, 1] for display: ``"minmax"`` (its own min and max) or
            ``"percentile"`` (its ``percentiles`` range, robust to a few hot pixels). Display only; the input
            normalization of the VGG is :class:`~perceptual.normalization.InputNormalization`.
        percentiles: the range of ``scaling="percentile"``.
        ncols: tiles per row (default: about a square).
        padding: pixels between tiles.
        pad_value: the padding's gray level in RGB grids (palette grids pad with white).
        min_size, max_size: the longer side of each tile is upscaled (by an integer factor) to at least
            ``min_size`` and area-downscaled to at most ``max_size``
            (:func:`~perceptual.pictures.grids.rendered_tile_size`).
        labels: write each tile's channel number in its top-left corner (not on tiles under ``label_min_tile`` px).
    """

    colormap: Colormap | str = "viridis"
    scaling: Scaling | str = "minmax"
    percentiles: tuple[float, float] = (1.0, 99.0)
    ncols: int | None = None
    padding: int = 2
    pad_value: int = 255
    min_size: int | None = None
    max_size: int | None = None
    labels: bool = False
    label_min_tile: int = 20

    def __post_init__(self) -> None:
        check_colormap(self.colormap)
        if self.scaling not in ("minmax", "percentile"):
            raise ValueError(f"scaling must be 'minmax' or 'percentile', got {self.scaling!r}")
        object.__setattr__(self, "percentiles", check_percentiles(self.percentiles))
        for name in ("padding", "pad_value", "label_min_tile"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        for name in ("ncols", "min_size", "max_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")


def check_style(style: object) -> GridStyle:
    """``style`` itself when it is a :class:`GridStyle`, else a ``TypeError``."""
    if not isinstance(style, GridStyle):
        raise TypeError(f"style must be a perceptual.pictures.render.GridStyle, got {type(style).__name__}")
    return style


def _render_grid(
    features: Tensor, channels: Tensor | Sequence[int] | None, style: GridStyle, *, indexed: bool
) -> Tensor:
    check_maps(features, "features")
    maps, factor = prepare_maps(features, channels, style.min_size, style.max_size)
    low, high = channel_range(maps, method=style.scaling, percentiles=style.percentiles)
    numbers = channel_numbers(features.shape[0], channels, maps.device) if style.labels else None
    tiles = color_tiles(
        maps,
        low,
        high,
        colormap=style.colormap,
        indexed=indexed,
        factor=factor,
        numbers=numbers,
        label_min_tile=style.label_min_tile,
        max_label=features.shape[0] - 1,
    )
    pad_value = INDEXED_WHITE if indexed else style.pad_value
    return tile_grid(tiles, ncols=style.ncols, padding=style.padding, pad_value=pad_value)


def render_maps(
    features: Tensor, *, channels: Tensor | Sequence[int] | None = None, style: GridStyle = GridStyle()
) -> Tensor:
    """One image's ``(C, H, W)`` feature maps (or the ``channels`` chosen) as a colored grid, uint8 ``(H', W', 3)``.

    Each map is scaled to [0, 1] on its own (``style.scaling``), colored, resized so its longer side lies in
    ``[style.min_size, style.max_size]`` and tiled row-major in the order of ``channels``
    (:func:`~perceptual.pictures.grids.grid_geometry` gives each tile's position); see :class:`GridStyle`.
    """
    return _render_grid(features, channels, check_style(style), indexed=False)


def render_maps_indexed(
    features: Tensor, *, channels: Tensor | Sequence[int] | None = None, style: GridStyle = GridStyle()
) -> tuple[Tensor, Tensor]:
    """:func:`render_maps` as a palette image: uint8 ``(H', W')`` palette indices and the ``(256, 3)`` palette
    (:func:`~perceptual.pictures.colormaps.indexed_palette`; 254 colormap levels, white padding). A third of the
    bytes of RGB, so PNGs of every map of a network encode about three times faster; colors differ from
    :func:`render_maps` by at most one colormap step."""
    grid = _render_grid(features, channels, check_style(style), indexed=True)
    return grid, indexed_palette(style.colormap, device=grid.device)


def render_channel_sum(
    features: Tensor, *, reduce: Literal["sum", "mean"] = "sum", style: GridStyle = GridStyle()
) -> Tensor:
    """The channel sum (or mean) of ``(C, H, W)`` maps, scaled and colored by ``style``: uint8 ``(H', W', 3)``."""
    total = channel_sum(features, reduce=reduce).float()[None]
    return render_maps(total, style=replace(check_style(style), padding=0, labels=False))


# ------------------------------------------------------------------------------------------------ real | generated | difference
def render_comparison(
    real: Tensor,
    generated: Tensor,
    *,
    channels: Tensor | Sequence[int] | None = None,
    style: GridStyle = GridStyle(),
    gap: int | None = None,
    titles: Sequence[str] | None = None,
    heading: str | None = None,
    captions: Sequence[str] | None = None,
) -> Tensor:
    """``real | generated | |real - generated|``: three grids of the same channels side by side, uint8 ``(H', W', 3)``.

    Channel ``c`` of real and generated shares one scaling (the range of both together), and the absolute
    difference is shown on that same per-channel scale (``|r - g| / (high - low)``), so equal colors mean equal
    activations across the panels. Panels are ``gap`` pixels apart (default ``max(4, 4 * style.padding)``).

    Text, in the labels' pixel font (:func:`~perceptual.pictures.text.text_bitmap`; 2x from 96 px panels
    or tiles):

    - ``heading``: lines above the panels (wrapped at spaces to the picture's width);
    - ``titles``: a name above each panel, ``(real, generated)`` or ``(real, generated, difference)`` (default
      difference title ``"|difference|"``);
    - ``captions``: one short text per shown channel, in the bottom-left corner of its ``|difference|`` tile (e.g.
      :func:`~perceptual.pictures.channels.channel_differences` of the two maps), on tiles of at least
      ``style.label_min_tile`` pixels; a caption wider than its tile is left out rather than cut.

    Without any of the three, the picture is the three grids and nothing else.
    """
    return _render_comparison(
        real,
        generated,
        channels,
        check_style(style),
        gap,
        indexed=False,
        titles=titles,
        heading=heading,
        captions=captions,
    )


def render_comparison_indexed(
    real: Tensor,
    generated: Tensor,
    *,
    channels: Tensor | Sequence[int] | None = None,
    style: GridStyle = GridStyle(),
    gap: int | None = None,
    titles: Sequence[str] | None = None,
    heading: str | None = None,
    captions: Sequence[str] | None = None,
) -> tuple[Tensor, Tensor]:
    """:func:`render_comparison` as palette indices ``(H', W')`` uint8 plus the ``(256, 3)`` palette
    (:func:`~perceptual.pictures.colormaps.indexed_palette`): a third of the bytes, for small PNGs and event files."""
    grid = _render_comparison(
        real,
        generated,
        channels,
        check_style(style),
        gap,
        indexed=True,
        titles=titles,
        heading=heading,
        captions=captions,
    )
    return grid, indexed_palette(style.colormap, device=grid.device)


def _render_comparison(
    real: Tensor,
    generated: Tensor,
    channels: Tensor | Sequence[int] | None,
    style: GridStyle,
    gap: int | None,
    *,
    indexed: bool,
    titles: Sequence[str] | None = None,
    heading: str | None = None,
    captions: Sequence[str] | None = None,
) -> Tensor:
    check_maps(real, "real")
    check_maps(generated, "generated")
    if real.shape != generated.shape:
        raise ValueError(
            f"real and generated features must have the same shape, got {tuple(real.shape)} and "
            f"{tuple(generated.shape)}"
        )
    gap = max(4, 4 * style.padding) if gap is None else gap
    if gap < 0:
        raise ValueError(f"gap must be >= 0, got {gap}")
    if titles is not None:
        titles = check_texts(titles, "titles", (2, 3))
        titles = titles if len(titles) == 3 else [*titles, "|difference|"]
    pair = torch.stack((pick_channels(real, channels), pick_channels(generated, channels)), dim=1)  # (K, 2, h, w)
    if captions is not None:
        captions = check_texts(captions, "captions", (pair.shape[0],))
    pair, factor = prepare_maps(pair, None, style.min_size, style.max_size)
    low, high = channel_range(pair, dims=(1, 2, 3), method=style.scaling, percentiles=style.percentiles)  # (K,1,1,1)
    diff = (pair[:, 1:] - pair[:, :1]).abs_()
    panels = torch.cat((pair, diff + low), dim=1).transpose(0, 1)  # (3, K, h, w); diff shifted onto the same scale
    numbers = channel_numbers(real.shape[0], channels, pair.device) if style.labels else None
    tiles = color_tiles(
        panels,
        low.transpose(0, 1),
        high.transpose(0, 1),
        colormap=style.colormap,
        indexed=indexed,
        factor=factor,
        numbers=numbers,
        label_min_tile=style.label_min_tile,
        max_label=real.shape[0] - 1,
    )
    pad_value = INDEXED_WHITE if indexed else style.pad_value
    grids = [tile_grid(tiles[i], ncols=style.ncols, padding=style.padding, pad_value=pad_value) for i in range(3)]
    spacer = grids[0].new_full((grids[0].shape[0], gap, *grids[0].shape[2:]), pad_value)
    picture = torch.cat((grids[0], spacer, grids[1], spacer, grids[2]), dim=1)
    if titles is None and heading is None and captions is None:
        return picture
    panel = grids[0].shape[1]
    labels = Labels(scale=text_scale(panel))
    labels.lines = heading_lines(heading, style.padding, picture.shape[1], labels.scale)
    if titles is not None:
        labels.lines.append(
            [(title, i * (panel + gap) + style.padding, i * (panel + gap) + panel) for i, title in enumerate(titles)]
        )
    tile_height, tile_width = tiles.shape[2], tiles.shape[3]
    if captions is not None and min(tile_height, tile_width) >= style.label_min_tile:
        geometry = grid_geometry(len(captions), tile_height, tile_width, ncols=style.ncols, padding=style.padding)
        for index, caption in enumerate(captions):
            scale = next(
                (
                    s
                    for s in (text_scale(min(tile_height, tile_width)), 1)
                    if (4 * len(caption) - 1) * s + 2 <= tile_width
                ),
                None,
            )
            if scale is None:
                continue  # a caption is shown whole or not at all (a cut number would mislead)
            top, left = geometry.origin(index)
            left += 2 * (panel + gap)
            box = 5 * scale + 2  # glyphs plus their outline
            labels.stamps.append((caption, top + tile_height - box, left, scale, left + tile_width, top + tile_height))
    return draw_labels(picture, labels, indexed=indexed, pad_value=style.pad_value)
