"""The building blocks BeautyGAN's and PSGAN's generators share (both follow the CycleGAN / StarGAN generator style of
their official code, wtjiang98/BeautyGAN_pytorch ``net.py`` and wtjiang98/PSGAN ``psgan/net.py``):

- :func:`conv_in_relu`: convolution (no bias), InstanceNorm, ReLU;
- :class:`ResidualBlock`: conv3x3-IN-ReLU-conv3x3-IN plus the input;
- :class:`Fp32Conv2d`: the last convolution, run in float32 whatever the autocast state;
- :func:`output_image`: the last convolution's channels as the output image, ``"image"`` (the official ``tanh``),
  ``"attention"`` (a 4th channel as a mask that keeps the input's pixels; GANimation's attention output, Pumarola et
  al., ECCV 2018; in neither official generator) or ``"regions"`` (a colour layer per face region, each pixel taking
  its own region's, and the mask; pixels in no region keep the input's; for a generator given the source's regions)
  or ``"reference_colours"`` (the same, each region's layer a correction of a base image the generator gives: the
  source recoloured with the reference's colours of that region).

The helpers return lists of modules (or modules) whose positions give the official state-dict keys.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

__all__ = [
    "BASE_LIMIT",
    "OUTPUTS",
    "OUTPUT_REGIONS",
    "REGION_OUTPUTS",
    "GeneratorOutput",
    "Fp32Conv2d",
    "ResidualBlock",
    "conv_in_relu",
    "output_channels",
    "output_image",
]

GeneratorOutput = Literal["image", "attention", "regions", "reference_colours"]
"""What a generator's last convolution paints: the whole image, a colour layer and a mask, a colour layer per face
region and a mask, or a correction per face region of a base image and a mask (:func:`output_image`)."""
OUTPUTS: tuple[GeneratorOutput, ...] = ("image", "attention", "regions", "reference_colours")
"""Every :data:`GeneratorOutput`, the official ``"image"`` first."""
REGION_OUTPUTS: tuple[GeneratorOutput, ...] = ("regions", "reference_colours")
"""The outputs that paint a layer per face region (they need the source's regions)."""
BASE_LIMIT = 1.0 - 1e-3
"""``"reference_colours"``: base values are clipped to ``[-BASE_LIMIT, BASE_LIMIT]`` before ``atanh`` (finite)."""
OUTPUT_REGIONS = 3
"""The face regions ``"regions"`` paints a colour layer for (PSGAN's lips, skin, eyes)."""


class Fp32Conv2d(nn.Conv2d):
    """A convolution that runs in float32 (float64 for float64 inputs) even under autocast or with half weights: a
    generator's last layer, so that the images that feed the losses (histogram bins, cycle and identity L1, VGG) are
    not quantized to bf16's 8 mantissa bits."""

    def forward(self, x: Tensor) -> Tensor:
        dtype = torch.promote_types(x.dtype, torch.float32)
        bias = None if self.bias is None else self.bias.to(dtype)
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self._conv_forward(x.to(dtype), self.weight.to(dtype), bias)


def conv_in_relu(
    c_in: int, c_out: int, kernel: int, stride: int, padding: int, *, affine: bool = True, transposed: bool = False
) -> list[nn.Module]:
    """``[conv (no bias), InstanceNorm2d(affine), ReLU(inplace)]``; ``transposed`` for a ``ConvTranspose2d``."""
    conv_cls = nn.ConvTranspose2d if transposed else nn.Conv2d
    return [
        conv_cls(c_in, c_out, kernel_size=kernel, stride=stride, padding=padding, bias=False),
        nn.InstanceNorm2d(c_out, affine=affine),
        nn.ReLU(inplace=True),
    ]


class ResidualBlock(nn.Module):
    """conv3x3-IN-ReLU-conv3x3-IN with an identity shortcut (no biases); affine InstanceNorm unless ``affine=False``
    (PSGAN's MANet)."""

    def __init__(self, channels: int, *, affine: bool = True) -> None:
        super().__init__()
        self.main = nn.Sequential(
            *conv_in_relu(channels, channels, 3, 1, 1, affine=affine),
            nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1, bias=False),
            nn.InstanceNorm2d(channels, affine=affine),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.main(x)


def output_channels(output: GeneratorOutput) -> int:
    """Channels of the last convolution for ``output``: 3 (``"image"``), 4 (``"attention"``: colour and mask) or 10
    (``"regions"``, ``"reference_colours"``: a colour layer for each of the 3 regions, then the mask)."""
    if output not in OUTPUTS:
        raise ValueError(
            f"output must be 'image' (official), 'attention', 'regions' or 'reference_colours', got {output!r}"
        )
    return 3 if output == "image" else 4 if output == "attention" else 3 * OUTPUT_REGIONS + 1


def output_image(
    raw: Tensor,
    source: Tensor,
    output: GeneratorOutput,
    region_ids: Tensor | None = None,
    base: Tensor | None = None,
) -> Tensor:
    """The output image of the last convolution's ``raw`` channels. ``"image"``: ``tanh(raw)``. ``"attention"``: a mask
    ``m = sigmoid(raw[:, 3])`` and ``m * tanh(raw[:, :3]) + (1 - m) * source``, where ``source`` is the image the
    generator transforms: pixels the mask leaves out are copied from it.

    ``"regions"``: ``raw`` holds 3 colour layers (channels 0-2, 3-5, 6-8) and a mask (channel 9); each pixel takes the
    colour layer of its region in ``region_ids`` ``(N, H, W)`` (0, 1, 2: the source's regions), then the mask as in
    ``"attention"``; a pixel in no region (-1: hair, background, eyes, teeth, ...) is ``source``'s. A region's
    layer reaches its own pixels only, to the pixel: lipstick cannot be painted beside the lips or between them.

    ``"reference_colours"``: as ``"regions"``, with each colour layer ``tanh(raw + atanh(base))`` for the region's
    ``base`` ``(N, 3, 3, H, W)`` (a region's base image, in [-1, 1], clipped to :data:`BASE_LIMIT`): the raw channels
    are a correction of the base, which a zero ``raw`` leaves as it is."""
    if output == "image":
        return torch.tanh(raw)
    mask, source = torch.sigmoid(raw[:, -1:]), source.to(raw.dtype)
    if output == "attention":
        return mask * torch.tanh(raw[:, :3]) + (1.0 - mask) * source
    n, _, height, width = raw.shape
    if region_ids is None or tuple(region_ids.shape) != (n, height, width):
        raise ValueError(
            f"output {output!r} needs region ids of shape {(n, height, width)}, got "
            f"{None if region_ids is None else tuple(region_ids.shape)}"
        )
    layers = raw[:, :-1].view(n, OUTPUT_REGIONS, 3, height, width)
    if output == "reference_colours":
        if base is None or tuple(base.shape) != tuple(layers.shape):
            raise ValueError(
                f"output 'reference_colours' needs a base of shape {tuple(layers.shape)}, got "
                f"{None if base is None else tuple(base.shape)}"
            )
        layers = layers + torch.atanh(base.to(raw.dtype).clamp(-BASE_LIMIT, BASE_LIMIT))
    layers = torch.tanh(layers)
    index = region_ids.clamp(0, OUTPUT_REGIONS - 1).view(n, 1, 1, height, width).expand(n, 1, 3, height, width)
    painted = mask * layers.gather(1, index).squeeze(1) + (1.0 - mask) * source
    return torch.where((region_ids < 0).unsqueeze(1), source, painted)
