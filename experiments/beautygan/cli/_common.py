"""What the ``beautygan`` commands share: an argument parser whose errors are one line, the makeup-control options,
and the errors every command reports as one line with exit status 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from ..data.regions import CONTROL_REGIONS

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, FileNotFoundError, OSError, RuntimeError)
"""Errors a command prints as ``beautygan COMMAND: error: ...`` (one line) with exit status 2."""


REGIONS_HINT = f"the regions are {', '.join(CONTROL_REGIONS)}: --lips REF, --lips-strength S, ..."


class Parser(argparse.ArgumentParser):
    """``argparse`` whose usage errors are one line (``beautygan COMMAND: error: ...; see --help``), exit status 2;
    ``hint`` is added to an unrecognized option's error (e.g. which regions exist)."""

    def __init__(self, *args, hint: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.hint = hint

    def error(self, message: str) -> NoReturn:
        if self.hint and "unrecognized arguments" in message:
            message += f" ({self.hint})"
        print(f"{self.prog}: error: {message}; see {self.prog} --help", file=sys.stderr)
        raise SystemExit(2)


def fail(prog: str, err: BaseException) -> int:
    """Print ``err`` as one line under ``prog`` and return exit status 2."""
    text = str(err).strip().splitlines()
    print(
        f"{prog}: error: {text[0] if text else type(err).__name__}" + (" ..." if len(text) > 1 else ""), file=sys.stderr
    )
    for line in text[1:]:
        print(f"  {line}", file=sys.stderr)
    return 2


def add_generator_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ckpt`` (a ``beautygan fit`` checkpoint, or its run folder) and ``--device``, as every command that runs the
    generator takes them."""
    parser.add_argument(
        "--ckpt", required=True, type=Path, help="checkpoint written by `beautygan fit` (or its run folder)"
    )
    parser.add_argument("--device", default=device_default(), help="where the generator runs (default: cuda if any)")


def announce_generator(prog: str, model) -> None:
    """The start-up line of a command that runs a checkpoint: which generator it holds (a
    :class:`~beautygan.inference.trained_generator.TrainedGenerator`'s ``description``) and the file."""
    print(f"{prog}: {model.description}, checkpoint {model.checkpoint}", flush=True)


def add_control_arguments(parser: argparse.ArgumentParser, *, strength: bool = True) -> None:
    """The options of :class:`~beautygan.inference.controls.MakeupControls`."""
    group = parser.add_argument_group("makeup controls (0: the source, 1: the transfer, up to 1.5: extrapolated)")
    if strength:
        group.add_argument("--strength", type=float, default=1.0, help="strength of the whole look (default 1)")
    for region in CONTROL_REGIONS:
        group.add_argument(
            f"--{region}-strength", type=float, default=1.0, help=f"strength of the {region}, times --strength"
        )
    for region in CONTROL_REGIONS:
        group.add_argument(
            f"--{region}",
            type=Path,
            default=None,
            metavar="REF",
            help=f"a reference photo whose {region} look to use instead of --reference's",
        )


def controls_from(args: argparse.Namespace, *, strength: float | None = None):
    """The :class:`~beautygan.inference.controls.MakeupControls` of parsed arguments (checked: a bad strength or a
    missing region reference raises ``ValueError`` / ``FileNotFoundError`` before any work)."""
    from ..inference.controls import MakeupControls

    references = {}
    for region in CONTROL_REGIONS:
        path = getattr(args, region)
        if path is not None:
            if not path.is_file():
                raise FileNotFoundError(f"--{region} {path}: no such file")
            references[region] = path
    return MakeupControls(
        strength=getattr(args, "strength", 1.0) if strength is None else strength,
        **{f"{region}_strength": getattr(args, f"{region}_strength") for region in CONTROL_REGIONS},
        **references,
    )


def parse_strengths(text: str) -> list[float]:
    """``"0,0.25,0.5"`` -> ``[0.0, 0.25, 0.5]``."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"--strengths must be numbers separated by commas, e.g. 0,0.25,0.5,0.75,1; got {text!r}"
        ) from None
    if not values:
        raise ValueError("--strengths is empty")
    return values


def device_default() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
