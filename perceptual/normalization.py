"""How a set of VGG weights expects its input to be prepared.

Weights trained in PyTorch (torchvision) expect RGB in [0, 1] standardized with the ImageNet
mean/std. Weights converted from Caffe, Keras or TensorFlow (``vgg16.npy``) expect "caffe"
preprocessing: BGR channel order, pixel values in [0, 255], the per-channel mean
``[103.939, 116.779, 123.68]`` (B, G, R) subtracted and no division by a std.

The user only states the range of *their* tensors (``(-1, 1)`` for GAN outputs, ``(0, 1)`` or
``(0, 255)``); :meth:`InputNormalization.affine` folds that range and the weights' preprocessing
into one per-channel multiply-add on RGB input.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["CAFFE", "IMAGENET", "RAW", "InputNormalization"]


@dataclass(frozen=True)
class InputNormalization:
    """Input preparation expected by a set of weights.

    ``mean`` and ``std`` are listed in ``channel_order`` and in units of ``pixel_scale``
    (the weights see pixel values in ``[0, pixel_scale]`` before ``(p - mean) / std``).
    """

    name: str
    channel_order: Literal["RGB", "BGR"]
    pixel_scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    passthrough: bool = False
    """Feed tensors exactly as they come, whatever ``input_range`` says (``mean``/``std`` are ignored)."""

    def __post_init__(self) -> None:
        if self.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"channel_order must be 'RGB' or 'BGR', got {self.channel_order!r}")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError(f"mean and std need 3 values, got mean={self.mean}, std={self.std}")
        if any(s <= 0 for s in self.std) or self.pixel_scale <= 0:
            raise ValueError(
                f"std and pixel_scale must be positive, got std={self.std}, pixel_scale={self.pixel_scale}"
            )

    def rgb_mean_std(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``mean`` and ``std`` in RGB order."""
        if self.channel_order == "BGR":
            return tuple(reversed(self.mean)), tuple(reversed(self.std))
        return tuple(self.mean), tuple(self.std)

    def affine(self, input_range: tuple[float, float]) -> tuple[list[float], list[float]]:
        """Per-RGB-channel ``(scale, shift)`` with ``normalized = x * scale + shift`` for ``x`` in ``input_range``.

        The channel *order* (RGB->BGR) is not part of this map: :class:`~perceptual.VGGFeatures` permutes the
        input channels of the first convolution instead, which is exact and costs nothing per call.
        """
        low, high = check_input_range(input_range)
        if self.passthrough:
            return [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]
        mean, std = self.rgb_mean_std()
        unit = self.pixel_scale / (high - low)
        scale = [unit / s for s in std]
        shift = [(-low * unit - m) / s for m, s in zip(mean, std)]
        return scale, shift

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> InputNormalization:
        data = json.loads(text)
        return cls(
            name=data["name"],
            channel_order=data["channel_order"],
            pixel_scale=float(data["pixel_scale"]),
            mean=_three_floats(data["mean"], "mean"),
            std=_three_floats(data["std"], "std"),
            passthrough=bool(data.get("passthrough", False)),
        )


def _three_floats(values: Any, name: str) -> tuple[float, float, float]:
    numbers = [float(v) for v in values]
    if len(numbers) != 3:
        raise ValueError(f"{name} needs 3 values (one per channel), got {numbers}")
    return numbers[0], numbers[1], numbers[2]


IMAGENET = InputNormalization(
    name="imagenet", channel_order="RGB", pixel_scale=1.0, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
)
"""torchvision's ImageNet standardization (all ``IMAGENET1K_V1`` classification weights)."""

CAFFE = InputNormalization(
    name="caffe", channel_order="BGR", pixel_scale=255.0, mean=(103.939, 116.779, 123.68), std=(1.0, 1.0, 1.0)
)
"""Caffe/Keras ``preprocess_input``/TF ``vgg16.npy``: BGR, 0-255, mean subtracted, no std."""

RAW = InputNormalization(
    name="none", channel_order="RGB", pixel_scale=1.0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), passthrough=True
)
"""No preparation at all: the tensor is fed as it is (reproduces code that skipped normalization)."""

_NAMED = {"imagenet": IMAGENET, "caffe": CAFFE, "none": RAW}


def get_normalization(normalization: str | InputNormalization) -> InputNormalization:
    """Resolve ``"imagenet"``, ``"caffe"``, ``"none"`` or pass an :class:`InputNormalization` through."""
    if isinstance(normalization, InputNormalization):
        return normalization
    if normalization not in _NAMED:
        raise ValueError(f"normalization must be one of {list(_NAMED)} or an InputNormalization, got {normalization!r}")
    return _NAMED[normalization]


def check_input_range(input_range: tuple[float, float]) -> tuple[float, float]:
    """Validate a ``(low, high)`` pair such as ``(-1, 1)``, ``(0, 1)`` or ``(0, 255)``."""
    try:
        low, high = (float(v) for v in input_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"input_range must be a pair (low, high) such as (-1, 1) or (0, 1), got {input_range!r}"
        ) from None
    if not high > low:
        raise ValueError(f"input_range must have high > low, got {input_range!r}")
    return low, high
