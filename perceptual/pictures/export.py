"""Feature-map export (``perceptual maps``' library part): the feature maps of every requested VGG tap of one or more
images as PNG grids, or a labelled real-vs-generated comparison of two images.

For each image and layer: a grid of its channels (``<out>/<image>/<layer>.png``, colormapped, each map scaled
on its own, channel numbers in the corners), the channel-sum map (``<layer>_sum.png``, the common ``layer_sum``
picture) and, with ``--pca``, every channel at once (``<layer>_pca.png``: the first three principal components as
RGB); ``<out>/index.html`` shows them all with layer name, shape and channel count, and opens in a browser from
disk. With ``--compare REAL GENERATED`` (:func:`compare_to_folder`), per layer: the labelled ``real | generated |
|difference|`` grids, the PCA view fitted on both, and the difference heatmap over the real image, plus an
``index.html`` - what :class:`~perceptual.pictures.monitor.FeatureMapMonitor` shows in TensorBoard, for people who
do not use it. Rendering is :mod:`perceptual.pictures.render` (tensor ops, one host copy per PNG); a matplotlib
subplot per map takes minutes to hours for the same pictures.

Every file is written under a temporary name and renamed (:func:`perceptual.files.atomic_path`): a full disk or a
kill never leaves a partial PNG or index under its final name, and the error names the file and its filesystem.
"""

from __future__ import annotations

import errno
import html
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

import torch
from PIL import Image

from perceptual._validation import spatial_size
from perceptual.features import VGGFeatures
from perceptual.files import atomic_path
from perceptual.images import ImageLoadError, load_image
from perceptual.layers import canonical_layer_name, layer_names
from perceptual.pictures.render import (
    GridStyle,
    _draw_labels,
    _panel_labels,
    _pca_fit,
    _pca_picture,
    _short_number,
    _unit_heat,
    channel_differences,
    difference_map,
    overlay_heatmap,
    palette_image,
    render_channel_sum,
    render_comparison_indexed,
    render_maps_indexed,
    select_channels,
)

__all__ = ["EXPORT_STYLE", "compare_to_folder", "export_layer_maps"]

EXPORT_STYLE = GridStyle(min_size=32, labels=True)
"""How ``perceptual maps`` draws a layer by default: tiles of at least 32 px, channel numbers on them."""


def resolve_layers(spec: str | Sequence[str], arch: str) -> list[str]:
    """``"all"`` -> post-ReLU convs and pools (Keras' taps); ``"every"`` -> all taps; else the names, validated."""
    names = layer_names(arch)
    if isinstance(spec, str):
        if spec == "all":
            return [n for n in names if not n.startswith("conv")]
        if spec == "every":
            return list(names)
        spec = [part.strip() for part in spec.split(",") if part.strip()]
    if not spec:
        raise ValueError("--layers names no layer; give 'all' or names such as relu1_2,relu4_1")
    canonical = [canonical_layer_name(name, arch) for name in spec]
    seen: dict[str, None] = {}
    for name in sorted(canonical, key=names.index):
        seen.setdefault(name, None)
    return list(seen)


def _pca_style(style: GridStyle) -> GridStyle:
    """How PCA views are drawn: panels of 192 to 512 px, each component stretched between its 1st and 99th
    percentile over all panels (principal components have long tails; min-max would grey everything out)."""
    return replace(style, min_size=192, max_size=512, labels=False, scaling="percentile", percentiles=(1.0, 99.0))


def _write_error(error: OSError, path: Path) -> OSError:
    """One line naming the file, and its folder's filesystem when the disk is full."""
    reason = (error.strerror or str(error)).lower()
    full = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))  # disk full, or over the user's quota
    where = f" (filesystem of {path.parent}/)" if error.errno in full else ""
    named = OSError(f"{reason} writing {path}{where}")
    named.errno = error.errno
    return named


