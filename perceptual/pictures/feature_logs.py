"""TensorBoard pictures and scalars of VGG features during GAN training, for ``SummaryWriter`` users: real and
generated side by side (:func:`log_feature_maps`), and per-region feature distances (:func:`region_distances`).

For each monitored layer :func:`log_feature_maps` logs

- one image ``<prefix>/<layer>``: ``real | generated | |real - generated|`` grids of the same channels, each channel
  normalized once for real and generated together (the comparison of :mod:`perceptual.pictures.comparison`, which
  ``perceptual maps --compare`` and BeautyGAN's page draw too). With ``titles`` it is labelled: the layer, the
  batch and how the channels were chosen above it, the column titles, each tile's channel number, and in each
  ``|difference|`` tile its current mean ``|real - generated|``; a text ``<prefix>/<layer>/ranking`` lists the
  channels that differ most now;
- scalars ``<prefix>/<layer>/mean_activation_{real,generated}``, ``<prefix>/<layer>/zero_channels_{real,generated}``
  (fraction of channels that are zero everywhere in the batch) and ``<prefix>/<layer>/distance`` (mean squared
  real-vs-generated feature difference over the batch); with face-region masks, ``<prefix>/<layer>/distance/<region>``
  (:func:`region_distances`);
- optionally every channel at once, ``<prefix>/<layer>/pca``: the first three principal components of real and
  generated features, fitted on both together, as RGB (:mod:`perceptual.pictures.pca`);
- optionally histograms ``<prefix>/<layer>/hist_{real,generated}``.

Rendering stays on the features' device: one host copy for every number of a logged batch, then one per image. The
channels shown are chosen by the caller's ``channels`` (e.g. the ones a previous call returned, so tiles stay
comparable along TensorBoard's step slider) or, for layers without, top-k by real-vs-generated difference or by real
activation. Where real and generated differ in the image, as heatmaps, is :mod:`perceptual.pictures.difference_logs`;
the Lightning callback that calls both is :class:`~perceptual.pictures.monitor.FeatureMapMonitor`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from perceptual.layers import canonical_layer_name
from perceptual.pictures.colormaps import indexed_palette, palette_image
from perceptual.pictures.comparison import (
    ComparisonSpec,
    MeasuredComparison,
    check_titles,
    comparison_numbers,
    draw_comparison,
    measure_comparison,
)
from perceptual.pictures.event_writer import BackgroundWriter
from perceptual.pictures.heatmaps import difference_map
from perceptual.pictures.pca import pca_style
from perceptual.pictures.render import GridStyle

__all__ = [
    "MONITOR_STYLE",
    "check_channel_options",
    "check_pair",
    "check_writer",
    "feature_statistics",
    "log_feature_maps",
    "match_layers",
    "region_distances",
]

_STATISTICS = (
    "mean_activation_real",
    "mean_activation_generated",
    "zero_channels_real",
    "zero_channels_generated",
    "distance",
)

_PCA_SIZE = (96, 128)  # (min_size, max_size) of the PCA panels: big enough to see regions, cheap to fit


# ------------------------------------------------------------------------------------------------ checks
def check_writer(writer: object) -> None:
    """A ``TypeError`` unless ``writer`` has ``add_image``, ``add_scalar`` and ``add_histogram`` (a SummaryWriter)."""
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


def check_pair(name: str, real_value: object, generated_value: object) -> tuple[Tensor, Tensor]:
    """Layer ``name``'s real and generated ``(N, C, H, W)`` features, checked to be alike, detached."""
    real = _check_features("real", name, real_value)
    generated = _check_features("generated", name, generated_value)
    if real.shape != generated.shape:
        raise ValueError(
            f"real and generated features of layer {name!r} must have the same shape, got "
            f"{tuple(real.shape)} and {tuple(generated.shape)}"
        )
    return real.detach(), generated.detach()


def match_layers(requested: Sequence[str] | None, available: Sequence[str]) -> tuple[list[str], list[str]]:
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


