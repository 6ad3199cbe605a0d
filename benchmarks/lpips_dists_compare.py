"""Our LPIPS and DISTS against the implementations people use today, on the same real photos and the same trunk:
values (largest difference to ours) and speed (ratio to ours), in one process.

- LPIPS-VGG v0.1: ``lpips.LPIPS(net="vgg")`` (the authors' package), torchmetrics' LPIPS network and
  ``piq.LPIPS``.
- DISTS: ``DISTS_pytorch.DISTS`` (the authors' package), torchmetrics' DISTS network and ``piq.DISTS``.

Pretrained VGG16 weights cannot be downloaded here: every implementation gets the same seeded random trunk (their
constructors' torchvision calls are patched *in this script*), with each package's own shipped calibration. piq
downloads its calibration at construction: here its download is patched to return the calibration the authors'
packages ship (``lpips``' ``vgg.pth`` linear weights, ``DISTS_pytorch``'s alpha and beta), so piq is compared only
where those are installed. ``DISTS_pytorch`` reads its ``weights.pt`` from ``sys.prefix``, where a
``pip install --target`` (``benchmarks/gpu_check.sh``) does not put it: here it is read from beside the module. Photos: scikit-image's astronaut, coffee and chelsea at ``--size``, repeated to
``--batch`` images, against blurred + noisy copies. Metric mode is ``no_grad``; loss mode is forward + backward to
the distorted images.

    python benchmarks/lpips_dists_compare.py [--device cuda] [--size 256] [--batch 3] [--repeats 5]
                                             [--json results.json]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import statistics
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from _results import write_json
from _timing import elapsed

from perceptual import DISTS, LPIPS, CalibrationUnavailableError, RandomWeightsWarning
from perceptual.dists import load_dists_calibration

_TRUNK_SLICES = ("slice1", "slice2", "slice3", "slice4", "slice5")
_DISTS_STAGES = ("stage1", "stage2", "stage3", "stage4", "stage5")


def photos(size: int, batch: int = 3) -> torch.Tensor:
    """The three photos at ``size``, repeated in turn to ``batch`` images."""
    from skimage import data

    images = [data.astronaut(), data.coffee(), data.chelsea()]
    scaled = []
    for image in images:
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()[None] / 255
        side = min(x.shape[-2:])
        x = x[..., :side, :side]
        scaled.append(F.interpolate(x, size=(size, size), mode="area"))
    return torch.cat(scaled).repeat(-(-batch // 3), 1, 1, 1)[:batch]


def distorted(x: torch.Tensor) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    blurred = F.avg_pool2d(x, 5, 1, 2, count_include_pad=False)
    return (blurred + 0.03 * torch.randn(x.shape, generator=g)).clamp(0, 1)


@contextlib.contextmanager
def _patched(namespace: object, name: str, value: object) -> Iterator[None]:
    """``namespace.name`` is ``value`` inside the block only."""
    original = getattr(namespace, name)
    setattr(namespace, name, value)
    try:
        yield
    finally:
        setattr(namespace, name, original)


def _load_trunk(blocks: list[torch.nn.Module], state: dict[str, torch.Tensor]) -> None:
    for block in blocks:
        wanted = {k: state[k] for k in block.state_dict() if k in state}
        block.load_state_dict(wanted, strict=False)


def implementations(
    trunk: dict[str, torch.Tensor], trunk_file: str, device: torch.device, missing: dict[str, str] | None = None
) -> dict[str, dict[str, Callable]]:
    """``{"LPIPS": {name: fn(pred01, target01) -> (N,)}, "DISTS": {...}}``, ours first; what could not be built is
    printed and added to ``missing`` (name: why)."""
    missing = {} if missing is None else missing

    def skip(name: str, why: str) -> None:
        missing[name] = why
        print(f"{name}: {why}: skipped")

    lpips_ours = LPIPS(weights=trunk_file, input_range=(0, 1)).to(device)
    dists_ours = DISTS(weights=trunk_file).to(device)
    found: dict[str, dict[str, Callable]] = {
        "LPIPS": {"perceptual.LPIPS": lambda p, t: lpips_ours(p, t)},
        "DISTS": {"perceptual.DISTS": lambda p, t: dists_ours(p, t)},
    }
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])
    features.load_state_dict(trunk)
    # what the packages read of torchvision's vgg16(...): its `features`, here a copy of the shared trunk (no
    # download, and no 138M-parameter VGG16 built, seconds each time, for a trunk that is then replaced)
    random_vgg16 = lambda *args, **kwargs: SimpleNamespace(features=copy.deepcopy(features))  # noqa: E731
    try:
        import lpips
    except ImportError:
        skip("lpips package", "lpips not installed")
    else:
        with _patched(torchvision.models, "vgg16", random_vgg16):
            package = lpips.LPIPS(net="vgg", pnet_rand=True, verbose=False).eval()
        _load_trunk([getattr(package.net, s) for s in _TRUNK_SLICES], trunk)
        package = package.to(device)
        found["LPIPS"]["lpips package"] = lambda p, t: package(p, t, normalize=True).reshape(-1)
    try:
        from torchmetrics.functional.image.lpips import _LPIPS
    except ImportError:
        skip("torchmetrics", "torchmetrics not installed")
    else:
        with _patched(torchvision.models, "vgg16", random_vgg16):
            tm_lpips = _LPIPS(pretrained=True, net="vgg", pnet_rand=True).eval()
        _load_trunk([getattr(tm_lpips.net, s) for s in _TRUNK_SLICES], trunk)
        tm_lpips = tm_lpips.to(device)
        found["LPIPS"]["torchmetrics"] = lambda p, t: tm_lpips(p, t, normalize=True).reshape(-1)
    try:
        from DISTS_pytorch import DISTS_pt
    except ImportError:
        skip("dists-pytorch", "dists-pytorch not installed")
    else:
        # the package reads weights.pt from sys.prefix, where a `pip install --target` does not put it
        with _patched(DISTS_pt.models, "vgg16", random_vgg16):
            dists_package = DISTS_pt.DISTS(load_weights=False).eval()
        alpha, beta = load_dists_calibration()  # the package's own weights.pt, found beside its module
        dists_package.alpha.data, dists_package.beta.data = alpha.view(1, -1, 1, 1), beta.view(1, -1, 1, 1)
        _load_trunk([getattr(dists_package, s) for s in _DISTS_STAGES], trunk)
        dists_package = dists_package.to(device)
        found["DISTS"]["dists-pytorch"] = lambda p, t: dists_package(p, t, require_grad=torch.is_grad_enabled())
    try:
        from torchmetrics.functional.image import dists as tm_dists_module
    except ImportError:
        pass
    else:
        with _patched(tm_dists_module, "vgg16", random_vgg16):
            tm_dists = tm_dists_module.DISTSNetwork().eval()
        _load_trunk([getattr(tm_dists, s) for s in _DISTS_STAGES], trunk)
        tm_dists = tm_dists.to(device)
        found["DISTS"]["torchmetrics"] = lambda p, t: tm_dists(p, t, require_grad=torch.is_grad_enabled()).reshape(-1)
    _add_piq(found, trunk, device, random_vgg16, skip)
    return found


def _add_piq(
    found: dict[str, dict[str, Callable]],
    trunk: dict[str, torch.Tensor],
    device: torch.device,
    random_vgg16: Callable,
    skip: Callable[[str, str], None],
) -> None:
    """``piq.LPIPS`` and ``piq.DISTS`` on the same trunk, their calibration download patched to the authors'
    packages' shipped weights (see the module docstring)."""
    try:
        import piq
        import piq.perceptual
    except ImportError:
        skip("piq", "piq not installed")
        return
    calibrations: dict[str, Callable[[], object]] = {}
    try:
        import lpips
    except ImportError:
        skip("piq LPIPS", "its calibration is read from the lpips package here, which is not installed")
    else:
        lin = os.path.join(os.path.dirname(lpips.__file__), "weights", "v0.1", "vgg.pth")
        calibrations["LPIPS"] = lambda: [
            value for _, value in sorted(torch.load(lin, map_location="cpu", weights_only=True).items())
        ]
    try:
        alpha, beta = load_dists_calibration()
    except CalibrationUnavailableError:
        skip("piq DISTS", "its calibration is read from the dists-pytorch package here, which is not installed")
    else:
        calibrations["DISTS"] = lambda: {"alpha": alpha.view(1, -1, 1, 1), "beta": beta.view(1, -1, 1, 1)}
    for metric, calibration in calibrations.items():
        with (
            _patched(torch.hub, "load_state_dict_from_url", lambda *args, **kwargs: calibration()),
            _patched(piq.perceptual, "vgg16", random_vgg16),
        ):
            module = getattr(piq, metric)(reduction="none").eval()
        _load_trunk([module.model], trunk)
        module = module.to(device)
        found[metric]["piq"] = lambda p, t, module=module: module(p, t).reshape(-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=3, help="images per call (the 3 photos repeated)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    args = parser.parse_args()
    device = torch.device(args.device)
    warnings.simplefilter("ignore", RandomWeightsWarning)
    warnings.simplefilter("ignore", UserWarning)
    torch.manual_seed(0)
    trunk = torchvision.models.vgg16(weights=None).features.state_dict()
    with tempfile.TemporaryDirectory() as folder:
        trunk_file = f"{folder}/vgg16.pth"
        torch.save({f"features.{k}": v for k, v in trunk.items()}, trunk_file)
        missing: dict[str, str] = {}
        metrics = implementations(trunk, trunk_file, device, missing)
    target = photos(args.size, args.batch).to(device)
    pred = distorted(target.cpu()).to(device)
    results: dict = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
        "size": args.size,
        "batch": args.batch,
        "repeats": args.repeats,
        "metrics": {},
        "missing": missing,
    }
    write_json(args.json, results)
    print(
        f"device {device}, 3 real photos (astronaut, coffee, chelsea) at {args.size}x{args.size}, {args.batch} images "
        f"per call, vs blurred + noisy copies, same random VGG16 trunk, median of {args.repeats}"
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
        rows = results["metrics"].setdefault(metric, [])
        for name in variants:
            shown = ", ".join(f"{v:.5f}" for v in values[name][:3].tolist())
            diff = float((values[name] - values[ours_name]).abs().max())
            metric_ms, loss_ms = 1000 * statistics.median(times[name]), 1000 * statistics.median(grad_times[name])
            print(
                f"{name:<20}{shown:>30}{diff:>20.2e}{metric_ms:>11.1f}{metric_ms / 1000 / base:>8.2f}"
                f"{loss_ms:>10.1f}{loss_ms / 1000 / grad_base:>8.2f}"
            )
            rows.append(
                {
                    "name": name,
                    "max_diff": diff,
                    "metric_ms": metric_ms,
                    "metric_x_ours": metric_ms / 1000 / base,
                    "loss_ms": loss_ms,
                    "loss_x_ours": loss_ms / 1000 / grad_base,
                }
            )
        write_json(args.json, results)


if __name__ == "__main__":
    main()
