"""BeautyGAN generator and discriminators: sizes and shapes of the official architecture."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from beautygan.models.beautygan import Generator
from beautygan.models.discriminator import PatchDiscriminator


def _official_generator_params(width: int = 64, blocks: int = 6) -> int:
    # Hand count: convs without bias, affine InstanceNorm (2 * C each).
    def conv(i, o, k):
        return i * o * k * k

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


def test_outputs_are_named_by_domain_and_branches_see_their_own_domain() -> None:
    """``non_makeup`` reaches the non-makeup branch only; ``makeup`` is the makeup head's output."""
    g = Generator(width=4, residual_blocks=0)
    a, b = torch.rand(1, 3, 16, 16) * 2 - 1, torch.rand(1, 3, 16, 16) * 2 - 1
    seen = {}
    g.non_makeup_branch.register_forward_hook(lambda m, args, out: seen.update(non_makeup=args[0]))
    g.makeup_head.register_forward_hook(lambda m, args, out: seen.update(makeup_head=out))
    out = g(non_makeup=a, makeup=b)
    assert torch.equal(seen["non_makeup"], a)
    assert torch.equal(out.makeup, seen["makeup_head"])
    positional = g(a, b)
    assert torch.equal(positional.makeup, out.makeup) and torch.equal(positional.non_makeup, out.non_makeup)


def test_xavier_is_the_official_initialization() -> None:
    """Official ``weights_init_xavier``: xavier_normal_(gain 1) on convs and transposed convs; std checked by hand."""
    torch.manual_seed(0)
    xavier, default = Generator(width=16, residual_blocks=1), Generator(width=16, residual_blocks=1, init="pytorch")
    last = xavier.makeup_head[-1].weight  # (3, 16, 7, 7): fan_in 16*49, fan_out 3*49
    assert float(last.std()) == pytest.approx((2 / (16 * 49 + 3 * 49)) ** 0.5, rel=0.05)
    trunk_up = xavier.trunk[-3].weight  # ConvTranspose2d(32, 16, 4): torch's fans: in 16*16, out 32*16
    assert float(trunk_up.std()) == pytest.approx((2 / (16 * 16 + 32 * 16)) ** 0.5, rel=0.05)
    # PyTorch's default (kaiming_uniform, a=sqrt(5)): std = 1 / sqrt(3 * fan_in).
    assert float(default.makeup_head[-1].weight.std()) == pytest.approx((1 / (3 * 16 * 49)) ** 0.5, rel=0.05)
    norms = [m for m in xavier.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert all(bool((m.weight == 1).all() and (m.bias == 0).all()) for m in norms)
    with pytest.raises(ValueError, match="init"):
        Generator(init="kaiming")


def test_images_stay_float32_under_bf16_autocast() -> None:
    """The images that feed the losses are not quantized to bf16 (the last conv runs in float32)."""
    torch.manual_seed(0)
    g = Generator(width=8, residual_blocks=1)
    a, b = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = g(a, b)
        inner = g.trunk(torch.cat([g.non_makeup_branch(a), g.makeup_branch(b)], 1))
    assert out.makeup.dtype == out.non_makeup.dtype == torch.float32
    assert inner.dtype == torch.bfloat16  # the rest of the network does run in bf16
    # 6,144 outputs: bf16 would give at most a few hundred distinct values in [-1, 1] (8 mantissa bits).
    assert out.makeup.unique().numel() > 5000
    with torch.no_grad():
        reference = g(a, b).makeup
    assert (out.makeup - reference).abs().max() < 0.1  # same function, bf16 noise in the trunk only


def test_attention_output_blends_with_the_image_each_head_transforms() -> None:
    """With the last convolution zeroed, colour = tanh(0) = 0 and mask = sigmoid(0) = 1/2: each output is half of
    the image its head transforms (made-up <- non-makeup input, de-made-up <- makeup input), by hand."""
    g = Generator(width=4, residual_blocks=0, output="attention")
    assert g.makeup_head[-1].weight.shape == (4, 4, 7, 7)  # 3 colour channels + 1 mask
    assert set(g.state_dict()) == set(Generator(width=4, residual_blocks=0).state_dict())  # official keys
    with torch.no_grad():
        g.makeup_head[-1].weight.zero_()
        g.non_makeup_head[-1].weight.zero_()
        a, b = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
        out = g(non_makeup=a, makeup=b)
    torch.testing.assert_close(out.makeup, a / 2)
    torch.testing.assert_close(out.non_makeup, b / 2)
    with pytest.raises(ValueError, match="output must be 'image' .* or 'attention'"):
        Generator(width=4, output="residual")  # type: ignore[arg-type]
