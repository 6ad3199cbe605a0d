"""Where real and generated images differ for VGG, as heatmaps in TensorBoard: the LPIPS map and each layer's
feature difference at the image size, side by side with the two images, and the first map over the real image.

:func:`difference_maps` computes the maps from features already at hand (no VGG forward);
:func:`log_difference_maps` logs ``<prefix>/difference`` (``real | generated | LPIPS map | per-layer maps``, each
map scaled to its own 99th percentile: the picture shows *where*, the scalars say *how much*),
``<prefix>/overlay`` (the first map blended over the real image, as torchcam's ``overlay_mask``) and the scalar
``<prefix>/lpips``. :class:`~perceptual.pictures.monitor.FeatureMapMonitor` calls it with the features and images
its training step returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from perceptual._validation import spatial_size
from perceptual.images import to_uint8
from perceptual.lpips import LPIPS
from perceptual.pictures.colormaps import apply_colormap, check_colormap
from perceptual.pictures.comparison import check_titles
from perceptual.pictures.feature_logs import check_pair, check_writer, match_layers
from perceptual.pictures.grids import stretch_images
from perceptual.pictures.heatmaps import difference_map, overlay_picture, unit_heat
from perceptual.pictures.text import draw_labels, panel_labels

__all__ = ["difference_maps", "log_difference_maps"]


def difference_maps(
    real_features: Mapping[str, Tensor],
    generated_features: Mapping[str, Tensor],
    size: tuple[int, int],
    *,
    layers: Sequence[str] | None = None,
    lpips: LPIPS | None = None,
) -> dict[str, Tensor]:
    """Where generated images differ from real ones, as ``{name: (N, 1, H, W)}`` maps at ``size``:

    - ``"lpips"`` (when ``lpips`` is given and the features hold :data:`~perceptual.LPIPS_LAYERS`): the LPIPS
      spatial map, as ``lpips.from_features(generated, real, spatial=True)``;
    - one map per layer: the squared feature difference averaged over channels (the per-position term of an MSE
      perceptual loss), upsampled bilinearly (:func:`~perceptual.pictures.heatmaps.difference_map`).

    Computed from features already at hand: no VGG forward."""
    names, missing = match_layers(layers, list(real_features))
    if missing:
        raise ValueError(f"layers {missing} are not in real_features, which has {list(real_features)}")
    height, width = size
    maps: dict[str, Tensor] = {}
    with torch.no_grad():
        if lpips is not None:
            maps["lpips"] = lpips.from_features(
                generated_features, real_features, size=(height, width), spatial=True
            ).float()
        for name in names:
            real, generated = check_pair(name, real_features[name], generated_features[name])
            maps[name] = difference_map(real, generated, (height, width))
    return maps


def log_difference_maps(
    writer: Any,
    real_features: Mapping[str, Tensor],
    generated_features: Mapping[str, Tensor],
    step: int,
    *,
    size: tuple[int, int] | None = None,
    images: tuple[Tensor, Tensor] | None = None,
    layers: Sequence[str] | None = None,
    lpips: LPIPS | None = None,
    sample: int = 0,
    colormap: str = "magma",
    max_size: int | None = 128,
    tag_prefix: str = "vgg",
    titles: Sequence[str] | None = None,
    overlay: bool = True,
    alpha: float = 0.5,
) -> list[str]:
    """Log one image ``<prefix>/difference``: a row of ``real | generated`` (when ``images``, a ``(real,
    generated)`` pair of ``(N, 3, H, W)`` batches in any range, is given) followed by the :func:`difference_maps`
    of ``sample``, each map scaled from 0 to its own 99th percentile (so the picture shows *where*; the scalars say
    *how much*), and the scalar ``<prefix>/lpips`` (batch mean) when ``lpips`` is given.

    ``size`` defaults to the images' size, else the largest feature map's. Tiles are area-downscaled to at most
    ``max_size`` on the longer side. ``titles``: names of the two image columns (e.g. ``("source", "made-up")``);
    given, every panel carries its name in its top-left corner (the two titles, ``lpips``, the layers) and the
    first one the step, in the panel (the picture keeps its size). ``overlay`` (with ``images``): also log
    ``<prefix>/overlay``, the first map (LPIPS when given, else the first layer's) blended over the real image
    (:func:`~perceptual.pictures.heatmaps.overlay_heatmap` with ``alpha``), labelled. Returns the column names, left to
    right."""
    check_writer(writer)
    check_colormap(colormap)
    named = check_titles(titles)
    first, second = named or ("real", "generated")
    if images is not None:
        real_images, generated_images = check_pair("images", images[0], images[1])
        size = size or spatial_size(real_images)
    if size is None:
        size = max((spatial_size(v) for v in real_features.values()), key=lambda hw: hw[0] * hw[1])
    maps = difference_maps(real_features, generated_features, size, layers=layers, lpips=lpips)
    height, width = size
    scale = 1.0 if max_size is None else min(1.0, max_size / max(height, width))
    tile_size = (max(1, round(height * scale)), max(1, round(width * scale)))
    tiles: list[Tensor] = []
    columns: list[str] = []
    if images is not None:
        for name, batch in ((first, real_images), (second, generated_images)):
            picture = F.interpolate(stretch_images(batch[sample][None]), size=tile_size, mode="area")
            tiles.append(to_uint8(picture[0]))
            columns.append(name)
    heats = {
        name: unit_heat(F.interpolate(value[sample][None], size=tile_size, mode="area")[0, 0])
        for name, value in maps.items()
    }
    for name, heat in heats.items():
        tiles.append(apply_colormap(heat, colormap))
        columns.append(name)
    if not tiles:
        return columns  # no layer matched and no images: nothing to draw
    gap = torch.full((tile_size[0], 2, 3), 255, dtype=torch.uint8, device=tiles[0].device)
    row = torch.cat([t for tile in tiles for t in (tile, gap)][:-1], dim=1)
    if named is not None:
        labels = panel_labels(columns, tile_size, 2, footer=(f"batch {step}", str(step)))
        row = draw_labels(row, labels, indexed=False, pad_value=255)
    writer.add_image(f"{tag_prefix}/difference", row.cpu().numpy(), step, dataformats="HWC")
    if overlay and images is not None and heats:
        source, heat = next(iter(heats.items()))
        footer = (f"batch {step}", str(step))
        blended = overlay_picture(
            tiles[0], heat, label=f"{source} on {first}", footer=footer, alpha=alpha, colormap=colormap
        )
        writer.add_image(f"{tag_prefix}/overlay", blended.cpu().numpy(), step, dataformats="HWC")
    if "lpips" in maps:
        writer.add_scalar(f"{tag_prefix}/lpips", float(maps["lpips"].mean(dim=(1, 2, 3)).mean()), step)
    return columns
