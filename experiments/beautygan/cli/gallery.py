"""``beautygan gallery``: sources x references grid of made-up faces, or (``--strengths``) one strength strip per
pair, as a PNG and an HTML page naming every cell; photos or an MT-layout folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ._common import (
    EXPECTED_ERRORS,
    REGIONS_HINT,
    Parser,
    add_control_arguments,
    add_generator_arguments,
    announce_generator,
    controls_from,
    fail,
    parse_strengths,
)

PROG = "beautygan gallery"


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="Sources x references grid of made-up faces, or with --strengths a strip per pair showing the "
        "look at each strength (PNG + HTML page).",
        hint=REGIONS_HINT,
    )
    add_generator_arguments(parser)
    parser.add_argument(
        "--out", required=True, type=Path, help="grid image (.png); the page is written beside it (.html)"
    )
    parser.add_argument(
        "--sources", nargs="+", type=Path, default=None, help="photos without makeup (files or folders)"
    )
    parser.add_argument(
        "--references", nargs="+", type=Path, default=None, help="photos with makeup (files or folders)"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="an MT-layout folder instead of photos (aligned faces, used whole)"
    )
    parser.add_argument(
        "--count", type=int, default=4, help="with --data-dir: sources and references to take (default 4)"
    )
    parser.add_argument(
        "--strengths",
        default=None,
        metavar="S,S,...",
        help="write a strength strip per pair instead of the grid, e.g. 0,0.25,0.5,0.75,1",
    )
    parser.add_argument("--cell", type=int, default=128, help="cell size in pixels (default 128)")
    parser.add_argument("--no-align", action="store_true", help="photos: no face detection, whole images")
    parser.add_argument("--no-page", action="store_true", help="do not write the HTML page (grid only)")
    add_control_arguments(parser)
    return parser


def run(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    from perceptual.images import check_output_image

    from ..inference.folders import list_images
    from ..inference.gallery import mt_layout_images, write_gallery, write_strength_strips
    from ..inference.photo_transfer import PhotoTransfer, TransferOptions

    try:
        controls = controls_from(args)
        strengths = parse_strengths(args.strengths) if args.strengths is not None else None
        if strengths is not None:
            for value in strengths:
                controls_from(args, strength=value)  # every strength is checked before any work
        check_output_image(args.out, "--out", try_write=True)
        if args.count < 1:
            raise ValueError(f"--count must be >= 1, got {args.count}")
        notes: list[str] = []
        if args.data_dir is not None:
            if args.sources or args.references:
                raise ValueError("give either --data-dir or --sources/--references, not both")
            if args.no_page:
                raise ValueError("--no-page is for photos; an MT-layout gallery always gets its page")
            sources, references, notes = mt_layout_images(args.data_dir, args.count)
            options = TransferOptions(align=False, device=args.device)
        else:
            if not args.sources or not args.references:
                raise ValueError("give --sources and --references (photos or folders), or --data-dir")
            sources = [p for item in args.sources for p in list_images(item)]
            references = [p for item in args.references for p in list_images(item)]
            options = TransferOptions(align=not args.no_align, device=args.device)
        transfer = PhotoTransfer(args.ckpt, options)
        announce_generator(PROG, transfer.model)
        if args.data_dir is not None:
            transfer.notes.append(
                f"MT-layout images from {args.data_dir}: aligned faces, used whole at {transfer.size}x{transfer.size}"
            )
        transfer.notes += notes
        if strengths is not None:
            pairs = [(s, r) for s in sources for r in references]
            gallery = write_strength_strips(
                transfer, pairs, args.out, strengths=strengths, controls=controls, cell=args.cell
            )
        else:
            gallery = write_gallery(
                transfer, sources, references, args.out, controls=controls, cell=args.cell, page=not args.no_page
            )
    except EXPECTED_ERRORS as err:
        return fail(PROG, err)
    for note in dict.fromkeys(gallery.notes):
        print(f"note: {note}")
    for name, reason in gallery.failures:
        print(f"left out {name}: {reason}")
    shape = (
        f"{len(gallery.sources)} pairs x {len(strengths)} strengths"
        if strengths is not None
        else (f"{len(gallery.sources)} sources x {len(gallery.references)} references")
    )
    print(f"wrote {gallery.image} ({shape})" + (f" and {gallery.page}" if gallery.page else ""))
    return 1 if gallery.failures else 0
