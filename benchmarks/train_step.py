"""Time one BeautyGAN training step (paper config: 256x256, batch 1) and split it into its parts.

    python benchmarks/train_step.py [--size 256] [--batch 1] [--repeats 5] [--device cpu|cuda]

Parts, each timed alone (forward + backward) in this process, with the whole step as the baseline:
D step (both discriminators on real and detached fake, Adam step), G (generator forward for the outputs and the
cycle, backward, Adam step, no losses), VGG perceptual (relu4_1 of both directions plus the monitor taps, backward
to the images), histogram makeup loss (3 regions + 2 eyes, both directions, backward; the region masks come with the
batch, as MTDataset's loader workers build them). VGG weights are random here
(no download); the cost is the same as with ImageNet weights.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _timing import median_time  # noqa: E402

from beautygan.module import BeautyGAN  # noqa: E402
from beautygan.synthetic import render_face  # noqa: E402


def _timer(device: torch.device, fn, repeats: int, amp: bool = False) -> float:
    if amp:
        inner = fn

        def fn() -> None:
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
                inner()

    return median_time(fn, repeats, device)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast + channels_last, as the paper config on GPU")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = BeautyGAN(vgg_weights="random").to(device)  # paper preset, full-size networks
    opt_g, opt_d = model.configure_optimizers()

    import numpy as np

    rng = np.random.default_rng(0)
    faces = [render_face(rng, args.size, makeup=m) for m in [False] * args.batch + [True] * args.batch]
    images = torch.stack([torch.from_numpy(f[0]).permute(2, 0, 1).float() / 127.5 - 1 for f in faces]).to(device)
    labels = torch.stack([torch.from_numpy(f[1].astype(np.int64))[None] for f in faces]).to(device)
    n = args.batch
    from beautygan.regions import stacked_region_masks

    masks = stacked_region_masks(labels)  # as MTDataset does in its loader workers
    batch = {"source": images[:n], "reference": images[n:], "source_labels": labels[:n], "reference_labels": labels[n:],
             "source_masks": masks[:n], "reference_masks": masks[n:]}  # fmt: skip
    if args.amp:
        model.to(memory_format=torch.channels_last)
        for key in ("source", "reference"):
            batch[key] = batch[key].contiguous(memory_format=torch.channels_last)
    src, ref = batch["source"], batch["reference"]

    def full_step() -> None:
        fake_s, fake_r = model.generator(src, ref)
        d = model.discriminator_losses(src, ref, fake_s.detach(), fake_r.detach())
        opt_d.zero_grad(set_to_none=True)
        (d["makeup"] + d["nonmakeup"]).backward()
        opt_d.step()
        model.disc_makeup.requires_grad_(False)
        model.disc_nonmakeup.requires_grad_(False)
        terms, _ = model.generator_losses(src, ref, fake_s, fake_r, batch)
        opt_g.zero_grad(set_to_none=True)
        torch.stack(list(terms.values())).sum().backward()
        opt_g.step()
        model.disc_makeup.requires_grad_(True)
        model.disc_nonmakeup.requires_grad_(True)

    with torch.no_grad():
        fixed_s, fixed_r = model.generator(src, ref)

    def d_only() -> None:  # D step without the generator pass that feeds it
        d = model.discriminator_losses(src, ref, fixed_s, fixed_r)
        opt_d.zero_grad(set_to_none=True)
        (d["makeup"] + d["nonmakeup"]).backward()
        opt_d.step()

    def g_only() -> None:
        fake_s, fake_r = model.generator(src, ref)
        rec_s, rec_r = model.generator(fake_s, fake_r)
        opt_g.zero_grad(set_to_none=True)
        (rec_s.sum() + rec_r.sum() + fake_s.sum() + fake_r.sum()).backward()
        opt_g.step()

    pred = torch.cat([fixed_s, fixed_r]).requires_grad_(True)
    target = torch.cat([src, ref])

    def vgg() -> None:
        pred.grad = None
        out = model.perceptual(pred, target, return_features=True)
        out.loss.sum().backward()

    def histogram() -> None:
        pred.grad = None
        terms = model.makeup_loss(pred[:n], pred[n:], batch)
        torch.stack(list(terms.values())).sum().backward()

    rows = [
        ("full training step", _timer(device, full_step, args.repeats, args.amp)),
        ("D step (2 PatchGANs)", _timer(device, d_only, args.repeats, args.amp)),
        ("G fwd x2 + bwd + Adam, no losses", _timer(device, g_only, args.repeats, args.amp)),
        ("VGG16 perceptual (fwd + bwd)", _timer(device, vgg, args.repeats, args.amp)),
        ("histogram makeup loss (fwd + bwd)", _timer(device, histogram, args.repeats, args.amp)),
    ]
    base = rows[0][1]
    precision = "bf16-mixed + channels_last" if args.amp else "fp32"
    print(f"BeautyGAN train step, paper config, {args.size}x{args.size}, batch {n}, {device.type}, {precision}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")  # fmt: skip
    print(f"{'part':<36}{'ms':>10}{'x step':>9}")
    for name, seconds in rows:
        print(f"{name:<36}{seconds * 1e3:>10.1f}{seconds / base:>9.2f}")
    hist, vgg_time = rows[4][1], rows[3][1]
    verdict = "OK" if hist < vgg_time else "FAIL"
    print(f"histogram / VGG perceptual = {hist / vgg_time:.3f}  ({verdict}: histogram must cost less)")
    return 0 if hist < vgg_time else 1


if __name__ == "__main__":
    raise SystemExit(main())
