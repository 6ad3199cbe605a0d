"""``perceptual maps --compare``' library part: where two images of the same size differ for VGG, as PNGs in a
folder plus an ``index.html``, for people who do not use TensorBoard.

Per layer: the labelled ``real | generated | |difference|`` grids of the channels that differ most, every channel at
once (the PCA view fitted on both) and the layer's difference heatmap over the real image - the comparison of
:mod:`perceptual.pictures.comparison`, which :class:`~perceptual.pictures.monitor.FeatureMapMonitor` logs during
training and BeautyGAN's page shows too. Files are written whole (:mod:`perceptual.pictures.folders`), one run at a
time per folder. :func:`compare_to_folder` returns what it did; ``perceptual.cli.maps`` reports it.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import torch
from PIL import Image

from perceptual.features import VGGFeatures
from perceptual.images import load_image, to_uint8
from perceptual.pictures.colormaps import palette_image
from perceptual.pictures.comparison import ComparisonSpec, compare_layer
from perceptual.pictures.export import EXPORT_STYLE
from perceptual.pictures.folders import INDEX, MANIFEST, maps_lock, save_png, write_text
from perceptual.pictures.pca import pca_style
from perceptual.pictures.render import GridStyle

__all__ = ["CompareReport", "ComparedLayer", "compare_to_folder"]

_RANKED = 5  # channels the index lists per layer, most different first


def _load_pair(real: Path, generated: Path, size: int | None) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Both images, checked to be the same size before any resizing, then resized alike."""
    full = {path: load_image(path)[0] for path in (real, generated)}
    (height, width), (other_height, other_width) = (tuple(full[path].shape[1:]) for path in (real, generated))
    if (height, width) != (other_height, other_width):
        raise ValueError(
            f"--compare needs two images of the same size: {real} is {width}x{height}, {generated} is "
            f"{other_width}x{other_height} (width x height)"
        )
    if size is None:
        return full[real], full[generated], []
    (first, notes), (second, _) = load_image(real, size=size), load_image(generated, size=size)
    return first, second, notes


@dataclass
class ComparedLayer:
    """One layer of a ``--compare`` folder: its maps' shape, the channels shown, the mean squared real-vs-generated
    difference, the channels that differ most (``(channel, mean |real - generated|)``) and the three PNGs."""

    name: str
    shape: tuple[int, ...]
    channels_shown: int
    distance: float
    ranking: list[tuple[int, float]]
    comparison: Path
    pca: Path
    overlay: Path


@dataclass
class CompareReport:
    """What :func:`compare_to_folder` did: the layers written, the index, what loading converted (``notes``, about
    the real image) and a note when the folder's lock was taken over from a run that no longer runs."""

    layers: list[ComparedLayer]
    index: Path
    notes: list[str]
    lock_note: str | None = None


def compare_to_folder(
    real: str | os.PathLike,
    generated: str | os.PathLike,
    out: Path,
    extractor: VGGFeatures,
    *,
    layers: Sequence[str],
    channels: int | None = 16,
    style: GridStyle = EXPORT_STYLE,
    size: int | None = 224,
    titles: tuple[str, str] = ("real", "generated"),
    alpha: float = 0.5,
    colormap: str = "magma",
) -> CompareReport:
    """Where two images of the same size differ for VGG, as PNGs in ``out`` plus an ``index.html``.

    Both images are resized alike (shorter side ``size``; ``None`` keeps it) and run through ``extractor`` in one
    batch. Per layer (:func:`~perceptual.pictures.comparison.compare_layer`):

    - ``<layer>.png``: ``real | generated | |difference|`` grids of the ``channels`` channels that differ most
      (mean ``|real - generated|``; ``None``: all), labelled: heading, column ``titles``, channel numbers, and in
      each ``|difference|`` tile the mean ``|real - generated|`` of its two maps;
    - ``<layer>_pca.png``: every channel at once, the first three principal components fitted on both images'
      features together, as RGB;
    - ``<layer>_overlay.png``: the layer's difference map (``mean over channels of (real - generated) ** 2``,
      upsampled to the image, scaled to its 99th percentile) blended over the real image with ``alpha``.

    Images of different sizes, a missing file or a file that is not an image raise ``ValueError`` (one line) before
    ``out`` is created or anything is written; then the folder is locked (one run at a time) while it is written."""
    real, generated, out = Path(real), Path(generated), Path(out)
    if (out / MANIFEST).is_file():
        raise ValueError(
            f"--out {str(out)!r} holds a feature-map export ({MANIFEST}); use another folder for --compare"
        )
    first, second, notes = _load_pair(real, generated, size)
    for path, image in ((real, first), (generated, second)):
        extractor.check_input(image[None], name=str(path))
    spec = ComparisonSpec(
        style=style,
        max_channels=channels,
        titles=titles,
        ranking=_RANKED,
        pca_style=pca_style(style, min_size=192, max_size=512),
        overlay=True,
        alpha=alpha,
        colormap=colormap,
        indexed=True,
    )
    out.mkdir(parents=True, exist_ok=True)
    with maps_lock(out) as lock_note:
        compared = _compare(first, second, out, extractor, layers, spec, context=_context(titles, real, generated))
        title = f"{real.name} vs {generated.name}: {extractor.arch} feature maps ({extractor.weights_source})"
        index = _write_compare_index(out, real, generated, compared, titles=titles, title=title)
    return CompareReport(compared, index, notes, lock_note)


