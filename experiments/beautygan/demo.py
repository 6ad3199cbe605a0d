"""``make demo``: BeautyGAN on synthetic faces, on a CPU, in a few minutes.

Generates the synthetic MT-layout set under ``data/`` if it is missing, trains with ``configs/beautygan_demo.yaml``
and prints where the TensorBoard logs and sample grids are, with the measured effect of training on held-out pairs:
per-region colour distance of the made-up source to the reference, and its VGG feature distance to the source; then
the makeup controls on the same pairs: the lip distance at each strength, and the interpolation between two looks
inside the generator against the pixel blend of the two results. It writes a gallery, strength strips, a
joint-transfer example and an interpolation strip into the run folder.

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

from .data.metrics import mean_region_colour, transfer_metrics
from .data.mt import MTDataset
from .data.regions import region_masks
from .data.synthetic import write_synthetic_mt
from .training.module import BeautyGAN

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

    The colour figures are :func:`~beautygan.data.metrics.transfer_metrics`' ``<region>_rgb_distance[_before]`` and
    ``background_l1``.
    """
    was_training = model.training
    model.eval()
    device = next(model.generator.parameters()).device
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        batch = {
            k: torch.stack([item[k] for item in items]).to(device)
            for k in ("source", "reference", "source_labels", "reference_labels")
        }
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


def _held_out_batch(dataset: MTDataset, device: torch.device) -> dict[str, torch.Tensor]:
    items = [dataset[i] for i in range(len(dataset))]
    keys = ("source", "reference", "source_labels", "reference_labels")
    return {k: torch.stack([item[k] for item in items]).to(device) for k in keys}


STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)


@torch.no_grad()
def strength_table(model: BeautyGAN, dataset: MTDataset, strengths: Sequence[float] = STRENGTHS) -> dict[float, float]:
    """The held-out lip colour distance to the reference at each strength, as a share of the untouched source's:
    each made-up source is ``lerp(source, made-up, strength)``, what ``beautygan transfer --strength`` does to a
    whole image (:class:`~beautygan.inference.controls.MakeupControls`)."""
    was_training = model.training
    model.eval()
    batch = _held_out_batch(dataset, next(model.generator.parameters()).device)
    source, reference = batch["source"], batch["reference"]
    made_up = model.generator(non_makeup=source, makeup=reference).makeup.float().clamp(-1, 1)
    shares = {}
    for strength in strengths:
        figures = transfer_metrics(
            source, reference, torch.lerp(source, made_up, strength), batch["source_labels"], batch["reference_labels"]
        )
        distance, before = figures["lips_rgb_distance"], figures["lips_rgb_distance_before"]
        finite = torch.isfinite(distance) & torch.isfinite(before)
        shares[float(strength)] = float(distance[finite].mean() / before[finite].mean())
    model.train(was_training)
    return shares


@torch.no_grad()
def interpolation_table(
    model: BeautyGAN, dataset: MTDataset, steps: Sequence[float] = STRENGTHS
) -> list[dict[str, Any]]:
    """Each held-out source wearing looks from its reference (A) to the next pair's reference (B): the generator's
    interpolation (the two makeup codes mixed, ``mix_codes``, then ``apply_makeup``) against the pixel
    blend of the two end results. Per step: the first pair's mean lip colour (0-255 RGB, over the source's lips) and
    the mean over pairs of the lip colour's distance to the two ends (the results at ``t = 0`` and ``t = 1``)."""
    was_training = model.training
    model.eval()
    batch = _held_out_batch(dataset, next(model.generator.parameters()).device)
    source, reference = batch["source"], batch["reference"]
    other = reference.roll(1, dims=0)
    generator = model.generator
    code_a, code_b = generator.makeup_code(reference), generator.makeup_code(other)
    lips = region_masks(batch["source_labels"]).lips
    has_lips = lips.flatten(1).any(1)

    def colour(images: torch.Tensor) -> torch.Tensor:
        return mean_region_colour(images.float().clamp(-1, 1), lips)

    ends = [colour(generator.apply_makeup(source, code)) for code in (code_a, code_b)]
    end_images = [generator.apply_makeup(source, code).float().clamp(-1, 1) for code in (code_a, code_b)]
    rows = []
    for t in steps:
        mixed = colour(generator.apply_makeup(source, generator.mix_codes([code_a, code_b], [1 - float(t), float(t)])))
        blended = colour(torch.lerp(end_images[0], end_images[1], float(t)))
        row: dict[str, Any] = {"t": float(t)}
        for name, value in (("generator", mixed), ("blend", blended)):
            row[f"{name}_colour"] = tuple(round(float(v)) for v in value[0])
            for end, anchor in (("a", ends[0]), ("b", ends[1])):
                row[f"{name}_to_{end}"] = float(torch.linalg.vector_norm(value - anchor, dim=1)[has_lips].mean())
        rows.append(row)
    model.train(was_training)
    return rows


def format_controls(strengths: dict[float, float], interpolation: Sequence[dict[str, Any]], *, pairs: int) -> str:
    """The makeup-control tables: lip distance share per strength, and the interpolation comparison."""
    lines = [
        f"  makeup strength on {pairs} held-out pairs (beautygan transfer --strength S):",
        f"  {'strength':<10}" + "".join(f"{s:>8g}" for s in strengths),
    ]
    lines.append(f"  {'lips / source':<10}" + "".join(f"{v:>8.2f}" for v in strengths.values()))
    falling = all(a > b for a, b in zip(list(strengths.values()), list(strengths.values())[1:]))
    lines.append("  the lip distance falls monotonically with the strength: " + ("yes" if falling else "NO"))
    lines += [
        "",
        f"  look interpolation, reference A to reference B, on {pairs} held-out pairs (lip colour, 0-255 RGB;",
        "  distances: mean over pairs, to the results at t = 0 and t = 1):",
        f"  {'t':<6}{'generator lip RGB':>20}{'to A':>7}{'to B':>7}   {'pixel blend lip RGB':>20}{'to A':>7}{'to B':>7}",
    ]
    for row in interpolation:
        lines.append(
            f"  {row['t']:<6.2f}{str(row['generator_colour']):>20}{row['generator_to_a']:>7.1f}{row['generator_to_b']:>7.1f}"
            f"   {str(row['blend_colour']):>20}{row['blend_to_a']:>7.1f}{row['blend_to_b']:>7.1f}"
        )
    return "\n".join(lines)


