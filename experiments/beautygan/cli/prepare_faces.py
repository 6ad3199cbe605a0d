"""``beautygan prepare-faces IN_DIR OUT_DIR --kind makeup|non-makeup [--size 256]``: your photos into the MT layout
(detect, align, label maps; needs the ``faces`` extra)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ._common import Parser, fail

PROG = "beautygan prepare-faces"


def build_parser() -> Parser:
    from ..data.faces import KINDS

    parser = Parser(
        prog=PROG,
        description="Detect, align and label the faces in a folder of photos, writing an MT-layout dataset "
        "(images/<kind>/, segs/<kind>/, <kind>.txt). Needs the 'faces' extra.",
    )
    parser.add_argument("in_dir", type=Path, help="folder of photos (png/jpg/...)")
    parser.add_argument("out_dir", type=Path, help="MT-layout dataset folder to write into (created if missing)")
    parser.add_argument("--kind", required=True, choices=KINDS, help="domain the photos belong to")
    parser.add_argument("--size", type=int, default=256, help="side of the square output images (default 256)")
    parser.add_argument("--margin", type=float, default=1.0, help="crop size multiplier (1.0 = FFHQ-style crop)")
    parser.add_argument("--min-face", type=int, default=64, help="skip faces narrower than this many pixels")
    parser.add_argument("--split", choices=("train", "test"), default="train", help="list to append to")
    parser.add_argument("--upsample", type=int, default=1, help="detector upsampling (finds smaller faces, slower)")
    return parser


def run(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    from ..data.faces import FaceModels, FacesUnavailableError, prepare_faces

    try:
        models = FaceModels(upsample=args.upsample)
        report = prepare_faces(
            args.in_dir,
            args.out_dir,
            kind=args.kind,
            size=args.size,
            margin=args.margin,
            min_face=args.min_face,
            split=args.split,
            models=models,
        )
    except (FacesUnavailableError, FileNotFoundError, ValueError) as err:
        return fail(PROG, err)
    print(report.format())
    return 0 if report.prepared else 1
