"""Identity loss + LPIPS + monitor features from one VGG pass, against computing the three separately, in one
process (a GAN generator step: forward and backward to the generated images).

- one pass: one ``VGGFeatures`` tapping relu1_2 ... relu5_3 and relu4_1; ``pred`` once with a graph, ``target``
  once without; the identity MSE at relu4_1, :meth:`LPIPS.from_features` and the monitor's maps (relu1_2,
  relu2_2, relu3_3) all read those features.
- separate, ours: ``PerceptualLoss({"relu4_1": 1})(pred, target)``, ``LPIPS()(pred, target)`` with its own VGG, and
  the monitor's ``VGGFeatures`` on both images: what today's separate calls cost.
- separate, lpips package: the same, with ``lpips.LPIPS(net="vgg")`` for the LPIPS term.

All three share the same random trunk (pretrained weights cannot be downloaded here; the cost does not depend on
the values), and the printed values must agree. Memory: peak CUDA memory on GPU; on CPU the bytes autograd saves
for backward (saved_tensors_hooks). Variants are interleaved; only ratios from one run are meaningful.

    python benchmarks/one_pass.py [--device cuda] [--size 256] [--batch 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from _timing import elapsed

from perceptual import LPIPS, LPIPS_LAYERS, PerceptualLoss, RandomWeightsWarning, VGGFeatures

PERCEPTUAL_LAYER = "relu4_1"
MONITOR = ("relu1_2", "relu2_2", "relu3_3")


def build(device: torch.device, trunk_file: str):
    one = VGGFeatures([*LPIPS_LAYERS, PERCEPTUAL_LAYER], weights=trunk_file, input_range=(-1, 1)).to(device)
    one_lpips = LPIPS(extractor=one).to(device)
    identity = PerceptualLoss({PERCEPTUAL_LAYER: 1.0}, weights=trunk_file, input_range=(-1, 1)).to(device)
    lpips_ours = LPIPS(weights=trunk_file, input_range=(-1, 1)).to(device)
    monitor = VGGFeatures(list(MONITOR), weights=trunk_file, input_range=(-1, 1)).to(device)

    def one_pass(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        fp = one(pred)
        with torch.no_grad():
            ft = one(target)
        id_loss = F.mse_loss(fp[PERCEPTUAL_LAYER], ft[PERCEPTUAL_LAYER])
        lp = one_lpips.from_features(fp, ft).mean()
        maps = {name: (ft[name], fp[name].detach()) for name in MONITOR}  # what the monitor gets, free
        return id_loss, lp, maps

    def separate(lpips_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable:
        def run(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
            id_loss = identity(pred, target)
            lp = lpips_fn(pred, target).mean()
            with torch.no_grad():
                features = monitor(torch.cat([target, pred.detach()]))
            return id_loss, lp, features

        return run

    variants = {"one pass": one_pass, "separate (ours)": separate(lpips_ours)}
    try:
        import lpips as lpips_package
    except ImportError:
        print("lpips package not installed: its column is skipped (pip install lpips)")
    else:
        torch.manual_seed(0)
        package = lpips_package.LPIPS(net="vgg", pnet_rand=True, verbose=False).to(device).eval()
        state = torch.load(trunk_file, weights_only=True)
        for slice_name in ("slice1", "slice2", "slice3", "slice4", "slice5"):
            block = getattr(package.net, slice_name)
            block.load_state_dict({k: state[f"features.{k}"] for k in block.state_dict()})

        variants["separate (lpips package)"] = separate(package)
    return variants


def step(variant, pred: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    leaf = pred.detach().requires_grad_(True)
    id_loss, lp, _ = variant(leaf, target)
    (0.005 * id_loss + lp).backward()
    return id_loss.detach(), lp.detach()


def saved_mib(variant, pred: torch.Tensor, target: torch.Tensor) -> float:
    saved: dict = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[(t.data_ptr(), t.dtype, tuple(t.shape))] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step(variant, pred, target)
    return sum(saved.values()) / 2**20


def peak_cuda_mib(variant, pred, target) -> float:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    step(variant, pred, target)
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    warnings.simplefilter("ignore", RandomWeightsWarning)
    import tempfile

    import torchvision

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        trunk_file = f"{folder}/vgg16.pth"
        torch.save(
            {f"features.{k}": v for k, v in torchvision.models.vgg16(weights=None).features.state_dict().items()},
            trunk_file,
        )
        variants = build(device, trunk_file)
    g = torch.Generator().manual_seed(1)
    target = (torch.rand(args.batch, 3, args.size, args.size, generator=g) * 2 - 1).to(device)
    pred = (target + 0.2 * torch.randn(target.shape, generator=g).to(device)).clamp(-1, 1)

    values = {name: step(fn, pred, target) for name, fn in variants.items()}  # warm-up and agreement
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, fn in variants.items():  # interleaved
            times[name].append(elapsed(lambda: step(fn, pred, target), device))
    memory_label = "peak CUDA MiB" if device.type == "cuda" else "saved for backward MiB"
    memory = {
        name: (peak_cuda_mib if device.type == "cuda" else saved_mib)(fn, pred, target) for name, fn in variants.items()
    }

    base = statistics.median(times["one pass"])
    print(
        f"device {device}, batch {args.batch}, {args.size}x{args.size}, median of {args.repeats}; identity {PERCEPTUAL_LAYER} + "
        f"LPIPS-VGG + monitor {list(MONITOR)}, forward + backward to pred"
    )
    print(f"{'variant':<26}{'ms':>9}{'x one pass':>12}{memory_label:>24}{'identity':>12}{'LPIPS':>10}")
    for name in variants:
        ms = 1000 * statistics.median(times[name])
        identity, lp = values[name]
        print(
            f"{name:<26}{ms:>9.1f}{statistics.median(times[name]) / base:>12.2f}{memory[name]:>24.1f}"
            f"{float(identity):>12.6g}{float(lp):>10.6f}"
        )
    reference = values["one pass"]
    for name, (identity, lp) in values.items():
        assert abs(float(identity) - float(reference[0])) <= 1e-4 * abs(float(reference[0])), (name, "identity")
        assert abs(float(lp) - float(reference[1])) <= 1e-4 * abs(float(reference[1])), (name, "LPIPS")
    print("values agree to 1e-4 (relative) across variants")


if __name__ == "__main__":
    main()