def _save_png(picture: Image.Image, path: Path, *, compress_level: int = 1) -> None:
    """``picture`` as a PNG at ``path``, written whole or not at all (a temporary file renamed into place)."""
    try:
        with atomic_path(path) as temporary:
            picture.save(temporary, format="PNG", compress_level=compress_level)
    except OSError as error:
        raise _write_error(error, path) from error


@dataclass
class ExportedLayer:
    name: str
    shape: tuple[int, ...]
    channels_shown: int
    grid: Path
    channel_sum: Path
    grid_size: tuple[int, int]  # (width, height) in pixels
    pca: Path | None = None


@dataclass
class ExportedImage:
    source: Path
    folder: Path
    notes: list[str] = field(default_factory=list)
    layers: list[ExportedLayer] = field(default_factory=list)


def export_layer_maps(
    features: Mapping[str, torch.Tensor],
    folder: Path,
    *,
    channels: int | None = None,
    style: GridStyle = EXPORT_STYLE,
    compress_level: int = 1,
    on_layer: Callable[[str], object] | None = None,
    pca: bool = False,
) -> list[ExportedLayer]:
    """Write ``<layer>.png`` (channel grid) and ``<layer>_sum.png`` for each ``(1, C, H, W)`` entry of ``features``,
    and ``<layer>_pca.png`` with ``pca`` (the first three principal components of the layer's channels as RGB,
    :func:`~perceptual.pictures.render.render_pca`, with the layer and the variance they explain above it).

    Grids are palette PNGs (:func:`~perceptual.pictures.render.render_maps_indexed`: one byte per pixel); PNG encoding runs
    in a background thread while the next layer renders. On the CPU, rendering runs on one torch thread meanwhile:
    its ops are small and memory-bound, and one render thread plus one PNG thread beat torch's thread pool
    fighting the PNG thread (about 3x faster on 2 cores). ``channels``: show the top-N channels by mean activation.
    Each PNG is written under a temporary name and renamed; a write error names the file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    exported: list[ExportedLayer] = []
    on_cpu = all(batch.device.type == "cpu" for batch in features.values())
    pca_style = _pca_style(style)
    with torch.inference_mode(), _torch_threads(1 if on_cpu else None), ThreadPoolExecutor(max_workers=1) as pool:
        pending = []
        for name, batch in features.items():
            maps = batch[0]
            count = maps.shape[0]
            chosen = (
                None if channels is None or channels >= count else select_channels(maps, k=channels, by="activation")
            )
            grid, palette = render_maps_indexed(maps, channels=chosen, style=style)
            summed = render_channel_sum(maps, style=style)
            grid_path, sum_path = folder / f"{name}.png", folder / f"{name}_sum.png"
            shown = count if chosen is None else int(chosen.numel())
            grid_np, palette_np, summed_np = grid.cpu().numpy(), palette.cpu().numpy(), summed.cpu().numpy()
            pictures = [(palette_image(grid_np, palette_np), grid_path), (Image.fromarray(summed_np), sum_path)]
            pca_path = None
            if pca:
                scores, explained, factor = _pca_fit([maps], pca_style)
                shares = ", ".join(f"{share:.0%}" for share in explained.tolist())
                heading = f"{name}: RGB = PCA 1-3 of {count} channels ({shares} of the variance)"
                picture = _pca_picture(scores, factor, pca_style, gap=None, titles=None, heading=heading)
                pca_path = folder / f"{name}_pca.png"
                pictures.append((Image.fromarray(picture.cpu().numpy()), pca_path))
            pending.append(pool.submit(_write_pngs, pictures, compress_level))
            exported.append(
                ExportedLayer(
                    name, tuple(batch.shape), shown, grid_path, sum_path, (grid_np.shape[1], grid_np.shape[0]), pca_path
                )
            )
            if on_layer is not None:
                pending[-1].add_done_callback(_report_done(on_layer, name))
        for future in pending:
            future.result()  # re-raise write errors
    return exported


def _report_done(on_layer: Callable[[str], object], name: str) -> Callable[[Future], object]:
    """A future's done-callback that reports ``name``, bound now (not the loop variable's last value)."""
    return lambda _future: on_layer(name)


@contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` intra-op torch threads (``None``: unchanged), restoring the setting after."""
    previous = torch.get_num_threads()
    if count is not None and count != previous:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def _write_pngs(pictures: Sequence[tuple[Image.Image, Path]], compress_level: int) -> None:
    for picture, path in pictures:
        _save_png(picture, path, compress_level=compress_level)


