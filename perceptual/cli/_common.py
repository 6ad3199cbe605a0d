"""Arguments every ``perceptual`` command that runs VGG declares the same way (names, choices, defaults, help)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def add_arch(parser: argparse.ArgumentParser, *, default: str | None = "vgg16", help: str | None = None) -> None:
    parser.add_argument("--arch", choices=("vgg16", "vgg19"), default=default, help=help)


def add_weights(parser: argparse.ArgumentParser, *, help: str) -> None:
    parser.add_argument("--weights", default="imagenet", help=help)


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available, else cpu)")


def resolve_device(name: str | None) -> torch.device:
    """``--device`` as a torch device; ``None`` is CUDA when available, else the CPU."""
    import torch

    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
