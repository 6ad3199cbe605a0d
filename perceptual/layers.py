"""Named taps of VGG16 and VGG19 (Simonyan & Zisserman, 2015), in torchvision's layer order.

Every module of torchvision's ``vgg16().features`` / ``vgg19().features`` is a tap with a
canonical name: ``conv{block}_{i}`` (convolution output, before the ReLU), ``relu{block}_{i}``
(after the ReLU) and ``pool{block}``. VGG16 has 31 taps, VGG19 has 37.

Keras names its layers ``block{b}_conv{i}`` and ``block{b}_pool``; a Keras conv layer has its
ReLU built in, so ``block{b}_conv{i}`` is the *post*-ReLU output, i.e. ``relu{b}_{i}`` here.
Those names are accepted everywhere as aliases (:data:`KERAS_ALIASES`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

PoolPadding = Literal["valid", "same"]
"""VGG's pooling at odd sizes: ``"valid"`` floors (torchvision, Keras), ``"same"`` rounds up (TF ``SAME``)."""

__all__ = ["KERAS_ALIASES", "VGG16_LAYERS", "VGG19_LAYERS", "canonical_layer_name", "layer_names"]

# torchvision's VGG configurations "D" (VGG16) and "E" (VGG19): conv widths, "M" = max pool.
_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ),
}

ARCHITECTURES: tuple[str, ...] = tuple(_CONFIGS)


def check_arch(arch: str) -> str:
    if arch not in _CONFIGS:
        raise ValueError(f"arch must be one of {list(ARCHITECTURES)}, got {arch!r}")
    return arch


@dataclass(frozen=True)
class ConvSpec:
    """One 3x3 convolution of a VGG trunk, as :func:`vgg_convs` lists them."""

    block: int  # 1-based
    number: int  # 1-based within its block: conv{block}_{number}
    index: int  # position in torchvision's ``features`` (its state-dict prefix ``{index}.weight``)
    in_channels: int
    out_channels: int
    pool_after: bool  # a 2x2 max pool follows its ReLU (the last conv of each block)


@functools.cache
def vgg_convs(arch: str) -> tuple[ConvSpec, ...]:
    """The convolutions of ``arch`` in network order: the one walk of torchvision's configuration table that the
    trunk builder, weight converters, shape checks and layer tables share."""
    config = _CONFIGS[check_arch(arch)]
    convs: list[ConvSpec] = []
    block, number, index, channels = 1, 1, 0, 3
    for position, item in enumerate(config):
        if item == "M":
            block, number, index = block + 1, 1, index + 1
            continue
        pool_after = position + 1 < len(config) and config[position + 1] == "M"
        convs.append(ConvSpec(block, number, index, channels, int(item), pool_after))
        number, index, channels = number + 1, index + 2, int(item)
    return tuple(convs)


def _taps(arch: str) -> tuple[str, ...]:
    names: list[str] = []
    for conv in vgg_convs(arch):
        names += [f"conv{conv.block}_{conv.number}", f"relu{conv.block}_{conv.number}"]
        if conv.pool_after:
            names.append(f"pool{conv.block}")
    return tuple(names)


VGG16_LAYERS: tuple[str, ...] = _taps("vgg16")
"""The 31 taps of VGG16 in network order; position ``i`` is ``torchvision.models.vgg16().features[i]``."""

VGG19_LAYERS: tuple[str, ...] = _taps("vgg19")
"""The 37 taps of VGG19 in network order; position ``i`` is ``torchvision.models.vgg19().features[i]``."""

_LAYERS = {"vgg16": VGG16_LAYERS, "vgg19": VGG19_LAYERS}


def _keras_aliases(names: tuple[str, ...]) -> dict[str, str]:
    aliases = {}
    for name in names:
        if name.startswith("relu"):
            block, conv = name[4:].split("_")
            aliases[f"block{block}_conv{conv}"] = name
        elif name.startswith("pool"):
            aliases[f"block{name[4:]}_pool"] = name
    return aliases


KERAS_ALIASES: dict[str, str] = _keras_aliases(VGG19_LAYERS)
"""Keras layer name -> canonical name. ``block4_conv1`` is post-ReLU in Keras, so it maps to ``relu4_1``.
VGG16 has no ``block3_conv4``/``block4_conv4``/``block5_conv4``."""


def layer_names(arch: str = "vgg16") -> tuple[str, ...]:
    """All canonical tap names of ``arch`` in network order."""
    return _LAYERS[check_arch(arch)]


def canonical_layer_name(name: str, arch: str = "vgg16") -> str:
    """Map a canonical or Keras-style name to its canonical name; ``ValueError`` listing the valid ones otherwise."""
    names = layer_names(arch)
    if not isinstance(name, str):
        raise TypeError(f"layer names are strings such as 'relu4_1', got {type(name).__name__}: {name!r}")
    canonical = KERAS_ALIASES.get(name, name)
    if canonical not in names:
        keras = [alias for alias, target in KERAS_ALIASES.items() if target in names]
        raise ValueError(
            f"unknown {arch} layer {name!r}. Valid names: {', '.join(names)}. "
            f"Keras-style aliases (post-ReLU): {', '.join(keras)}."
        )
    return canonical


def layer_index(name: str, arch: str = "vgg16") -> int:
    """Index of the tap in ``torchvision.models.<arch>().features``."""
    canonical = canonical_layer_name(name, arch)
    return layer_names(arch).index(canonical)
