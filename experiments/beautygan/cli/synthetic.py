"""``beautygan synthetic OUT [--n 64 --size 64 --pose 0]``: write the synthetic MT-layout set the demo trains on,
with each face's 68 landmarks (:func:`beautygan.data.synthetic.write_synthetic_mt`)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

from ._common import Parser, fail

PROG = "beautygan synthetic"


def _unit_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}") from None
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description="Write procedural faces with MT label maps (the demo's data set).")
    parser.add_argument("out", type=Path, help="dataset root to write")
    parser.add_argument("--n", type=int, default=64, help="faces per domain")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--held-out", type=int, default=4, help="faces per domain in the *_test.txt lists")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pose",
        type=_unit_interval,
        default=0.0,
        help="how widely the faces are posed, 0 (frontal, the default) to 1 (rotation up to 25 degrees, scale and "
        "shift, head turns up to 35 and nods up to 15 degrees, open mouths and smiles)",
    )
    return parser


def run(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    from ..data.synthetic import write_synthetic_mt

    try:
        root = write_synthetic_mt(
            args.out, n=args.n, size=args.size, held_out=args.held_out, seed=args.seed, pose=args.pose
        )
    except (ValueError, OSError) as err:
        return fail(PROG, err)
    posed = f", posed up to {args.pose:g} of the widest" if args.pose else ""
    print(f"wrote {2 * args.n} faces ({args.size}x{args.size}{posed}) with landmarks to {root}")
    return 0
