"""BeautyGAN's generator as in the official code (wtjiang98/BeautyGAN_pytorch ``Generator_branch``).

- :class:`Generator`: ``G(non_makeup=a, makeup=b)`` -> :class:`Translation` ``(makeup=a wearing b's makeup,
  non_makeup=b without makeup)``. Two input branches, a shared encoder/bottleneck/decoder and two output heads;
  about 9.24M parameters at the default size. Inputs and outputs are named by *domain*: an output named
  ``makeup`` is compared with makeup images, one named ``non_makeup`` with non-makeup images, whatever went in.
  The cycle pass is ``G(non_makeup=fake.non_makeup, makeup=fake.makeup)``: each branch always sees its own domain.

Its discriminators are :class:`~beautygan.models.discriminator.PatchDiscriminator`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from .layers import Fp32Conv2d, GeneratorOutput, ResidualBlock, conv_in_relu, output_channels, output_image

__all__ = ["Generator", "GeneratorInit", "GeneratorOutput", "Translation"]

GeneratorInit = Literal["xavier", "pytorch"]


class Translation(NamedTuple):
    """The generator's two outputs, each named by the domain it belongs to (images in [-1, 1])."""

    makeup: Tensor
    """The non-makeup input wearing the makeup input's makeup (makeup domain)."""
    non_makeup: Tensor
    """The makeup input with its makeup removed (non-makeup domain)."""


def _input_branch(width: int) -> nn.Sequential:
    return nn.Sequential(*conv_in_relu(3, width, 7, 1, 3), *conv_in_relu(width, width * 2, 4, 2, 1))


class _OutputHead(nn.Sequential):
    """Two conv3x3-IN-ReLU and a float32 conv7x7 (the official head's layers and state-dict keys).

    ``"image"`` (official): ``tanh`` of 3 channels is the output. ``"attention"``: a 4th channel gives a mask
    ``m = sigmoid(.)`` and the output is ``m * tanh(colour) + (1 - m) * source``, where ``source`` is the image the
    head transforms: pixels the mask leaves out are copied from it (:func:`~beautygan.models.layers.output_image`)."""

    def __init__(self, width: int, output: GeneratorOutput) -> None:
        super().__init__(
            *conv_in_relu(width, width, 3, 1, 1),
            *conv_in_relu(width, width, 3, 1, 1),
            Fp32Conv2d(width, output_channels(output), kernel_size=7, stride=1, padding=3, bias=False),
        )
        self.output = output

    def forward(self, h: Tensor, source: Tensor) -> Tensor:  # type: ignore[override]
        return output_image(super().forward(h), source, self.output)