def _context(titles: tuple[str, str], real: Path, generated: Path) -> str:
    return f"{titles[0]} = {real.name}, {titles[1]} = {generated.name}"


def _compare(
    first: torch.Tensor,
    second: torch.Tensor,
    out: Path,
    extractor: VGGFeatures,
    layers: Sequence[str],
    spec: ComparisonSpec,
    *,
    context: str,
) -> list[ComparedLayer]:
    """Each layer compared and its three PNGs written, one layer at a time."""
    device = extractor.scale.device
    with torch.inference_mode():
        features = extractor(torch.stack((first, second)).to(device))
        image = to_uint8(first.to(device), extractor.input_range)
    compared: list[ComparedLayer] = []
    for name in layers:
        batch = features[name]
        with torch.inference_mode():
            result = compare_layer(batch[:1], batch[1:], spec, layer=name, image=image, context=context)
        pictures = result.pictures
        layer = ComparedLayer(
            name,
            result.shape,
            int(result.channels.numel()),
            result.distance,
            result.ranking,
            out / f"{name}.png",
            out / f"{name}_pca.png",
            out / f"{name}_overlay.png",
        )
        if pictures.palette is None or pictures.pca is None or pictures.overlay is None:
            raise RuntimeError(f"the comparison of {name} lacks a picture its spec asks for")
        save_png(palette_image(pictures.comparison.cpu().numpy(), pictures.palette.cpu().numpy()), layer.comparison)
        save_png(Image.fromarray(pictures.pca.cpu().numpy()), layer.pca)
        save_png(Image.fromarray(pictures.overlay.cpu().numpy()), layer.overlay)
        compared.append(layer)
    return compared


def _write_compare_index(
    out: Path, real: Path, generated: Path, layers: Sequence[ComparedLayer], *, titles: tuple[str, str], title: str
) -> Path:
    a, b = (html.escape(name) for name in titles)

    def image(path: Path, alt: str) -> str:
        link = quote(path.relative_to(out).as_posix())
        return f'<a href="{link}"><img src="{link}" alt="{html.escape(alt)}" loading="lazy"></a>'

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em;background:#fafafa}"
        "section.layer{margin:1em 0 2em;padding:.5em 1em;background:#fff;border:1px solid #ddd}"
        "img{image-rendering:pixelated;max-width:100%;border:1px solid #ccc;vertical-align:top;margin:0 .5em .5em 0}"
        ".meta{color:#555}nav a{margin-right:.6em}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">{a}: {html.escape(str(real))} &middot; {b}: {html.escape(str(generated))}. Per layer: '
        f"{a} | {b} | |difference| grids of the channels that differ most (each channel on one scale in all three "
        f"panels; in each difference tile the mean |{a} - {b}| of its two maps), every channel at once (principal "
        f"components 1-3 as RGB, fitted on both), and the difference map over {a}.</p>",
        "<nav>"
        + "".join(f'<a href="#{html.escape(layer.name)}">{html.escape(layer.name)}</a>' for layer in layers)
        + "</nav>",
    ]
    for layer in layers:
        shape = " x ".join(str(s) for s in layer.shape)
        ranking = ", ".join(f"{channel} ({value:.3g})" for channel, value in layer.ranking)
        parts += [
            f'<section class="layer" id="{html.escape(layer.name)}">',
            f"<h3>{html.escape(layer.name)}</h3>",
            f'<p class="meta">maps (C, H, W): {shape} &middot; {layer.channels_shown} of {layer.shape[0]} channels shown '
            f"&middot; mean squared difference {layer.distance:.4g} &middot; channels that differ most: "
            f"{html.escape(ranking)}</p>",
            image(layer.comparison, f"{layer.name}: {titles[0]} | {titles[1]} | difference"),
            image(layer.pca, f"{layer.name}: principal components 1-3 as RGB"),
            image(layer.overlay, f"{layer.name}: difference over {titles[0]}"),
            "</section>",
        ]
    parts.append("</body></html>")
    path = out / INDEX
    write_text(path, "\n".join(parts) + "\n")
    return path
