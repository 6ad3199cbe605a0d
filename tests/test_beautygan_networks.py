"""BeautyGAN generator and discriminators: sizes and shapes of the official architecture."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from experiments.beautygan.networks import Generator, PatchDiscriminator


def _official_generator_params(width: int = 64, blocks: int = 6) -> int:
    # Hand count: convs without bias, affine InstanceNorm (2 * C each).
    def conv(i, o, k): return i * o * k * k
    branch = conv(3, width, 7) + 2 * width + conv(width, 2 * width, 4) + 4 * width
    trunk = conv(4 * width, 4 * width, 4) + 8 * width
    trunk += blocks * 2 * (conv(4 * width, 4 * width, 3) + 8 * width)
    trunk += conv(4 * width, 2 * width, 4) + 4 * width + conv(2 * width, width, 4) + 2 * width
    head = 2 * (conv(width, width, 3) + 2 * width) + conv(width, 3, 7)
    return 2 * branch + trunk + 2 * head


def test_generator_parameter_count() -> None:
    count = sum(p.numel() for p in Generator().parameters())
    assert count == _official_generator_params() == 9_237_376  # "about 9.24M"


def test_generator_shapes_and_range() -> None:
    g = Generator(width=8, residual_blocks=1)
    a, b = torch.rand(2, 3, 32, 48) * 2 - 1, torch.rand(2, 3, 32, 48) * 2 - 1
    made_up, demade = g(a, b)
    assert made_up.shape == demade.shape == (2, 3, 32, 48)
    assert made_up.abs().max() <= 1 and demade.abs().max() <= 1
    assert all(m.bias is None for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    assert all(m.affine for m in g.modules() if isinstance(m, nn.InstanceNorm2d))


def test_generator_rejects_bad_input() -> None:
    g = Generator(width=4, residual_blocks=0)
    with pytest.raises(ValueError, match="divisible by 4"):
        g(torch.zeros(1, 3, 30, 32), torch.zeros(1, 3, 30, 32))
    with pytest.raises(ValueError, match="same shape"):
        g(torch.zeros(1, 3, 32, 32), torch.zeros(2, 3, 32, 32))


def test_discriminator_30x30_at_256_with_spectral_norm_everywhere() -> None:
    d = PatchDiscriminator(width=4)  # the shape does not depend on the width
    with torch.no_grad():
        assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
        assert d(torch.zeros(2, 3, 64, 64)).shape == (2, 1, 6, 6)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 5 and all(hasattr(m, "parametrizations") for m in convs)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) for m in d.modules())
    assert {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)} == {0.01}
    full = sum(p.numel() for p in PatchDiscriminator().parameters())
    assert full == 3 * 64 * 16 + 64 + 64 * 128 * 16 + 128 + 128 * 256 * 16 + 256 + 256 * 512 * 16 + 512 + 512 * 16