MANIFEST = "maps.json"
"""What an ``--out`` folder holds: the settings of the runs that wrote it and every exported image, so a later run
into the same folder adds to one consistent ``index.html`` (or is refused when its settings differ)."""
LOCK = ".perceptual-maps.lock"


def _item_to_json(item: ExportedImage, out: Path) -> dict:
    return {
        "source": str(item.source),
        "folder": item.folder.relative_to(out).as_posix(),
        "notes": list(item.notes),
        "layers": [
            {
                "name": layer.name,
                "shape": list(layer.shape),
                "channels_shown": layer.channels_shown,
                "grid": layer.grid.relative_to(out).as_posix(),
                "channel_sum": layer.channel_sum.relative_to(out).as_posix(),
                "grid_size": list(layer.grid_size),
                **({"pca": layer.pca.relative_to(out).as_posix()} if layer.pca else {}),
            }
            for layer in item.layers
        ],
    }


def _item_from_json(entry: dict, out: Path) -> ExportedImage:
    layers = [
        ExportedLayer(
            layer["name"],
            tuple(layer["shape"]),
            int(layer["channels_shown"]),
            out / layer["grid"],
            out / layer["channel_sum"],
            tuple(layer["grid_size"]),
            out / layer["pca"] if layer.get("pca") else None,
        )
        for layer in entry["layers"]
    ]
    return ExportedImage(Path(entry["source"]), out / entry["folder"], list(entry["notes"]), layers)


def _read_manifest(out: Path, settings: Mapping[str, object]) -> list[ExportedImage]:
    """The images an earlier run exported into ``out`` with the same ``settings``; refuses other settings, and a
    folder that holds an ``index.html`` written without a manifest."""
    path = out / MANIFEST
    if not path.is_file():
        if (out / "index.html").exists():
            raise ValueError(
                f"--out {str(out)!r} holds an index.html that no feature-map export listed in {MANIFEST} "
                "(an older export, or --compare); use an empty folder"
            )
        return []
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        stored, entries = manifest["settings"], manifest["images"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"--out {str(out)!r}: unreadable {MANIFEST} ({err}); use another folder") from None
    if stored != dict(settings):
        differs = ", ".join(
            f"{key} {stored.get(key)!r} there, {value!r} now"
            for key, value in settings.items()
            if stored.get(key) != value
        )
        raise ValueError(f"--out {str(out)!r} holds maps made with other settings ({differs}); use another folder")
    return [item for item in (_item_from_json(entry, out) for entry in entries) if item.folder.is_dir()]


def _write_atomically(path: Path, text: str) -> None:
    try:
        with atomic_path(path) as temporary:
            temporary.write_text(text, encoding="utf-8")
    except OSError as error:
        raise _write_error(error, path) from error


@contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """One ``maps`` run at a time per folder (a lock file created exclusively, removed at the end)."""
    lock = out / LOCK
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        raise ValueError(
            f"another `perceptual maps` run is writing to {str(out)!r} (if none is, a crashed run left {str(lock)!r}: delete it)"
        ) from None
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        lock.unlink(missing_ok=True)


def _unique_folder(out: Path, stem: str, taken: set[str]) -> Path:
    candidate, suffix = stem, 2
    while candidate in taken or candidate == "index.html":
        candidate, suffix = f"{stem}_{suffix}", suffix + 1
    taken.add(candidate)
    return out / candidate