TARGETS = {"background_hair": 12.0, "lips_ratio": 0.6}
"""What the demo must reach on the held-out pairs: background + hair change at most 12/255, and a lip colour distance
to the reference at most 0.6 of the untouched source's."""


def format_table(
    before: Mapping[str, float], after: Mapping[str, float], *, vgg: str, pairs: int, layer: str = "relu4_1"
) -> str:
    """The demo's closing table: each measure for the untouched source, the generator before and after training."""
    rows = [
        f"  held-out pairs: {pairs}; VGG: {vgg}",
        f"  {'measure':<44}{'source as is':>13}{'G before':>10}{'G after':>10}{'target':>9}",
    ]

    def row(name: str, source: float, first: float, last: float, target: str = "") -> None:
        rows.append(f"  {name:<44}{source:>13.2f}{first:>10.2f}{last:>10.2f}{target:>9}")

    for region in ("lips", "eye_shadow", "skin"):
        row(f"{region} colour distance to reference (0-255)", before[f"{region}_source"], before[region], after[region])
    lips_source = before["lips_source"]
    row(
        "lips distance / source's distance",
        1.0,
        before["lips"] / lips_source,
        after["lips"] / lips_source,
        f"<= {TARGETS['lips_ratio']:g}",
    )
    row(
        "background + hair change vs source (0-255)",
        0.0,
        before["background_hair"],
        after["background_hair"],
        f"<= {TARGETS['background_hair']:g}",
    )
    row(f"{layer} MSE to the source", 0.0, before["perceptual"], after["perceptual"])
    missed = [
        name
        for name, value, target in (
            ("lips", after["lips"] / lips_source, TARGETS["lips_ratio"]),
            ("background + hair", after["background_hair"], TARGETS["background_hair"]),
        )
        if not value <= target
    ]
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
    from .cli.fit import cli_class

    cli = cli_class()(args, run=False, prog="python -m beautygan.demo")
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
    print(
        f"demo: trained {cli.trainer.current_epoch} epochs ({cli.model.batches_seen} batches) in {run.minutes:.1f} min"
    )
    print(f"  TensorBoard logs: {log_dir}")
    print(
        f"  sample grids:     {log_dir / 'samples'} (columns, named in each image: source, reference, made-up, de-made-up, cycle source, cycle reference)"
    )
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
    print()
    print(
        format_controls(
            strength_table(cli.model, run.held_out),
            interpolation_table(cli.model, run.held_out),
            pairs=len(run.held_out),
        )
    )
    if checkpoint:
        write_pictures(checkpoint, root, log_dir)
        print(
            f"  try it in a browser: beautygan app --ckpt {checkpoint} --examples {root}   (then open "
            "http://127.0.0.1:7860; needs the app extra)"
        )
    return 0


def write_pictures(checkpoint: str | Path, root: Path, log_dir: Path) -> None:
    """The demo's pictures of held-out faces, each a PNG and an HTML page in ``log_dir``: the gallery, strength strips,
    a joint transfer (lips, eyes and skin from three references) and an interpolation strip."""
    from .inference.controls import MakeupControls
    from .inference.gallery import (
        mt_layout_images,
        write_gallery,
        write_interpolation_strip,
        write_joint_strips,
        write_strength_strips,
    )
    from .inference.photo_transfer import PhotoTransfer, TransferOptions

    sources, references, _ = mt_layout_images(root, 4)
    transfer = PhotoTransfer(checkpoint, TransferOptions(align=False))
    transfer.notes = [f"MT-layout images from {root}: aligned faces, used whole at {transfer.size}x{transfer.size}"]
    gallery = write_gallery(transfer, sources, references, log_dir / "gallery.png", cell=128)
    strips = write_strength_strips(
        transfer, list(zip(sources, references)), log_dir / "strengths.png", strengths=STRENGTHS, cell=128
    )
    joint = MakeupControls(lips=references[0], eyes=references[1], skin=references[2])
    joint_strips = write_joint_strips(transfer, sources, joint, log_dir / "joint.png", cell=128)
    between = write_interpolation_strip(
        transfer, sources[0], references[0], references[1], log_dir / "interpolation.png", steps=5, cell=128
    )
    print()
    print(f"  gallery (held-out sources x references): {gallery.image} and {gallery.page}")
    print(f"  strength strips (0, 0.25, 0.5, 0.75, 1):  {strips.image} and {strips.page}")
    print(
        f"  joint transfer (lips {references[0].name}, eyes {references[1].name}, skin {references[2].name}): "
        f"{joint_strips.image} and {joint_strips.page}"
    )
    print(f"  interpolation {references[0].name} -> {references[1].name} (generator vs pixel blend): {between.image}")
    print(
        f"  try: beautygan transfer --ckpt {checkpoint} --source {sources[0]} --reference {references[0]} "
        f"--lips {references[1]} --strength 0.75 --out outputs/transfer.png --no-align"
    )
    print("       (--no-align: the demo's 64 px cartoon faces are already aligned; photos get face-aware transfer)")


if __name__ == "__main__":
    sys.exit(main())
