"""How much work each generator does per pair: floating-point operations of one forward pass, both directions of one
pair (a source and a reference), counted by ``torch.utils.flop_counter.FlopCounterMode`` (matrix products and
convolutions; element-wise work is not counted).

    python benchmarks/generator_flops.py [--sizes 64,128,256] [--width 64] [--residual-blocks 6] [--json PATH]

BeautyGAN's generator runs both directions through one trunk (its two input branches are joined, its two output
heads split). PSGAN's runs each direction through MDNet (the reference) and MANet (the source), and adds the
attention (AMM), whose products grow with the square of the feature grid. The printed ratio is the floor of what a
training step of PSGAN's generator costs against BeautyGAN's at the same size, before the losses, the VGG and the
discriminators (the same for both) dilute it: :mod:`train_step` (``--generator psgan --against beautygan``) times
the whole step. The networks are the official sizes (width 64, 6 bottleneck blocks, PSGAN's 3 MDNet blocks) unless
the options shrink them; the weights are random (the count does not depend on them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import write_json  # noqa: E402

from beautygan.models.beautygan import Generator  # noqa: E402
from beautygan.models.psgan import FaceGeometry, PSGANGenerator  # noqa: E402


def count(size: int, width: int, residual_blocks: int) -> dict[str, float]:
    """GFLOP of one forward pass of one pair (both directions) at ``size`` px: BeautyGAN's, PSGAN's, and PSGAN's
    attention alone (its matrix products; the networks are convolutions)."""
    torch.manual_seed(0)
    beautygan = Generator(width=width, residual_blocks=residual_blocks).eval()
    psgan = PSGANGenerator(width=width, manet_blocks=residual_blocks).eval()
    images = torch.rand(1, 3, size, size) * 2 - 1
    regions = torch.zeros(1, 3, size, size, dtype=torch.bool)
    regions[:, 1, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = True  # the attention's cost is dense
    geometry = FaceGeometry(regions=regions, landmarks=torch.rand(1, 68, 2) * (size - 1))
    figures = {}
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            beautygan(non_makeup=images, makeup=images)
        figures["beautygan"] = counter.get_total_flops() / 1e9
        with FlopCounterMode(display=False) as counter:
            psgan(images, images, non_makeup_geometry=geometry, makeup_geometry=geometry)
        figures["psgan"] = counter.get_total_flops() / 1e9
        by_operator = counter.get_flop_counts()["Global"]  # MDNet and MANet are convolutions, AMM matrix products
        figures["psgan_attention"] = sum(f for op, f in by_operator.items() if "convolution" not in str(op)) / 1e9
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="64,128,256", help="comma-separated image sizes (divisible by 4)")
    parser.add_argument("--width", type=int, default=64, help="generator width (the official 64)")
    parser.add_argument("--residual-blocks", type=int, default=6, help="bottleneck / MANet blocks (the official 6)")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"generator forward GFLOP per pair (both directions), width {args.width}, {args.residual_blocks} blocks")
    print(f"{'size':>6} {'BeautyGAN':>10} {'PSGAN':>10} {'of it AMM':>10} {'PSGAN / BeautyGAN':>18}")
    results = {}
    for size in sizes:
        figures = count(size, args.width, args.residual_blocks)
        results[size] = figures
        ratio = figures["psgan"] / figures["beautygan"]
        print(
            f"{size:>6} {figures['beautygan']:>10.1f} {figures['psgan']:>10.1f} {figures['psgan_attention']:>10.1f} "
            f"{ratio:>17.2f}x"
        )
        write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
