"""``beautygan interpolate``: a source wearing looks between two references (or between its own look and one
reference), interpolated inside the generator, as a strip PNG and an HTML page naming every cell; a second row
shows the pixel blend of the two end results, the baseline."""

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
)

PROG = "beautygan interpolate"


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="A source wearing looks between two references (one --reference: from the source's own look), "
        "mixed inside the generator: a strip PNG plus an HTML page.",
        hint=REGIONS_HINT,
    )
    add_generator_arguments(parser)
    parser.add_argument("--source", required=True, type=Path, help="photo without makeup")
    parser.add_argument(
        "--reference",
        required=True,
        type=Path,
        action="append",
        help="the look to go to; give it twice to go from the first reference's look to the second's",
    )
    parser.add_argument("--steps", type=int, default=5, help="looks along the way, both ends included (default 5)")
    parser.add_argument(
        "--out", required=True, type=Path, help="strip image (.png); the page is written beside it (.html)"
    )
    parser.add_argument("--cell", type=int, default=128, help="cell size in pixels (default 128)")
    parser.add_argument("--no-blend", action="store_true", help="leave out the pixel-blend row")
    parser.add_argument("--no-align", action="store_true", help="no face detection: whole images")
    add_control_arguments(parser)
    return parser


def run(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    from perceptual.images import check_output_image

    from ..inference.gallery import write_interpolation_strip
    from ..inference.photo_transfer import PhotoTransfer, TransferOptions

    try:
        controls = controls_from(args)
        if len(args.reference) > 2:
            raise ValueError(f"give --reference once or twice, got {len(args.reference)}")
        if args.steps < 2:
            raise ValueError(f"--steps must be >= 2 (the two ends), got {args.steps}")
        check_output_image(args.out, "--out", try_write=True)
        for path, what in ((args.source, "--source"), *((p, "--reference") for p in args.reference)):
            if not path.is_file():
                raise FileNotFoundError(f"{what} {path}: no such file")
        transfer = PhotoTransfer(args.ckpt, TransferOptions(align=not args.no_align, device=args.device))
        announce_generator(PROG, transfer.model)
        start, end = (args.reference[0], args.reference[1]) if len(args.reference) == 2 else (args.reference[0], None)
        strip = write_interpolation_strip(
            transfer,
            args.source,
            start,
            end,
            args.out,
            steps=args.steps,
            controls=controls,
            cell=args.cell,
            blend_row=not args.no_blend,
        )
    except EXPECTED_ERRORS as err:
        return fail(PROG, err)
    for note in dict.fromkeys(strip.notes):
        print(f"note: {note}")
    print(f"wrote {strip.image} and {strip.page} ({args.steps} steps)")
    return 0
