"""``make demo``: BeautyGAN on synthetic faces, on a CPU, in a few minutes.

Generates the synthetic MT-layout set under ``data/`` if it is missing, trains with ``configs/beautygan_demo.yaml``
and prints where the TensorBoard logs and sample grids are, with the measured effect of training on held-out pairs:
per-region colour distance of the made-up source to the reference, and its VGG feature distance to the source.

    python -m experiments.beautygan.demo [--config configs/beautygan_demo.yaml] [extra LightningCLI args]
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch

from .data import MTDataset
from .metrics import region_colour_distance
from .module import BeautyGAN
from .regions import region_masks
from .synthetic import write_synthetic_mt

__all__ = ["measure", "main"]

DEFAULT_CONFIG = "configs/beautygan_demo.yaml"


@torch.no_grad()
def measure(model: BeautyGAN, dataset: MTDataset, *, batch_size: int = 8) -> dict[str, float]:
    """Mean over the held-out pairs: colour distance (0-255 RGB, region means) of lips / skin / eye shadow of the
    made-up source to the reference's, the same for the untouched source (``*_source``), the relu4_1 MSE
    between the made-up source and the source (``identity``), and the mean absolute difference (0-255) to the
    source outside the lips and eye-shadow regions (``l1_outside``: face geometry and background kept)."""
    was_training = model.training
    model.eval()
    device = next(model.generator.parameters()).device
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        batch = {k: torch.stack([item[k] for item in items]).to(device) for k in ("source", "reference", "source_labels", "reference_labels")}
        made_up, _ = model.generator(batch["source"], batch["reference"])
        src, ref = region_masks(batch["source_labels"]), region_masks(batch["reference_labels"])
        values = {"identity": model.perceptual(made_up, batch["source"]).float()}
        for region in ("lips", "skin"):
            values[region] = region_colour_distance(made_up, getattr(src, region), batch["reference"], getattr(ref, region))
            values[f"{region}_source"] = region_colour_distance(
                batch["source"], getattr(src, region), batch["reference"], getattr(ref, region)
            )
        outside = ~(src.lips | src.left_eye_shadow | src.right_eye_shadow)  # what makeup should leave alone
        values["l1_outside"] = ((made_up - batch["source"]).abs().mean(1, keepdim=True) * 127.5 * outside).sum((1, 2, 3)) / outside.sum((1, 2, 3))
        eye_src = src.left_eye_shadow | src.right_eye_shadow
        eye_ref = ref.left_eye_shadow | ref.right_eye_shadow
        values["eye_shadow"] = region_colour_distance(made_up, eye_src, batch["reference"], eye_ref)
        values["eye_shadow_source"] = region_colour_distance(batch["source"], eye_src, batch["reference"], eye_ref)
        for key, value in values.items():
            finite = value[torch.isfinite(value)]
            sums[key] = sums.get(key, 0.0) + float(finite.sum())
            counts[key] = counts.get(key, 0) + int(finite.numel())
    model.train(was_training)
    return {key: sums[key] / counts[key] if counts[key] else math.nan for key in sums}


def main(argv: list[str] | None = None) -> int:
    """Run the demo; ``argv`` are extra LightningCLI arguments (``--config`` defaults to the demo config)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--config" not in args:
        args = ["--config", DEFAULT_CONFIG, *args]
    from lightning.pytorch.cli import LightningCLI

    from .data import MTDataModule

    cli = LightningCLI(
        BeautyGAN, MTDataModule, args=args, run=False, save_config_kwargs={"overwrite": True},
        parser_kwargs={"prog": "python -m experiments.beautygan.demo"},
    )  # fmt: skip
    root = Path(cli.datamodule.root)
    if not (root / "images").is_dir():
        print(f"demo: writing the synthetic MT-layout set to {root} ...", flush=True)
        write_synthetic_mt(root, n=96, size=max(64, cli.datamodule.image_size), held_out=16, seed=0)
    held_out = MTDataset(root, split="test", image_size=cli.datamodule.image_size, seed=1)
    before = measure(cli.model, held_out)
    started = time.perf_counter()
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    minutes = (time.perf_counter() - started) / 60
    after = measure(cli.model, held_out)

    log_dir = Path(cli.trainer.logger.log_dir) if cli.trainer.logger is not None else Path(cli.trainer.default_root_dir)
    print()
    print(f"demo: trained {cli.trainer.current_epoch} epochs ({cli.model.batches_seen} batches) in {minutes:.1f} min")
    print(f"  TensorBoard logs: {log_dir}")
    print(f"  sample grids:     {log_dir / 'samples'} (rows: source, reference, made-up source, de-made-up reference, reconstructions)")
    checkpoint = getattr(cli.trainer.checkpoint_callback, "last_model_path", "") or ""
    if checkpoint:
        print(f"  last checkpoint:  {checkpoint}")
    print(f"  view them with:   tensorboard --logdir {log_dir.parent}")
    print()
    vgg = "pretrained" if cli.model.perceptual.extractor.pretrained else "RANDOM (offline fallback)"
    print(f"  held-out pairs: {len(held_out)}; colour distance = |mean RGB of the region - reference's| (0-255); VGG16: {vgg}")
    print(f"  {'measure':<34}{'source as is':>14}{'G before':>12}{'G after':>12}")
    for region in ("lips", "eye_shadow", "skin"):
        print(f"  {region + ' colour distance to reference':<34}{before[region + '_source']:>14.1f}{before[region]:>12.1f}{after[region]:>12.1f}")
    print(f"  {'relu4_1 MSE to the source':<34}{0.0:>14.2e}{before['identity']:>12.2e}{after['identity']:>12.2e}")
    print(f"  {'L1 to the source off lips/eyes':<34}{0.0:>14.1f}{before['l1_outside']:>12.1f}{after['l1_outside']:>12.1f}")
    if checkpoint:
        print(f"\n  try: beautygan transfer --ckpt {checkpoint} --source {root}/images/non-makeup/nm_0000.png "
              f"--reference {root}/images/makeup/mk_0000.png --out outputs/transfer.png")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