# ------------------------------------------------------------------------------------------------ numbers
def feature_statistics(real: Tensor, generated: Tensor) -> Tensor:
    """Per-layer scalars as one float tensor (on the features' device), in the order of the ``_STATISTICS`` names:
    mean activation of real and generated, fraction of all-zero channels of each (zero at every sample and pixel),
    and the mean squared real-vs-generated difference."""
    real, generated = real.float(), generated.float()
    zero_real = (torch.count_nonzero(real, dim=(0, 2, 3)) == 0).float().mean()
    zero_generated = (torch.count_nonzero(generated, dim=(0, 2, 3)) == 0).float().mean()
    return torch.stack((real.mean(), generated.mean(), zero_real, zero_generated, F.mse_loss(generated, real)))


def check_channel_options(max_channels: object, channel_selection: object) -> None:
    """A ``ValueError`` unless ``max_channels`` is a positive int and ``channel_selection`` a known score."""
    if not isinstance(max_channels, int) or max_channels < 1:
        raise ValueError(f"max_channels must be a positive integer, got {max_channels!r}")
    if channel_selection not in ("difference", "activation"):
        raise ValueError(f"channel_selection must be 'difference' or 'activation', got {channel_selection!r}")


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
    A region empty in the whole batch gives NaN. What :class:`~perceptual.pictures.monitor.FeatureMapMonitor` logs as
    ``<prefix>/<layer>/distance/<region>``."""
    real, generated = check_pair("features", real, generated)
    checked = _check_regions(regions, real.shape[0])
    if not checked:
        return {}
    with torch.no_grad():
        values = _region_values(real, generated, checked)
    return dict(zip(checked, values.unbind()))


MONITOR_STYLE = GridStyle(min_size=32, max_size=48, labels=True)
"""How the monitor draws maps by default: every map between 32 and 48 px (block-1/2 maps are large; event files
stay small), channel numbers on the tiles."""


# ------------------------------------------------------------------------------------------------ the pictures
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
            ``|real - generated|`` of its two maps now (:func:`~perceptual.pictures.channels.channel_differences` of
            the drawn sample). A text ``<prefix>/<layer>/ranking`` then lists the ``max_channels`` channels that
            differ most over the batch now, with that score and whether they are shown. ``None``: the pictures
            carry only the channel numbers of ``style.labels``.
        selected_at: ``{layer: step}`` at which the given ``channels`` were chosen, for the heading.
        pca: also log ``<prefix>/<layer>/pca``: the drawn sample's real and generated maps of every channel as
            RGB, through their first three principal components fitted on both together
            (:func:`~perceptual.pictures.pca.render_pca`; maps resized to 96-128 px first), labelled with the
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
    check_writer(writer)
    check_channel_options(max_channels, channel_selection)
    if not isinstance(style, GridStyle):
        raise TypeError(f"style must be a perceptual.pictures.render.GridStyle, got {type(style).__name__}")
    named = check_titles(titles)
    pairs = _checked_pairs(real_features, generated_features, layers, sample)
    if regions is not None and pairs:
        regions = _check_regions(regions, next(iter(pairs.values()))[0].shape[0])
    spec = ComparisonSpec(
        style=style,
        max_channels=max_channels,
        selection=channel_selection,
        titles=named,
        ranking=max_channels if named is not None else 0,
        pca_style=pca_style(style, min_size=_PCA_SIZE[0], max_size=_PCA_SIZE[1]) if pca else None,
        indexed=True,
    )
    logs = _measure_layers(pairs, spec, channels, sample, regions)
    if not logs:
        return {}
    numbers = comparison_numbers(logs)  # one host copy for every number
    _log_numbers(writer, logs, numbers, spec, step, tag_prefix=tag_prefix, regions=regions, batch=_batch(pairs))
    for log, host in zip(logs, numbers):
        when = step if log.fresh else (selected_at or {}).get(log.layer)
        chosen_at = None if when is None else f"batch {when}"
        pictures = draw_comparison(log, host, spec, context=f"batch {step}", chosen_at=chosen_at)
        _log_pictures(writer, log, pictures.comparison, pictures.pca, spec, step, tag_prefix, log_histograms)
    return {log.layer: log.channels for log in logs}


def _batch(pairs: Mapping[str, tuple[Tensor, Tensor]]) -> int:
    return next(iter(pairs.values()))[0].shape[0]


def _checked_pairs(
    real_features: Mapping[str, Tensor],
    generated_features: Mapping[str, Tensor],
    layers: Sequence[str] | None,
    sample: int,
) -> dict[str, tuple[Tensor, Tensor]]:
    """``{layer: (real, generated)}`` of the layers to log, checked (and detached)."""
    names, missing = match_layers(layers, list(real_features))
    if missing:
        raise ValueError(f"layers {missing} are not in real_features, which has {list(real_features)}")
    absent = [name for name in names if name not in generated_features]
    if absent:
        raise ValueError(
            f"layers {absent} are in real_features but not in generated_features ({list(generated_features)})"
        )
    pairs = {name: check_pair(name, real_features[name], generated_features[name]) for name in names}
    for real, _ in pairs.values():
        if not -real.shape[0] <= sample < real.shape[0]:
            raise ValueError(f"sample={sample} is out of range for a batch of {real.shape[0]}")
    return pairs


def _measure_layers(
    pairs: Mapping[str, tuple[Tensor, Tensor]],
    spec: ComparisonSpec,
    channels: Mapping[str, Tensor | Sequence[int]] | None,
    sample: int,
    regions: Mapping[str, Tensor] | None,
) -> list[MeasuredComparison]:
    """The device work of every layer: channels, every number (the comparison's, the statistics, the regions'),
    the PCA fit."""
    logs = []
    with torch.no_grad():
        for name, (real, generated) in pairs.items():
            given = None if channels is None else channels.get(name)
            log = measure_comparison(real, generated, spec, layer=name, sample=sample, channels=given)
            log.values["statistics"] = feature_statistics(real, generated)
            if regions:
                log.values["regions"] = _region_values(real, generated, regions)
            logs.append(log)
    return logs


def _log_numbers(
    writer: Any,
    logs: Sequence[MeasuredComparison],
    numbers: Sequence[Mapping[str, Sequence[float]]],
    spec: ComparisonSpec,
    step: int,
    *,
    tag_prefix: str,
    regions: Mapping[str, Tensor] | None,
    batch: int,
) -> None:
    """The scalars of every layer and, with titles, its ranking text."""
    for log, host in zip(logs, numbers):
        for stat, number in zip(_STATISTICS, host["statistics"]):
            writer.add_scalar(f"{tag_prefix}/{log.layer}/{stat}", number, step)
        for region, number in zip(regions or {}, host.get("regions", [])):
            if not math.isnan(number):
                writer.add_scalar(f"{tag_prefix}/{log.layer}/distance/{region}", number, step)
        if spec.titles is not None and callable(getattr(writer, "add_text", None)):  # a minimal writer may lack it
            text = _ranking_text(log.layer, batch, host, spec.titles, step)
            writer.add_text(f"{tag_prefix}/{log.layer}/ranking", text, step)


def _log_pictures(
    writer: Any,
    log: MeasuredComparison,
    comparison: Tensor,
    pca: Tensor | None,
    spec: ComparisonSpec,
    step: int,
    tag_prefix: str,
    histograms: bool,
) -> None:
    """One layer's pictures (one host copy each) and histograms."""
    palette = indexed_palette(spec.style.colormap).numpy()  # the CPU copy: no second device-to-host transfer
    _add_palette_image(writer, f"{tag_prefix}/{log.layer}", comparison.cpu().numpy(), palette, step)
    if pca is not None:
        writer.add_image(f"{tag_prefix}/{log.layer}/pca", pca.cpu().numpy(), step, dataformats="HWC")
    if histograms:
        writer.add_histogram(f"{tag_prefix}/{log.layer}/hist_real", log.real.float().flatten().cpu(), step)
        writer.add_histogram(f"{tag_prefix}/{log.layer}/hist_generated", log.generated.float().flatten().cpu(), step)


def _ranking_text(
    layer: str, batch: int, numbers: Mapping[str, Sequence[float]], titles: tuple[str, str], step: int
) -> str:
    """Markdown (TensorBoard's text tab): the channels that differ most over the batch now."""
    shown = {int(channel) for channel in numbers["shown"]}
    rows = [
        f"| {rank} | {int(channel)} | {score:.4g} | {'yes' if int(channel) in shown else ''} |"
        for rank, (channel, score) in enumerate(zip(numbers["ranking_channels"], numbers["ranking_scores"]), start=1)
    ]
    return "\n".join(
        [
            f"Channels of {layer} that differ most at batch {step}: mean |{titles[0]} - {titles[1]}| over the batch "
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
