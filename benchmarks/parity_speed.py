"""Speed against what people use, in one process: LPIPS on AlexNet and SqueezeNet against the ``lpips`` package, the
perceptual and style losses against piq, and ``StyleLoss`` with its style image's Grams kept (``set_target``)
against recomputing them every step.

- LPIPS: ``perceptual.LPIPS(net=...)`` and ``lpips.LPIPS(net=...)`` on the same random trunk, forward and backward to
  ``pred`` (a generator step), and forward only under ``no_grad`` (a metric).
- Content and style: ``PerceptualLoss({"relu3_3": 1})`` against ``piq.ContentLoss(layers=("relu3_3",))`` (piq runs the
  whole VGG16; its number is 256 times ours) and ``StyleLoss`` against ``piq.StyleLoss`` on Johnson's four layers,
  forward and backward (piq's pretrained VGG is replaced by the same random one: nothing is downloaded).
- Style for a batch: one style image for a batch of ``pred``, its Grams computed every step (``loss(pred, style)``)
  against kept once (``loss.set_target(style)``; ``loss(pred)``), forward and backward.

Values are printed beside the times (each pair must agree). Variants are interleaved; only ratios from one run are
meaningful.

    python benchmarks/parity_speed.py [--device cpu] [--size 256] [--batch 4] [--repeats 5] [--threads 1]
        [--nets alex squeeze vgg] [--skip lpips piq style]
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from collections.abc import Callable

import torch
from _timing import elapsed

from perceptual import LPIPS, STYLE_LAYERS, PerceptualLoss, StyleLoss

Step = Callable[[], torch.Tensor]


def _trunk_file(reference: torch.nn.Module, slices: int, path: str) -> str:
    state = {}
    for index in range(1, slices + 1):
        for key, value in getattr(reference.net, f"slice{index}").state_dict().items():
            state[f"features.{key}"] = value
    torch.save(state, path)
    return path


def _measure(variants: dict[str, Step], repeats: int, device: torch.device) -> dict[str, float]:
    for step in variants.values():
        step()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, step in variants.items():  # interleaved, so drift hits all alike
            times[name].append(elapsed(step, device))
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def _report(title: str, baseline: str, variants: dict[str, Step], repeats: int, device: torch.device) -> None:
    values = {name: float(step().detach().double().sum()) for name, step in variants.items()}
    medians = _measure(variants, repeats, device)
    print(f"\n{title}")
    for name, ms in medians.items():
        print(f"  {name:<44} {ms:9.1f} ms  x{ms / medians[baseline]:5.2f} of {baseline:<12} value {values[name]:.6g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--nets", nargs="*", default=["alex", "squeeze"], choices=["alex", "squeeze", "vgg"])
    parser.add_argument("--skip", nargs="*", default=[], choices=["lpips", "piq", "style"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    warnings.filterwarnings("ignore")
    import tempfile

    import lpips as lpips_package

    print(
        f"device={device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}), torch "
        f"{torch.__version__}, threads={torch.get_num_threads()}, batch {args.batch}, {args.size}x{args.size}"
    )
    g = torch.Generator().manual_seed(0)
    target = torch.rand(args.batch, 3, args.size, args.size, generator=g).to(device)
    pred = torch.rand(args.batch, 3, args.size, args.size, generator=g).to(device).requires_grad_(True)
    folder = tempfile.mkdtemp()

    def backward(fn: Callable[[], torch.Tensor]) -> Step:
        def step() -> torch.Tensor:
            pred.grad = None
            value = fn()
            value.sum().backward()
            return value

        return step

    if "lpips" not in args.skip:
        for net in args.nets:
            slices = {"alex": 5, "squeeze": 7, "vgg": 5}[net]
            torch.manual_seed(0)
            package = lpips_package.LPIPS(net=net, pnet_rand=True, verbose=False).to(device).eval()
            ours = LPIPS(net=net, weights=_trunk_file(package, slices, f"{folder}/{net}.pth")).to(device)

            def ours_metric(ours: LPIPS = ours) -> torch.Tensor:
                with torch.no_grad():
                    return ours(pred, target)

            def package_metric(package: torch.nn.Module = package) -> torch.Tensor:
                with torch.no_grad():
                    return package(pred, target, normalize=True).flatten()

            _report(
                f"LPIPS-{net}, forward + backward (loss) and forward under no_grad (metric)",
                "ours loss",
                {
                    "ours loss": backward(lambda ours=ours: ours(pred, target)),
                    "lpips package loss": backward(
                        lambda package=package: package(pred, target, normalize=True).flatten()
                    ),
                    "ours metric": ours_metric,
                    "lpips package metric": package_metric,
                },
                args.repeats,
                device,
            )

    if "piq" not in args.skip:
        import piq
        import torchvision

        torch.manual_seed(0)
        vgg = torchvision.models.vgg16(weights=None)
        torch.save(vgg.state_dict(), f"{folder}/vgg16.pth")
        original = piq.perceptual.vgg16
        piq.perceptual.vgg16 = lambda *a, **k: vgg  # piq asks torchvision for the pretrained VGG16: the same random one
        try:
            piq_content = piq.ContentLoss(layers=("relu3_3",), weights=[1.0]).to(device)
            piq_style = piq.StyleLoss(layers=STYLE_LAYERS, weights=[1.0] * 4).to(device)
        finally:
            piq.perceptual.vgg16 = original
        content = PerceptualLoss({"relu3_3": 256.0}, weights=f"{folder}/vgg16.pth").to(device)
        hw = [(args.size >> i) ** 2 * c for i, c in zip((0, 1, 2, 3), (64, 128, 256, 512))]
        style = StyleLoss({name: float(n) ** 2 for name, n in zip(STYLE_LAYERS, hw)}, weights=f"{folder}/vgg16.pth")
        style = style.to(device)
        _report(
            "content (relu3_3) and style (Johnson's 4 layers) against piq, forward + backward",
            "ours content",
            {
                "ours content": backward(lambda: content(pred, target)),
                "piq ContentLoss": backward(lambda: piq_content(pred, target)),
                "ours style": backward(lambda: style(pred, target)),
                "piq StyleLoss": backward(lambda: piq_style(pred, target)),
            },
            args.repeats,
            device,
        )

    if "style" not in args.skip:
        style_image = torch.rand(1, 3, args.size, args.size, generator=g).to(device)
        recomputed = StyleLoss(weights="random").to(device)  # the same seeded random VGG16 for both
        kept = StyleLoss(weights="random").to(device)
        kept.set_target(style_image)
        _report(
            f"StyleLoss, one style image for a batch of {args.batch}, forward + backward",
            "recomputed",
            {
                "recomputed": backward(lambda: recomputed(pred, style_image)),
                "kept (set_target)": backward(lambda: kept(pred)),
            },
            args.repeats,
            device,
        )


if __name__ == "__main__":
    main()
