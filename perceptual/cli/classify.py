"""``perceptual classify IMAGE [...]``: ImageNet top-k with class names, and a PNG bar chart of all probabilities."""

from __future__ import annotations

import argparse
from pathlib import Path

from perceptual.cli._common import add_arch, add_weights


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="ImageNet top-k classes of images (needs weights with a classifier)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any size, mode or bit depth)")
    parser.add_argument("--top", type=int, default=5, help="how many classes to print (default 5)")
    add_weights(
        parser, help="'imagenet' (torchvision), a Keras .h5 with top, a TF .npy with fc6-fc8, or a .pth/.safetensors"
    )
    add_arch(parser)
    parser.add_argument(
        "--resize",
        choices=("crop", "stretch"),
        default="crop",
        help="'crop': shorter side 256, center crop 224 (torchvision); 'stretch': straight to 224x224 (Keras load_img)",
    )
    parser.add_argument(
        "--chart",
        metavar="OUT.png",
        help="write a bar chart of all probabilities (with several images: OUT_<image name>.png per image)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from perceptual.images import load_image
    from perceptual.tools.classify import VGGClassifier, draw_probability_chart

    if args.top < 1:
        raise ValueError(f"--top must be at least 1, got {args.top}")
    model = VGGClassifier(args.weights, arch=args.arch, resize=args.resize)
    chart = Path(args.chart) if args.chart else None
    for path in args.images:
        image, notes = load_image(path)
        (result,) = model.classify(image, top=args.top)
        print(f"{path}" + (f"  ({'; '.join(notes)})" if notes else ""))
        for rank, prediction in enumerate(result.top, start=1):
            print(f"  {rank}. {prediction.category:<40s} index {prediction.index:>4d}  p={prediction.probability:.4f}")
        if chart is not None:
            out = (
                chart
                if len(args.images) == 1
                else chart.with_name(f"{chart.stem}_{Path(path).stem}{chart.suffix or '.png'}")
            )
            draw_probability_chart(
                result.probabilities, result.top, out, title=f"{Path(path).name}: {args.arch}, {model.weights_source}"
            )
            print(f"  chart: {out}")
    return 0