def write_index(out: Path, exported: Sequence[ExportedImage], *, title: str) -> Path:
    """A self-contained ``index.html`` (relative links, no scripts) showing every exported PNG."""

    def link(path: Path) -> str:
        return quote(path.relative_to(out).as_posix())

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em;background:#fafafa}"
        "section.layer{margin:1em 0 2em;padding:.5em 1em;background:#fff;border:1px solid #ddd}"
        "img{image-rendering:pixelated;max-width:100%;border:1px solid #ccc;vertical-align:top}"
        "img.sum{width:224px;margin-left:1em}img.pca{margin-left:1em}.meta{color:#555}nav a{margin-right:.6em}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for item in exported:
        parts.append(f'<h2 id="{html.escape(item.folder.name)}">{html.escape(item.source.name)}</h2>')
        for note in item.notes:
            parts.append(f'<p class="meta">note: {html.escape(note)}</p>')
        parts.append(
            "<nav>"
            + "".join(
                f'<a href="#{html.escape(item.folder.name)}-{html.escape(layer.name)}">{html.escape(layer.name)}</a>'
                for layer in item.layers
            )
            + "</nav>"
        )
        for layer in item.layers:
            shape = " x ".join(str(s) for s in layer.shape)
            channels = layer.shape[1]
            shown = "all" if layer.channels_shown == channels else f"top {layer.channels_shown} by mean activation"
            parts += [
                f'<section class="layer" id="{html.escape(item.folder.name)}-{html.escape(layer.name)}">',
                f"<h3>{html.escape(layer.name)}</h3>",
                f'<p class="meta">shape (N, C, H, W): {shape} &middot; channels: {channels} ({shown} shown) '
                f"&middot; grid {layer.grid_size[0]}x{layer.grid_size[1]} px</p>",
                f'<a href="{link(layer.grid)}"><img src="{link(layer.grid)}" alt="{html.escape(layer.name)} channels" '
                f'loading="lazy"></a>',
                f'<a href="{link(layer.channel_sum)}"><img class="sum" src="{link(layer.channel_sum)}" '
                f'alt="{html.escape(layer.name)} channel sum" title="channel sum" loading="lazy"></a>',
            ]
            if layer.pca is not None:
                parts.append(
                    f'<a href="{link(layer.pca)}"><img class="pca" src="{link(layer.pca)}" '
                    f'alt="{html.escape(layer.name)} PCA" title="every channel: principal components 1-3 as RGB" '
                    'loading="lazy"></a>'
                )
            parts.append("</section>")
    parts.append("</body></html>")
    path = out / "index.html"
    _write_atomically(path, "\n".join(parts) + "\n")
    return path


