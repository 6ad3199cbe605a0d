"""The ``perceptual`` command line: ``perceptual layers``, and the subcommands other modules register.

Each subcommand lives next to what it drives; its module defines ``register(subparsers)``, which adds a parser
whose ``func(args) -> int`` runs it. Modules are imported only when the command line is built.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

# Modules that define ``register(subparsers)``, in the order ``perceptual --help`` lists them.
_SUBCOMMAND_MODULES = (
    "perceptual.cli.layers",
    "perceptual.cli.maps",
    "perceptual.cli.dream",
    "perceptual.cli.classify",
    "perceptual.cli.convert",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perceptual", description="Frozen VGG features, perceptual losses and feature-map tools."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in _SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, OSError, RuntimeError, ImportError) as err:
        print(f"perceptual {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
