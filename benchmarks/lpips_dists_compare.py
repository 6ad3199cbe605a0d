"""Our LPIPS and DISTS against the implementations people use today, on the same real photos and the same trunk:
values (largest difference to ours) and speed (ratio to ours), in one process.

- LPIPS-VGG v0.1: ``lpips.LPIPS(net="vgg")`` (the authors' package) and torchmetrics' LPIPS network.
- DISTS: ``DISTS_pytorch.DISTS`` (the authors' package) and torchmetrics' DISTS network.

Pretrained VGG16 weights cannot be downloaded here: every implementation gets the same seeded random trunk (their
constructors' torchvision calls are patched *in this script*), with each package's own shipped calibration. piq is
not compared: its LPIPS and DISTS download their calibration at construction. Photos: scikit-image's astronaut,
coffee and chelsea at ``--size``, against a blurred + noisy copy. Metric mode is ``no_grad``; loss mode is
forward + backward to the distorted images.

    python benchmarks/lpips_dists_compare.py [--device cuda] [--size 256] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import warnings
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from _timing import elapsed

from perceptual import DISTS, LPIPS, RandomWeightsWarning

_TRUNK_SLICES = ("slice1", "slice2", "slice3", "slice4", "slice5")
_DISTS_STAGES = ("stage1", "stage2", "stage3", "stage4", "stage5")


def photos(size: int) -> torch.Tensor:
    from skimage import data

    images = [data.astronaut(), data.coffee(), data.chelsea()]
    batch = []
    for image in images:
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()[None] / 255
        side = min(x.shape[-2:])
        x = x[..., :side, :side]
        batch.append(F.interpolate(x, size=(size, size), mode="area"))
    return torch.cat(batch)


def distorted(x: torch.Tensor) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    blurred = F.avg_pool2d(x, 5, 1, 2, count_include_pad=False)
    return (blurred + 0.03 * torch.randn(x.shape, generator=g)).clamp(0, 1)


def _load_trunk(blocks: list[torch.nn.Module], state: dict[str, torch.Tensor]) -> None:
    for block in blocks:
        wanted = {k: state[k] for k in block.state_dict() if k in state}
        block.load_state_dict(wanted, strict=False)


def implementations(
    trunk: dict[str, torch.Tensor], trunk_file: str, device: torch.device
) -> dict[str, dict[str, Callable]]:
    """``{"LPIPS": {name: fn(pred01, target01) -> (N,)}, "DISTS": {...}}``, ours first."""
    lpips_ours = LPIPS(weights=trunk_file, input_range=(0, 1)).to(device)
    dists_ours = DISTS(weights=trunk_file).to(device)
    found: dict[str, dict[str, Callable]] = {
        "LPIPS": {"perceptual.LPIPS": lambda p, t: lpips_ours(p, t)},
        "DISTS": {"perceptual.DISTS": lambda p, t: dists_ours(p, t)},
    }
    try:
        import lpips
    except ImportError:
        print("lpips not installed: skipped")
    else:
        package = lpips.LPIPS(net="vgg", pnet_rand=True, verbose=False).eval()
        _load_trunk([getattr(package.net, s) for s in _TRUNK_SLICES], trunk)
        package = package.to(device)
        found["LPIPS"]["lpips package"] = lambda p, t: package(p, t, normalize=True).reshape(-1)
    try:
        from torchmetrics.functional.image.lpips import _LPIPS
    except ImportError:
        print("torchmetrics not installed: skipped")
    else:
        tm_lpips = _LPIPS(pretrained=True, net="vgg", pnet_rand=True).eval()
        _load_trunk([getattr(tm_lpips.net, s) for s in _TRUNK_SLICES], trunk)
        tm_lpips = tm_lpips.to(device)
        found["LPIPS"]["torchmetrics"] = lambda p, t: tm_lpips(p, t, normalize=True).reshape(-1)
    build_vgg16 = torchvision.models.vgg16  # bound now: the packages' module attribute is what gets patched
    random_vgg16 = lambda *args, **kwargs: build_vgg16(weights=None)  # noqa: E731 - no download
    try:
        from DISTS_pytorch import DISTS_pt
    except ImportError:
        print("dists-pytorch not installed: skipped")
    else:
        original = DISTS_pt.models.vgg16
        DISTS_pt.models.vgg16 = random_vgg16
        try:
            dists_package = DISTS_pt.DISTS().eval()
        finally:
            DISTS_pt.models.vgg16 = original
        _load_trunk([getattr(dists_package, s) for s in _DISTS_STAGES], trunk)
        dists_package = dists_package.to(device)
        found["DISTS"]["dists-pytorch"] = lambda p, t: dists_package(p, t, require_grad=torch.is_grad_enabled())
    try:
        from torchmetrics.functional.image import dists as tm_dists_module
    except ImportError:
        pass
    else:
        original = tm_dists_module.vgg16
        tm_dists_module.vgg16 = random_vgg16
        try:
            tm_dists = tm_dists_module.DISTSNetwork().eval()
        finally:
            tm_dists_module.vgg16 = original
        _load_trunk([getattr(tm_dists, s) for s in _DISTS_STAGES], trunk)
        tm_dists = tm_dists.to(device)
        found["DISTS"]["torchmetrics"] = lambda p, t: tm_dists(p, t, require_grad=torch.is_grad_enabled()).reshape(-1)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    warnings.simplefilter("ignore", RandomWeightsWarning)
    warnings.simplefilter("ignore", UserWarning)
    torch.manual_seed(0)
    trunk = torchvision.models.vgg16(weights=None).features.state_dict()
    with tempfile.TemporaryDirectory() as folder:
        trunk_file = f"{folder}/vgg16.pth"
        torch.save({f"features.{k}": v for k, v in trunk.items()}, trunk_file)
        metrics = implementations(trunk, trunk_file, device)
    target = photos(args.size).to(device)
    pred = distorted(target.cpu()).to(device)
    print(
        f"device {device}, 3 real photos (astronaut, coffee, chelsea) at {args.size}x{args.size} vs blurred + noisy "
        f"copies, same random VGG16 trunk, median of {args.repeats}"
    )
    for metric, variants in metrics.items():
        with torch.no_grad():
            values = {name: fn(pred, target).float().cpu() for name, fn in variants.items()}
        ours_name = next(iter(variants))
        times: dict[str, list[float]] = {name: [] for name in variants}
        grad_times: dict[str, list[float]] = {name: [] for name in variants}

        def loss_step(fn: Callable) -> None:
            leaf = pred.detach().requires_grad_(True)
            fn(leaf, target).sum().backward()

        for fn in variants.values():  # warm-up
            with torch.no_grad():
                fn(pred, target)
            loss_step(fn)
        for _ in range(args.repeats):
            for name, fn in variants.items():  # interleaved
                with torch.no_grad():
                    times[name].append(elapsed(lambda: fn(pred, target), device))
                grad_times[name].append(elapsed(lambda: loss_step(fn), device))
        base, grad_base = statistics.median(times[ours_name]), statistics.median(grad_times[ours_name])
        print(f"\n{metric}")
        print(
            f"{'implementation':<20}{'values':>30}{'max |diff| to ours':>20}{'metric ms':>11}{'x ours':>8}{'loss ms':>10}{'x ours':>8}"
        )
        for name in variants:
            shown = ", ".join(f"{v:.5f}" for v in values[name].tolist())
            diff = float((values[name] - values[ours_name]).abs().max())
            metric_ms, loss_ms = 1000 * statistics.median(times[name]), 1000 * statistics.median(grad_times[name])
            print(
                f"{name:<20}{shown:>30}{diff:>20.2e}{metric_ms:>11.1f}{metric_ms / 1000 / base:>8.2f}"
                f"{loss_ms:>10.1f}{loss_ms / 1000 / grad_base:>8.2f}"
            )


if __name__ == "__main__":
    main()
