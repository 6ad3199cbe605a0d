"""``perceptual layers``: print every tap of VGG16/VGG19 with its output shape."""

from __future__ import annotations

import argparse

from perceptual.cli._common import add_arch
from perceptual.describe import describe, format_layer_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "layers", help="list every tap with its output shape", description=__doc__.splitlines()[0]
    )
    add_arch(parser)
    parser.add_argument("--size", type=int, nargs="+", default=[224], metavar="PX", help="H [W] of the input image")
    parser.add_argument(
        "--pool-padding",
        choices=("valid", "same"),
        default="valid",
        help="'valid' floors odd sizes (torchvision, Keras: 361 -> 180); 'same' rounds up (TF SAME: 361 -> 181)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if len(args.size) > 2:
        raise ValueError(f"--size takes H or H W, got {args.size}")
    size = (args.size[0], args.size[-1])
    rows = describe(args.arch, size, pool_padding=args.pool_padding)
    title = f"{args.arch} on a {size[0]}x{size[1]} image, {args.pool_padding} pooling"
    print(format_layer_table(rows, title=title))
    return 0
