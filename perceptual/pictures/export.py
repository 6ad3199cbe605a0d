"""Feature-map export (``perceptual maps``' library part): the feature maps of every requested VGG tap of one or more
images as PNG grids, plus an ``index.html``.

For each image and layer: a grid of its channels (``<out>/<image>/<layer>.png``, colormapped, each map scaled on its
own, channel numbers in the corners), the channel-sum map (``<layer>_sum.png``, the common ``layer_sum`` picture)
and, with ``--pca``, every channel at once (``<layer>_pca.png``: the first three principal components as RGB);
``<out>/index.html`` shows them all with layer name, shape and channel count, and opens in a browser from disk. A
later run into the same folder adds to the same index (``maps.json`` keeps what is there), or is refused when its
settings differ. Rendering is :mod:`perceptual.pictures.render` (tensor ops, one host copy per PNG); a matplotlib
subplot per map takes minutes to hours for the same pictures. The real-versus-generated comparison of two images
(``--compare``) is :mod:`perceptual.pictures.compare_export`; the folder's files, lock and names are
:mod:`perceptual.pictures.folders`. The functions here return what they did; ``perceptual.cli.maps`` reports it.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import torch
from PIL import Image

from perceptual.features import VGGFeatures
from perceptual.images import ImageLoadError, load_image
from perceptual.layers import canonical_layer_name, layer_names
from perceptual.pictures.channels import select_channels
from perceptual.pictures.colormaps import palette_image
from perceptual.pictures.folders import (
    INDEX,
    MANIFEST,
    check_folder_name,
    image_folder,
    maps_lock,
    save_png,
    write_text,
)
from perceptual.pictures.pca import pca_fit, pca_picture, pca_style
from perceptual.pictures.render import GridStyle, render_channel_sum, render_maps_indexed

__all__ = [
    "EXPORT_STYLE",
    "ExportReport",
    "ExportedImage",
    "ExportedLayer",
    "export_layer_maps",
    "export_to_folder",
    "resolve_layers",
    "write_index",
]

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
    :func:`~perceptual.pictures.pca.render_pca`, with the layer and the variance they explain above it).

    Grids are palette PNGs (:func:`~perceptual.pictures.render.render_maps_indexed`: one byte per pixel); PNG encoding
    runs in a background thread while the next layer renders. On the CPU, rendering runs on one torch thread meanwhile:
    its ops are small and memory-bound, and one render thread plus one PNG thread beat torch's thread pool
    fighting the PNG thread (about 3x faster on 2 cores). ``channels``: show the top-N channels by mean activation.
    Each PNG is written under a temporary name and renamed; a write error names the file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    exported: list[ExportedLayer] = []
    on_cpu = all(batch.device.type == "cpu" for batch in features.values())
    pca_drawing = pca_style(style, min_size=192, max_size=512)
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
                scores, explained, factor = pca_fit([maps], pca_drawing)
                shares = ", ".join(f"{share:.0%}" for share in explained.tolist())
                heading = f"{name}: RGB = PCA 1-3 of {count} channels ({shares} of the variance)"
                picture = pca_picture(scores, factor, pca_drawing, gap=None, titles=None, heading=heading)
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
        save_png(picture, path, compress_level=compress_level)


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
    def inside(relative: str) -> Path:
        path = Path(relative)
        if path.is_absolute() or ".." in path.parts:
            raise ValueError(f"{relative!r} leads outside the folder")
        return out / path

    layers = [
        ExportedLayer(
            layer["name"],
            tuple(layer["shape"]),
            int(layer["channels_shown"]),
            inside(layer["grid"]),
            inside(layer["channel_sum"]),
            tuple(layer["grid_size"]),
            inside(layer["pca"]) if layer.get("pca") else None,
        )
        for layer in entry["layers"]
    ]
    folder = out / check_folder_name(str(entry["folder"]))
    return ExportedImage(Path(entry["source"]), folder, list(entry["notes"]), layers)


def _read_manifest(out: Path, settings: Mapping[str, object]) -> list[ExportedImage]:
    """The images an earlier run exported into ``out`` with the same ``settings``; refuses other settings, a
    manifest whose entries lead outside ``out``, and a folder that holds an ``index.html`` written without one."""
    path = out / MANIFEST
    if not path.is_file():
        if (out / INDEX).exists():
            raise ValueError(
                f"--out {str(out)!r} holds an index.html that no feature-map export listed in {MANIFEST} "
                "(an older export, or --compare); use an empty folder"
            )
        return []
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        stored, entries = manifest["settings"], manifest["images"]
        earlier = [_item_from_json(entry, out) for entry in entries]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"--out {str(out)!r}: unreadable {MANIFEST} ({err}); use another folder") from None
    if stored != dict(settings):
        differs = ", ".join(
            f"{key} {stored.get(key)!r} there, {value!r} now"
            for key, value in settings.items()
            if stored.get(key) != value
        )
        raise ValueError(f"--out {str(out)!r} holds maps made with other settings ({differs}); use another folder")
    return [item for item in earlier if item.folder.is_dir()]


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
    path = out / INDEX
    write_text(path, "\n".join(parts) + "\n")
    return path


@dataclass
class ExportReport:
    """What :func:`export_to_folder` did: the images it exported, the messages of those it could not read, how many
    images ``index.html`` lists now (earlier runs' included; ``index`` is ``None`` when nothing was exported) and a
    note when the folder's lock was taken over from a run that no longer runs."""

    exported: list[ExportedImage]
    failures: list[str]
    listed: int
    index: Path | None
    lock_note: str | None = None

    @property
    def files(self) -> int:
        """The PNGs written."""
        return sum(2 * len(item.layers) + sum(layer.pca is not None for layer in item.layers) for item in self.exported)


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
    pca: bool = False,
    on_image: Callable[[Path, Sequence[str], str | None], object] | None = None,
    on_layer: Callable[[str], object] | None = None,
) -> ExportReport:
    """``perceptual maps``' work once its arguments are checked: every image of ``images`` (resized so the shorter
    side is ``size``; ``None`` keeps it) into ``out``, with the manifest and ``index.html`` merged with earlier runs
    whose ``settings`` match, while holding the folder's lock (:func:`~perceptual.pictures.folders.maps_lock`).

    Each image gets a folder of its own inside ``out`` (:func:`~perceptual.pictures.folders.image_folder`; the same
    source again replaces its earlier folder). ``on_image(source, notes, error)`` is called once per image: when it
    is read (``error`` is ``None``; ``notes`` say what was converted) or could not be (``error`` says why; the
    image is skipped). ``on_layer(name)`` is called after each layer's PNGs are written. Without any image exported
    nothing is written. Settings other than the folder's raise ``ValueError``, before anything is written."""
    out.mkdir(parents=True, exist_ok=True)
    with maps_lock(out) as lock_note:
        earlier = _read_manifest(out, settings)
        taken: set[str] = {item.folder.name for item in earlier}
        folders = {item.source.resolve(): item.folder for item in earlier}
        exported: list[ExportedImage] = []
        failures: list[str] = []
        for source in map(Path, images):
            try:
                image, notes = load_image(source, size=size)
                extractor.check_input(image[None], name=str(source))
            except (ImageLoadError, ValueError) as err:
                failures.append(str(err))
                if on_image is not None:
                    on_image(source, [], str(err))
                continue
            if on_image is not None:
                on_image(source, notes, None)
            # The same source again goes to its earlier folder (replaced); another source never overwrites it.
            folder = folders.get(source.resolve()) or image_folder(out, source.stem, taken)
            item = ExportedImage(source, folder, notes)
            with torch.inference_mode():
                features = extractor(image.to(extractor.scale.device)[None])
            item.layers = export_layer_maps(
                features, folder, channels=channels, style=style, on_layer=on_layer, pca=pca
            )
            exported.append(item)
        if not exported:
            return ExportReport([], failures, len(earlier), None, lock_note)
        title = f"{extractor.arch} feature maps ({extractor.weights_source})"
        replaced = {item.folder for item in exported}
        everything = [item for item in earlier if item.folder not in replaced] + exported
        manifest = {"settings": settings, "images": [_item_to_json(item, out) for item in everything]}
        write_text(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
        index = write_index(out, everything, title=title)
    return ExportReport(exported, failures, len(everything), index, lock_note)
