"""The real-versus-generated comparison of a layer: ``real | generated | |real - generated|`` grids of the channels
that differ most, labelled, with the PCA view of every channel and the difference heatmap over the image.

One picture, drawn the same way wherever it is shown: the TensorBoard monitor
(:func:`~perceptual.pictures.feature_logs.log_feature_maps`), ``perceptual maps --compare``
(:func:`~perceptual.pictures.compare_export.compare_to_folder`) and BeautyGAN's web page (:func:`compare_images`).
What differs between them is data, a :class:`ComparisonSpec` (style, channel count, titles, which panels), plus the
words of the heading's first line (``context``).

- :func:`~perceptual.pictures.render.render_comparison` draws the three grids, with a heading, column titles and a
  caption per tile when given them.
- :func:`measure_comparison` does a layer's device work (which channels, their scores, the ranking, the PCA fit,
  the heatmap); :func:`comparison_numbers` copies the numbers of any number of layers to the host at once;
  :func:`draw_comparison` draws the pictures from them. :func:`compare_layer` is the three in a row for one layer;
  the monitor calls them separately so that every number of a logged batch reaches the host in one copy.
- :func:`compare_images` runs two images through a :class:`~perceptual.VGGFeatures` in one batch and compares each
  layer, plus where the images differ (the LPIPS map, or the deepest layer's feature difference) over the generated
  image.

The heading reads ``<layer>  <context>  (<h>x<w> maps)``, then how the channels were chosen (``<k> of <C> channels:
top <k> by mean |<real>-<generated>|``, ``at <moment>`` when they were chosen at another moment than the captions',
or ``as given``), then what the captions are (``in |difference| tiles: mean |<real>-<generated>| of the two maps``,
``now`` when the channels come from another moment). Caption numbers are :func:`~perceptual.pictures.text.short_number`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from perceptual.images import from_unit_range, to_uint8
from perceptual.pictures.channels import ChannelSelection, channel_differences, select_channels
from perceptual.pictures.colormaps import Colormap, check_colormap
from perceptual.pictures.grids import check_maps
from perceptual.pictures.heatmaps import difference_map, overlay_picture, unit_heat
from perceptual.pictures.pca import pca_fit, pca_picture
from perceptual.pictures.render import GridStyle, check_style, render_comparison, render_comparison_indexed
from perceptual.pictures.text import short_number, text_bitmap

__all__ = [
    "ComparisonPictures",
    "ComparisonSpec",
    "ImageComparison",
    "LayerComparison",
    "MeasuredComparison",
    "check_titles",
    "compare_images",
    "compare_layer",
    "comparison_heading",
    "comparison_numbers",
    "draw_comparison",
    "measure_comparison",
    "pca_heading",
]

if TYPE_CHECKING:
    from perceptual.features import VGGFeatures
    from perceptual.lpips import LPIPS


# ------------------------------------------------------------------------------------------------ what differs
def check_titles(titles: object) -> tuple[str, str] | None:
    """``None``, or ``titles`` as two non-empty names (real, generated) that the font draws."""
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


@dataclass(frozen=True, kw_only=True)
class ComparisonSpec:
    """What a comparison shows. The monitor, ``perceptual maps --compare`` and BeautyGAN's page differ only here.

    Attributes:
        style: how the three grids are drawn (:class:`~perceptual.pictures.render.GridStyle`).
        max_channels: channels shown: the top ones by ``selection``, scored over the whole batch; ``None``: all.
        selection: ``"difference"`` (mean ``|real - generated|``) or ``"activation"`` (mean real activation).
        titles: names of the real and generated columns. Given, the picture is labelled: the heading, the column
            titles (the third is ``|difference|``) and in each ``|difference|`` tile the mean ``|real -
            generated|`` of its two maps. ``None``: the grids and ``style``'s channel numbers only.
        ranking: how many channels :attr:`LayerComparison.ranking` lists, those that differ most over the batch
            first; 0: no ranking.
        pca_style: draw every channel at once (the PCA view, fitted on the drawn real and generated maps
            together) with this style (:func:`~perceptual.pictures.pca.pca_style`); ``None``: no PCA view.
        overlay: draw the layer's difference map (:func:`~perceptual.pictures.heatmaps.difference_map` at the
            image's size, scaled to its 99th percentile) over the real image, labelled ``<layer> on <real>``.
        alpha, colormap: the overlay's blend and colormap.
        indexed: draw the comparison as palette indices and a palette (a third of the bytes of RGB).
    """

    style: GridStyle
    max_channels: int | None = 16
    selection: ChannelSelection | str = "difference"
    titles: tuple[str, str] | None = ("real", "generated")
    ranking: int = 0
    pca_style: GridStyle | None = None
    overlay: bool = False
    alpha: float = 0.5
    colormap: Colormap | str = "magma"
    indexed: bool = False

    def __post_init__(self) -> None:
        check_style(self.style)
        if self.max_channels is not None and (
            isinstance(self.max_channels, bool) or not isinstance(self.max_channels, int) or self.max_channels < 1
        ):
            raise ValueError(f"max_channels must be a positive integer or None, got {self.max_channels!r}")
        if self.selection not in ("difference", "activation"):
            raise ValueError(f"selection must be 'difference' or 'activation', got {self.selection!r}")
        object.__setattr__(self, "titles", check_titles(self.titles))
        if isinstance(self.ranking, bool) or not isinstance(self.ranking, int) or self.ranking < 0:
            raise ValueError(f"ranking must be an integer >= 0, got {self.ranking!r}")
        if self.pca_style is not None:
            check_style(self.pca_style)
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be a number in [0, 1], got {self.alpha!r}")
        check_colormap(self.colormap)


# ------------------------------------------------------------------------------------------------ text
def comparison_heading(
    layer: str,
    shape: Sequence[int],
    shown: int,
    titles: tuple[str, str],
    *,
    selection: str,
    context: str | None = None,
    chosen_at: str | None = None,
    fresh: bool = True,
) -> str:
    """The heading of a comparison of ``(C, H, W)`` maps of ``layer`` showing ``shown`` channels.

    Line 1: the layer, ``context`` (e.g. ``"batch 300"`` or the file names) and the map size. Line 2: how the
    channels were chosen: the top ones by ``selection`` (``at <chosen_at>`` when they were chosen at another moment),
    or ``as given`` (``fresh=False`` with no ``chosen_at``). Line 3: what the ``|difference|`` captions are, ``now``
    when the channels come from another moment or were given."""
    channels, height, width = shape
    real, generated = titles
    first = f"{layer}  {context}  ({height}x{width} maps)" if context else f"{layer}  ({height}x{width} maps)"
    if not fresh and chosen_at is None:
        how = f"{shown} of {channels} channels, as given"
    else:
        score = f"mean |{real}-{generated}|" if selection == "difference" else f"mean {real} activation"
        how = f"{shown} of {channels} channels: top {shown} by {score}"
        how += "" if chosen_at is None else f" at {chosen_at}"
    now = " now" if chosen_at is not None or not fresh else ""
    return f"{first}\n{how}\nin |difference| tiles: mean |{real}-{generated}| of the two maps{now}"


def pca_heading(layer: str, channels: int, explained: Sequence[float], *, context: str | None = None) -> str:
    """The heading of a PCA view: the layer and ``context``, the channel count, the variance each component explains."""
    shares = ", ".join(f"{share:.0%}" for share in explained)
    first = f"{layer}  {context}" if context else layer
    return f"{first}\nRGB = PCA 1-3 of {channels} channels\n{shares} of the variance"


# ------------------------------------------------------------------------------------------------ one layer
@dataclass
class MeasuredComparison:
    """One layer's comparison after its device work, before its numbers reach the host.

    ``values`` holds device tensors that :func:`comparison_numbers` copies to the host together (a caller may add
    its own, e.g. the monitor's per-layer statistics): ``"distance"`` (mean squared difference of the drawn maps),
    ``"captions"`` (the mean ``|real - generated|`` of each shown channel in the drawn maps; with titles),
    ``"ranking_scores"``, ``"ranking_channels"`` and ``"shown"`` (with a ranking), ``"explained"`` (the share of the
    variance each principal component explains; with a PCA view)."""

    layer: str
    real: Tensor  # (C, H, W): the drawn sample
    generated: Tensor
    channels: Tensor  # the channels shown, long, on the features' device
    fresh: bool  # chosen here (not given)
    values: dict[str, Tensor] = field(default_factory=dict)
    pca: tuple[list[Tensor], int] | None = None  # PCA scores of the drawn maps and the upscale still due
    overlay: tuple[Tensor, Tensor] | None = None  # (uint8 (H, W, 3) image, its (H, W) heat in [0, 1])


def measure_comparison(
    real: Tensor,
    generated: Tensor,
    spec: ComparisonSpec,
    *,
    layer: str,
    sample: int = 0,
    channels: Tensor | Sequence[int] | None = None,
    image: Tensor | None = None,
) -> MeasuredComparison:
    """The device work of one layer's comparison, with no host copy.

    ``real`` and ``generated`` are ``(N, C, H, W)`` features of the same images; sample ``sample`` is drawn, while
    the channels (top ``spec.max_channels`` by ``spec.selection``) and the ranking are scored over the whole batch.
    ``channels``: the channels to show instead, chosen earlier (e.g. at an earlier batch). ``image``: the drawn real
    image, uint8 ``(H, W, 3)`` on the features' device, which ``spec.overlay`` draws the layer's difference over."""
    real, generated = check_maps(real, "real", (4,)), check_maps(generated, "generated", (4,))
    if real.shape != generated.shape:
        raise ValueError(
            f"real and generated features of layer {layer!r} must have the same shape, got {tuple(real.shape)} "
            f"and {tuple(generated.shape)}"
        )
    if not -real.shape[0] <= sample < real.shape[0]:
        raise ValueError(f"sample={sample} is out of range for a batch of {real.shape[0]}")
    count = real.shape[1]
    with torch.no_grad():
        fresh = channels is None
        if channels is None:
            k = count if spec.max_channels is None else spec.max_channels
            channels = select_channels(real, generated, k=k, by=spec.selection)
        chosen = torch.as_tensor(channels, dtype=torch.long, device=real.device)
        drawn_real, drawn_generated = real[sample], generated[sample]
        measured = MeasuredComparison(layer, drawn_real, drawn_generated, chosen, fresh)
        values = measured.values
        values["distance"] = (drawn_real.float() - drawn_generated.float()).square().mean()
        if spec.titles is not None:
            values["captions"] = channel_differences(drawn_real, drawn_generated).index_select(0, chosen)
        if spec.ranking:
            ranking = channel_differences(real, generated).topk(min(spec.ranking, count))
            values["ranking_scores"] = ranking.values
            values["ranking_channels"] = ranking.indices.float()
            values["shown"] = chosen.float()
        if spec.pca_style is not None:
            scores, explained, factor = pca_fit([drawn_real, drawn_generated], spec.pca_style)
            measured.pca, values["explained"] = (scores, factor), explained
        if spec.overlay:
            if image is None:
                raise ValueError("a comparison with overlay=True needs the real image (image=...)")
            size = (int(image.shape[0]), int(image.shape[1]))
            heat = unit_heat(difference_map(drawn_real[None], drawn_generated[None], size)[0, 0])
            measured.overlay = (image, heat)
    return measured


def comparison_numbers(measured: Sequence[MeasuredComparison]) -> list[dict[str, list[float]]]:
    """The ``values`` of every measured layer as host floats, ``[{name: [float, ...]}]`` in the same order, from
    one copy (one device sync for all of them)."""
    tensors = [value.float().flatten() for layer in measured for value in layer.values.values()]
    flat = torch.cat(tensors).cpu().tolist() if tensors else []
    host: list[dict[str, list[float]]] = []
    for layer in measured:
        numbers = {}
        for key, value in layer.values.items():
            numbers[key], flat = flat[: value.numel()], flat[value.numel() :]
        host.append(numbers)
    return host


@dataclass(frozen=True)
class ComparisonPictures:
    """The pictures of one layer's comparison, on the features' device: ``comparison`` is uint8 ``(H, W, 3)``, or
    ``(H, W)`` palette indices with their ``palette``; ``pca`` and ``overlay`` are uint8 ``(H, W, 3)`` when the
    spec asked for them."""

    comparison: Tensor
    palette: Tensor | None = None
    pca: Tensor | None = None
    overlay: Tensor | None = None


def draw_comparison(
    measured: MeasuredComparison,
    numbers: Mapping[str, Sequence[float]],
    spec: ComparisonSpec,
    *,
    context: str | None = None,
    chosen_at: str | None = None,
) -> ComparisonPictures:
    """The pictures of ``measured`` with its host ``numbers`` (from :func:`comparison_numbers`), as ``spec`` says.
    ``context`` and ``chosen_at`` go into the headings (:func:`comparison_heading`, :func:`pca_heading`)."""
    titles = spec.titles
    text: dict[str, Any] = {}
    if titles is not None:
        heading = comparison_heading(
            measured.layer,
            measured.real.shape,
            measured.channels.numel(),
            titles,
            selection=str(spec.selection),
            context=context,
            chosen_at=chosen_at,
            fresh=measured.fresh,
        )
        text = {"titles": titles, "heading": heading, "captions": [short_number(v) for v in numbers["captions"]]}
    palette = None
    if spec.indexed:
        grid, palette = render_comparison_indexed(
            measured.real, measured.generated, channels=measured.channels, style=spec.style, **text
        )
    else:
        grid = render_comparison(
            measured.real, measured.generated, channels=measured.channels, style=spec.style, **text
        )
    named = titles or ("real", "generated")
    pca = None
    if measured.pca is not None and spec.pca_style is not None:
        scores, factor = measured.pca
        heading = pca_heading(measured.layer, measured.real.shape[0], numbers["explained"], context=context)
        pca = pca_picture(scores, factor, spec.pca_style, gap=None, titles=named, heading=heading)
    overlay = None
    if measured.overlay is not None:
        image, heat = measured.overlay
        label = f"{measured.layer} on {named[0]}"
        overlay = overlay_picture(image, heat, label=label, alpha=spec.alpha, colormap=spec.colormap)
    return ComparisonPictures(grid, palette, pca, overlay)


@dataclass(frozen=True)
class LayerComparison:
    """One layer compared (:func:`compare_layer`): the drawn maps' ``(C, H, W)`` ``shape``, the ``channels`` shown,
    the host ``numbers`` (see :class:`MeasuredComparison`) and the ``pictures``."""

    layer: str
    shape: tuple[int, ...]
    channels: Tensor
    numbers: dict[str, list[float]]
    pictures: ComparisonPictures

    @property
    def ranking(self) -> list[tuple[int, float]]:
        """``(channel, mean |real - generated| over the batch)`` of the channels that differ most, most first."""
        channels, scores = self.numbers.get("ranking_channels", []), self.numbers.get("ranking_scores", [])
        return [(int(channel), score) for channel, score in zip(channels, scores)]

    @property
    def distance(self) -> float:
        """The mean squared difference of the drawn real and generated maps."""
        return self.numbers["distance"][0]


def compare_layer(
    real: Tensor,
    generated: Tensor,
    spec: ComparisonSpec,
    *,
    layer: str,
    sample: int = 0,
    channels: Tensor | Sequence[int] | None = None,
    image: Tensor | None = None,
    context: str | None = None,
) -> LayerComparison:
    """Compare one layer's ``(N, C, H, W)`` real and generated features as ``spec`` says: :func:`measure_comparison`,
    one host copy of its numbers, :func:`draw_comparison`."""
    measured = measure_comparison(real, generated, spec, layer=layer, sample=sample, channels=channels, image=image)
    (numbers,) = comparison_numbers([measured])
    pictures = draw_comparison(measured, numbers, spec, context=context)
    return LayerComparison(layer, tuple(measured.real.shape), measured.channels, numbers, pictures)


# ------------------------------------------------------------------------------------------------ two images
@dataclass(frozen=True)
class ImageComparison:
    """Two images compared (:func:`compare_images`): each layer's comparison, and ``where`` the features differ
    over the generated image (uint8 ``(H, W, 3)``; ``None`` unless asked)."""

    layers: list[LayerComparison]
    where: Tensor | None = None


def _input_batch(
    real: Tensor | np.ndarray, generated: Tensor | np.ndarray, input_range: tuple[float, float], device: torch.device
) -> Tensor:
    """Two float ``(3, H, W)`` tensors in ``input_range`` stacked, or two ``(H, W, 3)`` uint8 arrays as one
    ``(2, 3, H, W)`` batch (a channels-last view of the pixels) mapped into ``input_range``, on ``device``."""
    if isinstance(real, np.ndarray) and isinstance(generated, np.ndarray):
        for array in (real, generated):
            if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
                raise ValueError(f"numpy images must be (H, W, 3) uint8, got {array.dtype} {array.shape}")
        if real.shape != generated.shape:
            raise ValueError(f"the two images must have the same size, got {real.shape} and {generated.shape}")
        pixels = torch.from_numpy(np.stack([real, generated])).permute(0, 3, 1, 2).to(device)
        return from_unit_range(pixels.float() / 255, input_range)
    tensors = []
    for image in (real, generated):
        if (
            not isinstance(image, Tensor)
            or not torch.is_floating_point(image)
            or image.ndim != 3
            or image.shape[0] != 3
        ):
            got = f"{image.dtype} {tuple(image.shape)}" if hasattr(image, "shape") else type(image).__name__
            raise ValueError(f"images must be two float (3, H, W) tensors or two (H, W, 3) uint8 arrays, got {got}")
        tensors.append(image)
    if tensors[0].shape != tensors[1].shape:
        shapes = f"{tuple(tensors[0].shape)} and {tuple(tensors[1].shape)}"
        raise ValueError(f"the two images must have the same size, got {shapes}")
    return torch.stack(tensors).to(device)


def compare_images(
    real: Tensor | np.ndarray,
    generated: Tensor | np.ndarray,
    extractor: VGGFeatures,
    *,
    layers: Sequence[str],
    spec: ComparisonSpec,
    context: str | None = None,
    lpips: LPIPS | None = None,
    where: bool = False,
) -> ImageComparison:
    """Two images of the same size through ``extractor`` in one batch, and :func:`compare_layer` of each of
    ``layers`` (``spec.overlay`` draws each layer's difference over ``real``).

    Images are float ``(3, H, W)`` tensors in the extractor's ``input_range`` or ``(H, W, 3)`` uint8 arrays.
    ``where``: also where the features differ, drawn over ``generated``, unlabelled: the LPIPS map
    (``lpips.from_features``, spatial) when ``lpips`` is given, else the last layer's difference map, each scaled
    to its 99th percentile."""
    device = extractor.scale.device
    with torch.inference_mode():
        batch = _input_batch(real, generated, extractor.input_range, device)
        size = (int(batch.shape[-2]), int(batch.shape[-1]))
        features = extractor(batch)
        image = to_uint8(batch[0], extractor.input_range) if spec.overlay else None
        compared = [
            compare_layer(features[name][:1], features[name][1:], spec, layer=name, image=image, context=context)
            for name in layers
        ]
        picture = None
        if where:
            if lpips is not None:
                halves = {k: v[1:] for k, v in features.items()}, {k: v[:1] for k, v in features.items()}
                heat = lpips.from_features(*halves, spatial=True, size=size)[0, 0]
            else:
                deepest = features[layers[-1]]
                heat = difference_map(deepest[:1], deepest[1:], size)[0, 0]
            made = to_uint8(batch[1], extractor.input_range)
            picture = overlay_picture(made, unit_heat(heat), alpha=spec.alpha, colormap=spec.colormap)
    return ImageComparison(compared, picture)
