"""``perceptual maps``: export the feature maps of every requested VGG tap of one or more images as PNG grids, plus
an ``index.html``; or, with ``--compare REAL GENERATED``, where two images differ for VGG (the work is in
:mod:`perceptual.pictures.export` and :mod:`perceptual.pictures.compare_export`; this module prints what they did and
picks the exit status)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from perceptual.cli._common import add_arch, add_device, add_weights, resolve_device
from perceptual.pictures import COLORMAP_NAMES

if TYPE_CHECKING:
    from perceptual.features import VGGFeatures
    from perceptual.pictures.render import GridStyle


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "maps",
        help="export feature-map grids of every layer as PNGs plus an index.html",
        description="Export the feature-map grids of every requested VGG layer of one or more images as PNGs plus an "
        "index.html; or, with --compare REAL GENERATED, show where two images differ for VGG.",
        epilog="examples: perceptual maps photo.jpg --layers relu1_2,relu3_3,relu4_1 --out maps/ && open maps/index.html\n"
        "          perceptual maps --compare real.png generated.png --layers relu2_2,relu4_1 --out diff/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="image files (any size/mode; converted to RGB)")
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("REAL", "GENERATED"),
        type=Path,
        help="instead of IMAGEs: two images of the same size; per layer, writes the labelled real | generated | "
        "|difference| grids of the channels that differ most (<layer>.png), the PCA view fitted on both "
        "(<layer>_pca.png) and the difference map over the real image (<layer>_overlay.png), plus index.html",
    )
    add_arch(parser)
    parser.add_argument(
        "--layers",
        default="all",
        help="'all' (every post-ReLU conv and pool tap, Keras-style: 18 for VGG16), 'every' (all taps, pre-ReLU "
        "convs too) or comma-separated names such as relu1_2,relu4_1 or block4_conv1",
    )
    parser.add_argument("--out", type=Path, default=Path("feature_maps"), help="output folder (default: feature_maps)")
    parser.add_argument(
        "--channels",
        default=None,
        help="'all' or N: the N channels with the largest mean activation (default: all); with --compare, the N "
        "that differ most (default: 16)",
    )
    parser.add_argument(
        "--pca",
        action="store_true",
        help="also write <layer>_pca.png: every channel at once, principal components 1-3 as RGB (always in --compare)",
    )
    parser.add_argument("--colormap", choices=COLORMAP_NAMES, default="viridis")
    parser.add_argument(
        "--scaling",
        "--normalization",
        dest="scaling",
        choices=("minmax", "percentile"),
        default="minmax",
        help="per-map display scaling: min-max, or the 1st-99th percentile range (robust to a few hot pixels)",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=224,
        metavar="PX",
        help="resize the shorter image side to PX before VGG (aspect kept); 0 keeps the image's size (default: 224)",
    )
    add_weights(
        parser,
        help="'imagenet' (torchvision, downloaded once), 'imagenet_features', a weights file, or 'random' (no download)",
    )
    parser.add_argument("--pool-padding", choices=("valid", "same"), default="valid")
    parser.add_argument(
        "--min-tile", type=int, default=32, metavar="PX", help="upscale smaller maps to at least PX (default 32)"
    )
    parser.add_argument("--no-labels", action="store_true", help="do not write channel numbers on the tiles")
    add_device(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)


def _parse_channels(value: str) -> int | None:
    if value == "all":
        return None
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"--channels must be 'all' or a positive integer, got {value!r}") from None
    if count < 1:
        raise ValueError(f"--channels must be 'all' or a positive integer, got {count}")
    return count


def _run(args: argparse.Namespace) -> int:
    from perceptual.features import VGGFeatures
    from perceptual.pictures.export import EXPORT_STYLE, resolve_layers

    if args.compare and args.images:
        raise ValueError(f"give IMAGEs or --compare REAL GENERATED, not both (got {len(args.images)} IMAGEs too)")
    if not args.compare and not args.images:
        raise ValueError("name at least one IMAGE, or --compare REAL GENERATED")
    layers = resolve_layers(args.layers, args.arch)
    channels_text = args.channels or ("16" if args.compare else "all")
    channels = _parse_channels(channels_text)
    if args.size < 0:
        raise ValueError(f"--size must be >= 0 (0 keeps the image's size), got {args.size}")
    if args.min_tile < 1:
        raise ValueError(f"--min-tile must be >= 1, got {args.min_tile}")
    style = dataclasses.replace(
        EXPORT_STYLE, colormap=args.colormap, scaling=args.scaling, min_size=args.min_tile, labels=not args.no_labels
    )
    extractor = VGGFeatures(
        layers, arch=args.arch, weights=args.weights, input_range=(0.0, 1.0), pool_padding=args.pool_padding
    ).to(resolve_device(args.device))
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a file; name a folder")
    if args.compare:
        return _compare(args, extractor, layers=layers, channels=channels, style=style)
    settings = {
        "arch": args.arch,
        "weights": extractor.weights_source,
        "size": args.size,
        "pool_padding": args.pool_padding,
        "colormap": args.colormap,
        "scaling": args.scaling,
        "channels": channels_text,
        **({"pca": True} if args.pca else {}),  # a folder exported without --pca keeps its settings
    }
    return _export(args, extractor, layers=layers, channels=channels, style=style, settings=settings)


def _compare(
    args: argparse.Namespace, extractor: VGGFeatures, *, layers: list[str], channels: int | None, style: GridStyle
) -> int:
    from perceptual.pictures.compare_export import compare_to_folder

    start = time.perf_counter()
    real, generated = args.compare  # both images are checked before the folder is created or locked
    report = compare_to_folder(
        real, generated, args.out, extractor, layers=layers, channels=channels, style=style, size=args.size or None
    )
    if report.lock_note is not None:
        print(f"perceptual maps: note: {report.lock_note}", file=sys.stderr)
    for note in report.notes:
        print(f"{real}: {note}", file=sys.stderr)
    print(
        f"wrote {3 * len(report.layers)} PNGs for {len(report.layers)} layer(s) in {time.perf_counter() - start:.1f} s; "
        f"open {os.fspath(report.index)}"
    )
    return 0


def _export(
    args: argparse.Namespace,
    extractor: VGGFeatures,
    *,
    layers: list[str],
    channels: int | None,
    style: GridStyle,
    settings: dict[str, object],
) -> int:
    from tqdm import tqdm

    from perceptual.pictures.export import export_to_folder

    start = time.perf_counter()
    images = args.images
    bars: list[tqdm] = []  # opened with the first image, so a refused folder prints its one line alone

    def bar() -> tqdm:
        if not bars:
            total = len(images) * len(layers)
            bars.append(tqdm(total=total, desc="feature maps", unit="layer", disable=args.quiet, file=sys.stderr))
        return bars[0]

    def on_image(source: Path, notes: Sequence[str], error: str | None) -> None:
        if error is not None:
            bar().write(f"perceptual maps: error: {error}", file=sys.stderr)
            bar().update(len(layers))
            return
        for note in notes:
            bar().write(f"{source}: {note}", file=sys.stderr)
        bar().set_postfix_str(source.name)

    try:
        report = export_to_folder(
            images,
            args.out,
            extractor,
            layers=layers,
            channels=channels,
            style=style,
            size=args.size or None,
            settings=settings,
            pca=args.pca,
            on_image=on_image,
            on_layer=lambda _name: bar().update(1),
        )
    finally:
        for opened in bars:
            opened.close()
    if report.lock_note is not None:
        print(f"perceptual maps: note: {report.lock_note}", file=sys.stderr)
    failures = len(report.failures)
    if report.index is None:
        print(f"perceptual maps: no image could be exported ({failures} failed)", file=sys.stderr)
        return 1
    if report.listed > len(report.exported):
        earlier = report.listed - len(report.exported)
        print(f"{args.out}: index.html lists {report.listed} images ({earlier} from earlier runs)")
    seconds = time.perf_counter() - start
    print(
        f"wrote {report.files} PNGs for {len(report.exported)} image(s) in {seconds:.1f} s; "
        f"open {os.fspath(report.index)}"
    )
    if failures:
        print(
            f"perceptual maps: {failures} of {len(images)} file(s) could not be read (see errors above)",
            file=sys.stderr,
        )
        return 1
    return 0
