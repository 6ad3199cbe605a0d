"""Time BeautyGAN's training step (paper config: 256x256, batch 1): eager vs optimized, fp32 vs bf16, per part.

    python benchmarks/train_step.py [--size 256] [--batch 1] [--throughput-batch 8] [--repeats 20]
                                    [--device cuda] [--compile reduce-overhead] [--precisions fp32,bf16]
                                    [--generator beautygan] [--json results.json]

Everything is measured in this process, with the eager fp32 step as the baseline of every ratio:

- the whole step, ``BeautyGAN.optimization_step`` (the body of ``training_step``: D update, G update with every
  loss of the paper preset), for each of eager / optimized (``SpeedOptions(compile=..., fused_adam=True)``) times
  fp32 / bf16 autocast + channels_last (what ``precision: bf16-mixed`` runs);
- the anchor (BeautyGAN's generator): one step of the official algorithm's structure (``tests/_official_beautygan.py``:
  G run again for the G step, histogram matching on the host, the D steps apart) on copies of the same networks, fp32;
- pairs per second at ``--throughput-batch`` for each variant (a pair is one source and one reference);
- the split of the step into its parts, eager and optimized fp32: D step (both discriminators on real and detached
  fake, Adam), G (two generator passes, backward, Adam, no losses), VGG perceptual (relu4_1 of both directions plus
  the monitor taps, forward and backward to the images), histogram makeup loss (3 regions + 2 eyes, both
  directions, backward; masks come with the batch, as MTDataset's loader workers build them; compiled as one graph
  in the optimized variants);
- the training-thread cost of a sample grid, encoded and written in place vs handed to the background writer.

The eager variants run first (nothing to compile), then the optimized ones, bf16 first (the paper config's
precision), each fp32 variant followed by its parts, then the official anchor: ``--json`` rewrites its file after each
figure, so a run stopped at a time limit keeps what matters most. ``--generator`` picks the generator (``GENERATORS``; the networks' widths can
be shrunk for a smoke run of this script). ``psgan`` times PSGAN's generator (``generator: psgan``, its official
sizes: 3 MDNet and ``--residual-blocks`` MANet blocks) with the same paper-preset losses, on faces with their
landmarks; ``--identity W`` adds the official codes' identity loss (weight ``W`` per term; both official training
steps have it, PSGAN's always), so that the steps run every generator pass of their official training step.

VGG weights are random here (no download); the cost is the same as with ImageNet weights. Compiled variants are
warmed up (compilation, the recompilation for frozen discriminators, CUDA-graph recording) before timing.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from _official_beautygan import official_step  # noqa: E402
from _results import write_json  # noqa: E402
from _timing import elapsed  # noqa: E402

from beautygan.data.regions import stacked_region_masks  # noqa: E402
from beautygan.data.synthetic import render_face  # noqa: E402
from beautygan.models.beautygan import Translation  # noqa: E402
from beautygan.training.module import BeautyGAN  # noqa: E402
from beautygan.training.samples import render_sample_grid, write_sample_grid  # noqa: E402
from beautygan.training.speed import SpeedOptions  # noqa: E402
from perceptual.pictures.event_writer import BackgroundWriter  # noqa: E402

WARMUP = 5  # compiled steps: compile, recompile (frozen Ds), cudagraph warm-up and recording
GENERATORS = ("beautygan", "psgan")  # what --generator can time; benchmarks/gpu_check.py times each of them


def make_batch(size: int, n: int, device: torch.device, channels_last: bool) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(0)
    faces = [render_face(rng, size, makeup=m) for m in [False] * n + [True] * n]
    images = torch.stack([torch.from_numpy(f[0]).permute(2, 0, 1).float() / 127.5 - 1 for f in faces]).to(device)
    labels = torch.stack([torch.from_numpy(f[1].astype(np.int64))[None] for f in faces]).to(device)
    landmarks = torch.stack([torch.from_numpy(f.landmarks).float() for f in faces]).to(device)
    masks = stacked_region_masks(labels)  # as MTDataset does in its loader workers
    batch = {
        "source": images[:n],
        "reference": images[n:],
        "source_labels": labels[:n],
        "reference_labels": labels[n:],
        "source_masks": masks[:n],
        "reference_masks": masks[n:],
        "source_landmarks": landmarks[:n],  # what MTDataset(landmarks=True) adds; only PSGAN's step reads them
        "reference_landmarks": landmarks[n:],
    }
    if channels_last:
        for key in ("source", "reference"):
            batch[key] = batch[key].contiguous(memory_format=torch.channels_last)
    return batch


def build(
    speed: SpeedOptions,
    device: torch.device,
    generator: str = "beautygan",
    widths: dict[str, int] | None = None,
    identity: float | None = None,
) -> tuple[BeautyGAN, torch.optim.Optimizer, torch.optim.Optimizer]:
    """The model with ``generator`` (one of ``GENERATORS``), paper preset at full size unless ``widths`` shrinks it
    (``generator_width``, ``discriminator_width``, ``residual_blocks``), with the identity weight ``identity`` (the
    preset's when ``None``), set up as the Trainer does, and its Adams."""
    if generator not in GENERATORS:
        raise ValueError(f"generator must be one of {list(GENERATORS)}, got {generator!r}")
    torch.manual_seed(0)
    weights = None if identity is None else {"identity": identity}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BeautyGAN(
            generator=generator,  # type: ignore[arg-type]
            vgg_weights="random_normalized",
            speed=speed,
            loss_weights=weights,  # type: ignore[arg-type]
            **(widths or {}),  # type: ignore[arg-type]
        ).to(device)
    model.setup("fit")  # channels_last and compilation, as the Trainer does
    opt_g, opt_d = model.configure_optimizers()
    return model, opt_g, opt_d


def median_ms(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    return float(np.median([elapsed(fn, device) for _ in range(repeats)])) * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", choices=GENERATORS, default=GENERATORS[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument(
        "--throughput-batch", type=int, default=8, help="batch of the pairs-per-second figure (0: skip)"
    )
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--compile",
        default=None,
        help="SpeedOptions.compile of the optimized variants (default: reduce-overhead on CUDA, default on the CPU)",
    )
    parser.add_argument("--precisions", default="fp32,bf16", help="comma-separated: fp32, bf16")
    parser.add_argument("--skip-official", action="store_true", help="skip the official-structure anchor (slow)")
    parser.add_argument("--skip-sample-grid", action="store_true", help="skip the sample-grid cost")
    parser.add_argument("--generator-width", type=int, default=None, help="default: the paper's (64)")
    parser.add_argument("--discriminator-width", type=int, default=None, help="default: the paper's (64)")
    parser.add_argument("--residual-blocks", type=int, default=None, help="default: the paper's (6)")
    parser.add_argument(
        "--identity", type=float, default=None, help="identity loss weight (default: the paper preset's, none)"
    )
    parser.add_argument(
        "--against",
        choices=GENERATORS,
        default=None,
        help="only compare: the eager fp32 step of --generator against this generator's, the two stepped in turn "
        "(so that a busy machine slows both alike), at --size and --batch",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    mode = args.compile or ("reduce-overhead" if device.type == "cuda" else "default")
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    if not precisions or not set(precisions) <= {"fp32", "bf16"}:
        parser.error(f"--precisions takes fp32 and/or bf16, got {args.precisions!r}")
    widths = {
        name: value
        for name, value in (
            ("generator_width", args.generator_width),
            ("discriminator_width", args.discriminator_width),
            ("residual_blocks", args.residual_blocks),
        )
        if value is not None
    }

    if args.against is not None:
        return compare(args.generator, args.against, args, torch.device(args.device), widths)

    # eager first (nothing to compile), then optimized with bf16 first: a run cut short keeps the paper config's
    variants = [(f"eager {p}", SpeedOptions(channels_last=p == "bf16"), p == "bf16") for p in precisions]
    for precision in sorted(precisions, key=lambda p: p != "bf16"):
        bf16 = precision == "bf16"
        variants.append(
            (f"optimized {precision}", SpeedOptions(compile=mode, fused_adam=True, channels_last=bf16), bf16)
        )

    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    results: dict = {
        "generator": args.generator,
        "size": args.size,
        "batch": args.batch,
        "throughput_batch": args.throughput_batch,
        "compile": mode,
        "device": device_name,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "widths": widths,
        "identity": args.identity,
        "variants": [],
        "official_ms": None,
        "parts": {},
        "sample_grid_ms": {},
    }
    write_json(args.json, results)
    print(
        f"{args.generator} train step, paper preset, {args.size}x{args.size}, {device.type}"
        f"{' (' + device_name + ')' if device.type == 'cuda' else ''}, "
        f"{torch.get_num_threads()} threads, median of {args.repeats}; optimized = compile {mode!r} + fused Adam; "
        f"bf16 = autocast bf16 + channels_last{'; widths ' + str(widths) if widths else ''}"
        f"{'; identity ' + str(args.identity) if args.identity else ''}"
    )
    rows: list[tuple[str, float, float | None]] = []  # name, ms at --batch, pairs/s at --throughput-batch
    for name, speed, bf16 in variants:
        model, opt_g, opt_d = build(speed, device, args.generator, widths, args.identity)
        autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
        warmup = WARMUP if speed.compile != "none" else 1

        def step(batch: dict[str, torch.Tensor]) -> None:
            with autocast:
                model.optimization_step(batch, opt_g, opt_d)

        batch = make_batch(args.size, args.batch, device, speed.channels_last)
        ms = median_ms(lambda: step(batch), device, args.repeats, warmup)
        entry = {
            "name": name,
            "mode": name.split()[0],
            "precision": name.split()[1],
            "ms": ms,
            "throughput_ms": None,
            "pairs_per_s": None,
        }
        results["variants"].append(entry)
        write_json(args.json, results)
        per_second = None
        if args.throughput_batch:
            big = make_batch(args.size, args.throughput_batch, device, speed.channels_last)
            big_ms = median_ms(lambda: step(big), device, max(3, args.repeats // 4), warmup)
            per_second = args.throughput_batch / big_ms * 1e3
            entry.update(throughput_ms=big_ms, pairs_per_s=per_second)
            write_json(args.json, results)
        rows.append((name, ms, per_second))
        print(f"  measured {name}: {ms:.1f} ms", flush=True)
        if not bf16:  # the split into parts, right away: a run stopped later keeps it
            for part, part_ms in measure_parts(model, opt_g, opt_d, args.size, args.batch, device, args.repeats):
                results["parts"].setdefault(part, {})[name.split()[0]] = part_ms
                write_json(args.json, results)

    base = rows[0][1]
    print(f"\n{'variant':<36}{'ms/step':>10}{'x ' + rows[0][0]:>14}{'pairs/s @' + str(args.throughput_batch):>14}")
    for name, ms, per_second in rows:
        rate = f"{per_second:>14.1f}" if per_second is not None else f"{'':>14}"
        print(f"{name:<36}{ms:>10.1f}{base / ms:>13.2f}x{rate}")

    print(
        f"\nparts at batch {args.batch}, fp32 (ms; the parts overlap the step's own bookkeeping, so they need not sum)"
    )
    labels = sorted({label for values in results["parts"].values() for label in values})
    print(f"{'part':<36}" + "".join(f"{label:>12}" for label in labels))
    for part, values in results["parts"].items():
        print(
            f"{part:<36}" + "".join(f"{values[label]:>12.1f}" if label in values else f"{'-':>12}" for label in labels)
        )

    if not args.skip_official and args.generator != "beautygan":
        print(f"\nofficial structure anchor: BeautyGAN's generator only, not measured for {args.generator}")
    elif not args.skip_official:
        model, _, _ = build(SpeedOptions(), device, args.generator, widths)
        G, D_A, D_B = (copy.deepcopy(m) for m in (model.generator, model.disc_makeup, model.disc_nonmakeup))
        lr, betas = model.hparams.lr, tuple(model.hparams.betas)
        optimizers = [torch.optim.Adam(m.parameters(), lr=lr, betas=betas) for m in (G, D_A, D_B)]

        class Branches(torch.nn.Module):  # the official Generator_branch call: G(x, y) -> (out_A, out_B)
            def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                out: Translation = G(non_makeup=x, makeup=y)
                return out.makeup, out.non_makeup

        layer = model.hparams.perceptual_layer
        batch = make_batch(args.size, args.batch, device, False)
        official = median_ms(
            lambda: official_step(
                Branches(),
                D_A,
                D_B,
                *optimizers,
                lambda x: model.perceptual.extractor(x)[layer],
                batch["source"],
                batch["reference"],
                batch["source_labels"],
                batch["reference_labels"],
                lambda_idt=0.0,
                lambda_vgg=5e-4,
                rec_scale=1.0,
                eye_margin=round(10 * args.size / 256),
            ),
            device,
            max(3, args.repeats // 4),
            1,
        )
        results["official_ms"] = official
        write_json(args.json, results)
        print(f"\nofficial structure fp32 (anchor): {official:.1f} ms; {rows[0][0]} is {official / base:.2f}x faster")

    if not args.skip_sample_grid:
        results["sample_grid_ms"] = sample_grid_cost(args.size, device, 4, fastest=min(ms for _, ms, _ in rows))
        write_json(args.json, results)
    return 0


def compare(generator: str, baseline: str, args: argparse.Namespace, device: torch.device, widths: dict) -> int:
    """The eager fp32 steps of ``generator`` and ``baseline`` at the same size, batch and widths, stepped in turn
    (one warm-up step each, then ``args.repeats`` rounds): the medians and their ratio."""
    models = {name: build(SpeedOptions(), device, name, widths, args.identity) for name in (baseline, generator)}
    batch = make_batch(args.size, args.batch, device, False)
    times: dict[str, list[float]] = {name: [] for name in models}
    for round_ in range(args.repeats + 1):
        for name, (model, opt_g, opt_d) in models.items():
            ms = elapsed(lambda: model.optimization_step(batch, opt_g, opt_d), device) * 1e3
            if round_:  # the first round warms up (allocations, oneDNN's kernels for each shape)
                times[name].append(ms)
    medians = {name: float(np.median(values)) for name, values in times.items()}
    ratio = medians[generator] / medians[baseline]
    identity = f", identity {args.identity:g}" if args.identity else ""
    print(
        f"{generator} vs {baseline} train step, eager fp32, paper preset{identity}, {args.size}x{args.size}, batch "
        f"{args.batch}, {device.type}, {torch.get_num_threads()} threads{', widths ' + str(widths) if widths else ''}; "
        f"median of {args.repeats} steps each, stepped in turn"
    )
    for name in (baseline, generator):
        print(f"  {name:<12}{medians[name]:>10.1f} ms{medians[name] / medians[baseline]:>8.2f}x")
    write_json(
        args.json,
        {
            "generator": generator,
            "against": baseline,
            "size": args.size,
            "batch": args.batch,
            "identity": args.identity,
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
            "threads": torch.get_num_threads(),
            "widths": widths,
            "ms": medians,
            "ratio": ratio,
        },
    )
    return 0


def measure_parts(
    model: BeautyGAN,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    size: int,
    n: int,
    device: torch.device,
    repeats: int,
) -> Iterator[tuple[str, float]]:
    """(part, ms) of the fp32 step's parts at batch ``n``, one at a time: D step, G without losses, VGG perceptual,
    histogram makeup loss (compiled models are warmed up first)."""
    batch = make_batch(size, n, device, False)
    src, ref = batch["source"], batch["reference"]
    geometry = model.geometries(batch)  # PSGAN's; None for BeautyGAN's generator
    swapped = None if geometry is None else (geometry[1], geometry[0])
    warmup = WARMUP if model.speed.compile != "none" else 1
    with torch.no_grad():
        fixed = model.translate(src, ref, geometry)
        fixed = Translation(makeup=fixed.makeup.clone(), non_makeup=fixed.non_makeup.clone())

    def d_only() -> None:
        d = model.discriminator_losses(src, ref, fixed)
        opt_d.zero_grad(set_to_none=True)
        (d["makeup"] + d["nonmakeup"]).backward()
        opt_d.step()

    def g_only() -> None:
        fake = model.translate(src, ref, geometry)
        rec = model.translate(fake.non_makeup, fake.makeup, swapped)
        opt_g.zero_grad(set_to_none=True)
        (rec.makeup.sum() + rec.non_makeup.sum() + fake.makeup.sum() + fake.non_makeup.sum()).backward()
        opt_g.step()

    pred = torch.cat([fixed.makeup, fixed.non_makeup]).requires_grad_(True)
    target = torch.cat([src, ref])

    def vgg() -> None:
        pred.grad = None
        model.perceptual(pred, target, return_features=True).loss.sum().backward()

    def histogram() -> None:
        pred.grad = None
        terms = model.makeup_loss(Translation(makeup=pred[:n], non_makeup=pred[n:]), batch)
        torch.stack(list(terms.values())).sum().backward()

    for part, fn in (
        ("D step (2 PatchGANs)", d_only),
        ("G fwd x2 + bwd + Adam, no losses", g_only),
        ("VGG16 perceptual (fwd + bwd)", vgg),
        ("histogram makeup loss (fwd + bwd)", histogram),
    ):
        yield part, median_ms(fn, device, repeats, warmup)


def sample_grid_cost(size: int, device: torch.device, pairs: int, fastest: float) -> dict[str, float]:
    """Training-thread time of one BeautyGAN sample grid (``pairs`` rows of the 6 training columns, faces): rendered,
    encoded and written right there, as before, against rendered and queued to the BackgroundWriter, which encodes
    and writes it (what :class:`~beautygan.training.samples.SampleGrids` does); as a share of the fastest step at the paper config's
    interval."""
    every = 500  # configs/beautygan.yaml samples.every_n_batches
    batch = make_batch(size, pairs, device, False)
    images = [batch["source"], batch["reference"]] * 3  # faces in every column, as a trained model's grid
    with tempfile.TemporaryDirectory() as folder:
        summary = SummaryWriter(folder)

        def foreground() -> None:
            pixels = render_sample_grid(torch.stack([x.float().cpu() for x in images], dim=1))
            write_sample_grid(summary, "samples/train", pixels, 0, Path(folder) / "grid.png")

        with BackgroundWriter(summary) as background:

            def queued() -> None:
                pixels = render_sample_grid(torch.stack([x.float().cpu() for x in images], dim=1))
                background.submit(write_sample_grid, "samples/train", pixels, 0, Path(folder) / "grid.png")

            handoffs = []
            for _ in range(6):  # the first is a warm-up; the writer finishes each grid before the next is timed
                handoffs.append(elapsed(queued, device) * 1e3)
                background.flush()
            times = {
                "in the training thread": median_ms(foreground, device, 5, 1),
                "queued": float(np.median(handoffs[1:])),
            }
        summary.close()
    print(f"\nsample grid ({pairs} pairs x 6 columns, {size}px) on the training thread, every {every} batches")
    for name, ms in times.items():
        print(f"  {name:<24}{ms:>9.1f} ms = {ms / (every * fastest) * 100:.2f}% of {every} fastest steps")
    return times


if __name__ == "__main__":
    raise SystemExit(main())
