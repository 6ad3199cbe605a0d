"""DeepDream speed: iterations per second on a 512x512 image for one channel of ``relu4_3``, and the batched channel
contact sheet against one channel at a time, in one process.

(a) iterations/s of ``deep_dream`` (one octave, one tile; then 256-px tiles with the random roll) against the floor:
    torchvision's ``vgg16().features[:23]`` run by hand with the DeepDream notebook's update (forward,
    ``autograd.grad``, ``g / (g.std() + 1e-8)``, step, clip) - the least work any implementation can do.
(b) ``channel_sheet`` with N channels in one batch against N single-channel sheets run one after another
    (the same images: batch element i is channel i's own run).

Random weights (speed does not depend on them). Machines here are noisy: variants are interleaved, medians are
printed, and only ratios from one run are meaningful.

    python benchmarks/dream_speed.py [--device cpu|cuda|all] [--size 512] [--iterations 1] [--repeats 2]
                                     [--channels 8] [--sheet-size 64] [--sheet-iterations 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch
import torchvision

from perceptual import RandomWeightsWarning
from perceptual.tools.dream import DreamSchedule, channel_sheet, deep_dream, make_extractor
from perceptual.tools.objectives import Objective
from perceptual.tools.octaves import noise_image


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def bench_device(device: torch.device, args: argparse.Namespace) -> None:
    layer, channel = "relu4_3", 12
    objective = Objective.channel(layer, channel)
    vgg = make_extractor(objective, weights="random", device=device)
    floor_stack = torchvision.models.vgg16().features[:23].to(device).eval().requires_grad_(False)
    floor_stack.load_state_dict({k: v for k, v in vgg.body.state_dict().items()})
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)
    image = noise_image(args.size, device=device)
    n = args.iterations

    def floor(n: int = n) -> None:
        img = image[None].clone()
        for _ in range(n):
            x = img.detach().requires_grad_(True)
            score = floor_stack((x - mean) / std)[:, channel].mean()
            (g,) = torch.autograd.grad(score, x)
            img = (img + g / (g.std() + 1e-8) * (1.5 / 255)).clamp_(0, 1)

    def ours(n: int = n) -> None:
        schedule = DreamSchedule(iterations=n, octaves=1, tile_size=max(args.size, 512))  # one tile
        deep_dream(image, objective, extractor=vgg, schedule=schedule)

    def ours_tiled(n: int = n) -> None:
        schedule = DreamSchedule(iterations=n, octaves=1, tile_size=args.size // 2)
        deep_dream(image, objective, extractor=vgg, schedule=schedule)

    variants = {"floor (hand loop)": floor, "deep_dream": ours, f"deep_dream, {args.size // 2}px tiles": ours_tiled}
    for fn in variants.values():  # warm-up, one iteration (cuDNN autotune, allocator, oneDNN primitives)
        fn(1)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, fn in variants.items():
            times[name].append(_timed(fn, device) / n)
    per_it = {name: statistics.median(t) for name, t in times.items()}
    base = per_it["floor (hand loop)"]
    print(
        f"\n[{device}] {args.size}x{args.size}, vgg16 {layer} channel {channel}, {n} iterations x {args.repeats} repeats"
    )
    for name, seconds in per_it.items():
        print(
            f"  {name:28s} {1 / seconds:8.2f} it/s  ({seconds * 1e3:9.1f} ms/it)  x{seconds / base:5.2f} of floor time"
        )

    # (b) batched contact sheet vs one channel at a time
    sheet_vgg = make_extractor(layer, weights="random", device=device)
    channels = list(range(args.channels))
    schedule = DreamSchedule(iterations=args.sheet_iterations, octaves=1)
    settings = dict(extractor=sheet_vgg, size=args.sheet_size, schedule=schedule)

    def batched() -> None:
        channel_sheet(layer, channels=channels, **settings)

    def one_by_one() -> None:
        for c in channels:
            channel_sheet(layer, channels=[c], **settings)

    batched(), one_by_one()  # warm-up
    t_batch, t_single = [], []
    for _ in range(args.repeats):
        t_batch.append(_timed(batched, device))
        t_single.append(_timed(one_by_one, device))
    tb, ts = statistics.median(t_batch), statistics.median(t_single)
    print(
        f"[{device}] sheet: {args.channels} channels of {layer}, {args.sheet_size}px, {args.sheet_iterations} iterations"
    )
    print(f"  batched            {tb:8.2f} s  ({args.channels * args.sheet_iterations / tb:7.2f} channel-it/s)")
    print(f"  one at a time      {ts:8.2f} s  ({args.channels * args.sheet_iterations / ts:7.2f} channel-it/s)")
    print(f"  one-at-a-time / batched time ratio: {ts / tb:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="all", help="cpu, cuda, or all (cpu, then cuda when available)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--iterations", type=int, default=1, help="iterations per timed run")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--channels", type=int, default=8, help="channels in the sheet")
    parser.add_argument("--sheet-size", type=int, default=64)
    parser.add_argument("--sheet-iterations", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", RandomWeightsWarning)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "all":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = [args.device]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
        + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")
    )
    for name in devices:
        bench_device(torch.device(name), args)


if __name__ == "__main__":
    main()