class Generator(nn.Module):
    """BeautyGAN generator.

    Args:
        width: channels after the first conv (64 in the paper); the bottleneck has ``4 * width``.
        residual_blocks: residual blocks in the bottleneck (6 in the paper).
        init: ``"xavier"``: the official ``weights_init_xavier`` (``xavier_normal_``, gain 1, on every convolution
            and transposed convolution; InstanceNorm affine 1/0); ``"pytorch"``: PyTorch's default initialization.
        output: ``"image"`` (official): each head paints the whole image (``tanh``). ``"attention"`` (not in
            BeautyGAN; GANimation's attention output, Pumarola et al., ECCV 2018): each head also paints a mask, and
            pixels outside it are copied from the image that head transforms (the made-up face from the non-makeup
            input, the de-made-up face from the makeup input), so a short training run keeps the background, hair
            and skin of its input.

    ``forward(non_makeup, makeup)`` takes two ``(N, 3, H, W)`` images in [-1, 1] (H, W divisible by 4): ``non_makeup``
    goes through the non-makeup input branch, ``makeup`` through the makeup branch. It returns a :class:`Translation`
    ``(makeup=non_makeup wearing makeup's makeup, non_makeup=makeup without makeup)`` in [-1, 1], float32 even under
    autocast (the last convolution runs in float32).
    """

    def __init__(
        self,
        *,
        width: int = 64,
        residual_blocks: int = 6,
        init: GeneratorInit = "xavier",
        output: GeneratorOutput = "image",
    ) -> None:
        super().__init__()
        if width < 1 or residual_blocks < 0:
            raise ValueError(f"width must be >= 1 and residual_blocks >= 0, got {width} and {residual_blocks}")
        if init not in ("xavier", "pytorch"):
            raise ValueError(f"init must be 'xavier' (official) or 'pytorch', got {init!r}")
        if output not in ("image", "attention"):
            raise ValueError(
                f"output must be 'image' (official) or 'attention' ('regions' and 'reference_colours' need the face's "
                f"regions, which only the psgan generator is given), got {output!r}"
            )
        self.width = width
        self.output = output
        self.non_makeup_branch = _input_branch(width)
        self.makeup_branch = _input_branch(width)
        trunk: list[nn.Module] = conv_in_relu(width * 4, width * 4, 4, 2, 1)
        trunk += [ResidualBlock(width * 4) for _ in range(residual_blocks)]
        trunk += conv_in_relu(width * 4, width * 2, 4, 2, 1, transposed=True)
        trunk += conv_in_relu(width * 2, width, 4, 2, 1, transposed=True)
        self.trunk = nn.Sequential(*trunk)
        self.makeup_head = _OutputHead(width, output)
        self.non_makeup_head = _OutputHead(width, output)
        if init == "xavier":
            for module in self.modules():
                if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                    nn.init.xavier_normal_(module.weight, gain=1.0)

    def forward(self, non_makeup: Tensor, makeup: Tensor) -> Translation:
        for name, x in (("non_makeup", non_makeup), ("makeup", makeup)):
            if x.ndim != 4 or x.shape[1] != 3:
                raise ValueError(f"{name} must be (N, 3, H, W), got shape {tuple(x.shape)}")
            if x.shape[-2] % 4 or x.shape[-1] % 4:
                raise ValueError(f"{name} height and width must be divisible by 4, got {tuple(x.shape[-2:])}")
        if non_makeup.shape != makeup.shape:
            raise ValueError(
                f"non_makeup and makeup must have the same shape, got {tuple(non_makeup.shape)} and {tuple(makeup.shape)}"
            )
        h = self.trunk(torch.cat([self.non_makeup_branch(non_makeup), self.makeup_code(makeup)], dim=1))
        return Translation(makeup=self.makeup_head(h, non_makeup), non_makeup=self.non_makeup_head(h, makeup))

    def makeup_code(self, makeup: Tensor, geometry: object = None) -> Tensor:
        """What the makeup branch encodes of ``makeup`` images: ``(N, 2 * width, H / 2, W / 2)``. The rest of the
        network reads a reference's look only through this code, so codes can be mixed (:meth:`mix_codes`) and
        given to :meth:`apply_makeup`. ``geometry`` is ignored: it is there so that this generator and the
        PSGAN-style one (:class:`~beautygan.models.psgan.PSGANGenerator`, which needs it) are called alike."""
        return self.makeup_branch(makeup)

    def apply_makeup(self, non_makeup: Tensor, code: Tensor, geometry: object = None) -> Tensor:
        """``non_makeup`` wearing the look that ``code`` (:meth:`makeup_code`) encodes: the made-up output of
        :meth:`forward` with the makeup branch's output replaced by ``code``, so that
        ``apply_makeup(a, makeup_code(b))`` equals ``forward(a, b).makeup`` bit for bit. ``geometry`` is ignored
        (see :meth:`makeup_code`)."""
        h = self.trunk(torch.cat([self.non_makeup_branch(non_makeup), code], dim=1))
        return self.makeup_head(h, non_makeup)

    def mix_codes(self, codes: Sequence[Tensor], weights: Sequence[float] | Tensor) -> Tensor:
        """The code of the mix ``sum_i weights[i] * codes[i]`` of makeup codes of one shape: ``weights`` is one
        number per code, or an ``(N, len(codes))`` tensor (one mix per item), used as given (convex weights
        interpolate, others extrapolate). Two codes with two numbers that add up to 1 (an interpolation) are mixed
        with ``torch.lerp(codes[0], codes[1], weights[1])``: the same sum, with lerp's rounding."""
        if isinstance(codes, Tensor) or not codes or not all(isinstance(c, Tensor) for c in codes):
            raise TypeError(f"codes must be a non-empty sequence of tensors, got {codes!r:.80}")
        shape = codes[0].shape
        for i, code in enumerate(codes):
            if code.shape != shape:
                raise ValueError(
                    f"codes must share one shape: code 0 is {tuple(shape)}, code {i} is {tuple(code.shape)}"
                )
        if not isinstance(weights, Tensor):
            numbers = [float(w) for w in weights]
            if len(numbers) != len(codes):
                raise ValueError(f"weights must be {len(codes)} numbers (one per code), got {len(numbers)}")
            if not all(math.isfinite(w) for w in numbers):
                raise ValueError(f"weights must be finite, got {numbers}")
            if len(codes) == 2 and numbers[0] + numbers[1] == 1.0:
                return torch.lerp(codes[0], codes[1], numbers[1])
            return sum((w * c for w, c in zip(numbers[1:], codes[1:])), numbers[0] * codes[0])
        if codes[0].ndim != 4 or weights.shape != (shape[0], len(codes)):
            raise ValueError(
                f"a weights tensor must be ({shape[0]}, {len(codes)}) for codes of shape (N, C, H, W) "
                f"{tuple(shape)}, got shape {tuple(weights.shape)}"
            )
        if not bool(torch.isfinite(weights).all()):
            raise ValueError("weights must be finite")
        table = weights.to(codes[0].device, codes[0].dtype)[:, :, None, None, None]
        return sum((table[:, i] * c for i, c in enumerate(codes) if i), table[:, 0] * codes[0])
