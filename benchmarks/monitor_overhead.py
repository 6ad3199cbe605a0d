"""Overhead of feature-map monitoring relative to a small GAN-style training step (CPU).

    .venv/bin/python benchmarks/monitor_overhead.py [--every 100] [--size 128] [--batch 4] [--device cuda]
                                                    [--json results.json]

The step: a small conv generator on a batch of ``--size`` px photo-like images (smooth upsampled noise), ``PerceptualLoss`` on VGG16 relu1_2, relu2_2,
relu3_3, relu4_1 with ``return_features=True``, backward, SGD step. The monitoring: ``log_feature_maps`` as the
callback calls it by default (those 4 layers, 16 channels, maps pooled to 48 px, labelled: heading, column titles,
per-tile distances, the channel ranking text), then also with the PCA view (``pca=True``) and with four face-region
masks (``regions=``), into a ``SummaryWriter``, once every ``--every`` batches, plus the callback's per-batch
bookkeeping on the other batches. Printed: each time and the overhead as a percentage of the step time, and the
end-to-end cost of a logged batch on the training loop. ``--json`` writes the same figures to a file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from _results import write_json
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from perceptual import PerceptualLoss, RandomWeightsWarning
from perceptual.pictures.event_writer import BackgroundWriter, use_native_crc32c
from perceptual.pictures.feature_logs import log_feature_maps
from perceptual.pictures.monitor import FeatureMapMonitor

LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_1")


_CUDA = False  # set in main() from --device


def _sync() -> None:
    if _CUDA:
        torch.cuda.synchronize()


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        _sync()
        start = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=100, help="every_n_batches (the callback's default: 100)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=None, help="steps per end-to-end run (default: 200 cuda, 12 cpu)")
    parser.add_argument("--log-every", type=int, default=None, help="logging period of the end-to-end runs (10 / 4)")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    global _CUDA
    _CUDA = str(args.device).startswith("cuda")

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomWeightsWarning)
        loss_fn = PerceptualLoss(dict.fromkeys(LAYERS, 1.0), weights="random", input_range=(-1, 1))
    generator = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 3, 3, padding=1),
        nn.Tanh(),
    )
    loss_fn, generator = loss_fn.to(args.device), generator.to(args.device)
    optimizer = torch.optim.SGD(generator.parameters(), lr=1e-3)
    # photo-like input (smooth, upsampled noise) in [-1, 1]: pure noise would make every map, PNG and event bigger
    low_res = torch.rand(args.batch, 3, args.size // 8, args.size // 8)
    real = (F.interpolate(low_res, size=args.size, mode="bicubic", align_corners=False).clamp(0, 1) * 2 - 1).to(
        args.device
    )
    state: dict = {}

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        out = loss_fn(generator(real), real, return_features=True)
        out.loss.backward()
        optimizer.step()
        state["real"] = {k: v.detach() for k, v in out.target_features.items()}
        state["generated"] = {k: v.detach() for k, v in out.pred_features.items()}

    step_time = _median_time(step, args.repeats)
    regions = {
        name: torch.zeros(args.batch, 1, args.size, args.size, device=args.device)
        for name in ("lips", "eye_shadow", "skin", "background")
    }
    for index, mask in enumerate(regions.values()):
        mask[..., index * args.size // 4 : (index + 1) * args.size // 4, :] = 1.0
    with tempfile.TemporaryDirectory() as tmp:
        writer = SummaryWriter(tmp)
        channels: dict = {}
        defaults = FeatureMapMonitor(background=False)  # the callback's own arguments to log_feature_maps

        def log(**extra) -> None:
            channels.update(
                log_feature_maps(
                    writer,
                    state["real"],
                    state["generated"],
                    0,
                    channels=channels or None,
                    titles=defaults.titles,
                    selected_at={},
                    **extra,
                )
            )

        log_time = _median_time(log, args.repeats)
        log_pca_time = _median_time(lambda: log(pca=True), args.repeats)
        log_regions_time = _median_time(lambda: log(regions=regions), args.repeats)
        # the callback on a batch it does not log: counter and modulo only
        monitor = FeatureMapMonitor(every_n_batches=10**9)  # never logs after batch 0
        monitor._writer = writer
        trainer = SimpleNamespace(global_rank=0)
        outputs = {"vgg_features": {"real": state["real"], "generated": state["generated"]}}
        monitor.batches_seen = 1
        skip_time = _median_time(lambda: monitor.on_train_batch_end(trainer, None, outputs, None, 1), 1000)

        # end to end: the same training loop without the callback, and with it writing in the foreground (TensorBoard's
        # pure-Python CRC32C, then a native one) and through the BackgroundWriter, logging every `log_every` batches;
        # (with - without) / number of logs = the real cost of one logged batch on the training loop
        cuda = str(args.device).startswith("cuda")
        steps = args.steps or (200 if cuda else 12)
        log_every = args.log_every or (10 if cuda else 4)

        def run(mode: str) -> float:
            callback = FeatureMapMonitor(every_n_batches=log_every, pca=mode == "background, pca")
            callback._writer = BackgroundWriter(writer) if mode.startswith("background") else writer
            _sync()
            start = time.perf_counter()
            for index in range(steps):
                step()
                if mode != "plain":
                    supplied = {"vgg_features": {"real": state["real"], "generated": state["generated"]}}
                    callback.on_train_batch_end(trainer, None, supplied, None, index)
            callback.teardown(trainer, None, "fit")  # waits for the background writes
            _sync()
            return time.perf_counter() - start

        modes = ["plain", "foreground, pure-Python CRC32C"]
        later = ["foreground, native CRC32C", "background", "background, pca"]
        times: dict[str, list[float]] = {mode: [] for mode in [*modes, *later]}
        for _ in range(3):
            for mode in modes:
                times[mode].append(run("plain" if mode == "plain" else "foreground"))
        native = use_native_crc32c()  # process-wide from here on
        for _ in range(3):
            times["foreground, native CRC32C"].append(run("foreground"))
            times["background"].append(run("background"))
            times["background, pca"].append(run("background, pca"))
        writer.close()
    logs = -(-steps // log_every)
    plain = statistics.median(times["plain"])
    per_step = plain / steps
    per_log = {mode: max(0.0, statistics.median(t) - plain) / logs for mode, t in times.items() if mode != "plain"}

    print(f"device {args.device}; torch threads {torch.get_num_threads()}")
    print(f"training step (batch {args.batch}, {args.size}px, VGG16 to relu4_1, fwd+bwd): {step_time * 1e3:8.1f} ms")
    log_times = {"labelled": log_time, "pca": log_pca_time, "regions": log_regions_time}
    share_of_step = {}  # % of a training step at every_n_batches=args.every, the skipped batches' bookkeeping included
    for (key, seconds), what in zip(
        log_times.items(),
        ("log_feature_maps, labelled (4 layers, 16 channels, 48 px)", "  + pca=True", "  + regions (4 masks)"),
    ):
        per_batch = (seconds + (args.every - 1) * skip_time) / args.every
        share_of_step[key] = per_batch / step_time * 100
        print(
            f"{what:<58} {seconds * 1e3:8.1f} ms = {seconds / step_time * 100:.1f}% of one step; at "
            f"every_n_batches={args.every}: {share_of_step[key]:.2f}% of a training step"
        )
    print(f"callback on a batch it does not log:                       {skip_time * 1e6:8.1f} us")
    print(
        f"end to end, {steps} steps x 3 per mode, a log every {log_every} batches; plain step {per_step * 1e3:.1f} ms; "
        f"native CRC32C {'installed' if native else 'NOT installed (pip install google-crc32c)'}"
    )
    end_to_end_share = {}
    for mode, cost in per_log.items():
        end_to_end_share[mode] = cost / (args.every * per_step) * 100
        print(
            f"  {mode:<34} {cost * 1e3:8.1f} ms per logged batch -> {end_to_end_share[mode]:.2f}% of a step at "
            f"every_n_batches={args.every}"
        )
    print(
        f"background vs foreground (pure-Python CRC): x{per_log['background'] / max(per_log['foreground, pure-Python CRC32C'], 1e-9):.2f} cost per logged batch (goal: < 1% of a step)"
    )
    write_json(
        args.json,
        {
            "device": torch.cuda.get_device_name(args.device) if _CUDA else "CPU",
            "size": args.size,
            "batch": args.batch,
            "every": args.every,
            "step_ms": step_time * 1e3,
            "log_ms": {key: seconds * 1e3 for key, seconds in log_times.items()},
            "share_of_step_percent": share_of_step,
            "skip_us": skip_time * 1e6,
            "end_to_end": {
                "steps": steps,
                "log_every": log_every,
                "plain_step_ms": per_step * 1e3,
                "per_log_ms": {mode: cost * 1e3 for mode, cost in per_log.items()},
                "share_of_step_percent": end_to_end_share,
            },
            "native_crc32c": native,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
