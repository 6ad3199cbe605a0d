"""TensorBoard monitoring of VGG feature maps during GAN training: real and generated side by side.

:func:`log_feature_maps` is for plain ``torch.utils.tensorboard.SummaryWriter`` users; :class:`FeatureMapMonitor` is
a Lightning callback built on it. For each monitored layer they log

- one image ``<prefix>/<layer>``: ``real | generated | |real - generated|`` grids of the same channels, each channel
  normalized once for real and generated together (:func:`perceptual.pictures.render.render_comparison`). With
  ``titles`` (the callback's default) it is labelled: the layer, the batch and how the channels were chosen above
  it, the column titles, each tile's channel number, and in each ``|difference|`` tile its current mean
  ``|real - generated|``; a text ``<prefix>/<layer>/ranking`` lists the channels that differ most now;
- scalars ``<prefix>/<layer>/mean_activation_{real,generated}``, ``<prefix>/<layer>/zero_channels_{real,generated}``
  (fraction of channels that are zero everywhere in the batch) and ``<prefix>/<layer>/distance`` (mean squared
  real-vs-generated feature difference over the batch); with face-region masks in the step's output,
  ``<prefix>/<layer>/distance/<region>`` (:func:`region_distances`);
- optionally every channel at once, ``<prefix>/<layer>/pca``: the first three principal components of real and
  generated features, fitted on both together, as RGB (:func:`perceptual.pictures.render.render_pca`);
- optionally histograms ``<prefix>/<layer>/hist_{real,generated}`` and a projector embedding of globally pooled
  features of real and generated images (a visual check for mode collapse);
- optionally *where* real and generated differ (:func:`log_difference_maps`): one image ``<prefix>/difference``,
  ``real | generated | LPIPS map | per-layer distance maps`` as heatmaps at the image size, the first heatmap
  blended over the real image as ``<prefix>/overlay``, and the scalar ``<prefix>/lpips`` (batch mean), from the
  same features.

Rendering stays on the features' device: one host copy for every number of a logged batch, then one per image.
The channels shown are chosen once (top-k by real-vs-generated difference or by real activation) and then reused,
so tiles stay comparable along TensorBoard's step slider, or chosen again every ``reselect_every_n_logs`` logged
batches. The callback hands PNG encoding and event writing to a
:class:`~perceptual.pictures.event_writer.BackgroundWriter`, so the training thread only renders and copies.

The callback reuses the features the perceptual loss already computed: ``training_step`` returns
``{"loss": ..., "vgg_features": {"real": {layer: Tensor}, "generated": {layer: Tensor}}}`` (detached). It runs no
VGG forward of its own then. It logs on global rank 0 only, uses no collectives, and throttles by the number of
training batches it has seen (not ``global_step``, which counts optimizer steps: two per batch in a GAN with two
optimizers).
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from perceptual._validation import spatial_size
from perceptual.features import VGGFeatures
from perceptual.layers import canonical_layer_name
from perceptual.lpips import LPIPS, LPIPS_LAYERS
from perceptual.pictures.event_writer import BackgroundWriter
from perceptual.pictures.render import (
    GridStyle,
    _check_colormap,
    _draw_labels,
    _panel_labels,
    _pca_fit,
    _pca_picture,
    _short_number,
    _unit_heat,
    apply_colormap,
    channel_differences,
    difference_map,
    indexed_palette,
    overlay_heatmap,
    palette_image,
    render_comparison_indexed,
    select_channels,
    text_bitmap,
)

try:
    from lightning.pytorch import LightningModule, Trainer
    from lightning.pytorch.callbacks import Callback
except ImportError as _error:  # pragma: no cover - exercised only without the [train] extra
    _LIGHTNING_ERROR: ImportError | None = _error

    class Callback:  # type: ignore[no-redef]
        pass  # FeatureMapMonitor.__post_init__ raises the ImportError

    LightningModule = Trainer = Any  # type: ignore[misc,assignment]
else:
    _LIGHTNING_ERROR = None

__all__ = [
    "MONITOR_STYLE",
    "FeatureMapMonitor",
    "difference_maps",
    "log_difference_maps",
    "log_feature_maps",
    "region_distances",
]

_STATISTICS = (
    "mean_activation_real",
    "mean_activation_generated",
    "zero_channels_real",
    "zero_channels_generated",
    "distance",
)


# ------------------------------------------------------------------------------------------------ checks
def _check_writer(writer: object) -> None:
    missing = [
        name for name in ("add_image", "add_scalar", "add_histogram") if not callable(getattr(writer, name, None))
    ]
    if missing:
        raise TypeError(
            f"writer must be a torch.utils.tensorboard.SummaryWriter (or have {', '.join(missing)}), "
            f"got {type(writer).__name__}"
        )


def _check_features(label: str, name: str, value: object) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{label} features of layer {name!r} must be a Tensor, got {type(value).__name__}")
    if value.ndim != 4:
        raise ValueError(f"{label} features of layer {name!r} must be (N, C, H, W), got shape {tuple(value.shape)}")
    return value


def _check_pair(name: str, real_value: object, generated_value: object) -> tuple[Tensor, Tensor]:
    real = _check_features("real", name, real_value)
    generated = _check_features("generated", name, generated_value)
    if real.shape != generated.shape:
        raise ValueError(
            f"real and generated features of layer {name!r} must have the same shape, got "
            f"{tuple(real.shape)} and {tuple(generated.shape)}"
        )
    return real.detach(), generated.detach()


def _match_layers(requested: Sequence[str] | None, available: Sequence[str]) -> tuple[list[str], list[str]]:
    """(keys of ``available`` to log, requested names not available); names match across Keras/canonical spellings."""
    if requested is None:
        return list(available), []

    def canonical(name: str) -> str:
        try:
            return canonical_layer_name(name, "vgg19")  # VGG19 names include every VGG16 name
        except (ValueError, TypeError):
            return name

    by_canonical = {canonical(key): key for key in available}
    found: list[str] = []
    missing: list[str] = []
    for name in requested:
        key = name if name in available else by_canonical.get(canonical(name))
        (found if key is not None else missing).append(key if key is not None else name)
    return list(dict.fromkeys(found)), missing


# ------------------------------------------------------------------------------------------------ function API
def feature_statistics(real: Tensor, generated: Tensor) -> Tensor:
    """Per-layer scalars as one float tensor (on the features' device), in the order of the ``_STATISTICS`` names:
    mean activation of real and generated, fraction of all-zero channels of each (zero at every sample and pixel),
    and the mean squared real-vs-generated difference."""
    real, generated = real.float(), generated.float()
    zero_real = (torch.count_nonzero(real, dim=(0, 2, 3)) == 0).float().mean()
    zero_generated = (torch.count_nonzero(generated, dim=(0, 2, 3)) == 0).float().mean()
    return torch.stack((real.mean(), generated.mean(), zero_real, zero_generated, F.mse_loss(generated, real)))


def _check_channel_options(max_channels: object, channel_selection: object) -> None:
    if not isinstance(max_channels, int) or max_channels < 1:
        raise ValueError(f"max_channels must be a positive integer, got {max_channels!r}")
    if channel_selection not in ("difference", "activation"):
        raise ValueError(f"channel_selection must be 'difference' or 'activation', got {channel_selection!r}")


def _check_titles(titles: object) -> tuple[str, str] | None:
    """``None`` or two drawable names (real, generated)."""
    if titles is None:
        return None
    if isinstance(titles, str) or not isinstance(titles, Sequence) or len(titles) != 2:
        raise ValueError(
            f"titles must be None or two names (real, generated), e.g. ('source', 'made-up'), got {titles!r}"
        )
    for title in titles:
        if not isinstance(title, str) or not title:
            raise ValueError(f"titles must be two non-empty str, got {titles!r}")
        text_bitmap(title)  # raises ValueError naming a character the font does not draw
    return titles[0], titles[1]


def _check_regions(regions: object, batch: int) -> dict[str, Tensor]:
    """``{name: (N, 1, H, W) mask}`` with ``N == batch``, as float tensors."""
    if not isinstance(regions, Mapping):
        raise TypeError(f"regions must be a dict {{name: (N, 1, H, W) mask}}, got {type(regions).__name__}")
    checked = {}
    for name, mask in regions.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"region names must be non-empty str without '/', got {name!r}")
        if not isinstance(mask, Tensor) or not (torch.is_floating_point(mask) or mask.dtype == torch.bool):
            got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
            raise TypeError(f"region {name!r} must be a float (or bool) tensor with values in [0, 1], got {got}")
        if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[0] != batch:
            raise ValueError(
                f"region {name!r} must be (N, 1, H, W) with N = {batch} (the features' batch), got shape "
                f"{tuple(mask.shape)}"
            )
        checked[name] = mask.detach().float()
    return checked


def _region_values(real: Tensor, generated: Tensor, regions: Mapping[str, Tensor]) -> Tensor:
    """``(R,)``: each region's ``sum(m * d) / sum(m)`` over the batch (NaN, 0 / 0, for an empty region)."""
    per_position = difference_map(real, generated)  # (N, 1, h, w)
    size = per_position.shape[-2:]
    masks = list(regions.values())
    if len({tuple(mask.shape) for mask in masks}) == 1:  # the usual case: one resize for every region
        resized = F.interpolate(torch.cat(masks, dim=1).to(per_position.device), size=size, mode="area")
    else:
        resized = torch.cat([F.interpolate(m.to(per_position.device), size=size, mode="area") for m in masks], dim=1)
    return (resized * per_position).sum(dim=(0, 2, 3)) / resized.sum(dim=(0, 2, 3))


def region_distances(real: Tensor, generated: Tensor, regions: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The feature distance between ``real`` and ``generated`` ``(N, C, H, W)`` features inside each region:
    ``{name: 0-dim tensor}`` on the features' device, no host copy.

    ``regions``: ``{name: (N, 1, H', W') mask}``, values in [0, 1] at any size (the image's, say); each mask ``m``
    is resized to the layer by area (``F.interpolate(mode="area")``) and the distance is
    ``sum(m * d) / sum(m)`` with ``d = mean over channels of (real - generated) ** 2`` per position, both sums
    running over the batch and all positions (pooled over the batch: a sample with a larger region weighs more).
    A region empty in the whole batch gives NaN. What :class:`FeatureMapMonitor` logs as
    ``<prefix>/<layer>/distance/<region>``."""
    real, generated = _check_pair("features", real, generated)
    checked = _check_regions(regions, real.shape[0])
    if not checked:
        return {}
    with torch.no_grad():
        values = _region_values(real, generated, checked)
    return dict(zip(checked, values.unbind()))


MONITOR_STYLE = GridStyle(min_size=32, max_size=48, labels=True)
"""How the monitor draws maps by default: every map between 32 and 48 px (block-1/2 maps are large; event files
stay small), channel numbers on the tiles."""

_PCA_SIZE = (96, 128)  # (min_size, max_size) of the PCA panels: big enough to see regions, cheap to fit


@dataclass
class _LayerLog:
    """What one layer logs, between the device work and the one host copy of every number."""

    name: str
    real: Tensor
    generated: Tensor
    channels: Tensor
    fresh: bool  # channels chosen in this call
    values: dict[str, Tensor] = field(default_factory=dict)  # device values, copied to the host together
    pca: tuple[list[Tensor], int] | None = None  # PCA scores of the drawn sample and the upscale still due


def log_feature_maps(
    writer: Any,
    real_features: Mapping[str, Tensor],
    generated_features: Mapping[str, Tensor],
    step: int,
    *,
    layers: Sequence[str] | None = None,
    max_channels: int = 16,
    channels: Mapping[str, Tensor | Sequence[int]] | None = None,
    channel_selection: str = "difference",
    style: GridStyle = MONITOR_STYLE,
    tag_prefix: str = "vgg",
    log_histograms: bool = False,
    sample: int = 0,
    titles: Sequence[str] | None = None,
    selected_at: Mapping[str, int] | None = None,
    pca: bool = False,
    regions: Mapping[str, Tensor] | None = None,
) -> dict[str, Tensor]:
    """Log real-vs-generated feature maps and per-layer scalars of ``(N, C, H, W)`` features to a SummaryWriter.

    Args:
        writer: a ``torch.utils.tensorboard.SummaryWriter``.
        real_features, generated_features: ``{layer: (N, C, H, W)}`` of the same images' real and generated
            versions, e.g. ``PerceptualLoss(..., return_features=True)``'s ``target_features`` and ``pred_features``.
        step: the x-axis value in TensorBoard.
        layers: layers to log (canonical or Keras names); default every layer in ``real_features``.
        max_channels: channels shown per layer (top-k by ``channel_selection``), ``channels`` not given.
        channels: ``{layer: channel indices}`` to show, e.g. the dict a previous call returned; layers missing
            from it get a fresh top-k choice.
        channel_selection: ``"difference"`` (mean ``|real - generated|`` over the batch) or ``"activation"`` (mean
            real activation).
        style: how maps are drawn (:class:`~perceptual.pictures.render.GridStyle`; default :data:`MONITOR_STYLE`).
        sample: which sample of the batch is drawn; the scalars use the whole batch.
        titles: names of the two columns, e.g. ``("real", "generated")`` or ``("source", "made-up")``. Given, each
            ``<prefix>/<layer>`` picture is labelled: a heading with the layer, the step, the channel count and how
            the channels were chosen (at step ``selected_at[layer]`` when ``channels`` came from an earlier call),
            the column titles (the third is ``|difference|``), and in each ``|difference|`` tile the mean
            ``|real - generated|`` of its two maps now (:func:`~perceptual.pictures.render.channel_differences` of
            the drawn sample). A text ``<prefix>/<layer>/ranking`` then lists the ``max_channels`` channels that
            differ most over the batch now, with that score and whether they are shown. ``None``: the pictures
            carry only the channel numbers of ``style.labels``.
        selected_at: ``{layer: step}`` at which the given ``channels`` were chosen, for the heading.
        pca: also log ``<prefix>/<layer>/pca``: the drawn sample's real and generated maps of every channel as
            RGB, through their first three principal components fitted on both together
            (:func:`~perceptual.pictures.render.render_pca`; maps resized to 96-128 px first), labelled with the
            share of the variance each component explains.
        regions: ``{name: (N, 1, H, W) mask}`` (values in [0, 1], any size, e.g. the image's): log
            ``<prefix>/<layer>/distance/<name>``, the feature distance inside each region (:func:`region_distances`;
            a region empty in the whole batch is not logged at that step).

    All numbers (scalars, ranking, captions, PCA variance) reach the host in one copy; then each picture is
    rendered on the features' device and copied once. With a
    :class:`~perceptual.pictures.event_writer.BackgroundWriter` as ``writer``, PNG encoding and event writing happen
    in its thread.

    Returns:
        ``{layer: channel indices}`` as used: pass it back as ``channels`` to keep the same tiles at every step.
    """
    _check_writer(writer)
    _check_channel_options(max_channels, channel_selection)
    if not isinstance(style, GridStyle):
        raise TypeError(f"style must be a perceptual.pictures.render.GridStyle, got {type(style).__name__}")
    titles = _check_titles(titles)
    names, missing = _match_layers(layers, list(real_features))
    if missing:
        raise ValueError(f"layers {missing} are not in real_features, which has {list(real_features)}")
    absent = [name for name in names if name not in generated_features]
    if absent:
        raise ValueError(
            f"layers {absent} are in real_features but not in generated_features ({list(generated_features)})"
        )
    pairs = {name: _check_pair(name, real_features[name], generated_features[name]) for name in names}
    for real, _ in pairs.values():
        if not -real.shape[0] <= sample < real.shape[0]:
            raise ValueError(f"sample={sample} is out of range for a batch of {real.shape[0]}")
    if regions is not None and pairs:
        regions = _check_regions(regions, next(iter(pairs.values()))[0].shape[0])
    pca_style = replace(
        style, min_size=_PCA_SIZE[0], max_size=_PCA_SIZE[1], labels=False, scaling="percentile", percentiles=(1.0, 99.0)
    )

    # 1. on the device: channels, every number, the PCA fit
    logs: list[_LayerLog] = []
    with torch.no_grad():
        for name, (real, generated) in pairs.items():
            chosen = None if channels is None else channels.get(name)
            fresh = chosen is None
            if fresh:
                chosen = select_channels(real, generated, k=max_channels, by=channel_selection)
            chosen = torch.as_tensor(chosen, dtype=torch.long, device=real.device)
            log = _LayerLog(name, real, generated, chosen, fresh)
            log.values["statistics"] = feature_statistics(real, generated)
            if titles is not None:
                ranking = channel_differences(real, generated).topk(min(max_channels, real.shape[1]))
                log.values["ranking_scores"] = ranking.values
                log.values["ranking_channels"] = ranking.indices.float()
                log.values["shown"] = chosen.float()
                log.values["captions"] = channel_differences(real[sample], generated[sample]).index_select(0, chosen)
            if regions:
                log.values["regions"] = _region_values(real, generated, regions)
            if pca:
                scores, explained, factor = _pca_fit([real[sample], generated[sample]], pca_style)
                log.pca, log.values["explained"] = (scores, factor), explained
            logs.append(log)
    if not logs:
        return {}

    # 2. one host copy for every number
    flat = torch.cat([value.float().flatten() for log in logs for value in log.values.values()]).cpu().tolist()
    host: list[dict[str, list[float]]] = []
    for log in logs:
        numbers = {}
        for key, value in log.values.items():
            numbers[key], flat = flat[: value.numel()], flat[value.numel() :]
        host.append(numbers)
    for log, numbers in zip(logs, host):
        for stat, number in zip(_STATISTICS, numbers["statistics"]):
            writer.add_scalar(f"{tag_prefix}/{log.name}/{stat}", number, step)
        for region, number in zip(regions or {}, numbers.get("regions", [])):
            if not math.isnan(number):
                writer.add_scalar(f"{tag_prefix}/{log.name}/distance/{region}", number, step)
        if titles is not None and callable(
            getattr(writer, "add_text", None)
        ):  # SummaryWriter has it; a minimal writer may not
            writer.add_text(f"{tag_prefix}/{log.name}/ranking", _ranking_text(log, numbers, titles, step), step)

    # 3. the pictures: rendered on the device, one host copy each
    palette = indexed_palette(style.colormap).numpy()  # the CPU copy: no second device-to-host transfer
    for log, numbers in zip(logs, host):
        real, generated = log.real[sample], log.generated[sample]
        text: dict[str, Any] = {}
        if titles is not None:
            text = {
                "titles": titles,
                "heading": _comparison_heading(log, titles, step, channel_selection, selected_at),
                "captions": [_short_number(value) for value in numbers["captions"]],
            }
        grid, _ = render_comparison_indexed(real, generated, channels=log.channels, style=style, **text)
        _add_palette_image(writer, f"{tag_prefix}/{log.name}", grid.cpu().numpy(), palette, step)
        if log.pca is not None:
            scores, factor = log.pca
            named = titles or ("real", "generated")
            shares = ", ".join(f"{share:.0%}" for share in numbers["explained"])
            heading = f"{log.name}  batch {step}\nRGB = PCA 1-3 of {real.shape[0]} channels\n{shares} of the variance"
            picture = _pca_picture(scores, factor, pca_style, gap=None, titles=named, heading=heading)
            writer.add_image(f"{tag_prefix}/{log.name}/pca", picture.cpu().numpy(), step, dataformats="HWC")
        if log_histograms:
            writer.add_histogram(f"{tag_prefix}/{log.name}/hist_real", real.float().flatten().cpu(), step)
            writer.add_histogram(f"{tag_prefix}/{log.name}/hist_generated", generated.float().flatten().cpu(), step)
    return {log.name: log.channels for log in logs}


def _comparison_heading(
    log: _LayerLog, titles: tuple[str, str], step: int, selection: str, selected_at: Mapping[str, int] | None
) -> str:
    channels, height, width = log.real.shape[1:]
    real, generated = titles
    shown = log.channels.numel()
    when = step if log.fresh else (selected_at or {}).get(log.name)
    if not log.fresh and when is None:
        how = f"{shown} of {channels} channels, as given"
    else:
        score = f"mean |{real}-{generated}|" if selection == "difference" else f"mean {real} activation"
        how = f"{shown} of {channels} channels: top {shown} by {score} at batch {when}"
    return (
        f"{log.name}  batch {step}  ({height}x{width} maps)\n{how}\n"
        f"in |difference| tiles: mean |{real}-{generated}| of the two maps now"
    )


def _ranking_text(log: _LayerLog, numbers: dict[str, list[float]], titles: tuple[str, str], step: int) -> str:
    """Markdown (TensorBoard's text tab): the channels that differ most over the batch now."""
    shown = {int(channel) for channel in numbers["shown"]}
    batch = log.real.shape[0]
    rows = [
        f"| {rank} | {int(channel)} | {score:.4g} | {'yes' if int(channel) in shown else ''} |"
        for rank, (channel, score) in enumerate(zip(numbers["ranking_channels"], numbers["ranking_scores"]), start=1)
    ]
    return "\n".join(
        [
            f"Channels of {log.name} that differ most at batch {step}: mean |{titles[0]} - {titles[1]}| over the batch "
            f"of {batch} and every position.",
            "",
            "| rank | channel | mean abs difference | shown |",
            "|---:|---:|---:|:---:|",
            *rows,
        ]
    )


def _add_palette_image(writer: Any, tag: str, grid: np.ndarray, palette: np.ndarray, step: int) -> None:
    """Log a palette image as a palette PNG (a third of the bytes of ``add_image``'s RGB PNG, so encoding and
    TensorBoard's record checksums, pure Python without TensorFlow, take a fraction of the time). Writers without
    torch's ``_get_file_writer`` get the RGB image through ``add_image``; a :class:`BackgroundWriter` does it in
    its thread."""
    if isinstance(writer, BackgroundWriter):
        writer.submit(_add_palette_image, tag, grid, palette, step)
        return
    get_file_writer = getattr(writer, "_get_file_writer", None)
    try:
        from tensorboard.compat.proto.summary_pb2 import Summary
    except ImportError:  # pragma: no cover - tensorboard is what SummaryWriter runs on
        get_file_writer = None
    if get_file_writer is None:
        writer.add_image(tag, palette[grid], step, dataformats="HWC")
        return
    height, width = grid.shape
    buffer = io.BytesIO()
    palette_image(grid, palette).save(buffer, format="PNG")
    image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=buffer.getvalue())
    get_file_writer().add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)


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
      perceptual loss), upsampled bilinearly (:func:`~perceptual.pictures.render.difference_map`).

    Computed from features already at hand: no VGG forward."""
    names, missing = _match_layers(layers, list(real_features))
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
            real, generated = _check_pair(name, real_features[name], generated_features[name])
            maps[name] = difference_map(real, generated, (height, width))
    return maps


def _stretch_each(images: Tensor) -> Tensor:
    """Each image of a batch in any range stretched to [0, 1] (min-max per image), for display."""
    low = images.amin(dim=(1, 2, 3), keepdim=True)
    high = images.amax(dim=(1, 2, 3), keepdim=True)
    return (images.float() - low) / (high - low).clamp_min(1e-12)


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
    (:func:`~perceptual.pictures.render.overlay_heatmap` with ``alpha``), labelled. Returns the column names, left to
    right."""
    _check_writer(writer)
    _check_colormap(colormap)
    named = _check_titles(titles)
    first, second = named or ("real", "generated")
    if images is not None:
        real_images, generated_images = _check_pair("images", images[0], images[1])
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
            picture = F.interpolate(_stretch_each(batch[sample][None]), size=tile_size, mode="area")
            tiles.append((picture[0].permute(1, 2, 0) * 255).round().to(torch.uint8))
            columns.append(name)
    heats = {
        name: _unit_heat(F.interpolate(value[sample][None], size=tile_size, mode="area")[0, 0])
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
        labels = _panel_labels(columns, tile_size, 2, footer=(f"batch {step}", str(step)))
        row = _draw_labels(row, labels, indexed=False, pad_value=255)
    writer.add_image(f"{tag_prefix}/difference", row.cpu().numpy(), step, dataformats="HWC")
    if overlay and images is not None and heats:
        source, heat = next(iter(heats.items()))
        blended = overlay_heatmap(tiles[0], heat, alpha=alpha, colormap=colormap)
        labels = _panel_labels([f"{source} on {first}"], tile_size, 0, footer=(f"batch {step}", str(step)))
        blended = _draw_labels(blended, labels, indexed=False, pad_value=255)
        writer.add_image(f"{tag_prefix}/overlay", blended.cpu().numpy(), step, dataformats="HWC")
    if "lpips" in maps:
        writer.add_scalar(f"{tag_prefix}/lpips", float(maps["lpips"].mean(dim=(1, 2, 3)).mean()), step)
    return columns


def log_embedding(
    writer: Any,
    real: Tensor,
    generated: Tensor,
    step: int,
    *,
    real_images: Tensor | None = None,
    generated_images: Tensor | None = None,
    tag: str = "vgg/embedding",
    thumbnail_size: int = 32,
) -> None:
    """Projector embedding of globally pooled features: ``(N, C)`` vectors (or ``(N, C, H, W)`` maps, averaged
    here) labelled ``real``/``generated``, with thumbnails if images (``(N, 3, H, W)``, any range) are given."""
    if real.ndim == 4:
        real = real.float().mean(dim=(2, 3))
    if generated.ndim == 4:
        generated = generated.float().mean(dim=(2, 3))
    if real.ndim != 2 or generated.ndim != 2 or real.shape[1] != generated.shape[1]:
        raise ValueError(
            f"embeddings must be (N, C) with the same C, got {tuple(real.shape)} and {tuple(generated.shape)}"
        )
    matrix = torch.cat((real.float(), generated.float())).cpu()
    metadata = ["real"] * real.shape[0] + ["generated"] * generated.shape[0]
    label_img = None
    if real_images is not None and generated_images is not None:
        images = _stretch_each(torch.cat((real_images, generated_images)))
        label_img = F.interpolate(images, size=(thumbnail_size, thumbnail_size), mode="area").cpu()
    writer.add_embedding(matrix, metadata=metadata, label_img=label_img, global_step=step, tag=tag)


# ------------------------------------------------------------------------------------------------ Lightning
@dataclass(kw_only=True, eq=False)
class FeatureMapMonitor(Callback):
    """Lightning callback: real vs generated VGG feature maps and per-layer scalars in TensorBoard.

    The LightningModule's ``training_step`` returns ``{"loss": ..., "vgg_features": {"real": {...}, "generated":
    {...}}}`` with the (detached) features its perceptual loss computed; every ``every_n_batches`` training batches
    (the first one included) the callback logs them with :func:`log_feature_maps`, on global rank 0, to the first
    ``TensorBoardLogger`` of the trainer. No TensorBoard logger: one warning, then nothing.

    Args:
        layers: layers to show (canonical or Keras names); ``None`` for every layer supplied. Requested layers that
            the step does not supply are skipped with one warning.
        every_n_batches: log on batches ``0, n, 2n, ...`` counted over the whole run (not ``global_step``).
        max_channels: channels per layer in the picture.
        channel_selection: ``"difference"`` or ``"activation"``; the choice is made on the first logged batch and
            kept for the run (and saved in checkpoints), unless ``reselect_every_n_logs`` says otherwise.
        reselect_every_n_logs: choose the channels again on every n-th logged batch (logs ``0, n, 2n, ...``), so
            the tiles follow the channels that differ most as the generator learns; ``None`` (default) keeps the
            first choice for the whole run, so tiles stay comparable along TensorBoard's step slider. The heading
            of each picture says at which batch its channels were chosen.
        titles: names of the two columns, ``("real", "generated")`` by default; BeautyGAN's are ``("source",
            "made-up")``. They label every picture (see :func:`log_feature_maps`: heading with the layer, batch and
            channel choice, column titles, the current mean ``|real - generated|`` in each ``|difference|`` tile),
            and a text ``<prefix>/<layer>/ranking`` lists the channels that differ most now. ``None``: pictures
            without text but the channel numbers, and no ranking.
        pca: also log ``<prefix>/<layer>/pca``, every channel at once: the first three principal components of the
            drawn sample's real and generated features, fitted on both together, as RGB (computed on the device
            from the step's features: no VGG pass).
        log_histograms: also log activation histograms (one host copy of the sample's maps per layer).
        style: how maps are drawn (:class:`~perceptual.pictures.render.GridStyle`; default :data:`MONITOR_STYLE`).
        tag_prefix: the first part of every tag (``vgg/relu2_2``, ``vgg/difference``, ...).
        sample: which sample of the batch is drawn (the scalars use the whole batch).
        extractor, monitor_images: fallback when a step supplies no features: ``monitor_images(pl_module)`` returns
            ``(real, generated)`` images (e.g. a fixed batch and the generator's output for it) and ``extractor``, a
            :class:`~perceptual.VGGFeatures`, computes their features. Without both, such steps log nothing (one
            warning).
        embedding_layer: if set, the globally pooled features of this layer are collected from every batch until
            ``embedding_samples`` real and generated vectors are there, and written once as a projector embedding
            (thumbnails if the step also returns ``"images": {"real": ..., "generated": ...}``).
        outputs_key: the key of the features in the ``training_step`` output. The output may also hold
            ``"regions": {name: (N, 1, H, W) mask}`` (float in [0, 1], at the image size, ``N`` the features' batch):
            then each monitored layer logs ``<prefix>/<layer>/distance/<name>``, the feature distance between real
            and generated inside the region (:func:`region_distances`: the mask resized to the layer by area,
            pooled over the batch; a region empty in the whole batch is not logged at that step). Regions are
            ignored on steps whose features come from the ``extractor`` fallback (other images).
        difference_maps: also log where real and generated differ (:func:`log_difference_maps`), with the images
            the step returns as ``"images": {"real": ..., "generated": ...}`` beside the maps when it does.
        lpips: an :class:`~perceptual.LPIPS` whose map leads the difference maps; it reads the supplied features
            (they must include :data:`~perceptual.LPIPS_LAYERS`, from the same trunk), so it costs no VGG pass.
            Default: the LightningModule's ``lpips`` attribute when that is an :class:`~perceptual.LPIPS`.
        background: encode and write images, histograms and scalars in one background thread
            (:class:`~perceptual.pictures.event_writer.BackgroundWriter`, with a native CRC32C when
            ``google-crc32c`` is installed): the training thread renders and copies to the host, nothing more. The
            queue is flushed at the end of training and when training stops on an exception, so the last logged
            batch is in the event file either way.
    """

    layers: Sequence[str] | None = ("relu1_2", "relu2_2", "relu3_3", "relu4_1")
    every_n_batches: int = 100
    max_channels: int = 16
    channel_selection: str = "difference"
    log_histograms: bool = False
    style: GridStyle = MONITOR_STYLE
    tag_prefix: str = "vgg"
    sample: int = 0
    extractor: VGGFeatures | None = field(default=None, repr=False)
    monitor_images: Callable[[Any], tuple[Tensor, Tensor]] | None = field(default=None, repr=False)
    embedding_layer: str | None = None
    embedding_samples: int = 256
    outputs_key: str = "vgg_features"
    background: bool = True
    difference_maps: bool = False
    lpips: LPIPS | None = field(default=None, repr=False)
    titles: Sequence[str] | None = ("real", "generated")
    reselect_every_n_logs: int | None = None
    pca: bool = False

    def __post_init__(self) -> None:
        if _LIGHTNING_ERROR is not None:
            raise ImportError(
                "FeatureMapMonitor needs Lightning: pip install 'perceptual[train]'"
            ) from _LIGHTNING_ERROR
        if not isinstance(self.every_n_batches, int) or self.every_n_batches < 1:
            raise ValueError(f"every_n_batches must be a positive integer, got {self.every_n_batches!r}")
        _check_channel_options(self.max_channels, self.channel_selection)
        if not isinstance(self.style, GridStyle):
            raise TypeError(f"style must be a perceptual.pictures.render.GridStyle, got {type(self.style).__name__}")
        if (self.extractor is None) != (self.monitor_images is None):
            raise ValueError("extractor and monitor_images work together: give both or neither")
        if self.reselect_every_n_logs is not None and (
            isinstance(self.reselect_every_n_logs, bool)
            or not isinstance(self.reselect_every_n_logs, int)
            or self.reselect_every_n_logs < 1
        ):
            raise ValueError(
                f"reselect_every_n_logs must be a positive integer or None, got {self.reselect_every_n_logs!r}"
            )
        self.titles = _check_titles(self.titles)
        if self.embedding_samples < 1:
            raise ValueError(f"embedding_samples must be a positive integer, got {self.embedding_samples}")
        if isinstance(self.layers, str):
            self.layers = [self.layers]
        self.layers = None if self.layers is None else list(self.layers)
        self.difference_maps = self.difference_maps or self.lpips is not None
        # run state (saved in checkpoints: batches_seen and the channels chosen)
        self.channels: dict[str, Tensor] = {}
        self.selected_at: dict[str, int] = {}  # the batch at which each layer's channels were chosen
        self.batches_seen = 0
        self._writer: Any = None
        self._warned: set[str] = set()
        self._embedding: dict[str, list[Tensor]] = {
            "real": [],
            "generated": [],
            "real_images": [],
            "generated_images": [],
        }
        self._embedding_done = False

    # -------------------------------------------------------------------------------------------- plumbing
    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, UserWarning, stacklevel=2)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if trainer.global_rank != 0 or self._writer is not None:
            return
        writer = _find_summary_writer(trainer)
        if writer is None:
            if stage == "fit":
                self._warn_once(
                    "no-logger",
                    "FeatureMapMonitor found no TensorBoardLogger in trainer.loggers and will log nothing; add "
                    "lightning.pytorch.loggers.TensorBoardLogger(save_dir=...) to the Trainer",
                )
            return
        self._writer = BackgroundWriter(writer) if self.background else writer

    def _flush(self) -> None:
        """Everything logged so far into the event file (waits for the background writer)."""
        if self._writer is not None:
            self._writer.flush()

    def _close(self) -> None:
        """Flush and stop the background writer; the logger's own writer stays open (the logger closes it)."""
        writer, self._writer = self._writer, None
        if isinstance(writer, BackgroundWriter):
            writer.close()

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._flush()  # before the logger closes its writer

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._close()  # runs before the logger is finalized: the batches logged before the error are kept

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._close()

    def state_dict(self) -> dict[str, Any]:
        return {
            "batches_seen": self.batches_seen,
            "channels": {k: v.tolist() for k, v in self.channels.items()},
            "selected_at": dict(self.selected_at),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.batches_seen = int(state_dict.get("batches_seen", 0))
        self.channels = {k: torch.tensor(v, dtype=torch.long) for k, v in state_dict.get("channels", {}).items()}
        self.selected_at = {k: int(v) for k, v in state_dict.get("selected_at", {}).items()}

    # -------------------------------------------------------------------------------------------- hook
    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_rank != 0 or self._writer is None:
            return
        index = self.batches_seen
        self.batches_seen += 1
        collect_embedding = self.embedding_layer is not None and not self._embedding_done
        log_now = index % self.every_n_batches == 0
        if not (log_now or collect_embedding):
            return
        supplied = outputs.get(self.outputs_key) if isinstance(outputs, Mapping) else None
        if supplied is not None:
            real, generated = _split_supplied(supplied, self.outputs_key)
        elif not log_now:
            return
        elif self.extractor is not None and self.monitor_images is not None:
            real, generated = self._own_features(pl_module)
        else:
            self._warn_once(
                "no-features",
                f"FeatureMapMonitor: training_step returned no {self.outputs_key!r} "
                "({'real': {layer: Tensor}, 'generated': {layer: Tensor}}) and no extractor/monitor_images fallback "
                "is configured; nothing is logged",
            )
            return
        if collect_embedding and supplied is not None:
            self._collect_embedding(real, generated, outputs, index)
        if log_now:
            regions = outputs.get("regions") if supplied is not None and isinstance(outputs, Mapping) else None
            self._log(real, generated, index, regions)
            if self.difference_maps:
                self._log_differences(real, generated, outputs, index, pl_module)

    def _own_features(self, pl_module: LightningModule) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        if self.extractor is None or self.monitor_images is None:
            raise RuntimeError("FeatureMapMonitor has no features to log: give extractor= and monitor_images=")
        extractor = self.extractor.to(pl_module.device)
        with torch.no_grad():
            real_images, generated_images = self.monitor_images(pl_module)
            features = extractor(torch.cat((real_images, generated_images)))
        count = real_images.shape[0]
        return {k: v[:count] for k, v in features.items()}, {k: v[count:] for k, v in features.items()}

    def _log(
        self,
        real: Mapping[str, Tensor],
        generated: Mapping[str, Tensor],
        step: int,
        regions: Mapping[str, Tensor] | None = None,
    ) -> None:
        names, missing = _match_layers(self.layers, list(real))
        if missing:
            self._warn_once(
                "missing:" + ",".join(missing),
                f"FeatureMapMonitor: layers {missing} are not among the supplied features {list(real)}; "
                "they are skipped (make the perceptual loss compute them, or change layers=)",
            )
        if not names:
            return
        if self.reselect_every_n_logs is not None and (step // self.every_n_batches) % self.reselect_every_n_logs == 0:
            self.channels = {}  # chosen again now, on this batch
        channels = {name: index.to(real[name].device) for name, index in self.channels.items() if name in names}
        used = log_feature_maps(
            self._writer,
            real,
            generated,
            step,
            layers=names,
            max_channels=self.max_channels,
            channels=channels,
            channel_selection=self.channel_selection,
            style=self.style,
            tag_prefix=self.tag_prefix,
            log_histograms=self.log_histograms,
            sample=self.sample,
            titles=self.titles,
            selected_at=self.selected_at,
            pca=self.pca,
            regions=regions,
        )
        for name, index in used.items():
            if name not in self.channels:
                self.channels[name] = index
                self.selected_at[name] = step

    def _log_differences(
        self, real: Mapping[str, Tensor], generated: Mapping[str, Tensor], outputs: Any, step: int, pl_module: Any
    ) -> None:
        images = outputs.get("images") if isinstance(outputs, Mapping) else None
        pair = (
            (images["real"], images["generated"])
            if isinstance(images, Mapping) and {"real", "generated"} <= set(images)
            else None
        )
        lpips = self.lpips if self.lpips is not None else getattr(pl_module, "lpips", None)
        lpips = lpips if isinstance(lpips, LPIPS) else None
        if lpips is not None:
            absent = [name for name in LPIPS_LAYERS if name not in real]
            if absent:
                self._warn_once(
                    "lpips-layers",
                    f"FeatureMapMonitor: the supplied features lack {absent}, which LPIPS "
                    "needs; the LPIPS map is skipped (tap them in the loss's extractor)",
                )
                lpips = None
            else:
                lpips = lpips.to(real[LPIPS_LAYERS[0]].device)
        names, _ = _match_layers(self.layers, list(real))
        columns = log_difference_maps(
            self._writer,
            real,
            generated,
            step,
            images=pair,
            layers=names,
            lpips=lpips,
            sample=self.sample,
            tag_prefix=self.tag_prefix,
            titles=self.titles,
        )
        if "difference-columns" not in self._warned:
            self._warned.add("difference-columns")
            self._writer.add_text(
                f"{self.tag_prefix}/difference", "columns, left to right: " + " | ".join(columns), step
            )

    def _collect_embedding(
        self, real: Mapping[str, Tensor], generated: Mapping[str, Tensor], outputs: Any, step: int
    ) -> None:
        names, _ = _match_layers([self.embedding_layer], list(real))  # type: ignore[list-item]
        if not names:
            self._warn_once(
                "embedding",
                f"FeatureMapMonitor: embedding_layer {self.embedding_layer!r} is not among the "
                f"supplied features {list(real)}; no embedding is written",
            )
            self._embedding_done = True
            return
        name = names[0]
        self._embedding["real"].append(real[name].detach().float().mean(dim=(2, 3)))
        self._embedding["generated"].append(generated[name].detach().float().mean(dim=(2, 3)))
        images = outputs.get("images") if isinstance(outputs, Mapping) else None
        if isinstance(images, Mapping) and "real" in images and "generated" in images:
            self._embedding["real_images"].append(
                F.interpolate(images["real"].detach().float(), size=(32, 32), mode="area")
            )
            self._embedding["generated_images"].append(
                F.interpolate(images["generated"].detach().float(), size=(32, 32), mode="area")
            )
        collected = sum(t.shape[0] for t in self._embedding["real"])
        if collected >= self.embedding_samples:
            n = self.embedding_samples
            thumbs = len(self._embedding["real_images"]) == len(self._embedding["real"])
            log_embedding(
                self._writer,
                torch.cat(self._embedding["real"])[:n],
                torch.cat(self._embedding["generated"])[:n],
                step,
                real_images=torch.cat(self._embedding["real_images"])[:n] if thumbs else None,
                generated_images=torch.cat(self._embedding["generated_images"])[:n] if thumbs else None,
                tag=f"{self.tag_prefix}/embedding_{name}",
            )
            self._embedding = {key: [] for key in self._embedding}
            self._embedding_done = True


def _split_supplied(supplied: object, key: str) -> tuple[Mapping[str, Tensor], Mapping[str, Tensor]]:
    if not isinstance(supplied, Mapping) or not {"real", "generated"} <= set(supplied):
        got = sorted(supplied) if isinstance(supplied, Mapping) else type(supplied).__name__
        raise ValueError(
            f"training_step output {key!r} must be {{'real': {{layer: Tensor}}, 'generated': "
            f"{{layer: Tensor}}}}, got {got}"
        )
    real, generated = supplied["real"], supplied["generated"]
    if not isinstance(real, Mapping) or not isinstance(generated, Mapping):
        raise ValueError(f"training_step output {key!r}: 'real' and 'generated' must be dicts {{layer: Tensor}}")
    return real, generated


def _find_summary_writer(trainer: Any) -> Any:
    """The ``SummaryWriter`` of the first TensorBoard logger of ``trainer`` (``None`` without one)."""
    try:
        from lightning.pytorch.loggers import TensorBoardLogger
    except ImportError:  # pragma: no cover
        TensorBoardLogger = ()  # type: ignore[assignment,misc]
    for logger in getattr(trainer, "loggers", None) or []:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    for logger in getattr(trainer, "loggers", None) or []:
        experiment = getattr(logger, "experiment", None)
        if all(callable(getattr(experiment, name, None)) for name in ("add_image", "add_scalar", "add_histogram")):
            return experiment
    return None
