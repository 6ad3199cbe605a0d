"""Feature-map export (``perceptual maps``' library part): the feature maps of every requested VGG tap of one or more images as PNG grids.

For each image and layer: a grid of its channels (``<out>/<image>/<layer>.png``, colormapped, each map scaled
on its own, channel numbers in the corners) and the channel-sum map (``<layer>_sum.png``, seed 000's
``layer_sum``); ``<out>/index.html`` shows them all with layer name, shape and channel count, and opens in a
browser from disk. Rendering is :mod:`perceptual.pictures.render` (tensor ops, one host copy per PNG); the seed posts'
matplotlib loops took minutes to hours for the same pictures.
"""

from __future__ import annotations

import html
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np
import torch
from PIL import Image

from perceptual.features import VGGFeatures
from perceptual.files import atomic_path
from perceptual.images import ImageLoadError, load_image
from perceptual.layers import canonical_layer_name, layer_names
from perceptual.pictures.render import GridStyle, palette_image, render_channel_sum, render_maps_indexed, select_channels

__all__ = ["EXPORT_STYLE", "export_layer_maps"]

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
) -> list[ExportedLayer]:
    """Write ``<layer>.png`` (channel grid) and ``<layer>_sum.png`` for each ``(1, C, H, W)`` entry of ``features``.

    Grids are palette PNGs (:func:`~perceptual.pictures.render.render_maps_indexed`: one byte per pixel); PNG encoding runs
    in a background thread while the next layer renders. On the CPU, rendering runs on one torch thread meanwhile:
    its ops are small and memory-bound, and one render thread plus one PNG thread beat torch's thread pool
    fighting the PNG thread (about 3x faster on 2 cores). ``channels``: show the top-N channels by mean activation.
    """
    folder.mkdir(parents=True, exist_ok=True)
    exported: list[ExportedLayer] = []
    on_cpu = all(batch.device.type == "cpu" for batch in features.values())
    with torch.inference_mode(), _torch_threads(1 if on_cpu else None), ThreadPoolExecutor(max_workers=1) as pool:
        pending = []
        for name, batch in features.items():
            maps = batch[0]
            count = maps.shape[0]
            chosen = None if channels is None or channels >= count else select_channels(maps, k=channels, by="activation")
            grid, palette = render_maps_indexed(maps, channels=chosen, style=style)
            summed = render_channel_sum(maps, style=style)
            grid_path, sum_path = folder / f"{name}.png", folder / f"{name}_sum.png"
            shown = count if chosen is None else int(chosen.numel())
            grid_np, palette_np, summed_np = grid.cpu().numpy(), palette.cpu().numpy(), summed.cpu().numpy()
            pending.append(pool.submit(_write_pngs, grid_np, palette_np, grid_path, summed_np, sum_path, compress_level))
            exported.append(ExportedLayer(name, tuple(batch.shape), shown, grid_path, sum_path, (grid_np.shape[1], grid_np.shape[0])))
            if on_layer is not None:
                pending[-1].add_done_callback(lambda _future, name=name: on_layer(name))
        for future in pending:
            future.result()  # re-raise write errors
    return exported


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


def _write_pngs(
    grid: np.ndarray, palette: np.ndarray, grid_path: Path, summed: np.ndarray, sum_path: Path, compress_level: int
) -> None:
    palette_image(grid, palette).save(grid_path, compress_level=compress_level)
    Image.fromarray(summed).save(sum_path, compress_level=compress_level)


MANIFEST = "maps.json"
"""What an ``--out`` folder holds: the settings of the runs that wrote it and every exported image, so a later run
into the same folder adds to one consistent ``index.html`` (or is refused when its settings differ)."""
LOCK = ".perceptual-maps.lock"


def _item_to_json(item: ExportedImage, out: Path) -> dict:
    return {
        "source": str(item.source), "folder": item.folder.relative_to(out).as_posix(), "notes": list(item.notes),
        "layers": [
            {"name": layer.name, "shape": list(layer.shape), "channels_shown": layer.channels_shown,
             "grid": layer.grid.relative_to(out).as_posix(), "channel_sum": layer.channel_sum.relative_to(out).as_posix(),
             "grid_size": list(layer.grid_size)}
            for layer in item.layers
        ],
    }  # fmt: skip


def _item_from_json(entry: dict, out: Path) -> ExportedImage:
    layers = [
        ExportedLayer(layer["name"], tuple(layer["shape"]), int(layer["channels_shown"]), out / layer["grid"],
                      out / layer["channel_sum"], tuple(layer["grid_size"]))  # fmt: skip
        for layer in entry["layers"]
    ]
    return ExportedImage(Path(entry["source"]), out / entry["folder"], list(entry["notes"]), layers)


def _read_manifest(out: Path, settings: dict) -> list[ExportedImage]:
    """The images an earlier run exported into ``out`` with the same ``settings``; refuses other settings, and a
    folder that holds an ``index.html`` written without a manifest."""
    path = out / MANIFEST
    if not path.is_file():
        if (out / "index.html").exists():
            raise ValueError(f"--out {str(out)!r} holds an index.html from an older export; use an empty folder")
        return []
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        stored, entries = manifest["settings"], manifest["images"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"--out {str(out)!r}: unreadable {MANIFEST} ({err}); use another folder") from None
    if stored != settings:
        differs = ", ".join(f"{key} {stored.get(key)!r} there, {value!r} now" for key, value in settings.items() if stored.get(key) != value)
        raise ValueError(f"--out {str(out)!r} holds maps made with other settings ({differs}); use another folder")
    return [item for item in (_item_from_json(entry, out) for entry in entries) if item.folder.is_dir()]


def _write_atomically(path: Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


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
        "img.sum{width:224px;margin-left:1em}.meta{color:#555}nav a{margin-right:.6em}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for item in exported:
        parts.append(f'<h2 id="{html.escape(item.folder.name)}">{html.escape(item.source.name)}</h2>')
        for note in item.notes:
            parts.append(f'<p class="meta">note: {html.escape(note)}</p>')
        parts.append("<nav>" + "".join(
            f'<a href="#{html.escape(item.folder.name)}-{html.escape(layer.name)}">{html.escape(layer.name)}</a>'
            for layer in item.layers
        ) + "</nav>")  # fmt: skip
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
                "</section>",
            ]
    parts.append("</body></html>")
    path = out / "index.html"
    _write_atomically(path, "\n".join(parts) + "\n")
    return path


def export_to_folder(
    images: Sequence[str | os.PathLike], out: Path, extractor: VGGFeatures, *, layers: Sequence[str],
    channels: int | None = None, style: GridStyle = EXPORT_STYLE, size: int | None = 224, settings: Mapping,
    progress: bool = True,
) -> int:  # fmt: skip
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
    with tqdm(total=len(images) * len(layers), desc="feature maps", unit="layer", disable=not progress, file=sys.stderr) as bar:
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
                features, folder, channels=channels, style=style, on_layer=lambda _name: bar.update(1)
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
    files = sum(2 * len(item.layers) for item in exported)
    print(f"wrote {files} PNGs for {len(exported)} image(s) in {time.perf_counter() - start:.1f} s; open {os.fspath(index)}")
    if failures:
        print(f"perceptual maps: {failures} of {len(images)} file(s) could not be read (see errors above)", file=sys.stderr)
        return 1
    return 0
