"""``perceptual dream`` and ``perceptual dream-sheet``: DeepDream / activation maximization on VGG, after
Google's 2015 TensorFlow DeepDream notebook (``deepdream.ipynb``).

``perceptual dream photo.jpg --layer relu4_3 --channel 12 --out out.png`` dreams on a photo at its own resolution;
``perceptual dream --noise 224 ...`` starts from the notebook's grey noise; ``perceptual dream-sheet --layer relu4_3
--channels 16 --size 128 --out sheet.png`` renders what each of the first 16 channels responds to, in one grid.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from perceptual.cli._common import add_arch, add_device, add_weights, resolve_device

if TYPE_CHECKING:
    from perceptual.tools.dream import DreamSchedule


def register(subparsers: argparse._SubParsersAction) -> None:
    dream = subparsers.add_parser(
        "dream",
        help="DeepDream / maximize a channel or layer of VGG on an image or noise",
        description="DeepDream (after Google's TensorFlow deepdream notebook) on VGG: gradient ascent of a channel's, several channels' or a layer's mean "
        "activation, with octaves and tiled gradients.",
    )
    dream.add_argument("image", nargs="?", help="image to start from (any size; omit with --noise)")
    dream.add_argument("--noise", type=int, nargs="+", metavar="PX", help="start from grey noise of H [W] px")
    dream.add_argument("--resize", type=int, metavar="PX", help="resize IMAGE so its shorter side is PX first")
    dream.add_argument(
        "--layer",
        action="append",
        required=True,
        metavar="NAME[:WEIGHT]",
        help="tap to maximize (relu4_3, block4_conv3); repeat for a weighted sum of whole layers, e.g. "
        "--layer relu3_3:1 --layer relu4_3:0.5",
    )
    dream.add_argument(
        "--channel",
        type=int,
        action="append",
        metavar="C",
        help="channel of the (single) --layer; repeat for several; omit for the whole layer",
    )
    dream.add_argument("--square", action="store_true", help="maximize the mean squared activation")
    _add_common(dream, iterations=10, octaves=4)
    dream.add_argument("--tile-size", type=int, default=512, metavar="PX", help="largest tile for gradients (512)")
    dream.add_argument("--out", required=True, help="output PNG")
    dream.add_argument("--octave-grid", metavar="PNG", help="also save the result after each octave side by side")
    dream.set_defaults(func=_run_dream)

    sheet = subparsers.add_parser(
        "dream-sheet",
        help="contact sheet: what each of a layer's first N channels responds to",
        description="Optimize the first N channels of a layer together from noise and save their images as one grid.",
    )
    sheet.add_argument("--layer", required=True, metavar="NAME", help="tap, e.g. relu4_3")
    sheet.add_argument("--channels", type=int, default=16, metavar="N", help="first N channels (16)")
    sheet.add_argument("--size", type=int, default=128, metavar="PX", help="side of each channel's image (128)")
    sheet.add_argument("--batch-size", type=int, metavar="N", help="channels per batch (all at once by default)")
    sheet.add_argument("--nrow", type=int, metavar="N", help="images per grid row (about square by default)")
    _add_common(sheet, iterations=20, octaves=1)
    sheet.add_argument("--out", required=True, help="output PNG")
    sheet.set_defaults(func=_run_sheet)


def _add_common(parser: argparse.ArgumentParser, *, iterations: int, octaves: int) -> None:
    parser.add_argument("--iterations", type=int, default=iterations, help=f"ascent steps per octave ({iterations})")
    parser.add_argument("--step", type=float, default=1.5, help="step in 8-bit pixel levels (1.5)")
    parser.add_argument("--octaves", type=int, default=octaves, help=f"octave pyramid depth ({octaves})")
    parser.add_argument("--octave-scale", type=float, default=1.4, help="size ratio between octaves (1.4)")
    parser.add_argument("--jitter", type=int, default=0, metavar="PX", help="random roll per step, undone (0)")
    parser.add_argument(
        "--grad-norm",
        choices=("std", "abs_mean"),
        default="std",
        help="divide the gradient by its std (render_naive) or mean |g| (render_deepdream)",
    )
    add_arch(parser)
    add_weights(parser, help="imagenet (torchvision), a weights file, or random (tests only)")
    parser.add_argument(
        "--normalization",
        choices=("imagenet", "caffe", "none"),
        help="override the input preparation the weights carry",
    )
    add_device(parser)
    parser.add_argument("--seed", type=int, default=0, help="seeds the noise, rolls and jitter (0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _schedule(args: argparse.Namespace, **extra: int) -> DreamSchedule:
    """The :class:`~perceptual.tools.dream.DreamSchedule` of the common options (bad values: one ValueError line)."""
    from perceptual.tools.dream import DreamSchedule

    return DreamSchedule(
        iterations=args.iterations,
        step=args.step,
        octaves=args.octaves,
        octave_scale=args.octave_scale,
        jitter=args.jitter,
        grad_norm=args.grad_norm,
        seed=args.seed,
        **extra,
    )


def _parse_layers(specs: list[str]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for spec in specs:
        name, sep, weight = spec.partition(":")
        try:
            value = float(weight) if sep else 1.0
        except ValueError:
            raise ValueError(f"--layer takes NAME or NAME:WEIGHT, got {spec!r}") from None
        if name in weights:
            raise ValueError(f"--layer {name!r} is given twice")
        weights[name] = value
    return weights


def _run_dream(args: argparse.Namespace) -> int:
    from perceptual.images import check_output_image, load_image, save_image
    from perceptual.tools.dream import deep_dream, make_extractor
    from perceptual.tools.objectives import Objective, ObjectiveTerm
    from perceptual.tools.octaves import noise_image, octave_grid

    if (args.image is None) == (args.noise is None):
        raise ValueError("give either IMAGE or --noise SIZE (not both)")
    check_output_image(args.out, "--out", try_write=True)  # outputs are checked before any work
    if args.octave_grid is not None:
        check_output_image(args.octave_grid, "--octave-grid", try_write=True)
    layers = _parse_layers(args.layer)
    if args.channel:
        if len(layers) != 1:
            raise ValueError(f"--channel needs exactly one --layer, got {len(layers)}: {list(layers)}")
        ((name, weight),) = layers.items()
        objective = Objective((ObjectiveTerm(name, tuple(args.channel), weight, args.square),))
    else:
        objective = Objective.weighted_sum(layers, square=args.square)
    objective = objective.check(args.arch)  # bad names/channels fail before the weights load
    schedule = _schedule(args, tile_size=args.tile_size)  # so do bad schedule values

    if args.image is not None:
        image, notes = load_image(args.image, size=args.resize)
        for note in notes:
            print(f"{args.image}: {note}")
    else:
        if len(args.noise) > 2:
            raise ValueError(f"--noise takes H or H W, got {args.noise}")
        image = noise_image((args.noise[0], args.noise[-1]), seed=args.seed)
    device = resolve_device(args.device)
    extractor = make_extractor(
        objective, arch=args.arch, weights=args.weights, normalization=args.normalization, device=device
    )
    result = deep_dream(
        image.to(device),
        objective,
        extractor=extractor,
        schedule=schedule,
        return_octaves=args.octave_grid is not None,
        progress="dream" if not args.quiet else False,
    )
    if args.octave_grid is not None:
        grid_path = save_image(octave_grid(result.octave_images).cpu(), args.octave_grid)
        print(f"wrote {grid_path} ({len(result.octave_images)} octaves)")
    path = save_image(result.image.cpu(), args.out)
    height, width = result.image.shape[-2:]
    final = f", objective {float(result.scores[-1].mean()):.4g}" if result.scores.numel() else ""
    print(f"wrote {path} ({width}x{height}, {args.arch} {', '.join(objective.layers)}{final})")
    return 0


def _run_sheet(args: argparse.Namespace) -> int:
    from perceptual.images import check_output_image, save_image
    from perceptual.tools.dream import channel_sheet, make_extractor
    from perceptual.tools.objectives import layer_channels

    check_output_image(args.out, "--out", try_write=True)  # before any work
    available = layer_channels(args.layer, args.arch)  # bad names and counts fail before the weights load
    if not 1 <= args.channels <= available:
        raise ValueError(f"--channels must be 1..{available} for {args.arch} layer {args.layer!r}, got {args.channels}")
    schedule = _schedule(args)
    device = resolve_device(args.device)
    extractor = make_extractor(
        args.layer, arch=args.arch, weights=args.weights, normalization=args.normalization, device=device
    )
    sheet = channel_sheet(
        args.layer,
        channels=args.channels,
        extractor=extractor,
        size=args.size,
        schedule=schedule,
        batch_size=args.batch_size,
        nrow=args.nrow,
        progress=not args.quiet,
    )
    path = save_image(sheet.grid.cpu(), args.out)
    print(
        f"wrote {path}: {args.layer} channels {sheet.channels[0]}..{sheet.channels[-1]} of {args.arch}, "
        f"{args.size}px each"
    )
    return 0
