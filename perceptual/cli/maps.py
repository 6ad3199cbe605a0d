"""``perceptual maps``: export the feature maps of every requested VGG tap of one or more images as PNG grids, plus
an ``index.html``; or, with ``--compare REAL GENERATED``, where two images differ for VGG (the work is in
:mod:`perceptual.pictures.export`)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from perceptual.cli._common import add_arch, add_device, add_weights, resolve_device
from perceptual.pictures import COLORMAP_NAMES


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
    from perceptual.pictures.export import (
        EXPORT_STYLE,
        _exclusive,
        compare_to_folder,
        export_to_folder,
        resolve_layers,
    )

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
    if args.compare:  # checks both images before creating or locking the folder
        real, generated = args.compare
        return compare_to_folder(
            real, generated, out, extractor, layers=layers, channels=channels, style=style, size=args.size or None
        )
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(out):
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
        return export_to_folder(
            args.images,
            out,
            extractor,
            layers=layers,
            channels=channels,
            style=style,
            size=args.size or None,
            settings=settings,
            progress=not args.quiet,
            pca=args.pca,
        )
