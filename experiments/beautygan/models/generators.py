"""The generators a ``beautygan fit`` run can train, by name, and how a checkpoint's hyper-parameters rebuild one:
BeautyGAN's (:class:`~beautygan.models.beautygan.Generator`) and PSGAN's
(:class:`~beautygan.models.psgan.PSGANGenerator`). Plain torch: training and inference both build through
:func:`build_generator`."""

from __future__ import annotations

from typing import Literal

from torch import nn

from .beautygan import Generator, GeneratorInit
from .layers import GeneratorOutput
from .psgan import PSGANGenerator, RegionGrid

__all__ = ["GENERATORS", "GeneratorName", "build_generator"]

GeneratorName = Literal["beautygan", "psgan"]
GENERATORS: tuple[str, ...] = ("beautygan", "psgan")
"""The generators by name (a checkpoint's ``hyper_parameters.generator``; one without the key is BeautyGAN's)."""


def build_generator(
    generator: GeneratorName = "beautygan",
    *,
    width: int = 64,
    residual_blocks: int = 6,
    makeup_blocks: int = 3,
    init: GeneratorInit = "xavier",
    output: GeneratorOutput = "image",
    region_grid: RegionGrid = "nearest",
) -> nn.Module:
    """The generator a checkpoint's hyper-parameters describe (``generator``, ``generator_width``,
    ``residual_blocks``, ``makeup_blocks``, ``generator_init``, ``generator_output``, ``region_grid``): BeautyGAN's
    ``Generator(width, residual_blocks, init, output)``, or ``PSGANGenerator(width, mdnet_blocks=makeup_blocks,
    manet_blocks=residual_blocks, init, output, region_grid)`` (``makeup_blocks`` and ``region_grid`` are PSGAN's
    alone)."""
    if generator == "beautygan":
        return Generator(width=width, residual_blocks=residual_blocks, init=init, output=output)
    if generator == "psgan":
        return PSGANGenerator(
            width=width,
            mdnet_blocks=makeup_blocks,
            manet_blocks=residual_blocks,
            init=init,
            output=output,
            region_grid=region_grid,
        )
    raise ValueError(f"generator must be one of {list(GENERATORS)}, got {generator!r}")
