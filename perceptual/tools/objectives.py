"""What DeepDream maximizes: the mean activation of one channel, of a list of channels, of a whole layer (optionally
squared), or a weighted sum of such terms over several layers of VGG.

The objectives of Google's 2015 TensorFlow DeepDream notebook (``deepdream.ipynb`` in TensorFlow's
``examples/tutorials/deepdream``; Mordvintsev, Olah & Tyka, "Inceptionism: Going Deeper into Neural Networks"):
``tf.reduce_mean(layer_output[:, :, :, channel])`` is :meth:`Objective.channel`, ``tf.square(layer_output)`` is
``square=True``. An :class:`Objective` gives one score per batch element from the features of
:class:`~perceptual.VGGFeatures`; :func:`~perceptual.tools.dream.deep_dream` ascends its gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from perceptual.layers import canonical_layer_name, layer_names, vgg_convs

__all__ = ["Objective", "ObjectiveTerm", "PerSampleChannel", "ScoreFn", "as_objective", "layer_channels"]

ScoreFn = Callable[[Mapping[str, Tensor]], Tensor]
"""Features of a batch -> one score per batch element, shape ``(N,)``."""


def layer_channels(layer: str, arch: str = "vgg16") -> int:
    """Number of channels of tap ``layer`` of ``arch`` (``ValueError`` listing the valid names if unknown)."""
    index = layer_names(arch).index(canonical_layer_name(layer, arch))  # its position in torchvision's features
    return [conv for conv in vgg_convs(arch) if conv.index <= index][-1].out_channels  # a pool keeps its conv's width


@dataclass(frozen=True)
class ObjectiveTerm:
    """``weight * mean(activation[:, channels] ** (2 if square else 1))`` over channels and positions of ``layer``."""

    layer: str
    """A tap name (``relu4_3``, or Keras' ``block4_conv3``)."""
    channels: tuple[int, ...] | None = None
    """Channel indices; ``None`` for the whole layer."""
    weight: float = 1.0
    """Multiplier of this term in the sum."""
    square: bool = False
    """Maximize the mean *squared* activation (the notebook's final DeepDream: ``tf.square(layer_output)``)."""

    def __post_init__(self) -> None:
        if not isinstance(self.layer, str):
            got = f"{type(self.layer).__name__}: {self.layer!r}"
            raise TypeError(f"layer must be a tap name such as 'relu4_3', got {got}")
        if self.channels is not None:
            channels = (self.channels,) if isinstance(self.channels, int) else tuple(self.channels)
            if not channels:
                raise ValueError(f"channels of {self.layer!r} is empty; pass None for the whole layer")
            for channel in channels:
                if isinstance(channel, bool) or not isinstance(channel, int):
                    raise TypeError(f"channel indices must be ints, got {type(channel).__name__}: {channel!r}")
            if len(set(channels)) != len(channels):
                raise ValueError(f"channels of {self.layer!r} has duplicates: {list(channels)}")
            object.__setattr__(self, "channels", channels)
        if isinstance(self.weight, bool) or not isinstance(self.weight, (int, float)) or not math.isfinite(self.weight):
            raise TypeError(f"weight must be a finite number, got {self.weight!r}")

    def check(self, arch: str) -> ObjectiveTerm:
        """Validate the layer name and channel indices for ``arch``; returns the term with the canonical name."""
        canonical = canonical_layer_name(self.layer, arch)
        count = layer_channels(canonical, arch)
        bad = [c for c in (self.channels or ()) if not 0 <= c < count]
        if bad:
            raise ValueError(
                f"channel index {bad[0]} is out of range for {arch} layer {self.layer!r}, which has {count} channels: "
                f"valid indices are 0..{count - 1}" + (f" (also out of range: {bad[1:]})" if len(bad) > 1 else "")
            )
        return replace(self, layer=canonical)

    def score(self, features: Mapping[str, Tensor]) -> Tensor:
        activation = features[self.layer]
        if self.channels is not None:
            if len(self.channels) == 1:
                activation = activation[:, self.channels[0] : self.channels[0] + 1]
            else:
                activation = activation[:, list(self.channels)]
        if self.square:
            activation = activation.square()
        return activation.mean(dim=(1, 2, 3)) * self.weight


@dataclass(frozen=True)
class Objective:
    """A weighted sum of :class:`ObjectiveTerm`; one score per batch element.

    Build with :meth:`channel`, :meth:`channels`, :meth:`layer`, :meth:`weighted_sum`, and combine with ``+`` and
    scalar ``*``: ``Objective.channel("relu4_3", 12) + 0.5 * Objective.layer("relu3_3")``.
    """

    terms: tuple[ObjectiveTerm, ...]

    def __post_init__(self) -> None:
        terms = tuple(self.terms)
        if not terms:
            raise ValueError("an Objective needs at least one term")
        for term in terms:
            if not isinstance(term, ObjectiveTerm):
                raise TypeError(f"Objective terms must be ObjectiveTerm, got {type(term).__name__}")
        object.__setattr__(self, "terms", terms)

    @classmethod
    def channel(cls, layer: str, channel: int, *, weight: float = 1.0, square: bool = False) -> Objective:
        """Mean activation of one channel (the notebook's ``layer_output[:, :, :, channel]``)."""
        return cls((ObjectiveTerm(layer, (channel,), weight, square),))

    @classmethod
    def channels(cls, layer: str, channels: Iterable[int], *, weight: float = 1.0, square: bool = False) -> Objective:
        """Mean activation over several channels of one layer."""
        return cls((ObjectiveTerm(layer, tuple(channels), weight, square),))

    @classmethod
    def layer(cls, layer: str, *, weight: float = 1.0, square: bool = False) -> Objective:
        """Mean activation of a whole layer (all channels)."""
        return cls((ObjectiveTerm(layer, None, weight, square),))

    @classmethod
    def weighted_sum(cls, layers: Mapping[str, float], *, square: bool = False) -> Objective:
        """``sum(weight * mean(layer))`` over whole layers, e.g. ``{"relu3_3": 1.0, "relu4_3": 0.5}``."""
        if not isinstance(layers, Mapping):
            raise TypeError(f"layers must map layer names to weights, got {type(layers).__name__}")
        return cls(tuple(ObjectiveTerm(name, None, float(w), square) for name, w in layers.items()))

    def __add__(self, other: Objective) -> Objective:
        if not isinstance(other, Objective):
            return NotImplemented
        return Objective(self.terms + other.terms)

    def __mul__(self, factor: float) -> Objective:
        if isinstance(factor, bool) or not isinstance(factor, (int, float)):
            return NotImplemented
        return Objective(tuple(replace(t, weight=t.weight * factor) for t in self.terms))

    __rmul__ = __mul__

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers the terms read, without duplicates, in the order first used."""
        return tuple(dict.fromkeys(term.layer for term in self.terms))

    def check(self, arch: str) -> Objective:
        """Validate every layer name and channel index for ``arch``; returns the objective with canonical names."""
        return Objective(tuple(term.check(arch) for term in self.terms))

    def __call__(self, features: Mapping[str, Tensor]) -> Tensor:
        """``(N,)`` scores from the extractor's output (which must contain :attr:`layers`)."""
        total = self.terms[0].score(features)
        for term in self.terms[1:]:
            total = total + term.score(features)
        return total


def as_objective(objective: Objective | ObjectiveTerm | str) -> Objective:
    """``objective`` as an :class:`Objective` (a term alone, or a layer name for its whole layer)."""
    if isinstance(objective, Objective):
        return objective
    if isinstance(objective, ObjectiveTerm):
        return Objective((objective,))
    if isinstance(objective, str):
        return Objective.layer(objective)
    raise TypeError(f"objective must be an Objective, an ObjectiveTerm or a layer name, got {type(objective).__name__}")


class PerSampleChannel:
    """Batch element ``i`` scores the mean of channel ``channels[i]`` of ``layer`` (for the contact sheet)."""

    def __init__(self, layer: str, channels: Sequence[int]) -> None:
        self.layer = layer
        self.channels = torch.as_tensor(list(channels), dtype=torch.long)
        self._on: dict[torch.device, Tensor] = {}

    def __call__(self, features: Mapping[str, Tensor]) -> Tensor:
        activation = features[self.layer]
        index = self._on.get(activation.device)
        if index is None:
            index = self._on.setdefault(activation.device, self.channels.to(activation.device))
        picked = activation[torch.arange(activation.shape[0], device=activation.device), index]  # (N, h, w)
        return picked.mean(dim=(1, 2))