def export_to_folder(
    images: Sequence[str | os.PathLike],
    out: Path,
    extractor: VGGFeatures,
    *,
    layers: Sequence[str],
    channels: int | None = None,
    style: GridStyle = EXPORT_STYLE,
    size: int | None = 224,
    settings: Mapping,
    progress: bool = True,
    pca: bool = False,
) -> int:
    """``perceptual maps``' work once its arguments are checked: every image of ``images`` (resized so the shorter
    side is ``size``; ``None`` keeps it) into ``out``, with the manifest and ``index.html`` merged with earlier runs
    whose ``settings`` match (the caller holds the folder's lock). Returns the exit status: 0, or 1 when an image
    failed."""
    from tqdm import tqdm

    earlier = _read_manifest(out, settings)
    taken: set[str] = {item.folder.name for item in earlier}
    folders = {item.source.resolve(): item.folder for item in earlier}
    exported: list[ExportedImage] = []
    failures = 0
    start = time.perf_counter()
    with tqdm(
        total=len(images) * len(layers), desc="feature maps", unit="layer", disable=not progress, file=sys.stderr
    ) as bar:
        for source in map(Path, images):
            try:
                image, notes = load_image(source, size=size)
                extractor.check_input(image[None], name=str(source))
            except (ImageLoadError, ValueError) as err:
                failures += 1
                tqdm.write(f"perceptual maps: error: {err}", file=sys.stderr)
                bar.update(len(layers))
                continue
            for note in notes:
                tqdm.write(f"{source}: {note}", file=sys.stderr)
            # The same source again goes to its earlier folder (replaced); another source never overwrites it.
            folder = folders.get(source.resolve()) or _unique_folder(out, source.stem or "image", taken)
            item = ExportedImage(source, folder, notes)
            bar.set_postfix_str(source.name)
            with torch.inference_mode():
                features = extractor(image.to(extractor.scale.device)[None])
            item.layers = export_layer_maps(
                features, folder, channels=channels, style=style, on_layer=lambda _name: bar.update(1), pca=pca
            )
            exported.append(item)
    if not exported:
        print(f"perceptual maps: no image could be exported ({failures} failed)", file=sys.stderr)
        return 1
    title = f"{extractor.arch} feature maps ({extractor.weights_source})"
    replaced = {item.folder for item in exported}
    everything = [item for item in earlier if item.folder not in replaced] + exported
    manifest = {"settings": settings, "images": [_item_to_json(item, out) for item in everything]}
    _write_atomically(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    index = write_index(out, everything, title=title)
    if len(everything) > len(exported):
        print(f"{out}: index.html lists {len(everything)} images ({len(everything) - len(exported)} from earlier runs)")
    files = sum((3 if pca else 2) * len(item.layers) for item in exported)
    print(
        f"wrote {files} PNGs for {len(exported)} image(s) in {time.perf_counter() - start:.1f} s; open {os.fspath(index)}"
    )
    if failures:
        print(
            f"perceptual maps: {failures} of {len(images)} file(s) could not be read (see errors above)",
            file=sys.stderr,
        )
        return 1
    return 0


def _rgb_uint8(image: torch.Tensor) -> torch.Tensor:
    """``(3, H, W)`` in [0, 1] -> uint8 ``(H, W, 3)``."""
    return (image.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).permute(1, 2, 0).contiguous()


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
class _ComparedLayer:
    name: str
    shape: tuple[int, ...]
    channels_shown: int
    distance: float  # mean squared real-vs-generated difference
    ranking: list[tuple[int, float]]  # (channel, mean |real - generated|), most different first
    comparison: Path
    pca: Path
    overlay: Path


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
) -> int:
    """``perceptual maps --compare``: where two images of the same size differ for VGG, as PNGs in ``out`` plus an
    ``index.html``; the offline counterpart of :class:`~perceptual.pictures.monitor.FeatureMapMonitor`'s pictures.

    Both images are resized alike (shorter side ``size``; ``None`` keeps it) and run through ``extractor`` in one
    batch. Per layer:

    - ``<layer>.png``: ``real | generated | |difference|`` grids of the ``channels`` channels that differ most
      (mean ``|real - generated|``; ``None``: all), labelled: heading, column ``titles``, channel numbers, and in
      each ``|difference|`` tile the mean ``|real - generated|`` of its two maps;
    - ``<layer>_pca.png``: every channel at once, the first three principal components fitted on both images'
      features together, as RGB;
    - ``<layer>_overlay.png``: the layer's difference map (``mean over channels of (real - generated) ** 2``,
      upsampled to the image, scaled to its 99th percentile) blended over the real image with ``alpha``.

    Images of different sizes, a missing file or a file that is not an image raise ``ValueError`` (one line) before
    ``out`` is created or anything is written; then the folder is locked (one run at a time) while it is written.
    Returns the exit status, 0."""
    real, generated, out = Path(real), Path(generated), Path(out)
    if (out / MANIFEST).is_file():
        raise ValueError(
            f"--out {str(out)!r} holds a feature-map export ({MANIFEST}); use another folder for --compare"
        )
    first, second, notes = _load_pair(real, generated, size)
    for note in notes:
        print(f"{real}: {note}", file=sys.stderr)
    for path, image in ((real, first), (generated, second)):
        extractor.check_input(image[None], name=str(path))
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(out):
        return _compare(
            first,
            second,
            real,
            generated,
            out,
            extractor,
            layers=layers,
            channels=channels,
            style=style,
            titles=titles,
            alpha=alpha,
            colormap=colormap,
        )


