"""``make demo``: BeautyGAN on synthetic faces, on a CPU, in a few minutes.

Generates the synthetic MT-layout set under ``data/`` if it is missing, trains with ``configs/beautygan_demo.yaml``
and prints where the TensorBoard logs and sample grids are, with the measured effect of training on held-out pairs:
per-region colour distance of the made-up source to the reference, and its VGG feature distance to the source.

    python -m beautygan.demo [--config configs/beautygan_demo.yaml] [extra LightningCLI args]
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .data import MTDataset
from .metrics import transfer_metrics
from .module import BeautyGAN
from .synthetic import write_synthetic_mt

__all__ = ["main"]

DEFAULT_CONFIG = "configs/beautygan_demo.yaml"


@torch.no_grad()
def measure(model: BeautyGAN, dataset: MTDataset, *, batch_size: int = 8) -> dict[str, float]:
    """Means over the held-out pairs of what a makeup transfer should and should not change.

    - ``lips``, ``eye_shadow``, ``skin``: colour distance (0-255 RGB, region means) of the made-up source to the
      reference; ``*_source``: the same for the untouched source (the made-up one should be closer);
    - ``background_hair``: mean absolute change (0-255, averaged over RGB) of the made-up source against the source
      on the source's background and hair pixels, which makeup must leave alone;
    - ``perceptual``: MSE between the made-up source and the source at the model's perceptual layer
      (``perceptual_layer``), on the model's own VGG.

    The colour figures are :func:`~beautygan.metrics.transfer_metrics`' ``<region>_rgb_distance[_before]`` and
    ``background_l1``.
    """
    was_training = model.training
    model.eval()
    device = next(model.generator.parameters()).device
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        batch = {k: torch.stack([item[k] for item in items]).to(device) for k in ("source", "reference", "source_labels", "reference_labels")}
        source, reference = batch["source"], batch["reference"]
        made_up = model.generator(non_makeup=source, makeup=reference).makeup
        figures = transfer_metrics(source, reference, made_up, batch["source_labels"], batch["reference_labels"])
        values = {"perceptual": model.perceptual(made_up, source).float(), "background_hair": figures["background_l1"]}
        for region in ("lips", "skin", "eye_shadow"):
            values[region] = figures[f"{region}_rgb_distance"]
            values[f"{region}_source"] = figures[f"{region}_rgb_distance_before"]
        for key, value in values.items():
            finite = value[torch.isfinite(value)]
            sums[key] = sums.get(key, 0.0) + float(finite.sum())
            counts[key] = counts.get(key, 0) + int(finite.numel())
    model.train(was_training)
    return {key: sums[key] / counts[key] if counts[key] else math.nan for key in sums}


TARGETS = {"background_hair": 12.0, "lips_ratio": 0.6}
"""What the demo must reach on the held-out pairs: background + hair change at most 12/255, and a lip colour distance
to the reference at most 0.6 of the untouched source's."""


def format_table(
    before: Mapping[str, float], after: Mapping[str, float], *, vgg: str, pairs: int, layer: str = "relu4_1"
) -> str:
    """The demo's closing table: each measure for the untouched source, the generator before and after training."""
    rows = [f"  held-out pairs: {pairs}; VGG: {vgg}", f"  {'measure':<44}{'source as is':>13}{'G before':>10}{'G after':>10}{'target':>9}"]

    def row(name: str, source: float, first: float, last: float, target: str = "") -> None:
        rows.append(f"  {name:<44}{source:>13.2f}{first:>10.2f}{last:>10.2f}{target:>9}")

    for region in ("lips", "eye_shadow", "skin"):
        row(f"{region} colour distance to reference (0-255)", before[f"{region}_source"], before[region], after[region])
    lips_source = before["lips_source"]
    row("lips distance / source's distance", 1.0, before["lips"] / lips_source, after["lips"] / lips_source,
        f"<= {TARGETS['lips_ratio']:g}")  # fmt: skip
    row("background + hair change vs source (0-255)", 0.0, before["background_hair"], after["background_hair"],
        f"<= {TARGETS['background_hair']:g}")  # fmt: skip
    row(f"{layer} MSE to the source", 0.0, before["perceptual"], after["perceptual"])
    missed = [
        name for name, value, target in (
            ("lips", after["lips"] / lips_source, TARGETS["lips_ratio"]),
            ("background + hair", after["background_hair"], TARGETS["background_hair"]),
        ) if not value <= target
    ]  # fmt: skip
    rows.append("  targets: " + ("met" if not missed else f"NOT met ({', '.join(missed)})"))
    return "\n".join(rows)


@dataclass
class DemoRun:
    """A finished demo training run: the CLI (model, trainer, data), the held-out measures before and after, minutes."""

    cli: Any
    held_out: MTDataset
    before: dict[str, float]
    after: dict[str, float]
    minutes: float


def train(args: Sequence[str] = ()) -> DemoRun:
    """Train with ``args`` (LightningCLI arguments; ``--config`` defaults to the demo config), writing the synthetic
    set first if it is missing, and measure the held-out pairs before and after."""
    args = list(args)
    if "--config" not in args:
        args = ["--config", DEFAULT_CONFIG, *args]
    from lightning.pytorch.cli import LightningCLI

    from .data import MTDataModule

    cli = LightningCLI(
        BeautyGAN, MTDataModule, args=args, run=False, save_config_kwargs={"overwrite": True},
        parser_kwargs={"prog": "python -m beautygan.demo"},
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
    return DemoRun(cli, held_out, before, measure(cli.model, held_out), minutes)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; ``argv`` are extra LightningCLI arguments (``--config`` defaults to the demo config)."""
    run = train(sys.argv[1:] if argv is None else argv)
    cli, root = run.cli, Path(run.cli.datamodule.root)
    log_dir = Path(cli.trainer.logger.log_dir) if cli.trainer.logger is not None else Path(cli.trainer.default_root_dir)
    print()
    print(f"demo: trained {cli.trainer.current_epoch} epochs ({cli.model.batches_seen} batches) in {run.minutes:.1f} min")
    print(f"  TensorBoard logs: {log_dir}")
    print(f"  sample grids:     {log_dir / 'samples'} (columns, named in each image: source, reference, made-up, de-made-up, cycle source, cycle reference)")
    checkpoint = getattr(cli.trainer.checkpoint_callback, "last_model_path", "") or ""
    if checkpoint:
        print(f"  last checkpoint:  {checkpoint}")
    print(f"  view them with:   tensorboard --logdir {log_dir.parent}")
    print()
    extractor = cli.model.perceptual.extractor
    note = {"random": " (NOT pretrained: offline fallback)", "file": " (from file)"}.get(extractor.provenance, "")
    vgg = f"{extractor.arch} {extractor.weights_source}{note}"
    layer = cli.model.hparams.perceptual_layer
    print(format_table(run.before, run.after, vgg=vgg, pairs=len(run.held_out), layer=layer))
    if checkpoint:
        from .gallery import mt_layout_gallery

        gallery = mt_layout_gallery(checkpoint, root, log_dir / "gallery.png", count=4, cell=128)
        print(f"\n  gallery (held-out sources x references): {gallery.image} and {gallery.page}")
        print(f"  try: beautygan transfer --ckpt {checkpoint} --source {root}/images/non-makeup/nm_0000.png "
              f"--reference {root}/images/makeup/mk_0000.png --out outputs/transfer.png --no-align")  # fmt: skip
        print("       (--no-align: the demo's 64 px cartoon faces are already aligned; photos get face-aware transfer)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
