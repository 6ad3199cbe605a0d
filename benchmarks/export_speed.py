"""Export speed: every feature map of the 18 Keras-style VGG16 taps (13 post-ReLU convs + 5 pools, 5,696 maps) of one
224x224 image, ``perceptual maps`` rendering vs the matplotlib subplot grid of the Keras VGG16
activation-visualization example, on the same maps.

    .venv/bin/python benchmarks/export_speed.py            # matplotlib timed on a subset of layers, extrapolated
    .venv/bin/python benchmarks/export_speed.py --full     # matplotlib on all 18 layers (minutes)

Both sides start from the same feature tensors; the VGG forward is timed on its own. The matplotlib baseline is that
example's notebook cell per layer: ``plt.figure(figsize=(35, 35))``, ``plt.subplot(N // 8 + 1, 8, i + 1)`` +
``imshow`` + ``axis("off")`` per map, ``suptitle``, then ``savefig`` (PNG, 100 dpi, Agg) instead of ``plt.show()``.
Needs the ``bench`` extra (matplotlib).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from perceptual import RandomWeightsWarning, VGGFeatures, WeightsUnavailableError
from perceptual.images import load_image
from perceptual.pictures.export import export_layer_maps, resolve_layers

DEFAULT_SUBSET = ("relu1_1", "pool3", "relu5_3")  # large, middle and small maps: 64 + 256 + 512 = 832 maps


def _image(path: str | None) -> torch.Tensor:
    if path is None:
        try:
            from matplotlib import cbook

            path = str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
        except Exception:  # noqa: BLE001 - any failure: fall back to a synthetic image
            path = None
    if path is None:
        y, x = torch.meshgrid(torch.linspace(0, 1, 224), torch.linspace(0, 1, 224), indexing="ij")
        return torch.stack((x, y, (torch.sin(12 * x) * torch.cos(9 * y) + 1) / 2))
    image, _ = load_image(path, size=(224, 224))
    return image


def _extractor(weights: str) -> VGGFeatures:
    layers = resolve_layers("all", "vgg16")
    try:
        return VGGFeatures(layers, weights=weights)
    except WeightsUnavailableError as err:
        print(f"note: {err}; using weights='random' (timings do not depend on the weights' values)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RandomWeightsWarning)
            return VGGFeatures(layers, weights="random")


def _matplotlib_grid(features: dict[str, torch.Tensor], layers: list[str], out: Path) -> tuple[float, int]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = time.perf_counter()
    maps = 0
    for name in layers:
        activation = features[name][0].permute(1, 2, 0).numpy()  # (H, W, C) as Keras gives it
        count = activation.shape[-1]
        plt.figure(figsize=(35, 35))
        for i in range(count):
            plt.subplot(count // 8 + 1, 8, i + 1)
            plt.imshow(activation[:, :, i])
            plt.axis("off")
        plt.suptitle(f"Feature Maps from Layer: {name}", fontsize=56)
        plt.savefig(out / f"{name}.png")
        plt.close("all")
        maps += count
    return time.perf_counter() - start, maps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", help="image file (default: matplotlib's grace_hopper.jpg, resized to 224x224)")
    parser.add_argument("--weights", default="imagenet", help="VGG16 weights (falls back to random offline)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="matplotlib on all 18 layers instead of a subset")
    parser.add_argument("--baseline-layers", default=",".join(DEFAULT_SUBSET))
    args = parser.parse_args(argv)

    torch.set_grad_enabled(False)
    extractor = _extractor(args.weights)
    image = _image(args.image)[None]
    forward_times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        features = extractor(image)
        forward_times.append(time.perf_counter() - start)
    total_maps = sum(f.shape[1] for f in features.values())
    print(
        f"VGG16 {extractor.weights_source}, {len(features)} taps, {total_maps} maps, image {tuple(image.shape[-2:])}, "
        f"torch threads {torch.get_num_threads()}"
    )

    ours = []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            start = time.perf_counter()
            exported = export_layer_maps(features, Path(tmp) / f"run{repeat}")
            ours.append(time.perf_counter() - start)
        size_mb = sum(p.stat().st_size for p in (Path(tmp) / "run0").glob("*.png")) / 1e6
        print(f"perceptual maps: {len(exported)} grid PNGs + {len(exported)} channel-sum PNGs, {size_mb:.1f} MB")
        print(
            f"  VGG forward:           best {min(forward_times):6.2f} s  median {statistics.median(forward_times):6.2f} s"
        )
        print(f"  export (render + PNG): best {min(ours):6.2f} s  median {statistics.median(ours):6.2f} s")

        layers = list(features) if args.full else [n.strip() for n in args.baseline_layers.split(",")]
        unknown = [n for n in layers if n not in features]
        if unknown:
            print(f"unknown baseline layers {unknown}; choose from {list(features)}", file=sys.stderr)
            return 2
        (Path(tmp) / "mpl").mkdir()
        seconds, maps = _matplotlib_grid(features, layers, Path(tmp) / "mpl")
    per_map = seconds / maps
    estimate = seconds if args.full else per_map * total_maps
    how = (
        "measured"
        if args.full
        else f"extrapolated from {maps} maps of {','.join(layers)} ({seconds:.1f} s, {per_map * 1e3:.1f} ms/map)"
    )
    print(f"matplotlib Keras-example grid, all {total_maps} maps: {estimate:7.1f} s  ({how})")
    best, median = min(ours), statistics.median(ours)
    print(f"ratio matplotlib / perceptual export: {estimate / best:6.0f}x (best), {estimate / median:6.0f}x (median)")
    total = min(ours) + min(forward_times)
    print(f"with the VGG forward: {total:.2f} s, ratio {estimate / total:.0f}x (matplotlib time excludes the forward)")
    print(
        f"goal: export <= 3 s -> {'met' if best <= 3 else 'NOT met'}; >= 50x -> {'met' if estimate / best >= 50 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