def _compare(
    first: torch.Tensor,
    second: torch.Tensor,
    real: Path,
    generated: Path,
    out: Path,
    extractor: VGGFeatures,
    *,
    layers: Sequence[str],
    channels: int | None,
    style: GridStyle,
    titles: tuple[str, str],
    alpha: float,
    colormap: str,
) -> int:
    start = time.perf_counter()
    device = extractor.scale.device
    with torch.inference_mode():
        features = extractor(torch.stack((first, second)).to(device))
    base = _rgb_uint8(first.to(device))
    pca_style = _pca_style(style)
    a, b = titles
    compared: list[_ComparedLayer] = []
    for name in layers:
        batch = features[name]
        pair_real, pair_generated = batch[0], batch[1]
        count = pair_real.shape[0]
        with torch.inference_mode():
            scores = channel_differences(pair_real, pair_generated)
            shown = count if channels is None else min(channels, count)
            chosen = select_channels(pair_real, pair_generated, k=shown, by="difference")
            order = scores.topk(min(5, count))
            heat = _unit_heat(difference_map(batch[:1], batch[1:], spatial_size(first))[0, 0])
            pca_scores, explained, factor = _pca_fit([pair_real, pair_generated], pca_style)
            distance = (pair_real.float() - pair_generated.float()).square().mean()
            # one host copy for the numbers of this layer
            top = order.values.numel()
            numbers = (
                torch.cat(
                    (scores.index_select(0, chosen), order.values, order.indices.float(), explained, distance[None])
                )
                .cpu()
                .tolist()
            )
            captions, numbers = [_short_number(value) for value in numbers[:shown]], numbers[shown:]
            ranking = [(int(channel), value) for value, channel in zip(numbers[:top], numbers[top : 2 * top])]
            shares = ", ".join(f"{share:.0%}" for share in numbers[2 * top : 2 * top + 3])
            height, width = pair_real.shape[1:]
            heading = (
                f"{name}  ({height}x{width} maps)  {a} = {real.name}, {b} = {generated.name}\n"
                f"{shown} of {count} channels: top {shown} by mean |{a}-{b}|\n"
                f"in |difference| tiles: mean |{a}-{b}| of the two maps"
            )
            grid, palette = render_comparison_indexed(
                pair_real,
                pair_generated,
                channels=chosen,
                style=style,
                titles=titles,
                heading=heading,
                captions=captions,
            )
            pca_heading = f"{name}: RGB = PCA 1-3 of {count} channels ({shares} of the variance), fitted on both"
            pca = _pca_picture(pca_scores, factor, pca_style, gap=None, titles=titles, heading=pca_heading)
            blended = overlay_heatmap(base, heat, alpha=alpha, colormap=colormap)
            labels = _panel_labels([f"{name} on {a}"], (int(base.shape[0]), int(base.shape[1])), 0)
            blended = _draw_labels(blended, labels, indexed=False, pad_value=255)
        layer = _ComparedLayer(
            name,
            tuple(pair_real.shape),
            shown,
            numbers[-1],
            ranking,
            out / f"{name}.png",
            out / f"{name}_pca.png",
            out / f"{name}_overlay.png",
        )
        _save_png(palette_image(grid.cpu().numpy(), palette.cpu().numpy()), layer.comparison)
        _save_png(Image.fromarray(pca.cpu().numpy()), layer.pca)
        _save_png(Image.fromarray(blended.cpu().numpy()), layer.overlay)
        compared.append(layer)
    index = _write_compare_index(
        out,
        real,
        generated,
        compared,
        titles=titles,
        title=f"{real.name} vs {generated.name}: {extractor.arch} feature maps ({extractor.weights_source})",
    )
    print(
        f"wrote {3 * len(compared)} PNGs for {len(compared)} layer(s) in {time.perf_counter() - start:.1f} s; "
        f"open {os.fspath(index)}"
    )
    return 0


def _write_compare_index(
    out: Path, real: Path, generated: Path, layers: Sequence[_ComparedLayer], *, titles: tuple[str, str], title: str
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
    path = out / "index.html"
    _write_atomically(path, "\n".join(parts) + "\n")
    return path
