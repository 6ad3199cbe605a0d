"""``benchmarks/generator_flops.py`` against counts by hand: the attention figure is the AMM's two matrix products,
PSGAN's total that plus every convolution of MDNet and MANet, BeautyGAN's every convolution of its branches, trunk
and heads (``2 * C_in * C_out * k * k`` per output pixel, per input pixel for a transposed convolution)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import generator_flops  # noqa: E402


def _conv(c_in: int, c_out: int, k: int, size: int) -> int:
    return 2 * c_in * c_out * k * k * size * size


def test_the_counts_by_hand() -> None:
    size, width, blocks = 16, 4, 2
    figures = generator_flops.count(size, width, blocks)
    grid, channels = (size // 4) ** 2, 4 * width + 136
    attention = 2 * (2 * grid * channels * grid + 2 * grid * grid * 2)  # logits, then the values; two directions
    assert figures["psgan_attention"] * 1e9 == pytest.approx(attention, rel=1e-12)
    w = width
    encoder = _conv(3, w, 7, size) + _conv(w, 2 * w, 4, size // 2) + _conv(2 * w, 4 * w, 4, size // 4)
    block = 2 * _conv(4 * w, 4 * w, 3, size // 4)
    mdnet = encoder + 3 * block + 2 * _conv(4 * w, 1, 1, size // 4)
    decoder = (
        _conv(4 * w, 2 * w, 4, size // 4) + _conv(2 * w, w, 4, size // 2) + _conv(w, 3, 7, size)
    )  # transposed: per input pixel
    manet = encoder + blocks * block + decoder
    assert figures["psgan"] * 1e9 == pytest.approx(2 * (mdnet + manet) + attention, rel=1e-12)
    branches = 2 * (_conv(3, w, 7, size) + _conv(w, 2 * w, 4, size // 2))
    trunk = _conv(4 * w, 4 * w, 4, size // 4) + blocks * block + _conv(4 * w, 2 * w, 4, size // 4)
    trunk += _conv(2 * w, w, 4, size // 2)
    heads = 2 * (2 * _conv(w, w, 3, size) + _conv(w, 3, 7, size))
    assert figures["beautygan"] * 1e9 == pytest.approx(branches + trunk + heads, rel=1e-12)
