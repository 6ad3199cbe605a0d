"""``beautygan synthetic OUT [--n 64 --size 64]``: write the synthetic MT-layout set the demo trains on
(:func:`beautygan.synthetic.write_synthetic_mt`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ._common import Parser, fail

PROG = "beautygan synthetic"


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description="Write procedural faces with MT label maps (the demo's data set).")
    parser.add_argument("out", type=Path, help="dataset root to write")
    parser.add_argument("--n", type=int, default=64, help="faces per domain")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--held-out", type=int, default=4, help="faces per domain in the *_test.txt lists")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def run(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    from ..synthetic import write_synthetic_mt

    try:
        root = write_synthetic_mt(args.out, n=args.n, size=args.size, held_out=args.held_out, seed=args.seed)
    except (ValueError, OSError) as err:
        return fail(PROG, err)
    print(f"wrote {2 * args.n} faces ({args.size}x{args.size}) to {root}")
    return 0
