"""``beautygan evaluate --ckpt C --pairs pairs.txt|--data-dir MT_DIR [--n 50] --out DIR``: face distance, colour and
background figures of a checkpoint (or of given results) on pairs of photos, as CSV and JSON
(:mod:`beautygan.inference.evaluate`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ._common import Parser, announce_generator, device_default, fail

PROG = "beautygan evaluate"


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="Identity, colour-transfer and background figures of a trained generator, BeautyGAN's or the "
        "PSGAN-style one (CSV + JSON).",
    )
    parser.add_argument(
        "--ckpt",
        type=Path,
        default=None,
        help="checkpoint of `beautygan fit` (not needed when every pair names its result)",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--pairs", type=Path, help="text file, one 'SOURCE REFERENCE [RESULT]' per line (paths relative to it)"
    )
    source.add_argument(
        "--data-dir", type=Path, help="MT-layout dataset: held-out lists if present, else the train lists"
    )
    parser.add_argument("--n", type=int, default=50, help="pairs drawn from --data-dir (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the reference draw for --data-dir")
    parser.add_argument("--out", type=Path, required=True, help="folder for metrics.csv, summary.json and results/")
    parser.add_argument("--size", type=int, default=None, help="image size (default: the checkpoint's training size)")
    parser.add_argument(
        "--no-faces", "--no-identity", dest="no_faces", action="store_true", help="skip the dlib face distance"
    )
    parser.add_argument("--device", default=device_default())
    return parser


def run(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    from perceptual.files import check_writable

    from ..data.image_size import check_image_size
    from ..inference.evaluate import (
        EvalPair,
        dataset_pairs,
        evaluate_pairs,
        format_summary,
        read_eval_pairs,
        summarize,
        write_table,
    )
    from ..inference.trained_generator import TrainedGenerator

    failures: list[tuple[EvalPair, str]] = []
    try:
        if args.n < 1:
            raise ValueError(f"--n must be >= 1, got {args.n}")
        if args.size is not None:
            check_image_size(args.size, "--size")
        if args.out.exists() and not args.out.is_dir():
            raise ValueError(
                f"--out {str(args.out)!r} is a file; name a folder for metrics.csv, summary.json and results/"
            )
        check_writable(args.out, "--out")
        if args.pairs is not None and not args.pairs.is_file():
            raise ValueError(
                f"--pairs {str(args.pairs)!r} is {'a folder' if args.pairs.is_dir() else 'missing'}; name a text file of 'SOURCE REFERENCE [RESULT]' lines"
            )
        if args.data_dir is not None and not (args.data_dir / "images").is_dir():
            raise ValueError(f"--data-dir {str(args.data_dir)!r} has no images/ folder (expected the MT layout)")
        pairs = read_eval_pairs(args.pairs) if args.pairs else dataset_pairs(args.data_dir, args.n, args.seed)
        generator, size = None, args.size
        if any(p.result is None for p in pairs):
            if args.ckpt is None:
                raise ValueError("--ckpt is required to generate results (or name a RESULT on every --pairs line)")
            generator = TrainedGenerator.load(args.ckpt, device=args.device)
            announce_generator(PROG, generator)
            size = size or generator.size
        rows = evaluate_pairs(
            pairs,
            generator=generator,
            image_size=size,
            faces=False if args.no_faces else "auto",
            results_dir=args.out / "results",
            progress=True,
            failures=failures,
        )
    except (ValueError, FileNotFoundError, ImportError, RuntimeError) as err:
        return fail(PROG, err)
    if not rows:
        print(f"beautygan evaluate: error: none of the {len(failures)} pair(s) could be read", file=sys.stderr)
        for _, message in failures:
            print(f"  {message}", file=sys.stderr)
        return 1
    summary = summarize(rows)
    csv_path, json_path = write_table(rows, summary, args.out)
    print(format_summary(summary))
    print(f"wrote {csv_path} and {json_path}")
    if failures:
        print(
            f"beautygan evaluate: {len(failures)} of {len(failures) + len(rows)} pair(s) skipped, their files could not be read:",
            file=sys.stderr,
        )
        for _, message in failures:
            print(f"  {message}", file=sys.stderr)
        return 1
    return 0
