"""``beautygan transfer``: a reference's makeup on a photo, face-aware at the photo's own size (with the ``faces``
extra), under the makeup controls (strength, per-region strengths and references); or every pair of two folders."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..data.regions import CONTROL_REGIONS
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

PROG = "beautygan transfer"


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="Put a reference face's makeup on a source photo (face-aware with the 'faces' extra), or on every "
        "pair of two folders; strength and per-region looks from the makeup controls.",
        hint=REGIONS_HINT,
    )
    add_generator_arguments(parser)
    parser.add_argument("--source", required=True, type=Path, help="photo without makeup, or a folder of them")
    parser.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="photo with the makeup, or a folder of them (optional with --lips/--eyes/--skin)",
    )
    parser.add_argument("--out", required=True, type=Path, help="output image (one pair) or folder (folders)")
    parser.add_argument(
        "--pairs",
        type=Path,
        default=None,
        help="with folders: 'source_name reference_name' per line (default: every pair)",
    )
    parser.add_argument(
        "--no-align", action="store_true", help="no face detection: the whole photo, resized to the training square"
    )
    parser.add_argument(
        "--demakeup-out", type=Path, default=None, help="one pair: also write the reference with its makeup removed"
    )
    parser.add_argument(
        "--size", type=int, default=None, help="whole-image transfer at this square size (implies --no-align)"
    )
    parser.add_argument("--batch-size", type=int, default=8)
    add_control_arguments(parser)
    return parser


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file, however spelled (relative, ``..``, a symlink, a hard link)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _check_no_overwrite(args: argparse.Namespace) -> None:
    """``ValueError`` when an output would overwrite an input photo, or both outputs are one file."""
    inputs = [("--source", args.source), ("--reference", args.reference)]
    inputs += [(f"--{region}", getattr(args, region)) for region in CONTROL_REGIONS]
    outputs = [("--out", args.out), ("--demakeup-out", args.demakeup_out)]
    for out_option, out in outputs:
        if out is None:
            continue
        for in_option, photo in inputs:
            if photo is not None and _same_file(out, photo):
                raise ValueError(
                    f"{out_option} {out} is the {in_option} photo {photo}: it would be overwritten; write elsewhere"
                )
    if args.demakeup_out is not None and _same_file(args.out, args.demakeup_out):
        raise ValueError(
            f"--demakeup-out {args.demakeup_out} and --out {args.out} are one file: one result would be lost"
        )


def run(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    from perceptual.files import check_writable
    from perceptual.images import check_output_image, save_image

    from ..data.image_size import check_image_size
    from ..inference.folders import list_images, read_pairs, transfer_folders
    from ..inference.photo_transfer import PhotoTransfer, TransferOptions

    try:
        controls = controls_from(args)  # strengths and region references are checked before any work
        if args.size is not None:
            check_image_size(args.size, "--size")
        if args.reference is None and not controls.region_references:
            raise ValueError("give --reference, or a reference for a region (--lips, --eyes, --skin)")
        folders = args.source.is_dir() or (args.reference is not None and args.reference.is_dir())
        if not folders and args.pairs is not None:
            raise ValueError("--pairs needs --source and --reference folders")
        if folders:
            if args.out.exists() and not args.out.is_dir():
                raise ValueError(f"--out {args.out} is a file; with folders --out names a folder")
            if args.demakeup_out is not None or args.size is not None:
                raise ValueError("--demakeup-out and --size are for one pair, not folders")
            sources = list_images(args.source)
            references: list[Path | None] = list_images(args.reference) if args.reference is not None else [None]
            if args.pairs:
                pairs = read_pairs(args.pairs, sources, [r for r in references if r is not None])
            else:
                pairs = [(s, r) for s in sources for r in references]
            check_writable(args.out, "--out")
        else:
            _check_no_overwrite(args)
            check_output_image(args.out, "--out", try_write=True)
            if args.demakeup_out is not None:
                if args.reference is None:
                    raise ValueError("--demakeup-out needs --reference")
                check_output_image(args.demakeup_out, "--demakeup-out", try_write=True)
            for path, what in ((args.source, "--source"), (args.reference, "--reference")):
                if path is not None and not path.is_file():
                    raise FileNotFoundError(f"{what} {path}: no such file or folder")
        options = TransferOptions(
            align=not args.no_align and args.size is None,
            size=args.size,
            batch_size=args.batch_size,
            device=args.device,
        )
        transfer = PhotoTransfer(args.ckpt, options)
        announce_generator(PROG, transfer.model)
        if folders:
            report = transfer_folders(transfer, pairs, args.out, controls=controls, progress=sys.stderr.isatty())
            print(report.format())
            return 1 if report.failures else 0
        controls = transfer.prepare_controls(controls)  # a region reference without a face fails here, before writing
        source = transfer.prepare(args.source)
        reference = transfer.prepare(args.reference) if args.reference is not None else None
        image = transfer.transfer(source, reference, controls)
        if args.demakeup_out is not None:
            save_image(transfer.demakeup(source, reference), args.demakeup_out)
        path = save_image(image, args.out)
    except EXPECTED_ERRORS as err:
        return fail(PROG, err)
    region_notes = [note for photo in controls.region_references.values() for note in photo.notes]
    for note in dict.fromkeys([*transfer.notes, *source.notes, *(reference.notes if reference else []), *region_notes]):
        print(f"note: {note}")
    what = "face-aware, pasted into the photo" if source.aligned else "whole image"
    described = controls.describe()
    print(f"wrote {path} ({image.shape[1]}x{image.shape[0]}, {what}" + (f"; {described}" if described else "") + ")")
    return 0
